# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""GitHub Enterprise Server outgoing mail (the ``smtp`` settings object).

Two HTTP APIs carry the same settings object (GitHub's published REST description, ``smtp``:
``enabled``, ``address``, ``authentication``, ``port`` (a string), ``domain``, ``username``,
``user_name``, ``enable_starttls_auto``, ``password``, ``discard-to-noreply-address`` (spelled with
hyphens in the published schema), ``support_address``, ``support_address_type``,
``noreply_address``):

* ``manage`` - the Manage GHES API (complete since GHES 3.12, the only one from 3.15):
  ``GET|PUT /manage/v1/config/settings`` (JSON, PUT answers 204 and takes only the settings to
  change), ``POST /manage/v1/config/apply`` (``{"run_id": ...}``, answers 202) and
  ``GET /manage/v1/config/apply?run_id=...`` (``running``, ``successful``, ``nodes``).
  Basic authentication as ``api_key`` with the root site administrator password (or a
  Management Console user).
* ``management_console`` - the Management Console API (GHES up to 3.14, removed in 3.15):
  ``GET /setup/api/settings`` (``{"enterprise": {..., "smtp": {...}}, "run_list": [...]}``),
  ``PUT /setup/api/settings`` with the form field ``settings`` holding a JSON string
  (``{"enterprise": {"smtp": {...}}}``, answers 204), ``POST /setup/api/configure`` (202) and
  ``GET /setup/api/configcheck`` (``status`` plus per-step ``progress``). Authentication with the
  Management Console password as ``api_key``.

Over SSH the same keys are ``ghe-config smtp.<key> <value>`` followed by ``ghe-config-apply``.

Choices where the documentation is silent (also in the module documentation):

* ``authentication`` is ``auth.mechanism`` (plain, login, cram_md5), ``login`` for basic auth
  without a mechanism, and null for an anonymous relay.
* Both ``username`` and ``user_name`` are written (the schema lists both).
* ``support_address_type`` is ``url`` for an http(s) link, else ``email``.
* A password the server does return (and not as a mask) is compared in memory; otherwise it is
  write-only and ``update_password`` decides, as for Bitbucket.
* ``ghe-config`` key names other than ``smtp.noreply-address`` and ``smtp.support-address`` (seen in
  ``ghe-config -l`` output) are derived from the API names with ``_`` as ``-``; unset values use
  ``ghe-config --unset`` (ghe-config is git-config style).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import time
import typing as t
import uuid

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpClient, HttpError, client_from_params
from ansible_collections.mailwright.smtp.plugins.module_utils._render.api import diff_scalar, run_api
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED

__all__ = [
    'APIS',
    'GhesError',
    'desired_smtp',
    'differences',
    'ghe_config_commands',
    'render',
    'run_render',
    'ensure_smtp',
    'client_for',
    'GhesApi',
    'wait_for_apply',
    'ensure',
    'run',
]

APIS = ('manage', 'management_console')
DISCARD_KEY = 'discard-to-noreply-address'

STATUS_HINTS = {
    401: 'check url_username/url_password: the Manage API takes basic authentication as user api_key '
         'with the root site administrator password (or a Management Console user); the Management '
         'Console API takes the Management Console password',
    404: 'check url (https://HOSTNAME:8443 or http://HOSTNAME:8080) and api: the Manage API settings '
         'endpoints need GHES 3.12 or later (api=manage), the Management Console API was removed in '
         'GHES 3.15 (api=management_console up to 3.14)',
}

# Compared keys, in display order (the password is handled on its own).
_COMPARED = ('enabled', 'address', 'port', 'domain', 'authentication', 'username',
             'enable_starttls_auto', 'noreply_address', DISCARD_KEY, 'support_address',
             'support_address_type')
_CASE_INSENSITIVE = {'address', 'noreply_address', 'authentication', 'support_address_type'}

# API key -> ghe-config key (only the spelling differs).
GHE_CONFIG_KEYS = {
    'enabled': 'smtp.enabled',
    'address': 'smtp.address',
    'port': 'smtp.port',
    'domain': 'smtp.domain',
    'authentication': 'smtp.authentication',
    'username': 'smtp.username',
    'password': 'smtp.password',
    'enable_starttls_auto': 'smtp.enable-starttls-auto',
    'noreply_address': 'smtp.noreply-address',
    DISCARD_KEY: 'smtp.discard-to-noreply-address',
    'support_address': 'smtp.support-address',
    'support_address_type': 'smtp.support-address-type',
}


class GhesError(MailwrightError):
    """A problem with the settings or with a configuration run (not a transport error).

    kind 'invalid' for settings GHES cannot take; a configuration run that failed or did not end
    in time, or an answer of the wrong shape, is raised with kind 'server'.
    """

    kind = 'invalid'


def _support_type(support: str | None) -> str | None:
    if not support:
        return None
    return 'url' if support.lower().startswith(('http://', 'https://')) else 'email'


def desired_smtp(effective: t.Mapping[str, t.Any], *, state: str = 'present') -> dict[str, t.Any]:
    """The ``smtp`` object for the effective settings (password included)."""
    if state == 'absent':
        return {'enabled': False}
    server, auth, sender = effective['server'], effective['auth'], effective['sender']
    if auth['method'] == 'oauth2':
        raise GhesError('auth.method oauth2: GitHub Enterprise Server has no OAuth 2.0 SMTP '
                        'authentication; use auth.method basic (plain, login or cram_md5)')
    if not sender.get('noreply_address'):
        raise GhesError('sender.noreply_address is required for GitHub Enterprise Server (the From and '
                        'To address of notification mail)')
    mechanism = None
    username = password = None
    if auth['method'] == 'basic':
        mechanism = auth.get('mechanism') or 'login'
        if mechanism not in ('plain', 'login', 'cram_md5'):
            raise GhesError(f'auth.mechanism {mechanism}: GHES offers plain, login or cram_md5')
        username, password = auth['username'], auth['password']
    ghes = effective.get('ghes') or {}
    return {
        'enabled': bool(ghes.get('email_enabled', True)),
        'address': server['host'],
        'port': str(server['port']),
        'domain': server.get('helo_domain'),
        'authentication': mechanism,
        'username': username,
        'user_name': username,
        'password': password,
        'enable_starttls_auto': server['tls'] != 'none',
        'noreply_address': sender['noreply_address'],
        DISCARD_KEY: bool(sender.get('discard_to_noreply')),
        'support_address': sender.get('support'),
        'support_address_type': _support_type(sender.get('support')),
    }


def _norm(key: str, value: t.Any) -> t.Any:
    if value == '' or value is None:
        return None
    if key == 'port':
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if key in ('enabled', 'enable_starttls_auto', DISCARD_KEY):
        if isinstance(value, str):
            return value.strip().lower() == 'true'
        return bool(value)
    if isinstance(value, str):
        value = value.strip()
        return value.lower() if key in _CASE_INSENSITIVE else value
    return value


def _current_value(current: t.Mapping[str, t.Any], key: str) -> t.Any:
    if key == 'username':
        return current.get('username') or current.get('user_name')
    if key == DISCARD_KEY:
        return current.get(DISCARD_KEY, current.get('discard_to_noreply_address'))
    return current.get(key)


def readable_password(current: t.Mapping[str, t.Any] | None) -> str | None:
    """The stored password if the server disclosed it (not empty, not a mask)."""
    if not current:
        return None
    value = current.get('password')
    if isinstance(value, str) and value and set(value) != {'*'}:
        return value
    return None


def is_configured(current: t.Mapping[str, t.Any] | None) -> bool:
    return bool(current and current.get('address'))


def differences(desired: t.Mapping[str, t.Any], current: t.Mapping[str, t.Any] | None) -> list[str]:
    """Compared keys of ``desired`` whose value differs on the server (password excluded)."""
    current = current or {}
    return [key for key in _COMPARED if key in desired
            and _norm(key, desired.get(key)) != _norm(key, _current_value(current, key))]


def _public(smtp: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    if smtp is None:
        return None
    shown = copy.deepcopy(dict(smtp))
    if shown.get('password'):
        shown['password'] = REDACTED
    return shown


def _display(smtp: t.Mapping[str, t.Any] | None, password: str) -> str:
    if not smtp:
        return ''
    lines = [f'{key}: {diff_scalar(_current_value(smtp, key))}' for key in _COMPARED
             if key in smtp or (key == 'username' and 'user_name' in smtp)
             or (key == DISCARD_KEY and 'discard_to_noreply_address' in smtp)]
    if password:
        lines.append(f'password: {password}')
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------------------------
# ghe-config rendering (no network)

def ghe_config_commands(effective: t.Mapping[str, t.Any], *, state: str = 'present',
                        password_env: str = 'GHE_SMTP_PASSWORD', apply: bool = True) -> list[str]:
    """Shell commands for the GHES administrative shell; the password comes from $password_env."""
    if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', password_env or ''):
        raise GhesError(f'password_env must be a shell variable name (letters, digits, _), not {password_env!r}')
    smtp = desired_smtp(effective, state=state)
    commands = []
    for key, config_key in GHE_CONFIG_KEYS.items():
        if key not in smtp:
            continue
        value = smtp[key]
        if key == 'password':
            if value is None:
                commands.append(f'ghe-config --unset {config_key} || true')
            else:
                # The secret never enters the command text: the shell expands it on the instance.
                commands.append(f'ghe-config {config_key} "${password_env}"')
            continue
        if value is None:
            commands.append(f'ghe-config --unset {config_key} || true')
        else:
            text = ('true' if value else 'false') if isinstance(value, bool) else str(value)
            commands.append(f'ghe-config {config_key} {shlex.quote(text)}')
    if apply:
        commands.append('ghe-config-apply')
    return commands


def render(effective: t.Mapping[str, t.Any], *, state: str = 'present', password_env: str = 'GHE_SMTP_PASSWORD',
           apply: bool = True) -> dict[str, t.Any]:
    commands = ghe_config_commands(effective, state=state, password_env=password_env, apply=apply)
    needs_password = any(f'"${password_env}"' in command for command in commands)
    script = ['#!/bin/sh', 'set -eu']
    if needs_password:
        script.append(f': "${{{password_env}:?set {password_env} to the SMTP password (no_log)}}"')
    script.extend(commands)
    return {
        'changed': False,
        'mode': 'render',
        'commands': commands,
        'script': '\n'.join(script) + '\n',
        'password_env': password_env if needs_password else None,
        'smtp': _public(desired_smtp(effective, state=state)),
        'manual_steps': _manual_steps(effective) if state == 'present' else [],
    }


def _manual_steps(effective: t.Mapping[str, t.Any]) -> list[str]:
    notes = []
    server, sender = effective['server'], effective['sender']
    if server['protocol'] == 'smtps':
        notes.append('server.protocol smtps: GHES speaks SMTP and upgrades with STARTTLS; it has no '
                     'implicit-TLS mode, so port 465 will not work')
    if server['tls'] == 'required':
        notes.append('server.tls required: GHES can only enable STARTTLS when offered '
                     '(enable_starttls_auto); it cannot refuse to send without it')
    if sender.get('from_address') and sender.get('noreply_address') and \
            sender['from_address'].lower() != sender['noreply_address'].lower():
        notes.append('sender.from_address: GHES sends notifications From sender.noreply_address; '
                     'from_address is not used')
    if sender.get('from_name') or sender.get('subject_prefix'):
        notes.append('sender.from_name and sender.subject_prefix: GHES has no such settings; not applied')
    return notes


# --------------------------------------------------------------------------------------------
# HTTP APIs

class GhesApi:
    """The two HTTP APIs behind one small interface."""

    def __init__(self, client: HttpClient, api: str = 'manage'):
        if api not in APIS:
            raise GhesError(f'api must be one of {", ".join(APIS)}, not {api!r}')
        self.client = client
        self.api = api
        self.requests: list[str] = []

    @property
    def settings_path(self) -> str:
        return '/manage/v1/config/settings' if self.api == 'manage' else '/setup/api/settings'

    def read_smtp(self) -> dict[str, t.Any] | None:
        path = self.settings_path
        dummy, settings = self.client.json('GET', path, expect=(200,))
        self.requests.append(f'GET {path}')
        if self.api == 'management_console' and isinstance(settings, dict):
            settings = settings.get('enterprise', settings)
        if not isinstance(settings, dict):
            raise GhesError(f'GET {path}: expected a JSON object with the settings, got {type(settings).__name__}',
                            kind='server')
        smtp = settings.get('smtp')
        return dict(smtp) if isinstance(smtp, dict) else None

    def write_smtp(self, smtp: t.Mapping[str, t.Any]) -> None:
        path = self.settings_path
        if self.api == 'manage':
            self.client.request('PUT', path, json_body={'smtp': dict(smtp)}, expect=(200, 202, 204))
        else:
            # Documented as form data whose "settings" field is a JSON string.
            self.client.request('PUT', path, form={'settings': json.dumps({'enterprise': {'smtp': dict(smtp)}})},
                                expect=(200, 202, 204))
        self.requests.append(f'PUT {path}')

    def start_apply(self) -> str | None:
        if self.api == 'manage':
            run_id = uuid.uuid4().hex[:12]
            dummy, answer = self.client.json('POST', '/manage/v1/config/apply', json_body={'run_id': run_id},
                                             expect=(200, 201, 202, 204))
            self.requests.append('POST /manage/v1/config/apply')
            if isinstance(answer, dict) and answer.get('run_id'):
                run_id = str(answer['run_id'])
            return run_id
        self.client.request('POST', '/setup/api/configure', expect=(200, 201, 202, 204))
        self.requests.append('POST /setup/api/configure')
        return None

    def apply_status(self, run_id: str | None) -> tuple[bool, bool, t.Any]:
        """(still running, successful, detail)."""
        if self.api == 'manage':
            dummy, status = self.client.json('GET', '/manage/v1/config/apply', query={'run_id': run_id}, expect=(200,))
            self.requests.append('GET /manage/v1/config/apply')
            if not isinstance(status, dict):
                raise GhesError('GET /manage/v1/config/apply: expected a JSON object', kind='server')
            return bool(status.get('running')), bool(status.get('successful')), status.get('nodes')
        dummy, status = self.client.json('GET', '/setup/api/configcheck', expect=(200,))
        self.requests.append('GET /setup/api/configcheck')
        if not isinstance(status, dict):
            raise GhesError('GET /setup/api/configcheck: expected a JSON object', kind='server')
        word = str(status.get('status', '')).lower()
        progress = status.get('progress') or []
        if word in ('success', 'done', 'complete', 'completed'):
            return False, True, progress
        if word in ('failed', 'failure', 'error'):
            return False, False, progress
        return True, False, progress


def wait_for_apply(api: GhesApi, run_id: str | None, *, timeout: float, interval: float,
                   clock: t.Callable[[], float] = time.monotonic,
                   sleep: t.Callable[[float], None] = time.sleep) -> dict[str, t.Any]:
    """Poll until the configuration run ends or ``timeout`` seconds pass (then GhesError)."""
    started = clock()
    deadline = started + timeout
    polls = 0
    last_error = None
    # The status may still describe the previous run for a few seconds (documented for configcheck).
    sleep(min(interval, max(0.0, deadline - clock())))
    while True:
        polls += 1
        try:
            running, successful, detail = api.apply_status(run_id)
            last_error = None
        except HttpError as exc:
            # Services restart during a configuration run; the API may refuse or time out meanwhile.
            if exc.cause in ('timeout', 'refused', 'network') or (exc.status or 0) >= 500:
                running, successful, detail, last_error = True, False, None, str(exc)
            else:
                raise
        if not running:
            outcome = {'run_id': run_id, 'successful': successful, 'seconds': round(clock() - started, 3),
                       'polls': polls, 'detail': detail}
            if not successful:
                raise GhesError(f'the configuration run{" " + run_id if run_id else ""} failed on the instance '
                                f'(see ghe-config-apply output or /manage/v1/config/apply/events); '
                                f'detail: {api.client.redact(json.dumps(detail))[:300]}', kind='server')
            return outcome
        if clock() + interval > deadline:
            where = (f'GET /manage/v1/config/apply?run_id={run_id}' if api.api == 'manage'
                     else 'GET /setup/api/configcheck')
            message = (f'the configuration run{" " + run_id if run_id else ""} was still running after '
                       f'{timeout:g} s (apply_timeout); it goes on on the instance, follow it with {where}')
            if last_error:
                message += f'; last poll failed: {last_error}'
            raise GhesError(message, kind='server')
        sleep(interval)


def ensure(client: HttpClient, effective: t.Mapping[str, t.Any], *, api: str = 'manage', state: str = 'present',
           update_password: str = 'on_create', apply: bool = False, apply_timeout: float = 900,
           apply_poll_interval: float = 10, check_mode: bool = False) -> dict[str, t.Any]:
    ghes = GhesApi(client, api)
    desired = desired_smtp(effective, state=state)
    current = ghes.read_smtp()
    diffs = differences(desired, current)
    creating = not is_configured(current)
    has_password = bool(desired.get('password'))
    known = readable_password(current)
    # Both travel to or from the instance: neither may come back in an error message.
    client.add_secrets([desired.get('password'), known])
    password_reason = None
    if state == 'present':
        if known is not None:
            if (desired.get('password') or None) != known:
                password_reason = 'password'
        elif has_password and update_password == 'always':
            password_reason = 'password (update_password=always)'
    if password_reason:
        diffs.append(password_reason)
    write = bool(diffs)
    # The password travels with every write (for an anonymous relay it is null, which clears it).
    body = desired
    after = dict(current or {})
    after.pop('password', None)
    if write:
        after.update(body)
    password_shown = ''
    if state == 'present' and (has_password or known):
        password_shown = REDACTED + (' (written)' if write and has_password else
                                     ' (unchanged)' if known else ' (unchanged, not compared)')
    result: dict[str, t.Any] = {
        'changed': write,
        'mode': 'api',
        'api': api,
        'state': state,
        'differences': diffs,
        'created': write and creating and state == 'present',
        'password_written': write and has_password,
        'before': _public({k: v for k, v in (current or {}).items() if k != 'password'}) if current is not None else None,
        'smtp': _public(after),
        'requests': ghes.requests,
        'apply': None,
        'manual_steps': _manual_steps(effective) if state == 'present' else [],
        'diff': {
            'before_header': f'{ghes.settings_path} smtp',
            'after_header': f'{ghes.settings_path} smtp',
            'before': _display({k: v for k, v in (current or {}).items() if k != 'password'},
                               '(write-only, not readable)' if current and not known and password_shown
                               else (REDACTED if known else '')),
            'after': _display(after, password_shown),
        },
    }
    if not write:
        return result
    if check_mode:
        result['apply'] = {'would_run': bool(apply)}
        return result
    ghes.write_smtp(body)
    if apply:
        run_id = ghes.start_apply()
        result['apply'] = wait_for_apply(ghes, run_id, timeout=apply_timeout, interval=apply_poll_interval)
    return result


def run(client: HttpClient, effective, *, diff: bool = True, **kwargs) -> dict[str, t.Any]:
    """The backend of ghes_smtp (mode=api): ensure() through the shared API wrapper."""
    return run_api(ensure, client, effective, diff=diff, **kwargs)


def run_render(effective: t.Mapping[str, t.Any], *, state: str = 'present',
               password_env: str = 'GHE_SMTP_PASSWORD') -> dict[str, t.Any]:
    """The backend of ghes_smtp (mode=render): the commands, ending with ghe-config-apply, because
    settings written with ghe-config take effect only after it."""
    return render(effective, state=state, password_env=password_env, apply=True)


def client_for(params: t.Mapping[str, t.Any]) -> HttpClient:
    """The API client from the connection options (mailwright.smtp.api)."""
    # An unusable option raises HttpError before any request, so its result has no `http` key.
    return client_from_params(params, status_hints=STATUS_HINTS)


def ensure_smtp(params: t.Mapping[str, t.Any], effective: t.Mapping[str, t.Any], *, check_mode: bool = False,
                diff: bool = False, wire_secrets: set[str]) -> dict[str, t.Any]:
    """The backend of ghes_smtp, both modes. With mode=api, every form a credential took on the wire
    goes into `wire_secrets`, failed or not, so the module can have Ansible mask those too."""
    if params['mode'] == 'render':
        return run_render(effective, state=params['state'], password_env=params['password_env'])
    if params['apply_timeout'] <= 0 or params['apply_poll_interval'] <= 0:
        raise GhesError('apply_timeout and apply_poll_interval must be positive numbers of seconds')
    client = client_for(params)
    try:
        return run(client, effective, api=params['api'], state=params['state'],
                   update_password=params['update_password'], apply=params['apply'],
                   apply_timeout=params['apply_timeout'], apply_poll_interval=params['apply_poll_interval'],
                   check_mode=check_mode, diff=diff)
    finally:
        wire_secrets.update(client.secrets)
