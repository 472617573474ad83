"""bindep.txt's `test` profile lists exactly what tools/install-system-deps.sh installs on Debian."""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def script_packages() -> set[str]:
    text = (ROOT / 'tools' / 'install-system-deps.sh').read_text()
    listed = set(re.search(r'^packages=\(([^)]*)\)', text, re.M).group(1).split())
    listed |= set(re.findall(r'packages\+=\(([^)]*)\)', text)[0].split())
    return listed


def bindep_test_packages() -> set[str]:
    found = set()
    for line in (ROOT / 'bindep.txt').read_text().splitlines():
        match = re.match(r'^(\S+)\s+\[([^\]]*)\]', line)
        if match and {'test', 'platform:dpkg'} <= set(match.group(2).split()):
            found.add(match.group(1))
    return found


def test_bindep_test_profile_matches_the_install_script():
    assert bindep_test_packages() == script_packages()
