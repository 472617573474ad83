"""A canary password set in the inventory appears in no output of any scenario.

All five product paths (the molecule scenarios' variables) run as hosts of one inventory whose
relay password, truststore password and admin API password are canaries, against real local peers:
check mode on a fresh sandbox, two converges, a check-mode run and the audit report, each with
``--diff -v``. Then stdout, stderr and every file the runs wrote are searched for the canaries
(raw, base64 and URL-quoted). The only files allowed to hold a secret are the ones it belongs in:
the Tomcat ``server.xml`` Resource (relay password), the ``setenv.sh`` managed block (truststore
password) and the truststores themselves.
"""
from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import sys
import urllib.parse

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
MOLECULE = ROOT / 'extensions' / 'molecule'
SCENARIOS = ['jira', 'confluence', 'bitbucket', 'ghes', 'generic']
RELAY_CANARY = 'Canary-5ecret-Pa55'
STORE_CANARY = 'Canary-5tore-Pa55'
ADMIN_CANARY = 'Canary-Adm1n-Pa55'
# file name -> canaries that belong there
ALLOWED = {
    'server.xml': {RELAY_CANARY},
    'setenv.sh': {STORE_CANARY},
}
BINARY_STORES = ('.p12', '.jks')


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), urllib.parse.quote(secret).encode(),
            base64.b64encode(b'\0mailer\0' + raw), base64.b64encode(b'mailer:' + raw)]


def inventory(tmp: pathlib.Path) -> dict:
    hosts = {}
    for name in SCENARIOS:
        host_vars = yaml.safe_load((MOLECULE / name / 'vars' / 'scenario.yml').read_text())
        # the scenarios share extensions/molecule/config.yml; a scenario's molecule.yml adds to it
        group_vars = dict(yaml.safe_load((MOLECULE / 'config.yml').read_text())['provisioner']['inventory']['group_vars']['all'])
        scenario = yaml.safe_load((MOLECULE / name / 'molecule.yml').read_text()) or {}
        group_vars.update(scenario.get('provisioner', {}).get('inventory', {}).get('group_vars', {}).get('all', {}))
        host_vars.update({
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'mw_scenario_dir': str(MOLECULE / name),
            'mw_sandbox': str(tmp / name),
            'mw_peers': group_vars['mw_peers'],
            'mw_fingerprint_command': group_vars['mw_fingerprint_command'],
            'mw_http': group_vars.get('mw_http', []),
            'mw_relay_user': 'mailer',
            'mw_relay_password': RELAY_CANARY,
            'mw_admin_password': ADMIN_CANARY,
            'mw_store_password': STORE_CANARY,
        })
        hosts[f'canary-{name}'] = host_vars
    return {'all': {'hosts': hosts}}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('canary')
    inventory_file = tmp / 'inventory.yml'
    inventory_file.write_text(yaml.safe_dump(inventory(tmp / 'sandboxes')))
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.build' / 'collections'),
        'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_PIPELINING': 'true', 'ANSIBLE_LOCAL_TEMP': str(tmp / 'ansible-tmp'),
        'ANSIBLE_LOG_PATH': str(tmp / 'ansible.log'), 'ANSIBLE_FORKS': '5',
        'PATH': f'{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get("PATH", "")}',
    })
    playbook = str(pathlib.Path(sys.executable).parent / 'ansible-playbook')
    shared = MOLECULE / 'shared'
    steps = [
        ('prepare', [str(shared / 'prepare.yml')]),
        ('check-first', [str(shared / 'check_mode.yml'), '--diff', '-v']),
        ('converge-1', [str(shared / 'converge.yml'), '--diff', '-v']),
        ('converge-2', [str(shared / 'converge.yml'), '--diff', '-v']),
        ('check-after', [str(shared / 'converge.yml'), '--check', '--diff', '-v']),
        ('audit', [str(ROOT / 'playbooks' / 'audit.yml'), '-v', '-e', f'mail_audit_dir={tmp / "report"}']),
    ]
    results = {}
    try:
        for name, args in steps:
            completed = subprocess.run([playbook, '-i', str(inventory_file), *args], env=env, cwd=tmp,
                                       capture_output=True, timeout=900, check=False)
            results[name] = completed
            (tmp / f'{name}.stdout').write_bytes(completed.stdout)
            (tmp / f'{name}.stderr').write_bytes(completed.stderr)
    finally:
        subprocess.run([playbook, '-i', str(inventory_file), str(shared / 'cleanup.yml')], env=env, cwd=tmp,
                       capture_output=True, timeout=120, check=False)
    return tmp, results


def test_every_run_succeeded(runs):
    _tmp, results = runs
    for name, completed in results.items():
        assert completed.returncode == 0, f'{name}:\n{completed.stdout.decode()[-4000:]}\n{completed.stderr.decode()[-2000:]}'


def test_second_converge_and_check_mode_change_nothing(runs):
    _tmp, results = runs
    for name in ('converge-2', 'check-after'):
        recap = results[name].stdout.decode().rsplit('PLAY RECAP', 1)[-1]
        for line in recap.strip().splitlines():
            if line.startswith('canary-'):
                assert 'changed=0' in line, f'{name}: {line}'


def test_no_canary_in_any_output_or_file(runs):
    tmp, results = runs
    canaries = {secret: forms(secret) for secret in (RELAY_CANARY, STORE_CANARY, ADMIN_CANARY)}
    leaks = []
    for name, completed in results.items():
        for stream, data in (('stdout', completed.stdout), ('stderr', completed.stderr)):
            for secret, variants in canaries.items():
                if any(variant in data for variant in variants):
                    leaks.append(f'{name} {stream}: {secret}')
    checked = 0
    for path in tmp.rglob('*'):
        if not path.is_file() or path.name == 'inventory.yml':
            continue
        if path.suffix in BINARY_STORES:
            continue
        data = path.read_bytes()
        checked += 1
        allowed = set()
        for file_name, secrets in ALLOWED.items():
            if path.name == file_name or path.name.startswith(file_name + '.'):  # the file and its backups
                allowed |= secrets
        for secret, variants in canaries.items():
            if secret not in allowed and any(variant in data for variant in variants):
                leaks.append(f'{path.relative_to(tmp)}: {secret}')
    assert checked > 20, 'the runs wrote fewer files than expected; is the test looking in the right place?'
    assert not leaks, '\n'.join(leaks)


def test_the_canary_was_really_used(runs):
    """Guards the test itself: the canaries reached the places they belong, and the relay took the password."""
    tmp, _results = runs
    sandboxes = tmp / 'sandboxes'
    assert RELAY_CANARY in (sandboxes / 'jira/app/jira/conf/server.xml').read_text()
    assert STORE_CANARY in (sandboxes / 'jira/app/jira/bin/setenv.sh').read_text()
    for name in SCENARIOS:
        spool = sandboxes / name / 'peers' / 'spool'
        envelopes = [json.loads(p.read_text()) for p in spool.glob('*.json')]
        assert len(envelopes) == 1, name
        if name != 'generic':
            assert envelopes[0]['auth'] is True, name


def test_audit_report_is_written_and_redacted(runs):
    tmp, _results = runs
    report = tmp / 'report'
    html = (report / 'index.html').read_text()
    for name in SCENARIOS:
        assert f'canary-{name}' in html
        assert (report / f'canary-{name}.md').exists()
    assert '********' in (report / 'canary-jira.md').read_text()
    summary = json.loads((report / 'summary.json').read_text())
    assert set(summary['hosts']) == {f'canary-{name}' for name in SCENARIOS}
    assert all(host['status'] == 'ok' for host in summary['hosts'].values()), summary
