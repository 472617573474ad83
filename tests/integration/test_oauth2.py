"""OAuth 2.0 end to end: tokens from a real authorization server, proven with a relay that checks them.

The authorization server is authlib's (tests/support/oauth_server.py: client credentials and
refresh-token grants, signed JWT access tokens) over HTTPS on loopback; the relay is aiosmtpd whose
XOAUTH2 and OAUTHBEARER verify the JWT's signature, issuer, audience, expiry and scope. test_send and
smtp_probe run as real module processes, and once through ansible-playbook at -vvv --diff, whose
every output is searched for the client secret, the refresh tokens and the access tokens the server
issued, raw and in every encoding they travel in.
"""
from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import sys
import urllib.parse

import pytest
import yaml

from tests.support.modrun import run_module
from tests.support.oauth_server import OAuthTestServer
from tests.support.smtp_server import SMTPTestServer

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT_SECRET = 'Canary-Client-5ecret-0Auth'
REFRESH = 'Canary-Refresh-T0ken-0Auth'
USER = 'mailer@example.test'
APP_SCOPE = 'https://outlook.office365.com/.default'
SEND_SCOPE = 'smtp.send'


@pytest.fixture
def oauth(smtp_pki):
    server = OAuthTestServer(cert=smtp_pki.good).start()
    server.add_client('mailwright-app', CLIENT_SECRET, grants=['client_credentials'], scopes=[APP_SCOPE])
    server.add_client('delegated-app', CLIENT_SECRET, grants=['refresh_token'], scopes=[SEND_SCOPE, 'offline_access'])
    server.add_refresh_token('delegated-app', user=USER, scope=f'{SEND_SCOPE} offline_access', value=REFRESH)
    yield server
    server.stop()


def relay(smtp_server, oauth, scope: str, **kwargs) -> SMTPTestServer:
    return smtp_server('starttls', token_verifier=oauth.verifier(scope), token_scope=scope, **kwargs)


def app_settings(server, oauth, **oauth2) -> dict:
    """Microsoft 365 style: client credentials, the default .default scope, token_url pointed at the test server."""
    given = {'provider': 'microsoft', 'grant_type': 'client_credentials', 'tenant': 'contoso.onmicrosoft.com',
             'token_url': oauth.token_url, 'client_id': 'mailwright-app', 'client_secret': CLIENT_SECRET}
    given.update(oauth2)
    return _settings(server, given)


def delegated_settings(server, oauth, **oauth2) -> dict:
    given = {'provider': 'custom', 'grant_type': 'refresh_token', 'token_url': oauth.token_url,
             'client_id': 'delegated-app', 'client_secret': CLIENT_SECRET, 'refresh_token': REFRESH,
             'scopes': [SEND_SCOPE, 'offline_access']}
    given.update(oauth2)
    return _settings(server, given)


def _settings(server, oauth2: dict) -> dict:
    return {
        'product': 'generic',
        'server': {'host': server.host, 'port': server.port, 'tls': 'required', 'timeout_ms': 5000},
        'auth': {'method': 'oauth2', 'username': USER, 'oauth2': oauth2},
        'sender': {'from_address': 'app@example.test'},
        'test': {'recipients': ['team@example.test']},
    }


def forms(secret: str, host: str = '127.0.0.1', port: int = 0) -> list[str]:
    """Every spelling a secret could leak in: raw, base64 (both alphabets), percent- and JSON-escaped,
    and the base64 of the XOAUTH2 and OAUTHBEARER strings made from it."""
    raw = secret.encode()
    out = [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip('='),
           urllib.parse.quote(secret, safe=''), urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1],
           json.dumps(secret)[1:-1].replace('/', '\\/')]
    for sasl in (f'user={USER}\x01auth=Bearer {secret}\x01\x01',
                 f'n,a={USER},\x01host={host}\x01port={port}\x01auth=Bearer {secret}\x01\x01'):
        out += [base64.b64encode(sasl.encode()).decode(), json.dumps(sasl)[1:-1]]
    return list(dict.fromkeys(out))


def leaks(texts: list[str], oauth: OAuthTestServer, port: int) -> list[str]:
    secrets = [CLIENT_SECRET, REFRESH, *oauth.access_tokens(),
               *(t['refresh_token'] for t in oauth.issued if t.get('refresh_token'))]
    found = []
    for secret in secrets:
        for form in forms(secret, port=port):
            if any(form in text for text in texts):
                found.append(f'{secret[:16]}... as {form[:24]}...')
    return found


def send(tmp_path, settings: dict, oauth: OAuthTestServer, smtp_pki, **options) -> tuple[int, dict]:
    args = {'settings': settings, 'marker_path': str(tmp_path / 'proof.json'), 'ca_path': smtp_pki.ca_file,
            'token_ca_path': smtp_pki.ca_file, 'retries': 0}
    args.update(options)
    rc, result = run_module('test_send', args, diff=True)
    found = leaks([json.dumps(result), result.get('_stderr', '')], oauth, settings['server']['port'])
    assert not found, found
    return rc, result


# --- the grants send -------------------------------------------------------------------------

def test_client_credentials_token_sends_and_second_run_asks_for_nothing(tmp_path, smtp_server, smtp_pki, oauth):
    server = relay(smtp_server, oauth, APP_SCOPE)
    rc, result = send(tmp_path, app_settings(server, oauth), oauth, smtp_pki)
    assert rc == 0, result
    assert result['sent'] and result['auth_mechanism'] == 'XOAUTH2'
    assert result['oauth2']['grant_type'] == 'client_credentials' and result['oauth2']['scope'] == [APP_SCOPE]
    assert len(server.messages) == 1
    assert [a['ok'] for a in server.auth_attempts] == [True]
    request = oauth.requests[0]
    assert request['grant_type'] == 'client_credentials' and request['scope'] == APP_SCOPE  # the derived default
    assert any('access token obtained from' in line for line in result['transcript'])
    assert 'C: AUTH XOAUTH2 ********' in result['transcript']
    # the proof is the settings, not the token of the day: nothing sent, no token asked for
    rc, again = send(tmp_path, app_settings(server, oauth), oauth, smtp_pki)
    assert rc == 0 and again['changed'] is False, again
    assert len(oauth.requests) == 1 and len(server.messages) == 1


def test_refresh_token_grant_sends_over_oauthbearer_when_the_relay_offers_only_that(tmp_path, smtp_server, smtp_pki, oauth):
    server = relay(smtp_server, oauth, SEND_SCOPE, mechanisms=['OAUTHBEARER'])
    rc, result = send(tmp_path, delegated_settings(server, oauth), oauth, smtp_pki)
    assert rc == 0, result
    assert result['auth_mechanism'] == 'OAUTHBEARER'
    assert server.auth_attempts == [{'mechanism': 'OAUTHBEARER', 'login': USER, 'ok': True, 'tls': True}]
    assert oauth.requests[0]['refresh_token'] == REFRESH
    assert any(t.get('refresh_token') for t in oauth.issued), 'the server rotated the refresh token (redacted too)'


def test_xoauth2_is_preferred_when_both_are_offered(tmp_path, smtp_server, smtp_pki, oauth):
    server = relay(smtp_server, oauth, SEND_SCOPE, mechanisms=['XOAUTH2', 'OAUTHBEARER'])
    rc, result = send(tmp_path, delegated_settings(server, oauth), oauth, smtp_pki)
    assert rc == 0 and result['auth_mechanism'] == 'XOAUTH2', result
    rc, result = send(tmp_path, delegated_settings(server, oauth), oauth, smtp_pki, force=True)
    assert rc == 0


def test_oauthbearer_when_the_settings_ask_for_it(tmp_path, smtp_server, smtp_pki, oauth):
    server = relay(smtp_server, oauth, SEND_SCOPE, mechanisms=['XOAUTH2', 'OAUTHBEARER'])
    settings = delegated_settings(server, oauth)
    settings['auth']['mechanism'] = 'oauthbearer'
    rc, result = send(tmp_path, settings, oauth, smtp_pki)
    assert rc == 0 and result['auth_mechanism'] == 'OAUTHBEARER', result


# --- the token endpoint refuses: the message names the cause, nothing reaches the relay ------

@pytest.mark.parametrize('case, expected', [
    ('expired_refresh_token', 'the refresh token is expired, revoked'),
    ('revoked_refresh_token', 'update auth.oauth2.refresh_token'),
    ('wrong_secret', 'check auth.oauth2.client_id and auth.oauth2.client_secret'),
    ('scope_not_granted', 'the provider refused the scopes'),
    ('consent_missing', 'admin consent'),
])
def test_refused_grants_name_the_cause(tmp_path, smtp_server, smtp_pki, oauth, case, expected):
    server = relay(smtp_server, oauth, SEND_SCOPE)
    if case == 'expired_refresh_token':
        settings = delegated_settings(server, oauth, refresh_token=oauth.add_refresh_token(
            'delegated-app', user=USER, scope=SEND_SCOPE, value='Canary-Expired-Refresh', lifetime=-1))
    elif case == 'revoked_refresh_token':
        settings = delegated_settings(server, oauth, refresh_token=oauth.add_refresh_token(
            'delegated-app', user=USER, scope=SEND_SCOPE, value='Canary-Revoked-Refresh', revoked=True))
    elif case == 'wrong_secret':
        settings = app_settings(server, oauth, client_secret='Canary-Wrong-5ecret')
    elif case == 'scope_not_granted':
        settings = app_settings(server, oauth, scopes=['https://graph.microsoft.com/.default'])
    else:
        oauth.clients['mailwright-app'].consent = False
        settings = app_settings(server, oauth)
    rc, result = send(tmp_path, settings, oauth, smtp_pki)
    assert rc != 0
    assert result['step'] == 'token' and result['kind'] == 'server', result
    assert expected in result['msg'], result['msg']
    assert result['oauth2_error'] in ('invalid_grant', 'invalid_client', 'invalid_scope')
    assert server.received == b'' and not server.messages  # no SMTP connection at all
    assert not (tmp_path / 'proof.json').exists()
    for secret in ('Canary-Expired-Refresh', 'Canary-Revoked-Refresh', 'Canary-Wrong-5ecret'):
        assert secret not in json.dumps(result)


def test_a_token_without_the_scope_the_relay_needs_is_explained(tmp_path, smtp_server, smtp_pki, oauth):
    oauth.add_client('narrow-app', CLIENT_SECRET, grants=['client_credentials'], scopes=['profile'])
    server = relay(smtp_server, oauth, APP_SCOPE)
    settings = app_settings(server, oauth, provider='custom', client_id='narrow-app', scopes=['profile'])
    del settings['auth']['oauth2']['tenant']
    rc, result = send(tmp_path, settings, oauth, smtp_pki)
    assert rc != 0 and result['step'] == 'auth', result
    assert 'lacks the permission' in result['msg'] and APP_SCOPE in result['msg'], result['msg']
    assert server.token_refusals == [f'scope {APP_SCOPE} missing']


def test_an_expired_access_token_is_refused_by_the_relay(tmp_path, smtp_server, smtp_pki, oauth):
    oauth.clients['mailwright-app'].token_ttl = -10
    server = relay(smtp_server, oauth, APP_SCOPE)
    rc, result = send(tmp_path, app_settings(server, oauth), oauth, smtp_pki)
    assert rc != 0 and result['step'] == 'auth', result
    assert 'did not accept the token' in result['msg']
    assert server.token_refusals[0].startswith('claims')


def test_the_token_endpoint_certificate_is_verified(tmp_path, smtp_server, smtp_pki, oauth):
    server = relay(smtp_server, oauth, APP_SCOPE)
    rc, result = send(tmp_path, app_settings(server, oauth), oauth, smtp_pki, token_ca_path=None)
    assert rc != 0 and result['step'] == 'token' and result['kind'] == 'tls', result
    assert 'token_ca_path' in result['msg']
    assert oauth.requests == []


# --- smtp_probe's credential check ----------------------------------------------------------

def test_probe_checks_credentials_with_an_obtained_token(smtp_server, smtp_pki, oauth):
    server = relay(smtp_server, oauth, APP_SCOPE)
    args = {'settings': app_settings(server, oauth), 'check_credentials': True, 'ca_path': smtp_pki.ca_file,
            'token_ca_path': smtp_pki.ca_file}
    rc, result = run_module('smtp_probe', args)
    assert rc == 0, result
    assert result['results'][0]['credentials']['ok'] is True
    assert result['oauth2']['grant_type'] == 'client_credentials'
    assert not leaks([json.dumps(result), result['_stderr']], oauth, server.port)
    oauth.clients['mailwright-app'].secret = 'rotated'
    rc, result = run_module('smtp_probe', args)
    assert rc != 0 and result['step'] == 'token' and 'client_secret' in result['msg'], result


# --- Exchange Online with basic SMTP AUTH off -----------------------------------------------

@pytest.mark.parametrize('fault, code', [('auth_535_57139', 535), ('auth_550_5730', 550)])
def test_basic_auth_switched_off_is_explained(tmp_path, smtp_server, smtp_pki, fault, code):
    server = smtp_server('starttls', credentials={USER: 'pw-Canary'}, fault=fault)
    settings = {'product': 'generic', 'server': {'host': server.host, 'port': server.port, 'tls': 'required'},
                'auth': {'method': 'basic', 'username': USER, 'password': 'pw-Canary'},
                'sender': {'from_address': 'app@example.test'}, 'test': {'recipients': ['team@example.test']}}
    rc, result = run_module('test_send', {'settings': settings, 'marker_path': str(tmp_path / 'p.json'),
                                          'ca_path': smtp_pki.ca_file, 'retries': 0})
    assert rc != 0 and result['step'] == 'auth' and result['code'] == code, result
    assert 'basic SMTP AUTH disabled' in result['msg'] and 'auth.method: oauth2' in result['msg']
    assert 'SMTP.SendAsApp' in result['msg']
    rc, probed = run_module('smtp_probe', {'settings': settings, 'check_credentials': True, 'ca_path': smtp_pki.ca_file})
    assert rc != 0
    assert 'basic SMTP AUTH disabled' in probed['results'][0]['credentials']['text']


def test_a_good_password_elsewhere_gets_no_shutdown_explanation(tmp_path, smtp_server, smtp_pki):
    server = smtp_server('starttls', credentials={USER: 'right'})
    settings = {'product': 'generic', 'server': {'host': server.host, 'port': server.port, 'tls': 'required'},
                'auth': {'method': 'basic', 'username': USER, 'password': 'wrong'},
                'sender': {'from_address': 'app@example.test'}, 'test': {'recipients': ['team@example.test']}}
    rc, result = run_module('test_send', {'settings': settings, 'marker_path': str(tmp_path / 'p.json'),
                                          'ca_path': smtp_pki.ca_file, 'retries': 0})
    assert rc != 0 and result['step'] == 'auth'
    assert 'basic SMTP AUTH disabled' not in result['msg']


# --- through ansible-playbook at -vvv --diff -------------------------------------------------

def test_no_secret_in_any_playbook_output(tmp_path, smtp_server, smtp_pki, oauth):
    app_relay = relay(smtp_server, oauth, APP_SCOPE)
    delegated_relay = relay(smtp_server, oauth, SEND_SCOPE, mechanisms=['OAUTHBEARER'])
    refused = oauth.add_refresh_token('delegated-app', user=USER, scope=SEND_SCOPE, value='Canary-Expired-Playbook',
                                      lifetime=-1)
    common = {'token_ca_path': smtp_pki.ca_file, 'ca_path': smtp_pki.ca_file, 'retries': 0}
    tasks = [
        {'name': 'client credentials', 'mailwright.smtp.test_send': dict(
            common, settings=app_settings(app_relay, oauth), marker_path=str(tmp_path / 'a.json'))},
        {'name': 'refresh token', 'mailwright.smtp.test_send': dict(
            common, settings=delegated_settings(delegated_relay, oauth), marker_path=str(tmp_path / 'b.json'))},
        {'name': 'credential check', 'mailwright.smtp.smtp_probe': {
            'settings': app_settings(app_relay, oauth), 'check_credentials': True, 'ca_path': smtp_pki.ca_file,
            'token_ca_path': smtp_pki.ca_file}},
        {'name': 'refused refresh token', 'ignore_errors': True, 'mailwright.smtp.test_send': dict(
            common, settings=delegated_settings(delegated_relay, oauth, refresh_token=refused),
            marker_path=str(tmp_path / 'c.json'))},
    ]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.build' / 'collections'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_LOG_PATH=str(tmp_path / 'ansible.log'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'))
    completed = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
         '-e', f'ansible_python_interpreter={sys.executable}', str(playbook), '-vvv', '--diff'],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    out = completed.stdout + completed.stderr
    assert completed.returncode == 0, out[-4000:]
    assert 'failed=0' in out and 'ignored=1' in out, out[-2000:]
    assert len(app_relay.messages) == 1 and len(delegated_relay.messages) == 1
    assert len(oauth.access_tokens()) >= 3, 'each grant issued its token (so the search below has something to find)'
    texts = [out, (tmp_path / 'ansible.log').read_text()]
    texts += [p.read_text(errors='replace') for p in tmp_path.glob('*.json')]
    for port in (app_relay.port, delegated_relay.port):
        found = leaks(texts, oauth, port)
        assert not found, found
    assert 'Canary-Expired-Playbook' not in out and 'refresh token is expired' in out
    # guards the search itself: the secrets reached the modules (masked in the echoed arguments),
    # and the search finds a secret wherever one is
    masked = '"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"'
    assert f'"client_secret": {masked}' in out and f'"refresh_token": {masked}' in out
    assert 'DEPRECATION' not in out
    token = oauth.access_tokens()[0]
    sasl = base64.b64encode(f'user={USER}\x01auth=Bearer {token}\x01\x01'.encode()).decode()
    assert leaks([sasl], oauth, 0) and leaks([urllib.parse.quote(REFRESH + '/')], oauth, 0)
