"""A plain `ansible-playbook` run of the role (no -v) ends with one summary line per host that says
what was proven: validated, what was rendered, the truststore entry, DNS counts, the probe's TLS
version, AUTH and days left, and the proof (sent with its Message-ID, or already proven at a time).

The host is this machine (connection local); the application a copy of demo/sandbox/jira; the relay
and DNS server the local peers (the `peers` fixture of test_package.py, extensions/molecule/shared/
peers.py); the role's variables those of the molecule jira scenario (extensions/molecule/jira/vars/
scenario.yml), with the mw_* names that scenario reads given as extra vars.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

# the peers fixture, reused
from test_package import RELAY_PASSWORD, peers  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIO = ROOT / 'extensions' / 'molecule' / 'jira' / 'vars' / 'scenario.yml'
PLAYBOOK = """\
- name: Outgoing mail for the sandbox Jira
  hosts: all
  gather_facts: false
  vars_files:
    - {scenario}
  roles:
    - role: mailwright.smtp.mail
"""


def sandbox(tmp_path: pathlib.Path) -> pathlib.Path:
    """The molecule prepare step, in short: the Tomcat-like installs, kept from other users."""
    box = tmp_path / 'sandbox'
    shutil.copytree(ROOT / 'demo' / 'sandbox', box / 'app')
    for path in [box / 'app', *(box / 'app').rglob('*')]:
        path.chmod(path.stat().st_mode & ~0o007)
    (box / 'home').mkdir()
    return box


def run_role(tmp_path: pathlib.Path, state: dict, *, extra: dict | None = None,
             args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """ansible-playbook of the role with the jira scenario's variables, as a user would run it."""
    box = tmp_path / 'sandbox'
    if not box.exists():
        sandbox(tmp_path)
    playbook = tmp_path / 'site.yml'
    playbook.write_text(PLAYBOOK.format(scenario=SCENARIO))
    variables = {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'mw_sandbox': str(box), 'mw_peers': {k: v for k, v in state.items() if not k.startswith('_')},
        'mw_relay_user': 'jira-notify', 'mw_relay_password': RELAY_PASSWORD,
        'mw_store_password': 'role-summary-store-password', **(extra or {}),
    }
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_')}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.build' / 'collections'), 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_STDOUT_CALLBACK': 'default',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_HOME': str(tmp_path / '.ansible')})
    command = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'jira01,',
               '-e', f'@{tmp_path / "vars.json"}', *args, str(playbook)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)


def summary_lines(out: str) -> list[str]:
    """The "msg" of the summary task, as the default callback prints it without -v."""
    return re.findall(r'^TASK \[mailwright\.smtp\.mail : Summary of what was proven\].*?"msg": "(.*?)"\n', out,
                      re.M | re.S)


def test_a_plain_run_shows_what_was_proven(tmp_path, peers):  # noqa: F811
    first = run_role(tmp_path, peers)
    out = first.stdout + first.stderr
    (tmp_path / 'first.log').write_text(out)
    assert first.returncode == 0, out[-6000:]
    [line] = summary_lines(out)
    assert line.startswith('jira01: validated jira'), line
    assert re.search(r'server\.xml (added|updated)', line), line
    assert re.search(r'truststore imported [0-9A-F]{2}(:[0-9A-F]{2}){3}', line), line
    assert re.search(r'DNS \d+ pass / \d+ warn / 0 fail', line), line
    assert re.search(r'probe pass TLSv1\.[23], AUTH [A-Z -]*PLAIN', line), line
    assert re.search(r'certificate \d+ days left', line), line
    assert re.search(r'proof sent <[^>]+>', line), line
    assert RELAY_PASSWORD not in out
    assert re.search(r'Show what a person still has to do\] \**\nok: .*Restart Tomcat', out, re.S), out[-3000:]
    # the relay's own certificate lives long enough not to warn about itself
    assert 'days' not in ' '.join(re.findall(r'\[WARNING\]: .*', out)), re.findall(r'\[WARNING\]: .*', out)

    second = run_role(tmp_path, peers)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-6000:]
    [line] = summary_lines(out)
    assert re.search(r'server\.xml unchanged', line), line
    assert re.search(r'truststore unchanged [0-9A-F]{2}(:[0-9A-F]{2}){3}', line), line
    assert re.search(r'already proven at \d{4}-\d\d-\d\dT', line), line
    # manual steps only when something changed
    assert re.search(r'Show what a person still has to do\] \**\nskipping', out), out[-3000:]
    assert 'Restart Tomcat' not in out, out[-3000:]
