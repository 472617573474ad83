"""The built tarball holds only what works installed, and the README's "Install and first run"
works as written: its `first-run` blocks run in order from a directory outside the checkout, in a
fresh virtualenv with only ansible-core + requirements.txt, against the collection installed from
the tarball into an empty collections path.

What the test changes, and only there: `~/src/mailwright` is this checkout, `~/mail-config` a
temporary directory, and each `ansible-playbook` line gets `-e @local.yml`: the host is this
machine (connection local), the Jira home a copy of demo/sandbox/jira, the relay and DNS server
the local peers (extensions/molecule/shared/peers.py), the vault variables given as values;
the block for the Jira host runs on that copy.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from tests.support.peers import running

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = yaml.safe_load((ROOT / 'galaxy.yml').read_text())['version']
TARBALL = ROOT / '.build' / 'dist' / f'mailwright-smtp-{VERSION}.tar.gz'
# top-level entries an installed collection has no use for (dev tooling, tests, the demo)
DEV_TOP = {'molecule', 'extensions', 'tests', 'tools', 'benchmarks', 'demo', 'Makefile', 'pytest.ini', 'pyproject.toml',
           'requirements-dev.txt', '.ansible-lint', '.ci', '.venv', '.build', '.git', '.gitignore',
           '.pre-commit-hooks.yaml', 'execution-environment.yml', '.hypothesis'}
SHIPPED = {'MANIFEST.json', 'FILES.json', 'README.md', 'requirements.txt', 'bindep.txt', 'meta/runtime.yml',
           'schemas/mail-settings.schema.json', 'roles/mail/tasks/main.yml', 'playbooks/jira.yml',
           'plugins/modules/settings_validate.py', 'LICENSES/GPL-3.0-or-later.txt', 'changelogs/changelog.yaml'}
RELAY_PASSWORD = 'first-run-relay-password'
FENCE = re.compile(r'^```(\w+) first-run(?: file=(\S+))?(?: host=(\S+))?\n(.*?)^```\n', re.M | re.S)


def readme_section() -> str:
    text = (ROOT / 'README.md').read_text()
    start = text.index('## Install and first run')
    end = text.index('\n## ', start + 1)
    return text[start:end]


def first_run_blocks() -> list[tuple[str, str, str, str]]:
    return FENCE.findall(readme_section())


def build(env=None) -> None:
    subprocess.run(['make', '-C', str(ROOT), 'build'], check=True, capture_output=True, env=env, timeout=300)


def test_every_block_of_the_section_is_run():
    section = readme_section()
    assert len(re.findall(r'^```', section, re.M)) == 2 * len(first_run_blocks())
    assert [kind for kind, _f, _h, _b in first_run_blocks()].count('sh') >= 2
    assert f'mailwright-smtp-{VERSION}.tar.gz' in section


def test_tarball_ships_only_what_works_installed():
    build()
    with tarfile.open(TARBALL) as tar:
        names = {member.name.lstrip('./') for member in tar.getmembers()}
    top = {name.split('/', 1)[0] for name in names}
    assert not top & DEV_TOP, f'dev files in the tarball: {sorted(top & DEV_TOP)}'
    assert 'playbooks/demo.yml' not in names, 'the demo playbook needs `make demo` peers'
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    assert SHIPPED <= names, f'missing: {sorted(SHIPPED - names)}'


def fresh_env(home: pathlib.Path) -> dict[str, str]:
    """The environment of a newcomer's shell: nothing of this checkout's venv or collections."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('ANSIBLE_', 'PYTHON', 'VIRTUAL_ENV', 'MOLECULE_'))}
    venv_bin = str(pathlib.Path(sys.executable).parent)
    env['PATH'] = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep) if p != venv_bin)
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_LOCALHOST_WARNING': 'false',
                'PIP_DISABLE_PIP_VERSION_CHECK': '1', 'ANSIBLE_HOME': str(home / '.ansible')})
    return env


@pytest.fixture
def peers(tmp_path):
    with running(tmp_path / 'peers', user='jira-notify', password=RELAY_PASSWORD) as state:
        yield dict(state, _spool=state['_dir'] / 'spool')


def local_overrides(project: pathlib.Path, host_vars: dict, state: dict, jira: pathlib.Path) -> dict:
    settings = host_vars['mail_settings']
    settings['server'].update(host='127.0.0.1', port=state['smtp_port'])
    settings['sender']['from_address'] = 'jira@example.test'
    settings['test']['recipients'] = ['platform-team@example.test']
    settings['dns'].update(nameservers=[state['dns_host']], port=state['dns_port'])
    return {
        'ansible_connection': 'local',
        'ansible_python_interpreter': str(project / '.venv' / 'bin' / 'python'),
        'mail_app_install_dir': str(jira),
        'mail_truststore_path': str(jira / 'mail-truststore.p12'),
        'mail_probe_ca_path': state['ca_path'],
        'mail_test_send_ca_path': state['ca_path'],
        'mail_test_send_marker': str(jira / 'mailwright-proof.json'),
        'mail_settings': settings,
        'vault_jira_smtp_password': RELAY_PASSWORD,
        'vault_jira_truststore_password': 'first-run-truststore-password',
    }


def test_readme_first_run_outside_the_checkout(tmp_path, peers):
    home = tmp_path / 'home'
    project = home / 'mail-config'
    jira = tmp_path / 'jira'
    shutil.copytree(ROOT / 'demo' / 'sandbox' / 'jira', jira)
    home.mkdir()
    script = ['set -euo pipefail']
    overrides = project / 'local.yml'
    host_vars = None
    for kind, filename, host, body in first_run_blocks():
        body = body.replace('~/src/mailwright', str(ROOT)).replace('~/mail-config', str(project))
        # commands for the Jira host run on the fake Jira home
        body = body.replace('/opt/atlassian/jira', str(jira)) if host else body
        if filename:
            # files are written as shown (the shell blocks only read them once the project exists)
            (project / filename).parent.mkdir(parents=True, exist_ok=True)
            (project / filename).write_text(body)
            if filename.endswith('jira01.example.com.yml'):
                host_vars = yaml.safe_load(body)
        else:
            assert kind == 'sh'
            script.append(re.sub(r'^(ansible-playbook .*)$', rf'\1 -e @{overrides}', body, flags=re.M))
    assert host_vars, 'the README shows no host_vars for jira01.example.com'
    overrides.write_text(yaml.safe_dump(local_overrides(project, host_vars, peers, jira)))
    (tmp_path / 'first-run.sh').write_text('\n'.join(script) + '\n')
    completed = subprocess.run(['bash', str(tmp_path / 'first-run.sh')], cwd=home, env=fresh_env(home),
                               capture_output=True, text=True, timeout=900, check=False)
    out = completed.stdout + completed.stderr
    (tmp_path / 'first-run.log').write_text(out)
    assert completed.returncode == 0, out[-6000:]
    # installed from the tarball, not this checkout
    installed = project / 'collections' / 'ansible_collections' / 'mailwright' / 'smtp'
    assert (installed / 'MANIFEST.json').is_file() and not installed.is_symlink()
    assert not (installed / 'tests').exists() and not (installed / 'extensions').exists()
    recaps = re.findall(r'jira01\.example\.com\s*: ok=\d+\s+changed=(\d+).*failed=(\d+)', out)
    assert len(recaps) == 2 and all(failed == '0' for _c, failed in recaps), out[-4000:]
    assert int(recaps[1][0]) > 0, 'the real run changed nothing'
    assert '<Resource' in (jira / 'conf' / 'server.xml').read_text()
    assert (jira / 'mail-truststore.p12').is_file()
    assert list(peers['_spool'].glob('*.eml')), 'no test message received'
    assert RELAY_PASSWORD not in completed.stdout
