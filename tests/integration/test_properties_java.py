# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile but accepted settings, rendered as .properties, read by java.util.Properties itself.

The documents come from the hostile corpus strategies (tests/unit/test_hostile_corpus.py); the
ones the settings model accepts are rendered in every flavour, and one JVM loads all the files
and prints what it read with every character as a \\uXXXX escape, so nothing is lost on the way.
"""

from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    FLAVOURS,
    PropertiesError,
    PropertiesFile,
    apply_properties,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import effective_settings
from tests.support.java_properties import JavaPropertiesReader, jdk_missing
from tests.unit.test_hostile_corpus import mutated_documents

pytestmark = pytest.mark.integration


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
    if jdk_missing():
        pytest.skip(jdk_missing())
    reader = JavaPropertiesReader(tmp_path / 'java')
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
    loaded = reader.load(files)
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
