#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mail_preflight
short_description: Check the Python libraries the mailwright modules need on the managed host
version_added: 0.1.0
description:
  - Imports each library with the interpreter Ansible uses for modules on this host, and reports the
    pip names of the missing ones. Fails, naming the pip command, unless O(report_only=true).
  - The first step of the role C(mailwright.smtp.mail); it runs before anything else so that a host
    without the libraries stops with one clear message instead of a failure halfway through.
author:
  - mailwright maintainers (@mailwright)
options:
  libraries:
    description: Import name to pip requirement.
    type: dict
    required: true
  report_only:
    description: Report missing libraries without failing (the role then installs them).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Check the libraries, fail with the pip command when one is missing
  mailwright.smtp.mail_preflight:
    libraries:
      jsonschema: jsonschema>=4.18
      cryptography: cryptography
"""

RETURN = r"""
missing:
  description: pip requirements of the libraries that failed to import.
  type: list
  elements: str
  returned: always
python:
  description: The interpreter that ran the check (and that runs the mailwright modules).
  type: str
  returned: always
"""

import importlib
import sys

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={'libraries': {'type': 'dict', 'required': True},
                       'report_only': {'type': 'bool', 'default': False}},
        supports_check_mode=True,
    )
    missing = []
    for name, requirement in module.params['libraries'].items():
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(str(requirement))
    result = {'changed': False, 'missing': missing, 'python': sys.executable}
    if missing and not module.params['report_only']:
        module.fail_json(
            msg=(f"Python libraries missing on this host for {sys.executable}: {', '.join(missing)}. "
                 f"Install them with: {sys.executable} -m pip install {' '.join(repr(item) for item in missing)}"
                 " -- or set mail_install_python_deps: true to let the role install them."),
            **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
