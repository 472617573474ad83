# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared file writer (plugins/module_utils/_core/files.py) on real files: symlink policy, backups,
the directory lock, and the secret-file rule. No filesystem call is mocked; time is frozen where
the backup name must be known in advance."""

from __future__ import annotations

import errno
import multiprocessing
import os
import pathlib
import resource
import time

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core import files as _files
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import (
    FileSafetyError,
    check_secret_mode,
    directory_lock,
    locked_target,
    resolve_target,
)

NEIGHBOUR = 65534
FROZEN = 1_800_000_000.0


class Module:
    """The little of AnsibleModule the writer uses when no file arguments are given."""

    check_mode = False
    _symbolic_mode_to_octal = AnsibleModule._symbolic_mode_to_octal  # a classmethod: symbolic modes

    def __init__(self):
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _write(path: pathlib.Path, content: bytes, **kwargs) -> str | None:
    with locked_target(str(path)) as target:
        return target.write(Module(), content, **kwargs)


def _backup_name(path: pathlib.Path) -> pathlib.Path:
    stamp = time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(FROZEN))
    return pathlib.Path(f'{path}.{os.getpid()}.{stamp}')


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(_files.time, 'time', lambda: FROZEN)


def test_link_chain_is_followed_to_the_file(tmp_path):
    real = tmp_path / 'real.xml'
    real.write_bytes(b'old')
    first, second = tmp_path / 'a', tmp_path / 'b'
    second.symlink_to(real)
    first.symlink_to('b')  # relative, resolved from the link's directory
    assert resolve_target(str(first)) == str(real)
    _write(first, b'new')
    assert first.is_symlink() and second.is_symlink() and real.read_bytes() == b'new'


def test_link_owned_by_the_files_owner_is_followed(tmp_path):
    real = tmp_path / 'real'
    real.write_bytes(b'x')
    os.chown(real, NEIGHBOUR, NEIGHBOUR)
    link = tmp_path / 'link'
    link.symlink_to(real)
    os.lchown(link, NEIGHBOUR, NEIGHBOUR)
    assert resolve_target(str(link)) == str(real)


def test_neighbours_link_is_refused(tmp_path):
    real = tmp_path / 'passwd'
    real.write_bytes(b'root')
    link = tmp_path / 'server.xml'
    link.symlink_to(real)
    os.lchown(link, NEIGHBOUR, NEIGHBOUR)
    with pytest.raises(FileSafetyError, match='refusing to follow the symlink') as caught:
        _write(link, b'pwned')
    assert str(link) in caught.value.message and str(real) in caught.value.message
    assert real.read_bytes() == b'root'


@pytest.mark.parametrize('kind', ['dangling', 'directory', 'fifo', 'loop'])
def test_what_is_not_a_file_is_refused(tmp_path, kind):
    path = tmp_path / 'target'
    if kind == 'dangling':
        path.symlink_to(tmp_path / 'missing')
    elif kind == 'directory':
        path.mkdir()
    elif kind == 'fifo':
        os.mkfifo(path)
    else:
        path.symlink_to(tmp_path / 'other')
        (tmp_path / 'other').symlink_to(path)
    with pytest.raises(FileSafetyError, match=str(path)):
        _write(path, b'x')


def test_new_file_gets_the_mode_and_no_backup(tmp_path):
    path = tmp_path / 'new.properties'
    assert _write(path, b'a=1\n', mode=0o640, backup=True) is None
    assert path.read_bytes() == b'a=1\n' and oct(path.stat().st_mode & 0o777) == '0o640'


def test_backup_is_exclusive_and_never_follows_a_link(tmp_path, frozen):
    path = tmp_path / 'server.xml'
    path.write_bytes(b'<old password="secret"/>')
    victim = tmp_path / 'victim'
    victim.write_bytes(b'untouched')
    _backup_name(path).symlink_to(victim)
    with pytest.raises(FileSafetyError, match='exists already') as caught:
        _write(path, b'<new/>', backup=True)
    assert caught.value.option == 'backup' and caught.value.errno == errno.EEXIST
    assert victim.read_bytes() == b'untouched' and path.read_bytes() == b'<old password="secret"/>'


def test_backup_keeps_the_files_mode_content_and_times(tmp_path, frozen):
    path = tmp_path / 'server.xml'
    path.write_bytes(b'old')
    path.chmod(0o600)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    backup = _write(path, b'new', backup=True)
    assert backup == str(_backup_name(path))
    info = os.stat(backup)
    assert oct(info.st_mode & 0o777) == '0o600' and info.st_mtime_ns == 1_000_000_000_000_000_000
    assert pathlib.Path(backup).read_bytes() == b'old' and path.read_bytes() == b'new'


def _limited(path: str, limit: int, queue) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        _write(pathlib.Path(path), b'y' * (limit * 4), backup=True)
        queue.put(('ok', None))
    except FileSafetyError as exc:
        queue.put(('error', (exc.message, exc.option)))


@pytest.mark.parametrize('which', ['backup', 'file'])
def test_a_write_that_fails_leaves_no_backup_and_the_file(tmp_path, which):
    """RLIMIT_FSIZE (EFBIG, as ENOSPC) hits the backup, or the new file after the backup."""
    path = tmp_path / 'server.xml'
    old = b'x' * 4096
    path.write_bytes(old)
    limit = 1024 if which == 'backup' else 8192
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    child = ctx.Process(target=_limited, args=(str(path), limit, queue))
    child.start()
    child.join(60)
    outcome, details = queue.get(timeout=5)
    assert outcome == 'error', details
    message, option = details
    assert str(path) in message and 'too large' in message.lower()
    assert option == ('backup' if which == 'backup' else 'path')
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ['server.xml']


def test_secret_rule_counts_the_mode_the_file_will_have(tmp_path):
    path = tmp_path / 'setenv.sh'
    path.write_bytes(b'')
    module = Module()
    path.chmod(0o644)
    with locked_target(str(path), option='jvm_options_file') as target:
        with pytest.raises(FileSafetyError, match='allow_world_readable') as caught:
            check_secret_mode(module, target, what='the truststore password')
        assert 'jvm_options_file' in caught.value.message and 'mail_allow_world_readable' in caught.value.message
        check_secret_mode(module, target, what='x', mode='0640')            # the task tightens it
        check_secret_mode(module, target, what='x', mode='u=rw,g=r,o=')     # symbolic too
        with pytest.raises(FileSafetyError):
            check_secret_mode(module, target, what='x', mode='o+r')
        check_secret_mode(module, target, what='x', allow_world_readable=True)
    assert len(module.warnings) == 1 and 'readable by every user' in module.warnings[0]
    path.chmod(0o640)
    with locked_target(str(path)) as target:
        check_secret_mode(module, target, what='x')                         # group-readable is fine
    with locked_target(str(tmp_path / 'new')) as target:
        check_secret_mode(module, target, what='x', new_mode=0o640)
        with pytest.raises(FileSafetyError):
            check_secret_mode(module, target, what='x', mode='0644')


def _hold(directory: str, ready, release) -> None:
    with directory_lock(directory):
        ready.set()
        release.wait(30)


def test_directory_lock_waits_and_times_out_cleanly(tmp_path):
    ctx = multiprocessing.get_context('fork')
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(FileSafetyError, match='did not finish within 0.3 s'):
            with locked_target(str(tmp_path / 'server.xml'), timeout=0.3):
                pass
    finally:
        release.set()
        holder.join(30)
    with locked_target(str(tmp_path / 'server.xml'), timeout=5) as target:
        assert target.data is None and target.directory_exists
    assert os.listdir(tmp_path) == []  # the lock leaves no file behind
