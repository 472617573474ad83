# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash injection for a module process, loaded by Python at start-up from PYTHONPATH.

MAILWRIGHT_CRASH selects where the process dies by SIGKILL (no cleanup, no finally blocks,
exactly like the OOM killer or a power cut of the process):

* ``before-replace``: when the temporary file is complete and fsynced, before the rename;
* ``after-replace``: right after the rename, before anything else (attributes, result).

MAILWRIGHT_CRASH_MATCH limits it to renames whose target path contains that text.
"""
import os
import signal

_WHERE = os.environ.get('MAILWRIGHT_CRASH', '')
_MATCH = os.environ.get('MAILWRIGHT_CRASH_MATCH', '')

if _WHERE:
    _real_replace = os.replace

    def _crashing_replace(src, dst, *args, **kwargs):
        hit = _MATCH in os.fspath(dst)
        if hit and _WHERE == 'before-replace':
            os.kill(os.getpid(), signal.SIGKILL)
        _real_replace(src, dst, *args, **kwargs)
        if hit and _WHERE == 'after-replace':
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = _crashing_replace
