"""Every module's documentation renders with ansible-doc, the way a user reads it.

The unit tests parse DOCUMENTATION as YAML; only ansible-doc merges the doc fragments, so a
fragment that breaks (an unquoted `: ` in one) fails here and nowhere else.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from tests.support.modrun import module_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / 'plugins' / 'modules').glob('*.py') if not p.name.startswith('_'))
ANSIBLE_DOC = str(pathlib.Path(sys.executable).parent / 'ansible-doc')


@pytest.mark.parametrize('name', MODULES)
def test_module_documentation_renders(name):
    proc = subprocess.run([ANSIBLE_DOC, '-t', 'module', f'mailwright.smtp.{name}'], capture_output=True, text=True,
                          env=dict(module_env(), ANSIBLE_NOCOLOR='1', PAGER='cat'), timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and 'ERROR' not in proc.stderr, proc.stderr
    assert f'mailwright.smtp.{name}' in proc.stdout and 'OPTIONS' in proc.stdout


def test_role_documentation_renders():
    proc = subprocess.run([ANSIBLE_DOC, '-t', 'role', 'mailwright.smtp.mail'], capture_output=True, text=True,
                          env=dict(module_env(), ANSIBLE_NOCOLOR='1', PAGER='cat'), timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and 'mail_allow_world_readable' in proc.stdout, proc.stderr
