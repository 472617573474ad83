# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The .properties round-trip editor and the flavour mappings."""

from __future__ import annotations

import difflib
import json
import os
import stat

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    MARKER,
    PropertiesError,
    PropertiesFile,
    apply_properties,
    escape_key,
    escape_value,
    format_from_header,
    javamail_properties,
    managed_keys,
    redact_text,
    unescape,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from tests.support.modrun import run_module

CANARY = 'Canary-5ecret-Pa55'


def settings(**over):
    doc = {
        'product': 'generic',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required', 'timeout_ms': 15000,
                   'helo_domain': 'app01.example.com'},
        'auth': {'method': 'basic', 'username': 'app', 'password': CANARY},
        'sender': {'from_address': 'app@example.com', 'from_name': 'Example App', 'subject_prefix': '[APP]'},
    }
    for key, value in over.items():
        section, sep, field = key.partition('__')
        if sep:
            doc[section][field] = value
        else:
            doc[section] = value
    return doc


# --- reading as java.util.Properties does -----------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('a=b\n', {'a': 'b'}),
    ('a:b\n', {'a': 'b'}),
    ('a b\n', {'a': 'b'}),
    ('a = b\n', {'a': 'b'}),
    ('a\t:\t b\n', {'a': 'b'}),
    ('a  =  = b\n', {'a': '= b'}),            # only one separator is eaten
    ('a\n', {'a': ''}),
    ('   a=b   \n', {'a': 'b   '}),            # leading whitespace skipped, trailing kept
    ('# c=d\n! e=f\n  # g\n', {}),
    ('a=b\\\n    c\n', {'a': 'bc'}),         # continuation drops the next line's indentation
    ('a=b\\\\\nc=d\n', {'a': 'b\\', 'c': 'd'}),  # even backslashes: no continuation
    ('a=b\\\\\\\n c\n', {'a': 'b\\c'}),
    ('# comment \\\na=b\n', {'a': 'b'}),      # comments never continue
    ('a=b\\\n\nc=d\n', {'a': 'b', 'c': 'd'}),  # an empty line ends a continuation
    ('a=b\\\n#not a comment\n', {'a': 'b#not a comment'}),
    ('a=1\r\nb=2\rc=3\n', {'a': '1', 'b': '2', 'c': '3'}),
    ('a=b\\\r\n  c\r\n', {'a': 'bc'}),
    ('k\\ e\\:y\\=x=v\n', {'k e:y=x': 'v'}),
    ('a=\\u00e9\\t\\n\\r\\f\\q\n', {'a': 'é\t\n\r\fq'}),
    ('a=\\uD83D\\uDE00\n', {'a': '😀'}),
    ('a=1\na=2\n', {'a': '2'}),               # the last one wins
    ('a=b\\', {'a': 'b'}),                    # trailing backslash at EOF dropped
    ('\f a=b\n', {'a': 'b'}),
])
def test_parse_like_java(text, expected):
    doc = PropertiesFile(text)
    assert doc.as_dict() == expected
    assert doc.render() == text


def test_malformed_unicode_escape_names_the_line():
    with pytest.raises(PropertiesError, match='line 2: malformed'):
        PropertiesFile('a=b\nc=\\u12x4\n')


_java_text = st.text(st.characters(blacklist_categories=('Cs',)), max_size=40)


@hsettings(max_examples=300, deadline=None)
@given(_java_text, _java_text)
def test_escape_round_trips_any_key_and_value(key, value):
    if not key:
        key = 'k'
    doc = PropertiesFile(f'{escape_key(key)}={escape_value(value)}\n')
    assert doc.as_dict() == {key: value}
    line = escape_key(key) + escape_value(value)
    assert line.isascii() and '\n' not in line and '\r' not in line


@hsettings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list('ab=:# !\\\t \r\nxé')), max_size=60))
def test_untouched_text_renders_byte_for_byte(text):
    try:
        doc = PropertiesFile(text)
    except PropertiesError:
        return
    assert doc.render() == text


NASTY = [
    'grüße ☃ 😀', 'a=b', 'x:y', 'back\\slash\\', '  leading spaces', 'trailing  ', '#hash', '!bang',
    'tab\tand\fform', 'line\nbreak\r\nhere', '\\u0041 literally', '=', ':', '',
]


@pytest.mark.parametrize('value', NASTY)
def test_nasty_values_survive_set_and_reparse(value):
    original = '# keep me\n  other = 1\\\n     2\n! and me\n'
    doc = PropertiesFile(original)
    assert doc.set('mail.smtp.from', value)
    text = doc.render()
    assert text.startswith(original)
    assert PropertiesFile(text).as_dict() == {'other': '12', 'mail.smtp.from': value}
    again = PropertiesFile(text)
    assert not again.set('mail.smtp.from', value)
    assert again.render() == text


def test_unescape_is_the_inverse_of_escape_value():
    for value in NASTY:
        assert unescape(escape_value(value)) == value


# --- editing ----------------------------------------------------------------------------------

ORIGINAL = (
    '# Application settings\r\n'
    'app.name = Example\r\n'
    '\r\n'
    '! mail relay\r\n'
    'mail.smtp.host:old.example.com\r\n'
    'mail.smtp.port 25\r\n'
    'app.list = one,\\\r\n'
    '           two\r\n'
    'mail.smtp.port=2525\r\n'
    '# end'
)


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
            if line[:1] in '+-' and not line.startswith(('+++', '---'))]


def test_set_changes_only_our_lines_and_keeps_crlf():
    doc = PropertiesFile(ORIGINAL)
    doc.set('mail.smtp.host', 'smtp.example.com')
    doc.set('mail.smtp.port', '587')
    doc.set('mail.smtp.from', 'app@example.com', marker=MARKER)
    after = doc.render()
    changed = _changed_lines(ORIGINAL, after)
    assert changed == [
        '-mail.smtp.host:old.example.com\r\n', '-mail.smtp.port 25\r\n',
        '+mail.smtp.host=smtp.example.com\r\n', '+mail.smtp.port=587\r\n',
        '-mail.smtp.port=2525\r\n',
        '-# end', '+# end\r\n', f'+{MARKER}\r\n', '+mail.smtp.from=app@example.com\r\n',
    ]
    assert PropertiesFile(after).as_dict() == {'app.name': 'Example', 'mail.smtp.host': 'smtp.example.com',
                                               'mail.smtp.port': '587', 'app.list': 'one,two',
                                               'mail.smtp.from': 'app@example.com'}


def test_append_after_a_dangling_continuation_does_not_join():
    for text in ('a=b\\', 'a=b\\\n'):
        doc = PropertiesFile(text)
        doc.set('c', 'd')
        assert PropertiesFile(doc.render()).as_dict() == {'a': 'b', 'c': 'd'}


def test_remove_takes_every_copy_and_nothing_else():
    doc = PropertiesFile(ORIGINAL)
    assert doc.remove('mail.smtp.port')
    assert not doc.remove('mail.smtp.port')
    after = doc.render()
    assert _changed_lines(ORIGINAL, after) == ['-mail.smtp.port 25\r\n', '-mail.smtp.port=2525\r\n']


# --- flavours ---------------------------------------------------------------------------------

def test_javamail_flavour_keys():
    result = apply_properties('', load_effective(settings()), 'javamail')
    values = PropertiesFile(result.after).as_dict()
    assert values == {
        'mail.transport.protocol': 'smtp', 'mail.smtp.host': 'smtp.example.com', 'mail.smtp.port': '587',
        'mail.smtp.ssl.checkserveridentity': 'true',
        'mail.smtp.starttls.enable': 'true', 'mail.smtp.starttls.required': 'true', 'mail.smtp.auth': 'true',
        'mail.smtp.user': 'app', 'mail.smtp.connectiontimeout': '15000', 'mail.smtp.timeout': '15000',
        'mail.smtp.writetimeout': '15000', 'mail.smtp.localhost': 'app01.example.com',
        'mail.smtp.from': 'app@example.com', 'mail.from': 'Example App <app@example.com>',
    }
    assert CANARY not in result.after  # JavaMail reads no password from a file
    assert any('password' in step for step in result.managed.manual_steps)
    assert any('[APP]' in step for step in result.managed.manual_steps)


def test_smtps_uses_ssl_enable_and_no_starttls():
    eff = load_effective(settings(server={'host': 'smtp.example.com', 'protocol': 'smtps'}))
    values = managed_keys(eff, 'javamail').values
    assert values['mail.smtp.ssl.enable'] == 'true' and values['mail.smtp.port'] == '465'
    assert 'mail.smtp.starttls.enable' not in values
    assert values['mail.transport.protocol'] == 'smtp'


def test_spring_flavour_and_secret_redaction():
    eff = load_effective(settings(server__properties={'mail.smtp.sendpartial': 'true'}))
    result = apply_properties('server.port=8080\n', eff, 'spring')
    values = PropertiesFile(result.after).as_dict()
    assert values['server.port'] == '8080'
    assert values['spring.mail.password'] == CANARY
    assert values['spring.mail.username'] == 'app'
    assert values['spring.mail.properties.mail.smtp.sendpartial'] == 'true'
    assert values['spring.mail.properties.mail.smtp.starttls.required'] == 'true'
    assert result.managed.secret_keys == {'spring.mail.password'}
    redacted = redact_text(result.after, [CANARY])
    assert CANARY not in redacted and 'spring.mail.password=********' in redacted


def test_secret_with_escapes_is_redacted_in_its_escaped_form():
    secret = ' pa:ss=wörd\\'
    text = f'spring.mail.password={escape_value(secret)}\n'
    assert redact_text(text, [secret]) == 'spring.mail.password=********\n'


OLD_PASSWORD = ' Old:Pa55=wörd\\#!'  # a secret the settings no longer know: it is only in the file


@pytest.mark.parametrize('text', [
    'spring.mail.password=OLD-1\n',
    'spring.mail.password = OLD-1\r\n',
    '   spring.mail.password:OLD-1',
    'spring.mail.password OLD-1\n',
    'spring.mail.password=OL\\\n    D-1\n',                     # continued onto the next line
    'spring.mail.password = a\\\n  OLD-1\\\n  OLD-1\nnext=1\n',
    'spring.mail.passw\\\n   ord=OLD-1\n',                      # the key itself continued
    'spring.mail.passw\\u006Frd=OLD-1\n',                        # the key \\u-escaped
    'spring.mail.password\\:x=OLD-1\n',                          # an escaped separator in the key
    'spring.mail.password=OLD-1\\uZZ\n',                         # not loadable: tolerated all the same
    'app.client-secret=OLD-1\nmail.smtp.password=OLD-1\ndb.pass=OLD-1\nAPI_TOKEN=OLD-1\nx.credential=OLD-1\n',
    '#spring.mail.password=OLD-1\n! mail.smtp.password : OLD-1\n',   # commented out, still a secret
    'foo=\\\n spring.mail.password=OLD-1\n',
])
def test_redact_text_hides_every_secret_key_whatever_its_value(text):
    shown = redact_text(text, [])
    assert 'OLD' not in shown and 'D-1' not in shown and '********' in shown


def test_redact_text_keeps_what_is_not_secret():
    text = 'app.token-uri=http://x\nspring.mail.username=app\nmail.smtp.bypass=1\n'
    assert redact_text(text, []) == text


@pytest.mark.parametrize('check_mode', [True, False])
def test_module_diff_hides_the_previous_password(tmp_path, check_mode):
    import base64
    import urllib.parse

    from tests.support.modrun import module_process

    path = tmp_path / 'application.properties'
    path.write_text(f'server.port=8080\nspring.mail.password = {escape_value(OLD_PASSWORD)}\n', encoding='latin-1')
    os.chmod(path, 0o600)
    proc = module_process('mail_properties', {'path': str(path), 'flavour': 'spring', 'settings': settings()},
                          check_mode=check_mode, diff=True)
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result['changed'], result
    assert 'spring.mail.password = ********' in result['diff']['before']
    for form in (OLD_PASSWORD, escape_value(OLD_PASSWORD), OLD_PASSWORD.strip(), 'Pa55',
                 base64.b64encode(OLD_PASSWORD.encode()).decode(), urllib.parse.quote(OLD_PASSWORD, safe='')):
        assert form not in proc.stdout, form
    assert CANARY not in proc.stdout


def test_bitbucket_flavour_rounds_timeouts_up_to_seconds():
    result = apply_properties('# shared home\nsetup.displayName=Bitbucket\n',
                              load_effective(settings(server__timeout_ms=10500)), 'bitbucket')
    values = PropertiesFile(result.after).as_dict()
    assert values == {'setup.displayName': 'Bitbucket', 'mail.timeout.connect': '11', 'mail.timeout.send': '11'}
    assert any('Restart Bitbucket' in s for s in result.managed.manual_steps)
    zero = apply_properties(result.after, load_effective(settings(server__timeout_ms=0)), 'bitbucket')
    assert zero.removed_keys == ['mail.timeout.connect', 'mail.timeout.send']
    assert zero.managed.warnings


def test_keys_no_longer_given_are_removed_and_second_run_is_unchanged():
    first = apply_properties('', load_effective(settings()), 'javamail')
    anonymous = settings(auth={'method': 'none'},
                         server={'host': 'smtp.example.com', 'port': 25, 'tls': 'none', 'timeout_ms': 0})
    second = apply_properties(first.after, load_effective(anonymous), 'javamail')
    assert set(second.removed_keys) == {'mail.smtp.auth', 'mail.smtp.user', 'mail.smtp.starttls.enable',
                                        'mail.smtp.ssl.checkserveridentity',
                                        'mail.smtp.starttls.required', 'mail.smtp.connectiontimeout',
                                        'mail.smtp.timeout', 'mail.smtp.writetimeout', 'mail.smtp.localhost'}
    third = apply_properties(second.after, load_effective(anonymous), 'javamail')
    assert not third.changed and third.after == second.after


def test_absent_removes_our_keys_and_the_marker_only():
    original = 'keep=1\n# mine\n'
    present = apply_properties(original, load_effective(settings()), 'spring', extra={'spring.mail.test-connection': True})
    assert PropertiesFile(present.after).get('spring.mail.test-connection') == 'true'
    absent = apply_properties(present.after, None, 'spring', state='absent', extra={'spring.mail.test-connection': 1})
    assert absent.after == original


def test_oauth2_is_refused_with_a_reason():
    eff = load_effective(settings(auth={'method': 'oauth2', 'username': 'app@example.com',
                                        'oauth2': {'provider': 'microsoft'}}))
    with pytest.raises(PropertiesError, match='OAuth 2.0'):
        apply_properties('', eff, 'spring')


@pytest.mark.parametrize('name, expected', [
    ('Example App', 'Example App <app@example.com>'),
    ('Example, Inc.', '"Example, Inc." <app@example.com>'),
    ('Say "hi"', '"Say \\"hi\\"" <app@example.com>'),
    ('${fullname} (Confluence)', 'app@example.com'),
])
def test_from_header(name, expected):
    eff = load_effective(settings(sender={'from_address': 'app@example.com', 'from_name': name}))
    assert format_from_header(eff)[0] == expected


# --- the module -------------------------------------------------------------------------------

def test_module_creates_edits_and_is_idempotent(tmp_path):
    path = tmp_path / 'application.properties'
    args = {'path': str(path), 'flavour': 'spring', 'settings': settings()}
    rc, check = run_module('mail_properties', args, check_mode=True, diff=True)
    assert rc == 0 and check['changed'] and not path.exists()
    rc, first = run_module('mail_properties', args, diff=True)
    assert rc == 0 and first['changed']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert CANARY in path.read_text()
    dumped = json.dumps(first) + json.dumps(check)
    assert CANARY not in dumped
    assert 'spring.mail.password=********' in first['diff']['after']
    rc, second = run_module('mail_properties', args)
    assert rc == 0 and not second['changed']


def test_module_keeps_mode_and_makes_backup(tmp_path):
    path = tmp_path / 'mail.properties'
    path.write_bytes(b'# mine\nother=1\n')
    os.chmod(path, 0o600)
    rc, result = run_module('mail_properties', {'path': str(path), 'flavour': 'javamail', 'settings': settings(),
                                                'backup': True})
    assert rc == 0 and result['changed']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert open(result['backup_file'], 'rb').read() == b'# mine\nother=1\n'
    assert path.read_bytes().startswith(b'# mine\nother=1\n')
    rc, result = run_module('mail_properties', {'path': str(path), 'flavour': 'javamail', 'settings': settings(),
                                                'state': 'absent'})
    assert rc == 0 and result['changed'] and path.read_bytes() == b'# mine\nother=1\n'


def test_module_reports_bad_escape_with_line_and_writes_nothing(tmp_path):
    path = tmp_path / 'broken.properties'
    path.write_bytes(b'a=1\nb=\\uZZZZ\n')
    rc, result = run_module('mail_properties', {'path': str(path), 'flavour': 'javamail', 'settings': settings()})
    assert rc == 1 and result['failed']
    assert f'{path}: line 2' in result['msg']
    assert path.read_bytes() == b'a=1\nb=\\uZZZZ\n'
    assert 'Traceback' not in result['msg']


# --- the host-name check is rendered for every TLS session ------------------------------------

@pytest.mark.parametrize('server, checked', [
    ({'protocol': 'smtp', 'tls': 'required'}, True),
    ({'protocol': 'smtp', 'tls': 'opportunistic'}, True),
    ({'protocol': 'smtps'}, True),
    ({'protocol': 'smtp', 'tls': 'none', 'port': 25}, False),
])
def test_every_tls_session_checks_the_server_identity(server, checked):
    auth = {'method': 'none'} if server.get('tls') == 'none' else settings()['auth']
    doc = settings(auth=auth, server=dict({'host': 'smtp.example.com'}, **server))
    props = javamail_properties(load_effective(doc))
    assert props.get('mail.smtp.ssl.checkserveridentity') == ('true' if checked else None)
    spring = managed_keys(load_effective(doc), 'spring').values
    assert spring.get('spring.mail.properties.mail.smtp.ssl.checkserveridentity') == ('true' if checked else None)


@pytest.mark.parametrize('host', ['127.0.0.1', '::1', '[::1]'])
def test_an_ip_literal_relay_warns_and_keeps_the_check(host):
    notes: list[str] = []
    doc = settings(server__host=host)
    props = javamail_properties(load_effective(doc), notes=notes)
    assert props['mail.smtp.ssl.checkserveridentity'] == 'true'   # never a silent downgrade
    assert len(notes) == 1 and 'IP address' in notes[0] and 'DNS name' in notes[0] and host in notes[0]
    assert managed_keys(load_effective(doc), 'javamail').warnings == notes


def test_a_dns_name_relay_does_not_warn():
    notes: list[str] = []
    javamail_properties(load_effective(settings()), notes=notes)
    assert notes == []


def test_the_check_cannot_be_switched_off_through_server_properties():
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import effective_settings

    for key in ('mail.smtp.ssl.checkserveridentity', 'mail.smtps.ssl.checkserveridentity'):
        result = effective_settings(settings(server__properties={key: 'false'}))
        assert not result.ok and [e.path for e in result.errors] == [f"$.server.properties['{key}']"]
