# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of settings_validate: read settings files and validate many documents quickly.

Files come from `path`/`paths`, which a CI job may point at a whole repository, so reading is
bounded: regular files only (a FIFO would block, /dev/zero never ends), at most
MAX_DOCUMENT_BYTES per file (read that much and one byte more, never the whole file), YAML
aliases may add at most MAX_ALIAS_NODES nodes (a "billion laughs" fails in milliseconds), and
globs stop at MAX_GLOB_FILES matches or GLOB_SECONDS of walking, with an error that says how
to narrow them. Every refusal is a Finding naming the option and the file, never a traceback.
"""

from __future__ import annotations

import errno
import functools
import glob
import json
import os
import stat
import time
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import (
    EffectiveSettings,
    Finding,
    effective_settings,
    redact,
    secret_values,
)

__all__ = ['FileReport', 'PathsError', 'expand_paths', 'load_document', 'validate_files',
           'MAX_DOCUMENT_BYTES', 'MAX_ALIAS_NODES', 'MAX_GLOB_FILES', 'GLOB_SECONDS']

MAX_DOCUMENT_BYTES = 1024 * 1024  # a settings document is a few hundred bytes; 1 MiB is generous
MAX_ALIAS_NODES = 10_000          # nodes YAML aliases may add by expansion, over the whole document
MAX_GLOB_FILES = 10_000           # files O(paths) may match in all
GLOB_SECONDS = 30.0               # time O(paths) may spend walking directories

_yaml_loader = None


def _loader():
    """PyYAML's C loader where libyaml is present: several times faster on thousands of files."""
    global _yaml_loader
    if _yaml_loader is None:
        import yaml

        _yaml_loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    return _yaml_loader


class DocumentError(ValueError):
    def __init__(self, finding: Finding):
        self.finding = finding
        super().__init__(str(finding))


class PathsError(ValueError):
    """A path or pattern that cannot be used at all (the whole call fails)."""


_KINDS = (
    (stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO (named pipe)'), (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), 'not a regular file')


def _refuse(option: str, path: str, message: str, hint: str = '') -> DocumentError:
    return DocumentError(Finding('$', f'{option} {path}: {message}', hint))


def read_bounded(path: str, *, option: str = 'path', limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; DocumentError otherwise.

    Opened non-blocking (a FIFO without a writer must not hang the task) and checked with fstat
    on the open descriptor, so what is read is what was checked. Symlinks are followed: a link
    to a regular file is a regular file (a loop is an error from open).
    """
    if '\x00' in path:
        raise _refuse(option, repr(path.replace('\x00', '\\0')), 'contains a NUL byte', 'no file name can')
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO no one writes to in some kernels
            try:
                return _raise_kind(option, path, os.stat(path).st_mode)
            except OSError:
                pass
        raise _refuse(option, path, f'cannot read: {exc.strerror}') from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            _raise_kind(option, path, info.st_mode)
        if info.st_size > limit:
            raise _refuse(option, path, f'is {info.st_size} bytes, more than the {limit} a settings document may have',
                          'one settings document per file')
        chunks, size = [], 0
        # /proc and growing files may say one size and hold another: never read past limit + 1.
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _refuse(option, path, f'holds more than the {limit} bytes a settings document may have',
                          'one settings document per file')
        return b''.join(chunks)
    except OSError as exc:
        raise _refuse(option, path, f'cannot read: {exc.strerror}') from None
    finally:
        os.close(fd)


def _raise_kind(option: str, path: str, mode: int) -> t.NoReturn:
    raise _refuse(option, path, f'is {_kind(mode)}, not a regular file', 'give the path of a YAML or JSON file')


def _check_aliases(text: str, where: str) -> None:
    """Refuse a YAML document whose aliases expand to more than MAX_ALIAS_NODES nodes.

    PyYAML builds aliased nodes once and shares them, so loading a "billion laughs" is quick;
    it is everything after (validation walks, JSON output) that expands it. The expanded size is
    counted on the event stream, each anchor's size once, so the check is linear in the text.
    """
    import yaml

    sizes: dict[str, int] = {}
    open_nodes: list[list] = []  # [anchor, size] of the collections being read
    added = 0

    def close(anchor, size):
        if anchor is not None:
            sizes[anchor] = size
        if open_nodes:
            open_nodes[-1][1] += size

    for event in yaml.parse(text, Loader=_loader()):
        if isinstance(event, yaml.AliasEvent):
            size = sizes.get(event.anchor, 1)
            added += size
            if added > MAX_ALIAS_NODES:
                raise DocumentError(Finding('$', f'{where}: YAML aliases expand to more than {MAX_ALIAS_NODES} nodes',
                                            'a settings document needs no aliases; write the values out'))
            close(None, size)
        elif isinstance(event, yaml.ScalarEvent):
            close(event.anchor, 1)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_nodes.append([event.anchor, 1])
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = open_nodes.pop()
            close(anchor, size)


def load_document(path: str, *, option: str = 'path') -> t.Any:
    """Parse one settings file (YAML or JSON). DocumentError names the option, the file and line."""
    data = read_bounded(path, option=option)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise DocumentError(Finding('$', f'{path} is not UTF-8 (byte {exc.start})')) from None
    if path.endswith('.json'):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(Finding('$', f'{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}')) from None
        except ValueError as exc:  # parsed, but not representable (an integer of more than 4300 digits)
            raise DocumentError(Finding('$', f'{path}: not valid JSON: {exc}')) from None
        except RecursionError:
            raise DocumentError(Finding('$', f'{path}: nested too deeply to be a settings document')) from None
    import yaml

    try:
        if '&' in text:  # no anchor, no alias: the common case skips the extra pass
            _check_aliases(text, path)
        documents = list(yaml.load_all(text, Loader=_loader()))
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f'{path}:{mark.line + 1}:{mark.column + 1}' if mark else path
        problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
        raise DocumentError(Finding('$', f'{where}: not valid YAML: {problem}')) from None
    except RecursionError:
        raise DocumentError(Finding('$', f'{path}: nested too deeply to be a settings document')) from None
    if len(documents) > 1:
        raise DocumentError(Finding('$', f'{path} holds {len(documents)} YAML documents',
                                    'keep one settings document per file'))
    return documents[0] if documents else None


def expand_paths(patterns: t.Iterable[str], *, max_files: int = MAX_GLOB_FILES,
                 seconds: float = GLOB_SECONDS) -> tuple[list[str], list[str]]:
    """Files matched by paths and globs (sorted per pattern, unique), and the patterns that matched nothing.

    PathsError when a pattern holds a NUL byte, or the patterns match more than `max_files`
    files or take longer than `seconds` to walk (`/usr/**/*.yml`).
    """
    files: list[str] = []
    unmatched: list[str] = []
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    narrow = 'narrow the patterns (a directory of settings files rather than ** over a large tree)'
    for pattern in patterns:
        if '\x00' in pattern:
            shown = repr(pattern.replace('\x00', '\\0'))
            raise PathsError(f'paths {shown}: contains a NUL byte, which no file name can')
        pattern = os.path.expanduser(pattern)
        if not glob.has_magic(pattern):
            matches = [pattern]  # read as given: a directory or a FIFO is an error of its own
        else:
            matches = []
            for match in glob.iglob(pattern, recursive=True):
                if time.monotonic() > deadline:
                    raise PathsError(f'paths {pattern}: still matching after {seconds:g} s; {narrow}')
                if os.path.isdir(match):
                    continue
                matches.append(match)
                if len(seen) + len(matches) > max_files:
                    raise PathsError(f'paths {pattern}: the patterns match more than {max_files} files; {narrow}')
            matches.sort()
        if not matches:
            unmatched.append(pattern)
        for match in matches:
            if match not in seen:
                seen.add(match)
                files.append(match)
    return files, unmatched


class FileReport(t.NamedTuple):
    file: str
    errors: list[Finding]
    warnings: list[Finding]
    effective: EffectiveSettings | None
    secrets: list[str]

    def to_dict(self, *, with_effective: bool) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            'file': self.file,
            'valid': not self.errors,
            'errors': [e.to_dict() for e in self.errors],
            'warnings': [w.to_dict() for w in self.warnings],
        }
        if with_effective:
            out['effective'] = redact(self.effective) if self.effective else None
        return out


def validate_document(document: t.Any, *, source: str = '', with_secrets: bool = True) -> FileReport:
    """with_secrets=False leaves FileReport.secrets empty: for a caller that registers none (a batch
    of files, whose results carry no secret by construction), it is a walk of the document saved."""
    result = effective_settings(document)
    return FileReport(source, result.errors, result.warnings, result.effective,
                      secret_values(document) if with_secrets else [])


def _validate_file(path: str, option: str = 'paths', with_secrets: bool = True) -> FileReport:
    try:
        document = load_document(path, option=option)
    except DocumentError as exc:
        return FileReport(path, [exc.finding], [], None, [])
    return validate_document(document, source=path, with_secrets=with_secrets)


def _validate_chunk(paths: list[str], option: str = 'paths', with_secrets: bool = True) -> list[FileReport]:
    return [_validate_file(path, option, with_secrets) for path in paths]


# Below this many files a second process costs more than it saves.
_PARALLEL_THRESHOLD = 400


def validate_files(files: t.Sequence[str], *, workers: int | None = None, option: str = 'paths',
                   with_secrets: bool = True) -> list[FileReport]:
    """Reports in the order of `files`. Large batches are spread over the CPUs by forking:
    parsing and validating are CPU-bound, and a CI run over a repository is exactly that case."""
    files = list(files)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(files) < _PARALLEL_THRESHOLD:
        return _validate_chunk(files, option, with_secrets)
    import multiprocessing

    try:
        context = multiprocessing.get_context('fork')
    except ValueError:  # no fork on this platform
        return _validate_chunk(files, option, with_secrets)
    size = -(-len(files) // (workers * 4))
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    _validator_ready()
    with context.Pool(workers) as pool:
        work = functools.partial(_validate_chunk, option=option, with_secrets=with_secrets)
        return [report for chunk in pool.map(work, chunks) for report in chunk]


def _validator_ready() -> None:
    """Compile the schema and load the YAML loader once, before forking, so workers inherit them."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import effective_settings as check

    check({'product': 'generic', 'server': {'host': 'localhost'}, 'sender': {'from_address': 'a@localhost'}})
    _loader()
