"""The settings model: schema findings, every semantic rule, every preset, hostile input."""
from __future__ import annotations

import copy
import json
import pathlib

import pytest
import yaml

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import (
    REDACTED,
    SettingsError,
    effective_settings,
    load_effective,
    parse_duration,
    redact,
    secret_values,
)

ROOT = pathlib.Path(__file__).resolve().parents[5]
EXAMPLES = sorted((ROOT / 'schemas' / 'examples').glob('*.yml'))
CANARY = 'Canary-5ecret-Pa55'


def base(**overrides):
    doc = {
        'product': 'jira',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required'},
        'auth': {'method': 'basic', 'username': 'jira', 'password': CANARY},
        'sender': {'from_address': 'jira@example.com'},
    }
    for dotted, value in overrides.items():
        parts = dotted.split('__')
        target = doc
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is _DELETE:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value
    return doc


_DELETE = object()


def errors_of(doc):
    return {(f.path, f.message) for f in effective_settings(doc).errors}


def paths(findings):
    return [f.path for f in findings]


@pytest.mark.parametrize('path', EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_are_valid(path):
    result = effective_settings(yaml.safe_load(path.read_text()))
    assert result.ok, [str(e) for e in result.errors]


def test_effective_fills_every_field():
    eff = load_effective(base())
    assert eff['server'] == {
        'host': 'smtp.example.com', 'port': 587, 'protocol': 'smtp', 'tls': 'required', 'timeout_ms': 10000,
        'helo_domain': None, 'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session', 'debug': False},
        'properties': {}, 'allow_insecure_properties': False,
    }
    assert eff['test']['max_age_seconds'] == 30 * 86400
    assert eff['dns']['check_ghes_reply'] is False
    assert eff['auth']['password'] == CANARY


def test_effective_is_a_fixed_point():
    for path in EXAMPLES:
        eff = load_effective(yaml.safe_load(path.read_text()) | {})
        if eff['auth']['method'] == 'oauth2':
            continue
        assert load_effective(copy.deepcopy(eff)) == eff, path.name


@pytest.mark.parametrize('protocol,port,expected', [('smtp', None, 25), ('smtps', None, 465), ('smtp', 2525, 2525)])
def test_port_derived_from_protocol(protocol, port, expected):
    doc = base(server__tls=_DELETE, server__port=_DELETE, server__protocol=protocol, auth={'method': 'none'})
    if port:
        doc['server']['port'] = port
    eff = load_effective(doc)
    assert eff['server']['port'] == expected
    assert eff['server']['tls'] == ('required' if protocol == 'smtps' else 'opportunistic')


@pytest.mark.parametrize('provider,host', [
    ('gmail', 'smtp.gmail.com'),
    ('microsoft365', 'smtp.office365.com'),
    ('outlook', 'smtp-mail.outlook.com'),
    ('yahoo', 'smtp.mail.yahoo.com'),
    ('ses:eu-west-1', 'email-smtp.eu-west-1.amazonaws.com'),
])
def test_presets_fill_host_port_tls(provider, host):
    doc = base(provider=provider, server={})
    eff = load_effective(doc)
    assert (eff['server']['host'], eff['server']['port'], eff['server']['protocol'], eff['server']['tls']) == \
        (host, 587, 'smtp', 'required')
    smtps = load_effective(base(provider=provider, server={'protocol': 'smtps'}))
    assert (smtps['server']['port'], smtps['server']['tls']) == (465, 'required')


def test_preset_explicit_fields_win_with_warning():
    result = effective_settings(base(provider='gmail', server={'host': 'relay.example.com', 'port': 2525}))
    assert result.ok
    assert result.effective['server']['host'] == 'relay.example.com'
    assert result.effective['server']['port'] == 2525
    assert '$.server.host' in paths(result.warnings)


def test_custom_preset_needs_host():
    assert ('$.server.host', 'required field is missing') in errors_of(base(provider='custom', server={}))


def test_preset_refuses_unknown_name():
    assert '$.provider' in paths(effective_settings(base(provider='hotmail')).errors)


def test_preset_anonymous_warns():
    result = effective_settings(base(provider='gmail', server={}, auth={'method': 'none'}))
    assert '$.auth.method' in paths(result.warnings)


# --- semantic rules, one test each --------------------------------------------------------

def test_starttls_on_465_is_a_contradiction():
    found = effective_settings(base(server={'host': 'smtp.example.com', 'port': 465, 'tls': 'required'})).errors
    assert found[0].path == '$.server.port'
    assert 'contradiction' in found[0].message and 'smtps' in found[0].hint


def test_plain_smtp_on_465_is_refused():
    doc = base(server={'host': 'smtp.example.com', 'port': 465, 'tls': 'none'}, auth={'method': 'none'})
    assert '$.server.port' in paths(effective_settings(doc).errors)


def test_smtps_with_tls_required_is_fine():
    eff = load_effective(base(server={'host': 'smtp.example.com', 'protocol': 'smtps', 'tls': 'required'}))
    assert (eff['server']['port'], eff['server']['tls']) == (465, 'required')


def test_smtps_with_tls_none_is_a_contradiction():
    assert '$.server.tls' in paths(effective_settings(base(server={'host': 'h.example', 'protocol': 'smtps', 'tls': 'none'})).errors)


def test_smtps_opportunistic_is_read_as_required():
    result = effective_settings(base(server={'host': 'h.example', 'protocol': 'smtps', 'tls': 'opportunistic'}))
    assert result.effective['server']['tls'] == 'required'
    assert '$.server.tls' in paths(result.warnings)


def test_smtps_on_587_warns():
    result = effective_settings(base(server={'host': 'h.example', 'protocol': 'smtps', 'port': 587}))
    assert result.ok and '$.server.port' in paths(result.warnings)


def test_oauth2_over_plain_smtp_is_refused():
    doc = base(server={'host': 'h.example', 'tls': 'opportunistic'}, auth={'method': 'oauth2', 'username': 'u@example.com'})
    found = effective_settings(doc).errors
    assert [f.path for f in found] == ['$.auth.method']
    assert 'secure' in found[0].message


def test_oauth2_over_smtps_gets_provider_scopes():
    doc = base(server={'host': 'h.example', 'protocol': 'smtps'},
               auth={'method': 'oauth2', 'username': 'u@example.com', 'oauth2': {'provider': 'microsoft'}})
    eff = load_effective(doc)
    assert eff['auth']['oauth2']['scopes'] == ['https://outlook.office.com/SMTP.Send', 'offline_access']
    assert eff['auth']['mechanism'] == 'xoauth2'
    google = load_effective(base(server={'host': 'h.example', 'protocol': 'smtps'},
                                 auth={'method': 'oauth2', 'username': 'u@example.com', 'oauth2': {'provider': 'google'}}))
    assert google['auth']['oauth2']['scopes'] == ['https://mail.google.com/']


def test_oauth2_microsoft_missing_offline_access():
    doc = base(auth={'method': 'oauth2', 'username': 'u@example.com',
                     'oauth2': {'provider': 'microsoft', 'scopes': ['https://outlook.office.com/SMTP.Send']}})
    found = effective_settings(doc).errors
    assert found[0].path == '$.auth.oauth2.scopes' and 'offline_access' in found[0].message


def test_oauth2_needs_username_and_a_token_mechanism():
    doc = base(auth={'method': 'oauth2', 'mechanism': 'plain'})
    assert {'$.auth.username', '$.auth.mechanism'} <= set(paths(effective_settings(doc).errors))


def test_from_address_with_variables_is_refused():
    found = effective_settings(base(sender={'from_address': '${email}'})).errors
    assert found[0].path == '$.sender.from_address' and 'variables' in found[0].message


@pytest.mark.parametrize('address', ['Jira <jira@example.com>', 'jira', 'jira@', 'a b@example.com', 'x@-bad-.example'])
def test_from_address_must_be_plain(address):
    assert '$.sender.from_address' in paths(effective_settings(base(sender={'from_address': address})).errors)


def test_from_name_variables():
    ok = load_effective(base(sender={'from_address': 'j@example.com', 'from_name': '${fullname} via ${email.hostname}'}))
    assert ok['sender']['from_name'] == '${fullname} via ${email.hostname}'
    assert '$.sender.from_name' in paths(effective_settings(
        base(sender={'from_address': 'j@example.com', 'from_name': '${username}'})).errors)
    assert '$.sender.from_name' in paths(effective_settings(
        base(sender={'from_address': 'j@example.com', 'from_name': '${fullname'})).errors)


def test_confluence_from_name_and_name_defaults():
    eff = load_effective(base(product='confluence'))
    assert eff['sender']['from_name'] == '${fullname} (Confluence)'
    assert eff['name'] == 'SMTP Server'
    assert eff['server']['jndi']['name'] == 'mail/ConfluenceMailServer'


def test_ghes_needs_noreply_address():
    doc = base(product='ghes', server={'host': 'h.example', 'port': 587})
    doc['server'].pop('jndi', None)
    found = effective_settings(doc).errors
    assert found[0].path == '$.sender.noreply_address'


def test_ghes_rules():
    doc = base(product='ghes', server={'host': 'h.example', 'protocol': 'smtps'},
               sender={'from_address': 'n@example.com', 'noreply_address': 'n@example.com', 'support': 'ftp://x'})
    result = effective_settings(doc)
    assert '$.sender.support' in paths(result.errors)
    doc['sender']['support'] = 'https://support.example.com'
    result = effective_settings(doc)
    assert result.ok
    assert {'$.server.protocol', '$.ghes.hostname'} <= set(paths(result.warnings))
    assert result.effective['dns']['check_ghes_reply'] is True
    doc['auth'] = {'method': 'oauth2', 'username': 'x@example.com'}
    assert '$.auth.method' in paths(effective_settings(doc).errors)


def test_ghes_support_may_be_an_email():
    doc = base(product='ghes', sender={'from_address': 'n@example.com', 'noreply_address': 'n@example.com',
                                       'support': 'help@example.com'}, ghes={'hostname': 'github.example.com'})
    assert effective_settings(doc).ok


def test_jndi_refused_for_bitbucket():
    doc = base(product='bitbucket', server={'host': 'h.example', 'jndi': {'name': 'mail/X'}})
    assert '$.server.jndi' in paths(effective_settings(doc).errors)


def test_ghes_fields_on_other_products_warn():
    result = effective_settings(base(sender={'from_address': 'j@example.com', 'noreply_address': 'n@example.com'}))
    assert result.ok and '$.sender.noreply_address' in paths(result.warnings)


@pytest.mark.parametrize('field', ['from_name', 'subject_prefix'])
@pytest.mark.parametrize('bad', ['a\r\nBcc: victim@example.com', 'x\ny', 'x\ry'])
def test_header_fields_refuse_crlf(field, bad):
    doc = base(sender={'from_address': 'j@example.com', field: bad})
    found = effective_settings(doc).errors
    assert found and found[0].path == f'$.sender.{field}' and 'line break' in found[0].message


def test_crlf_in_host_and_username_refused():
    assert '$.server.host' in paths(effective_settings(base(server={'host': 'h.example\r\nRCPT TO:<x@y>'})).errors)
    assert '$.auth.username' in paths(effective_settings(base(auth={'method': 'basic', 'username': 'u\nv', 'password': 'p'})).errors)


def test_nul_and_control_characters():
    assert '$.sender.from_name' in paths(effective_settings(base(sender={'from_address': 'j@example.com', 'from_name': 'a\x00'})).errors)
    assert '$.sender.subject_prefix' in paths(effective_settings(base(sender={'from_address': 'j@example.com', 'subject_prefix': 'a\x07'})).errors)


@pytest.mark.parametrize('port', [0, 65536, -1, 10**9])
def test_ports_out_of_range(port):
    found = effective_settings(base(server={'host': 'h.example', 'port': port})).errors
    assert found[0].path == '$.server.port'
    assert 'at least 1' in found[0].hint or 'at most 65535' in found[0].hint


def test_basic_auth_needs_username_and_password():
    found = paths(effective_settings(base(auth={'method': 'basic'})).errors)
    assert found == ['$.auth.username', '$.auth.password']


def test_xoauth2_mechanism_needs_oauth2():
    assert '$.auth.mechanism' in paths(effective_settings(base(auth={'method': 'basic', 'username': 'u', 'password': 'p',
                                                                     'mechanism': 'xoauth2'})).errors)


def test_password_in_clear_warns():
    result = effective_settings(base(server={'host': 'h.example', 'port': 25, 'tls': 'none'}))
    assert result.ok
    warning = [w for w in result.warnings if w.path == '$.server.tls'][0]
    assert 'in clear' in warning.message and 'port 25' in warning.message


def test_opportunistic_with_password_warns():
    result = effective_settings(base(server={'host': 'h.example', 'tls': 'opportunistic'}))
    assert any('strip STARTTLS' in w.message for w in result.warnings)


def test_anonymous_with_credentials_warns():
    result = effective_settings(base(auth={'method': 'none', 'username': 'u'}))
    assert result.ok and '$.auth.username' in paths(result.warnings)
    assert result.effective['auth']['username'] is None


def test_timeout_zero_warns():
    result = effective_settings(base(server={'host': 'h.example', 'timeout_ms': 0}))
    assert result.ok and '$.server.timeout_ms' in paths(result.warnings)


def test_derived_and_secret_properties_refused():
    properties = {'mail.smtp.host': 'x', 'mail.smtp.password': 'y', 'mail.smtp.ssl.protocols': 'TLSv1.3'}
    doc = base(server={'host': 'h.example', 'properties': properties})
    found = paths(effective_settings(doc).errors)
    assert "$.server.properties['mail.smtp.host']" in found
    assert "$.server.properties['mail.smtp.password']" in found
    assert len(found) == 2


def test_ip_lists_and_recipients_checked():
    doc = base(dns={'sending_ips': ['192.0.2.1', 'nope']}, test={'recipients': ['ok@example.com', 'bad']})
    assert {'$.dns.sending_ips[1]', '$.test.recipients[1]'} <= set(paths(effective_settings(doc).errors))


def test_helo_domain_must_be_a_hostname():
    assert '$.server.helo_domain' in paths(effective_settings(base(server={'host': 'h.example', 'helo_domain': 'not a name'})).errors)


def test_max_age_parsed():
    assert parse_duration('12h') == 43200
    assert load_effective(base(test={'max_age': '2w'}))['test']['max_age_seconds'] == 14 * 86400
    assert '$.test.max_age' in paths(effective_settings(base(test={'max_age': '30 days'})).errors)


def test_masked_placeholder_is_not_a_password():
    found = effective_settings(base(auth={'method': 'basic', 'username': 'u', 'password': REDACTED})).errors
    assert found[0].path == '$.auth.password' and 'placeholder' in found[0].message


# --- schema findings read well ------------------------------------------------------------

def test_unknown_field_suggests_the_right_one():
    found = effective_settings(base(server={'hots': 'x'})).errors
    assert found[0].path == '$.server.hots' and found[0].message == 'unknown field'
    assert "'host'" in found[0].hint


def test_missing_required_field_named():
    found = effective_settings({'product': 'jira', 'sender': {}}).errors
    assert found[0].path == '$.sender.from_address' and found[0].message == 'required field is missing'


def test_enum_lists_choices():
    found = effective_settings(base(product='jenkins')).errors
    assert found[0].path == '$.product' and 'jira' in found[0].hint


def test_wrong_type_named():
    found = effective_settings(base(server={'host': 'h.example', 'port': '587'})).errors
    assert found[0].path == '$.server.port' and 'whole number' in found[0].message
    found = effective_settings(base(server={'host': 'h.example', 'port': True})).errors
    assert found[0].path == '$.server.port'


# --- hostile input: a clear finding, never an exception -----------------------------------

@pytest.mark.parametrize('document,expected', [
    (None, 'empty'), ({}, 'empty'), ([], 'mapping'), ('product: jira', 'mapping'), (42, 'mapping'),
    ([{'product': 'jira'}], 'mapping'),
])
def test_not_a_mapping(document, expected):
    result = effective_settings(document)
    assert not result.ok and result.errors[0].path == '$' and expected in result.errors[0].message


def test_huge_strings_are_bounded_in_messages():
    huge = 'x' * 1_000_000
    found = effective_settings(base(server={'host': huge})).errors
    assert found[0].path == '$.server.host'
    assert len(str(found[0])) < 300


def test_non_string_keys_and_deep_nesting():
    doc = base()
    doc[1] = {'a': {'b': {'c': {'d': {}}}}}
    found = effective_settings(doc).errors
    assert found[0].path == "$['1']" and found[0].message == 'unknown field'
    nested: dict = {}
    cursor = nested
    for _level in range(500):
        cursor['x'] = {}
        cursor = cursor['x']
    assert not effective_settings(base(server=nested)).ok


def test_unicode_is_fine_where_allowed():
    eff = load_effective(base(sender={'from_address': 'jira@example.com', 'from_name': 'Jïra ✉ ${fullname}',
                                      'subject_prefix': '[ДЖИРА]'}))
    assert eff['sender']['subject_prefix'] == '[ДЖИРА]'


def test_dates_and_floats_from_yaml_are_type_errors():
    doc = yaml.safe_load('product: jira\nserver: {host: h.example, port: 25.5}\nsender: {from_address: j@example.com}\n'
                         'test: {max_age: 2024-01-01}\n')
    assert {'$.server.port', '$.test.max_age'} <= set(paths(effective_settings(doc).errors))


# --- secrets ------------------------------------------------------------------------------

def test_secrets_never_in_findings():
    bad = [
        base(auth={'method': 'basic', 'username': 'u', 'password': 12345}),
        base(auth={'method': 'basic', 'username': 'u', 'password': CANARY + '\n'}),
        base(auth={'method': 'basic', 'username': 'u', 'password': CANARY * 200}),
        base(auth={'method': 'oauth2', 'username': 'u@example.com', 'oauth2': {'token': CANARY}},
             server={'host': 'h.example', 'tls': 'none'}),
    ]
    for doc in bad:
        result = effective_settings(doc)
        text = json.dumps([f.to_dict() for f in result.errors + result.warnings])
        assert CANARY not in text and '12345' not in text
        assert not result.ok


def test_redact_and_secret_values():
    doc = base(auth={'method': 'oauth2', 'username': 'u@example.com', 'password': CANARY,
                     'oauth2': {'token': 'tok-' + CANARY}}, server={'host': 'h.example', 'protocol': 'smtps'})
    assert secret_values(doc) == [CANARY, 'tok-' + CANARY]
    redacted = redact(doc)
    assert CANARY not in json.dumps(redacted)
    assert doc['auth']['password'] == CANARY  # the original is untouched


def test_load_effective_raises_with_all_errors():
    with pytest.raises(SettingsError) as info:
        load_effective(base(server={'host': 'h.example', 'port': 465}, sender={'from_address': '${x}'}))
    assert {e.path for e in info.value.errors} == {'$.server.port', '$.sender.from_address'}


def test_schema_and_semantic_errors_come_in_one_run():
    doc = yaml.safe_load((ROOT / 'demo' / 'bad.yml').read_text())
    found = paths(effective_settings(doc).errors)
    assert {'$.server.timeout', '$.sender.subject_prefix', '$.sender.from_address', '$.server.port',
            '$.auth.username'} <= set(found)
    assert len(found) == len(set(found)), 'one error per field'


# --- the fast schema check never accepts what jsonschema refuses --------------------------

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.schema import schema  # noqa: E402
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import _quick_valid  # noqa: E402

_REFERENCE = Draft202012Validator(schema())
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2, max_value=70000), st.floats(allow_nan=False),
                    st.sampled_from([0, -1, 1, 65535, 65536, 3600001, 1.0, 'x' * 400]),
                    st.text(max_size=12), st.sampled_from(['smtp', 'smtps', 'none', 'required', 'jira', 'basic',
                                                           'a@example.com', 'mail/X', '30d', 'gmail', '', '\n']),
                    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _leaf_paths(node, parts=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaf_paths(value, parts + (key,))
    yield parts


@hsettings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(example=st.sampled_from(EXAMPLES), data=st.data())
def test_quick_check_is_never_looser_than_jsonschema(example, data):
    doc = yaml.safe_load(example.read_text())
    assert _quick_valid(doc, schema()), 'the examples take the fast path'
    for _round in range(data.draw(st.integers(1, 3))):
        parts = data.draw(st.sampled_from(list(_leaf_paths(doc))))
        value = data.draw(_LEAVES)
        if not parts:
            continue
        parent = doc
        for key in parts[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[parts[-1]] = value
        else:
            parent[data.draw(st.sampled_from([parts[-1], 'extra', 'port', 'host', 'tls']))] = value
    if _quick_valid(doc, schema()):
        assert not list(_REFERENCE.iter_errors(doc)), doc


_PROBES = [None, True, False, 0, -1, 1, 25, 65535, 65536, 3600001, 1.5, '', 'x' * 400, '\n', 'smtps', 'none',
           'jira', 'a@example.com', 'mail/X', '30d', 'gmail', 'ses:eu-west-1', [], ['a', 'a'], ['a@example.com'] * 51,
           {}, {'mail.x': 1}, {'bad key': 1}, {'name': 'x', 'type': 'A'}]


@pytest.mark.parametrize('example', EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_quick_check_agrees_on_every_single_field_change(example):
    """Exhaustive: every field of every example, set to every probe value, and added fields."""
    original = yaml.safe_load(example.read_text())
    checked = 0
    for parts in [p for p in _leaf_paths(original) if p]:
        for key in (parts[-1], 'unknown_field'):
            for value in _PROBES:
                doc = copy.deepcopy(original)
                parent = doc
                for step in parts[:-1]:
                    parent = parent[step]
                parent[key] = copy.deepcopy(value)
                if _quick_valid(doc, schema()):
                    assert not list(_REFERENCE.iter_errors(doc)), (parts, key, value)
                checked += 1
    assert checked > 500


@pytest.mark.parametrize('char', ['\x01', '\x08', '\x0b', '\x1f', '\ufffe', '\ud800'])
@pytest.mark.parametrize('parts', [('auth', 'password'), ('sender', 'from_name'), ('description',)])
def test_characters_xml_cannot_carry_are_refused(char, parts):
    doc = base()
    parent = doc
    for key in parts[:-1]:
        parent = parent.setdefault(key, {})
    parent[parts[-1]] = f'a{char}b'
    found = effective_settings(doc).errors
    assert found and found[0].path == '$.' + '.'.join(parts) and 'control character' in found[0].message
    if parts == ('auth', 'password'):
        assert 'U+' not in str(found[0]), 'nothing about a secret is shown'


# --- server.properties: derived keys and TLS-weakening keys (issue 11, finding 7) ----------------

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import (  # noqa: E402
    insecure_property_warnings,
    looks_secret,
)

_DERIVED_SAMPLE = [
    'mail.smtp.ssl.enable', 'mail.smtps.ssl.enable', 'mail.smtp.ssl.checkserveridentity',
    'mail.smtps.ssl.checkserveridentity', 'mail.smtp.auth.mechanisms', 'mail.smtp.connectiontimeout',
    'mail.smtp.timeout', 'mail.smtp.writetimeout', 'mail.smtps.timeout', 'mail.debug', 'mail.smtps.host',
    'mail.smtps.starttls.enable', 'mail.smtps.from', 'mail.host', 'mail.user', 'mail.SMTP.SSL.Enable',
]


@pytest.mark.parametrize('key', _DERIVED_SAMPLE)
@pytest.mark.parametrize('value', ['false', 'true', False])
@pytest.mark.parametrize('allow', [False, True])
def test_every_derived_property_refused_even_with_the_escape_hatch(key, value, allow):
    doc = base(server={'host': 'h.example', 'protocol': 'smtps', 'allow_insecure_properties': allow,
                       'properties': {key: value}})
    result = effective_settings(doc)
    assert f"$.server.properties['{key}']" in paths(result.errors)
    assert 'derived from the settings' in str(result.errors)


def test_every_rendered_javamail_key_is_refused():
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import javamail_properties

    eff = load_effective(base(server={'host': 'h.example', 'timeout_ms': 5000, 'helo_domain': 'me.example',
                                      'jndi': {'debug': True}}, auth__mechanism='login'))
    rendered = set(javamail_properties(eff)) | set(javamail_properties(load_effective(base(server={'host': 'h.example', 'protocol': 'smtps'}))))
    for key in sorted(rendered):
        doc = base(server={'host': 'h.example', 'properties': {key: 'x'}})
        assert f"$.server.properties['{key}']" in paths(effective_settings(doc).errors), key


_WEAKENING = [
    ('mail.smtp.ssl.trust', '*'), ('mail.smtp.ssl.trust', 'smtp.example.com'), ('mail.smtps.ssl.trust', '*'),
    ('mail.smtp.ssl.socketFactory.class', 'com.example.TrustAll'), ('mail.smtp.ssl.socketFactory', 'x'),
    ('mail.smtp.socketFactory.class', 'javax.net.ssl.SSLSocketFactory'), ('mail.smtp.socketFactory.fallback', 'true'),
    ('mail.smtps.socketFactory.port', '465'), ('mail.smtp.ssl.protocols', 'TLSv1 TLSv1.2'),
    ('mail.smtp.ssl.protocols', 'SSLv3'), ('mail.smtps.ssl.protocols', 'TLSv1.1'),
]


@pytest.mark.parametrize('key,value', _WEAKENING)
def test_tls_weakening_property_refused_without_the_escape_hatch(key, value):
    result = effective_settings(base(server={'host': 'h.example', 'properties': {key: value}}))
    assert f"$.server.properties['{key}']" in paths(result.errors)
    assert 'weakens TLS' in str(result.errors) and 'allow_insecure_properties' in str(result.errors)


@pytest.mark.parametrize('key,value', _WEAKENING)
def test_tls_weakening_property_accepted_with_the_escape_hatch_and_warned(key, value):
    doc = base(server={'host': 'h.example', 'allow_insecure_properties': True, 'properties': {key: value}})
    result = effective_settings(doc)
    assert result.ok, result.errors
    assert f"$.server.properties['{key}']" in paths(result.warnings)
    assert result.effective['server']['allow_insecure_properties'] is True
    assert result.effective['server']['properties'] == {key: value}
    # every module warns from the effective settings alone, and they normalise to themselves
    assert [w.path for w in insecure_property_warnings(result.effective)] == [f"$.server.properties['{key}']"]
    assert effective_settings(result.effective).effective == result.effective


def test_strong_protocols_and_unrelated_properties_pass_without_the_escape_hatch():
    properties = {'mail.smtp.ssl.protocols': 'TLSv1.2 TLSv1.3', 'mail.smtp.quitwait': 'false'}
    doc = base(server={'host': 'h.example', 'tls': 'required', 'properties': properties})
    result = effective_settings(doc)
    assert result.ok and not result.warnings
    assert result.effective['server']['allow_insecure_properties'] is False
    assert insecure_property_warnings(result.effective) == []


# --- secret-looking keys, known to the schema or not (finding 13) ---------------------------------

@pytest.mark.parametrize('key', ['passwrd', 'Password', 'PASSWD', 'pwd', 'client_secret', 'refresh_token',
                                 'credentials', 'private_key', 'privateKey', 'api_key', 'pasword'])
def test_values_under_secret_looking_keys_are_secrets(key):
    doc = base(auth={'method': 'basic', 'username': 'u', key: CANARY, 'extra': {key: [CANARY + '2', 1234]}})
    values = secret_values(doc)
    assert CANARY in values and CANARY + '2' in values and '1234' in values
    assert looks_secret(key)
    assert CANARY not in json.dumps(redact(doc))


def test_secret_values_keep_addresses_and_flags_out():
    doc = base(auth={'method': 'oauth2', 'username': 'u@example.com',
                     'oauth2': {'token': 'tok', 'token_url': 'https://login.example.com/token'}},
               other={'password_set': True})
    assert secret_values(doc) == ['tok']


def test_findings_never_show_a_container_holding_a_secret():
    for doc in (base(auth=[{'password': CANARY}]), base(auth={'method': 'basic', 'passwrd': CANARY}),
                base(auth={'method': 'basic', 'password': [CANARY]}),
                base(server={'host': 'h.example', 'properties': {'mail.smtp.password': [CANARY]}})):
        result = effective_settings(doc)
        assert result.errors
        assert CANARY not in json.dumps([f.to_dict() for f in result.errors + result.warnings])


# --- depth (finding 10) ---------------------------------------------------------------------------

def _nested(depth):
    deep = inner = {}
    for _level in range(depth):
        inner['a'] = {}
        inner = inner['a']
    return deep


def test_nested_500_deep_is_a_finding_with_depth_and_path():
    result = effective_settings(base(x=_nested(500)))
    assert not result.ok
    finding = result.errors[0]
    assert finding.path.startswith('$.x.a.a.a') and 'nested 501 levels deep' in finding.message
    assert secret_values(base(x=_nested(500))) == [CANARY]


# --- OAuth 2.0 grants ---------------------------------------------------------------------------

def oauth2_doc(**oauth2):
    return base(auth={'method': 'oauth2', 'username': 'mailer@example.com', 'oauth2': oauth2})


def test_client_credentials_for_microsoft_derive_token_url_and_the_default_scope():
    eff = load_effective(oauth2_doc(provider='microsoft', grant_type='client_credentials', tenant='contoso.onmicrosoft.com',
                                    client_id='app', client_secret=CANARY))
    oauth = eff['auth']['oauth2']
    assert oauth['token_url'] == 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token'
    assert oauth['scopes'] == ['https://outlook.office365.com/.default']
    assert oauth['client_secret'] == CANARY and oauth['grant_type'] == 'client_credentials'


def test_refresh_grant_scopes_and_token_urls_per_provider():
    microsoft = load_effective(oauth2_doc(provider='microsoft', grant_type='refresh_token', tenant='common',
                                          client_id='app', refresh_token=CANARY))['auth']['oauth2']
    assert microsoft['scopes'] == ['https://outlook.office.com/SMTP.Send', 'offline_access']
    assert microsoft['token_url'] == 'https://login.microsoftonline.com/common/oauth2/v2.0/token'
    google = load_effective(oauth2_doc(provider='google', grant_type='refresh_token', client_id='app',
                                       client_secret='s', refresh_token=CANARY))['auth']['oauth2']
    assert google['token_url'] == 'https://oauth2.googleapis.com/token'
    assert google['scopes'] == ['https://mail.google.com/']
    custom = load_effective(oauth2_doc(grant_type='client_credentials', client_id='a', client_secret='s',
                                       token_url='https://idp.example.com/token', scopes=['smtp']))['auth']['oauth2']
    assert custom['token_url'] == 'https://idp.example.com/token' and custom['scopes'] == ['smtp']


def test_static_token_settings_keep_their_shape():
    oauth = load_effective(oauth2_doc(provider='google', token=CANARY))['auth']['oauth2']
    assert oauth['grant_type'] is None and oauth['token_url'] is None and oauth['token'] == CANARY


@pytest.mark.parametrize('oauth2, path, words', [
    ({'provider': 'google', 'grant_type': 'client_credentials', 'client_id': 'a', 'client_secret': 's'},
     '$.auth.oauth2.grant_type', 'Google has no client-credentials grant'),
    ({'provider': 'microsoft', 'grant_type': 'refresh_token', 'tenant': 't', 'client_id': 'a'},
     '$.auth.oauth2.refresh_token', 'is required for grant_type refresh_token'),
    ({'provider': 'microsoft', 'grant_type': 'client_credentials', 'tenant': 't', 'client_id': 'a'},
     '$.auth.oauth2.client_secret', 'is required for grant_type client_credentials'),
    ({'provider': 'microsoft', 'grant_type': 'client_credentials', 'tenant': 't', 'client_secret': 's'},
     '$.auth.oauth2.client_id', 'is required'),
    ({'provider': 'microsoft', 'grant_type': 'client_credentials', 'client_id': 'a', 'client_secret': 's'},
     '$.auth.oauth2.tenant', 'is required for provider microsoft'),
    ({'grant_type': 'client_credentials', 'client_id': 'a', 'client_secret': 's'},
     '$.auth.oauth2.token_url', 'is required for provider custom'),
    ({'provider': 'microsoft', 'grant_type': 'client_credentials', 'tenant': 't', 'client_id': 'a', 'client_secret': 's',
      'scopes': ['https://outlook.office.com/SMTP.Send']},
     '$.auth.oauth2.scopes', ".default scope"),
    ({'provider': 'microsoft', 'grant_type': 'refresh_token', 'tenant': 't', 'client_id': 'a', 'refresh_token': 'r',
      'scopes': ['offline_access']},
     '$.auth.oauth2.scopes', 'microsoft needs https://outlook.office.com/SMTP.Send'),
])
def test_impossible_oauth2_combinations_name_the_field(oauth2, path, words):
    found = [f for f in effective_settings(oauth2_doc(**oauth2)).errors if f.path == path]
    assert found and words in found[0].message, [str(f) for f in effective_settings(oauth2_doc(**oauth2)).errors]


@pytest.mark.parametrize('url', ['http://login.example.com/token', 'ftp://x.example/token', 'https://', 'token'])
def test_token_url_must_be_https(url):
    doc = oauth2_doc(grant_type='client_credentials', client_id='a', client_secret='s', token_url=url)
    assert '$.auth.oauth2.token_url' in paths(effective_settings(doc).errors)


def test_token_url_with_user_info_is_refused():
    doc = oauth2_doc(grant_type='client_credentials', client_id='a', client_secret='s',
                     token_url=f'https://a:{CANARY}@idp.example.com/token')
    result = effective_settings(doc)
    assert '$.auth.oauth2.token_url' in paths(result.errors)


def test_oauth2_grant_without_tls_is_refused():
    doc = oauth2_doc(grant_type='client_credentials', client_id='a', client_secret='s', token_url='https://idp.example/t')
    doc['server']['tls'] = 'opportunistic'
    assert '$.auth.method' in paths(effective_settings(doc).errors)


def test_grant_fields_without_a_grant_and_token_with_a_grant_warn():
    result = effective_settings(oauth2_doc(provider='google', token='t', client_secret='s', refresh_token='r'))
    assert result.ok
    assert {'$.auth.oauth2.client_secret', '$.auth.oauth2.refresh_token'} <= set(paths(result.warnings))
    result = effective_settings(oauth2_doc(provider='google', grant_type='refresh_token', client_id='a',
                                           refresh_token='r', token='stale', tenant='x'))
    assert result.ok and {'$.auth.oauth2.token', '$.auth.oauth2.tenant'} <= set(paths(result.warnings))


def test_oauthbearer_mechanism():
    ok = effective_settings(base(auth={'method': 'oauth2', 'username': 'u@example.com', 'mechanism': 'oauthbearer',
                                       'oauth2': {'token': 't'}}))
    assert ok.ok and ok.effective['auth']['mechanism'] == 'oauthbearer'
    bad = effective_settings(base(auth={'method': 'basic', 'username': 'u', 'password': 'p', 'mechanism': 'oauthbearer'}))
    assert '$.auth.mechanism' in paths(bad.errors)


def test_client_secret_and_refresh_token_are_secrets():
    doc = oauth2_doc(provider='microsoft', grant_type='refresh_token', tenant='t', client_id='app-id',
                     client_secret='Canary-Client-5ecret', refresh_token='Canary-Refresh-T0ken')
    assert {'Canary-Client-5ecret', 'Canary-Refresh-T0ken'} <= set(secret_values(doc))
    shown = json.dumps(redact(load_effective(doc)))
    assert 'Canary-' not in shown and 'app-id' in shown and 'login.microsoftonline.com' in shown


# --- Microsoft's basic-auth shutdown ------------------------------------------------------------

@pytest.mark.parametrize('doc', [
    base(provider='microsoft365', server={'tls': 'required'}),
    base(server={'host': 'smtp.office365.com', 'port': 587, 'tls': 'required'}),
    base(server={'host': 'contoso-com.mail.protection.office365.com', 'port': 25, 'tls': 'required'}),
], ids=['preset', 'host', 'other-office365-host'])
def test_basic_auth_to_exchange_online_warns_of_the_shutdown(doc):
    result = effective_settings(doc)
    assert result.ok
    found = [w for w in result.warnings if w.path == '$.auth.method' and 'December 2026' in w.message]
    assert found, [str(w) for w in result.warnings]
    assert 'grant_type: client_credentials' in found[0].hint and 'SMTP.SendAsApp' in found[0].hint
    assert 'https://outlook.office365.com/.default' in found[0].hint


@pytest.mark.parametrize('doc', [
    base(),
    base(server={'host': 'office365.com.example.net', 'tls': 'required'}),
    base(provider='microsoft365', server={'tls': 'required'},
         auth={'method': 'oauth2', 'username': 'u@example.com', 'oauth2': {'provider': 'microsoft', 'token': 't'}}),
], ids=['elsewhere', 'look-alike', 'oauth2'])
def test_no_shutdown_warning_elsewhere(doc):
    assert not [w for w in effective_settings(doc).warnings if 'December 2026' in w.message]
