"""meta/runtime.yml's action group: `module_defaults: group/mailwright.smtp.settings` gives every
module that takes the settings document its `settings`, in a real ansible-playbook run."""
from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETTINGS = {
    'product': 'generic',
    'server': {'host': '127.0.0.1', 'port': 25, 'tls': 'none'},
    'sender': {'from_address': 'app@example.com'},
    'dns': {'check_spf': False, 'check_dmarc': False},
}


def modules_taking_settings() -> set[str]:
    """Modules whose argument_spec has a `settings` option (directly or via settings_argument_spec)."""
    found = set()
    for path in sorted((ROOT / 'plugins' / 'modules').glob('*.py')):
        source = path.read_text()
        if 'settings_argument_spec' in source or "'settings': {" in source:
            found.add(path.stem)
    truststore = (ROOT / 'plugins' / 'module_utils' / '_trust' / 'truststore.py').read_text()
    if "'settings': {" in truststore:
        found.add('truststore_cert')
    return found


def test_the_group_lists_every_module_taking_settings():
    runtime = yaml.safe_load((ROOT / 'meta' / 'runtime.yml').read_text())
    group = runtime['action_groups']['settings']
    assert sorted(group) == sorted(set(group)), 'a module listed twice'
    assert set(group) == modules_taking_settings()
    for name in group:
        ast.parse((ROOT / 'plugins' / 'modules' / f'{name}.py').read_text())


def test_module_defaults_group_gives_settings(tmp_path):
    properties = tmp_path / 'app.properties'
    settings_file = tmp_path / 'settings.yml'
    settings_file.write_text(yaml.safe_dump(SETTINGS))
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{
        'name': 'module_defaults for the settings group',
        'hosts': 'localhost',
        'gather_facts': False,
        'module_defaults': {'group/mailwright.smtp.settings': {'settings': SETTINGS}},
        'tasks': [
            {'name': 'Validate (settings from module_defaults)',
             'mailwright.smtp.settings_validate': {}, 'register': 'validated'},
            {'name': 'Validate a file instead (the default settings omitted)',
             'mailwright.smtp.settings_validate': {'path': str(settings_file), 'settings': '{{ omit }}'},
             'register': 'from_file'},
            {'name': 'Render JavaMail properties (settings from module_defaults)',
             'mailwright.smtp.mail_properties': {'path': str(properties), 'flavour': 'javamail', 'mode': '0600'}},
            {'name': 'The defaults reached both modules',
             'ansible.builtin.assert': {'that': [
                 "validated.effective.server.host == '127.0.0.1'",
                 "from_file.effective.product == 'generic'",
             ]}},
        ],
    }]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.build' / 'collections'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1')
    completed = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
         '-e', f'ansible_python_interpreter={sys.executable}', str(playbook)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert 'mail.smtp.host=127.0.0.1' in properties.read_text()
