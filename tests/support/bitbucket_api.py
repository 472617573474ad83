"""A local Bitbucket Data Center REST server for the mail-server resource, for tests.

It follows the documented contract (Bitbucket Data Center REST API, System Maintenance group):

* ``GET    /rest/api/{latest,1.0}/admin/mail-server`` -> 200 RestMailConfiguration (never the
  password) or 404 ``{"errors": [{"message": "The mail server hasn't been configured"}]}``
* ``PUT    .../admin/mail-server`` (application/json RestMailConfiguration) -> 200 with the stored
  configuration (without password); 400 on a validation error
* ``DELETE .../admin/mail-server`` -> 204
* ``GET | PUT | DELETE .../admin/mail-server/sender-address`` (a JSON string) -> 200 / 200 / 204
* 401 for missing or wrong credentials (basic or Bearer token), as Bitbucket answers.

Switches for faults: ``force_status`` (answer every request with that status), ``stall_seconds``
(accept, then say nothing for that long), ``reflect`` (answer requests, or only those whose method
is in ``reflect_methods``, with an error whose
body quotes the request's headers and body back, as a misbehaving proxy or API does: ``text``,
``json``, ``html``, ``form`` or ``php`` spelling, see ``REFLECT_STYLES``), ``huge_error_bytes``
(an error body of that many bytes; ``-1`` streams one that never ends), plus a log of every
request so tests can prove that check mode wrote nothing. ``ContractServer`` is the shared base
also used by ``ghes_api``.
"""
from __future__ import annotations

import base64
import json
import pathlib
import ssl
import tempfile
import threading
import typing as t
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ['Recorded', 'ContractServer', 'BitbucketServer', 'make_test_ca', 'REFLECT_STYLES', 'spellings']

# How a reflected request is spelled in the error body.
REFLECT_STYLES = ('text', 'json', 'html', 'form', 'php')


def spellings(secret: str, *, username: str | None = None) -> dict[str, str]:
    """Every way a reflected credential can read in a reply, by name, for tests to look for:
    raw, percent-encoded, JSON- and HTML-escaped, and (with a username) the Basic pair in base64,
    standard and URL-safe, with and without padding."""
    import html

    found = {
        'raw': secret,
        'percent': urllib.parse.quote(secret, safe=''),
        'form': urllib.parse.quote_plus(secret),
        'json': json.dumps(secret)[1:-1],
        'json-ascii-slash': json.dumps(secret)[1:-1].replace('/', '\\/'),
        'json-utf8': json.dumps(secret, ensure_ascii=False)[1:-1],
        'html': html.escape(secret),
        'form-of-json': urllib.parse.quote_plus(json.dumps(secret)[1:-1]),  # a JSON document in a form field
        'json-of-form': json.dumps(urllib.parse.quote_plus(secret))[1:-1],
    }
    if username is not None:
        pair = f'{username}:{secret}'.encode()
        for name, encoded in (('base64', base64.b64encode(pair)), ('base64url', base64.urlsafe_b64encode(pair))):
            found[name] = encoded.decode()
            found[name + '-unpadded'] = encoded.decode().rstrip('=')
            found[name + '-percent'] = urllib.parse.quote(encoded.decode(), safe='')
    return found


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> t.Any:
        return json.loads(self.body) if self.body else None


def make_test_ca(directory: pathlib.Path, hostname: str = 'localhost') -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """(ca.pem, server cert.pem, server key.pem) for `hostname` and 127.0.0.1 (tests/support/certs.py)."""
    from tests.support.certs import CertificateAuthority

    ca = CertificateAuthority(directory)
    server = ca.issue('server', dns=(hostname,), ips=('127.0.0.1',), days=2)
    return pathlib.Path(ca.ca_file), pathlib.Path(server.cert_file), pathlib.Path(server.key_file)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that time out and hang up on a stalled request are the point of some tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    server_version = 'contract-server/1'
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def _handle(self) -> None:
        owner: ContractServer = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        parts = urllib.parse.urlsplit(self.path)
        record = Recorded(self.command, parts.path, urllib.parse.parse_qs(parts.query),
                          dict(self.headers.items()), body)
        with owner.lock:
            owner.requests.append(record)
        if owner.stall_seconds:
            # Accept, read, then say nothing: a hung application server.
            owner.stalled.wait(owner.stall_seconds)
            return self._send(record, 503, {'errors': [{'message': 'stalled'}]}, close=True)
        if owner.reflect and (not owner.reflect_methods or record.method in owner.reflect_methods):
            return self._reflect(record, owner.reflect, owner.force_status or 400)
        if owner.huge_error_bytes:
            return self._huge(record, owner.huge_error_bytes, owner.force_status or 500)
        if owner.force_status:
            return self._send(record, owner.force_status,
                              {'errors': [{'message': f'forced status {owner.force_status}'}]})
        if not owner.authorised(record):
            return self._send(record, 401, {'errors': [{
                'context': None, 'message': 'Authentication failed. Please check your credentials and try again.',
                'exceptionName': 'com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException'}]})
        try:
            status, payload = owner.route(record)
        except _Reply as reply:
            status, payload = reply.status, reply.payload
        self._send(record, status, payload)

    def _send(self, record: Recorded, status: int, payload: t.Any, close: bool = False) -> None:
        record.status = status
        data = b'' if payload is None or status == 204 else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if data:
                self.send_header('Content-Type', 'application/json;charset=UTF-8')
            self.send_header('Content-Length', str(len(data)))
            if close:
                self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _reflect(self, record: Recorded, style: str, status: int) -> None:
        """An error that quotes the request back, headers and body, in one of REFLECT_STYLES."""
        lines = [f'{self.command} {self.path} {self.request_version}']
        lines += [f'{key}: {value}' for key, value in record.headers.items()]
        lines += ['', record.body.decode('utf-8', 'replace')]
        dump = '\n'.join(lines)
        if style == 'json':
            payload = json.dumps({'errors': [{'message': f'Bad request: {dump}'}],
                                  'request': {'headers': record.headers, 'body': record.body.decode('utf-8', 'replace')}})
            ctype = 'application/json'
        elif style == 'php':  # json_encode escapes '/' and every non-ASCII character
            payload = json.dumps({'message': dump}).replace('/', '\\/')
            ctype = 'application/json'
        elif style == 'html':
            import html
            payload = f'<html><body><h1>400 Bad Request</h1><pre>{html.escape(dump)}</pre></body></html>'
            ctype = 'text/html'
        elif style == 'form':
            payload = urllib.parse.urlencode(dict(record.headers.items())) + '&body=' + \
                urllib.parse.quote(record.body.decode('utf-8', 'replace'), safe='')
            ctype = 'text/plain'
        else:
            payload = dump
            ctype = 'text/plain'
        record.status = status
        data = payload.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _huge(self, record: Recorded, size: int, status: int) -> None:
        """An error body of `size` bytes (or, for -1, one that never ends), written in chunks."""
        record.status = status
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain')
        if size > 0:
            self.send_header('Content-Length', str(size))
        else:
            self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        chunk = b'error ' * 10922  # about 64 KiB
        sent = 0
        try:
            while size < 0 or sent < size:
                piece = chunk if size < 0 else chunk[:size - sent]
                if size < 0:
                    self.wfile.write(b'%x\r\n%s\r\n' % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                sent += len(piece)
                self.server.owner.huge_sent = sent  # type: ignore[attr-defined]
                if sent > 1 << 30:  # a bound for the stand-in itself
                    break
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle


class _Reply(Exception):
    def __init__(self, status: int, payload: t.Any = None):
        super().__init__(status)
        self.status = status
        self.payload = payload


class ContractServer:
    """An HTTP(S) server on a free loopback port, in a thread, recording every request."""

    def __init__(self, *, username: str | None = 'admin', password: str | None = 'admin-secret',
                 token: str | None = None, tls: bool = False, cert_dir: pathlib.Path | None = None):
        self.username = username
        self.password = password
        self.token = token
        self.tls = tls
        self.cert_dir = cert_dir
        self.ca_path: pathlib.Path | None = None
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.force_status: int | None = None
        self.stall_seconds: float = 0
        self.reflect: str | None = None
        self.reflect_methods: tuple[str, ...] = ()  # empty: every method
        self.huge_error_bytes: int = 0
        self.huge_sent: int = 0
        self.stalled = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> 'ContractServer':
        httpd = _QuietServer(('127.0.0.1', 0), _Handler)
        httpd.owner = self  # type: ignore[attr-defined]
        if self.tls:
            directory = self.cert_dir
            if directory is None:
                self._tmp = tempfile.TemporaryDirectory(prefix='contract-tls-')
                directory = pathlib.Path(self._tmp.name)
            self.ca_path, cert, key = make_test_ca(directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stalled.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f'{"https" if self.tls else "http"}://127.0.0.1:{self.port}'

    # -- test helpers ------------------------------------------------------------------------
    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def writes(self) -> list[Recorded]:
        """Requests that could change state (anything but GET/HEAD)."""
        with self.lock:
            return [r for r in self.requests if r.method not in ('GET', 'HEAD')]

    # -- behaviour ---------------------------------------------------------------------------
    def authorised(self, record: Recorded) -> bool:
        header = record.headers.get('Authorization', '')
        if self.token and header == f'Bearer {self.token}':
            return True
        if header.startswith('Basic ') and self.username is not None:
            try:
                user, dummy, secret = base64.b64decode(header[6:]).decode().partition(':')
            except ValueError:
                return False
            return user == self.username and secret == self.password
        return False

    def route(self, record: Recorded) -> tuple[int, t.Any]:
        raise _Reply(404, {'errors': [{'message': f'no resource at {record.path}'}]})

    @staticmethod
    def json_body(record: Recorded) -> t.Any:
        if not record.headers.get('Content-Type', '').startswith('application/json'):
            raise _Reply(415, {'errors': [{'message': 'Content-Type must be application/json'}]})
        try:
            return json.loads(record.body or b'null')
        except ValueError:
            raise _Reply(400, {'errors': [{'message': 'request body is not JSON'}]}) from None


_BASE_PATHS = ('/rest/api/latest/admin/mail-server', '/rest/api/1.0/admin/mail-server')
_FIELDS = {'hostname', 'port', 'protocol', 'useStartTls', 'requireStartTls', 'username', 'password', 'senderAddress'}


class BitbucketServer(ContractServer):
    """Bitbucket's mail-server resource. ``config`` holds what the server stores (with password)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.config: dict[str, t.Any] | None = None
        self.sender_address: str | None = None

    def stored_password(self) -> str | None:
        return None if self.config is None else self.config.get('password')

    def _public(self) -> dict[str, t.Any]:
        assert self.config is not None
        shown = {k: v for k, v in self.config.items() if k != 'password'}  # write-only
        shown['senderAddress'] = self.sender_address
        return shown

    def route(self, record: Recorded) -> tuple[int, t.Any]:
        for base in _BASE_PATHS:
            if record.path == base:
                return self._mail_server(record)
            if record.path == base + '/sender-address':
                return self._sender(record)
        return super().route(record)

    def _mail_server(self, record: Recorded) -> tuple[int, t.Any]:
        if record.method == 'GET':
            if self.config is None:
                return 404, {'errors': [{'message': "The mail server hasn't been configured"}]}
            return 200, self._public()
        if record.method == 'DELETE':
            self.config = None
            return 204, None
        if record.method == 'PUT':
            body = self.json_body(record)
            errors = self._validate(body)
            if errors:
                return 400, {'errors': [{'context': f, 'message': m} for f, m in errors]}
            new = dict(self.config or {})
            for key in _FIELDS - {'senderAddress'}:
                if key in body:
                    new[key] = body[key]  # explicit null clears; an absent key keeps the old value
            new.setdefault('port', 25)
            new.setdefault('protocol', 'SMTP')
            new.setdefault('useStartTls', False)
            new.setdefault('requireStartTls', False)
            self.config = new
            if 'senderAddress' in body:
                self.sender_address = body['senderAddress']
            return 200, self._public()
        raise _Reply(405, {'errors': [{'message': f'{record.method} not allowed'}]})

    @staticmethod
    def _validate(body: t.Any) -> list[tuple[str, str]]:
        if not isinstance(body, dict):
            return [('', 'a RestMailConfiguration object is required')]
        errors = []
        unknown = set(body) - _FIELDS
        if unknown:
            errors.append((sorted(unknown)[0], 'Unrecognized field'))
        if not isinstance(body.get('hostname'), str) or not body['hostname'].strip():
            errors.append(('hostname', 'A hostname is required'))
        port = body.get('port', 25)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            errors.append(('port', 'The port must be between 1 and 65535'))
        if body.get('protocol', 'SMTP') not in ('SMTP', 'SMTPS'):
            errors.append(('protocol', 'The protocol must be SMTP or SMTPS'))
        for flag in ('useStartTls', 'requireStartTls'):
            if flag in body and not isinstance(body[flag], bool):
                errors.append((flag, 'must be true or false'))
        if bool(body.get('username')) != bool(body.get('password')) and body.get('password') is not None:
            errors.append(('username', 'A username is required with a password'))
        return errors

    def _sender(self, record: Recorded) -> tuple[int, t.Any]:
        if record.method == 'GET':
            if self.sender_address is None:
                return 404, {'errors': [{'message': 'No server email address is configured'}]}
            return 200, self.sender_address
        if record.method == 'PUT':
            value = self.json_body(record)
            if not isinstance(value, str) or '@' not in value:
                return 400, {'errors': [{'context': 'address', 'message': 'Please enter a valid email address'}]}
            self.sender_address = value
            return 200, value
        if record.method == 'DELETE':
            self.sender_address = None
            return 204, None
        raise _Reply(405, {'errors': [{'message': f'{record.method} not allowed'}]})
