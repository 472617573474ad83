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
    assert rc == 1 and result['failed'] and result['kind'] == 'invalid'
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


# --- issue 11: secrets under unknown keys, depth, the escape hatch, in every module -------------

# The smallest arguments with which each module that takes settings gets past AnsibleModule's own
# argument checks to load_module_settings (the settings themselves are what fails).
SETTINGS_MODULES = {
    'settings_validate': {},
    'test_send': {},
    'dns_check': {},
    'smtp_probe': {},
    'ghes_smtp': {'mode': 'render'},
    'bitbucket_mail_server': {'url': 'https://bitbucket.invalid', 'token': 'api-token'},
    'mail_properties': {'path': '/nonexistent/mail.properties', 'flavour': 'javamail'},
    'tomcat_mail_resource': {'path': '/nonexistent/server.xml'},
    'truststore_cert': {'path': '/nonexistent/cacerts', 'store_password': 'changeit'},
}


@pytest.mark.parametrize('name', sorted(SETTINGS_MODULES))
def test_unknown_secret_looking_fields_never_reach_the_output(name):
    doc = json.loads(json.dumps(GOOD))
    # canaries of their own: the known password's canary is registered already, and Ansible's
    # masking of it would hide a leak of any value that contains it
    doc['auth']['passwrd'] = 'Typo-Canary-7a1b'
    doc['auth']['oauth2_client_secret'] = {'nested': ['List-Canary-9c2d', 424242]}
    args = dict(SETTINGS_MODULES[name], settings=doc, _ansible_verbosity=3)
    rc, result = run_module(name, args, check_mode=True)
    assert rc == 1 and result['failed'], result
    assert '$.auth.passwrd' in result['msg'], result['msg']
    assert 'module_args' in result['invocation']  # what -vvv prints
    shown = json.dumps(result)
    assert 'Typo-Canary' not in shown and 'List-Canary' not in shown and '424242' not in shown


@pytest.mark.parametrize('name', sorted(SETTINGS_MODULES))
def test_settings_nested_500_deep_fail_cleanly_naming_depth_and_path(name):
    deep = inner = {}
    for _level in range(500):
        inner['a'] = {}
        inner = inner['a']
    doc = json.loads(json.dumps(GOOD))
    doc['server']['x'] = deep
    args = dict(SETTINGS_MODULES[name], settings=doc)
    rc, result = run_module(name, args, check_mode=True)
    assert rc == 1 and 'Traceback' not in result['_stderr'], result['_stderr'][-2000:]
    assert 'nested 502 levels deep' in result['msg'] and '$.server.x.a.a' in result['msg'], result['msg']
    assert CANARY not in json.dumps(result)


def test_escape_hatch_warns_in_settings_validate_and_in_every_module(tmp_path):
    doc = json.loads(json.dumps(GOOD))
    doc['server']['properties'] = {'mail.smtp.ssl.trust': '*'}
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 1 and "$.server.properties['mail.smtp.ssl.trust']" in result['msg']
    assert 'allow_insecure_properties' in result['msg']

    doc['server']['allow_insecure_properties'] = True
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 0
    assert "$.server.properties['mail.smtp.ssl.trust']" in [w['path'] for w in result['warning_details']]
    assert 'weakens TLS' in json.dumps(result['warnings'])  # shown by Ansible as a warning

    target = tmp_path / 'mail.properties'
    rc, result = run_module('mail_properties', {'path': str(target), 'flavour': 'javamail', 'settings': doc},
                            check_mode=True)
    assert rc == 0, result.get('msg')
    shown = json.dumps(result.get('warnings', []))
    assert "mail.smtp.ssl.trust" in shown and 'weakens TLS' in shown, result


def test_derived_property_refused_in_every_module():
    doc = json.loads(json.dumps(GOOD))
    doc['server']['allow_insecure_properties'] = True
    doc['server']['properties'] = {'mail.smtp.ssl.checkserveridentity': 'false', 'mail.smtps.ssl.enable': 'false'}
    rc, result = run_module('mail_properties', {'path': '/nonexistent/x.properties', 'flavour': 'javamail',
                                                'settings': doc}, check_mode=True)
    assert rc == 1
    assert "$.server.properties['mail.smtp.ssl.checkserveridentity']" in result['msg']
    assert "$.server.properties['mail.smtps.ssl.enable']" in result['msg']


def test_secret_in_a_file_is_never_echoed(tmp_path):
    path = tmp_path / 'leaky.yml'
    path.write_text(yaml.safe_dump(dict(GOOD, auth=[{'password': CANARY}])))
    rc, result = run_module('settings_validate', {'path': str(path)})
    assert rc == 1 and '$.auth' in result['msg']
    assert CANARY not in json.dumps(result)
    rc, result = run_module('settings_validate', {'paths': [str(path)]})
    assert rc == 1 and CANARY not in json.dumps(result)


def test_basic_auth_to_exchange_online_warns_with_the_move_to_oauth2():
    doc = {'product': 'jira', 'provider': 'microsoft365',
           'auth': {'method': 'basic', 'username': 'jira@contoso.example', 'password': CANARY},
           'sender': {'from_address': 'jira@contoso.example'}}
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 0
    found = [w for w in result['warning_details'] if w['path'] == '$.auth.method']
    assert found and 'end of December 2026' in found[0]['message']
    assert 'grant_type: client_credentials' in found[0]['hint']
    assert 'December 2026' in json.dumps(result['warnings'])  # shown by Ansible as a warning
    rc, strict = run_module('settings_validate', {'settings': doc, 'fail_on_warnings': True})
    assert rc == 1


def test_oauth2_grant_errors_name_the_field_and_secrets_stay_hidden():
    doc = {'product': 'confluence', 'provider': 'microsoft365',
           'auth': {'method': 'oauth2', 'username': 'c@contoso.example',
                    'oauth2': {'provider': 'google', 'grant_type': 'client_credentials', 'client_id': 'app',
                               'client_secret': CANARY}},
           'sender': {'from_address': 'c@contoso.example'}}
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 1 and [e['path'] for e in result['errors']] == ['$.auth.oauth2.grant_type']
    assert CANARY not in json.dumps(result)
    doc['auth']['oauth2'].update(provider='microsoft', tenant='contoso.onmicrosoft.com')
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 0, result
    oauth = result['effective']['auth']['oauth2']
    assert oauth['client_secret'] == '********' and oauth['scopes'] == ['https://outlook.office365.com/.default']
    assert oauth['token_url'] == 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token'
    assert CANARY not in json.dumps(result)


@pytest.mark.parametrize(('example', 'first'), [
    ('microsoft365-oauth2.yml', 'Administration > General Configuration > Application links'),
    ('gmail-oauth2.yml', None),
])
def test_oauth2_returns_the_products_manual_steps_without_secrets(example, first):
    doc = yaml.safe_load((ROOT / 'schemas' / 'examples' / example).read_text())
    doc['auth']['oauth2'].update({key: CANARY for key in ('client_secret', 'refresh_token')
                                  if key in doc['auth']['oauth2']})
    rc, result = run_module('settings_validate', {'settings': doc})
    assert rc == 0, result
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.oauth2 import product_steps

    assert result['manual_steps'] == product_steps(result['effective']) and result['manual_steps']
    if first:
        assert result['manual_steps'][0].startswith(first)
        assert 'client ID 00000000-0000-0000-0000-000000000000' in result['manual_steps'][0]
    assert CANARY not in json.dumps(result)


def test_basic_auth_has_no_manual_steps():
    rc, result = run_module('settings_validate', {'settings': GOOD})
    assert rc == 0 and result['manual_steps'] == []
