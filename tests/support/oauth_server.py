"""A real OAuth 2.0 authorization server on loopback over HTTPS, built with authlib's server side.

    server = OAuthTestServer(cert=pki.good, issuer='https://login.test').start()
    server.add_client('app', 'secret', grants=['client_credentials'], scopes=['smtp.send'])
    rt = server.add_refresh_token('app', user='alice@example.test', scope='smtp.send offline_access')
    server.token_url               # https://127.0.0.1:PORT/tenant/oauth2/v2.0/token
    server.verifier('smtp.send')   # for SMTPTestServer(token_verifier=...): checks signature, expiry, scope
    server.issued                  # every token response the server sent (access and refresh tokens)
    server.requests                # every form it received (to prove what a client sent)
    server.stop()

authlib's rfc6749 AuthorizationServer with its ClientCredentialsGrant and RefreshTokenGrant does
the protocol (client authentication by client_secret_basic or _post, grant and scope checks, the
RFC 6749 error responses); access tokens are JWTs (RFC 9068, authlib's JWTBearerTokenGenerator)
signed with an EC P-256 key through joserfc. What the tests vary:
- a wrong client secret -> invalid_client, an unknown, expired or revoked refresh token ->
  invalid_grant (authlib's grants), a scope the client was not granted -> invalid_scope;
- `consent=False` on a client answers like Microsoft Entra without admin consent
  (invalid_grant, "AADSTS65001: ...");
- `token_ttl` per client (a negative one issues tokens that are already expired).
"""
from __future__ import annotations

import json
import ssl
import threading
import time
import typing as t
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request, TokenMixin
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.support.ports import free_port

__all__ = ['OAuthTestServer', 'Client', 'RefreshToken', 'AUDIENCE']

AUDIENCE = 'https://smtp.test'
_MAX_FORM = 64 * 1024


@dataclass
class Client(ClientMixin):
    client_id: str
    secret: str
    grants: list[str]
    scopes: list[str]
    consent: bool = True
    token_ttl: int = 3600

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ' '.join(self.scopes)
        return ' '.join(s for s in scope_to_list(scope) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        import hmac

        return hmac.compare_digest(self.secret.encode(), (client_secret or '').encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ('client_secret_basic', 'client_secret_post')

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in self.grants


@dataclass
class RefreshToken(TokenMixin):
    value: str
    client_id: str
    user: str
    scope: str
    expires_at: float
    revoked: bool = False

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int(self.expires_at - time.time())

    def is_expired(self):
        return time.time() >= self.expires_at

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return _User(self.user)

    def get_client(self):
        return None


@dataclass
class _User:
    name: str

    def get_user_id(self):
        return self.name


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: dict, form: dict):
        super().__init__(method, uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self):
        return {}

    @property
    def form(self):
        return self._form


def _consented(grant) -> None:
    client = grant.request.client
    if client is not None and not client.consent:
        raise InvalidGrantError(description="AADSTS65001: The user or administrator has not consented to use the "
                                            f"application with ID '{client.client_id}'. Send an interactive "
                                            'authorization request for this user and resource.')


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

    def validate_token_request(self):
        super().validate_token_request()
        _consented(self)
        client = self.request.client
        refused = [s for s in scope_to_list(self.request.payload.scope) or [] if s not in client.scopes]
        if refused:
            raise InvalidScopeError(description=f"The scope {' '.join(refused)} is not granted to client "
                                                f"'{client.client_id}'.")


class _Refresh(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post']
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        token = self.server.owner.refresh_tokens.get(refresh_token)
        if token is None or token.is_expired() or token.is_revoked():
            return None
        return token

    def authenticate_user(self, refresh_token):
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token):
        pass  # like Microsoft: the old refresh token stays valid until it expires

    def validate_token_request(self):
        super().validate_token_request()
        _consented(self)


class _Tokens(JWTBearerTokenGenerator):
    def __init__(self, owner: OAuthTestServer):
        super().__init__(owner.issuer, alg='ES256', refresh_token_generator=owner._new_refresh_token,
                         expires_generator=lambda client, grant_type: client.token_ttl)
        self.owner = owner

    def get_jwks(self):
        return self.owner.key

    def get_audiences(self, client, user, scope):
        return AUDIENCE


class _AuthorizationServer(AuthorizationServer):
    def __init__(self, owner: OAuthTestServer):
        super().__init__()
        self.owner = owner

    def query_client(self, client_id):
        return self.owner.clients.get(client_id)

    def save_token(self, token, request):
        self.owner.issued.append(dict(token))

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        return status, body, headers

    def send_signal(self, name, *args, **kwargs):
        pass


class OAuthTestServer:
    """The authorization server and its HTTPS listener; see the module docstring."""

    def __init__(self, *, cert, host: str = '127.0.0.1', port: int | None = None,
                 issuer: str = 'https://login.test/tenant/v2.0', path: str = '/tenant/oauth2/v2.0/token'):
        self.cert = cert
        self.host = host
        self.port = port or free_port(host)
        self.issuer = issuer
        self.path = path
        self.key = ECKey.generate_key('P-256', private=True)
        self.public_key = ECKey.import_key(self.key.as_dict(private=False))
        self.clients: dict[str, Client] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.issued: list[dict[str, t.Any]] = []
        self.requests: list[dict[str, str]] = []
        self._rotations = 0
        self._lock = threading.Lock()
        self.authorization = _AuthorizationServer(self)
        self.authorization.register_grant(_ClientCredentials)
        self.authorization.register_grant(_Refresh)
        self.authorization.register_token_generator('default', _Tokens(self))
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def token_url(self) -> str:
        return f'https://{self.host}:{self.port}{self.path}'

    def add_client(self, client_id: str, secret: str, *, grants: t.Iterable[str], scopes: t.Iterable[str],
                   consent: bool = True, token_ttl: int = 3600) -> Client:
        client = Client(client_id, secret, list(grants), list(scopes), consent=consent, token_ttl=token_ttl)
        self.clients[client_id] = client
        return client

    def add_refresh_token(self, client_id: str, *, user: str, scope: str, value: str | None = None,
                          lifetime: float = 90 * 86400, revoked: bool = False) -> str:
        import secrets

        value = value or secrets.token_urlsafe(32)
        self.refresh_tokens[value] = RefreshToken(value, client_id, user, scope, time.time() + lifetime, revoked)
        return value

    def _new_refresh_token(self, client, grant_type, user, scope):
        with self._lock:
            self._rotations += 1
            value = f'Canary-Rotated-Refresh-{self._rotations}-{time.time_ns()}'
        self.refresh_tokens[value] = RefreshToken(value, client.client_id, user.get_user_id() if user else '',
                                                  scope or '', time.time() + 86400)
        return value

    def access_tokens(self) -> list[str]:
        return [token['access_token'] for token in self.issued if 'access_token' in token]

    # --- the resource server's side: what the SMTP relay checks -----------------------------

    def verify(self, token: str, *, user: str | None = None, scope: str | None = None) -> tuple[str, str | None]:
        """('ok', None), or ('401', reason) / ('403', reason): signature, issuer, audience, expiry, scope."""
        try:
            decoded = jwt.decode(token, self.public_key, algorithms=['ES256'])
        except Exception as exc:  # a forged or damaged token
            return '401', f'signature: {exc.__class__.__name__}'
        claims = decoded.claims
        if decoded.header.get('typ') != 'at+jwt':
            return '401', 'not an access token'
        registry = jwt.JWTClaimsRegistry(iss={'essential': True, 'value': self.issuer},
                                         aud={'essential': True, 'value': AUDIENCE},
                                         exp={'essential': True})
        try:
            registry.validate(claims)
        except Exception as exc:
            return '401', f'claims: {exc.__class__.__name__}'
        if user is not None and claims.get('sub') not in (user, claims.get('client_id')):
            return '401', 'token is for another user'
        if scope is not None and scope not in str(claims.get('scope') or '').split():
            return '403', f'scope {scope} missing'
        return 'ok', None

    def verifier(self, scope: str | None) -> t.Callable[[str, str], tuple[str, str | None]]:
        """A check for SMTPTestServer(token_verifier=...): (user, token) -> verify(...)."""
        return lambda user, token: self.verify(token, user=user, scope=scope)

    # --- HTTP --------------------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, dict]:
        if urllib.parse.urlsplit(path).path != self.path:
            return 404, {'error': 'not_found'}, {}
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode('utf-8', 'replace'),
                                                           keep_blank_values=True).items()}
        self.requests.append(dict(form, _authorization=headers.get('Authorization', '')))
        request = _Request(method, f'https://{self.host}:{self.port}{path}', headers, form)
        status, payload, response_headers = self.authorization.create_token_response(request)
        return status, payload, dict(response_headers or [])

    def start(self) -> OAuthTestServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = min(int(self.headers.get('Content-Length') or 0), _MAX_FORM)
                body = self.rfile.read(length)
                status, payload, headers = owner._handle('POST', self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                headers.setdefault('Content-Type', 'application/json')
                for key, value in headers.items():
                    if key.lower() != 'content-length':
                        self.send_header(key, value)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        cert_file, key_file = (self.cert.cert_file, self.cert.key_file) if hasattr(self.cert, 'cert_file') else self.cert
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name='oauth-server')
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OAuthTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
