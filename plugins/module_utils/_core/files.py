# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The one way a mailwright module writes a file on the managed host.

Every file the collection writes (server.xml and context files, .properties files, the JVM options
file, the truststore, the test_send markers, the audit report) goes through here, because the
host may have a hostile neighbour and parallel runs:

* Lock. An exclusive flock on the target's directory is held from the read to the rename, so two
  runs that change one file (two Resources in one server.xml) both land; the lock is on the
  directory itself, so it leaves no lock file behind and readers (the JVM) never wait.
* Symlinks. A symlink at the target is followed and its final target is updated in place; the
  link stays, as with Ansible's atomic_move and blockinfile. A link owned by a user other than
  root and the owner of the final target is refused (a neighbour's link to /etc/passwd; the rule
  of the kernel's protected_symlinks), and so is a dangling link.
* Atomic. The new content goes into a temporary file in the target's directory that has its mode
  (and the old file's owner) before it gets its content, is fsynced, and is renamed over the target.
* Backups. `<file>.<pid>.<timestamp>~` is created exclusively and without following a symlink,
  with the file's own mode (never wider), written whole and fsynced; a failure removes it again
  and leaves the target untouched.
* Secrets. A file that will hold a secret must not be readable by every user; group-readable is
  fine (Tomcat's group reads server.xml).

Every expected failure is a FileSafetyError (a MailwrightError of kind `file`) whose message names
the file and the option to look at; the one adapter (_core.module.run_backend) turns it into
fail_json. The `host` below is a FileHost: the few AnsibleModule methods file writing needs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import stat
import tempfile
import time
import typing as t
from dataclasses import dataclass

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError

__all__ = [
    'DEFAULT_LOCK_TIMEOUT',
    'FileHost',
    'TaskFileHost',
    'FileSafetyError',
    'Target',
    'directory_lock',
    'locked_target',
    'read_bytes',
    'resolve_target',
    'check_secret_mode',
    'fs_attributes',
    'write_file',
]

DEFAULT_LOCK_TIMEOUT = 120.0
_MAX_LINKS = 40  # the kernel's own limit on symlinks followed in one lookup
_ALLOW_OPTION = 'allow_world_readable'
_ALLOW_VARIABLE = 'mail_allow_world_readable'


class FileSafetyError(MailwrightError, OSError):
    """An expected failure writing a file: the message names the file and the option involved.

    An OSError too, so callers that report any OSError (the test_send marker) report this one;
    `strerror` is the message and `errno` the code, as OSError(code, message) would set them.
    `path` and `option` stay attributes, not result keys: the message already names both.
    """

    kind = 'file'

    def __init__(self, message: str, *, path: str, option: str | None = None, code: int = 0):
        super().__init__(message)
        self.args = (code, message)
        self.errno = code
        self.strerror = message
        self.path = path
        self.option = option


class FileHost(t.Protocol):
    """What writing a file needs from Ansible: applying the task's owner, group, mode, SELinux
    context and attributes, and reading a symbolic mode. AnsibleModule is one; a backend gets it as
    a host, never as the module, and unit tests pass a stand-in."""

    def set_fs_attributes_if_different(self, file_args: dict[str, t.Any], changed: bool) -> bool:
        ...  # pragma: no cover

    def _symbolic_mode_to_octal(self, path_stat: os.stat_result, symbolic_mode: str) -> int:
        ...  # pragma: no cover

    def warn(self, warning: str) -> None:
        ...  # pragma: no cover


class TaskFileHost(FileHost, t.Protocol):
    """A FileHost that also knows the task's file options (owner, group, mode, SELinux, attributes)
    for a path: what a backend that writes the task's own file needs. AnsibleModule is one."""

    def load_file_common_arguments(self, params: t.Mapping[str, t.Any], path: str | None = None) -> dict[str, t.Any]:
        ...  # pragma: no cover


def read_bytes(path: str) -> bytes | None:
    """The file's content, or None when it does not exist (for reading what nobody writes back)."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _owner(uid: int) -> str:
    try:
        return f'{pwd.getpwuid(uid).pw_name} (uid {uid})'
    except KeyError:
        return f'uid {uid}'


def _canonical(path: str) -> str:
    """path with its directory resolved; the last component stays as it is (it may be a link)."""
    directory, name = os.path.split(os.path.normpath(path))
    return os.path.join(os.path.realpath(directory or '.'), name)


def resolve_target(path: str, *, option: str = 'path') -> str:
    """The file that writing `path` changes, after the symlink policy; FileSafetyError if refused.

    Links at the last component are followed one by one; each must belong to root or to the owner
    of the final target. A path that does not exist (and is no link) is returned as is: it is
    created. Only regular files are written.
    """
    current = _canonical(os.path.abspath(path))
    links: list[tuple[str, int]] = []
    for _hop in range(_MAX_LINKS + 1):
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            if links:
                raise FileSafetyError(f'{option} {path}: the symlink {links[-1][0]} points at {current}, which does not '
                                      'exist; fix or remove the link (nothing was written)', path=path, option=option) from None
            return current
        except OSError as exc:
            raise FileSafetyError(f'{option} {path}: cannot inspect {current}: {exc.strerror} (nothing was written)',
                                  path=path, option=option) from None
        if not stat.S_ISLNK(info.st_mode):
            break
        links.append((current, info.st_uid))
        current = _canonical(os.path.join(os.path.dirname(current), os.readlink(current)))
    else:
        raise FileSafetyError(f'{option} {path}: more than {_MAX_LINKS} symlinks to follow (a loop?); nothing was written',
                              path=path, option=option)
    if stat.S_ISDIR(info.st_mode):
        raise FileSafetyError(f'{option} {path}: {current} is a directory; point {option} at the file '
                              '(nothing was written)', path=path, option=option)
    if not stat.S_ISREG(info.st_mode):
        raise FileSafetyError(f'{option} {path}: {current} is not a regular file (a device, FIFO or socket); '
                              'nothing was written', path=path, option=option)
    for link, uid in links:
        if uid not in (0, info.st_uid):
            raise FileSafetyError(
                f'{option} {path}: refusing to follow the symlink {link} to {current}: the link belongs to '
                f'{_owner(uid)}, who is neither root nor the owner of {current} ({_owner(info.st_uid)}); '
                'nothing was written. Point the option at the real file, or have root or the file\'s owner '
                'own the link.', path=path, option=option)
    return current


@contextlib.contextmanager
def directory_lock(directory: str, *, timeout: float = DEFAULT_LOCK_TIMEOUT, what: str | None = None,
                   option: str = 'path') -> t.Iterator[None]:
    """An exclusive flock on `directory` for the duration of the block (no lock file).

    flock locks belong to an open file description: a second lock on the same directory taken
    inside the block, even by this process, waits for the first, so never nest them.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise FileSafetyError(f'{option} {what or directory}: cannot open the directory {directory} to lock it: '
                              f'{exc.strerror} (nothing was written)', path=what or directory, option=option) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FileSafetyError(
                        f'{option} {what or directory}: another run is changing a file in {directory} and did not '
                        f'finish within {timeout:g} s; nothing was changed', path=what or directory,
                        option=option) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass
class Target:
    """A file about to be rewritten: what `locked_target` read under the lock."""

    given: str                       # the path as the task gave it (maybe a symlink)
    path: str                        # the file written: the final target of the links
    option: str                      # the module option that names the file, for messages
    data: bytes | None               # the current content; None when the file does not exist
    stat: os.stat_result | None      # the current file's stat; None when it does not exist
    directory_exists: bool

    def write(self, host: FileHost, content: bytes, *, mode: int | str | None = None, backup: bool = False,
              file_args: dict[str, t.Any] | None = None, backup_option: str = 'backup') -> str | None:
        """Replace the file with content (see write_file); returns the backup path when one was made."""
        return write_file(host, self, content, mode=mode, backup=backup, file_args=file_args,
                          backup_option=backup_option)


def _read_regular(path: str, given: str, option: str) -> tuple[bytes | None, os.stat_result | None]:
    # O_NOFOLLOW: the last component was resolved already, a link there now is a swap under us.
    # O_NONBLOCK: a FIFO put there in the meantime must not hang the run.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise FileSafetyError(f'{option} {given}: cannot read {path}: {exc.strerror} (nothing was written)',
                              path=given, option=option) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileSafetyError(f'{option} {given}: {path} is not a regular file; nothing was written',
                                  path=given, option=option)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks), info
    except FileSafetyError:
        raise
    except OSError as exc:
        raise FileSafetyError(f'{option} {given}: cannot read {path}: {exc.strerror} (nothing was written)',
                              path=given, option=option) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_target(path: str, *, option: str = 'path', timeout: float = DEFAULT_LOCK_TIMEOUT,
                  lock: bool = True) -> t.Iterator[Target]:
    """Resolve path (symlink policy), lock its directory, and yield its content read under the lock.

    Compute the new content and call `target.write` inside the block: nobody changes the file in
    between. `lock=False` when the caller already holds this directory's lock (see directory_lock).
    A missing directory is not an error here (check mode, state=absent); writing into it is.
    """
    for _attempt in range(3):
        resolved = resolve_target(path, option=option)
        directory = os.path.dirname(resolved)
        exists = os.path.isdir(directory)
        with (directory_lock(directory, timeout=timeout, what=path, option=option) if lock and exists
              else contextlib.nullcontext()):
            # The link may have been changed while we waited for the lock: resolve again under it.
            if lock and exists and resolve_target(path, option=option) != resolved:
                continue
            data, info = _read_regular(resolved, path, option) if exists else (None, None)
            yield Target(given=path, path=resolved, option=option, data=data, stat=info, directory_exists=exists)
            return
    raise FileSafetyError(f'{option} {path}: the symlink kept changing while waiting for the lock; nothing was written',
                          path=path, option=option)


def _mode_bits(host: FileHost, mode: int | str | None, current: os.stat_result | None, default: int | None = None) -> int | None:
    """The permission bits `mode` gives (octal or symbolic), None when it leaves them to the file."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode & 0o7777
    text = str(mode).strip()
    try:
        return int(text, 8) & 0o7777
    except ValueError:
        pass
    base = current.st_mode if current is not None else stat.S_IFREG | (default if default is not None else 0o600)
    try:
        return host._symbolic_mode_to_octal(os.stat_result((base,) + (0,) * 9), text) & 0o7777
    except Exception:  # an invalid mode: set_fs_attributes_if_different reports it with the option's name
        return None


def check_secret_mode(host: FileHost, target: Target, *, what: str, mode: int | str | None = None,
                      new_mode: int = 0o600, allow_world_readable: bool = False, warn: bool = True,
                      warnings: list[str] | None = None) -> None:
    """Refuse to put a secret into a file every user can read (o+r), before anything is written.

    The mode the file will have counts: `mode` when the task gives one, else the existing file's,
    else `new_mode` for a file the module creates. Group-readable is allowed: the application's
    group must read its own configuration. With allow_world_readable, warn instead (every run):
    into `warnings` when a backend collects them for its result, else through host.warn.
    """
    current = target.stat.st_mode & 0o7777 if target.stat is not None else None
    wanted = _mode_bits(host, mode, target.stat, new_mode)
    final = wanted if wanted is not None else (current if current is not None else new_mode)
    if not final & 0o004:
        return
    where = target.given if target.given == target.path else f'{target.given} (-> {target.path})'
    state = 'is' if wanted is None and current is not None else 'would be'
    if not allow_world_readable:
        raise FileSafetyError(
            f'{target.option} {where} {state} readable by every user (mode {final:04o}) and would hold {what}; '
            f'nothing was written. Make it readable by its owner and group only (for example mode 0640, group '
            f'the application\'s), or set {_ALLOW_OPTION}: true (role variable {_ALLOW_VARIABLE}) to write it anyway.',
            path=target.given, option=_ALLOW_OPTION)
    if warn:
        message = (f'{where} {state} readable by every user (mode {final:04o}) and holds {what}, because '
                   f'{_ALLOW_OPTION} is true ({_ALLOW_VARIABLE}); make it mode 0640 and turn that off.')
        if warnings is not None:
            warnings.append(message)
        else:
            host.warn(message)


def _backup_name(path: str) -> str:
    # Ansible's own naming (module.backup_local): basename.PID.YYYY-MM-DD@HH:MM:SS~
    return '%s.%s.%s' % (path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(time.time())))


def _make_backup(target: Target, option: str) -> str:
    """A copy of the current content: exclusive, never through a link, never wider than the file."""
    if target.data is None or target.stat is None:  # callers back up existing files only
        raise RuntimeError(f'{target.path}: no current file to back up')
    name = _backup_name(target.path)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     target.stat.st_mode & 0o777)
    except FileExistsError:
        raise FileSafetyError(
            f'{target.option} {target.given}: the backup name {name} exists already ({option}: true); it is not '
            'ours (it may be a planted symlink), so nothing was changed. Remove it and run again.',
            path=target.given, option=option, code=errno.EEXIST) from None
    except OSError as exc:
        raise FileSafetyError(f'{target.option} {target.given}: cannot create the backup {name} ({option}: true): '
                              f'{exc.strerror}; nothing was changed', path=target.given, option=option,
                              code=exc.errno or 0) from None
    try:
        os.fchmod(fd, target.stat.st_mode & 0o777)  # exactly the file's mode, whatever the umask
        with contextlib.suppress(PermissionError):
            os.fchown(fd, target.stat.st_uid, target.stat.st_gid)
        view = memoryview(target.data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.utime(fd, ns=(target.stat.st_atime_ns, target.stat.st_mtime_ns))
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)  # a partial backup is worse than none: it looks like one
        raise FileSafetyError(f'{target.option} {target.given}: cannot write the backup {name} ({option}: true): '
                              f'{exc.strerror}; the backup was removed and nothing was changed',
                              path=target.given, option=option, code=exc.errno or 0) from None
    os.close(fd)
    return name


def write_file(host: FileHost, target: Target, content: bytes, *, mode: int | str | None = None, backup: bool = False,
               file_args: dict[str, t.Any] | None = None, backup_option: str = 'backup') -> str | None:
    """Replace target.path with content so readers see the old or the new file, never a mix.

    The temporary file lives in the target's directory (a rename is atomic only within one file
    system), gets its final mode and the old file's owner before it gets its content, and is
    fsynced before the rename. `file_args` (owner, group, mode, SELinux, attributes) are applied
    to the final target afterwards. Returns the backup path when one was made.
    """
    given = target.given
    if not target.directory_exists:
        raise FileSafetyError(f'{target.option} {given}: the directory {os.path.dirname(target.path)} does not exist; '
                              'create it first (nothing was written)', path=given, option=target.option)
    backup_file = _make_backup(target, backup_option) if backup and target.data is not None else None
    wanted = _mode_bits(host, mode, target.stat)
    directory = os.path.dirname(target.path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(target.path) + '.', suffix='.tmp', dir=directory)
        with os.fdopen(fd, 'wb') as handle:
            if wanted is not None:
                os.fchmod(handle.fileno(), wanted)
            elif target.stat is not None:
                os.fchmod(handle.fileno(), target.stat.st_mode & 0o7777)
            if target.stat is not None:
                with contextlib.suppress(PermissionError):  # the application's user keeps reading its own file
                    os.fchown(handle.fileno(), target.stat.st_uid, target.stat.st_gid)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # os.replace rather than module.atomic_move: atomic_move re-applies 0644 to a new file
        # after the rename, which would briefly expose a file that holds a password.
        os.replace(tmp, target.path)
        tmp = None
    except OSError as exc:
        if backup_file:  # the file did not change: its backup would only be clutter
            with contextlib.suppress(OSError):
                os.unlink(backup_file)
        raise FileSafetyError(f'{target.option} {given}: could not write {target.path}: {exc.strerror or exc}; '
                              'it was not changed', path=given, option=target.option, code=exc.errno or 0) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    with contextlib.suppress(OSError):  # durability of the rename itself; not worth failing for
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    if file_args:
        host.set_fs_attributes_if_different(dict(file_args, path=target.path), False)
    return backup_file


def fs_attributes(host: FileHost, target: Target, file_args: dict[str, t.Any] | None, changed: bool) -> bool:
    """Owner, group, mode, ... of an unchanged file: on the final target, never on the link."""
    if not file_args or target.stat is None:
        return changed
    return host.set_fs_attributes_if_different(dict(file_args, path=target.path), changed)
