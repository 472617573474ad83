# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of settings_validate: read settings files and validate many documents quickly."""

from __future__ import annotations

import glob
import json
import os
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._settings import (
    Finding,
    effective_settings,
    redact,
    secret_values,
)

__all__ = ['FileReport', 'expand_paths', 'load_document', 'validate_files']

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


def load_document(path: str) -> t.Any:
    """Parse one settings file (YAML or JSON). DocumentError names the file and line."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError as exc:
        raise DocumentError(Finding('$', f'cannot read {path}: {exc.strerror}')) from None
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise DocumentError(Finding('$', f'{path} is not UTF-8 (byte {exc.start})')) from None
    if path.endswith('.json'):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DocumentError(Finding('$', f'{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}')) from None
    import yaml

    try:
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


def expand_paths(patterns: t.Iterable[str]) -> tuple[list[str], list[str]]:
    """Files matched by paths and globs (sorted, unique), and the patterns that matched nothing."""
    files: list[str] = []
    unmatched: list[str] = []
    seen = set()
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if not os.path.isdir(m)]
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
    effective: dict | None
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


def validate_document(document: t.Any, *, source: str = '') -> FileReport:
    result = effective_settings(document)
    return FileReport(source, result.errors, result.warnings, result.effective, secret_values(document))


def _validate_file(path: str) -> FileReport:
    try:
        document = load_document(path)
    except DocumentError as exc:
        return FileReport(path, [exc.finding], [], None, [])
    return validate_document(document, source=path)


def _validate_chunk(paths: list[str]) -> list[FileReport]:
    return [_validate_file(path) for path in paths]


# Below this many files a second process costs more than it saves.
_PARALLEL_THRESHOLD = 400


def validate_files(files: t.Sequence[str], *, workers: int | None = None) -> list[FileReport]:
    """Reports in the order of `files`. Large batches are spread over the CPUs by forking:
    parsing and validating are CPU-bound, and a CI run over a repository is exactly that case."""
    files = list(files)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(files) < _PARALLEL_THRESHOLD:
        return _validate_chunk(files)
    import multiprocessing

    try:
        context = multiprocessing.get_context('fork')
    except ValueError:  # no fork on this platform
        return _validate_chunk(files)
    size = -(-len(files) // (workers * 4))
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    _validator_ready()
    with context.Pool(workers) as pool:
        return [report for chunk in pool.map(_validate_chunk, chunks) for report in chunk]


def _validator_ready() -> None:
    """Compile the schema and load the YAML loader once, before forking, so workers inherit them."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings import effective_settings as check

    check({'product': 'generic', 'server': {'host': 'localhost'}, 'sender': {'from_address': 'a@localhost'}})
    _loader()
