# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Drift: the host's reading against what render would write for the desired settings, read back.

The desired side is not the settings document itself but the *effective* settings rendered by the
render modules' own mapping and read by the same reader as the host (readback.py). So a field
left at its default is not drift, a field the format cannot carry never is, and a value render
writes lossily compares equal exactly when a render run would change nothing. Paths and values
are those of the settings document; secrets are compared, never shown.
"""

from __future__ import annotations

import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._info.readback import Reading
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import REDACTED, json_path

__all__ = ['flatten', 'compare']


def flatten(doc: t.Any, parts: tuple = ()) -> dict[str, tuple[tuple, t.Any]]:
    """JSON path -> (parts, value) for every leaf; a mapping's entries each get a path of their own."""
    out: dict[str, tuple[tuple, t.Any]] = {}
    if isinstance(doc, dict) and doc:
        for key, value in doc.items():
            out.update(flatten(value, parts + (key,)))
    elif parts:
        out[json_path(parts)] = (parts, doc)
    return out


def _covered(path: str, unknown: t.Iterable[str]) -> bool:
    return any(path == u or path.startswith(u + '.') or path.startswith(u + '[') for u in unknown)


def _lookup(doc: t.Any, parts: tuple) -> t.Any:
    for part in parts:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def compare(current: Reading, expected: Reading, effective: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """[{path, current, desired}] where the host differs; [] when it matches."""
    have, want = flatten(current.doc), flatten(expected.doc)
    drift: list[dict[str, t.Any]] = []
    for path in sorted(set(have) | set(want), key=lambda p: (p.count('.'), p)):
        if path in current.secrets or path in expected.secrets or path == '$.product':
            continue
        parts = (have.get(path) or want[path])[0]
        now = have[path][1] if path in have else None
        wanted = want[path][1] if path in want else None
        if path not in have and _covered(path, current.unknown):
            continue
        if path not in want and _covered(path, expected.unknown):
            continue
        if now == wanted:
            continue
        shown = _lookup(effective, parts)
        drift.append({'path': path, 'current': now,
                      'desired': shown if shown is not None and path in want else wanted})
    for path in sorted(set(current.secrets) | set(expected.secrets)):
        now_secret, wanted_secret = current.secrets.get(path), expected.secrets.get(path)
        if now_secret is None and _covered(path, current.unknown) or wanted_secret is None and _covered(path, expected.unknown):
            continue
        if now_secret != wanted_secret:
            drift.append({'path': path, 'current': REDACTED if now_secret is not None else None,
                          'desired': REDACTED if wanted_secret is not None else None, 'masked': True})
    return drift
