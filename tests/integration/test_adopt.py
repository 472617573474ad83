"""playbooks/adopt.yml on a Jira configured by hand: one settings file per host, the secret as a Vault
placeholder, and the file, once the Vault variable exists, is what settings_validate accepts."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
CANARY = 'Canary-5ecret-Pa55'
SERVER_XML = '''<?xml version="1.0" encoding="utf-8"?>
<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps">
        <Context path="" docBase="${catalina.home}/atlassian-jira">
          <Resource name="mail/JiraMailServer" auth="Container" type="javax.mail.Session"
                    mail.smtp.host="smtp.example.com" mail.smtp.port="587" mail.transport.protocol="smtp"
                    mail.smtp.starttls.enable="true" mail.smtp.auth="true" mail.smtp.user="jira-notify"
                    password="%s" mail.smtp.from="jira@example.com" mail.smtp.timeout="20000"/>
        </Context>
      </Host>
    </Engine>
  </Service>
</Server>
''' % CANARY
CHECK = """\
- name: The adopted settings pass settings_validate
  hosts: all
  gather_facts: false
  tasks:
    - name: Validate
      mailwright.smtp.settings_validate:
        settings: "{{ mail_settings }}"
      register: checked
    - name: Show
      ansible.builtin.debug:
        msg: "ADOPTED {{ checked.effective | to_json }}"
"""


def playbook(tmp_path: pathlib.Path, path: pathlib.Path, *args: str, inventory: str = 'jira01,') -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_')}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.build' / 'collections'), 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_STDOUT_CALLBACK': 'default', 'ANSIBLE_LOCALHOST_WARNING': 'false',
                'ANSIBLE_HOME': str(tmp_path / '.ansible'), 'PWD': str(tmp_path)})
    command = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', inventory,
               '-e', 'ansible_connection=local', '-e', f'ansible_python_interpreter={sys.executable}', *args, str(path)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_adopt_writes_a_settings_file_that_validates(tmp_path):
    install = tmp_path / 'jira'
    (install / 'conf').mkdir(parents=True)
    (install / 'conf' / 'server.xml').write_text(SERVER_XML)
    (install / 'conf' / 'server.xml').chmod(0o600)
    done = playbook(tmp_path, ROOT / 'playbooks' / 'adopt.yml', '-e', 'mail_adopt_product=jira',
                    '-e', f'mail_app_install_dir={install}')
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert CANARY not in done.stdout + done.stderr
    written = tmp_path / 'adopted' / 'jira01.yml'
    text = written.read_text()
    assert CANARY not in text and '********' not in text
    data = yaml.safe_load(text)
    settings = data['mail_settings']
    assert settings['auth'] == {'method': 'basic', 'username': 'jira-notify', 'password': '{{ vault_mail_smtp_password }}'}
    assert settings['server']['timeout_ms'] == 20000 and settings['sender'] == {'from_address': 'jira@example.com'}
    assert '# Not on the host, so not in this file:' in text and '$.sender.subject_prefix' in text
    # as the user uses it: the file in host_vars, the password in a (here: extra) Vault variable
    (tmp_path / 'inv' / 'host_vars').mkdir(parents=True)
    (tmp_path / 'inv' / 'hosts').write_text('jira01\n')
    written.rename(tmp_path / 'inv' / 'host_vars' / 'jira01.yml')
    check = tmp_path / 'check.yml'
    check.write_text(CHECK)
    done = playbook(tmp_path, check, '-e', 'vault_mail_smtp_password=From-Vault-1', inventory=str(tmp_path / 'inv' / 'hosts'))
    assert done.returncode == 0, done.stdout[-3000:]
    line = next(line for line in done.stdout.splitlines() if 'ADOPTED' in line)
    effective = json.loads(line.split('ADOPTED ', 1)[1].rstrip('"').replace('\\"', '"'))
    assert effective['server']['host'] == 'smtp.example.com' and effective['auth']['password'] == '********'


def test_adopt_names_what_is_missing(tmp_path):
    install = tmp_path / 'jira'
    (install / 'conf').mkdir(parents=True)
    (install / 'conf' / 'server.xml').write_text(SERVER_XML.replace(' mail.smtp.from="jira@example.com"', ''))
    (install / 'conf' / 'server.xml').chmod(0o600)
    done = playbook(tmp_path, ROOT / 'playbooks' / 'adopt.yml', '-e', 'mail_adopt_product=jira',
                    '-e', f'mail_app_install_dir={install}')
    assert done.returncode != 0
    assert 'mail_adopt_fill' in done.stdout and 'sender' in done.stdout
    assert not (tmp_path / 'adopted' / 'jira01.yml').exists()
    done = playbook(tmp_path, ROOT / 'playbooks' / 'adopt.yml', '-e', 'mail_adopt_product=jira',
                    '-e', f'mail_app_install_dir={install}',
                    '-e', '{"mail_adopt_fill": {"sender": {"from_address": "jira@example.com"}}}')
    assert done.returncode == 0, done.stdout[-3000:]
    assert yaml.safe_load((tmp_path / 'adopted' / 'jira01.yml').read_text())['mail_settings']['sender'] == {
        'from_address': 'jira@example.com'}
