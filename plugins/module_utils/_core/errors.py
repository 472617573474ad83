# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The one family of expected failures, so one place turns every backend's error into a result.

A backend raises a MailwrightError (or a subclass) for anything a person can act on; the adapter
in _core.module catches exactly this family and calls fail_json with the error's fields. The
`kind` travels on the exception, never guessed from the message, because callers (the role, the
report, retries) branch on it. Anything else that escapes a backend is a bug and keeps its
traceback.
"""

from __future__ import annotations

import typing as t

__all__ = ['KINDS', 'MailwrightError']

# What went wrong, as a word code can branch on. Kept small: a new kind is a documented result value.
KINDS = frozenset({
    'invalid',    # the options or settings cannot work as given (names the field or option)
    'file',       # a file could not be read or written safely (names the file and the option)
    'policy',     # refused on purpose: sending would break a security rule (clear-text AUTH, ...)
    'tls',        # TLS handshake or certificate verification failed
    'network',    # DNS, connect, timeout, connection dropped
    'server',     # the peer answered, with a refusal (SMTP reply code, HTTP status)
    'tool',       # an external program (keytool, java) failed
    'missing',    # a required library or program is not installed
    'conflict',   # the host holds something we must not overwrite (certificate rotation, duplicates)
})


class MailwrightError(Exception):
    """An expected failure: `message` for a person, `kind` for code, `step` where it happened.

    `details` are extra result keys (plain JSON values) the adapter adds to the failed result.
    `warnings` are what the backend had to say before it failed: the adapter emits them too, so a
    warning made on the way (an expiring certificate, a world-readable file allowed) is not lost.
    """

    kind: str = 'invalid'

    def __init__(self, message: str, *, kind: str | None = None, step: str | None = None, **details: t.Any):
        super().__init__(message)
        self.message = message
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f'unknown error kind {kind!r}')
            self.kind = kind
        self.step = step
        self.details = details
        self.warnings: list[str] = []

    def __str__(self) -> str:
        return self.message

    def to_result(self) -> dict[str, t.Any]:
        """The keys of the failed module result (msg, kind, step when known, details)."""
        result: dict[str, t.Any] = dict(self.details)
        result.update(msg=self.message, kind=self.kind)
        if self.step is not None:
            result['step'] = self.step
        return result
