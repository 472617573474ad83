"""A real SMTP peer for tests and the demo: aiosmtpd on a free loopback port, in-process or as a CLI.

In-process (see tests/support/fixtures_smtp.py for the pytest fixtures):

    server = SMTPTestServer(mode='starttls', cert=pki.good, credentials={'alice': 'pw'},
                            tokens={'alice': 'tok'}).start()
    ... server.host, server.port ...
    server.messages      # [Delivered(mail_from, rcpt_tos, content, tls, auth_login), ...]
    server.auth_attempts # [{'mechanism', 'login', 'ok', 'tls'}, ...]
    server.token_refusals # why each refused XOAUTH2/OAUTHBEARER token was refused
    server.received      # every byte the server read from clients (after TLS: decrypted), in order
    server.commands()    # the command lines among them (message data excluded), e.g. ['EHLO x', 'QUIT']
    server.stop()

Modes: 'plain' (no STARTTLS offered), 'starttls' (offered), 'smtps' (TLS from the first byte).
AUTH: PLAIN and LOGIN checked against `credentials`, XOAUTH2 and OAUTHBEARER (RFC 7628; offered only when
`mechanisms` lists it) against `tokens`, or with `token_verifier(user, token) -> ('ok', None) | (status,
reason)` (tests.support.oauth_server: the JWT's signature, expiry and scope), failing as Google does:
a 334 base64 JSON challenge naming `token_scope`, the client's answer, then 535 (OAUTHBEARER: 535 too);
CRAM-MD5 (against `credentials`) only when `mechanisms` lists it;
`auth_require_tls` (default: true when the mode has TLS) makes the server refuse AUTH in clear.
Faults: 'connect_421' (421 instead of a banner, then close), 'rcpt_451_once' / 'mail_451_once' /
'data_451_once' (one 451 at that step for the server's lifetime, then normal), 'rcpt_550',
'data_drop' (the connection is cut after the message arrived, before any reply), 'stall' (accepts,
never speaks), 'auth_535_57139' / 'auth_550_5730' (PLAIN and LOGIN refused as Exchange Online does once
basic SMTP AUTH is off). `closed_port()` gives a port nobody listens on.

CLI (demo, molecule):

    python -m tests.support.smtp_server --port 2525 --starttls --cert C --key K \
        --auth user:pass --maildir DIR --pidfile FILE

writes every received message to DIR as NNNN.eml (raw) plus NNNN.json (envelope: mail_from,
rcpt_tos, tls, auth, auth_login, ...), and runs until SIGTERM/SIGINT. The whole set of peers the
demo and molecule use (relay, DNS, HTTP stand-ins) is started by tests/support/peers.py.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import collections
import json
import os
import pathlib
import signal
import socket
import ssl
import sys
import threading
import time
import logging
import typing as t
from dataclasses import dataclass, field

from tests.support.ports import closed_port, free_port

__all__ = ['SMTPTestServer', 'Delivered', 'closed_port', 'free_port', 'FAULTS', 'MODES', 'TLS_PATHS', 'BASIC_OFF_REPLIES']

MODES = ('plain', 'starttls', 'smtps')
# Every way onto the wire: (server mode, client protocol, client tls policy, encrypted on the wire)
TLS_PATHS = [
    ('plain', 'smtp', 'none', False),
    ('plain', 'smtp', 'opportunistic', False),
    ('starttls', 'smtp', 'opportunistic', True),
    ('starttls', 'smtp', 'required', True),
    ('smtps', 'smtps', 'required', True),
]
FAULTS = (None, 'connect_421', 'mail_451_once', 'rcpt_451_once', 'data_451_once', 'rcpt_550', 'data_drop', 'stall',
          'auth_535_57139', 'auth_550_5730')
# What Exchange Online answers to PLAIN/LOGIN once basic SMTP AUTH is off (the auth_* faults).
BASIC_OFF_REPLIES = {
    'auth_535_57139': '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. '
                      'Visit https://aka.ms/smtp_auth_disabled for more information.',
    'auth_550_5730': '550 5.7.30 Basic authentication is not supported for Client Submission.',
}


@dataclass
class Delivered:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    auth_login: str | None
    peer: t.Any = None
    received: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return self.content.decode('utf-8', 'replace')

    def message(self):
        """The content parsed by the stdlib email package."""
        import email
        import email.policy

        return email.message_from_bytes(self.content, policy=email.policy.default)

    def to_dict(self) -> dict[str, t.Any]:
        return {'mail_from': self.mail_from, 'rcpt_tos': self.rcpt_tos, 'tls': self.tls,
                'auth': self.auth_login is not None, 'auth_login': self.auth_login, 'peer': list(self.peer) if self.peer else None,
                'received': self.received, 'size': len(self.content)}


def _quiet_login_data(record: logging.LogRecord) -> bool:
    return 'login_data is deprecated' not in record.getMessage()


def _encrypted(server) -> bool:
    transport = getattr(server, 'transport', None)
    return bool(transport is not None and transport.get_extra_info('ssl_object') is not None)


class _Handler:
    """aiosmtpd hooks: capture, faults and XOAUTH2."""

    def __init__(self, owner: SMTPTestServer):
        self.owner = owner

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.owner._fire_once('mail_451_once'):
            return '451 4.3.0 Temporary failure at MAIL, try again later'
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 OK'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.owner.fault == 'rcpt_550':
            return f'550 5.1.1 <{address}>: Recipient address rejected: User unknown'
        if self.owner._fire_once('rcpt_451_once'):
            return '451 4.7.1 Greylisted, try again later'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        if self.owner.fault == 'data_drop':
            server.transport.abort()
            return '451 never seen: the connection is gone'
        if self.owner._fire_once('data_451_once'):
            return '451 4.3.0 Temporary failure at end of DATA'
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode('utf-8', 'surrogateescape')
        login = getattr(session.auth_data, 'login', None)
        if isinstance(login, bytes):
            login = login.decode('utf-8', 'replace')
        self.owner._deliver(Delivered(envelope.mail_from, list(envelope.rcpt_tos), content,
                                      _encrypted(server), login, session.peer))
        return f'250 2.0.0 Ok: queued as MW{len(self.owner.messages):04d}'

    async def auth_CRAM__MD5(self, server, args):
        """RFC 2195, offered only when asked for (mechanisms=[..., 'CRAM-MD5']): clients prefer it in clear."""
        import hashlib
        import hmac

        from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

        challenge = f'<{os.getpid()}.{time.time_ns()}@{self.owner.server_name}>'
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        user, _sep, digest = answer.decode('utf-8', 'replace').rpartition(' ')
        secret = self.owner.credentials.get(user)
        expected = hmac.new(secret.encode('utf-8'), challenge.encode('ascii'), hashlib.md5).hexdigest() if secret else None
        ok = expected is not None and hmac.compare_digest(expected, digest)
        self.owner.auth_attempts.append({'mechanism': 'CRAM-MD5', 'login': user, 'ok': ok, 'tls': _encrypted(server)})
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(user.encode(), b'') if ok else None)

    async def _initial(self, server, args):
        from aiosmtpd.smtp import MISSING

        if len(args) == 2:
            try:
                return base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return None
        blob = await server.challenge_auth('')
        return None if blob is MISSING else blob

    async def _bearer(self, server, mechanism: str, user: str, bearer: str):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        token = bearer[len('Bearer '):] if bearer.startswith('Bearer ') else None
        status, reason = 'ok', None
        if token is None:
            status, reason = '400', 'no bearer token'
        elif self.owner.token_verifier is not None:
            status, reason = self.owner.token_verifier(user, token)
        elif self.owner.tokens.get(user) != token:
            status, reason = '401', 'unknown token'
        ok = status == 'ok'
        self.owner.auth_attempts.append({'mechanism': mechanism, 'login': user, 'ok': ok, 'tls': _encrypted(server)})
        if not ok:
            self.owner.token_refusals.append(reason or '')  # why, for tests to assert on
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b''))
        # What Google does: a 334 with a JSON error, the client answers (XOAUTH2: an empty line,
        # OAUTHBEARER: %x01), then 535.
        detail = json.dumps({'status': status, 'schemes': 'Bearer', 'scope': self.owner.token_scope})
        await server.challenge_auth(detail)
        return AuthResult(success=False, handled=False, message='535 5.7.8 Username and Password not accepted')

    async def auth_XOAUTH2(self, server, args):
        """RFC-less but widely used (Google, Microsoft): base64 'user=U^Aauth=Bearer T^A^A'."""
        from aiosmtpd.smtp import AuthResult

        blob = await self._initial(server, args)
        if blob is None:
            return AuthResult(success=False, handled=True)
        fields = dict(part.split('=', 1) for part in blob.decode('utf-8', 'replace').split('\x01') if '=' in part)
        return await self._bearer(server, 'XOAUTH2', fields.get('user', ''), fields.get('auth', ''))

    async def auth_OAUTHBEARER(self, server, args):
        """RFC 7628: base64 'n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A' (GS2 header, then key=value pairs)."""
        from aiosmtpd.smtp import AuthResult

        blob = await self._initial(server, args)
        if blob is None:
            return AuthResult(success=False, handled=True)
        gs2, _sep, rest = blob.decode('utf-8', 'replace').partition('\x01')
        parts = gs2.split(',')
        user = next((p[2:] for p in parts if p.startswith('a=')), '').replace('=2C', ',').replace('=3D', '=')
        fields = dict(part.split('=', 1) for part in rest.split('\x01') if '=' in part)
        return await self._bearer(server, 'OAUTHBEARER', user, fields.get('auth', ''))


class _RawPeer:
    """Faults aiosmtpd cannot play: 421 instead of a banner, or a listener that never speaks."""

    def __init__(self, host: str, port: int, fault: str):
        self.fault = fault
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name=f'smtp-{fault}')
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            if self.fault == 'connect_421':
                try:
                    conn.sendall(b'421 4.3.2 mail.test Service not available, closing transmission channel\r\n')
                except OSError:
                    pass
                conn.close()
            else:  # stall: keep it open, say nothing
                self.held.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


class SMTPTestServer:
    """One aiosmtpd server (or a raw fault peer) on host:port; see the module docstring."""

    def __init__(self, mode: str = 'starttls', *, cert=None, host: str = '127.0.0.1', port: int | None = None,
                 credentials: dict[str, str] | None = None, tokens: dict[str, str] | None = None,
                 auth_require_tls: bool | None = None, mechanisms: t.Iterable[str] | None = None,
                 fault: str | None = None, maildir: str | None = None, server_name: str = 'mail.test',
                 ident: str | None = None, token_verifier: t.Callable[[str, str], tuple[str, str | None]] | None = None,
                 token_scope: str = 'https://mail.google.com/'):
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}')
        if fault not in FAULTS:
            raise ValueError(f'fault must be one of {FAULTS}')
        if mode != 'plain' and cert is None and fault not in ('connect_421', 'stall'):
            raise ValueError(f'mode {mode} needs a certificate (cert=CertFiles or (cert_file, key_file))')
        self.mode = mode
        self.cert = cert
        self.host = host
        self.port = port or free_port(host)
        self.credentials = dict(credentials or {})
        self.tokens = dict(tokens or {})
        self.token_verifier = token_verifier
        self.token_scope = token_scope
        self.token_refusals: list[str] = []
        self.auth_require_tls = (mode != 'plain') if auth_require_tls is None else auth_require_tls
        self.mechanisms = [m.upper() for m in mechanisms] if mechanisms else None
        self.fault = fault
        self.maildir = maildir
        self.server_name = server_name
        self.ident = ident
        self.messages: list[Delivered] = []
        self.auth_attempts: list[dict[str, t.Any]] = []
        # What clients sent, as the server read it: lets a test prove a command never arrived.
        self.received = bytearray()
        self._fired: set[str] = set()
        self._lock = threading.Lock()
        self._controller = None
        self._raw: _RawPeer | None = None

    # --- state used by the handler ---

    def _fire_once(self, name: str) -> bool:
        with self._lock:
            if self.fault == name and name not in self._fired:
                self._fired.add(name)
                return True
            return False

    def _deliver(self, delivered: Delivered) -> None:
        with self._lock:
            self.messages.append(delivered)
            number = len(self.messages)
        if self.maildir:
            directory = pathlib.Path(self.maildir)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f'{number:04d}.eml').write_bytes(delivered.content)
            (directory / f'{number:04d}.json').write_text(json.dumps(delivered.to_dict(), indent=2) + '\n')

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode('utf-8', 'replace')
        if self.fault in BASIC_OFF_REPLIES:
            self.auth_attempts.append({'mechanism': mechanism, 'login': login, 'ok': False, 'tls': _encrypted(server)})
            return AuthResult(success=False, handled=False, message=BASIC_OFF_REPLIES[self.fault])
        ok = login in self.credentials and auth_data.password == self.credentials[login].encode('utf-8')
        self.auth_attempts.append({'mechanism': mechanism, 'login': login, 'ok': ok, 'tls': _encrypted(server)})
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # --- lifecycle ---

    def _tls_context(self) -> ssl.SSLContext:
        cert_file, key_file = (self.cert.cert_file, self.cert.key_file) if hasattr(self.cert, 'cert_file') else self.cert
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        return context

    def start(self) -> SMTPTestServer:
        if self.fault in ('connect_421', 'stall'):
            self._raw = _RawPeer(self.host, self.port, self.fault)
            return self
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        owner = self

        class RecordingSMTP(SMTP):
            # RFC 4954 lets an AUTH line be 12288 octets: a JWT in XOAUTH2 is longer than aiosmtpd's 512.
            line_length_limit = 12288 + 2

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit, AUTH=12288)

            def data_received(self, data):
                with owner._lock:
                    owner.received += data
                super().data_received(data)

        class RecordingController(Controller):
            def factory(self):
                return RecordingSMTP(self.handler, **self.SMTP_kwargs)

        # aiosmtpd itself still sets the attribute it deprecates and logs about it on every AUTH.
        logging.getLogger('mail.log').addFilter(_quiet_login_data)
        offered = self.mechanisms if self.mechanisms is not None else ['PLAIN', 'LOGIN', 'XOAUTH2']
        exclude = [m for m in ('PLAIN', 'LOGIN', 'XOAUTH2', 'OAUTHBEARER', 'CRAM-MD5') if m not in offered]
        kwargs: dict[str, t.Any] = {
            'authenticator': self._authenticator,
            # aiosmtpd cannot tell that an SMTPS connection is encrypted: it is, from the first byte.
            'auth_require_tls': self.auth_require_tls and self.mode != 'smtps',
            'auth_exclude_mechanism': exclude,
            'server_hostname': self.server_name,
            'ready_timeout': 10.0,
        }
        if self.ident:
            kwargs['ident'] = self.ident
        if self.mode == 'starttls':
            kwargs['tls_context'] = self._tls_context()
        elif self.mode == 'smtps':
            kwargs['ssl_context'] = self._tls_context()
        self._controller = RecordingController(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._raw is not None:
            self._raw.stop()
            self._raw = None

    def __enter__(self) -> SMTPTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def connections(self) -> int:
        """Connections seen by a raw fault peer (0 for aiosmtpd modes)."""
        return self._raw.connections if self._raw else 0

    def commands(self) -> list[str]:
        """The command lines received, in order; the lines between DATA's 354 and '.' are left out."""
        with self._lock:
            raw = bytes(self.received)
        lines, in_data = [], False
        for line in raw.decode('utf-8', 'replace').split('\r\n'):
            if in_data:
                in_data = line != '.'
                continue
            if line:
                lines.append(line)
            in_data = line.upper() == 'DATA'
        return lines

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[Delivered]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.support.smtp_server',
                                     description='A local SMTP server that stores what it receives.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--starttls', action='store_true', help='offer STARTTLS')
    group.add_argument('--smtps', action='store_true', help='TLS from the first byte')
    parser.add_argument('--cert', help='server certificate chain (PEM)')
    parser.add_argument('--key', help='server private key (PEM)')
    parser.add_argument('--auth', action='append', default=[], metavar='USER:PASS',
                        help='accept AUTH PLAIN/LOGIN with these credentials (repeatable)')
    parser.add_argument('--token', action='append', default=[], metavar='USER:TOKEN',
                        help='accept AUTH XOAUTH2 with this bearer token (repeatable)')
    parser.add_argument('--fault', choices=[f for f in FAULTS if f])
    parser.add_argument('--maildir', help='write each message here as NNNN.eml + NNNN.json')
    parser.add_argument('--pidfile')
    args = parser.parse_args(argv)
    mode = 'starttls' if args.starttls else 'smtps' if args.smtps else 'plain'
    if mode != 'plain' and not (args.cert and args.key):
        parser.error(f'--{mode} needs --cert and --key')
    server = SMTPTestServer(
        mode, cert=(args.cert, args.key) if args.cert else None, host=args.host, port=args.port,
        credentials=dict(a.split(':', 1) for a in args.auth), tokens=dict(a.split(':', 1) for a in args.token),
        fault=args.fault, maildir=args.maildir,
    ).start()
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stopped.set())
    if args.pidfile:
        pathlib.Path(args.pidfile).write_text(f'{os.getpid()}\n')
    print(f'listening on {args.host}:{server.port} ({mode})', file=sys.stderr, flush=True)
    try:
        stopped.wait()
    finally:
        server.stop()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
