# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of the mail_report module: build the reports (report.py, pure) and write the files.

Kept apart from report.py so that file stays free of any host: here the files go through
_core.files (lock, symlink policy, atomic rename) with the task's mode, through a TaskFileHost
(AnsibleModule, or a stand-in in the unit tests). Returns the result; raises MailwrightError.
"""

from __future__ import annotations

import datetime
import json
import os
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import TaskFileHost, locked_target
from ansible_collections.mailwright.smtp.plugins.module_utils._report.report import build_reports

__all__ = ['previous_summary', 'publish_reports']


def previous_summary(dest: str, host: str) -> dict | None:
    """The host's summary from the last run (its JSON file), or None: drift is measured against it."""
    try:
        with open(os.path.join(dest, f'{host}.json'), encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def publish_reports(params: t.Mapping[str, t.Any], *, host: TaskFileHost, check_mode: bool = False,
                    generated: str | None = None) -> dict[str, t.Any]:
    """Write every host's report and the index under params['dest']; unchanged files are left alone."""
    dest, reports = params['dest'], params['reports']
    generated = generated or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    previous = {name: previous_summary(dest, name) for name in reports}
    files, hosts = build_reports(reports, previous, generated=generated, title=params['title'],
                                 secrets=params['secrets'])
    result = {'changed': True, 'files': [os.path.join(dest, name) for name in sorted(files)], 'hosts': hosts,
              'html': os.path.join(dest, 'index.html')}
    if check_mode:
        return result
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as error:
        raise MailwrightError(f'cannot create the report directory {dest}: {error}', kind='file') from None
    changed = False
    for name, text in files.items():
        path = os.path.join(dest, name)
        data = text.encode('utf-8')
        file_args = host.load_file_common_arguments({'path': path, 'mode': params['mode']})
        with locked_target(path, option='dest') as target:
            if target.data == data:
                continue
            target.write(host, data, file_args=file_args)
        changed = True
    result['changed'] = changed
    return result
