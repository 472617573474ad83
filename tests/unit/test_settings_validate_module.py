"""settings_validate as a module process: the three input forms, failures, secrets."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.support.modrun import ROOT, run_module

CANARY = 'Canary-5ecret-Pa55'
GOOD = yaml.safe_load((ROOT / 'schemas' / 'examples' / 'jira.yml').read_text())
GOOD['auth']['password'] = CANARY


def test_dict_returns_effective_with_secret_masked():
    rc, result = run_module('settings_validate', {'settings': GOOD})
    assert rc == 0 and result['changed'] is False
    assert result['effective']['server']['port'] == 587
    assert result['effective']['auth']['password'] == '********'
    assert CANARY not in json.dumps(result)


def test_invalid_dict_fails_naming_fields_without_secret():
    bad = json.loads(json.dumps(GOOD))
    bad['server']['port'] = 465
    bad['sender']['from_address'] = CANARY + '@${x}'
    rc, result = run_module('settings_validate', {'settings': bad})
    assert rc == 1 and result['failed']
    assert '$.server.port' in result['msg'] and '$.sender.from_address' in result['msg']
    assert [e['path'] for e in result['errors']] == ['$.sender.from_address', '$.server.port']
    assert 'Traceback' not in result['_stderr']


def test_warnings_surface_and_strict_mode_fails():
    doc = json.loads(json.dumps(GOOD))
    doc['server']['tls'] = 'none'
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 0
    assert [w['path'] for w in result['warning_details']] == ['$.server.tls']
    assert 'in clear' in json.dumps(result['warnings'])  # shown by Ansible as a warning
    rc, result = run_module('settings_validate', {'settings': doc, 'fail_on_warnings': True})
    assert rc == 1 and 'fail_on_warnings' in result['msg']


def test_path_with_yaml_error_names_line(tmp_path):
    bad = tmp_path / 'broken.yml'
    bad.write_text('product: jira\nserver:\n  host: [unclosed\n')
    rc, result = run_module('settings_validate', {'path': str(bad)})
    assert rc == 1 and f'{bad}:' in result['msg'] and 'not valid YAML' in result['msg']


@pytest.mark.parametrize('content,expected', [
    ('- product: jira\n', 'must be a mapping'),
    ('', 'empty'),
    ('product: jira\n---\nproduct: bitbucket\n', '2 YAML documents'),
    ('"just a string"', 'must be a mapping'),
])
def test_path_not_a_settings_mapping(tmp_path, content, expected):
    path = tmp_path / 'x.yml'
    path.write_text(content)
    rc, result = run_module('settings_validate', {'path': str(path)})
    assert rc == 1 and expected in result['msg'], result['msg']


def test_missing_file_and_unmatched_glob(tmp_path):
    rc, result = run_module('settings_validate', {'path': str(tmp_path / 'nope.yml')})
    assert rc == 1 and 'cannot read' in result['msg']
    rc, result = run_module('settings_validate', {'paths': [str(tmp_path / '*.yml')]})
    assert rc == 1 and 'no file matches' in result['msg']


def test_many_files_parallel_and_in_order(tmp_path):
    # enough files to take the multi-process path; every fourth one invalid
    for index in range(480):
        doc = json.loads(json.dumps(GOOD))
        if index % 4 == 3:
            doc['server']['port'] = 0
        (tmp_path / f's{index:04d}.json').write_text(json.dumps(doc))
    rc, result = run_module('settings_validate', {'paths': [str(tmp_path / '*.json')]})
    assert rc == 1
    assert result['summary'] == {'total': 480, 'valid': 360, 'invalid': 120, 'with_warnings': 0}
    files = [r['file'] for r in result['results']]
    assert files == sorted(files)
    assert [r['valid'] for r in result['results']][:4] == [True, True, True, False]
    assert CANARY not in json.dumps(result)


def test_paths_return_effective_on_request(tmp_path):
    (tmp_path / 'a.yml').write_text(yaml.safe_dump(GOOD))
    rc, result = run_module('settings_validate', {'paths': [str(tmp_path / '*.yml')], 'return_effective': True})
    assert rc == 0 and result['results'][0]['effective']['auth']['password'] == '********'


def test_exactly_one_input():
    rc, result = run_module('settings_validate', {})
    assert rc == 1 and 'one of the following is required' in result['msg']
    rc, result = run_module('settings_validate', {'settings': GOOD, 'path': '/x'})
    assert rc == 1 and 'mutually exclusive' in result['msg']


# The host check the role runs in the same task: libraries the later steps import.
PRESENT = {'yaml': 'PyYAML>=6,<7', 'cryptography': 'cryptography>=41,<51'}
ABSENT = {'mailwright_no_such_lib': 'mailwright-no-such-lib>=1', 'no_such_pkg.sub': 'no-such-pkg'}


def test_libraries_present_are_reported_empty_and_validation_runs():
    rc, result = run_module('settings_validate', {'settings': GOOD, 'libraries': PRESENT})
    assert rc == 0, result
    assert result['missing_libraries'] == []
    assert result['python'] and result['effective']['product'] == 'jira'


def test_missing_libraries_fail_before_validating_and_name_pip():
    bad = dict(GOOD, product='no-such-product')
    rc, result = run_module('settings_validate', {'settings': bad, 'libraries': dict(PRESENT, **ABSENT)})
    assert rc == 1
    assert result['missing_libraries'] == ['mailwright-no-such-lib>=1', 'no-such-pkg']
    assert '-m pip install' in result['msg'] and 'mailwright-no-such-lib>=1' in result['msg']
    assert 'errors' not in result  # stopped before validation
    assert CANARY not in json.dumps(result)


def test_missing_libraries_reported_and_document_still_validated():
    args = {'settings': GOOD, 'libraries': ABSENT, 'on_missing_libraries': 'report'}
    rc, result = run_module('settings_validate', args)
    assert rc == 0, result
    assert result['missing_libraries'] == ['mailwright-no-such-lib>=1', 'no-such-pkg']
    assert result['effective']['server']['port'] == 587

    bad = json.loads(json.dumps(GOOD))
    bad['server']['port'] = 465
    rc, result = run_module('settings_validate', dict(args, settings=bad))
    assert rc == 1 and result['errors'][0]['path'] == '$.server.port'
    assert result['missing_libraries'] == ['mailwright-no-such-lib>=1', 'no-such-pkg']
