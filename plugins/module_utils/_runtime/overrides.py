# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""-Dmail.* options in the JVM's start-up that take the place of what the settings render.

Jira documents that ``-Dmail.smtp.host`` and ``-Dmail.smtp.port`` in the start-up script override
the mail server form: the product builds its session from the JVM's system properties and its
own settings on top, so a forgotten option from a troubleshooting session keeps sending to the old
relay. Those two (and their ``smtps`` and ``mail.host`` forms) are reported always; with settings,
so is every key the settings render (_render.properties.javamail_properties, the one list), and a
-D option that weakens TLS is reported whatever the settings say.
"""

from __future__ import annotations

import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED, is_secret_name
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import JvmOptions, SystemProperty

__all__ = ['FORM_KEYS', 'system_property_overrides']

# What Jira's and Confluence's form set and a JVM option silently replaces.
FORM_KEYS = ('mail.smtp.host', 'mail.smtp.port', 'mail.smtps.host', 'mail.smtps.port', 'mail.host')


def _weakens(name: str, value: str) -> str | None:
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import _weakens_tls

    lowered = name.lower()
    if lowered.endswith('.ssl.checkserveridentity') and value.strip().lower() != 'true':
        return 'turns off the check that the certificate was issued for the relay\'s host name'
    return _weakens_tls(lowered, value)


def _shown(prop: SystemProperty) -> str:
    return REDACTED if is_secret_name(prop.name) else prop.value


def system_property_overrides(options: JvmOptions, rendered: t.Mapping[str, str] | None) -> list[dict[str, t.Any]]:
    """One entry per overriding property (the occurrence the JVM keeps: the last), in file order.

    `rendered` is what the settings render (None without settings: every mail.smtp(s).* option counts).
    """
    last: dict[str, SystemProperty] = {}
    every: dict[str, list[str]] = {}
    for prop in options.all:
        last[prop.name] = prop
        every.setdefault(prop.name, []).append(prop.source)
    found = []
    for name, prop in last.items():
        if not name.startswith('mail.'):
            continue
        weakness = _weakens(name, prop.value)
        if rendered is None:
            relevant = name in FORM_KEYS or name.startswith(('mail.smtp.', 'mail.smtps.'))
        else:
            relevant = name in FORM_KEYS or name in rendered
        if not relevant and weakness is None:
            continue
        wanted = rendered.get(name) if rendered is not None else None
        same = wanted is not None and wanted == prop.value
        shown = _shown(prop)
        option = f'-D{name}={shown}'
        if weakness:
            message = f'{option} ({prop.source}) {weakness}; remove it from {prop.file}'
        elif rendered is None:
            message = (f'{option} ({prop.source}) overrides what the product\'s mail server settings say for '
                       f'{name}; remove it from {prop.file} unless it is meant to')
        elif wanted is None:
            message = (f'{option} ({prop.source}) sets {name}, which the settings leave to the product\'s '
                       f'form; the form\'s value is ignored while it is there. Remove it from {prop.file}')
        elif same:
            message = (f'{option} ({prop.source}) repeats what the settings render for {name}; it will hide the '
                       f'next change of the settings. Remove it from {prop.file}')
        else:
            rendered_shown = REDACTED if is_secret_name(name) else wanted
            message = (f'{option} ({prop.source}) overrides {name}={rendered_shown} that the settings render: a '
                       'session the product builds from its mail server form takes the JVM option instead (Jira '
                       f'documents this for mail.smtp.host and mail.smtp.port). Remove it from {prop.file} or make '
                       'it the same')
        found.append({'property': name, 'value': shown, 'source': prop.source, 'sources': every[name],
                      'variable': prop.variable, 'rendered': (REDACTED if wanted is not None and is_secret_name(name)
                                                              else wanted),
                      'same': same, 'weakens_tls': weakness is not None, 'message': message})
    return found
