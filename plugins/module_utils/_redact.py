# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The one placeholder secrets are shown as, and the one way text is cleaned of them."""

from __future__ import annotations

import typing as t

__all__ = ['REDACTED', 'redact_text']

REDACTED = '********'


def redact_text(text: str, secrets: t.Iterable[str | None], *,
                forms: t.Sequence[t.Callable[[str], str]] = (), placeholder: str = REDACTED) -> str:
    """`text` with every non-empty secret replaced by the placeholder.

    Longest first, so a secret that contains another goes whole. `forms` are the escaped
    spellings a secret takes in this kind of text (XML, .properties, shell); each is replaced
    before the raw secret.
    """
    for secret in sorted({s for s in secrets if isinstance(s, str) and s}, key=len, reverse=True):
        for form in (*(escape(secret) for escape in forms), secret):
            text = text.replace(form, placeholder)
    return text
