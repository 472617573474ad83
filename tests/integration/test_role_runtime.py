"""The mail role with mail_javamail_runtime_state on a fake Jira install (the demo sandbox's
conf/ and bin/, plus lib/ and atlassian-jira/WEB-INF/lib holding a duplicated JavaMail jar): off by
default (not even a skipped task), `check` reports and fails on nothing by default, `present` moves
the duplicate out and a second run changes nothing; the summary line says what was found each time."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tests.support.apphome import jira_home, tree_state

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = """\
- name: The JavaMail jars of a Jira install
  hosts: all
  gather_facts: false
  roles:
    - role: mailwright.smtp.mail
"""
SETTINGS = {
    'product': 'jira',
    'server': {'host': '127.0.0.1', 'port': 25, 'tls': 'none',
               'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session'}},
    'sender': {'from_address': 'jira@example.com'},
    'dns': {'check_spf': False, 'check_dmarc': False},
}


def run_role(tmp_path: pathlib.Path, home: pathlib.Path, **variables) -> subprocess.CompletedProcess:
    playbook = tmp_path / 'site.yml'
    playbook.write_text(PLAYBOOK)
    values = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
              'mail_settings': SETTINGS, 'mail_app_install_dir': str(home), **variables}
    (tmp_path / 'vars.json').write_text(json.dumps(values))
    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_')}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.build' / 'collections'), 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_HOME': str(tmp_path / '.ansible')})
    command = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'jira01,',
               '-e', f'@{tmp_path / "vars.json"}', '--tags', 'render', str(playbook)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)


def summary(out: str) -> str:
    """The role's one line for the host (the msg of its last task)."""
    lines = re.findall(r'"msg": "(jira01: [^"]*)"', out)
    assert lines, out[-4000:]
    return lines[-1]


def test_role_checks_and_fixes_the_jars(tmp_path):
    home = jira_home(tmp_path)
    for part in ('conf', 'bin'):
        shutil.copytree(ROOT / 'demo' / 'sandbox' / 'jira' / part, home / part, dirs_exist_ok=True)
    duplicate = home / 'atlassian-jira' / 'WEB-INF' / 'lib' / 'javax.mail-1.6.5.jar'

    off = run_role(tmp_path, home)
    assert off.returncode == 0, off.stdout[-4000:] + off.stderr[-2000:]
    assert 'JavaMail jars and mail JVM options]' not in off.stdout and duplicate.exists()
    assert 'JavaMail jars' not in summary(off.stdout)
    before = tree_state(home / 'lib'), tree_state(home / 'atlassian-jira')

    checked = run_role(tmp_path, home, mail_javamail_runtime_state='check')
    out = checked.stdout + checked.stderr
    assert checked.returncode == 0, out[-4000:]
    assert 'javax.mail is both in lib/ and in atlassian-jira/WEB-INF/lib/' in out
    assert (tree_state(home / 'lib'), tree_state(home / 'atlassian-jira')) == before
    assert 'rendered server.xml unchanged, JavaMail jars duplicate, 0 -Dmail.* overrides;' in summary(out), summary(out)

    fixed = run_role(tmp_path, home, mail_javamail_runtime_state='present')
    assert fixed.returncode == 0, fixed.stdout[-4000:] + fixed.stderr[-2000:]
    assert not duplicate.exists() and (home / 'mailwright-jar-backup' / 'WEB-INF-lib' / duplicate.name).is_file()
    assert 'RUNNING HANDLER [mailwright.smtp.mail' in fixed.stdout or 'changed: [jira01]' in fixed.stdout
    assert 'JavaMail jars duplicate (1 fixed), 0 -Dmail.* overrides;' in summary(fixed.stdout), summary(fixed.stdout)

    again = run_role(tmp_path, home, mail_javamail_runtime_state='present')
    assert again.returncode == 0
    task = again.stdout.split("Check the application's JavaMail jars and mail JVM options]", 1)[1]
    assert task.lstrip('* \n').startswith('ok: [jira01]'), task[:400]
    assert 'JavaMail jars in place, 0 -Dmail.* overrides;' in summary(again.stdout), summary(again.stdout)
