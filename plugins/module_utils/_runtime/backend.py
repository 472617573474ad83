# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of mailwright.smtp.javamail_runtime: report the mail jars and JVM options of an
install, and move the jars where the product wants them.

The flow is: resolve the product and the session type (from the settings, else the options),
find the jars (_runtime.app), plan (_runtime.jars), read the JVM options and find the overrides
(_runtime.overrides), decide which findings fail the task (fail_on), and only then move. A failing
finding stops the task before anything moves, so a failed task has changed nothing.

Moving files is the one write here, and it follows _core.files' rules for a hostile host: the
whole run holds a lock on app_home (the directory, no lock file), everything is planned again
under it, no move goes through a symlink out of app_home or into or out of a directory every
user may write, a destination that exists is never replaced (a hard link creates the new name
exclusively, then the old name goes), and backup_dir may not be on the class path or inside the
webapp, where Tomcat would serve it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import FileSafetyError, directory_lock
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import (
    PRODUCTS,
    detect_product,
    find_mail_jars,
    jre_version,
    lib_dir,
    linked_jars,
    read_jvm_options,
    tomcat_version,
    webapp_lib_dir,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.jars import BACKUP_SUBDIRS, CONFLICT_KINDS, Move, Plan, plan_layout
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.overrides import system_property_overrides

__all__ = ['DEFAULT_BACKUP_DIR', 'FAIL_ON', 'DEFAULT_FAIL_ON', 'javamail_runtime']

DEFAULT_BACKUP_DIR = 'mailwright-jar-backup'  # under app_home: off the class path, outside the webapp
FAIL_ON = ('conflicts',) + CONFLICT_KINDS + ('overrides',)
DEFAULT_FAIL_ON = ('missing', 'wrong_api')
_SESSION_TYPES = ('javax.mail.Session', 'jakarta.mail.Session')


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _resolve(params: t.Mapping[str, t.Any], effective: t.Mapping[str, t.Any] | None) -> tuple[str, str | None]:
    """(product, session type) from the settings and the options; a disagreement is an error."""
    product = params.get('product')
    session = params.get('session_type')
    if effective is not None:
        if product and product != effective['product']:
            raise MailwrightError(f'product {product!r} disagrees with the settings ($.product is '
                                  f'{effective["product"]!r}); give one of them', kind='invalid', step='runtime')
        product = effective['product']
        jndi = effective['server'].get('jndi')
        if jndi:
            if session and session != jndi['session_type']:
                raise MailwrightError(f'session_type {session!r} disagrees with the settings '
                                      f'($.server.jndi.session_type is {jndi["session_type"]!r}); give one of them',
                                      kind='invalid', step='runtime')
            session = jndi['session_type']
    if product is not None and product not in PRODUCTS:
        raise MailwrightError(f'product {product!r} is not one of {", ".join(PRODUCTS)}', kind='invalid', step='runtime')
    if session is not None and session not in _SESSION_TYPES:
        raise MailwrightError(f'session_type {session!r} is not one of {", ".join(_SESSION_TYPES)}', kind='invalid',
                              step='runtime')
    if product == 'ghes':
        raise MailwrightError('ghes: GitHub Enterprise Server sends with its own mail service, not a JVM; '
                              'javamail_runtime is for jira, confluence, bitbucket and generic Java applications',
                              kind='invalid', step='runtime')
    return product or detect_product(params['app_home']) or 'generic', session


def _app_home(value: str) -> str:
    path = os.path.abspath(value)
    if not os.path.isdir(path):
        what = 'does not exist' if not os.path.lexists(path) else 'is not a directory'
        raise FileSafetyError(f'app_home {value} {what}; give the application\'s install directory (the one with '
                              'lib/ and bin/)', path=value, option='app_home')
    return path


def _backup_dir(params: t.Mapping[str, t.Any], app_home: str, *, lib: str, webapp: str | None) -> str:
    given = params.get('backup_dir')
    path = os.path.abspath(os.path.join(app_home, given)) if given else os.path.join(app_home, DEFAULT_BACKUP_DIR)
    real = os.path.realpath(path)
    forbidden = [(lib, 'Tomcat\'s lib/ (the class path)')]
    if webapp:
        forbidden.append((webapp, 'the webapp (on its class path, and Tomcat serves its files)'))
    for directory in forbidden:
        # the subdirectories too: backup_dir=app_home would put lib/'s spare copies back into lib/
        for candidate in (path, real, *(os.path.join(base, sub) for base in (path, real) for sub in BACKUP_SUBDIRS.values())):
            if _inside(candidate, directory[0]) or _inside(candidate, os.path.realpath(directory[0])):
                raise MailwrightError(f'backup_dir {given or path} is inside {directory[1]}: a jar moved there would '
                                      'still be loaded or served; choose a directory outside it', kind='invalid',
                                      step='runtime')
    return path


def _rel(path: str, app_home: str) -> str:
    return os.path.relpath(path, app_home) if _inside(path, app_home) else path


def _diff(plan: Plan, app_home: str) -> dict[str, str]:
    before = ''.join(_rel(jar.path, app_home) + '\n' for jar in sorted(plan.jars, key=lambda jar: jar.path))
    after = ''.join(_rel(path, app_home) + '\n' for path in plan.after())
    return {'before': before, 'after': after, 'before_header': f'{app_home} (mail jars)',
            'after_header': f'{app_home} (mail jars)'}


def _world_writable(directory: str) -> bool:
    try:
        return bool(os.stat(directory).st_mode & stat.S_IWOTH)
    except FileNotFoundError:
        return False


def _existing_parent(path: str) -> str:
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _check_moves(moves: list[Move], *, app_home: str, backup_dir: str) -> None:
    """Refuse a move through a symlink out of app_home, to or from a directory anyone may write,
    or onto a name that exists; FileSafetyError naming the path and the option."""
    home = os.path.realpath(app_home)
    backup_real = os.path.realpath(backup_dir)
    backup_inside = _inside(os.path.abspath(backup_dir), app_home)
    for move in moves:
        source_dir = os.path.dirname(move.source)
        real_dir = os.path.realpath(source_dir)
        if not _inside(real_dir, home):
            raise FileSafetyError(f'app_home {app_home}: {source_dir} is a symlink to {real_dir}, outside app_home; '
                                  f'refusing to move {os.path.basename(move.source)} out of it (nothing was moved). '
                                  'Move the jar by hand, or point app_home at the real install directory',
                                  path=move.source, option='app_home')
        info = os.lstat(move.source)
        if stat.S_ISLNK(info.st_mode):
            target = os.path.realpath(move.source)
            if not _inside(target, home):
                raise FileSafetyError(f'app_home {app_home}: {move.source} is a symlink to {target}, outside app_home '
                                      '(a jar another package or a neighbour provides); refusing to move it '
                                      '(nothing was moved). Remove or move the link by hand', path=move.source,
                                      option='app_home')
        elif not stat.S_ISREG(info.st_mode):
            raise FileSafetyError(f'app_home {app_home}: {move.source} is not a regular file; nothing was moved',
                                  path=move.source, option='app_home')
        destination_dir = os.path.dirname(move.destination)
        in_backup = _inside(move.destination, backup_dir)
        existing = _existing_parent(destination_dir)
        real_destination = os.path.realpath(existing)
        option = 'backup_dir' if in_backup else 'app_home'
        if (not in_backup or backup_inside) and not _inside(real_destination, home):
            raise FileSafetyError(f'{option} {backup_dir if in_backup else app_home}: {existing} leads to '
                                  f'{real_destination}, outside app_home; refusing to move a jar there (nothing '
                                  'was moved)', path=move.destination, option=option)
        if in_backup and not _inside(real_destination, backup_real) and not _inside(backup_real, real_destination):
            raise FileSafetyError(f'backup_dir {backup_dir}: {existing} is a symlink to {real_destination}; refusing '
                                  'to move a jar through it (nothing was moved)', path=move.destination, option=option)
        for directory, role in ((source_dir, 'from'), (existing, 'into')):
            if _world_writable(directory):
                raise FileSafetyError(f'{option if role == "into" else "app_home"} {directory} is writable by every '
                                      f'user; refusing to move a jar {role} it (another user could swap it); '
                                      'nothing was moved. Make it writable by its owner only', path=directory,
                                      option=option if role == 'into' else 'app_home')
        if os.path.lexists(move.destination):
            raise FileSafetyError(f'{option}: {move.destination} exists already; refusing to replace it (nothing was '
                                  'moved). Remove it, or choose another backup_dir', path=move.destination,
                                  option=option)


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _make_dirs(directory: str) -> None:
    """Create a backup directory (owner and group only) one level at a time, never through a link."""
    missing = []
    path = directory
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o750)
        except FileExistsError:
            pass
        except OSError as exc:
            raise FileSafetyError(f'backup_dir: cannot create {path}: {exc.strerror}; nothing more was moved',
                                  path=path, option='backup_dir') from None
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise FileSafetyError(f'backup_dir: {path} became a symlink while it was created; nothing more was moved',
                                  path=path, option='backup_dir')


def _move(move: Move) -> None:
    """Give the jar its new name without ever replacing a file, then drop the old name."""
    try:
        os.link(move.source, move.destination, follow_symlinks=False)
        linked = True
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise FileSafetyError(f'{move.destination} appeared while moving {move.source}; it was not replaced',
                                  path=move.destination, option='backup_dir') from None
        if exc.errno == errno.EXDEV:
            raise FileSafetyError(f'backup_dir: {os.path.dirname(move.destination)} is on another file system than '
                                  f'{move.source}; a jar is moved, never copied: choose a backup_dir on the same file '
                                  'system (the default under app_home is)', path=move.destination,
                                  option='backup_dir') from None
        linked = False  # hard links refused (protected_hardlinks, a file system without them): rename
    if linked:
        os.unlink(move.source)
    else:
        if os.path.lexists(move.destination):
            raise FileSafetyError(f'{move.destination} appeared while moving {move.source}; it was not replaced',
                                  path=move.destination, option='backup_dir')
        try:
            os.rename(move.source, move.destination)
        except OSError as exc:
            raise FileSafetyError(f'cannot move {move.source} to {move.destination}: {exc.strerror}',
                                  path=move.source, option='app_home') from None
    _fsync_dir(os.path.dirname(move.destination))
    _fsync_dir(os.path.dirname(move.source))


def _failing(fail_on: t.Collection[str], conflicts: list[dict[str, t.Any]], overrides: list[dict[str, t.Any]],
             state: str) -> list[str]:
    kinds = set(fail_on)
    if 'conflicts' in kinds:
        kinds |= set(CONFLICT_KINDS)
    messages = [conflict['message'] for conflict in conflicts
                if conflict['kind'] in kinds and not (state == 'present' and conflict['fixed'])]
    if 'overrides' in kinds:
        messages += [override['message'] for override in overrides]
    return messages


def _analyse(params: t.Mapping[str, t.Any], effective: t.Mapping[str, t.Any] | None, *, app_home: str,
             product: str, session: str | None, secrets: list[str]) -> tuple[Plan, dict[str, t.Any], str]:
    webapp = params.get('webapp')
    lib = lib_dir(app_home)
    webinf = webapp_lib_dir(app_home, product, webapp=webapp)
    webapp_root = os.path.dirname(os.path.dirname(webinf)) if webinf else None
    backup_dir = _backup_dir(params, app_home, lib=lib, webapp=webapp_root)
    jars = find_mail_jars(app_home, product, webapp=webapp)
    plan = plan_layout(jars, app_home=app_home, product=product, session_type=session, lib=lib, webinf=webinf,
                       backup_dir=backup_dir, tomcat=tomcat_version(app_home), java_version=jre_version(app_home),
                       linked=linked_jars(jars))
    files = params.get('jvm_options_files')
    options = read_jvm_options(app_home, product, files=[os.path.join(app_home, f) for f in files] if files else None,
                               option='jvm_options_files' if files else 'app_home')
    secrets.extend(options.secret_values())
    rendered = None
    if effective is not None:
        from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import javamail_properties

        rendered = javamail_properties(dict(effective))
    facts = {
        'product': product,
        'session_type': session,
        'lib_dir': lib,
        'webapp_lib_dir': webinf,
        'backup_dir': backup_dir,
        'tomcat_version': tomcat_version(app_home),
        'jre_version': jre_version(app_home),
        'jvm_options_files': list(options.files),
        'system_property_overrides': system_property_overrides(options, rendered),
    }
    return plan, facts, backup_dir


def javamail_runtime(params: t.Mapping[str, t.Any], effective: t.Mapping[str, t.Any] | None, *, check_mode: bool,
                     diff: bool, secrets: list[str] | None = None) -> dict[str, t.Any]:
    """The module's result; MailwrightError for bad input, an unsafe move or a finding in fail_on.

    `secrets` collects values of the JVM options that must never be printed (store passwords).
    """
    secrets = secrets if secrets is not None else []
    app_home = _app_home(params['app_home'])
    product, session = _resolve(dict(params, app_home=app_home), effective)
    state = params.get('state') or 'check'
    fail_on = params.get('fail_on')
    fail_on = DEFAULT_FAIL_ON if fail_on is None else fail_on
    writing = state == 'present' and not check_mode
    lock = directory_lock(app_home, what=app_home, option='app_home') if writing else contextlib.nullcontext()
    with lock:
        # Under the lock, so what is moved is what was just seen.
        plan, facts, backup_dir = _analyse(params, effective, app_home=app_home, product=product, session=session,
                                           secrets=secrets)
        moves = plan.moves if state == 'present' else []
        conflicts = [conflict.as_dict() for conflict in plan.conflicts]
        if state != 'present':
            for conflict in conflicts:
                conflict['fixed'] = False
        result: dict[str, t.Any] = {
            'changed': bool(moves),
            'jars': [jar.as_dict() for jar in plan.jars],
            'conflicts': conflicts,
            'moves': [move.as_dict() for move in moves],
            'planned_moves': [move.as_dict() for move in plan.moves],
            **facts,
        }
        if diff:
            shown = plan if state == 'present' else Plan(jars=plan.jars)
            result['diff'] = _diff(shown, app_home)
        failing = _failing(fail_on, conflicts, facts['system_property_overrides'], state)
        warnings = [conflict['message'] for conflict in conflicts
                    if conflict['message'] not in failing and not (state == 'present' and conflict['fixed'])]
        warnings += [override['message'] for override in facts['system_property_overrides']
                     if override['message'] not in failing]
        if failing:
            details = dict(result, changed=False, moves=[])
            details.pop('diff', None)
            error = MailwrightError('; '.join(failing) + ' (fail_on: ' + ', '.join(fail_on) + '; nothing was moved)',
                                    kind='conflict', step='runtime', **details)
            error.warnings.extend(warnings)
            raise error
        if moves:
            _check_moves(moves, app_home=app_home, backup_dir=backup_dir)
        if writing:
            done: list[Move] = []
            try:
                for move in moves:
                    _make_dirs(os.path.dirname(move.destination))
                    _move(move)
                    done.append(move)
            except MailwrightError as exc:
                exc.details.update(changed=bool(done), moves=[move.as_dict() for move in done])
                raise
    if warnings:
        result['warnings'] = warnings
    if moves:
        result['manual_steps'] = [f'Restart the application: the class path of {app_home} is read at start-up']
    else:
        result['manual_steps'] = []
    return result
