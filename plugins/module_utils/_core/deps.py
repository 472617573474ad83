# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Optional third-party libraries: import once, remember why it failed, fail modules cleanly.

Keep this file free of heavy imports: each check imports its library only when asked, so a
module pays only for what it uses.
"""

from __future__ import annotations

import importlib
import importlib.util
import traceback

__all__ = ['LIBRARIES', 'import_lib', 'missing_libraries', 'require_lib']

# import name -> (pip name, what it is used for)
LIBRARIES = {
    'jsonschema': ('jsonschema', 'validating mail settings against the published schema'),
    'dnspython': ('dnspython', 'DNS checks'),
    'cryptography': ('cryptography', 'reading certificates'),
    'yaml': ('PyYAML', 'reading settings files'),
}
_IMPORT_NAMES = {'dnspython': 'dns.resolver', 'cryptography': 'cryptography.x509'}
_failures: dict[str, str] = {}


def import_lib(name: str):
    """The imported library, or None (the traceback is kept for require_lib)."""
    try:
        return importlib.import_module(_IMPORT_NAMES.get(name, name))
    except ImportError:
        _failures[name] = traceback.format_exc()
        return None


def require_lib(module, name: str):
    """Import a library or fail the module with missing_required_lib naming the pip package."""
    lib = import_lib(name)
    if lib is None:
        from ansible.module_utils.basic import missing_required_lib

        pip_name, purpose = LIBRARIES[name]
        module.fail_json(msg=missing_required_lib(pip_name, reason=purpose), exception=_failures[name])
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
