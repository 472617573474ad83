# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The result keys every mailwright module uses in one sense (plugins/module_utils/_core/module.py
    # run_backend turns a backend's result or MailwrightError into them). Ansible does not merge
    # fragments into RETURN, so DOCUMENTATION carries the rule as a note and RETURN below is the
    # source each module's RETURN mirrors (tests/unit/plugins/doc_fragments/test_result_fragment.py holds them in step);
    # the audit report (_report/report.py) reads only keys documented here or in a module's RETURN.
    DOCUMENTATION = r"""
options: {}
notes:
  - "Results have one shape across the collection's modules: C(changed); C(diff) only with C(--diff)
    (secrets replaced by C(********)); warnings in Ansible's own C(warnings); C(manual_steps), the
    things a person still has to do, where a module knows of any; C(backup_file) when a backup was
    made. A failed task has C(msg) (what, where, and what would be right) and C(kind), one word code
    can branch on - V(invalid), V(file), V(policy), V(tls), V(network), V(server), V(tool),
    V(missing) or V(conflict)."
"""

    RETURN = r"""
changed:
  description: Whether the task changed something (or would have, in check mode).
  returned: always
  type: bool
diff:
  description: Before and after, as C(--diff) shows them; secrets are replaced by C(********).
  returned: when running with C(--diff)
  type: dict
manual_steps:
  description: What a person still has to do (restart, settings the module cannot apply and where they belong).
  returned: success
  type: list
  elements: str
backup_file:
  description: The backup made with O(backup=true).
  returned: when a backup was made
  type: str
msg:
  description: Why the task failed - what, where, and what would be right.
  returned: failure
  type: str
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)).
    - V(invalid) options or settings, V(file) a file could not be read or written safely, V(policy)
      refused by a security rule, V(tls) handshake or certificate verification, V(network) DNS,
      connect, timeout, V(server) the peer refused, V(tool) an external program (keytool) failed,
      V(missing) a library or program is not installed, V(conflict) the host holds something not to
      overwrite (a certificate rotation the policy refuses).
  returned: failure
  type: str
  sample: conflict
"""
