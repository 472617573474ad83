# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Idempotence markers: a small JSON record on the managed host of what was proven, and when.

What was proven is identified by a fingerprint: HMAC-SHA256 over the canonical JSON of the
settings that matter, keyed by a random per-host key (mode 0600, next to the markers). The
settings include the password and token, so a changed secret is a changed proof; the key keeps
them out of reach: a marker (or a message header carrying the fingerprint) gives nobody a way to
test guesses of the password offline without also reading the key.

Only the standard library; markers and the key are written atomically and are never readable by
other users.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
import time
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import locked_target, read_bytes

__all__ = [
    'DEFAULT_MARKER_DIR',
    'KEY_FILE_NAME',
    'MARKER_VERSION',
    'MarkerError',
    'canonical_json',
    'default_marker_path',
    'key_path_for',
    'read_key',
    'load_or_create_key',
    'fingerprint',
    'read_marker',
    'write_marker',
    'marker_age',
    'iso_utc',
]

DEFAULT_MARKER_DIR = '/var/lib/mailwright/test_send'
KEY_FILE_NAME = 'fingerprint.key'
MARKER_VERSION = 1
_KEY_BYTES = 32


class MarkerError(MailwrightError):
    """A marker or key that exists but cannot be used (unreadable, corrupt, wrong size)."""

    kind = 'file'

    def __init__(self, message: str):
        super().__init__(message, step='marker')


def canonical_json(value: t.Any) -> bytes:
    """One byte string per value: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=False, allow_nan=False).encode('utf-8')


def default_marker_path(product: str, host: str, port: int, directory: str = DEFAULT_MARKER_DIR) -> str:
    """<directory>/<product>-<sha1 of host:port>.json: one proof per product and relay."""
    relay = hashlib.sha1(f'{host.lower()}:{int(port)}'.encode('utf-8')).hexdigest()
    return os.path.join(directory, f'{product}-{relay}.json')


def key_path_for(marker_path: str) -> str:
    """The per-host key lives next to the markers it keys."""
    return os.path.join(os.path.dirname(os.path.abspath(marker_path)), KEY_FILE_NAME)


def _check_key(raw: bytes, path: str) -> bytes:
    if len(raw) != _KEY_BYTES:
        raise MarkerError(f'{path}: a fingerprint key must be {_KEY_BYTES} bytes, found {len(raw)}; '
                          'delete it to have a new one made (the next run then sends again)')
    return raw


def read_key(path: str) -> bytes | None:
    """The key, or None when there is none yet."""
    try:
        raw = read_bytes(path)
    except OSError as exc:
        raise MarkerError(f'{path}: cannot read the fingerprint key: {exc.strerror}') from exc
    return None if raw is None else _check_key(raw, path)


def load_or_create_key(path: str) -> bytes:
    """The key at path, made (32 random bytes, mode 0600) when missing.

    Made in a temporary file and published with link(), which fails when another run got there
    first: concurrent runs agree on one key instead of overwriting each other's.
    """
    existing = read_key(path)
    if existing is not None:
        return existing
    directory = os.path.dirname(os.path.abspath(path))
    _make_private_dir(directory)
    fd, tmp = tempfile.mkstemp(prefix='.key.', dir=directory)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, os.urandom(_KEY_BYTES))
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
    key = read_key(path)
    if key is None:
        raise MarkerError(f'{path}: the fingerprint key vanished right after it was written')
    return key


def fingerprint(key: bytes, material: t.Any) -> str:
    """'hmac-sha256:<hex>' over the canonical JSON of material."""
    return 'hmac-sha256:' + hmac.new(key, canonical_json(material), hashlib.sha256).hexdigest()


def read_marker(path: str) -> dict[str, t.Any] | None:
    """The marker's record, None when there is none. MarkerError when it cannot be used."""
    try:
        raw = read_bytes(path)
    except OSError as exc:
        raise MarkerError(f'{path}: cannot read the marker: {exc.strerror}') from exc
    if raw is None:
        return None
    try:
        record = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MarkerError(f'{path}: not a JSON marker ({exc}); it will be replaced by the next proof') from exc
    if not isinstance(record, dict) or not isinstance(record.get('fingerprint'), str):
        raise MarkerError(f'{path}: the marker has no fingerprint; it will be replaced by the next proof')
    return record


def _make_private_dir(directory: str) -> None:
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)


def write_marker(module, path: str, record: dict[str, t.Any]) -> None:
    """Atomically replace the marker with record (mode 0600); makes the directory (0700) if needed.

    Written like every other file (_files: directory lock, symlink policy); its errors are OSErrors.
    """
    _make_private_dir(os.path.dirname(os.path.abspath(path)))
    content = json.dumps(dict(record, version=MARKER_VERSION), indent=2, sort_keys=True) + '\n'
    with locked_target(path, option='marker_path') as target:
        target.write(module, content.encode('utf-8'), mode=0o600)


def marker_age(record: dict[str, t.Any], now: float | None = None) -> float | None:
    """Seconds since the proof; None when the marker does not say when."""
    epoch = record.get('epoch')
    if not isinstance(epoch, (int, float)):
        return None
    return max(0.0, (time.time() if now is None else now) - float(epoch))


def iso_utc(epoch: float) -> str:
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))
