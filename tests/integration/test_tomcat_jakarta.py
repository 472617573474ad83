# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Proof on a real Tomcat 10 with Jakarta Mail: a Resource written by tomcat_mail_resource is
looked up by JNDI in a web application and delivers through a local SMTP server.

One private Tomcat instance (its own CATALINA_BASE on a loopback port) serves a context file
whose Resources were all written by the module: STARTTLS required + AUTH, SMTPS + AUTH, and
STARTTLS required against a relay that does not offer it (which must refuse to send), and
STARTTLS + AUTH against a relay whose certificate names another host (refused by the rendered
mail.smtp.ssl.checkserveridentity; a hand-made copy of the Resource without it, as the render was
before, sends the password there - the control that keeps the test honest).
"""

from __future__ import annotations

import email
import email.policy
import json
import pathlib
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from tests.support import tomcat as tc
from tests.support.modrun import run_module

pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
USER = 'tomcat-app'
FROM = 'app@example.com'
FROM_NAME = 'Example App'
PREFIX = '[EXAMPLE]'
HELO = 'app01.example.test'

_skip_reason = tc.missing_tomcat()
if _skip_reason:
    pytestmark = [pytestmark, pytest.mark.skip(reason=_skip_reason)]


# --- local SMTP peers -------------------------------------------------------------------------
# Provisional: aiosmtpd servers with a private CA, until the shared SMTP fixtures
# (tests/support/fixtures_smtp.py) can take their place.

@dataclass
class _PKI:
    ca_pem: bytes
    cert_file: pathlib.Path
    key_file: pathlib.Path
    wrong_name: tuple[str, str]


def make_pki(directory: pathlib.Path) -> _PKI:
    from tests.support.certs import CertificateAuthority

    ca = CertificateAuthority(directory)
    leaf = ca.issue('leaf', dns=('localhost',), ips=('127.0.0.1',), days=2)
    wrong = ca.issue('wrong-name', dns=('wrong-name.example.test',), ips=(), days=2)
    return _PKI(ca.pem, pathlib.Path(leaf.cert_file), pathlib.Path(leaf.key_file), (wrong.cert_file, wrong.key_file))


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list
    content: bytes
    helo: str | None
    auth_login: str | None
    tls: str

    @property
    def subject(self) -> str:
        return str(email.message_from_bytes(self.content, policy=email.policy.default)['Subject'])


class SMTPPeers:
    """Three loopback relays: STARTTLS required + AUTH, SMTPS + AUTH, and plain without STARTTLS."""

    def __init__(self, pki: _PKI, *, users: dict[str, str]):
        self.pki = pki
        self.users = users
        self.messages: list[Delivered] = []
        self._lock = threading.Lock()
        self._controllers = []

    def _handler(self, kind: str):
        peers = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                login = session.auth_data.login.decode() if session.auth_data is not None else None
                tls = kind if (kind == 'smtps' or session.ssl is not None) else 'none'
                with peers._lock:
                    peers.messages.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                                    session.host_name, login, tls))
                return '250 OK'

        return Handler()

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode()
        ok = self.users.get(login) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def __enter__(self) -> 'SMTPPeers':
        from aiosmtpd.controller import Controller

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        common = dict(hostname='127.0.0.1', authenticator=self._authenticator)
        self.starttls_port, self.smtps_port, self.plain_port = tc.free_port(), tc.free_port(), tc.free_port()
        self._controllers = [
            Controller(self._handler('starttls'), port=self.starttls_port, tls_context=context,
                       require_starttls=True, auth_require_tls=True, **common),
            Controller(self._handler('smtps'), port=self.smtps_port, ssl_context=context,
                       auth_require_tls=False, **common),
            Controller(self._handler('none'), port=self.plain_port, auth_require_tls=False, **common),
        ]
        for controller in self._controllers:
            controller.start()
        return self

    def __exit__(self, *exc) -> None:
        for controller in self._controllers:
            controller.stop()

    def find(self, subject: str) -> Delivered | None:
        with self._lock:
            return next((m for m in self.messages if m.subject == subject), None)


def settings(port: int, *, name: str, protocol: str = 'smtp', tls: str = 'required', timeout_ms: int = 15000) -> dict:
    return {
        'product': 'generic',
        # the DNS name in the certificate: with the host-name check on, Jakarta Mail 2.0 refuses 127.0.0.1
        'server': {'host': 'localhost', 'port': port, 'protocol': protocol, 'tls': tls, 'timeout_ms': timeout_ms,
                   'helo_domain': HELO, 'jndi': {'name': name, 'session_type': 'jakarta.mail.Session'}},
        'auth': {'method': 'basic', 'username': USER, 'password': CANARY},
        'sender': {'from_address': FROM, 'from_name': FROM_NAME, 'subject_prefix': PREFIX},
    }


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    work = tmp_path_factory.mktemp('tomcat')
    pki = make_pki(work / 'pki')
    # A relay that accepts the connection and never says a word: only the timeouts end the wait.
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(('127.0.0.1', 0))
    silent.listen(8)
    from tests.support.smtp_server import SMTPTestServer

    wrong_name = SMTPTestServer('starttls', cert=pki.wrong_name, credentials={USER: CANARY}, auth_require_tls=True)
    with silent, wrong_name, SMTPPeers(pki, users={USER: CANARY}) as peers:
        truststore = tc.make_truststore(work / 'truststore.p12', pki.ca_pem)
        instance = tc.TomcatInstance(work / 'base', catalina_opts=[
            f'-Djavax.net.ssl.trustStore={truststore}', '-Djavax.net.ssl.trustStorePassword=changeit',
            '-Djavax.net.ssl.trustStoreType=PKCS12'])
        app = tc.build_send_webapp(work / 'mailtest')
        context_file = instance.context_dir / 'mailtest.xml'
        original = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
                    f'<!-- the test application; mail sessions below are written by tomcat_mail_resource -->\n'
                    f'<Context docBase="{app}">\n'
                    f'    <!-- keep this comment -->\n'
                    f'</Context>\n')
        context_file.write_text(original)
        runs = {}
        for name, port, protocol, timeout in [('mail/Starttls', peers.starttls_port, 'smtp', 15000),
                                              ('mail/Smtps', peers.smtps_port, 'smtps', 15000),
                                              ('mail/NoTls', peers.plain_port, 'smtp', 15000),
                                              ('mail/Silent', silent.getsockname()[1], 'smtp', 1500),
                                              ('mail/WrongName', wrong_name.port, 'smtp', 15000)]:
            rc, result = run_module('tomcat_mail_resource', {'path': str(context_file),
                                                             'settings': settings(port, name=name, protocol=protocol,
                                                                                  timeout_ms=timeout)}, diff=True)
            assert rc == 0 and result['changed'], result
            runs[name] = result
        # The control: the same Resource without the host-name check, as the render wrote it before.
        text = context_file.read_text()
        start = text.index('<Resource name="mail/WrongName"')
        element = text[start:text.index('/>', start) + 2]
        unchecked = element.replace('name="mail/WrongName"', 'name="mail/WrongNameUnchecked"')
        unchecked = re.sub(r'\s*mail\.smtp\.ssl\.checkserveridentity="true"', '', unchecked)
        assert unchecked != element and 'checkserveridentity' not in unchecked
        context_file.write_text(text.replace(element, element + '\n    ' + unchecked))
        with instance:
            instance.start(ready_path='/mailtest/')
            yield {'instance': instance, 'peers': peers, 'context_file': context_file, 'original': original,
                   'runs': runs, 'wrong_name': wrong_name}


def _send(instance: tc.TomcatInstance, name: str, subject: str) -> tuple[int, str]:
    return instance.get('/mailtest/send', jndi=name, to='ops@example.com', subject=subject)


def test_module_output_is_what_tomcat_loads(deployment):
    text = deployment['context_file'].read_text()
    assert text.startswith(deployment['original'].split('</Context>')[0])
    assert text.count('<Resource ') == 6   # five rendered, one hand-made control
    for result in deployment['runs'].values():
        assert CANARY not in json.dumps(result)
        assert 'password="********"' in result['diff']['after']
    # second run: nothing to do
    rc, again = run_module('tomcat_mail_resource', {
        'path': str(deployment['context_file']),
        'settings': settings(deployment['peers'].starttls_port, name='mail/Starttls')})
    assert rc == 0 and not again['changed'] and again['action'] == 'unchanged'
    print(f"Tomcat answered {deployment['instance'].startup_seconds:.1f} s after catalina.sh run")


@pytest.mark.parametrize('name, tls_kind', [('mail/Starttls', 'starttls'), ('mail/Smtps', 'smtps')])
def test_jndi_session_sends_with_tls_auth_from_and_prefix(deployment, name, tls_kind):
    peers = deployment['peers']
    effective = load_effective(settings(1, name=name))
    subject = f"{effective['sender']['subject_prefix']} JNDI {tls_kind} ✓"
    status, body = _send(deployment['instance'], name, subject)
    assert status == 200 and body.strip() == 'SENT', body
    delivered = peers.find(subject)
    assert delivered is not None, f'no message with subject {subject!r}; got {[m.subject for m in peers.messages]}'
    message = email.message_from_bytes(delivered.content, policy=email.policy.default)
    assert str(message['Subject']) == subject and str(message['Subject']).startswith(PREFIX + ' ')
    assert message['From'].addresses[0].display_name == FROM_NAME
    assert message['From'].addresses[0].addr_spec == FROM
    assert delivered.mail_from == FROM                      # mail.smtp.from: the envelope sender
    assert delivered.rcpt_tos == ['ops@example.com']
    assert delivered.helo == HELO                           # mail.smtp.localhost
    assert delivered.auth_login == USER                     # password came from the Resource
    assert delivered.tls == tls_kind


def test_required_starttls_refuses_a_relay_without_it(deployment):
    peers = deployment['peers']
    before = len(peers.messages)
    status, body = _send(deployment['instance'], 'mail/NoTls', f'{PREFIX} must not arrive')
    assert status == 500
    assert 'STARTTLS' in body
    assert len(peers.messages) == before
    assert CANARY not in body


def test_timeout_ms_bounds_a_silent_relay(deployment):
    started = time.monotonic()
    status, body = _send(deployment['instance'], 'mail/Silent', f'{PREFIX} never')
    elapsed = time.monotonic() - started
    assert status == 500 and 'timed out' in body.lower(), body[:400]
    assert 1.0 <= elapsed < 6.0, elapsed   # timeout_ms 1500 -> mail.smtp.timeout, not JavaMail's infinite wait
    print(f'silent relay: JNDI send gave up after {elapsed:.1f} s (timeout_ms 1500)')


_PROTOCOL_PROBE = '''
import jakarta.mail.*;
import jakarta.mail.internet.*;
import java.util.Properties;

public class ProtocolProbe {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("mail.transport.protocol", "smtps");
        p.put("mail.smtps.host", "127.0.0.1");
        p.put("mail.smtps.port", args[0]);
        p.put("mail.smtp.host", "127.0.0.1");
        p.put("mail.smtp.port", args[1]);
        p.put("mail.smtp.connectiontimeout", "5000");
        Session session = Session.getInstance(p);
        System.out.println(session.getTransport().getClass().getSimpleName());
        System.out.println(session.getTransport(new InternetAddress("b@example.com")).getClass().getSimpleName());
    }
}
'''


def test_why_smtps_is_rendered_as_smtp_with_ssl_enable(tmp_path):
    """Transport.send picks the transport by address type (rfc822 -> smtp) and so ignores
    mail.transport.protocol=smtps and the mail.smtps.* keys: the reason the Resource says
    protocol smtp + mail.smtp.ssl.enable for SMTPS."""
    import subprocess

    source = tmp_path / 'ProtocolProbe.java'
    source.write_text(_PROTOCOL_PROBE)
    classpath = ':'.join(str(j) for j in tc.MAIL_JARS)
    subprocess.run(['javac', '-cp', classpath, '-d', str(tmp_path), str(source)], check=True, timeout=120)
    out = subprocess.run(['java', '-cp', f'{classpath}:{tmp_path}', 'ProtocolProbe', '1', '2'], check=True,
                         capture_output=True, text=True, timeout=120).stdout.split()
    assert out == ['SMTPSSLTransport', 'SMTPTransport']


def test_a_certificate_for_another_host_name_is_refused(deployment):
    """The rendered Resource checks the relay's name (mail.smtp.ssl.checkserveridentity=true):
    Jakarta Mail 2.0 refuses the wrong-name certificate before AUTH, so the password stays home."""
    relay = deployment['wrong_name']
    rendered = deployment['runs']['mail/WrongName']['resource']
    assert rendered['mail.smtp.ssl.checkserveridentity'] == 'true'
    status, body = _send(deployment['instance'], 'mail/WrongName', f'{PREFIX} must not arrive')
    assert status == 500 and "Can't verify identity of server: localhost" in body, body[:600]
    assert relay.messages == [] and relay.auth_attempts == []
    assert CANARY not in body

    # the control: without the check (the old render) Tomcat sends the password through that certificate
    status, body = _send(deployment['instance'], 'mail/WrongNameUnchecked', f'{PREFIX} through the wrong name')
    assert status == 200 and body.strip() == 'SENT', body[:600]
    assert len(relay.wait_for_messages(1)) == 1 and relay.auth_attempts[0]['login'] == USER
