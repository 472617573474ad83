# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Optional third-party libraries: import once, check the version floor, fail modules cleanly.

Keep this file free of heavy imports: each check imports its library only when asked, so a
module pays only for what it uses. The floors are the lowest versions whose APIs the code uses;
requirements.txt, the README and the doc fragments state the same numbers (a unit test holds
requirements.txt to them). An older library fails the module with missing_required_lib naming
the floor, instead of an AttributeError deep inside a run.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import traceback
import types
import typing as t

if t.TYPE_CHECKING:  # annotations only: the module_utils stay importable without ansible-core
    from ansible.module_utils.basic import AnsibleModule

__all__ = ['LIBRARIES', 'FLOORS', 'import_lib', 'installed_version', 'version_problem', 'missing_libraries',
           'require_lib']

# import name -> (pip name, what it is used for: read after "This is required ...")
LIBRARIES = {
    'jsonschema': ('jsonschema', 'for validating mail settings against the published schema'),
    'dnspython': ('dnspython', 'for the DNS checks'),
    'cryptography': ('cryptography', 'for reading certificates'),
    'yaml': ('PyYAML', 'for reading settings files'),
}
# import name -> the floor requirements.txt states (a unit test keeps the two equal). Newer APIs
# than a floor go through a shim, never straight into the code: cryptography's
# not_valid_after_utc (42) is read through _net/tls, so 41 stays the floor.
FLOORS: dict[str, tuple[int, ...]] = {
    'jsonschema': (4, 18),   # Draft202012Validator, iter_errors, error.absolute_path
    'dnspython': (2, 4),     # Resolver.resolve, LifetimeTimeout, NoNameservers
    'cryptography': (41,),   # x509 loading and extensions, pkcs12 serialization
    'yaml': (6,),            # SafeLoader / CSafeLoader only
}
_IMPORT_NAMES = {'dnspython': 'dns.resolver', 'cryptography': 'cryptography.x509'}
_failures: dict[str, str] = {}
_VERSION = re.compile(r'\d+(?:\.\d+)*')


def _floor_text(name: str) -> str:
    return '.'.join(str(part) for part in FLOORS[name])


def installed_version(name: str) -> str | None:
    """The installed distribution's version string (from its metadata), or None when unknown."""
    from importlib import metadata

    try:
        return metadata.version(LIBRARIES[name][0])
    except metadata.PackageNotFoundError:
        return None


def _parse(version: str) -> tuple[int, ...] | None:
    """The release numbers of a version string ('41.0.7' -> (41, 0, 7); '6.0b1' -> (6, 0)).

    Deliberately without the packaging library, which managed hosts need not have; pre-release
    tags are ignored, which is as strict as a floor of whole release numbers needs.
    """
    match = _VERSION.match(version.strip())
    return tuple(int(part) for part in match.group().split('.')) if match else None


def version_problem(name: str) -> str | None:
    """Why the installed `name` is too old for the code, or None (also when the version is unknown:
    a library that imports but carries no metadata, e.g. vendored, is given the benefit of the doubt)."""
    version = installed_version(name)
    parsed = _parse(version) if version else None
    if parsed is None or parsed >= FLOORS[name]:
        return None
    return f'version {version} is installed, older than {_floor_text(name)}'


def import_lib(name: str) -> types.ModuleType | None:
    """The imported library, or None (the traceback is kept for require_lib)."""
    try:
        return importlib.import_module(_IMPORT_NAMES.get(name, name))
    except ImportError:
        _failures[name] = traceback.format_exc()
        return None


def require_lib(module: AnsibleModule, name: str) -> types.ModuleType:
    """Import a library or fail the module with missing_required_lib naming the pip package and its floor."""
    lib = import_lib(name)
    problem = version_problem(name) if lib is not None else None
    if lib is None or problem is not None:
        from ansible.module_utils.basic import missing_required_lib

        pip_name, purpose = LIBRARIES[name]
        requirement = f'{pip_name} >= {_floor_text(name)}'
        reason = purpose if problem is None else f'{purpose} ({problem})'
        details: dict[str, t.Any] = {'exception': _failures[name]} if lib is None else {}
        module.fail_json(msg=missing_required_lib(requirement, reason=reason), **details)
    return lib


def missing_libraries(libraries: dict) -> list[str]:
    """The requirements (values) of `libraries` (import name -> pip requirement) not installed.

    Looks the import names up without importing them: a host check before anything changes
    should not pay for loading cryptography and friends. A library that is installed but broken
    still fails cleanly later, in the module that imports it (require_lib).
    """
    missing = []
    for name, requirement in libraries.items():
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a dotted name whose parent is missing
            found = False
        if not found:
            missing.append(str(requirement))
    return missing
