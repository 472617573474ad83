# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The one SMTP client of the collection: plain, STARTTLS and SMTPS, AUTH, a redacted transcript.

Built on the standard library's ``socket`` and ``ssl`` rather than ``smtplib`` so that every
step has its own bounded timeout, every line is transcribed (with AUTH payloads and registered
secrets scrubbed before they are stored), and every failure names the step it happened in.

Import-light on purpose: nothing here imports ``cryptography``; a test send process pays only
for socket, ssl and base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
import ssl
import time
import typing as t
from dataclasses import dataclass

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import make_context, peer_chain_der
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import WAIT_FOREVER_SECONDS, timeout_seconds

__all__ = [
    'CAUSES',
    'SMTPStepError',
    'SMTPReply',
    'Transcript',
    'SMTPClient',
    'client_from_settings',
    'explain_auth_reply',
    'connection_from_settings',
    'fetch_peer_chain',
    'plaintext_credentials_refusal',
    'REDACTED',
    'UNBOUNDED_TIMEOUT',
]


# The products treat timeout_ms <= 0 as "wait forever"; a check that can hang is no check, so we
# wait this long instead (and say so in the module docs).
UNBOUNDED_TIMEOUT = WAIT_FOREVER_SECONDS

# Bounds against a peer that talks forever: RFC 5321 allows 512 octets per reply line; we are
# lenient but finite.
_MAX_LINE = 8192
_MAX_REPLY_LINES = 200

_TLS_POLICIES = ('none', 'opportunistic', 'required')
_PROTOCOLS = ('smtp', 'smtps')


# Why a step failed, in the words the probe's findings use; set where the failure is raised.
CAUSES = ('timeout', 'refused', 'unreachable', 'policy', 'certificate', 'tls', 'auth', 'smtp', 'dns')
# The cause a step stands for when the raiser had nothing more precise to say.
_STEP_CAUSE = {'connect': 'unreachable', 'policy': 'policy', 'tls': 'tls', 'certificate': 'certificate',
               'auth': 'auth', 'dns': 'dns'}
# The error family's kind (_core.errors.KINDS) of each cause.
_CAUSE_KIND = {'timeout': 'network', 'refused': 'network', 'unreachable': 'network', 'dns': 'network',
               'policy': 'policy', 'certificate': 'tls', 'tls': 'tls', 'auth': 'server', 'smtp': 'server'}


class SMTPStepError(MailwrightError):
    """A failed step of an SMTP conversation: which step, the server's code and text, retry hint.

    `cause` is the fine reason (CAUSES) the probe reports per finding; `kind` the family's coarse
    one for the module result. Both are decided where the error is raised, never read back from
    the text: a server reply that says "within" is not our timeout.
    """

    step: str  # always known here: the SMTP step that failed

    def __init__(self, step: str, text: str, *, code: int | None = None, transient: bool | None = None,
                 kind: str | None = None, cause: str | None = None):
        self.code = code
        self.text = text
        # A refusal at step tls is a policy decision (kind policy), not a failed handshake.
        self.cause = cause or ('policy' if kind == 'policy' else _STEP_CAUSE.get(step, 'smtp'))
        # 4xx replies, timeouts and dropped connections may succeed on a later attempt; 5xx never.
        self.transient = bool(transient) if transient is not None else (code is not None and 400 <= code < 500)
        super().__init__(self._describe(step), kind=kind or _CAUSE_KIND[self.cause], step=step)

    def _describe(self, step: str) -> str:
        where = f'SMTP step {step} failed'
        if self.code is not None:
            return f'{where}: server replied {self.code} {self.text}'.rstrip()
        return f'{where}: {self.text}'

    def to_dict(self) -> dict[str, t.Any]:
        return {'step': self.step, 'code': self.code, 'text': self.text, 'transient': self.transient,
                'kind': self.kind, 'cause': self.cause}


def plaintext_credentials_refusal(reason: str) -> SMTPStepError:
    """The failure for credentials that would travel in clear under tls: opportunistic.

    "Use TLS if available" is what a STARTTLS-stripping man in the middle exploits: he removes
    STARTTLS from the EHLO reply (or answers it with an error) and reads the password. mailwright
    never sends credentials that way; the application, configured like this, would.
    """
    return SMTPStepError(
        'tls',
        f'{reason}, and tls is opportunistic with authentication configured: mailwright does not send '
        'credentials over an unencrypted connection, so nothing more was sent (no AUTH, no MAIL FROM, '
        'no message). The application itself, set to "use TLS if available", would send the password in '
        'clear here, to the relay or to anyone on the path who strips STARTTLS. Fix: set server.tls: '
        'required (the relay must offer STARTTLS), or protocol smtps; set tls: none only if the relay is '
        'trusted and on loopback',
        transient=False, kind='policy')


@dataclass
class SMTPReply:
    code: int
    text: str

    def to_dict(self) -> dict[str, t.Any]:
        return {'code': self.code, 'text': self.text}


class Transcript:
    """An SMTP conversation log ('S: 220 ...', 'C: EHLO ...', '* TLS established ...').

    Secrets are scrubbed when a line is stored, never later: the list never holds them, so nothing
    that reads it (results, exceptions, logs) can leak them.
    """

    def __init__(self, secrets: t.Iterable[str] = ()):
        self.lines: list[str] = []
        self._secrets: list[str] = []
        for secret in secrets:
            self.register_secret(secret)

    def register_secret(self, value: str | None) -> None:
        """Scrub this value, and its base64 forms, from every line recorded from now on."""
        if not value:
            return
        forms = {value}
        raw = value.encode('utf-8')
        for encoded in (base64.b64encode(raw), base64.b64encode(raw).rstrip(b'=')):
            forms.add(encoded.decode('ascii'))
        for form in forms:
            # Very short secrets would scrub ordinary words; they are still kept out of AUTH lines
            # because those are never recorded in clear.
            if len(form) >= 4 and form not in self._secrets:
                self._secrets.append(form)
        # Longest first so a secret that contains another is replaced whole.
        self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def add(self, direction: str, text: str) -> None:
        self.lines.append(f'{direction}: {self.scrub(text)}' if direction in ('C', 'S') else f'* {self.scrub(text)}')

    def note(self, text: str) -> None:
        self.add('*', text)

    def text(self) -> str:
        return '\n'.join(self.lines)

    def __iter__(self):
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def _ms_since(started: float) -> int:
    """Whole milliseconds since a time.monotonic() reading: the one duration unit of every result."""
    return int(round((time.monotonic() - started) * 1000))


def _default_helo() -> str:
    # getfqdn() may block on DNS for seconds; the host name is what a product announces too.
    name = socket.gethostname()
    return name if '.' in name else 'localhost.localdomain'


def _safe_argument(value: str, what: str) -> str:
    """Refuse CR/LF and angle brackets: they would inject commands into the conversation."""
    if any(ch in value for ch in '\r\n\0<>'):
        raise SMTPStepError('policy', f'{what} contains a line break, NUL or angle bracket: refused')
    return value


class SMTPClient:
    """One SMTP conversation. Use as a context manager, or call close()."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        protocol: str = 'smtp',
        tls: str = 'opportunistic',
        helo: str | None = None,
        timeout: float = 10.0,
        verify: bool = True,
        cafile: str | None = None,
        cadata: str | None = None,
        check_hostname: bool = True,
        server_hostname: str | None = None,
        transcript: Transcript | None = None,
    ):
        if protocol not in _PROTOCOLS:
            raise ValueError(f'protocol must be one of {_PROTOCOLS}, got {protocol!r}')
        if tls not in _TLS_POLICIES:
            raise ValueError(f'tls must be one of {_TLS_POLICIES}, got {tls!r}')
        self.host = host
        self.port = int(port)
        self.protocol = protocol
        # SMTPS is encrypted from the first byte: the policy can only be "required".
        self.tls = 'required' if protocol == 'smtps' else tls
        self.helo = helo or _default_helo()
        self.timeout = float(timeout) if timeout and timeout > 0 else UNBOUNDED_TIMEOUT
        self.verify = verify
        self.cafile = cafile
        self.cadata = cadata
        self.check_hostname = check_hostname
        self.server_hostname = server_hostname or host
        self.transcript = transcript if transcript is not None else Transcript()
        self.sock: socket.socket | None = None
        self._buffer = b''
        self.banner = ''
        self.extensions: dict[str, str] = {}
        self.tls_info: dict[str, t.Any] | None = None
        self.connect_ms: int | None = None  # None until connected (0 ms is a real loopback figure)
        self.timings: dict[str, int] = {}
        self.auth_mechanism: str | None = None  # set by a successful auth()
        self.authenticated = False
        self.starttls_offered = False
        self.starttls_refused: int | None = None  # the code of a refused STARTTLS (opportunistic goes on)
        self._context: ssl.SSLContext | None = None

    # --- context manager ---------------------------------------------------------------------

    def __enter__(self) -> SMTPClient:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(quit=exc_type is None or isinstance(exc, SMTPStepError) and exc.code is not None)

    def close(self, *, quit: bool = True) -> None:
        if self.sock is None:
            return
        if quit:
            try:
                self.quit()
            except (SMTPStepError, OSError):
                pass
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # --- wire --------------------------------------------------------------------------------

    @property
    def tls_active(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = make_context(verify=self.verify, cafile=self.cafile, cadata=self.cadata,
                                         check_hostname=self.check_hostname)
        return self._context

    def _connected(self, step: str) -> socket.socket:
        """The socket of the open connection; SMTPStepError when there is none."""
        if self.sock is None:
            raise SMTPStepError(step, 'not connected', transient=True)
        return self.sock

    def _send(self, line: str, step: str, *, shown: str | None = None) -> None:
        sock = self._connected(step)
        self.transcript.add('C', shown if shown is not None else line)
        try:
            sock.settimeout(self.timeout)
            sock.sendall(line.encode('utf-8') + b'\r\n')
        except (socket.timeout, TimeoutError) as exc:
            raise SMTPStepError(step, f'timed out after {self.timeout:g}s sending to the server',
                                transient=True, cause='timeout') from exc
        except OSError as exc:
            raise SMTPStepError(step, f'connection lost while sending: {self._os_reason(exc)}',
                                transient=True) from exc

    def _readline(self, step: str, deadline: float) -> bytes:
        sock = self._connected(step)
        while True:
            index = self._buffer.find(b'\n')
            if index >= 0:
                line, self._buffer = self._buffer[:index + 1], self._buffer[index + 1:]
                return line
            if len(self._buffer) > _MAX_LINE:
                raise SMTPStepError(step, f'server sent a line longer than {_MAX_LINE} bytes')
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SMTPStepError(step, f'no reply within {self.timeout:g}s', transient=True, cause='timeout')
            try:
                sock.settimeout(remaining)
                chunk = sock.recv(4096)
            except (socket.timeout, TimeoutError) as exc:
                raise SMTPStepError(step, f'no reply within {self.timeout:g}s', transient=True,
                                    cause='timeout') from exc
            except OSError as exc:
                raise SMTPStepError(step, f'connection lost: {self._os_reason(exc)}', transient=True) from exc
            if not chunk:
                raise SMTPStepError(step, 'connection closed by the server', transient=True)
            self._buffer += chunk

    def _reply(self, step: str) -> SMTPReply:
        """Read one (possibly multi-line) reply; the whole reply must arrive within the timeout."""
        if self.sock is None:
            raise SMTPStepError(step, 'not connected', transient=True)
        deadline = time.monotonic() + self.timeout
        texts: list[str] = []
        code = None
        for _line_number in range(_MAX_REPLY_LINES):
            raw = self._readline(step, deadline)
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            self.transcript.add('S', line)
            if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in ' -'):
                raise SMTPStepError(step, f'not an SMTP reply: {self.transcript.scrub(line[:200])!r}')
            this_code = int(line[:3])
            if code is not None and this_code != code:
                raise SMTPStepError(step, f'inconsistent codes in a multi-line reply ({code}, {this_code})')
            code = this_code
            texts.append(line[4:])
            if len(line) == 3 or line[3] == ' ':
                return SMTPReply(code, self.transcript.scrub('\n'.join(texts)))
        raise SMTPStepError(step, f'reply longer than {_MAX_REPLY_LINES} lines')

    def _command(self, line: str, step: str, expect: tuple[int, ...], *, shown: str | None = None) -> SMTPReply:
        self._send(line, step, shown=shown)
        reply = self._reply(step)
        if reply.code not in expect:
            raise SMTPStepError(step, reply.text, code=reply.code)
        return reply

    @staticmethod
    def _os_reason(exc: OSError) -> str:
        return exc.strerror or exc.__class__.__name__

    # --- TLS ---------------------------------------------------------------------------------

    def _start_tls(self, step: str) -> None:
        context = self._ssl_context()
        started = time.monotonic()
        sock = self._connected(step)
        try:
            sock.settimeout(self.timeout)
            self.sock = context.wrap_socket(sock, server_hostname=self.server_hostname)
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or exc.reason or str(exc)
            self.tls_info = {'version': None, 'cipher': None, 'bits': None, 'peer_chain_der': [],
                             'verified': False, 'verify_error': reason}
            self.transcript.note(f'TLS handshake failed: certificate verification: {reason}')
            self.sock = None
            raise SMTPStepError('tls', f'certificate verification failed: {reason} '
                                       f'(server name {self.server_hostname!r})', cause='certificate') from exc
        except (socket.timeout, TimeoutError) as exc:
            self.transcript.note('TLS handshake timed out')
            raise SMTPStepError('tls', f'TLS handshake not finished within {self.timeout:g}s',
                                transient=True, cause='timeout') from exc
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            self.transcript.note(f'TLS handshake failed: {reason}')
            # An alert about our or their certificate (BAD_CERTIFICATE, UNKNOWN_CA) is about trust.
            raise SMTPStepError('tls', f'TLS handshake failed: {reason}',
                                cause='certificate' if 'certificate' in str(reason).lower() else 'tls') from exc
        except OSError as exc:
            self.transcript.note('connection lost during the TLS handshake')
            raise SMTPStepError('tls', f'connection lost during the TLS handshake: {self._os_reason(exc)}',
                                transient=True) from exc
        self.timings['tls_ms'] = _ms_since(started)
        self._buffer = b''  # nothing sent in clear before the handshake may be trusted after it
        cipher = self.sock.cipher() or (None, None, None)
        verified = self.verify
        self.tls_info = {
            'version': self.sock.version(),
            'cipher': cipher[0],
            'bits': cipher[2],
            'peer_chain_der': peer_chain_der(self.sock),
            'verified': verified,
            'verify_error': None if verified else 'verification disabled',
            'hostname_checked': verified and self.check_hostname,
            'server_hostname': self.server_hostname,
        }
        self.transcript.note(f'TLS established {self.tls_info["version"]} {cipher[0]} ({cipher[2]} bits), '
                             + ('certificate verified' if verified else 'certificate NOT verified'))

    # --- conversation ------------------------------------------------------------------------

    def connect(self) -> SMTPReply:
        """TCP connection (and the TLS handshake for SMTPS), then the server's banner."""
        started = time.monotonic()
        self.transcript.note(f'connecting to {self.host} port {self.port} ({self.protocol})')
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except (socket.timeout, TimeoutError) as exc:
            raise SMTPStepError('connect', f'no TCP connection to {self.host}:{self.port} within '
                                           f'{self.timeout:g}s', transient=True, cause='timeout') from exc
        except socket.gaierror as exc:
            raise SMTPStepError('connect', f'cannot resolve {self.host!r}: {exc.strerror}') from exc
        except OSError as exc:
            raise SMTPStepError('connect', f'cannot connect to {self.host}:{self.port}: '
                                           f'{self._os_reason(exc)}',
                                cause='refused' if isinstance(exc, ConnectionRefusedError) else 'unreachable') from exc
        self.connect_ms = _ms_since(started)
        self.timings['connect_ms'] = self.connect_ms
        peer = self.sock.getpeername()
        self.transcript.note(f'connected to {peer[0]} port {peer[1]} in {self.connect_ms} ms')
        if self.protocol == 'smtps':
            self._start_tls('tls')
        reply = self._reply('banner')
        self.banner = reply.text
        if reply.code != 220:
            raise SMTPStepError('banner', reply.text, code=reply.code)
        return reply

    def ehlo(self) -> dict[str, str]:
        """EHLO (HELO when the server does not know EHLO); returns the offered extensions."""
        self._send(f'EHLO {_safe_argument(self.helo, "HELO name")}', 'ehlo')
        reply = self._reply('ehlo')
        if reply.code in (500, 502, 504):
            reply = self._command(f'HELO {self.helo}', 'ehlo', (250,))
            self.extensions = {}
            return self.extensions
        if reply.code != 250:
            raise SMTPStepError('ehlo', reply.text, code=reply.code)
        extensions: dict[str, str] = {}
        for line in reply.text.split('\n')[1:]:
            keyword, _sep, params = line.strip().partition(' ')
            if keyword:
                # Old servers write "AUTH=LOGIN"; merge it into AUTH.
                if keyword.upper().startswith('AUTH='):
                    keyword, params = 'AUTH', keyword[5:] + (' ' + params if params else '')
                key = keyword.upper()
                extensions[key] = (extensions[key] + ' ' + params).strip() if key in extensions else params
        self.extensions = extensions
        if not self.tls_active:
            self.starttls_offered = 'STARTTLS' in extensions
        return extensions

    def secure(self) -> None:
        """Apply the TLS policy after the first EHLO (STARTTLS and a second EHLO when it applies)."""
        if self.tls_active or self.tls == 'none':
            if self.tls == 'none' and self.starttls_offered:
                self.transcript.note('server offers STARTTLS; not used because tls is none')
            return
        if 'STARTTLS' not in self.extensions:
            if self.tls == 'required':
                raise SMTPStepError('policy', 'the server does not offer STARTTLS and tls is required: '
                                              'nothing was sent')
            self.transcript.note('server does not offer STARTTLS; continuing in plaintext (tls is opportunistic)')
            return
        self._send('STARTTLS', 'starttls')
        reply = self._reply('starttls')
        if reply.code != 220:
            if self.tls == 'required':
                raise SMTPStepError('starttls', reply.text, code=reply.code)
            self.starttls_refused = reply.code
            self.transcript.note(f'STARTTLS refused ({reply.code}); continuing in plaintext (tls is opportunistic)')
            return
        self._start_tls('tls')
        # RFC 3207: forget everything learnt before TLS and ask again.
        self.extensions = {}
        self.ehlo()

    def open(self) -> SMTPClient:
        self.connect()
        self.ehlo()
        self.secure()
        return self

    def plaintext_reason(self) -> str:
        """Why the connection is unencrypted, in words for a failure or a warning."""
        if self.starttls_refused is not None:
            return f'the server answered STARTTLS with {self.starttls_refused}'
        if self.starttls_offered:
            return 'STARTTLS was not used'
        return 'the server does not offer STARTTLS'

    def check_credentials_allowed(self) -> None:
        """Raise unless credentials may be sent on this connection now.

        Only over TLS, or in clear when the settings say tls: none explicitly (and the server
        offers no STARTTLS that we would be ignoring). Under opportunistic a missing or refused
        STARTTLS is exactly what a man in the middle produces, so it is refused too.
        """
        if self.tls_active:
            return
        if self.tls == 'none':
            if self.starttls_offered:
                raise SMTPStepError('policy', 'refusing to send credentials over an unencrypted connection '
                                              'although the server offers STARTTLS; set tls to required')
            return
        if self.tls == 'required':
            raise SMTPStepError('policy', 'refusing to send credentials: tls is required but no TLS session '
                                          'was established')
        raise plaintext_credentials_refusal(self.plaintext_reason())

    def auth(self, method: str, username: str, secret: str, *, mechanism: str | None = None) -> SMTPReply:
        """Authenticate: 'basic' (PLAIN, LOGIN or CRAM-MD5) or 'oauth2' (XOAUTH2 or OAUTHBEARER).

        Sends credentials only over TLS, or in clear when the settings say tls: none (see
        check_credentials_allowed): every caller gets this rule, whatever it checked itself.

        For oauth2 XOAUTH2 is preferred: it is what the products' JavaMail sends, so the proof
        matches the application. OAUTHBEARER (RFC 7628) is used when asked for, or when the relay
        offers it and not XOAUTH2.
        """
        self.transcript.register_secret(secret)
        if method == 'oauth2':
            from ansible_collections.mailwright.smtp.plugins.module_utils._net.oauth2 import sasl_secret_forms

            for form in sasl_secret_forms(username, secret, self.server_hostname, self.port):
                self.transcript.register_secret(form)
        self.check_credentials_allowed()
        offered = self.extensions.get('AUTH', '').upper().split()
        if not offered:
            raise SMTPStepError('auth', 'the server does not offer AUTH (on this connection)')
        if method == 'oauth2':
            chosen = (mechanism or 'xoauth2').upper()
            if chosen not in ('XOAUTH2', 'OAUTHBEARER'):
                raise SMTPStepError('policy', f'{chosen} cannot carry an OAuth 2.0 token (use xoauth2 or oauthbearer)')
            if chosen == 'XOAUTH2' and 'XOAUTH2' not in offered and 'OAUTHBEARER' in offered:
                self.transcript.note('server offers OAUTHBEARER but not XOAUTH2; using OAUTHBEARER')
                chosen = 'OAUTHBEARER'
        elif method == 'basic':
            if mechanism:
                chosen = mechanism.upper().replace('_', '-')
            elif not self.tls_active and 'CRAM-MD5' in offered:
                chosen = 'CRAM-MD5'  # the only offered way that keeps the password off a plaintext wire
            else:
                found = next((m for m in ('PLAIN', 'LOGIN', 'CRAM-MD5') if m in offered), None)
                if found is None:
                    raise SMTPStepError('auth', f'no supported mechanism offered (server offers '
                                                f'{" ".join(offered)}; we speak PLAIN, LOGIN, CRAM-MD5)')
                chosen = found
        else:
            raise ValueError(f'auth method must be basic or oauth2, got {method!r}')
        if chosen not in offered:
            raise SMTPStepError('auth', f'the server does not offer {chosen} (it offers {" ".join(offered)})')
        _safe_argument(username, 'user name')
        started = time.monotonic()
        if chosen == 'PLAIN':
            payload = base64.b64encode(f'\0{username}\0{secret}'.encode()).decode()
            reply = self._auth_command(f'AUTH PLAIN {payload}', 'AUTH PLAIN ' + REDACTED)
        elif chosen == 'LOGIN':
            reply = self._auth_command('AUTH LOGIN', 'AUTH LOGIN')
            if reply.code == 334:
                reply = self._auth_command(base64.b64encode(username.encode()).decode(), REDACTED)
            if reply.code == 334:
                reply = self._auth_command(base64.b64encode(secret.encode()).decode(), REDACTED)
        elif chosen == 'CRAM-MD5':
            reply = self._auth_command('AUTH CRAM-MD5', 'AUTH CRAM-MD5')
            if reply.code == 334:
                challenge = base64.b64decode(reply.text.encode() or b'')
                digest = hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()
                reply = self._auth_command(base64.b64encode(f'{username} {digest}'.encode()).decode(), REDACTED)
        elif chosen in ('XOAUTH2', 'OAUTHBEARER'):
            reply = self._bearer_auth(chosen, username, secret)
        else:
            raise SMTPStepError('auth', f'mechanism {chosen} is not supported by this client '
                                        '(PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER)')
        self.timings['auth_ms'] = _ms_since(started)
        if reply.code != 235:
            if reply.code == 334:  # still challenged: abort the exchange cleanly
                self._auth_command('*', '*')
            raise SMTPStepError('auth', f'{chosen} rejected: {reply.text}{explain_auth_reply(method, reply)}',
                                code=reply.code)
        self.authenticated = True
        self.auth_mechanism = chosen
        return reply

    def _bearer_auth(self, chosen: str, username: str, token: str) -> SMTPReply:
        """XOAUTH2 or OAUTHBEARER; on failure the relay's JSON challenge is explained, then answered."""
        from ansible_collections.mailwright.smtp.plugins.module_utils._net.oauth2 import (
            explain_challenge,
            oauthbearer_string,
            xoauth2_string,
        )

        if chosen == 'XOAUTH2':
            text = xoauth2_string(username, token)
        else:
            text = oauthbearer_string(username, token, self.server_hostname, self.port)
        payload = base64.b64encode(text.encode()).decode()
        reply = self._auth_command(f'AUTH {chosen} {payload}', f'AUTH {chosen} ' + REDACTED)
        if reply.code != 334:
            return reply
        # A failure: base64 JSON detail. XOAUTH2 (Google's rule) wants an empty line back,
        # OAUTHBEARER (RFC 7628 3.2.3) a single %x01; the relay then sends the final reply.
        explained, said = explain_challenge(reply.text), self._decode_challenge(reply.text)
        detail = f'{explained}; the relay said {said}' if explained and said else explained or said
        answer = '' if chosen == 'XOAUTH2' else base64.b64encode(b'\x01').decode()
        reply = self._auth_command(answer, answer)
        if detail and reply.code != 235:
            reply = SMTPReply(reply.code, f'{reply.text} ({detail})')
        return reply

    def _auth_command(self, line: str, shown: str) -> SMTPReply:
        self._send(line, 'auth', shown=shown)
        return self._reply('auth')

    def _decode_challenge(self, text: str) -> str:
        try:
            return self.transcript.scrub(base64.b64decode(text.strip(), validate=True).decode('utf-8', 'replace'))
        except ValueError:
            return ''

    def mail(self, sender: str) -> SMTPReply:
        _safe_argument(sender, 'sender address')
        return self._command(f'MAIL FROM:<{sender}>', 'mail', (250,))

    def rcpt(self, rcpt: str) -> SMTPReply:
        _safe_argument(rcpt, 'recipient address')
        return self._command(f'RCPT TO:<{rcpt}>', 'rcpt', (250, 251))

    def data(self, message: bytes) -> SMTPReply:
        """Send the message: line endings made CRLF, leading dots doubled, ended by '.'."""
        self._command('DATA', 'data', (354,))
        body = re.sub(rb'\r?\n|\r', b'\r\n', message)
        if not body.endswith(b'\r\n'):
            body += b'\r\n'
        body = re.sub(rb'(?m)^\.', b'..', body)
        self.transcript.add('C', f'<message, {len(body)} bytes>')
        self.transcript.add('C', '.')
        sock = self._connected('data')
        try:
            sock.settimeout(self.timeout)
            sock.sendall(body + b'.\r\n')
        except (socket.timeout, TimeoutError) as exc:
            raise SMTPStepError('data', f'timed out after {self.timeout:g}s sending the message',
                                transient=True, cause='timeout') from exc
        except OSError as exc:
            raise SMTPStepError('data', f'connection lost while sending the message: {self._os_reason(exc)}',
                                transient=True) from exc
        reply = self._reply('data')
        if reply.code != 250:
            raise SMTPStepError('data', reply.text, code=reply.code)
        return reply

    def rset(self) -> SMTPReply:
        return self._command('RSET', 'quit', (250,))

    def quit(self) -> SMTPReply | None:
        if self.sock is None:
            return None
        try:
            self._send('QUIT', 'quit')
            return self._reply('quit')
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


# Exchange Online's replies once basic SMTP AUTH is off: for the tenant (5.7.139, "SmtpClientAuthentication
# is disabled for the Tenant") or for client submission altogether (5.7.30).
_BASIC_OFF = re.compile(r'\b5\.7\.(?:139|30)\b')


def explain_auth_reply(method: str, reply: SMTPReply) -> str:
    """What an AUTH refusal means when the reply says more than "no" (the text to append, or '')."""
    if method == 'basic' and _BASIC_OFF.search(reply.text):
        from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import MOVE_TO_OAUTH2

        return ('. The tenant has basic SMTP AUTH disabled: Exchange Online no longer accepts a user name and '
                'password here (Microsoft turns it off by default for existing tenants at the end of December 2026). '
                f'Fix: {MOVE_TO_OAUTH2}; or, for now, an Exchange administrator can re-enable SMTP AUTH for the '
                'tenant or the mailbox (Set-TransportConfig or Set-CASMailbox -SmtpClientAuthenticationDisabled $false)')
    return ''


def connection_from_settings(effective: dict[str, t.Any]) -> dict[str, t.Any]:
    """host, port, protocol, tls, helo and timeout (s) of the server the settings describe.

    The one reading of server.* for a conversation (test_send, the probe's relay target); the
    timeout follows the settings' one rule (_settings.model.timeout_seconds).
    """
    server = effective['server']
    return {
        'host': server['host'],
        'port': int(server['port']),
        'protocol': server['protocol'],
        # smtps is TLS from the first byte whatever tls says (effective settings agree already)
        'tls': 'required' if server['protocol'] == 'smtps' else server['tls'],
        'helo': server['helo_domain'],
        'timeout': timeout_seconds(server),
    }


def client_from_settings(effective: dict[str, t.Any], **overrides: t.Any) -> SMTPClient:
    """A client for the server described by effective settings; keyword overrides win."""
    kwargs = connection_from_settings(effective)
    kwargs.update(overrides)
    return SMTPClient(**kwargs)


def fetch_peer_chain(host: str, port: int, *, protocol: str = 'smtp', helo: str | None = None,
                     timeout: float = 10.0, server_hostname: str | None = None,
                     transcript: Transcript | None = None) -> list[bytes]:
    """The certificate chain the server presents (DER, leaf first), over SMTPS or STARTTLS.

    Connects WITHOUT verification: this is how one learns what to trust. The caller must pin or
    otherwise check what it gets before trusting it.
    """
    client = SMTPClient(host, port, protocol=protocol, tls='required', helo=helo, timeout=timeout,
                        verify=False, check_hostname=False, server_hostname=server_hostname,
                        transcript=transcript)
    with client:
        client.open()
        if client.tls_info is None:  # open() with tls=required either starts TLS or raises
            raise SMTPStepError('tls', 'no TLS session was established', cause='tls')
        return list(client.tls_info['peer_chain_der'])
