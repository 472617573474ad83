# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Bitbucket Server / Data Center mail server through its REST admin resource.

The contract (Bitbucket Data Center REST API, group "System Maintenance"):

* ``GET /rest/api/latest/admin/mail-server`` -> 200 ``RestMailConfiguration`` or 404 when no mail
  server is configured; ``PUT`` the same path with a ``RestMailConfiguration`` body -> 200 with the
  updated configuration, 400 on a validation error; ``DELETE`` -> 204. All need SYS_ADMIN; the
  documented refusal is 401.
* ``RestMailConfiguration`` fields: ``hostname``, ``port``, ``protocol`` (``SMTP`` | ``SMTPS``),
  ``useStartTls``, ``requireStartTls``, ``username``, ``password``, ``senderAddress``.
* ``/rest/api/latest/admin/mail-server/sender-address``: GET / PUT (a JSON string) / DELETE of the
  "Email from" address on its own (ADMIN permission).
* The password is write-only: the server never tells us what it holds, so it cannot be compared.

Choices where the documentation is silent (stated in the module documentation too):

* "Always use SSL/TLS" (tls ``required``) is written as ``useStartTls: true`` *and*
  ``requireStartTls: true`` (JavaMail only honours starttls.required with starttls.enable), and
  read back as "required" whenever ``requireStartTls`` is true.
* Anonymous relays are written with explicit ``username: null`` / ``password: null`` so a stored
  credential is cleared whether PUT replaces or merges.
* The password is sent with every write. ``update_password`` only decides whether a run writes
  when nothing else differs: ``always`` writes (and reports changed) on every run, ``on_create``
  writes the password only when the mail server is created or another field changes.
"""

from __future__ import annotations

import copy
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpClient, client_from_params
from ansible_collections.mailwright.smtp.plugins.module_utils._render.api import diff_scalar, run_api
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED

__all__ = [
    'MAIL_SERVER_PATH',
    'SENDER_ADDRESS_PATH',
    'BitbucketError',
    'desired_config',
    'normalise_current',
    'differences',
    'render_diff',
    'ensure',
    'ensure_mail_server',
    'run',
    'client_for',
]

MAIL_SERVER_PATH = '/rest/api/latest/admin/mail-server'
SENDER_ADDRESS_PATH = MAIL_SERVER_PATH + '/sender-address'

# Bitbucket answers 401 where other servers answer 403 (documented: "insufficient permissions").
STATUS_HINTS = {
    401: 'check url_username/url_password or token; the account must have SYS_ADMIN permission '
         '(Bitbucket answers 401 both for bad credentials and for a missing permission)',
    404: 'check url: it must be the Bitbucket base URL including any context path, e.g. '
         'https://bitbucket.example.com or https://example.com/bitbucket',
}

# Fields compared between desired and current, in display order.
_COMPARED = ('hostname', 'port', 'protocol', 'tls', 'username', 'senderAddress')


class BitbucketError(MailwrightError):
    """A problem with the settings for Bitbucket (not with the network)."""

    kind = 'invalid'


def desired_config(effective: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The RestMailConfiguration body for the effective settings (password included)."""
    server, auth, sender = effective['server'], effective['auth'], effective['sender']
    if auth['method'] == 'oauth2':
        # Bitbucket 10's resource has authType OAUTH2 with oauth2ProviderId and tokenId, but the token
        # only exists after an administrator authorized Bitbucket in a browser, and neither id is
        # documented beyond its name: nothing a playbook can supply. The settings stay the contract.
        from ansible_collections.mailwright.smtp.plugins.module_utils._render.oauth2 import refusal

        raise BitbucketError(refusal(effective, 'the Bitbucket REST mail-server resource (its OAuth 2.0 fields '
                                                'name a token Bitbucket obtains itself, a manual step)')
                             + '; or use auth.method basic')
    smtps = server['protocol'] == 'smtps'
    tls = 'required' if smtps else server['tls']
    body: dict[str, t.Any] = {
        'hostname': server['host'],
        'port': int(server['port']),
        'protocol': 'SMTPS' if smtps else 'SMTP',
        # STARTTLS flags only mean something for SMTP; SMTPS is TLS from the first byte.
        'useStartTls': (not smtps) and tls in ('opportunistic', 'required'),
        'requireStartTls': (not smtps) and tls == 'required',
        'senderAddress': sender['from_address'],
    }
    if auth['method'] == 'basic':
        body['username'] = auth['username']
        body['password'] = auth['password']
    else:
        body['username'] = None
        body['password'] = None
    return body


def _tls_mode(config: t.Mapping[str, t.Any]) -> str:
    if str(config.get('protocol') or 'SMTP').upper() == 'SMTPS':
        return 'smtps'
    if config.get('requireStartTls'):
        return 'required'
    if config.get('useStartTls'):
        return 'opportunistic'
    return 'none'


def _comparable(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    port = config.get('port')
    try:
        port = int(port) if port not in (None, '') else 25  # the documented default when unset
    except (TypeError, ValueError):
        pass
    return {
        'hostname': (config.get('hostname') or '').strip().lower(),
        'port': port,
        'protocol': str(config.get('protocol') or 'SMTP').upper(),
        'tls': _tls_mode(config),
        'username': config.get('username') or None,
        'senderAddress': (config.get('senderAddress') or '').strip().lower() or None,
    }


def normalise_current(config: t.Any, sender_address: t.Any = None) -> dict[str, t.Any] | None:
    """The server's configuration without the password, or None when none is configured."""
    if not isinstance(config, dict) or not config.get('hostname'):
        return None
    current = {k: v for k, v in config.items() if k != 'password'}
    if not current.get('senderAddress') and isinstance(sender_address, str) and sender_address:
        current['senderAddress'] = sender_address
    return current


def differences(desired: t.Mapping[str, t.Any], current: t.Mapping[str, t.Any] | None) -> list[str]:
    """Names of the compared fields that differ (the password cannot be compared)."""
    if current is None:
        return list(_COMPARED)
    want, have = _comparable(desired), _comparable(current)
    return [name for name in _COMPARED if want[name] != have[name]]


def _display(config: t.Mapping[str, t.Any] | None, *, password: str) -> str:
    """Lines for --diff; ``password`` is what to show for it (never the value)."""
    if config is None:
        return ''
    lines = []
    for key in ('hostname', 'port', 'protocol', 'useStartTls', 'requireStartTls', 'username', 'senderAddress'):
        lines.append(f'{key}: {diff_scalar(config.get(key))}')
    lines.append(f'password: {password}')
    return '\n'.join(lines) + '\n'


def render_diff(before: t.Mapping[str, t.Any] | None, after: t.Mapping[str, t.Any] | None,
                *, password_written: bool) -> dict[str, str]:
    before_pw = '(write-only, not readable)' if before is not None else ''
    if after is None:
        after_pw = ''
    elif after.get('password') is None:
        after_pw = 'null'
    else:
        after_pw = REDACTED + (' (written)' if password_written else ' (unchanged, not compared)')
    return {
        'before_header': MAIL_SERVER_PATH,
        'after_header': MAIL_SERVER_PATH,
        'before': _display(before, password=before_pw),
        'after': _display(after, password=after_pw),
    }


def _public(config: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    """A configuration fit for the result: the password replaced by a placeholder."""
    if config is None:
        return None
    shown = copy.deepcopy(dict(config))
    if shown.get('password') is not None:
        shown['password'] = REDACTED
    else:
        shown.pop('password', None)
    return shown


def read_current(client: HttpClient) -> dict[str, t.Any] | None:
    status, config = client.json('GET', MAIL_SERVER_PATH, allow=(404,))
    if status == 404:
        return None
    sender = None
    if isinstance(config, dict) and not config.get('senderAddress'):
        # Older servers may keep "Email from" only in its own sub-resource.
        s_status, sender = client.json('GET', SENDER_ADDRESS_PATH, allow=(404,))
        if s_status == 404:
            sender = None
    return normalise_current(config, sender)


def _manual_steps(effective: t.Mapping[str, t.Any]) -> list[str]:
    """Settings this API cannot apply, each with where it belongs instead: for a person to do."""
    notes = []
    sender, server = effective['sender'], effective['server']
    if sender.get('from_name') or sender.get('subject_prefix'):
        notes.append('sender.from_name and sender.subject_prefix: Bitbucket has no such mail settings; '
                     'they are not applied')
    if server.get('timeout_ms') is not None:
        notes.append('server.timeout_ms: Bitbucket reads mail timeouts from bitbucket.properties '
                     '(mail.timeout.* keys, see the mail_properties module), not from this API')
    if server.get('helo_domain'):
        notes.append('server.helo_domain: not part of the Bitbucket mail-server resource')
    return notes


def ensure(client: HttpClient, effective: t.Mapping[str, t.Any] | None, *, state: str = 'present',
           update_password: str = 'on_create', check_mode: bool = False) -> dict[str, t.Any]:
    """Make the server match; returns the module result (no secret in it)."""
    requests: list[str] = []
    current = read_current(client)
    requests.append(f'GET {MAIL_SERVER_PATH}')
    result: dict[str, t.Any] = {'changed': False, 'state': state, 'requests': requests,
                                'before': _public(current), 'differences': [], 'password_written': False,
                                'manual_steps': []}

    if state == 'absent':
        result['mail_server'] = None
        result['diff'] = render_diff(current, None, password_written=False)
        if current is None:
            return result
        result['changed'] = True
        result['differences'] = ['mail server configured']
        if not check_mode:
            client.request('DELETE', MAIL_SERVER_PATH, expect=(200, 204), allow=(404,))
            requests.append(f'DELETE {MAIL_SERVER_PATH}')
            client.request('DELETE', SENDER_ADDRESS_PATH, expect=(200, 204), allow=(404,))
            requests.append(f'DELETE {SENDER_ADDRESS_PATH}')
        return result

    if effective is None:
        raise BitbucketError('settings are required for state=present')
    desired = desired_config(effective)
    client.add_secrets([desired.get('password')])  # it travels in the PUT body
    result['manual_steps'] = _manual_steps(effective)
    diffs = differences(desired, current)
    creating = current is None
    has_password = desired.get('password') is not None
    write = bool(diffs) or (has_password and update_password == 'always')
    if not diffs and write:
        diffs = ['password (update_password=always)']
    result['differences'] = diffs
    result['created'] = creating and write
    result['mail_server'] = _public(desired)
    result['password_written'] = write and has_password
    result['diff'] = render_diff(current, desired if write else current, password_written=write and has_password)
    if not write:
        result['mail_server'] = _public(current)
        return result
    result['changed'] = True
    if check_mode:
        return result
    dummy, answer = client.json('PUT', MAIL_SERVER_PATH, json_body=desired, expect=(200, 201, 204))
    requests.append(f'PUT {MAIL_SERVER_PATH}')
    if isinstance(answer, dict) and answer.get('hostname'):
        stored = normalise_current(answer) or dict(desired)
        stored['password'] = desired.get('password')
        result['mail_server'] = _public(stored)
        if not answer.get('senderAddress') and desired['senderAddress']:
            # The answer lacks "Email from": set it through its own resource.
            client.request('PUT', SENDER_ADDRESS_PATH, json_body=desired['senderAddress'], expect=(200, 201, 204))
            requests.append(f'PUT {SENDER_ADDRESS_PATH}')
    return result


def run(client: HttpClient, effective, *, diff: bool = True, **kwargs) -> dict[str, t.Any]:
    """The backend of bitbucket_mail_server: ensure() through the shared API wrapper."""
    return run_api(ensure, client, effective, diff=diff, **kwargs)


def client_for(params: t.Mapping[str, t.Any]) -> HttpClient:
    """The API client from the connection options (mailwright.smtp.api)."""
    # An unusable option raises HttpError before any request, so its result has no `http` key.
    return client_from_params(params, status_hints=STATUS_HINTS)


def ensure_mail_server(params: t.Mapping[str, t.Any], effective: t.Mapping[str, t.Any] | None, *,
                       check_mode: bool = False, diff: bool = False, wire_secrets: set[str]) -> dict[str, t.Any]:
    """The backend of bitbucket_mail_server. Every form a credential took on the wire goes into
    `wire_secrets`, failed or not, so the module can have Ansible mask those too."""
    client = client_for(params)
    try:
        return run(client, effective, state=params['state'], update_password=params['update_password'],
                   check_mode=check_mode, diff=diff)
    finally:
        wire_secrets.update(client.secrets)
