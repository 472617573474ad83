# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile but accepted settings, rendered as .properties, read by java.util.Properties itself.

The documents come from the hostile corpus strategies (tests/unit/test_hostile_corpus.py); the
ones the settings model accepts are rendered in every flavour, and one JVM loads all the files
and prints what it read with every character as a \\uXXXX escape, so nothing is lost on the way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings

from ansible_collections.mailwright.smtp.plugins.module_utils._properties import (
    FLAVOURS,
    PropertiesError,
    PropertiesFile,
    apply_properties,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings import effective_settings
from tests.unit.test_hostile_corpus import mutated_documents

pytestmark = pytest.mark.integration

_LOAD = textwrap.dedent("""\
    import java.io.FileInputStream;
    import java.util.Properties;
    import java.util.TreeMap;

    public class LoadAll {
        static String q(String s) {
            StringBuilder b = new StringBuilder("\\"");
            for (char c : s.toCharArray()) b.append(String.format("\\\\u%04x", (int) c));
            return b.append('"').toString();
        }
        public static void main(String[] args) throws Exception {
            StringBuilder out = new StringBuilder("[");
            for (int i = 0; i < args.length; i++) {
                Properties p = new Properties();
                try (FileInputStream in = new FileInputStream(args[i])) { p.load(in); }
                out.append(i == 0 ? "{" : ",{");
                boolean first = true;
                for (var e : new TreeMap<Object, Object>(p).entrySet()) {
                    out.append(first ? "" : ",").append(q((String) e.getKey())).append(":").append(q((String) e.getValue()));
                    first = false;
                }
                out.append("}");
            }
            System.out.println(out.append("]"));
        }
    }
""")


def _accepted(count: int) -> list[dict]:
    """Effective settings of `count` hostile documents the model accepts (the same every run)."""
    found: list[dict] = []

    @settings(max_examples=count * 24, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(doc=mutated_documents())
    def collect(doc):
        if len(found) < count:
            result = effective_settings(doc)
            if result.ok:
                found.append(result.effective)

    collect()
    return found


def test_java_reads_what_we_meant(tmp_path):
    if shutil.which('javac') is None or shutil.which('java') is None:
        pytest.skip('no JDK (java, javac) on PATH')
    (tmp_path / 'LoadAll.java').write_text(_LOAD)
    subprocess.run(['javac', '-d', str(tmp_path), str(tmp_path / 'LoadAll.java')], check=True, timeout=120)
    effectives = _accepted(150)
    assert len(effectives) >= 100, 'too few accepted documents to say anything'
    files, wanted = [], []
    existing = '# own\nserver.port = 8080\nmail.smtp.host = old\\\n   .example.com\n'
    for index, effective in enumerate(effectives):
        for flavour in FLAVOURS:
            try:
                outcome = apply_properties(existing, effective, flavour)
            except PropertiesError:
                continue
            path = tmp_path / f'{index}-{flavour}.properties'
            path.write_bytes(outcome.after.encode('latin-1'))
            files.append(path)
            wanted.append(outcome.managed.values)
    proc = subprocess.run(['java', '-cp', str(tmp_path), 'LoadAll', *map(str, files)],
                          check=True, capture_output=True, text=True, timeout=300)
    loaded = json.loads(proc.stdout)
    assert len(loaded) == len(files)
    mismatches = []
    for path, values, java in zip(files, wanted, loaded):
        ours = PropertiesFile(path.read_bytes().decode('latin-1')).as_dict()
        if ours != java:
            mismatches.append((path.name, 'our parser and Java disagree', ours, java))
        if java.get('server.port') != '8080':
            mismatches.append((path.name, "the application's own key was lost", java))
        for key, value in values.items():
            if java.get(key) != value:
                mismatches.append((path.name, key, value, java.get(key)))
    assert not mismatches, mismatches[:5]
