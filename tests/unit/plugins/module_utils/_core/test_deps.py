"""Dependency floors: enforced where the libraries are imported, equal to requirements.txt, and
reported in a sentence that reads correctly (missing_required_lib appends "This is required <reason>.")."""
from __future__ import annotations

import importlib.metadata
import pathlib
import re

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core import deps

ROOT = pathlib.Path(__file__).resolve().parents[5]


class _Failed(Exception):
    pass


class _Module:
    def fail_json(self, **kwargs):
        self.failure = kwargs
        raise _Failed(kwargs['msg'])


def _fake_versions(monkeypatch, **versions):
    real = importlib.metadata.version

    def version(name):
        return versions[name] if name in versions else real(name)

    monkeypatch.setattr(importlib.metadata, 'version', version)


def test_floors_agree_with_requirements_txt():
    stated = {}
    for line in (ROOT / 'requirements.txt').read_text(encoding='utf-8').splitlines():
        match = re.match(r'([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)', line)
        if match:
            stated[match.group(1).lower()] = tuple(int(p) for p in match.group(2).split('.'))
    assert stated == {deps.LIBRARIES[name][0].lower(): floor for name, floor in deps.FLOORS.items()}


@pytest.mark.parametrize('name', sorted(deps.LIBRARIES))
def test_installed_libraries_meet_their_floor(name):
    module = _Module()
    assert deps.require_lib(module, name) is not None
    assert deps.version_problem(name) is None


@pytest.mark.parametrize(('name', 'old', 'floor'), [
    ('cryptography', '40.0.2', '41'), ('jsonschema', '4.17.3', '4.18'), ('dnspython', '2.3.0', '2.4'),
    ('yaml', '5.4.1', '6'),
])
def test_an_older_library_fails_naming_the_floor(monkeypatch, name, old, floor):
    pip_name = deps.LIBRARIES[name][0]
    _fake_versions(monkeypatch, **{pip_name: old})
    module = _Module()
    with pytest.raises(_Failed):
        deps.require_lib(module, name)
    msg = module.failure['msg']
    assert f'({pip_name} >= {floor})' in msg
    assert f'This is required {deps.LIBRARIES[name][1]} (version {old} is installed, older than {floor}).' in msg
    assert 'exception' not in module.failure  # it imported fine: no traceback to show


@pytest.mark.parametrize('version', ['41.0.0', '41', '42.0.5', '50.0.2', '41.0.0rc1', 'unparsable'])
def test_versions_at_or_above_the_floor_pass(monkeypatch, version):
    _fake_versions(monkeypatch, cryptography=version)
    assert deps.version_problem('cryptography') is None


def test_a_library_without_metadata_is_given_the_benefit_of_the_doubt(monkeypatch):
    def version(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, 'version', version)
    assert deps.version_problem('jsonschema') is None


def test_a_missing_library_fails_with_a_sentence_that_reads(monkeypatch):
    monkeypatch.setitem(deps._IMPORT_NAMES, 'yaml', 'mailwright_no_such_module')
    module = _Module()
    with pytest.raises(_Failed):
        deps.require_lib(module, 'yaml')
    msg = module.failure['msg']
    assert 'Failed to import the required Python library (PyYAML >= 6)' in msg
    assert 'This is required for reading settings files.' in msg
    assert 'ModuleNotFoundError' in module.failure['exception']


@pytest.mark.parametrize('name', sorted(deps.LIBRARIES))
def test_every_reason_completes_this_is_required(name):
    assert deps.LIBRARIES[name][1].startswith('for ')
