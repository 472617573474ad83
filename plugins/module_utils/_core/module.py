# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Glue between AnsibleModule and the settings model, shared by every module.

Every module that takes `settings` goes through load_module_settings, so the guarantees are
made once: secrets (known fields and secret-looking keys the schema does not know) are
registered with no_log before anything can fail, a document nested too deeply is a clean
failure naming the depth and the JSON path, and TLS-weakening properties accepted through
server.allow_insecure_properties are warned about on every run.
"""

from __future__ import annotations

import copy
import sys
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.deps import require_lib
from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError

if t.TYPE_CHECKING:  # for the annotations only: importing it here would slow every unit test
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import EffectiveSettings

__all__ = ['ArgumentSpec', 'settings_argument_spec', 'new_module', 'register_secrets', 'register_settings_secrets',
           'load_module_settings', 'run_backend']

# AnsibleModule deep-copies its arguments (recursively) before any module code runs, so with
# Python's default limit of 1000 frames a settings document nested ~500 levels deep ends in a
# RecursionError traceback instead of the settings layer's clean "nested N levels deep" error.
# This module is imported by every module that takes settings, before AnsibleModule is built.
# 4000 keeps documents up to ~1900 levels deep on the clean path and stays far from the C stack.
_RECURSION_LIMIT = 4000
if sys.getrecursionlimit() < _RECURSION_LIMIT:
    sys.setrecursionlimit(_RECURSION_LIMIT)


@dataclass
class ArgumentSpec:
    """Options with the constraints that belong to them, so shared options travel with their rules.

    Builders return a fresh ArgumentSpec on every call; `merge` returns a new one too, so no module
    edits a spec another module also uses. `module_kwargs()` are AnsibleModule's keyword arguments.
    """

    argument_spec: dict[str, t.Any] = field(default_factory=dict)
    mutually_exclusive: list[t.Sequence[str]] = field(default_factory=list)
    required_together: list[t.Sequence[str]] = field(default_factory=list)
    required_one_of: list[t.Sequence[str]] = field(default_factory=list)
    required_if: list[t.Sequence[t.Any]] = field(default_factory=list)

    def merge(self, other: ArgumentSpec | None = None, **options: dict[str, t.Any]) -> ArgumentSpec:
        """A new spec with other's options and constraints (and `options`) added; a clash is a bug."""
        other = other or ArgumentSpec()
        added = dict(other.argument_spec, **options)
        clash = set(self.argument_spec) & set(added)
        if clash:
            raise ValueError(f'options defined twice: {", ".join(sorted(clash))}')
        return ArgumentSpec(
            copy.deepcopy(dict(self.argument_spec, **added)),
            mutually_exclusive=self.mutually_exclusive + other.mutually_exclusive,
            required_together=self.required_together + other.required_together,
            required_one_of=self.required_one_of + other.required_one_of,
            required_if=self.required_if + other.required_if,
        )

    def module_kwargs(self) -> dict[str, t.Any]:
        kwargs: dict[str, t.Any] = {'argument_spec': copy.deepcopy(self.argument_spec)}
        for name in ('mutually_exclusive', 'required_together', 'required_one_of', 'required_if'):
            if getattr(self, name):
                kwargs[name] = list(getattr(self, name))
        return kwargs


def settings_argument_spec() -> dict[str, t.Any]:
    """The `settings` option; documented by the mailwright.smtp.settings doc fragment."""
    return {'settings': {'type': 'dict', 'required': True}}


def new_module(**kwargs: t.Any) -> AnsibleModule:
    """AnsibleModule(**kwargs), whose own failures hide the secrets of a settings option too.

    AnsibleModule checks its arguments in its constructor and fails there (an unknown option, a
    wrong choice), echoing invocation.module_args: before load_module_settings could register the
    settings' secrets, only options marked no_log were hidden.
    """
    from ansible.module_utils.basic import AnsibleModule

    class _MailwrightModule(AnsibleModule):
        def fail_json(self, msg: str, **result: t.Any) -> t.NoReturn:
            _register_every_settings_option(self)
            super().fail_json(msg, **result)

    return _MailwrightModule(**kwargs)


def _register_every_settings_option(module: AnsibleModule) -> None:
    for name, spec in (getattr(module, 'argument_spec', None) or {}).items():
        if spec.get('type') == 'dict' and isinstance((getattr(module, 'params', None) or {}).get(name), dict):
            try:
                register_settings_secrets(module, name)
            except Exception:  # pylint: disable=broad-exception-caught
                # a document too odd to walk: the failure goes on, without the extra scrub
                continue


def register_secrets(module: AnsibleModule, values: t.Iterable[str]) -> None:
    """Make Ansible scrub these values from every result, warning and invocation it prints."""
    for value in values:
        if value:
            module.no_log_values.add(value)


def register_settings_secrets(module: AnsibleModule, option: str = 'settings') -> None:
    """Register the secrets of a settings option a module does not otherwise load (state=absent)."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import secret_values

    if module.params.get(option) is not None:
        register_secrets(module, secret_values(module.params[option]))


def load_module_settings(module: AnsibleModule, option: str = 'settings') -> EffectiveSettings:
    """Effective settings from a module option, or fail_json listing every error by JSON path."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import (
        effective_settings,
        insecure_property_warnings,
        secret_values,
    )

    document = module.params[option]
    # First, before anything can fail: a failure result echoes the module arguments
    # (invocation.module_args, shown at -vvv), unknown secret-looking fields included.
    register_secrets(module, secret_values(document))
    try:
        # jsonschema is imported only when a document needs explaining; valid settings pass
        # the fast check in _settings, which keeps a test send's start-up short.
        result = effective_settings(document)
    except ImportError:
        require_lib(module, 'jsonschema')
        raise
    if result.errors or result.effective is None:  # no effective settings without an error
        module.fail_json(
            msg='invalid mail settings: ' + '; '.join(str(e) for e in result.errors),
            kind='invalid',
            errors=[e.to_dict() for e in result.errors],
        )
    # The escape hatch is never silent: every module that works from these settings says so.
    for warning in insecure_property_warnings(result.effective):
        module.warn(str(warning))
    return result.effective


def run_backend(module: AnsibleModule, backend: t.Callable[..., dict[str, t.Any]], *args: t.Any,
                register_after: t.Collection[str] = (), **kwargs: t.Any) -> t.NoReturn:
    """Run a backend and end the module with its result: the one adapter every module uses.

    The backend takes plain values (never the AnsibleModule), returns the result dict and raises
    MailwrightError for expected failures. Its `warnings` (a list of text, in the result or on the
    error) are emitted through module.warn so Ansible shows them once; every other key goes to
    exit_json or fail_json as it is (a backend returns `diff` only when asked to).

    `register_after` is a collection the backend fills while it runs (the forms a credential took
    on the wire); its values are registered as secrets before anything is printed, failed or not.
    """
    try:
        result = backend(*args, **kwargs)
    except MailwrightError as exc:
        register_secrets(module, register_after)
        for warning in exc.warnings:
            module.warn(str(warning))
        module.fail_json(**exc.to_result())
    register_secrets(module, register_after)
    for warning in result.pop('warnings', None) or ():
        module.warn(str(warning))
    module.exit_json(**result)
