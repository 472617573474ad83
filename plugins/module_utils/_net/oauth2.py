# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""OAuth 2.0 access tokens for SMTP: obtained at run time, held in memory, never shown.

A test send or credential check in a playbook cannot use a token fetched by hand: tokens live
about an hour. So the settings name a grant (RFC 6749 client_credentials or refresh_token) and
this file asks the provider's token endpoint for a token, over HTTPS through the project's one
HTTP client (_net.http: system CAs, or the module option token_ca_path; certificates are always
verified), with the settings' timeout and a bounded answer. Nothing is written to disk.

The endpoint's own errors (invalid_client, invalid_grant, invalid_scope, Microsoft's AADSTS
codes such as 65001 for missing consent) become messages that name the field to fix. Every
value that stands for a credential (client secret, refresh token, access token, the SASL strings
XOAUTH2 and OAUTHBEARER built from it, each raw, base64, percent- and JSON-escaped) is handed to
the caller's `register` callback before anything can be printed, so Ansible's no_log and the SMTP
transcript scrub them.
"""

from __future__ import annotations

import base64
import json
import re
import typing as t
import urllib.parse
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import encoded_forms, redact_text

__all__ = ['AccessToken', 'OAuth2Error', 'obtain_token', 'xoauth2_string', 'oauthbearer_string',
           'sasl_secret_forms', 'secret_forms', 'explain_challenge', 'MAX_TOKEN_RESPONSE']

# A token response is a few kilobytes (a Microsoft JWT is about 2 KiB); more is not a token endpoint.
MAX_TOKEN_RESPONSE = 64 * 1024
_MAX_TOKEN = 16 * 1024
_MAX_DESCRIPTION = 600
_AADSTS = re.compile(r'\bAADSTS(\d{5,7})\b')


class OAuth2Error(MailwrightError):
    """The token could not be obtained; `error` is the endpoint's RFC 6749 error code, if any."""

    def __init__(self, message: str, *, kind: str = 'server', error: str | None = None, status: int | None = None):
        super().__init__(message, kind=kind, step='token', oauth2_error=error, http_status=status)
        self.error = error
        self.status = status


@dataclass
class AccessToken:
    token: str = field(repr=False)
    token_type: str
    expires_in: int | None
    scope: list[str] | None
    url: str

    def summary(self) -> dict[str, t.Any]:
        """What a result may say about the token: never the token."""
        return {'token_url': self.url, 'token_type': self.token_type, 'expires_in': self.expires_in,
                'scope': self.scope}


def xoauth2_string(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (Google, Microsoft), before base64."""
    return f'user={username}\x01auth=Bearer {token}\x01\x01'


def _gs2_name(username: str) -> str:
    return username.replace('=', '=3D').replace(',', '=2C')


def oauthbearer_string(username: str, token: str, host: str, port: int) -> str:
    """The RFC 7628 OAUTHBEARER initial client response, before base64."""
    return f'n,a={_gs2_name(username)},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01'


def secret_forms(value: str | None) -> list[str]:
    """A secret and the spellings it takes in requests, replies and logs (raw, base64, escaped)."""
    if not value:
        return []
    raw = value.encode('utf-8')
    forms = [value, *encoded_forms(value)]
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode('ascii')
        forms += [text, text.rstrip('=')]
    return list(dict.fromkeys(f for f in forms if f))


def sasl_secret_forms(username: str, token: str, host: str = '', port: int = 0) -> list[str]:
    """The token, `Bearer <token>`, and both SASL strings with their base64, in every spelling."""
    forms = secret_forms(token) + secret_forms(f'Bearer {token}')
    forms += secret_forms(xoauth2_string(username, token))
    if host:
        forms += secret_forms(oauthbearer_string(username, token, host, port))
    return list(dict.fromkeys(forms))


def explain_challenge(text: str) -> str:
    """The relay's base64 JSON error challenge (XOAUTH2, OAUTHBEARER) in words; '' if it is none."""
    try:
        data = json.loads(base64.b64decode(text.strip(), validate=True).decode('utf-8', 'replace'))
    except ValueError:
        return ''
    if not isinstance(data, dict):
        return ''
    status = str(data.get('status', ''))
    scope = data.get('scope')
    words = {'400': 'the relay could not read the token request',
             '401': 'the relay did not accept the token (expired, for another audience, or not signed by the provider)',
             '403': 'the token lacks the permission the relay needs'}.get(status, 'the relay refused the token')
    detail = f'{words} (status {status or "?"}'
    if scope:
        detail += f', needs scope {scope}'
    return detail + ')'


_HINTS = {
    'invalid_client': 'the token endpoint did not accept the client: check auth.oauth2.client_id and '
                      'auth.oauth2.client_secret (a client secret expires; create a new one in the app registration)',
    'invalid_grant': 'the grant was refused',
    'invalid_scope': 'the provider refused the scopes {scopes}: check auth.oauth2.scopes (Microsoft with '
                     'client_credentials: https://outlook.office365.com/.default; Microsoft delegated: '
                     'https://outlook.office.com/SMTP.Send offline_access; Google: https://mail.google.com/), and '
                     'that the app registration has the matching API permission',
    'unauthorized_client': 'the client may not use grant_type {grant}: allow it in the app registration, or use '
                           'the other grant_type',
    'unsupported_grant_type': 'the token endpoint does not offer grant_type {grant}: check auth.oauth2.token_url '
                              'and grant_type',
    'invalid_request': 'the token endpoint could not use the request: check auth.oauth2.token_url, tenant and '
                       'client_id',
    'access_denied': 'the authorization was denied: an administrator must allow the app',
}
# Microsoft Entra codes (AADSTS...) that say more than the RFC 6749 error they come with.
_AAD_HINTS = {
    '65001': 'consent missing: an administrator must grant admin consent for the app registration\'s API '
             'permissions (Entra admin center > App registrations > API permissions > Grant admin consent; for '
             'client_credentials the Office 365 Exchange Online application permission SMTP.SendAsApp)',
    '7000215': 'the client secret is wrong: check auth.oauth2.client_secret (use the secret\'s value, not its ID)',
    '7000222': 'the client secret has expired: create a new one in the app registration and update '
               'auth.oauth2.client_secret',
    '700016': 'no application with this client ID in the tenant: check auth.oauth2.client_id and tenant',
    '90002': 'the tenant does not exist: check auth.oauth2.tenant',
    '70008': 'the refresh token has expired: sign in again in a browser and update auth.oauth2.refresh_token',
    '700082': 'the refresh token has expired after 90 days without use: sign in again in a browser and update '
              'auth.oauth2.refresh_token',
    '50173': 'the refresh token was revoked (a password change or an administrator): sign in again in a browser '
             'and update auth.oauth2.refresh_token',
    '70011': 'the scope is not valid for this grant: check auth.oauth2.scopes',
}


def _hint(error: str, description: str, grant: str, scopes: list[str]) -> str:
    code = _AADSTS.search(description)
    if code and code.group(1) in _AAD_HINTS:
        return _AAD_HINTS[code.group(1)]
    if error == 'invalid_grant':
        if grant == 'refresh_token':
            return ('the refresh token is expired, revoked or for another client: sign in again in a browser and '
                    'update auth.oauth2.refresh_token (and check client_id)')
        return 'the grant was refused: check auth.oauth2.client_id, client_secret and tenant'
    if error == 'invalid_client' and grant == 'refresh_token':
        return _HINTS['invalid_client'] + ' (a refresh token is bound to the client it was issued to)'
    hint = _HINTS.get(error)
    if hint is None:
        return 'see the provider\'s description'
    return hint.format(scopes=' '.join(scopes) or '(none)', grant=grant)


def _form(oauth: t.Mapping[str, t.Any]) -> dict[str, str]:
    grant = oauth['grant_type']
    form = {'grant_type': grant, 'client_id': oauth.get('client_id') or ''}
    if oauth.get('client_secret'):
        form['client_secret'] = oauth['client_secret']  # client_secret_post: both Microsoft and Google take it
    if grant == 'refresh_token':
        form['refresh_token'] = oauth.get('refresh_token') or ''
    if oauth.get('scopes'):
        form['scope'] = ' '.join(oauth['scopes'])
    return form


def _split(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != 'https' or not parts.hostname:
        raise OAuth2Error(f'auth.oauth2.token_url must be an https URL, got {parts.scheme or "no"} scheme',
                          kind='invalid')
    if parts.username is not None or parts.password is not None:
        raise OAuth2Error('auth.oauth2.token_url must not carry user-info: the client is identified by client_id '
                          'and client_secret', kind='invalid')
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    return f'{parts.scheme}://{parts.netloc}', path


def obtain_token(oauth: t.Mapping[str, t.Any], *, timeout: float, ca_path: str | None = None,
                 register: t.Callable[[list[str]], None] | None = None) -> AccessToken:
    """Ask auth.oauth2.token_url for an access token with the effective settings' grant.

    `register` receives every secret spelling before any request is made, and the token's forms
    as soon as it arrives. Raises OAuth2Error (step token) naming what to fix.
    """
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpClient, HttpError

    grant = oauth.get('grant_type')
    url = oauth.get('token_url')
    if grant not in ('client_credentials', 'refresh_token'):
        raise OAuth2Error(f'auth.oauth2.grant_type must be client_credentials or refresh_token, got {grant!r}',
                          kind='invalid')
    if not url:
        raise OAuth2Error('auth.oauth2.token_url is unknown: set it, or provider and tenant', kind='invalid')
    secrets = secret_forms(oauth.get('client_secret')) + secret_forms(oauth.get('refresh_token'))
    if register is not None:
        register(secrets)
    base, path = _split(url)
    scopes = list(oauth.get('scopes') or [])
    shown = f'{base}{urllib.parse.urlsplit(url).path}'
    try:
        client = HttpClient(base, ca_path=ca_path, timeout=timeout, validate_certs=True)
        response = client.request('POST', path, form=_form(oauth), expect=(200,), allow=(400, 401, 403))
    except HttpError as exc:
        # The HTTP client names its own option; here the CA bundle is the module option token_ca_path.
        message = redact_text(str(exc), secrets).replace('set ca_path to', 'set the module option token_ca_path to')
        raise OAuth2Error(f'token request to {shown} failed: {message}', kind=exc.kind, status=exc.status) from None
    if len(response.body) > MAX_TOKEN_RESPONSE:
        raise OAuth2Error(f'token endpoint {shown} answered with more than {MAX_TOKEN_RESPONSE} bytes: '
                          'check auth.oauth2.token_url', kind='invalid', status=response.status)
    try:
        data = json.loads(response.body.decode('utf-8', 'replace'))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OAuth2Error(f'token endpoint {shown} answered HTTP {response.status} without a JSON object: check '
                          'auth.oauth2.token_url (it must be the provider\'s token endpoint)', status=response.status)
    if response.status != 200:
        error = str(data.get('error') or 'unknown_error')[:64]
        description = redact_text(str(data.get('error_description') or ''), secrets)
        description = ' '.join(description.split())[:_MAX_DESCRIPTION]
        hint = _hint(error, description, grant, scopes)
        raise OAuth2Error(f'token endpoint {shown} refused the {grant} grant: {error}'
                          + (f' ({description})' if description else '') + f'. Fix: {hint}',
                          error=error, status=response.status)
    token = data.get('access_token')
    token_type = str(data.get('token_type') or '')
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN or any(c in token for c in '\r\n\x01 '):
        raise OAuth2Error(f'token endpoint {shown} answered without a usable access_token', status=200)
    if register is not None:
        rotated = data.get('refresh_token')  # a new refresh token is not kept, but never shown either
        register(secret_forms(token) + secret_forms(rotated if isinstance(rotated, str) else None))
    if token_type.lower() != 'bearer':
        raise OAuth2Error(f'token endpoint {shown} issued a {token_type or "typeless"} token; SMTP needs a Bearer '
                          'token', status=200)
    expires = data.get('expires_in')
    scope = data.get('scope')
    return AccessToken(token=token, token_type='Bearer',
                       expires_in=int(expires) if isinstance(expires, (int, str)) and str(expires).isdigit() else None,
                       scope=scope.split() if isinstance(scope, str) else None, url=shown)
