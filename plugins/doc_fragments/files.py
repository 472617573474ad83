# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How every mailwright module writes a file (plugins/module_utils/_core/files.py), said once.
    DOCUMENTATION = r"""
options: {}
notes:
  - "Files are written the same way by every module of the collection. A symlink at the file is followed
    and its final target is updated in place; the link stays (as with M(ansible.builtin.blockinfile)).
    A link owned by a user other than root and the owner of the final target is refused, and so is a
    dangling link; nothing is written then. The run holds an exclusive lock on the file's directory
    from reading the file to replacing it, so parallel runs that change one file do not lose each
    other's changes. The new content is written to a temporary file in the same directory, which has
    its mode before its content, and renamed over the old one."
  - "A backup (where the module has a C(backup) option) is named C(<file>.<pid>.<date>@<time>~), is
    created exclusively and never through a symlink, has the file's own mode, and is removed again if
    it cannot be written whole (a full disk); the task then fails and the file is not changed."
  - "A file that holds a secret (a password) must not be readable by every user: such an existing file
    makes the task fail before anything is written, unless the module's C(allow_world_readable) is
    true (role variable C(mail_allow_world_readable)), which writes it and warns on every run.
    Readable by the group is allowed, because the application's group must read its own configuration.
    A file the module creates gets a mode that only its owner and group can read."
"""

    # The backup option of the modules that back up a text file they edit (server.xml, .properties).
    BACKUP = r"""
options:
  backup:
    description:
      - Keep a timestamped copy of the file before changing it, next to the file (the symlink's target
        when O(path) is a link), with the file's own mode.
    type: bool
    default: false
"""
