"""bitbucket_mail_server against a local server that follows Bitbucket's documented REST contract."""
from __future__ import annotations

import json
import socket
import time

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render.bitbucket import (
    MAIL_SERVER_PATH,
    SENDER_ADDRESS_PATH,
    STATUS_HINTS,
    run,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpClient
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from tests.support.bitbucket_api import REFLECT_STYLES, BitbucketServer, spellings
from tests.support.modrun import module_process, run_module

pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
ADMIN_PASSWORD = 'Adm1n-Canary-Pa55'


def document(**changes) -> dict:
    doc = {
        'product': 'bitbucket',
        'server': {'host': 'smtp.example.com', 'port': 587, 'protocol': 'smtp', 'tls': 'required'},
        'auth': {'method': 'basic', 'username': 'bitbucket-mail', 'password': CANARY},
        'sender': {'from_address': 'bitbucket@example.com'},
    }
    for section, values in changes.items():
        doc[section] = dict(doc[section], **values)
    return doc


@pytest.fixture
def server():
    with BitbucketServer(username='admin', password=ADMIN_PASSWORD, token='Tok-Canary-123') as srv:
        yield srv


def args(server, doc=None, **extra) -> dict:
    base = {'settings': doc or document(), 'url': server.url, 'url_username': 'admin',
            'url_password': ADMIN_PASSWORD, 'timeout': 5}
    base.update(extra)
    return base


def assert_no_secret(result: dict) -> None:
    text = json.dumps(result)
    assert CANARY not in text
    assert ADMIN_PASSWORD not in text


def test_create_then_second_run_changes_nothing(server):
    rc, result = run_module('bitbucket_mail_server', args(server))
    assert rc == 0, result
    assert result['changed'] is True and result['created'] is True and result['password_written'] is True
    assert server.config == {'hostname': 'smtp.example.com', 'port': 587, 'protocol': 'SMTP', 'useStartTls': True,
                             'requireStartTls': True, 'username': 'bitbucket-mail', 'password': CANARY}
    assert server.sender_address == 'bitbucket@example.com'
    assert result['mail_server']['password'] == '********'
    put = [r for r in server.requests if r.method == 'PUT']
    assert len(put) == 1 and put[0].path == MAIL_SERVER_PATH
    assert put[0].headers['Content-Type'] == 'application/json'
    assert_no_secret(result)

    server.clear()
    rc, again = run_module('bitbucket_mail_server', args(server))
    assert rc == 0 and again['changed'] is False, again
    assert server.writes() == []
    assert again['differences'] == []


def test_update_writes_only_on_difference_and_names_it(server):
    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    server.clear()
    rc, result = run_module('bitbucket_mail_server', args(server, document(server={'port': 2525, 'tls': 'opportunistic'})))
    assert rc == 0 and result['changed'] is True and result['created'] is False
    assert result['differences'] == ['port', 'tls']
    assert server.config['port'] == 2525
    assert (server.config['useStartTls'], server.config['requireStartTls']) == (True, False)
    # The password travels with every write, so a PUT never leaves Bitbucket without it.
    assert [r.json['password'] for r in server.writes()] == [CANARY]


def test_update_password_on_create_versus_always(server):
    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    rotated = document(auth={'password': 'Rotated-Canary-77'})
    server.clear()
    rc, result = run_module('bitbucket_mail_server', args(server, rotated))
    assert rc == 0 and result['changed'] is False and result['password_written'] is False
    assert server.writes() == [] and server.stored_password() == CANARY

    rc, result = run_module('bitbucket_mail_server', args(server, rotated, update_password='always'))
    assert rc == 0 and result['changed'] is True and result['password_written'] is True
    assert result['differences'] == ['password (update_password=always)']
    assert server.stored_password() == 'Rotated-Canary-77'
    assert 'Rotated-Canary-77' not in json.dumps(result)


def test_check_mode_writes_nothing_and_predicts(server):
    rc, result = run_module('bitbucket_mail_server', args(server), check_mode=True, diff=True)
    assert rc == 0 and result['changed'] is True and result['created'] is True
    assert server.config is None and server.writes() == []
    assert [r.method for r in server.requests] == ['GET']

    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    server.clear()
    rc, result = run_module('bitbucket_mail_server', args(server, state='absent'), check_mode=True)
    assert rc == 0 and result['changed'] is True
    assert server.writes() == [] and server.config is not None


def test_diff_redacts_password(server):
    rc, result = run_module('bitbucket_mail_server', args(server), diff=True)
    assert rc == 0
    diff = result['diff']
    assert diff['before'] == ''
    assert 'hostname: smtp.example.com' in diff['after']
    assert 'password: ********' in diff['after']
    assert_no_secret(result)
    rc, result = run_module('bitbucket_mail_server', args(server, document(server={'port': 25})), diff=True)
    assert 'port: 587' in result['diff']['before'] and 'port: 25' in result['diff']['after']
    assert 'write-only' in result['diff']['before']


def test_canary_never_in_results_even_without_ansible_scrubbing(server):
    """The in-process result (no no_log_values filter in between) must already be clean."""
    client = HttpClient(server.url, username='admin', password=ADMIN_PASSWORD, timeout=5)
    effective = load_effective(document())
    for kwargs in ({}, {'update_password': 'always'}, {'state': 'absent'}):
        result = run(client, effective, **kwargs)
        assert 'failed' not in result, result
        assert_no_secret(result)
    server.force_status = 500
    with pytest.raises(MailwrightError) as info:
        run(client, effective)
    assert_no_secret(info.value.to_result())  # what the module's fail_json gets


def test_bearer_token(server):
    rc, result = run_module('bitbucket_mail_server', {'settings': document(), 'url': server.url,
                                                      'token': 'Tok-Canary-123'})
    assert rc == 0 and result['changed'] is True
    assert server.requests[0].headers['Authorization'] == 'Bearer Tok-Canary-123'
    assert 'Tok-Canary-123' not in json.dumps(result)


def test_401_names_the_fix_and_not_the_password(server):
    rc, result = run_module('bitbucket_mail_server', args(server, url_password='wrong-password'))
    assert rc != 0 and result['failed'] is True
    assert 'authentication failed (HTTP 401)' in result['msg']
    assert 'SYS_ADMIN' in result['msg']
    assert 'wrong-password' not in json.dumps(result)
    assert server.writes() == []


@pytest.mark.parametrize('status', [500, 503])
def test_5xx_is_a_clear_failure(server, status):
    server.force_status = status
    rc, result = run_module('bitbucket_mail_server', args(server))
    assert rc != 0
    assert f'server error (HTTP {status})' in result['msg']
    assert result['http']['status'] == status
    assert 'Traceback' not in result.get('module_stderr', '') + result['_stderr']


def test_stalled_server_times_out_within_bound(server):
    server.stall_seconds = 60
    started = time.monotonic()
    rc, result = run_module('bitbucket_mail_server', args(server, timeout=1.5))
    elapsed = time.monotonic() - started
    assert rc != 0
    assert 'no answer within 1.5 s' in result['msg']
    assert (result['kind'], result['http']['kind'], result['http']['cause']) == ('network', 'network', 'timeout')
    assert elapsed < 15, f'timeout of 1.5 s took {elapsed:.1f} s'


def test_connection_refused():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    rc, result = run_module('bitbucket_mail_server', {'settings': document(), 'url': f'http://127.0.0.1:{port}',
                                                      'url_username': 'admin', 'url_password': ADMIN_PASSWORD})
    assert rc != 0 and 'connection refused' in result['msg']


def test_absent_deletes_and_is_idempotent(server):
    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    server.clear()
    absent = {'url': server.url, 'url_username': 'admin', 'url_password': ADMIN_PASSWORD, 'state': 'absent'}
    rc, result = run_module('bitbucket_mail_server', absent, diff=True)
    assert rc == 0 and result['changed'] is True
    assert server.config is None and server.sender_address is None
    writes = [(r.method, r.path) for r in server.writes()]
    assert writes == [('DELETE', MAIL_SERVER_PATH), ('DELETE', SENDER_ADDRESS_PATH)]
    assert result['diff']['after'] == ''
    rc, result = run_module('bitbucket_mail_server', absent)
    assert rc == 0 and result['changed'] is False


def test_anonymous_relay_clears_stored_credentials(server):
    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    anonymous = document(server={'tls': 'none', 'port': 25}, auth={'method': 'none', 'username': None, 'password': None})
    del anonymous['auth']['username'], anonymous['auth']['password']
    rc, result = run_module('bitbucket_mail_server', args(server, anonymous))
    assert rc == 0 and result['changed'] is True
    assert server.config['username'] is None and server.config['password'] is None
    assert run_module('bitbucket_mail_server', args(server, anonymous))[1]['changed'] is False


def test_https_needs_the_ca(tmp_path):
    with BitbucketServer(username='admin', password=ADMIN_PASSWORD, tls=True, cert_dir=tmp_path) as srv:
        rc, result = run_module('bitbucket_mail_server', args(srv))
        assert rc != 0 and 'TLS certificate verification failed' in result['msg'] and 'ca_path' in result['msg']
        assert srv.requests == []
        rc, result = run_module('bitbucket_mail_server', args(srv, ca_path=str(srv.ca_path)))
        assert rc == 0 and result['changed'] is True and srv.config is not None


def test_invalid_settings_fail_before_any_request(server):
    bad = document(server={'port': 70000})
    rc, result = run_module('bitbucket_mail_server', args(server, bad))
    assert rc != 0 and '/server/port' in result['msg'].replace('$.', '/').replace('.', '/')
    assert server.requests == []


def test_oauth2_is_reported_as_manual_step(server):
    doc = document(server={'protocol': 'smtps', 'port': 465},
                   auth={'method': 'oauth2', 'oauth2': {'provider': 'microsoft', 'client_id': 'abc', 'token': CANARY}})
    del doc['auth']['password']
    rc, result = run_module('bitbucket_mail_server', args(server, doc))
    assert rc != 0, result
    assert 'oauth2' in result['msg'] or 'OAuth' in result['msg']
    assert server.writes() == []


def test_sender_address_read_from_sub_resource(server):
    """A server that keeps "Email from" only in its own resource is read and written correctly."""
    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    server.clear()
    original = server._public

    def without_sender():
        shown = original()
        shown.pop('senderAddress')
        return shown

    server._public = without_sender
    rc, result = run_module('bitbucket_mail_server', args(server))
    assert rc == 0 and result['changed'] is False, result
    assert ('GET', SENDER_ADDRESS_PATH) in [(r.method, r.path) for r in server.requests]


def test_contract_server_follows_the_documented_contract(server):
    """The stand-in itself: 401 without credentials, 404 when unconfigured, never the password."""
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(server.url + MAIL_SERVER_PATH, timeout=5)
    assert denied.value.code == 401
    client = HttpClient(server.url, username='admin', password=ADMIN_PASSWORD, timeout=5, status_hints=STATUS_HINTS)
    status, body = client.json('GET', MAIL_SERVER_PATH, allow=(404,))
    assert status == 404 and "hasn't been configured" in body['errors'][0]['message']
    status, body = client.json('PUT', MAIL_SERVER_PATH, json_body={'hostname': '', 'port': 0}, allow=(400,))
    assert status == 400 and {e['context'] for e in body['errors']} >= {'hostname', 'port'}
    client.json('PUT', MAIL_SERVER_PATH, json_body={'hostname': 'h', 'username': 'u', 'password': CANARY})
    status, body = client.json('GET', MAIL_SERVER_PATH)
    assert status == 200 and 'password' not in body


def test_writes_are_never_sent_to_a_redirect_target(server):
    """A PUT answered with a redirect fails with the new address instead of following it."""
    assert run_module('bitbucket_mail_server', args(server))[0] == 0
    original = server.route

    def redirect_writes(record):
        if record.method == 'PUT':
            return 308, None
        return original(record)

    server.route = redirect_writes
    rc, result = run_module('bitbucket_mail_server', args(server, document(server={'port': 25})))
    assert rc != 0 and 'redirects (HTTP 308)' in result['msg'], result


# --- a server that quotes the request back (finding: HTTP error bodies echo credentials) -------

# Characters that every encoding spells differently; base64('admin:' + it) holds '+', '/' and '='.
ODD_PASSWORD = 'Cn/ry+&"<é>mW?Sé/'
ODD_TOKEN = 'Tok/C+n&ry"<é>-9'
ERROR_BODY_SHOWN = 2000  # the documented bound on the characters of a reply quoted in a message


def assert_no_spelling(stdout: str, secrets: dict[str, str]) -> None:
    """No spelling of any secret anywhere in the module's whole stdout."""
    for what, secret in secrets.items():
        for name, form in spellings(secret, username=None if what != 'admin' else 'admin').items():
            assert form not in stdout, f'{what} leaked as {name}: {form!r}'


@pytest.mark.parametrize('style', REFLECT_STYLES)
@pytest.mark.parametrize('auth', ['basic', 'bearer'])
def test_reflected_request_shows_no_credential_in_any_encoding(style, auth):
    with BitbucketServer(username='admin', password=ODD_PASSWORD, token=ODD_TOKEN) as srv:
        srv.reflect = style
        if auth == 'basic':
            call = {'url_username': 'admin', 'url_password': ODD_PASSWORD}
            secrets = {'admin': ODD_PASSWORD}
        else:
            call = {'token': ODD_TOKEN}
            secrets = {'token': ODD_TOKEN, 'bearer': f'Bearer {ODD_TOKEN}'}
        proc = module_process('bitbucket_mail_server', {'settings': document(), 'url': srv.url, 'timeout': 5, **call},
                              diff=True)
        result = json.loads(proc.stdout)
        assert proc.returncode == 1 and 'HTTP 400' in result['msg'], result
        assert 'Authorization' in result['msg']  # the reflection is shown, the credential is not
        assert_no_spelling(proc.stdout + proc.stderr, secrets)


@pytest.mark.parametrize('style', ['json', 'php', 'form'])
def test_reflected_write_hides_the_relay_password_it_carried(server, style):
    server.reflect, server.reflect_methods = style, ('PUT',)
    proc = module_process('bitbucket_mail_server', {**args(server), 'settings': document(auth={'password': ODD_PASSWORD})})
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and 'PUT' in result['msg'] and 'hostname' in result['msg'], result
    assert_no_spelling(proc.stdout, {'relay': ODD_PASSWORD, 'admin': ADMIN_PASSWORD})


def test_reflection_is_redacted_before_ansible_sees_it(server):
    """In process (no no_log_values filter): the client's own redaction does the work."""
    server.reflect = 'text'
    client = HttpClient(server.url, username='admin', password=ODD_PASSWORD, timeout=5)
    with pytest.raises(MailwrightError) as info:
        run(client, load_effective(document()))
    result = info.value.to_result()  # what the module's fail_json gets
    assert result['kind'] == 'server' and 'Authorization: ********' in result['msg']
    assert_no_spelling(json.dumps(result, ensure_ascii=False), {'admin': ODD_PASSWORD})


@pytest.mark.parametrize('size', [-1, 300_000])
def test_huge_error_body_is_read_and_shown_only_in_part(server, size):
    server.huge_error_bytes = size
    started = time.monotonic()
    rc, result = run_module('bitbucket_mail_server', args(server))
    assert rc == 1 and 'HTTP 500' in result['msg']
    assert time.monotonic() - started < 30
    said = result['msg'].split('server said: ', 1)[1]
    assert len(said) < ERROR_BODY_SHOWN + 200
    if size > 0:
        assert f'({size - ERROR_BODY_SHOWN} more bytes)' in said
    else:
        assert 'the rest not read' in said
        assert server.huge_sent < 64 * 1024 * 1024  # the client hung up instead of reading on
