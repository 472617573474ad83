"""Run a module of this collection the way AnsiballZ does, without ansible-playbook.

The module file runs as its own process with its arguments in a JSON file, so tests see exactly
what a playbook would: exit code, JSON result, and no traceback on stdout.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / '.build' / 'collections'

__all__ = ['ROOT', 'COLLECTIONS', 'module_env', 'module_process', 'run_module']


def module_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(COLLECTIONS), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    env['ANSIBLE_COLLECTIONS_PATH'] = str(COLLECTIONS)
    env.update(extra or {})
    return env


def module_process(name: str, args: dict, *, check_mode: bool = False, diff: bool = False,
                   env: dict | None = None, timeout: float = 120, preexec_fn=None) -> subprocess.CompletedProcess:
    """The finished process of plugins/modules/<name>.py run with args (stdout, stderr as text)."""
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff,
                   _ansible_tmpdir=tempfile.gettempdir(), _ansible_remote_tmp=tempfile.gettempdir(),
                   _ansible_keep_remote_files=False)
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': payload}, handle)
        args_file = handle.name
    try:
        return subprocess.run(
            [sys.executable, str(ROOT / 'plugins' / 'modules' / f'{name}.py'), args_file],
            capture_output=True, text=True, env=module_env(env), timeout=timeout, check=False,
            preexec_fn=preexec_fn,
        )
    finally:
        os.unlink(args_file)


def run_module(name: str, args: dict, *, check_mode: bool = False, diff: bool = False,
               env: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    """(exit code, parsed JSON result) of plugins/modules/<name>.py run with args."""
    proc = module_process(name, args, check_mode=check_mode, diff=diff, env=env, timeout=timeout)
    try:
        result = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(f'module {name} printed no JSON (rc={proc.returncode}):\n'
                             f'stdout: {proc.stdout}\nstderr: {proc.stderr}') from exc
    result['_stderr'] = proc.stderr
    return proc.returncode, result
