"""Bitbucket mail-server mapping, comparison, diff and the HTTP client's error messages (no network)."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render import bitbucket as bb
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import (
    HttpClient,
    HttpError,
    _excerpt,
    safe_url,
    status_message,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective

CANARY = 'Canary-5ecret-Pa55'


def settings(**server) -> dict:
    doc = {
        'product': 'bitbucket',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required', **server},
        'auth': {'method': 'basic', 'username': 'bitbucket', 'password': CANARY},
        'sender': {'from_address': 'bitbucket@example.com'},
    }
    return load_effective(doc)


@pytest.mark.parametrize('tls, use, require', [
    ('none', False, False),
    ('opportunistic', True, False),
    ('required', True, True),
])
def test_starttls_flags_follow_tls_mode(tls, use, require):
    body = bb.desired_config(settings(tls=tls))
    assert (body['useStartTls'], body['requireStartTls']) == (use, require)
    assert body['protocol'] == 'SMTP'


def test_smtps_has_no_starttls_flags():
    body = bb.desired_config(settings(protocol='smtps', port=465, tls='required'))
    assert body['protocol'] == 'SMTPS'
    assert body['useStartTls'] is False and body['requireStartTls'] is False
    assert body['port'] == 465


def test_body_uses_documented_field_names_only():
    body = bb.desired_config(settings())
    assert set(body) == {'hostname', 'port', 'protocol', 'useStartTls', 'requireStartTls',
                         'username', 'password', 'senderAddress'}
    assert body['hostname'] == 'smtp.example.com'
    assert body['senderAddress'] == 'bitbucket@example.com'
    assert body['username'] == 'bitbucket' and body['password'] == CANARY


def test_anonymous_relay_clears_credentials_explicitly():
    eff = load_effective({'product': 'bitbucket', 'server': {'host': 'relay.example.com', 'tls': 'none'},
                          'auth': {'method': 'none'}, 'sender': {'from_address': 'bb@example.com'}})
    body = bb.desired_config(eff)
    assert 'username' in body and body['username'] is None
    assert 'password' in body and body['password'] is None


def test_oauth2_is_a_clear_manual_step():
    eff = copy.deepcopy(settings())
    eff['auth'] = {'method': 'oauth2', 'username': 'x', 'password': None, 'mechanism': None,
                   'oauth2': {'provider': 'microsoft', 'scopes': [], 'client_id': 'id', 'token': None}}
    with pytest.raises(bb.BitbucketError, match='manual step'):
        bb.desired_config(eff)


def test_no_differences_when_server_echoes_config_without_password():
    desired = bb.desired_config(settings())
    current = bb.normalise_current({k: v for k, v in desired.items() if k != 'password'})
    assert bb.differences(desired, current) == []


def test_comparison_tolerates_server_normalisation():
    desired = bb.desired_config(settings())
    # Different case in host and sender, STARTTLS "required" reported with useStartTls false.
    current = bb.normalise_current({'hostname': 'SMTP.Example.com', 'port': '587', 'protocol': 'smtp',
                                    'useStartTls': False, 'requireStartTls': True, 'username': 'bitbucket',
                                    'senderAddress': 'Bitbucket@Example.com'})
    assert bb.differences(desired, current) == []


def test_unset_port_means_25():
    desired = bb.desired_config(settings(port=25, tls='none'))
    current = bb.normalise_current({'hostname': 'smtp.example.com', 'protocol': 'SMTP', 'username': 'bitbucket',
                                    'senderAddress': 'bitbucket@example.com'})
    assert bb.differences(desired, current) == []


def test_each_field_change_is_named():
    desired = bb.desired_config(settings())
    base = {k: v for k, v in desired.items() if k != 'password'}
    assert bb.differences(desired, dict(base, port=25)) == ['port']
    assert bb.differences(desired, dict(base, requireStartTls=False)) == ['tls']
    assert bb.differences(desired, dict(base, username='other')) == ['username']
    assert bb.differences(desired, dict(base, senderAddress=None)) == ['senderAddress']
    assert bb.differences(desired, None) == list(bb._COMPARED)


def test_normalise_current_drops_password_and_detects_none():
    assert bb.normalise_current(None) is None
    assert bb.normalise_current({}) is None
    assert bb.normalise_current({'hostname': ''}) is None
    current = bb.normalise_current({'hostname': 'h', 'password': CANARY}, 'from@example.com')
    assert 'password' not in current
    assert current['senderAddress'] == 'from@example.com'


def test_diff_shows_password_only_as_placeholder():
    desired = bb.desired_config(settings())
    diff = bb.render_diff(None, desired, password_written=True)
    assert CANARY not in json.dumps(diff)
    assert 'password: ******** (written)' in diff['after']
    assert diff['before'] == ''
    before = {k: v for k, v in desired.items() if k != 'password'}
    diff = bb.render_diff(before, desired, password_written=False)
    assert 'not readable' in diff['before']
    assert 'useStartTls: true' in diff['after']


def test_public_view_hides_password():
    shown = bb._public(bb.desired_config(settings()))
    assert shown['password'] == '********'
    assert CANARY not in json.dumps(shown)


# -- HTTP client helpers -------------------------------------------------------------------------

def test_safe_url_drops_userinfo_and_query():
    assert safe_url(f'https://admin:{CANARY}@bb.example.com:8443/x?api_key={CANARY}') == 'https://bb.example.com:8443/x'


@pytest.mark.parametrize('status, words', [
    (401, ['authentication failed', 'url_username']),
    (403, ['permission denied', 'administrator']),
    (404, ['not found', 'check url']),
    (409, ['conflict', 'retry']),
    (500, ['server error', 'logs']),
    (503, ['server error (HTTP 503)']),
])
def test_status_messages_say_what_where_and_what_to_do(status, words):
    message = status_message(status, 'PUT', f'https://u:{CANARY}@h.example/rest?api_key={CANARY}', 'boom')
    assert message.startswith('PUT https://h.example/rest: ')
    for word in words:
        assert word in message
    assert 'server said: boom' in message
    assert CANARY not in message


def test_status_hint_override():
    message = status_message(401, 'GET', 'https://h/x', hints=bb.STATUS_HINTS)
    assert 'SYS_ADMIN' in message


def test_server_reply_excerpt_is_scrubbed_and_short():
    body = json.dumps({'errors': [{'message': f'bad password {CANARY}'}, {'message': 'second'}]}).encode()
    text = _excerpt(body, [CANARY])
    assert text == 'bad password ********; second'
    long = _excerpt(b'x' * 5000, [])
    assert long == 'x' * 2000 + '… (3000 more bytes)'


def test_excerpt_redacts_before_it_cuts():
    """A secret across the cut, or split by blanks that the excerpt folds, is never half shown."""
    secret = 'Canary  5ecret\nPa55-and-more'
    body = ('x' * 1990 + secret + 'y' * 100).encode()
    shown = _excerpt(body, [secret])
    assert 'Canary' not in shown and '5ecret' not in shown and shown.startswith('x' * 1990 + '********')
    assert _excerpt(b'e' * 100, [], total=10_000, cut=True) == 'e' * 100 + '… (9900 more bytes)'
    assert 'the rest not read' in _excerpt(b'e' * 100, [], cut=True)


def test_client_knows_every_wire_form_of_its_credentials():
    from tests.support.bitbucket_api import spellings

    password, token = 'Cn/ry+&"<é>mW?Sé/', 'Tok/C+n&ry"<é>-9'
    basic = HttpClient('https://bitbucket.example.com', username='admin', password=password)
    text = ' | '.join(spellings(password, username='admin').values())
    assert basic.redact(text).replace('********', '').strip(' |') == ''
    bearer = HttpClient('https://bitbucket.example.com', token=token)
    text = ' | '.join([f'Authorization: Bearer {token}', *spellings(token).values()])
    assert bearer.redact(text).replace('********', '').replace('Authorization:', '').strip(' |') == ''
    in_url = HttpClient('https://admin:s3cr%2Ft@bitbucket.example.com')
    assert 's3cr/t' not in in_url.redact('got s3cr/t') and 's3cr%2Ft' not in in_url.redact('got s3cr%2Ft')


@pytest.mark.parametrize('url', ['bitbucket.example.com', 'ftp://bitbucket.example.com', ''])
def test_client_rejects_urls_that_are_not_http(url):
    with pytest.raises(HttpError, match='url must'):
        HttpClient(url)


def test_client_sends_token_as_bearer_and_never_both():
    client = HttpClient('https://h', username='admin', password='pw', token='tok')
    assert client._headers(None)['Authorization'] == 'Bearer tok'
    basic = HttpClient('https://h', username='admin', password='pw')._headers('application/json')
    assert basic['Authorization'].startswith('Basic ')
    assert basic['Content-Type'] == 'application/json'


def test_connection_options_are_checked_before_any_request(tmp_path):
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import client_from_params

    base = {'url': 'https://h.example', 'url_username': 'u', 'url_password': 'p', 'validate_certs': True}
    with pytest.raises(HttpError, match='ca_path .* is not a readable file'):
        client_from_params(dict(base, ca_path=str(tmp_path / 'missing.pem')))
    with pytest.raises(HttpError, match='timeout must be a positive number'):
        client_from_params(dict(base, timeout=0))
    ca = tmp_path / 'ca.pem'
    ca.write_text('-----BEGIN CERTIFICATE-----\n')
    client = client_from_params(dict(base, ca_path=str(ca), timeout=2.5))
    assert client.ca_path == str(ca) and client.timeout == 2.5
