"""A module that fails on its own arguments (an unknown option, a wrong choice) hides the settings' secrets.

AnsibleModule checks its arguments in its constructor and echoes invocation.module_args when it
fails there, before the module could register the settings' secrets: _core.module.new_module
registers them on that path too. Every module that takes a settings document is run as a real
process with a canary password and each kind of argument failure.
"""
from __future__ import annotations

import base64
import pathlib
import re

import pytest

from tests.support.modrun import module_process

ROOT = pathlib.Path(__file__).resolve().parents[2]
CANARY = 'Canary-Arg5-5ecret-Pa55'
SETTINGS = {
    'product': 'jira',
    'server': {'host': 'mail.example.test', 'port': 587, 'tls': 'required'},
    'sender': {'from_address': 'jira@example.test'},
    'auth': {'method': 'basic', 'username': 'relay-user', 'password': CANARY,
             'unknown_api_secret': CANARY + '-extra'},
}
# the modules whose DOCUMENTATION has a settings option (own, or the mailwright.smtp.settings fragment)
MODULES = sorted(p.stem for p in (ROOT / 'plugins' / 'modules').glob('*.py')
                 if re.search(r'^  settings:$|^  - mailwright\.smtp\.settings$', p.read_text(), re.M))


def _forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode()]


@pytest.mark.parametrize('module', MODULES)
@pytest.mark.parametrize('bad', [{'no_such_option': 1}, {'settings': 'not a document'}])
def test_argument_failure_hides_the_settings_secrets(module, bad):
    args = dict({'settings': SETTINGS}, **bad)
    proc = module_process(module, args)
    assert proc.returncode != 0, proc.stdout
    assert '"failed": true' in proc.stdout
    for form in _forms(CANARY) + _forms(CANARY + '-extra'):
        assert form not in proc.stdout + proc.stderr, f'{module}: {form} leaked'


def test_modules_are_found():
    assert {'test_send', 'tomcat_mail_resource', 'smtp_probe', 'mail_info', 'settings_validate'} <= set(MODULES)
