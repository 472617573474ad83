# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module process that may die: killed by SIGKILL at a chosen point, or short of disk space.

`run_module_raw` is modrun.run_module without the assumption that the module prints JSON: a
killed process prints nothing, and the test looks at the files it left instead.
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
from dataclasses import dataclass

from tests.support.modrun import COLLECTIONS, module_process

SITE = pathlib.Path(__file__).resolve().parent / 'site'

__all__ = ['SITE', 'Outcome', 'run_module_raw', 'crash_env', 'fsize_limit']


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -9

    @property
    def result(self) -> dict | None:
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None


def crash_env(where: str, match: str = '') -> dict:
    """Environment that makes the module process SIGKILL itself at `where` (see site/sitecustomize.py)."""
    return {'PYTHONPATH': os.pathsep.join([str(SITE), str(COLLECTIONS)]),
            'MAILWRIGHT_CRASH': where, 'MAILWRIGHT_CRASH_MATCH': match}


def fsize_limit(max_bytes: int):
    """A preexec_fn: files the process (and its children, keytool) write cannot grow past max_bytes.

    Python ignores SIGXFSZ, so an oversized write fails with EFBIG as on a full disk.
    """
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def run_module_raw(name: str, args: dict, *, check_mode: bool = False, env: dict | None = None,
                   preexec_fn=None, timeout: float = 180) -> Outcome:
    proc = module_process(name, args, check_mode=check_mode, env=env, timeout=timeout, preexec_fn=preexec_fn)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)
