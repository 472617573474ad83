# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""What the two product-API backends (Bitbucket, GHES) share: their options and their failures.

The connection options come from _net.http; here they get the constraints that belong to them
(a token or a user and password, never both), in an ArgumentSpec built fresh on every call, so
a module adds its own options without editing a dict another module also uses. The docs of the
same options are the mailwright.smtp.api doc fragment.

An HttpError is already of the collection's error family: its `cause` names what failed on the
wire (http, timeout, refused, dns, tls, network, protocol), its `kind` the family's word for it,
and its result carries the request (`http`) as the modules have always reported it.
"""

from __future__ import annotations

import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import ArgumentSpec
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpError, connection_argument_spec

__all__ = ['api_argument_spec', 'api_error', 'diff_scalar', 'run_api']


def api_error(exc: Exception) -> MailwrightError:
    """The MailwrightError for a failed API call: an HttpError (or any of the family) as it is, since
    it carries its kind and the request; anything else with its message and kind invalid."""
    if isinstance(exc, MailwrightError):
        return exc
    return MailwrightError(str(exc))


def api_argument_spec(*, token: bool = True, default_username: str | None = None,
                      url_required: bool = False) -> ArgumentSpec:
    """The connection options with their constraints; with `token`, a token or basic auth, never both."""
    options = connection_argument_spec(default_username=default_username)
    if url_required:
        options['url'] = dict(options['url'], required=True)
    if not token:
        del options['token']  # a fresh dict from _net.http: nobody else sees this removal
        return ArgumentSpec(options)
    return ArgumentSpec(
        options,
        mutually_exclusive=[('token', 'url_username'), ('token', 'url_password')],
        required_together=[('url_username', 'url_password')],
        required_one_of=[('token', 'url_username')],
    )


def diff_scalar(value: t.Any) -> str:
    """An API value as a diff line shows it: JSON's spelling for null, booleans and the empty string."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if value == '':
        return '""'
    return str(value)


def run_api(ensure: t.Callable[..., dict[str, t.Any]], client: t.Any, effective: t.Any, *, diff: bool = True,
            **kwargs: t.Any) -> dict[str, t.Any]:
    """A product API backend: `ensure`, its failures as MailwrightError (HttpError with the request
    under `http`), and `diff` only when asked for."""
    try:
        result = ensure(client, effective, **kwargs)
    except HttpError as exc:
        raise api_error(exc) from None
    if not diff:
        result.pop('diff', None)
    return result
