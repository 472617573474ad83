"""Errors in role runs name role variables (mail_tomcat_server_xml, mail_file_mode,
mail_probe_ca_path), not only the module options behind them (path, mode, ca_path).

The role's rescue (roles/mail/tasks/main.yml) re-fails with the module's message and the role
variables of the options it mentions, from the table __mail_role_variables in roles/mail/vars/main.yml.
The table is checked here against the tasks' own arguments, so it cannot drift from them.
"""
from __future__ import annotations

import pathlib
import re

import pytest
import yaml

# the peers fixture, reused
from test_package import peers  # noqa: F401  pylint: disable=unused-import
from test_role_summary import run_role

ROOT = pathlib.Path(__file__).resolve().parents[2]
TASKS = ROOT / 'roles' / 'mail' / 'tasks'


def table_from_tasks() -> dict[str, dict[str, str]]:
    """Module task -> {option: the role variable(s) its value is made of}."""
    table = {}
    for path in sorted(TASKS.glob('*.yml')):
        for task in yaml.safe_load(path.read_text()) or []:
            for key, args in task.items():
                if key.startswith('mailwright.smtp.'):
                    table[key] = {option: ' or '.join(dict.fromkeys(re.findall(r'\b(mail_[a-z0-9_]+)', str(value))))
                                  for option, value in args.items() if re.search(r'\bmail_[a-z0-9_]+', str(value))}
    return table


def test_the_table_is_the_tasks_own_arguments():
    table = yaml.safe_load((ROOT / 'roles' / 'mail' / 'vars' / 'main.yml').read_text())['__mail_role_variables']
    assert table == table_from_tasks()


def failure(out: str) -> str:
    """The message of the role's own re-failure (the last fatal line)."""
    fatal = re.findall(r'^fatal: \[jira01\]: FAILED! => (.*)$', out, re.M)
    assert fatal, out[-4000:]
    return yaml.safe_load(fatal[-1])['msg']


@pytest.mark.integration
@pytest.mark.parametrize(('variable', 'value', 'step'), [
    ('mail_tomcat_server_xml', '/nonexistent/conf/server.xml', 'Render the JNDI mail session into server.xml'),
    ('mail_file_mode', '0999', 'Render the JNDI mail session into server.xml'),
    ('mail_probe_ca_path', '/nonexistent/ca.pem', 'Probe the relay'),
])
def test_a_bad_role_variable_is_named(tmp_path, peers, variable, value, step):  # noqa: F811
    completed = run_role(tmp_path, peers, extra={variable: value})
    out = completed.stdout + completed.stderr
    assert completed.returncode != 0, out[-4000:]
    msg = failure(out)
    assert msg.startswith(step), msg
    assert re.search(rf'role variables: .*\b{variable}\b', msg), msg
    # the summary still ends the run, and says where the host stopped
    assert re.search(r'"msg": "jira01: .*STOPPED at: ' + re.escape(step), out), out[-3000:]
