# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The one placeholder secrets are shown as, and the one way text is cleaned of them.

Two kinds of redaction meet here. `redact_text` replaces secrets we *know* (the values the
settings and the connection options carry), in every spelling a kind of text gives them.
`is_secret_name` recognises secrets we do *not* know: a value found in a file or a reply under
a name that looks like a password (an old password in server.xml, a key nobody told us about),
which the format-specific redactors (_tomcat, _properties, _report) hide whatever it is.
"""

from __future__ import annotations

import base64
import html
import json
import re
import typing as t
import urllib.parse

__all__ = ['REDACTED', 'redact_text', 'is_secret_name', 'encoded_forms', 'credential_forms']

REDACTED = '********'

# The last word of a name that holds a secret: password, passwd, pwd, passphrase, secret, token,
# credential, api key, private key; "pass" only as a word of its own (Tomcat's keystorePass,
# db_pass), not as the end of "bypass" or "compass". "credentials" (plural) is left out on
# purpose: results use it for the outcome of an AUTH check, not for a secret.
_SECRET_END = re.compile(r'(?:password|passwd|pwd|passphrase|secret|token|credential|api[_.-]?key|private[_.-]?key)$')
_PASS_WORD = re.compile(r'(?:^|[^A-Za-z])pass$|(?<=[a-z])Pass$|^PASS$|[^A-Za-z]PASS$|(?<=[a-z])PASS$')


def is_secret_name(name: t.Any) -> bool:
    """True for a key or attribute name whose value must never be shown, whatever the value.

    Case does not matter (`mail.smtp.password`, `trustStorePassword`, `CLIENT_SECRET`); only the
    end of the name counts, so `token_url` and `password_written` are not secret names.
    """
    text = str(name).strip()
    if not text:
        return False
    return bool(_SECRET_END.search(text.lower()) or _PASS_WORD.search(text))


def _escapes(secret: str) -> list[str]:
    json_ascii = json.dumps(secret)[1:-1]
    json_utf8 = json.dumps(secret, ensure_ascii=False)[1:-1]
    return [
        urllib.parse.quote(secret, safe=''), urllib.parse.quote_plus(secret, safe=''), urllib.parse.quote(secret),
        json_ascii, json_ascii.replace('/', '\\/'), json_utf8, json_utf8.replace('/', '\\/'),
        html.escape(secret, quote=True), html.escape(secret, quote=False),
        secret.replace('&', '&amp;').replace('"', '&quot;').replace("'", '&apos;'),
    ]


def encoded_forms(secret: str) -> list[str]:
    """The spellings a secret takes when a server quotes it back: percent-encoded (path and form
    style), JSON string content (ASCII-escaped or not, with `/` escaped as some encoders do) and
    HTML-escaped, and each of those once more (a JSON document sent as a form field, a form body
    quoted in JSON or HTML). The raw secret is not included."""
    once = _escapes(secret)
    forms = once + [twice for form in once for twice in _escapes(form)]
    return [form for form in dict.fromkeys(forms) if form and form != secret]


def credential_forms(*, username: str | None = None, password: str | None = None,
                     token: str | None = None) -> list[str]:
    """Every string that stands for these credentials on the wire, each also in its
    `encoded_forms`: the password and the token themselves, `user:password`, its base64 in the
    standard and URL-safe alphabets with and without padding, and the whole `Basic ...` and
    `Bearer ...` Authorization values."""
    plain: list[str] = []
    if token:
        plain += [token, f'Bearer {token}']
    if password:
        plain.append(password)
        if username is not None:
            pair = f'{username}:{password}'
            plain.append(pair)
            raw = pair.encode('utf-8')
            for encoded in (base64.b64encode(raw).decode('ascii'), base64.urlsafe_b64encode(raw).decode('ascii')):
                plain += [f'Basic {encoded}', encoded, encoded.rstrip('=')]
    forms: list[str] = []
    for item in plain:
        forms += [item, *encoded_forms(item)]
    return [form for form in dict.fromkeys(forms) if form]


def redact_text(text: str, secrets: t.Iterable[str | None], *,
                forms: t.Sequence[t.Callable[[str], str]] = (), placeholder: str = REDACTED) -> str:
    """`text` with every non-empty secret replaced by the placeholder.

    Longest first, so a secret that contains another goes whole. `forms` are the escaped
    spellings a secret takes in this kind of text (XML, .properties, shell); each is replaced
    before the raw secret.
    """
    for secret in sorted({s for s in secrets if isinstance(s, str) and s}, key=len, reverse=True):
        for form in (*(escape(secret) for escape in forms), secret):
            if form:
                text = text.replace(form, placeholder)
    return text
