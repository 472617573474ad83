# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Statuses, counts and fail_on, shared by dns_check and smtp_probe so both judge alike.

Every check of dns_check and every target of smtp_probe ends as pass, warn or fail; the worst
one is the run's status, `counts` says how many of each, and `fail_on` (fail, warn, never)
decides whether the task fails. One copy, so the two modules cannot drift apart.
"""

from __future__ import annotations

import typing as t

__all__ = ['STATUS_ORDER', 'FAIL_ON', 'worst_status', 'count_statuses', 'trips']

STATUS_ORDER = {'pass': 0, 'warn': 1, 'fail': 2}
FAIL_ON = ('fail', 'warn', 'never')


def worst_status(statuses: t.Iterable[str]) -> str:
    return max(statuses, key=STATUS_ORDER.__getitem__, default='pass')


def count_statuses(statuses: t.Iterable[str]) -> dict[str, int]:
    """{'pass': n, 'warn': n, 'fail': n}: the `counts` of every result (a module may add to it)."""
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for status in statuses:
        counts[status] += 1
    return counts


def trips(status: str, fail_on: str) -> bool:
    """True when an item with this status fails the task under fail_on."""
    if fail_on == 'never':
        return False
    return STATUS_ORDER[status] >= STATUS_ORDER['warn' if fail_on == 'warn' else 'fail']
