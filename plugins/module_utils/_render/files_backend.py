# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backends of the two modules that render settings into a file of the task: tomcat_mail_resource
(server.xml or a context file) and mail_properties (a .properties file).

Both follow one flow, so it is written once (_ensure_file): lock and read the file (_core.files),
compute the new text, refuse to put a password into a world-readable file before anything is
written, then write it atomically or only apply the task's owner/group/mode. The backends take
the option values, the effective settings and a TaskFileHost (AnsibleModule, or a stand-in in the
unit tests), return the result and raise the MailwrightError family; warnings go into the result.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import (
    TaskFileHost,
    Target,
    check_secret_mode,
    fs_attributes,
    locked_target,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    PropertiesError,
    apply_properties,
    redact_text,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import (
    PLACEHOLDER,
    apply_resource,
    manual_steps,
    redact_xml,
    resource_attributes,
)

__all__ = ['NEW_FILE_MODE', 'ensure_tomcat_resource', 'ensure_properties']

NEW_FILE_MODE = 0o640  # a file we create holds the SMTP password: owner and group only


@dataclass
class _Change:
    """What a backend computed for the file; _ensure_file writes it."""

    result: dict[str, t.Any]
    content: bytes | None            # the new file content (None: nothing to write)
    secret: str | None = None        # what the file holds that every user must not read, for messages
    write: bool = True               # False: leave a missing file missing (state=absent)
    warnings: list[str] = field(default_factory=list)


def _ensure_file(params: t.Mapping[str, t.Any], *, host: TaskFileHost, check_mode: bool,
                 change: t.Callable[[Target], _Change], require_directory: bool,
                 warnings: list[str] | None = None) -> dict[str, t.Any]:
    """Read the task's file under its directory's lock, compute the change, guard, write (see _core.files).

    `require_directory`: a missing file in a missing directory is an error (rather than nothing to do).
    """
    path = params['path']
    warnings = list(warnings or [])
    try:
        with locked_target(path) as target:
            if target.data is None and not target.directory_exists and require_directory:
                raise MailwrightError(f'{path}: the directory does not exist; create it first (nothing was written)',
                                      kind='file')
            planned = change(target)
            warnings.extend(planned.warnings)
            result = planned.result
            if planned.secret:
                # Before anything is written, and whether or not the content changes: the file holds it.
                check_secret_mode(host, target, what=planned.secret, mode=params['mode'], new_mode=NEW_FILE_MODE,
                                  allow_world_readable=params['allow_world_readable'], warnings=warnings)
            if planned.write:
                file_args = host.load_file_common_arguments(params)
                mode = params['mode']
                if target.data is None and mode is None:
                    mode = NEW_FILE_MODE
                if result['changed'] and not check_mode:
                    backup_file = target.write(host, planned.content or b'', mode=mode, backup=params['backup'],
                                               file_args=file_args)
                    if backup_file:
                        result['backup_file'] = backup_file
                else:
                    result['changed'] = fs_attributes(host, target, file_args, result['changed'])
    except MailwrightError as exc:
        exc.warnings = warnings + list(exc.warnings)
        raise
    result['warnings'] = warnings
    return result


def ensure_tomcat_resource(params: t.Mapping[str, t.Any], effective: dict[str, t.Any], *, host: TaskFileHost,
                           check_mode: bool = False, diff: bool = False) -> dict[str, t.Any]:
    """The backend of tomcat_mail_resource: the JNDI mail Resource in server.xml or a context file."""
    path, state = params['path'], params['state']
    password = effective['auth'].get('password')
    notes: list[str] = []
    attrs = resource_attributes(effective, extra=params['extra_attributes'], notes=notes)

    def change(target: Target) -> _Change:
        outcome = apply_resource(target.data, path, state=state, attrs=attrs, context_path=params['context_path'],
                                 doc_base=params['doc_base'])
        result: dict[str, t.Any] = {
            'changed': outcome.changed,
            'action': outcome.action,
            'path': path,
            'context': outcome.context,
            'manual_steps': manual_steps(effective, path=path, is_context_file=outcome.context_file),
        }
        if outcome.line is not None:
            result['line'] = outcome.line
        if state == 'present':
            result['resource'] = {k: (PLACEHOLDER if k == 'password' else v) for k, v in attrs.items()}
        if diff:
            secrets = [password] if password else []
            result['diff'] = {'before': redact_xml(outcome.before, secrets), 'after': redact_xml(outcome.after, secrets),
                              'before_header': path, 'after_header': path}
        return _Change(result, outcome.content,
                       secret='the SMTP password' if state == 'present' and password else None)

    return _ensure_file(params, host=host, check_mode=check_mode, change=change,
                        require_directory=state == 'present', warnings=notes)


def ensure_properties(params: t.Mapping[str, t.Any], effective: dict[str, t.Any], *, host: TaskFileHost,
                      check_mode: bool = False, diff: bool = False) -> dict[str, t.Any]:
    """The backend of mail_properties: the mail keys of a .properties file, every other line kept."""
    path, state = params['path'], params['state']
    password = effective['auth'].get('password')
    secrets = [password] if password else []

    def change(target: Target) -> _Change:
        # ISO-8859-1 maps every byte to one character and back: untouched lines stay byte for byte.
        text = (target.data or b'').decode('latin-1')
        try:
            outcome = apply_properties(text, effective, params['flavour'], state=state, extra=params['extra_keys'])
        except PropertiesError as exc:
            if exc.line is None:
                raise
            raise PropertiesError(f'{path}: {exc}') from None  # the line number is in the message already
        managed = outcome.managed
        result: dict[str, t.Any] = {
            'changed': outcome.changed or (target.data is None and state == 'present'),
            'path': path,
            'set_keys': outcome.set_keys,
            'removed_keys': outcome.removed_keys,
            'manual_steps': managed.manual_steps,
        }
        if state == 'present':
            result['properties'] = {k: (REDACTED if k in managed.secret_keys else v) for k, v in managed.values.items()}
        if diff:
            result['diff'] = {'before': redact_text(outcome.before, secrets), 'after': redact_text(outcome.after, secrets),
                              'before_header': path, 'after_header': path}
        holds_secret = state == 'present' and any(managed.values.get(key) for key in managed.secret_keys)
        return _Change(result, outcome.after.encode('latin-1'), warnings=list(managed.warnings),
                       secret='a password (' + ', '.join(sorted(managed.secret_keys)) + ')' if holds_secret else None,
                       write=not (target.data is None and state == 'absent'))

    return _ensure_file(params, host=host, check_mode=check_mode, change=change, require_directory=True)
