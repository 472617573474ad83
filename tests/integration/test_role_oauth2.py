"""The mail role with auth.method oauth2 on a fake Jira install, as a Microsoft 365 user runs it.

Jira obtains its own OAuth 2.0 login through an application link (a browser step), so the role
writes no mail Resource into server.xml and shows Jira's manual steps instead (worded by
_render/oauth2.product_steps, returned by settings_validate); trust, the probe's credential check
and the test send still run, the last two with a client-credentials token from the real
authorization server of tests/support/oauth_server.py, sent to a relay that verifies it. The run is
at -v --diff, and its whole output is searched for the client secret and every token issued.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tests.support.apphome import jira_home
from test_oauth2 import APP_SCOPE, CLIENT_SECRET, USER, leaks, oauth, relay  # noqa: F401  pylint: disable=unused-import

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = """\
- name: Outgoing mail for Jira on Microsoft 365
  hosts: all
  gather_facts: false
  roles:
    - role: mailwright.smtp.mail
"""


def run_role(tmp_path: pathlib.Path, variables: dict) -> subprocess.CompletedProcess:
    playbook = tmp_path / 'site.yml'
    playbook.write_text(PLAYBOOK)
    (tmp_path / 'vars.json').write_text(json.dumps(
        {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable, **variables}))
    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_')}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.build' / 'collections'), 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_STDOUT_CALLBACK': 'default',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_HOME': str(tmp_path / '.ansible')})
    command = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'jira01,', '-v', '--diff',
               '-e', f'@{tmp_path / "vars.json"}', str(playbook)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)


def summary(out: str) -> str:
    lines = re.findall(r'"msg": "(jira01: [^"]*)"', out)
    assert lines, out[-4000:]
    return lines[-1]


def manual_steps(out: str) -> str:
    """What the "Show what a person still has to do" task printed ('' when it was skipped)."""
    task = out.split('Show what a person still has to do]', 1)[1].split('TASK [', 1)[0]
    return '' if task.lstrip('* \n').startswith('skipping') else task


def test_jira_with_client_credentials_sends_once_and_shows_the_manual_steps(tmp_path, smtp_server, smtp_pki, oauth):  # noqa: F811
    server = relay(smtp_server, oauth, APP_SCOPE)
    home = jira_home(tmp_path, duplicate=False)
    for part in ('conf', 'bin'):
        shutil.copytree(ROOT / 'demo' / 'sandbox' / 'jira' / part, home / part, dirs_exist_ok=True)
    for path in [home, *home.rglob('*')]:  # setenv.sh will hold the truststore password
        path.chmod(path.stat().st_mode & ~0o007)
    server_xml = (home / 'conf' / 'server.xml').read_bytes()
    variables = {
        'mail_settings': {
            'product': 'jira',
            'server': {'host': server.host, 'port': server.port, 'tls': 'required', 'timeout_ms': 5000,
                       'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session'}},
            'auth': {'method': 'oauth2', 'username': USER,
                     'oauth2': {'provider': 'microsoft', 'grant_type': 'client_credentials',
                                'tenant': 'contoso.onmicrosoft.com', 'token_url': oauth.token_url,
                                'client_id': 'mailwright-app', 'client_secret': CLIENT_SECRET}},
            'sender': {'from_address': 'jira@example.test'},
            'test': {'recipients': ['team@example.test']},
        },
        'mail_app_install_dir': str(home),
        'mail_truststore_path': str(tmp_path / 'mail-truststore.p12'),
        'mail_truststore_password': 'role-oauth2-store-password',
        'mail_dns_enabled': False,
        'mail_probe_ca_path': smtp_pki.ca_file,
        'mail_test_send_ca_path': smtp_pki.ca_file,
        'mail_token_ca_path': smtp_pki.ca_file,
        'mail_test_send_marker': str(tmp_path / 'proof.json'),
    }

    first = run_role(tmp_path, variables)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out[-6000:]
    line = summary(out)
    assert 'rendered setenv.sh updated, OAuth 2.0 set up in jira by hand (manual steps)' in line, line
    assert re.search(r'truststore imported [0-9A-F]{2}(:[0-9A-F]{2}){3}', line), line
    assert re.search(r'probe pass TLSv1\.[23], AUTH [A-Z -]*XOAUTH2', line), line
    assert re.search(r'proof sent <[^>]+>', line), line
    steps = manual_steps(out)
    assert 'Administration > Applications > Application links > Create link > External application' in steps, steps
    assert f'Authorize and sign in as {USER} (Jira 9.2 or later)' in steps and 'client ID mailwright-app' in steps
    # nothing tried to put OAuth 2.0 into server.xml
    assert 'JNDI mail session into server.xml' not in out
    assert (home / 'conf' / 'server.xml').read_bytes() == server_xml
    assert len(server.messages) == 1 and all(a['ok'] for a in server.auth_attempts)
    assert {r['grant_type'] for r in oauth.requests} == {'client_credentials'} and len(oauth.requests) == 2  # probe, send

    second = run_role(tmp_path, variables)
    out2 = second.stdout + second.stderr
    assert second.returncode == 0, out2[-6000:]
    assert re.search(r'jira01\s+: ok=\d+\s+changed=0 ', out2), out2[-2000:]
    line = summary(out2)
    assert re.search(r'already proven at \d{4}-\d\d-\d\dT', line) and 'OAuth 2.0 set up in jira by hand' in line, line
    # the steps are the only way Jira gets its login: shown on every run, not only when something changed
    assert 'Administration > System > Outgoing Mail > the SMTP mail server' in manual_steps(out2)
    assert len(server.messages) == 1

    found = leaks([out, out2, (tmp_path / 'proof.json').read_text()], oauth, server.port)
    assert not found, found
