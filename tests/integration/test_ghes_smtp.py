"""ghes_smtp against a local server that follows GitHub's documented admin API contracts."""
from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import time
import urllib.parse

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render.ghes import run
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpClient
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from tests.support.bitbucket_api import spellings
from tests.support.ghes_api import GhesServer
from tests.support.modrun import module_process, run_module

pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
ROOT_PASSWORD = 'R00t-Canary-Pa55'


def document(**changes) -> dict:
    doc = {
        'product': 'ghes',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required', 'helo_domain': 'github.example.com'},
        'auth': {'method': 'basic', 'username': 'ghes-notify', 'password': CANARY},
        'sender': {'from_address': 'noreply@github.example.com', 'noreply_address': 'noreply@github.example.com',
                   'support': 'https://help.example.com/?a=1&b=two words'},
        'ghes': {'hostname': 'github.example.com'},
    }
    for section, values in changes.items():
        doc[section] = dict(doc[section], **values)
    return doc


@pytest.fixture
def server():
    with GhesServer(password=ROOT_PASSWORD) as srv:
        srv.apply_seconds = 0.4
        yield srv


def args(server, doc=None, **extra) -> dict:
    base = {'settings': doc or document(), 'url': server.url, 'url_password': ROOT_PASSWORD, 'timeout': 5,
            'apply_poll_interval': 0.1, 'apply_timeout': 10}
    base.update(extra)
    return base


def assert_no_secret(result: dict) -> None:
    text = json.dumps(result)
    assert CANARY not in text and ROOT_PASSWORD not in text


@pytest.mark.parametrize('api', ['manage', 'management_console'])
def test_create_then_no_op(server, api):
    rc, result = run_module('ghes_smtp', args(server, api=api))
    assert rc == 0, result
    assert result['changed'] is True and result['created'] is True and result['password_written'] is True
    smtp = server.smtp
    assert smtp['enabled'] is True and smtp['address'] == 'smtp.example.com' and smtp['port'] == '587'
    assert smtp['authentication'] == 'login' and smtp['username'] == smtp['user_name'] == 'ghes-notify'
    assert smtp['password'] == CANARY
    assert smtp['discard-to-noreply-address'] is False
    assert smtp['support_address_type'] == 'url'
    (put,) = server.writes()
    if api == 'manage':
        assert put.path == '/manage/v1/config/settings' and set(put.json) == {'smtp'}
    else:
        assert put.path == '/setup/api/settings'
        assert put.headers['Content-Type'] == 'application/x-www-form-urlencoded'
        sent = json.loads(urllib.parse.parse_qs(put.body.decode())['settings'][0])
        assert set(sent) == {'enterprise'} and set(sent['enterprise']) == {'smtp'}
    assert put.headers['Authorization'].startswith('Basic ')
    assert result['apply'] is None and server.runs == {}
    assert_no_secret(result)

    server.clear()
    rc, again = run_module('ghes_smtp', args(server, api=api))
    assert rc == 0 and again['changed'] is False and again['differences'] == [], again
    assert server.writes() == []


def test_update_names_differences(server):
    assert run_module('ghes_smtp', args(server))[0] == 0
    server.clear()
    rc, result = run_module('ghes_smtp', args(server, document(server={'port': 2525, 'tls': 'none'})), diff=True)
    assert rc == 0 and result['changed'] is True and result['created'] is False
    assert result['differences'] == ['port', 'enable_starttls_auto']
    assert server.smtp['port'] == '2525' and server.smtp['enable_starttls_auto'] is False
    assert 'port: 587' in result['diff']['before'] and 'port: 2525' in result['diff']['after']
    assert 'password: ******** (written)' in result['diff']['after']
    assert_no_secret(result)


def test_check_mode_writes_and_applies_nothing(server):
    rc, result = run_module('ghes_smtp', args(server, apply=True), check_mode=True, diff=True)
    assert rc == 0 and result['changed'] is True
    assert result['apply'] == {'would_run': True}
    assert server.writes() == [] and server.runs == {}
    assert server.smtp['address'] == ''
    assert_no_secret(result)


def test_update_password_on_create_versus_always(server):
    assert run_module('ghes_smtp', args(server))[0] == 0
    rotated = document(auth={'password': 'Rotated-Canary-77'})
    rc, result = run_module('ghes_smtp', args(server, rotated))
    assert rc == 0 and result['changed'] is False and server.smtp['password'] == CANARY
    rc, result = run_module('ghes_smtp', args(server, rotated, update_password='always'))
    assert rc == 0 and result['changed'] is True and result['differences'] == ['password (update_password=always)']
    assert server.smtp['password'] == 'Rotated-Canary-77'


def test_disclosed_password_is_compared(server):
    server.return_password = True
    assert run_module('ghes_smtp', args(server))[0] == 0
    rc, result = run_module('ghes_smtp', args(server))
    assert rc == 0 and result['changed'] is False
    rotated = document(auth={'password': 'Rotated-Canary-77'})
    rc, result = run_module('ghes_smtp', args(server, rotated), diff=True)
    assert rc == 0 and result['changed'] is True and result['differences'] == ['password']
    assert server.smtp['password'] == 'Rotated-Canary-77'
    assert 'Rotated-Canary-77' not in json.dumps(result)


def test_canary_never_in_in_process_results(server):
    """Without Ansible's no_log filter in between, results must already be clean."""
    server.return_password = True
    client = HttpClient(server.url, username='api_key', password=ROOT_PASSWORD, timeout=5)
    effective = load_effective(document())
    for kwargs in ({}, {'update_password': 'always'}, {'api': 'management_console'}, {'state': 'absent'}):
        result = run(client, effective, **kwargs)
        assert 'failed' not in result, result
        assert_no_secret(result)


@pytest.mark.parametrize('api', ['manage', 'management_console'])
def test_apply_and_wait(server, api):
    rc, result = run_module('ghes_smtp', args(server, api=api, apply=True))
    assert rc == 0, result
    apply = result['apply']
    assert apply['successful'] is True and apply['polls'] >= 2
    assert 0.3 <= apply['seconds'] < 10
    assert len(server.runs) == 1
    if api == 'manage':
        assert apply['run_id'] in server.runs
        assert apply['detail'][0]['successful'] is True
    # Nothing changed: no second configuration run.
    rc, result = run_module('ghes_smtp', args(server, api=api, apply=True))
    assert rc == 0 and result['changed'] is False and result['apply'] is None and len(server.runs) == 1


def test_failed_configuration_run_fails_the_task(server):
    server.apply_succeeds = False
    rc, result = run_module('ghes_smtp', args(server, apply=True))
    assert rc != 0 and 'failed on the instance' in result['msg']


def test_apply_wait_is_bounded(server):
    server.apply_hangs = True
    started = time.monotonic()
    rc, result = run_module('ghes_smtp', args(server, apply=True, apply_timeout=1.5, apply_poll_interval=0.2))
    elapsed = time.monotonic() - started
    assert rc != 0 and 'still running after 1.5 s' in result['msg']
    assert 'run_id=' in result['msg']
    assert elapsed < 12, f'apply_timeout 1.5 s took {elapsed:.1f} s'


def test_absent_disables_email_and_keeps_values(server):
    assert run_module('ghes_smtp', args(server))[0] == 0
    server.clear()
    rc, result = run_module('ghes_smtp', args(server, state='absent'))
    assert rc == 0 and result['changed'] is True and result['differences'] == ['enabled']
    (put,) = server.writes()
    assert put.json == {'smtp': {'enabled': False}}
    assert server.smtp['enabled'] is False and server.smtp['address'] == 'smtp.example.com'
    assert run_module('ghes_smtp', args(server, state='absent'))[1]['changed'] is False


def test_401_message(server):
    rc, result = run_module('ghes_smtp', args(server, url_password='wrong-password'))
    assert rc != 0 and 'HTTP 401' in result['msg'] and 'api_key' in result['msg']
    assert 'wrong-password' not in json.dumps(result)
    assert server.writes() == []


def test_5xx_message(server):
    server.force_status = 502
    rc, result = run_module('ghes_smtp', args(server))
    assert rc != 0 and 'server error (HTTP 502)' in result['msg']


def test_timeout_is_bounded(server):
    server.stall_seconds = 60
    started = time.monotonic()
    rc, result = run_module('ghes_smtp', args(server, timeout=1.5))
    assert rc != 0 and 'no answer within 1.5 s' in result['msg']
    assert time.monotonic() - started < 15


def test_management_console_api_gone_on_315():
    with GhesServer(password=ROOT_PASSWORD, apis=('manage',)) as srv:
        rc, result = run_module('ghes_smtp', args(srv, api='management_console'))
        assert rc != 0 and 'HTTP 404' in result['msg'] and '3.15' in result['msg']


def test_render_needs_no_network_and_hides_password():
    rc, result = run_module('ghes_smtp', {'settings': document(), 'mode': 'render'})
    assert rc == 0 and result['changed'] is False
    assert 'ghe-config smtp.password "$GHE_SMTP_PASSWORD"' in result['commands']
    assert result['commands'][-1] == 'ghe-config-apply'
    assert_no_secret(result)


def test_rendered_script_runs_in_sh_with_password_from_environment(tmp_path):
    """Run the script against stand-in ghe-config / ghe-config-apply that record their arguments."""
    rc, result = run_module('ghes_smtp', {'settings': document(), 'mode': 'render'})
    assert rc == 0
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'calls.jsonl'
    recorder = ('#!/usr/bin/env python3\nimport json, os, sys\n'
                f'open({str(log)!r}, "a").write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\\n")\n')
    for name in ('ghe-config', 'ghe-config-apply'):
        path = bin_dir / name
        path.write_text(recorder)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / 'apply.sh'
    script.write_text(result['script'])
    env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', GHE_SMTP_PASSWORD=CANARY)
    subprocess.run(['sh', str(script)], check=True, env=env, timeout=30)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    values = {c[1]: c[2] for c in calls if c[0] == 'ghe-config' and len(c) == 3}
    assert values['smtp.password'] == CANARY
    assert values['smtp.support-address'] == 'https://help.example.com/?a=1&b=two words'
    assert values['smtp.port'] == '587' and values['smtp.enabled'] == 'true'
    assert calls[-1] == ['ghe-config-apply']

    # Without the variable the script stops before touching anything.
    log.unlink()
    env.pop('GHE_SMTP_PASSWORD')
    proc = subprocess.run(['sh', str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode != 0 and 'GHE_SMTP_PASSWORD' in proc.stderr
    assert not log.exists()


def test_https_with_ca(tmp_path):
    with GhesServer(password=ROOT_PASSWORD, tls=True, cert_dir=tmp_path) as srv:
        rc, result = run_module('ghes_smtp', args(srv))
        assert rc != 0 and 'TLS certificate verification failed' in result['msg']
        rc, result = run_module('ghes_smtp', args(srv, ca_path=str(srv.ca_path), apply=True))
        assert rc == 0 and result['apply']['successful'] is True


def test_contract_server_rejects_unpublished_keys(server):
    client = HttpClient(server.url, username='api_key', password=ROOT_PASSWORD, timeout=5)
    status, body = client.json('PUT', '/manage/v1/config/settings', json_body={'smtp': {'discard_to_noreply_address': True}},
                               allow=(400,))
    assert status == 400 and 'discard_to_noreply_address' in body['message']
    status, body = client.json('GET', '/manage/v1/config/settings')
    assert 'password' not in body['smtp']


def test_ansible_playbook_check_mode_and_diff(server, tmp_path):
    """Through ansible-playbook: --check --diff prints the redacted diff and writes nothing."""
    from tests.support.modrun import COLLECTIONS, ROOT, module_env

    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps([{
        'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'mailwright.smtp.ghes_smtp': args(server)}],
    }]))
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text(f'localhost ansible_connection=local ansible_python_interpreter={ROOT}/.venv/bin/python\n')
    proc = subprocess.run(
        [str(pathlib.Path(ROOT) / '.venv' / 'bin' / 'ansible-playbook'), '-i', str(inventory), str(playbook),
         '--check', '--diff'],
        capture_output=True, text=True, env=module_env({'ANSIBLE_COLLECTIONS_PATH': str(COLLECTIONS),
                                                       'ANSIBLE_NOCOLOR': '1'}), timeout=180, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert 'changed=1' in output
    assert '+address: smtp.example.com' in output
    assert CANARY not in output and ROOT_PASSWORD not in output
    assert server.writes() == []


# --- a server that quotes the request back (finding: HTTP error bodies echo credentials) -------

ODD_ROOT_PASSWORD = 'Cn/ry+&"<é>?+&>1g'  # base64('api_key:' + it) holds '+', '/' and '='


@pytest.mark.parametrize('api', ['manage', 'management_console'])
@pytest.mark.parametrize('style, methods', [('text', ()), ('html', ()), ('php', ()), ('json', ('PUT',)),
                                            ('form', ('PUT',))])
def test_reflected_request_shows_no_credential_in_any_encoding(api, style, methods):
    with GhesServer(password=ODD_ROOT_PASSWORD) as srv:
        srv.reflect, srv.reflect_methods = style, methods
        doc = document(auth={'password': ODD_ROOT_PASSWORD[::-1]})  # the relay password travels in the PUT body
        proc = module_process('ghes_smtp', {**args(srv, doc), 'url_password': ODD_ROOT_PASSWORD, 'api': api}, diff=True)
        result = json.loads(proc.stdout)
        assert proc.returncode == 1 and 'HTTP 400' in result['msg'], result
        assert ('PUT' if methods else 'GET') in result['msg']
        for what, secret, username in (('root', ODD_ROOT_PASSWORD, 'api_key'), ('relay', ODD_ROOT_PASSWORD[::-1], None)):
            for name, form in spellings(secret, username=username).items():
                assert form not in proc.stdout + proc.stderr, f'{what} password leaked as {name}: {form!r}'
