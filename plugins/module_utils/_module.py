# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Glue between AnsibleModule and the settings model, shared by every module."""

from __future__ import annotations

import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._deps import require_lib

__all__ = ['settings_argument_spec', 'register_secrets', 'load_module_settings']


def settings_argument_spec() -> dict[str, t.Any]:
    """The `settings` option; documented by the mailwright.smtp.settings doc fragment."""
    return {'settings': {'type': 'dict', 'required': True}}


def register_secrets(module, values: t.Iterable[str]) -> None:
    """Make Ansible scrub these values from every result, warning and invocation it prints."""
    for value in values:
        if value:
            module.no_log_values.add(value)


def load_module_settings(module, option: str = 'settings') -> dict[str, t.Any]:
    """Effective settings from a module option, or fail_json listing every error by JSON path."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings import (
        effective_settings,
        secret_values,
    )

    document = module.params[option]
    register_secrets(module, secret_values(document))
    try:
        # jsonschema is imported only when a document needs explaining; valid settings pass
        # the fast check in _settings, which keeps a test send's start-up short.
        result = effective_settings(document)
    except ImportError:
        require_lib(module, 'jsonschema')
        raise
    if result.errors:
        module.fail_json(
            msg='invalid mail settings: ' + '; '.join(str(e) for e in result.errors),
            errors=[e.to_dict() for e in result.errors],
        )
    return result.effective
