#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mail_report
short_description: Write the outgoing mail audit report (Markdown and one self-contained HTML page)
version_added: 0.1.0
description:
  - Turns the C(mail_report) facts the role C(mailwright.smtp.mail) sets on each application host into
    a report per host (C(<host>.md), C(<host>.json)) and a summary (C(index.md), C(index.html),
    C(summary.json)) in O(dest).
  - "Each host's report holds: the effective settings with secrets redacted, what was rendered where
    and whether it is up to date, the truststore entries and their expiry, the DNS and SMTP probe
    results, and the last proof of delivery (from the test_send marker)."
  - The HTML page is self-contained (inline CSS, no scripts, no external assets), so an auditor opens
    it without anything installed.
  - Drift is how a host differs from its settings - the fields the role's C(mail_info) read-back found
    (with C(mail_read_back), which C(playbooks/audit.yml) turns on) and the steps its check-mode run would change.
  - Changed since the previous report - the previous C(<host>.json) in O(dest) is compared with the new one;
    every value that changed (timings and days left excepted) is listed under that name in the report and
    in RV(hosts).
  - Secrets never reach the files - values under secret-looking keys (password, token, secret) are
    replaced by C(********), and so is every string given in O(secrets), wherever it occurs.
  - Run it once, on the control node (C(delegate_to=localhost), C(run_once=true)).
author:
  - mailwright maintainers (@mailwright)
requirements:
  - Python standard library only (no third-party library)
extends_documentation_fragment:
  - mailwright.smtp.files
  - mailwright.smtp.attributes
  - mailwright.smtp.result
attributes:
  check_mode:
    support: full
    details: Computes the report and the drift, writes nothing.
  diff_mode:
    support: none
    details: The report files are listed in RV(files); no text diff is returned.
options:
  reports:
    description:
      - Host name to that host's C(mail_report) fact. A host whose fact is missing (it failed before the
        report step) can be given as C({failed - reason}).
    type: dict
    required: true
  dest:
    description: Directory for the report files. Created when missing.
    type: path
    required: true
  title:
    description: Title of the summary page.
    type: str
    default: Outgoing mail audit
  secrets:
    description: Strings that must not appear in any report file (for example the relay passwords from the inventory).
    type: list
    elements: str
    default: []
  mode:
    description: Mode of the report files.
    type: raw
    default: '0644'
"""

EXAMPLES = r"""
- name: Write the audit report of every host of the play
  mailwright.smtp.mail_report:
    reports: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'mail_report'))) }}"
    dest: "{{ playbook_dir }}/reports/mail"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
files:
  description: The files written (or that would be written in check mode), full paths.
  type: list
  elements: str
  returned: always
  sample: [/srv/reports/mail/jira01.md, /srv/reports/mail/index.html]
hosts:
  description:
    - Per host, C(status) - V(ok) only when the host matches its settings (no field drifted in the
      C(mail_info) read-back, nothing the check-mode run would change) and its proof of delivery is current;
      else V(failing) (a step failed), V(drift) or V(unproven) -, C(drift) (how the host differs from its
      settings, one line each), C(changes) (what changed since the previous report, one line per value) and,
      for a failing host, C(step) (the step that failed).
  type: dict
  returned: always
  sample: {jira01: {status: drift, drift: ['$.server.timeout_ms: 20000 (settings: 10000)'],
                    changes: ['settings.server.port: 25 -> 587']}}
html:
  description: Path of the summary page.
  type: str
  returned: always
  sample: /srv/reports/mail/index.html
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
  returned: failure
  type: str
  sample: file
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import new_module, run_backend
from ansible_collections.mailwright.smtp.plugins.module_utils._report.publish import publish_reports


def main() -> None:
    module: AnsibleModule = new_module(
        argument_spec={
            'reports': {'type': 'dict', 'required': True},
            'dest': {'type': 'path', 'required': True},
            'title': {'type': 'str', 'default': 'Outgoing mail audit'},
            'secrets': {'type': 'list', 'elements': 'str', 'default': [], 'no_log': True},
            'mode': {'type': 'raw', 'default': '0644'},
        },
        supports_check_mode=True,
    )
    run_backend(module, publish_reports, module.params, host=module, check_mode=module.check_mode)


if __name__ == '__main__':
    main()
