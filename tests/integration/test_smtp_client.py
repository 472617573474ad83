"""The shared SMTP client (_smtp.SMTPClient) against real aiosmtpd peers on loopback.

Every protocol x TLS policy x AUTH mechanism delivers; the transcript never holds a secret; the
client refuses to send credentials in clear unless tls is none (a missing or refused STARTTLS under
opportunistic included, as a man in the middle causes it); every wait is bounded.
"""
from __future__ import annotations

import base64
import time

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import (
    REDACTED,
    SMTPClient,
    SMTPStepError,
    Transcript,
)
from tests.support.mitm import StripStartTLS
from tests.support.smtp_server import TLS_PATHS

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
TOKEN = 'ya29.Canary-Token-0Auth2'
USER = 'relay-user'
MESSAGE = (b'From: a@example.test\r\nTo: b@example.test\r\nSubject: client test\r\n\r\n'
           b'first line\r\n.\r\n.leading dot\r\nlast line\r\n')

MECHANISMS = [None, 'PLAIN', 'LOGIN', 'XOAUTH2']


def secrets_absent(*texts: str) -> None:
    forms = [CANARY, TOKEN, base64.b64encode(CANARY.encode()).decode(), base64.b64encode(TOKEN.encode()).decode()[:20]]
    for text in texts:
        for form in forms:
            assert form not in text, f'secret form {form!r} leaked into: {text[:300]}'


def client_for(server, smtp_pki, protocol='smtp', tls='opportunistic', **kwargs) -> SMTPClient:
    kwargs.setdefault('timeout', 3.0)
    return SMTPClient(server.host, server.port, protocol=protocol, tls=tls, cafile=smtp_pki.ca_file,
                      helo='client.example.test', **kwargs)


# Credentials in clear under opportunistic are refused, so that pair is not a delivery path
# (test_opportunistic_* prove the refusal).
DELIVERY_PATHS = [pytest.param(*path, mechanism, id=f'{path}-auth-{mechanism or "none"}')
                  for path in TLS_PATHS for mechanism in MECHANISMS
                  if not (mechanism and path[2] == 'opportunistic' and not path[3])]


@pytest.mark.parametrize('mode,protocol,tls,encrypted,mechanism', DELIVERY_PATHS)
def test_every_path_and_mechanism_delivers_once(smtp_server, smtp_pki, mode, protocol, tls, encrypted, mechanism):
    server = smtp_server(mode, credentials={USER: CANARY}, tokens={USER: TOKEN},
                         auth_require_tls=encrypted)
    client = client_for(server, smtp_pki, protocol, tls)
    with client:
        client.open()
        assert client.tls_active is encrypted
        if mechanism == 'XOAUTH2':
            client.auth('oauth2', USER, TOKEN)
        elif mechanism:
            client.auth('basic', USER, CANARY, mechanism=mechanism.lower())
        client.mail('sender@example.test')
        client.rcpt('rcpt@example.test')
        reply = client.data(MESSAGE)
    assert reply.code == 250
    assert len(server.messages) == 1
    delivered = server.messages[0]
    assert delivered.tls is encrypted
    assert delivered.mail_from == 'sender@example.test' and delivered.rcpt_tos == ['rcpt@example.test']
    # dot-stuffing undone by the server: the lone dot and the leading dot arrive as written
    assert b'\r\n.\r\n.leading dot\r\n' in delivered.content
    if mechanism:
        assert server.auth_attempts == [{'mechanism': mechanism, 'login': USER, 'ok': True, 'tls': encrypted}]
        assert delivered.auth_login == USER
        assert f'C: AUTH {mechanism}' in client.transcript.text()
    else:
        assert server.auth_attempts == []
    text = client.transcript.text()
    secrets_absent(text)
    if encrypted:
        assert '* TLS established' in text and 'certificate verified' in text


@pytest.mark.parametrize('mechanism', ['plain', 'login'])
def test_wrong_password_fails_at_auth_without_leaking(smtp_server, smtp_pki, mechanism):
    server = smtp_server('starttls', credentials={USER: 'the-right-one'})
    client = client_for(server, smtp_pki)
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        client.auth('basic', USER, CANARY, mechanism=mechanism)
    error = caught.value
    assert (error.step, error.code, error.transient) == ('auth', 535, False)
    assert server.auth_attempts[0]['ok'] is False
    secrets_absent(str(error), repr(error.to_dict()), client.transcript.text())
    assert REDACTED in client.transcript.text()


def test_wrong_token_fails_with_the_servers_detail(smtp_server, smtp_pki):
    server = smtp_server('smtps', tokens={USER: 'another-token'})
    client = client_for(server, smtp_pki, 'smtps', 'required')
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        client.auth('oauth2', USER, TOKEN)
    assert (caught.value.step, caught.value.code) == ('auth', 535)
    assert '"status": "401"' in caught.value.text  # the 334 JSON detail decoded for the admin
    secrets_absent(str(caught.value), client.transcript.text())


def test_registered_secret_is_scrubbed_from_server_text_too():
    transcript = Transcript([CANARY])
    transcript.add('S', f'535 user {CANARY} is not allowed')
    transcript.add('S', '535 echo ' + base64.b64encode(CANARY.encode()).decode())
    secrets_absent(transcript.text())
    assert transcript.text().count(REDACTED) == 2


def test_credentials_not_sent_in_clear_when_starttls_was_offered(smtp_server, smtp_pki):
    # the server would even accept AUTH in clear: only the client's own rule stops it
    server = smtp_server('starttls', credentials={USER: CANARY}, auth_require_tls=False)
    client = client_for(server, smtp_pki, tls='none')
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        assert 'AUTH' in client.extensions
        client.auth('basic', USER, CANARY)
    assert caught.value.step == 'policy'
    assert server.auth_attempts == []
    assert 'C: AUTH' not in client.transcript.text()


def test_tls_required_without_starttls_stops_before_any_command(smtp_server, smtp_pki):
    server = smtp_server('plain', credentials={USER: CANARY}, auth_require_tls=False)
    client = client_for(server, smtp_pki, tls='required')
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
    assert caught.value.step == 'policy'
    text = client.transcript.text()
    assert 'C: MAIL' not in text and 'C: AUTH' not in text
    assert server.messages == [] and server.auth_attempts == []


def test_credentials_never_sent_when_tls_is_required_even_if_the_caller_skips_secure(smtp_server, smtp_pki):
    server = smtp_server('plain', credentials={USER: CANARY}, auth_require_tls=False)
    client = client_for(server, smtp_pki, tls='required')
    with client, pytest.raises(SMTPStepError) as caught:
        client.connect()
        client.ehlo()
        client.auth('basic', USER, CANARY)
    assert caught.value.step == 'policy'
    assert server.auth_attempts == []


def assert_nothing_after_ehlo(server, received: bytes) -> None:
    """What the peer read: EHLO (a refused STARTTLS, QUIT) at most; no AUTH, no MAIL, no DATA, no secret."""
    for form in (CANARY, TOKEN, base64.b64encode(CANARY.encode()).decode(),
                 base64.b64encode(f'\0{USER}\0{CANARY}'.encode()).decode(),
                 base64.b64encode(f'user={USER}\x01auth=Bearer {TOKEN}\x01\x01'.encode()).decode()):
        assert form.encode() not in received
    verbs = [line.split()[0].upper() for line in received.decode('utf-8', 'replace').split('\r\n') if line.strip()]
    assert set(verbs) <= {'EHLO', 'STARTTLS', 'QUIT'}, verbs
    assert server.auth_attempts == [] and server.messages == []


@pytest.mark.parametrize('mechanism', ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'])
def test_opportunistic_without_starttls_refuses_credentials_at_tls(smtp_server, smtp_pki, mechanism):
    # The server offers AUTH in clear and would accept it: only the client's own rule stops it.
    server = smtp_server('plain', credentials={USER: CANARY}, tokens={USER: TOKEN}, auth_require_tls=False,
                         mechanisms=['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'])
    client = client_for(server, smtp_pki, tls='opportunistic')
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        assert 'AUTH' in client.extensions and not client.tls_active
        if mechanism == 'XOAUTH2':
            client.auth('oauth2', USER, TOKEN)
        else:
            client.auth('basic', USER, CANARY, mechanism=mechanism)
    error = caught.value
    assert (error.step, error.kind, error.code, error.transient) == ('tls', 'policy', None, False)
    assert error.to_dict()['kind'] == 'policy'
    assert 'does not offer STARTTLS' in error.text and 'tls is opportunistic' in error.text
    assert 'would send the password in clear' in error.text and 'server.tls: required' in error.text
    assert 'C: AUTH' not in client.transcript.text()
    assert_nothing_after_ehlo(server, bytes(server.received))
    assert server.commands()[0].startswith('EHLO ')
    secrets_absent(client.transcript.text(), str(error))


@pytest.mark.parametrize('attack', ['strip', 'refuse'])
def test_opportunistic_behind_a_starttls_downgrade_refuses_credentials_at_tls(smtp_server, smtp_pki, attack):
    # A STARTTLS relay behind a man in the middle who strips STARTTLS (or answers it with 454)
    # and advertises AUTH in clear, as a password harvester does.
    server = smtp_server('starttls', credentials={USER: CANARY})
    with StripStartTLS(server.host, server.port, refuse_starttls=attack == 'refuse',
                       advertise_auth='PLAIN LOGIN') as mitm:
        client = SMTPClient(mitm.host, mitm.port, tls='opportunistic', cafile=smtp_pki.ca_file,
                            helo='client.example.test', timeout=3.0, server_hostname='127.0.0.1')
        with client, pytest.raises(SMTPStepError) as caught:
            client.open()
            assert 'AUTH' in client.extensions
            client.auth('basic', USER, CANARY)
        error = caught.value
        assert (error.step, error.kind) == ('tls', 'policy')
        if attack == 'refuse':
            assert mitm.refused == 1 and 'answered STARTTLS with 454' in error.text
        else:
            assert mitm.stripped == 1 and 'does not offer STARTTLS' in error.text
        assert_nothing_after_ehlo(server, bytes(mitm.client_bytes))
    assert not any(line.upper().startswith(('AUTH', 'MAIL', 'DATA')) for line in server.commands())


@pytest.mark.parametrize('leaf,reason', [('wrong_name', 'mismatch'), ('expired', 'expired'),
                                         ('self_signed', 'self-signed')])
@pytest.mark.parametrize('mode', ['starttls', 'smtps'])
def test_untrusted_certificates_fail_at_tls_before_auth(smtp_server, smtp_pki, mode, leaf, reason):
    server = smtp_server(mode, cert=leaf, credentials={USER: CANARY})
    protocol = 'smtps' if mode == 'smtps' else 'smtp'
    client = client_for(server, smtp_pki, protocol, 'required')
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        client.auth('basic', USER, CANARY)
    assert caught.value.step == 'tls'
    assert reason in caught.value.text.lower()
    assert server.auth_attempts == [] and server.messages == []


def test_stalled_server_times_out_at_the_banner_within_bounds(smtp_server, smtp_pki):
    server = smtp_server('plain', fault='stall')
    client = client_for(server, smtp_pki, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SMTPStepError) as caught:
        client.open()
    elapsed = time.monotonic() - started
    client.close(quit=False)
    assert (caught.value.step, caught.value.transient) == ('banner', True)
    assert 0.4 <= elapsed < 2.0


def test_stalled_smtps_server_times_out_in_the_handshake(smtp_server, smtp_pki):
    server = smtp_server('smtps', fault='stall')
    client = client_for(server, smtp_pki, 'smtps', 'required', timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SMTPStepError) as caught:
        client.open()
    client.close(quit=False)
    assert caught.value.step == 'tls' and caught.value.transient
    assert time.monotonic() - started < 2.0


def test_closed_port_fails_at_connect(smtp_closed_port):
    client = SMTPClient('127.0.0.1', smtp_closed_port, tls='none', timeout=1.0)
    with pytest.raises(SMTPStepError) as caught:
        client.open()
    assert caught.value.step == 'connect' and caught.value.code is None


def test_421_at_connect_is_transient_with_the_servers_text(smtp_server, smtp_pki):
    server = smtp_server('plain', fault='connect_421')
    client = client_for(server, smtp_pki, tls='none')
    with pytest.raises(SMTPStepError) as caught:
        client.open()
    client.close(quit=False)
    assert (caught.value.step, caught.value.code, caught.value.transient) == ('banner', 421, True)
    assert 'Service not available' in caught.value.text


def test_550_at_rcpt_is_permanent(smtp_server, smtp_pki):
    server = smtp_server('starttls', fault='rcpt_550')
    client = client_for(server, smtp_pki)
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        client.mail('sender@example.test')
        client.rcpt('nobody@example.test')
    assert (caught.value.step, caught.value.code, caught.value.transient) == ('rcpt', 550, False)
    assert 'nobody@example.test' in caught.value.text


def test_451_once_then_the_next_conversation_succeeds(smtp_server, smtp_pki):
    server = smtp_server('starttls', fault='rcpt_451_once')
    outcomes = []
    for _attempt in range(2):
        client = client_for(server, smtp_pki)
        try:
            with client:
                client.open()
                client.mail('sender@example.test')
                client.rcpt('rcpt@example.test')
                client.data(MESSAGE)
            outcomes.append('sent')
        except SMTPStepError as exc:
            outcomes.append((exc.step, exc.code, exc.transient))
    assert outcomes == [('rcpt', 451, True), 'sent']
    assert len(server.messages) == 1


def test_connection_dropped_during_data_is_transient(smtp_server, smtp_pki):
    server = smtp_server('starttls', fault='data_drop')
    client = client_for(server, smtp_pki)
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        client.mail('sender@example.test')
        client.rcpt('rcpt@example.test')
        client.data(MESSAGE)
    assert (caught.value.step, caught.value.code, caught.value.transient) == ('data', None, True)
    assert server.messages == []


def test_line_breaks_in_addresses_are_refused_before_sending(smtp_server, smtp_pki):
    server = smtp_server('starttls')
    client = client_for(server, smtp_pki)
    with client, pytest.raises(SMTPStepError) as caught:
        client.open()
        client.mail('a@example.test>\r\nRCPT TO:<victim@example.test')
    assert caught.value.step == 'policy'
    assert 'victim' not in client.transcript.text()


def test_cram_md5_is_chosen_in_clear_so_the_password_never_travels(smtp_server, smtp_pki):
    server = smtp_server('plain', credentials={USER: CANARY}, auth_require_tls=False,
                         mechanisms=['PLAIN', 'LOGIN', 'CRAM-MD5'])
    client = client_for(server, smtp_pki, tls='none')  # credentials in clear only when the settings say so
    with client:
        client.open()
        client.auth('basic', USER, CANARY)
        client.mail('sender@example.test')
        client.rcpt('rcpt@example.test')
        client.data(MESSAGE)
    assert server.auth_attempts == [{'mechanism': 'CRAM-MD5', 'login': USER, 'ok': True, 'tls': False}]
    assert len(server.messages) == 1
    secrets_absent(client.transcript.text())


@pytest.mark.parametrize('password,ok', [(CANARY, True), (CANARY + '-wrong', False)])
def test_cram_md5_forced_over_starttls(smtp_server, smtp_pki, password, ok):
    server = smtp_server('starttls', credentials={USER: CANARY}, mechanisms=['PLAIN', 'CRAM-MD5'])
    client = client_for(server, smtp_pki, tls='required')
    with client:
        client.open()
        if ok:
            assert client.auth('basic', USER, password, mechanism='cram_md5').code == 235
        else:
            with pytest.raises(SMTPStepError) as caught:
                client.auth('basic', USER, password, mechanism='cram_md5')
            assert (caught.value.step, caught.value.code) == ('auth', 535)
    assert server.auth_attempts == [{'mechanism': 'CRAM-MD5', 'login': USER, 'ok': ok, 'tls': True}]
    secrets_absent(client.transcript.text())


def test_ipv6_loopback_with_starttls_verifies_the_ip_san(smtp_server, smtp_pki):
    server = smtp_server('starttls', host='::1')
    client = client_for(server, smtp_pki, tls='required')
    with client:
        client.open()
        client.mail('sender@example.test')
        client.rcpt('rcpt@example.test')
        client.data(MESSAGE)
    assert client.tls_info['verified'] and server.messages[0].peer[0] == '::1'


def test_cli_server_writes_each_message_and_its_envelope(smtp_pki, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys

    from tests.support.modrun import ROOT
    from tests.support.smtp_server import free_port

    port = free_port()
    pidfile, maildir = tmp_path / 'smtp.pid', tmp_path / 'mail'
    proc = subprocess.Popen([sys.executable, '-m', 'tests.support.smtp_server', '--port', str(port), '--starttls',
                             '--cert', smtp_pki.good.cert_file, '--key', smtp_pki.good.key_file,
                             '--auth', f'{USER}:{CANARY}', '--maildir', str(maildir), '--pidfile', str(pidfile)],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pidfile.read_text().strip() == str(proc.pid)
        client = SMTPClient('127.0.0.1', port, tls='required', cafile=smtp_pki.ca_file, timeout=3)
        with client:
            client.open()
            client.auth('basic', USER, CANARY)
            client.mail('sender@example.test')
            client.rcpt('rcpt@example.test')
            client.data(MESSAGE)
        assert (maildir / '0001.eml').read_bytes().endswith(b'last line\r\n')
        envelope = json.loads((maildir / '0001.json').read_text())
        assert envelope['rcpt_tos'] == ['rcpt@example.test'] and envelope['tls'] and envelope['auth_login'] == USER
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        stderr = proc.communicate(timeout=10)[1]
    assert proc.returncode == 0, stderr
    assert not pidfile.exists()
    assert CANARY not in stderr
