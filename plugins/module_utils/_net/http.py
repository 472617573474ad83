# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""A small JSON-over-HTTP client for the product admin APIs (Bitbucket, GHES).

Built on ``ansible.module_utils.urls.open_url`` so it needs nothing beyond ansible-core on the
managed host and behaves like ``ansible.builtin.uri`` (proxies, CA bundles, TLS checks).
Every failure becomes an ``HttpError`` (a MailwrightError) whose message says what failed, where,
and what to do; its ``cause`` is the fine reason (CAUSES), its ``kind`` the family's.
Messages never contain a credential, even when a server (or a proxy in front of it) quotes the
request back: URLs lose their user-info and query, and everything taken from a response (error
body, headers, exception text) is cleaned of every form the credentials took on the wire
(``_redact.credential_forms``: the password and token, ``user:password`` and its base64 in both
alphabets with or without padding, the whole ``Authorization`` value, each also percent-encoded,
JSON-escaped and HTML-escaped) and of every secret-named value the request body carried. Only a
bounded prefix of an error body is read (``ERROR_BODY_READ`` bytes) and at most
``ERROR_BODY_SHOWN`` characters of it are quoted, redacted before they are cut.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import typing as t
import urllib.parse
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import (
    credential_forms,
    encoded_forms,
    is_secret_name,
    redact_text,
)

__all__ = [
    'CAUSES',
    'CAUSE_KINDS',
    'HttpError',
    'HttpResponse',
    'HttpClient',
    'connection_argument_spec',
    'client_from_params',
    'safe_url',
    'status_message',
    'ERROR_BODY_SHOWN',
    'ERROR_BODY_READ',
    'MAX_BODY',
]

# Characters of a server reply quoted in an error message: enough to show the product's own
# explanation, short enough to keep a failed task readable.
ERROR_BODY_SHOWN = 2000
# Bytes of an error body read at all: a huge or endless reply must not fill memory. Far more than
# is shown, so a secret cut in half by this limit is never in the part that is quoted.
ERROR_BODY_READ = 64 * 1024
# Bytes of a successful reply: the admin APIs answer with a few kilobytes of JSON.
MAX_BODY = 8 * 1024 * 1024


# Why a request failed, as the client saw it (HttpError.cause), and the error family's kind
# (_core.errors.KINDS) each one stands for.
CAUSE_KINDS = {
    'http': 'server',       # the API answered with an error status
    'timeout': 'network',
    'refused': 'network',
    'dns': 'network',
    'network': 'network',
    'tls': 'tls',
    'protocol': 'invalid',  # an unusable option (timeout <= 0) or an answer we cannot use
}
CAUSES = tuple(CAUSE_KINDS)


class HttpError(MailwrightError):
    """A request failed; ``str()`` is a message fit for fail_json.

    `cause` is the fine reason (CAUSES: retries branch on it), `kind` the family's coarse one,
    both decided where the error is raised. When a request was made (`method` is set), the failed
    result carries it under `http`; an option refused before any request has no `http` key.
    """

    def __init__(self, message: str, *, status: int | None = None, method: str = '', url: str = '',
                 cause: str = 'http', body: str = ''):
        if cause not in CAUSE_KINDS:
            raise ValueError(f'unknown HTTP failure cause {cause!r}')
        super().__init__(message, kind=CAUSE_KINDS[cause])
        self.status = status
        self.method = method
        self.url = url
        self.cause = cause
        self.body = body

    def to_dict(self) -> dict[str, t.Any]:
        return {'status': self.status, 'method': self.method, 'url': self.url, 'kind': self.kind, 'cause': self.cause}

    def to_result(self) -> dict[str, t.Any]:
        result = super().to_result()
        if self.method:
            result['http'] = self.to_dict()
        return result


@dataclass
class HttpResponse:
    status: int
    body: bytes = b''
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # only the first ERROR_BODY_READ bytes of an error body were read

    @property
    def text(self) -> str:
        return self.body.decode('utf-8', errors='replace')

    def json(self) -> t.Any:
        """Parsed JSON body; None for an empty body."""
        if not self.body.strip():
            return None
        return json.loads(self.text)


def safe_url(url: str) -> str:
    """The URL without user-info or query string (an ``api_key`` query parameter is a secret)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit('@', 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, '', ''))


def _excerpt(body: bytes, secrets: t.Iterable[str], *, total: int | None = None, cut: bool = False) -> str:
    """The server's own explanation (Atlassian/GitHub error JSON or plain text), redacted, then
    shortened to ERROR_BODY_SHOWN characters with a note of how much was left out. `cut` says only
    a prefix of the body was read; `total` is the size the server announced (Content-Length)."""
    secrets = list(secrets)
    text = body.decode('utf-8', errors='replace').strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    messages: list[str] = []
    if isinstance(data, dict):
        for item in data.get('errors') or []:
            if isinstance(item, dict) and item.get('message'):
                messages.append(str(item['message']))
            elif isinstance(item, str):
                messages.append(item)
        if not messages and data.get('message'):
            messages.append(str(data['message']))
    if messages:
        text = '; '.join(messages)
    # Redact before anything reshapes the text: folding blanks or cutting it could break a
    # secret into pieces that no longer match, and show them.
    text = ' '.join(redact_text(text, secrets).split())
    unread = max(0, (total or 0) - len(body)) if cut else 0
    if len(text) > ERROR_BODY_SHOWN or cut:
        shown = text[:ERROR_BODY_SHOWN]
        more = len(text.encode('utf-8')) - len(shown.encode('utf-8')) + unread
        if cut and not total:
            text = f'{shown}… (more than {more} more bytes, the rest not read)'
        elif more:
            text = f'{shown}… ({more} more bytes)'
    return text


_STATUS_TEXT = {
    400: ('the server rejected the request (HTTP 400)',
          'a field has a value the server does not accept; see its message'),
    401: ('authentication failed (HTTP 401)',
          'check url_username/url_password or token; the account may also lack the permission '
          'this resource needs (the products answer 401 for both)'),
    403: ('permission denied (HTTP 403)',
          'the credentials are valid but the account may not change this setting; use an '
          'administrator account'),
    404: ('not found (HTTP 404)',
          'check url: it must be the base URL of the instance (including any context path) '
          'and the product version must offer this API'),
    405: ('method not allowed (HTTP 405)',
          'the server does not offer this operation at this path; check url and the product version'),
    409: ('conflict (HTTP 409)',
          'the server is busy with a conflicting change (for example a configuration run); '
          'retry when it has finished'),
    415: ('unsupported media type (HTTP 415)', 'the server expects a different request format'),
    429: ('rate limited (HTTP 429)', 'retry later'),
}


def status_message(status: int, method: str, url: str, body_excerpt: str = '',
                   hints: t.Mapping[int, str] | None = None) -> str:
    """A message for an unexpected HTTP status: what, where, what to do."""
    if status in _STATUS_TEXT:
        what, hint = _STATUS_TEXT[status]
    elif status >= 500:
        what, hint = (f'server error (HTTP {status})',
                      'the server failed while handling the request; check its logs and retry')
    else:
        what, hint = f'unexpected HTTP status {status}', 'see the server message'
    if hints and status in hints:
        hint = hints[status]
    message = f'{method} {safe_url(url)}: {what}'
    if body_excerpt:
        message += f'; server said: {body_excerpt}'
    return f'{message} ({hint})'


def _content_length(headers: t.Mapping[str, str]) -> int | None:
    for key, value in headers.items():
        if key.lower() == 'content-length':
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _reason(exc: BaseException) -> BaseException:
    """The innermost socket/SSL error behind a urllib error."""
    seen = 0
    while seen < 5:
        inner = getattr(exc, 'reason', None)
        if isinstance(inner, BaseException):
            exc = inner
            seen += 1
            continue
        break
    return exc


class HttpClient:
    """JSON requests against one base URL with one set of credentials."""

    def __init__(self, base_url: str, *, username: str | None = None, password: str | None = None,
                 token: str | None = None, validate_certs: bool = True, ca_path: str | None = None,
                 timeout: float = 30, user_agent: str = 'mailwright.smtp',
                 status_hints: t.Mapping[int, str] | None = None):
        if not base_url or '://' not in base_url:
            raise HttpError(f'url must be an absolute http(s) URL, got {base_url!r}', cause='protocol')
        scheme = urllib.parse.urlsplit(base_url).scheme.lower()
        if scheme not in ('http', 'https'):
            raise HttpError(f'url must use http or https, not {scheme!r}', cause='protocol')
        self.base_url = base_url.rstrip('/')
        self.username = username
        self.password = password
        self.token = token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.user_agent = user_agent
        self.status_hints = dict(status_hints or {})
        # Everything that must never be quoted back: each credential in every form it is sent in,
        # user-info in the URL included (open_url sends it as Basic credentials).
        self.secrets: list[str] = credential_forms(username=username, password=password, token=token)
        netloc = urllib.parse.urlsplit(base_url).netloc
        if '@' in netloc:
            user, dummy, secret = netloc.rpartition('@')[0].partition(':')
            self.secrets += credential_forms(username=urllib.parse.unquote(user),
                                             password=urllib.parse.unquote(secret) or None)
            self.secrets += [netloc.rpartition('@')[0]]

    def add_secrets(self, values: t.Iterable[t.Any]) -> None:
        """Also keep these out of every message (a password the request body carries)."""
        for value in values:
            if isinstance(value, str) and value and value not in self.secrets:
                self.secrets += [value, *encoded_forms(value)]

    def redact(self, text: str) -> str:
        """`text` (anything a server said) without any form of any credential this client sends."""
        return redact_text(text, self.secrets)

    def _body_secrets(self, value: t.Any) -> t.Iterator[t.Any]:
        """Values under secret-looking keys anywhere in a request body."""
        if isinstance(value, t.Mapping):
            for key, sub in value.items():
                if is_secret_name(key) and isinstance(sub, str):
                    yield sub
                else:
                    yield from self._body_secrets(sub)
        elif isinstance(value, (list, tuple)):
            for sub in value:
                yield from self._body_secrets(sub)

    def url_for(self, path: str, query: t.Mapping[str, t.Any] | None = None) -> str:
        url = self.base_url + '/' + path.lstrip('/')
        if query:
            url += '?' + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {'Accept': 'application/json'}
        if content_type:
            headers['Content-Type'] = content_type
        if self.token:
            headers['Authorization'] = f'Bearer {self.token}'
        elif self.username is not None and self.password is not None:
            # Sent up front (not after a 401 challenge): the admin APIs answer 401 without a
            # WWW-Authenticate header that urllib's handler would need.
            pair = f'{self.username}:{self.password}'.encode('utf-8')
            headers['Authorization'] = 'Basic ' + base64.b64encode(pair).decode('ascii')
        return headers

    def request(self, method: str, path: str, *, json_body: t.Any = None, form: t.Mapping[str, str] | None = None,
                query: t.Mapping[str, t.Any] | None = None, expect: t.Iterable[int] = (200, 201, 202, 204),
                allow: t.Iterable[int] = ()) -> HttpResponse:
        """Send one request. Statuses in ``expect`` or ``allow`` return; anything else raises HttpError."""
        from ansible.module_utils.urls import open_url  # late: keeps unit tests of helpers import-light
        import urllib.error

        url = self.url_for(path, query)
        data: bytes | None = None
        content_type = None
        self.add_secrets(self._body_secrets(json_body))
        self.add_secrets(self._body_secrets(form))
        if json_body is not None:
            data = json.dumps(json_body).encode('utf-8')
            content_type = 'application/json'
        elif form is not None:
            data = urllib.parse.urlencode(form).encode('utf-8')
            content_type = 'application/x-www-form-urlencoded'
        shown = safe_url(url)
        try:
            handle = open_url(
                url, data=data, headers=self._headers(content_type), method=method,
                timeout=self.timeout, validate_certs=self.validate_certs, ca_path=self.ca_path,
                http_agent=self.user_agent, follow_redirects='safe', use_netrc=False,
            )
            with handle:
                body = handle.read(MAX_BODY + 1)
                if len(body) > MAX_BODY:
                    raise HttpError(f'{method} {shown}: the server answered with more than {MAX_BODY} bytes '
                                    '(check that url points at the product API)',
                                    status=handle.getcode(), method=method, url=shown, cause='protocol')
                response = HttpResponse(handle.getcode() or 200, body, dict(handle.headers.items()))
        except urllib.error.HTTPError as exc:
            try:
                # a prefix only: an endless error body must not keep us reading
                body = exc.read(ERROR_BODY_READ + 1) or b''
            except Exception:  # a stalled error body must not hide the status
                body = b''
            response = HttpResponse(exc.code, body[:ERROR_BODY_READ], dict(exc.headers.items()) if exc.headers else {})
            response.cut = len(body) > ERROR_BODY_READ
            try:
                exc.close()
            except Exception:  # nothing more is read from it either way
                pass
        except (socket.timeout, TimeoutError):
            raise self._timeout(method, shown) from None
        except urllib.error.URLError as exc:
            raise self._network_error(method, shown, _reason(exc)) from None
        except ssl.SSLError as exc:
            raise self._network_error(method, shown, exc) from None
        except (ConnectionError, OSError) as exc:
            raise self._network_error(method, shown, exc) from None
        if response.status in set(expect) | set(allow):
            return response
        if response.status in (301, 302, 303, 307, 308):
            location = self.redact(safe_url(urllib.parse.urljoin(url, response.headers.get('Location', ''))))
            raise HttpError(
                f'{method} {shown}: the server redirects (HTTP {response.status}) to {location}; set url to '
                'the address it redirects to (a redirect is followed only for reads, never for writes)',
                status=response.status, method=method, url=shown, cause='http')
        excerpt = _excerpt(response.body, self.secrets, total=_content_length(response.headers), cut=response.cut)
        raise HttpError(
            status_message(response.status, method, url, excerpt, self.status_hints),
            status=response.status, method=method, url=shown, cause='http', body=excerpt,
        )

    def json(self, method: str, path: str, **kwargs) -> tuple[int, t.Any]:
        """(status, parsed JSON body) of a request; a body that is not JSON raises HttpError."""
        response = self.request(method, path, **kwargs)
        try:
            return response.status, response.json()
        except ValueError:
            raise HttpError(
                f'{method} {safe_url(self.url_for(path))}: the server answered HTTP {response.status} '
                f'with a body that is not JSON: {_excerpt(response.body, self.secrets)!r} (check that url '
                'points at the product, not at a proxy or login page)',
                status=response.status, method=method, url=safe_url(self.url_for(path)), cause='protocol',
            ) from None

    def _timeout(self, method: str, url: str) -> HttpError:
        return HttpError(
            f'{method} {url}: no answer within {self.timeout:g} s (the server accepted the connection or '
            'the network dropped it silently; check that the service is up, or raise timeout)',
            method=method, url=url, cause='timeout',
        )

    def _network_error(self, method: str, url: str, exc: BaseException) -> HttpError:
        host = urllib.parse.urlsplit(url).netloc
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return self._timeout(method, url)
        if isinstance(exc, ConnectionRefusedError):
            return HttpError(f'{method} {url}: connection refused by {host} (nothing listens there; '
                             'check the host and port in url)', method=method, url=url, cause='refused')
        if isinstance(exc, socket.gaierror):
            return HttpError(f'{method} {url}: cannot resolve {host.rsplit(":", 1)[0]} ({exc.strerror or exc}; '
                             'check the host name in url)', method=method, url=url, cause='dns')
        if isinstance(exc, ssl.SSLCertVerificationError) or 'CERTIFICATE_VERIFY_FAILED' in str(exc):
            detail = self.redact(getattr(exc, 'verify_message', None) or str(exc))
            return HttpError(f'{method} {url}: TLS certificate verification failed for {host} ({detail}; '
                             'set ca_path to the CA certificate that signed the server certificate, '
                             'or validate_certs=false only for a test instance)',
                             method=method, url=url, cause='tls')
        if isinstance(exc, ssl.SSLError):
            return HttpError(f'{method} {url}: TLS handshake with {host} failed ({self.redact(str(exc))}; check that url '
                             'uses https only where the server speaks TLS)', method=method, url=url, cause='tls')
        text = self.redact(str(exc))
        if 'timed out' in text:
            return self._timeout(method, url)
        return HttpError(f'{method} {url}: network error talking to {host} ({text})',
                         method=method, url=url, cause='network')


def connection_argument_spec(*, default_username: str | None = None) -> dict[str, t.Any]:
    """Options shared by the API modules (documented in each module)."""
    username: dict[str, t.Any] = {'type': 'str'}
    if default_username:
        username['default'] = default_username
    return {
        'url': {'type': 'str'},
        'url_username': username,
        'url_password': {'type': 'str', 'no_log': True},
        'token': {'type': 'str', 'no_log': True},
        'validate_certs': {'type': 'bool', 'default': True},
        'ca_path': {'type': 'path'},
        'timeout': {'type': 'float', 'default': 30},
    }


def client_from_params(params: t.Mapping[str, t.Any], *, status_hints: t.Mapping[int, str] | None = None) -> HttpClient:
    """A client from the options of connection_argument_spec(); HttpError for unusable options."""
    ca_path = params.get('ca_path')
    if ca_path and not os.path.isfile(ca_path):
        raise HttpError(f'ca_path {ca_path} is not a readable file (it must hold the PEM CA certificate '
                        'that signed the server certificate)', cause='tls')
    timeout = params.get('timeout')
    if timeout is not None and timeout <= 0:
        raise HttpError(f'timeout must be a positive number of seconds, got {timeout:g}', cause='protocol')
    return HttpClient(
        params['url'], username=params.get('url_username'), password=params.get('url_password'),
        token=params.get('token'), validate_certs=params.get('validate_certs', True),
        ca_path=params.get('ca_path'), timeout=params.get('timeout') or 30, status_hints=status_hints,
    )
