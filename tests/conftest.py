# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Session-wide test settings.

The files the tests create stand for an application's configuration, which a host keeps out of
other users' reach: a server.xml, .properties or setenv.sh that is readable by every user makes a
module that puts a password into it fail (plugins/module_utils/_core/files.py). umask 027 makes every
file the tests (and the module processes they start) create 0640, as on such a host; the tests of
that rule loosen their file on purpose.
"""
from __future__ import annotations

import os

os.umask(0o027)
