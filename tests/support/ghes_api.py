"""A local GitHub Enterprise Server admin API (settings + configuration runs), for tests.

It follows GitHub's published contract:

Manage GHES API (3.12+; basic auth ``api_key`` : root site administrator password)
* ``GET  /manage/v1/config/settings`` -> 200 settings object (with ``smtp``)
* ``PUT  /manage/v1/config/settings`` (JSON, only the settings to change) -> 204
* ``POST /manage/v1/config/apply`` (optional ``{"run_id": ...}``) -> 202 ``{"run_id": ...}``
* ``GET  /manage/v1/config/apply?run_id=`` -> 200 ``{"running", "successful", "nodes": [...]}``

Management Console API (up to 3.14; the Management Console password as ``api_key``, basic or
``?api_key=``)
* ``GET  /setup/api/settings`` -> 200 ``{"enterprise": {...}, "run_list": [...]}``
* ``PUT  /setup/api/settings`` (form field ``settings`` = JSON string) -> 204
* ``POST /setup/api/configure`` -> 202; ``GET /setup/api/configcheck`` -> ``{"status", "progress"}``

The ``smtp`` keys accepted are exactly the published ones (``discard-to-noreply-address`` with
hyphens); any other key is a 400. The password is write-only unless ``return_password`` is set.
Fault switches (``force_status``, ``stall_seconds``) and the request log come from
``ContractServer``; ``apply_seconds``, ``apply_succeeds`` and ``apply_hangs`` shape configuration runs.
"""
from __future__ import annotations

import copy
import json
import threading
import time
import typing as t
import urllib.parse
import uuid

from tests.support.bitbucket_api import ContractServer, Recorded, _Reply

__all__ = ['GhesServer', 'SMTP_KEYS']

SMTP_KEYS = frozenset({
    'enabled', 'address', 'authentication', 'port', 'domain', 'username', 'user_name',
    'enable_starttls_auto', 'password', 'discard-to-noreply-address', 'support_address',
    'support_address_type', 'noreply_address',
})


def _merge(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class GhesServer(ContractServer):
    def __init__(self, *, username: str = 'api_key', password: str = 'root-admin-secret',
                 apis: tuple[str, ...] = ('manage', 'management_console'), **kwargs):
        super().__init__(username=username, password=password, **kwargs)
        self.apis = apis
        self.return_password = False
        self.apply_seconds = 0.3
        self.apply_succeeds = True
        self.apply_hangs = False
        self.runs: dict[str, dict[str, t.Any]] = {}
        self.last_run: str | None = None
        self.settings: dict[str, t.Any] = {
            'github_hostname': 'ghes.example.test',
            'private_mode': False,
            'smtp': {
                'enabled': False, 'address': '', 'authentication': 'plain', 'port': '25', 'domain': '',
                'username': '', 'user_name': '', 'enable_starttls_auto': True, 'password': '',
                'discard-to-noreply-address': True, 'support_address': '', 'support_address_type': 'email',
                'noreply_address': '',
            },
        }
        self._run_lock = threading.Lock()

    # -- helpers for tests -----------------------------------------------------------------
    @property
    def smtp(self) -> dict[str, t.Any]:
        return self.settings['smtp']

    def authorised(self, record: Recorded) -> bool:
        if record.path.startswith('/setup/api') and record.query.get('api_key') == [self.password]:
            return True
        return super().authorised(record)

    # -- routing ---------------------------------------------------------------------------
    def route(self, record: Recorded) -> tuple[int, t.Any]:
        path, method = record.path, record.method
        if path.startswith('/manage/') and 'manage' in self.apis:
            if path == '/manage/v1/config/settings':
                if method == 'GET':
                    return 200, self._public_settings()
                if method == 'PUT':
                    self._update(self.json_body(record))
                    return 204, None
            elif path == '/manage/v1/config/apply':
                if method == 'POST':
                    body = self.json_body(record) if record.body else {}
                    run_id = (body or {}).get('run_id') or uuid.uuid4().hex[:10]
                    self._start(str(run_id))
                    return 202, {'run_id': str(run_id)}
                if method == 'GET':
                    run_id = (record.query.get('run_id') or [self.last_run])[0]
                    if run_id not in self.runs:
                        return 404, {'message': f'no configuration run {run_id}'}
                    running, successful = self._state(run_id)
                    return 200, {'running': running, 'successful': successful, 'nodes': [
                        {'run_id': run_id, 'hostname': 'ghes-primary', 'running': running, 'successful': successful}]}
            else:
                return 404, {'message': 'Not Found'}
            raise _Reply(405, {'message': f'{method} not allowed'})
        if path.startswith('/setup/api') and 'management_console' in self.apis:
            if path == '/setup/api/settings':
                if method == 'GET':
                    return 200, {'enterprise': self._public_settings(), 'run_list': ['recipe[enterprise-configure]']}
                if method == 'PUT':
                    if not record.headers.get('Content-Type', '').startswith('application/x-www-form-urlencoded'):
                        return 415, {'message': 'settings must be sent as application/x-www-form-urlencoded'}
                    form = urllib.parse.parse_qs(record.body.decode())
                    try:
                        settings = json.loads(form['settings'][0])
                    except (KeyError, ValueError):
                        return 400, {'message': 'the settings field must hold a JSON string'}
                    self._update(settings.get('enterprise', {}))
                    return 204, None
            elif path == '/setup/api/configure' and method == 'POST':
                run_id = uuid.uuid4().hex[:10]
                self._start(run_id)
                return 202, None
            elif path == '/setup/api/configcheck' and method == 'GET':
                if self.last_run is None:
                    return 200, {'status': 'success', 'progress': []}
                running, successful = self._state(self.last_run)
                word = 'running' if running else ('success' if successful else 'failed')
                step = 'CONFIGURING' if running else ('DONE' if successful else 'FAILED')
                return 200, {'status': word, 'progress': [
                    {'status': 'DONE', 'key': 'Appliance core components'}, {'status': step, 'key': 'GitHub services'}]}
            else:
                return 404, {'message': 'Not Found'}
            raise _Reply(405, {'message': f'{method} not allowed'})
        return 404, {'message': 'Not Found'}

    def _public_settings(self) -> dict[str, t.Any]:
        shown = copy.deepcopy(self.settings)
        if not self.return_password:
            shown['smtp'].pop('password', None)
        return shown

    def _update(self, changes: t.Any) -> None:
        if not isinstance(changes, dict):
            raise _Reply(400, {'message': 'settings must be a JSON object'})
        smtp = changes.get('smtp')
        if smtp is not None:
            if not isinstance(smtp, dict):
                raise _Reply(400, {'message': 'smtp must be an object'})
            unknown = sorted(set(smtp) - SMTP_KEYS)
            if unknown:
                raise _Reply(400, {'message': f'unknown setting smtp.{unknown[0]}'})
            if 'port' in smtp:
                port = smtp['port']
                if isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536:
                    raise _Reply(400, {'message': 'smtp.port must be a port number'})
                smtp = dict(smtp, port=str(port))
            if smtp.get('authentication') not in (None, '', 'plain', 'login', 'cram_md5'):
                raise _Reply(400, {'message': 'smtp.authentication must be plain, login or cram_md5'})
            if smtp.get('support_address_type') not in (None, 'email', 'url'):
                raise _Reply(400, {'message': 'smtp.support_address_type must be email or url'})
            changes = dict(changes, smtp=smtp)
        _merge(self.settings, changes)

    def _start(self, run_id: str) -> None:
        with self._run_lock:
            if self.last_run and self._state(self.last_run)[0]:
                raise _Reply(409, {'message': 'a configuration run is already in progress'})
            self.runs[run_id] = {'started': time.monotonic(), 'succeeds': self.apply_succeeds,
                                 'hangs': self.apply_hangs, 'seconds': self.apply_seconds}
            self.last_run = run_id

    def _state(self, run_id: str) -> tuple[bool, bool]:
        run = self.runs[run_id]
        if run['hangs'] or time.monotonic() - run['started'] < run['seconds']:
            return True, False
        return False, bool(run['succeeds'])
