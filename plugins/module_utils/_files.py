# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Writing files the way every mailwright module must: atomically, with backup and attributes."""

from __future__ import annotations

import os
import tempfile
import typing as t

__all__ = ['read_bytes', 'write_file_atomic']


def read_bytes(path: str) -> bytes | None:
    """The file's content, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_file_atomic(
    module,
    path: str,
    content: bytes,
    *,
    mode: int | str | None = None,
    backup: bool = False,
    file_args: dict[str, t.Any] | None = None,
) -> str | None:
    """Replace `path` with `content` so readers see the old or the new file, never a mix.

    The temporary file lives in the target directory (a rename is atomic only within one file
    system), gets its final mode before it gets its content, and is fsynced before the rename.
    Returns the backup path when one was made.
    """
    directory = os.path.dirname(os.path.abspath(path))
    backup_file = None
    if backup and os.path.exists(path):
        backup_file = module.backup_local(path)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp', dir=directory)
    try:
        if mode is not None:
            os.chmod(tmp, int(mode, 8) if isinstance(mode, str) else mode)
        if os.path.exists(path):
            current = os.stat(path)
            if mode is None:
                os.chmod(tmp, current.st_mode & 0o7777)
            try:  # the application's user must keep reading its own file
                os.chown(tmp, current.st_uid, current.st_gid)
            except PermissionError:
                pass
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # os.replace rather than module.atomic_move: atomic_move re-applies 0644 to a new file
        # after the rename, which would briefly expose a file that holds a password.
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if file_args:
        args = dict(file_args, path=path)
        module.set_fs_attributes_if_different(args, False)
    return backup_file
