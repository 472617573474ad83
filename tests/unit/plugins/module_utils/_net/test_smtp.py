# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_net.smtp: the step error's cause and kind, the transcript, the settings reading, one real peer."""
from __future__ import annotations

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import KINDS, MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import (
    REDACTED,
    UNBOUNDED_TIMEOUT,
    SMTPClient,
    SMTPStepError,
    Transcript,
    client_from_settings,
    connection_from_settings,
    plaintext_credentials_refusal,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import WAIT_FOREVER_SECONDS
from tests.support.smtp_server import SMTPTestServer, closed_port


def _settings(**server):
    base = {'host': 'relay.test', 'port': 587, 'protocol': 'smtp', 'tls': 'required', 'timeout_ms': 2500,
            'helo_domain': 'app.test'}
    base.update(server)
    return {'server': base}


@pytest.mark.parametrize('args, cause, kind', [
    (('rcpt', 'no such user'), 'smtp', 'server'),
    (('connect', 'cannot resolve'), 'unreachable', 'network'),
    (('policy', 'refused'), 'policy', 'policy'),
    (('tls', 'handshake failed'), 'tls', 'tls'),
    (('auth', 'rejected'), 'auth', 'server'),
])
def test_step_error_cause_comes_from_the_step_unless_given(args, cause, kind):
    error = SMTPStepError(*args)
    assert (error.cause, error.kind, error.step) == (cause, kind, args[0])
    assert isinstance(error, MailwrightError) and error.kind in KINDS


def test_step_error_text_never_decides_the_cause():
    # A server reply that mentions time is the server's refusal, not our timeout.
    error = SMTPStepError('banner', 'Service not available within this hour', code=421)
    assert (error.cause, error.kind, error.transient) == ('smtp', 'server', True)
    assert str(error) == 'SMTP step banner failed: server replied 421 Service not available within this hour'
    assert SMTPStepError('banner', 'no reply', cause='timeout').kind == 'network'


def test_plaintext_refusal_is_policy_at_step_tls():
    error = plaintext_credentials_refusal('the server does not offer STARTTLS')
    assert (error.step, error.kind, error.cause, error.transient) == ('tls', 'policy', 'policy', False)
    assert error.to_result()['kind'] == 'policy'


def test_transcript_scrubs_secrets_and_their_base64():
    transcript = Transcript(['Canary-5ecret'])
    transcript.add('C', 'AUTH PLAIN Canary-5ecret')
    transcript.add('S', 'echo Q2FuYXJ5LTVlY3JldA==')
    assert all('Canary' not in line and 'Q2FuYXJ5' not in line for line in transcript)
    assert transcript.lines[0] == f'C: AUTH PLAIN {REDACTED}'


def test_connection_from_settings_follows_the_settings_timeout_rule():
    conn = connection_from_settings(_settings(timeout_ms=0))
    assert conn['timeout'] == WAIT_FOREVER_SECONDS == UNBOUNDED_TIMEOUT
    assert client_from_settings(_settings(timeout_ms=0)).timeout == UNBOUNDED_TIMEOUT
    client = client_from_settings(_settings(protocol='smtps', tls='none'), port=2465)
    assert (client.port, client.tls, client.timeout, client.helo) == (2465, 'required', 2.5, 'app.test')
    assert client.auth_mechanism is None  # known before any auth()


def test_refused_connection_is_network_refused():
    client = SMTPClient('127.0.0.1', closed_port(), timeout=1)
    with pytest.raises(SMTPStepError) as caught:
        client.connect()
    assert (caught.value.step, caught.value.cause, caught.value.kind) == ('connect', 'refused', 'network')


def test_conversation_with_a_real_peer_delivers():
    server = SMTPTestServer('plain')
    server.start()
    try:
        with SMTPClient('127.0.0.1', server.port, tls='none', timeout=5) as client:
            client.open()
            client.mail('a@example.test')
            client.rcpt('b@example.test')
            reply = client.data(b'Subject: unit\r\n\r\nbody\r\n')
        assert reply.code == 250
        assert isinstance(client.connect_ms, int)
        assert any(line.startswith('S: 220') for line in client.transcript)
    finally:
        server.stop()


# --- Exchange Online with basic SMTP AUTH off ---------------------------------------------------

def test_basic_auth_off_replies_are_explained():
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import SMTPReply, explain_auth_reply

    for reply in (SMTPReply(535, '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.'),
                  SMTPReply(550, '5.7.30 Basic authentication is not supported for Client Submission.')):
        text = explain_auth_reply('basic', reply)
        assert 'basic SMTP AUTH disabled' in text and 'auth.method: oauth2' in text and 'December 2026' in text
        assert explain_auth_reply('oauth2', reply) == ''
    assert explain_auth_reply('basic', SMTPReply(535, '5.7.8 Username and Password not accepted')) == ''
    assert explain_auth_reply('basic', SMTPReply(535, '5.7.1390 something else')) == ''
