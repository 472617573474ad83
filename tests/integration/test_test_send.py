"""test_send as a module process (as AnsiballZ runs it) against real aiosmtpd peers on loopback.

Every protocol x TLS policy x AUTH combination delivers exactly one message over two runs (except
credentials under opportunistic on a connection left in clear: refused at step tls, nothing sent
after EHLO, even behind a STARTTLS-stripping man in the middle); changed settings deliver one more;
check mode delivers none; faults end at the named step with no marker;
the canary password and token appear nowhere.
"""
from __future__ import annotations

import base64
import json
import os
import pathlib
import time

import pytest

from tests.support.mitm import StripStartTLS
from tests.support.smtp_server import TLS_PATHS
from tests.support.modrun import run_module

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
TOKEN = 'ya29.Canary-Token-0Auth2-abcdef'
USER = 'relay-user'
SECRET_FORMS = [CANARY, TOKEN, base64.b64encode(CANARY.encode()).decode(), base64.b64encode(TOKEN.encode()).decode()[:24]]

AUTHS = ['none', 'plain', 'login', 'xoauth2']
COMBINATIONS = [(path, auth) for path in TLS_PATHS for auth in AUTHS
                # settings validation rejects OAuth 2.0 unless TLS is required (the products do too)
                if not (auth == 'xoauth2' and path[2] != 'required')
                # credentials in clear under opportunistic are refused (test_opportunistic_* below)
                and not (auth != 'none' and path[2] == 'opportunistic' and not path[3])]


def settings_for(server, *, protocol='smtp', tls='opportunistic', auth='none', product='jira', **extra) -> dict:
    doc = {
        'product': product,
        'server': {'host': server.host, 'port': server.port, 'protocol': protocol, 'timeout_ms': 3000,
                   'helo_domain': 'app01.example.test'},
        'sender': {'from_address': 'app@example.test', 'subject_prefix': '[TEST]'},
        'test': {'recipients': ['team@example.test'], 'user': {'fullname': 'Ada Tester', 'email': 'ada@corp.example.test'}},
    }
    if protocol != 'smtps':
        doc['server']['tls'] = tls
    if auth in ('plain', 'login'):
        doc['auth'] = {'method': 'basic', 'username': USER, 'password': CANARY, 'mechanism': auth}
    elif auth == 'xoauth2':
        doc['auth'] = {'method': 'oauth2', 'username': USER, 'oauth2': {'provider': 'google', 'token': TOKEN}}
    for key, value in extra.items():
        doc[key] = dict(doc.get(key, {}), **value)
    return doc


class Runner:
    """Runs the module against one server with one marker; checks every output for secrets."""

    def __init__(self, tmp_path: pathlib.Path, ca_file: str):
        self.tmp_path = tmp_path
        self.marker = tmp_path / 'state' / 'proof.json'
        self.ca_file = ca_file

    def __call__(self, settings: dict, *, check_mode: bool = False, diff: bool = False, **options) -> tuple[int, dict]:
        args = {'settings': settings, 'marker_path': str(self.marker), 'ca_path': self.ca_file,
                'retry_delay': 0.05}
        args.update(options)
        rc, result = run_module('test_send', args, check_mode=check_mode, diff=diff)
        self.assert_no_secrets(result)
        return rc, result

    def assert_no_secrets(self, result: dict) -> None:
        texts = [json.dumps(result), result.get('_stderr', '')]
        for path in (self.marker, self.marker.parent / 'fingerprint.key'):
            if path.exists():
                texts.append(path.read_bytes().decode('latin-1'))
        for text in texts:
            for form in SECRET_FORMS:
                assert form not in text, f'secret form {form!r} leaked: {text[:400]}'

    def marker_record(self) -> dict:
        return json.loads(self.marker.read_text())


@pytest.fixture
def run(tmp_path, smtp_pki) -> Runner:
    return Runner(tmp_path, smtp_pki.ca_file)


def start(smtp_server, mode: str, **kwargs):
    return smtp_server(mode, credentials={USER: CANARY}, tokens={USER: TOKEN},
                       auth_require_tls=mode != 'plain', **kwargs)


@pytest.mark.parametrize('path,auth', COMBINATIONS, ids=[f'{p[0]}-{p[2]}-{a}' for p, a in COMBINATIONS])
def test_two_runs_deliver_exactly_one_message(smtp_server, run, path, auth):
    mode, protocol, tls, encrypted = path
    server = start(smtp_server, mode)
    settings = settings_for(server, protocol=protocol, tls=tls, auth=auth)

    rc, first = run(settings)
    assert rc == 0, first
    assert (first['changed'], first['sent'], first['reason']) == (True, True, 'no previous proof')
    rc, second = run(settings)
    assert rc == 0, second
    assert (second['changed'], second['sent']) == (False, False)
    assert second['proof']['message_id'] == first['proof']['message_id']
    assert second['proof']['fingerprint'] == first['fingerprint']

    assert len(server.messages) == 1
    delivered = server.messages[0]
    assert delivered.tls is encrypted
    assert delivered.mail_from == 'app@example.test' and delivered.rcpt_tos == ['team@example.test']
    parsed = delivered.message()
    assert parsed['Message-ID'] == first['message']['message_id'] == first['proof']['message_id']
    assert parsed['X-Mailwright-Fingerprint'] == first['fingerprint']
    assert parsed['Subject'] == '[TEST] mailwright test message'
    if auth == 'none':
        assert server.auth_attempts == [] and first['auth_mechanism'] is None
    else:
        assert server.auth_attempts == [{'mechanism': auth.upper(), 'login': USER, 'ok': True, 'tls': encrypted}]
        assert delivered.auth_login == USER
        assert any(line.split()[:3] == ['C:', 'AUTH', auth.upper()] for line in first['transcript'])
    assert any(line.startswith('C: EHLO app01.example.test') for line in first['transcript'])
    record = run.marker_record()
    assert record['fingerprint'] == first['fingerprint'] and record['reply']['code'] == 250
    assert os.stat(run.marker).st_mode & 0o777 == 0o600
    assert os.stat(run.marker.parent / 'fingerprint.key').st_mode & 0o777 == 0o600


@pytest.mark.parametrize('change', ['subject_prefix', 'password', 'recipient', 'tls'])
def test_a_settings_change_delivers_one_more(smtp_server, run, change):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required', auth='plain')
    assert run(settings)[1]['sent']
    if change == 'subject_prefix':
        settings['sender']['subject_prefix'] = '[JIRA]'
    elif change == 'password':
        # the server accepts both: only the fingerprint can notice the new secret
        server.credentials[USER] = settings['auth']['password'] = CANARY + '-2'
    elif change == 'recipient':
        settings['test']['recipients'].append('second@example.test')
    else:
        settings['server']['tls'] = 'opportunistic'
    rc, result = run(settings)
    assert rc == 0 and result['sent'] and result['reason'] == 'settings changed', result
    rc, again = run(settings)
    assert rc == 0 and not again['changed']
    assert len(server.messages) == 2
    if change == 'password':
        assert CANARY + '-2' not in json.dumps(result)


def test_force_and_an_old_proof_send_again(smtp_server, run):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required', test={'max_age': '1h'})
    assert run(settings)[1]['sent']
    assert run(settings, force=True)[1]['reason'] == 'force'
    record = run.marker_record()
    record['epoch'] -= 2 * 3600  # the proof is two hours old now
    run.marker.write_text(json.dumps(record))
    rc, result = run(settings)
    assert rc == 0 and result['reason'] == 'previous proof is older than test.max_age'
    assert result['sent'] and not run(settings)[1]['changed']
    assert len(server.messages) == 3


def test_check_mode_converses_to_rcpt_and_delivers_nothing(smtp_server, run):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required', auth='login')
    rc, result = run(settings, check_mode=True, recipients=['extra@example.test'])
    assert rc == 0, result
    assert (result['changed'], result['sent'], result['reason']) == (True, False, 'no previous proof')
    transcript = '\n'.join(result['transcript'])
    for command in ('C: STARTTLS', 'C: AUTH LOGIN', 'C: MAIL FROM:<app@example.test>',
                    'C: RCPT TO:<team@example.test>', 'C: RCPT TO:<extra@example.test>', 'C: RSET', 'C: QUIT'):
        assert command in transcript
    assert 'C: DATA' not in transcript
    assert server.auth_attempts[0]['ok'] and server.messages == []
    assert result['message']['recipients'] == ['team@example.test', 'extra@example.test']
    assert result['message']['subject'] == '[TEST] mailwright test message'
    assert not run.marker.parent.exists()  # neither marker nor key nor directory
    # a real run afterwards still has everything to do, and check mode then sees the proof
    assert run(settings)[1]['sent']
    rc, checked = run(settings, check_mode=True)
    assert rc == 0 and not checked['changed'] and checked['transcript'] == []
    assert len(server.messages) == 1


def test_check_mode_fails_like_a_real_run_when_a_recipient_is_refused(smtp_server, run):
    server = start(smtp_server, 'starttls', fault='rcpt_550')
    rc, result = run(settings_for(server, tls='required'), check_mode=True)
    assert rc != 0 and result['step'] == 'rcpt' and result['code'] == 550
    assert not run.marker.parent.exists()


def test_extra_recipients_receive_the_one_message(smtp_server, run):
    server = start(smtp_server, 'smtps')
    rc, result = run(settings_for(server, protocol='smtps'), recipients=['extra@example.test', 'TEAM@example.test'])
    assert rc == 0 and result['recipients'] == ['team@example.test', 'extra@example.test']
    assert server.messages[0].rcpt_tos == ['team@example.test', 'extra@example.test']
    assert server.messages[0].message()['To'] == 'team@example.test, extra@example.test'


def test_xoauth2_token_is_verified_by_the_server(smtp_server, run):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required', auth='xoauth2')
    del settings['auth']['oauth2']['token']
    rc, result = run(settings, token=TOKEN)  # the token option instead of the settings
    assert rc == 0 and result['auth_mechanism'] == 'XOAUTH2'
    assert server.auth_attempts == [{'mechanism': 'XOAUTH2', 'login': USER, 'ok': True, 'tls': True}]

    server.tokens[USER] = 'a-rotated-token'  # the old token no longer works
    rc, failed = run(settings, token=TOKEN + '-old', force=True)
    assert rc != 0
    assert (failed['step'], failed['code']) == ('auth', 535)
    assert failed['attempts'] == [dict(failed['attempts'][0], attempt=1, ok=False)]  # 5xx: no retry
    assert len(server.messages) == 1
    assert TOKEN + '-old' not in json.dumps(failed)


def test_oauth2_without_a_token_fails_before_connecting(smtp_server, run):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required', auth='xoauth2')
    del settings['auth']['oauth2']['token']
    rc, result = run(settings)
    assert rc != 0 and result['step'] == 'policy' and 'token' in result['msg']
    assert server.auth_attempts == []


def test_tls_required_without_starttls_sends_nothing(smtp_server, run):
    server = start(smtp_server, 'plain')
    rc, result = run(settings_for(server, tls='required', auth='plain'))
    assert rc != 0
    assert result['step'] == 'policy' and 'STARTTLS' in result['msg']
    assert len(result['attempts']) == 1  # a policy failure is not retried
    assert server.messages == [] and server.auth_attempts == []
    assert not run.marker.exists()


PLAIN_PAYLOAD = base64.b64encode(f'\0{USER}\0{CANARY}'.encode()).decode()


def assert_nothing_after_ehlo(received: bytes) -> None:
    """What reached the peer: EHLO (a refused STARTTLS, QUIT) at most; no AUTH, MAIL, DATA or secret."""
    for form in SECRET_FORMS + [PLAIN_PAYLOAD, base64.b64encode(USER.encode()).decode()]:
        assert form.encode() not in received, form
    verbs = [line.split()[0].upper() for line in received.decode('utf-8', 'replace').split('\r\n') if line.strip()]
    assert verbs and set(verbs) <= {'EHLO', 'STARTTLS', 'QUIT'}, verbs


def assert_refused_at_tls(rc: int, result: dict, reason: str) -> None:
    assert rc != 0, result
    assert (result['step'], result['kind'], result['smtp_step'], result['code']) == ('tls', 'policy', 'tls', None)
    assert result['msg'].startswith('test send failed at step tls: ' + reason), result['msg']
    for words in ('tls is opportunistic', 'would send the password in clear', 'server.tls: required',
                  'tls: none only if the relay is trusted and on loopback'):
        assert words in result['msg'], result['msg']
    assert len(result['attempts']) == 1  # a policy failure is not retried
    assert not any(line.startswith(('C: AUTH', 'C: MAIL', 'C: RCPT', 'C: DATA')) for line in result['transcript'])


@pytest.mark.parametrize('check_mode', [False, True], ids=['real', 'check'])
@pytest.mark.parametrize('auth', ['plain', 'login'])
def test_opportunistic_without_starttls_and_auth_fails_at_tls_and_sends_nothing(smtp_server, run, auth, check_mode):
    # The relay offers AUTH in clear and would accept the password: only mailwright's rule stops it.
    server = start(smtp_server, 'plain')
    rc, result = run(settings_for(server, tls='opportunistic', auth=auth), check_mode=check_mode, retries=2)
    assert_refused_at_tls(rc, result, 'the server does not offer STARTTLS')
    assert_nothing_after_ehlo(bytes(server.received))
    assert server.commands()[0] == 'EHLO app01.example.test'
    assert server.auth_attempts == [] and server.messages == []
    assert not run.marker.exists()


@pytest.mark.parametrize('check_mode', [False, True], ids=['real', 'check'])
@pytest.mark.parametrize('attack', ['strip', 'refuse'])
def test_opportunistic_behind_a_starttls_downgrade_fails_at_tls_and_sends_nothing(
        smtp_server, run, tmp_path, attack, check_mode):
    # A STARTTLS relay behind a man in the middle who strips STARTTLS from EHLO (or answers it with
    # 454) and advertises AUTH in clear, to harvest the password.
    server = start(smtp_server, 'starttls')
    with StripStartTLS(server.host, server.port, refuse_starttls=attack == 'refuse',
                       advertise_auth='PLAIN LOGIN') as mitm:
        settings = settings_for(server, tls='opportunistic', auth='plain')
        settings['server']['port'] = mitm.port
        rc, result = run(settings, check_mode=check_mode)
        reason = 'the server answered STARTTLS with 454' if attack == 'refuse' else 'the server does not offer STARTTLS'
        assert_refused_at_tls(rc, result, reason)
        assert (mitm.refused, mitm.stripped) == ((1, 0) if attack == 'refuse' else (0, 1))
        assert_nothing_after_ehlo(bytes(mitm.client_bytes))
    assert not any(line.upper().startswith(('AUTH', 'MAIL', 'DATA')) for line in server.commands())
    assert server.auth_attempts == [] and server.messages == []
    assert not run.marker.exists()


@pytest.mark.parametrize('check_mode', [False, True], ids=['real', 'check'])
def test_opportunistic_without_starttls_and_without_auth_sends_with_a_warning(smtp_server, run, check_mode):
    server = start(smtp_server, 'plain')
    rc, result = run(settings_for(server, tls='opportunistic'), check_mode=check_mode)
    assert rc == 0, result
    assert result['sent'] is not check_mode and result['tls'] is None
    # module.warn(): plain strings, or Ansible's structured warnings (the text under event.msg)
    warnings = [w if isinstance(w, str) else w['event']['msg'] for w in result.get('warnings', [])]
    warnings = [w for w in warnings if 'unencrypted' in w]
    assert len(warnings) == 1, result.get('warnings')
    assert 'does not offer STARTTLS' in warnings[0] and 'tls is opportunistic' in warnings[0]
    assert f'{server.host}:{server.port}' in warnings[0] and 'server.tls: required' in warnings[0]
    assert len(server.messages) == (0 if check_mode else 1)


def test_tls_none_with_auth_over_plain_loopback_is_an_explicit_opt_in(smtp_server, run):
    """tls: none says "this relay is trusted": the password goes in clear, as the settings ask."""
    server = start(smtp_server, 'plain')
    rc, result = run(settings_for(server, tls='none', auth='plain'))
    assert rc == 0 and result['sent'], result
    assert server.auth_attempts == [{'mechanism': 'PLAIN', 'login': USER, 'ok': True, 'tls': False}]
    assert 'unencrypted' not in json.dumps(result.get('warnings', []))
    # settings_validate warns about exactly this combination (the password is sent in clear)
    rc, validated = run_module('settings_validate', {'settings': settings_for(server, tls='none', auth='plain')})
    assert rc == 0 and 'the password is sent in clear' in json.dumps(validated), validated


def test_421_at_connect_is_retried_then_fails_at_connect(smtp_server, run):
    server = start(smtp_server, 'plain', fault='connect_421')
    rc, result = run(settings_for(server, tls='opportunistic'), retries=2)
    assert rc != 0
    assert (result['step'], result['code']) == ('connect', 421)
    assert 'Service not available' in result['msg']
    assert [a['code'] for a in result['attempts']] == [421, 421, 421]
    assert [a.get('retry_in') for a in result['attempts']] == [0.05, 0.1, None]  # backoff doubles
    assert server.connections == 3
    assert not run.marker.exists()


@pytest.mark.parametrize('fault,step', [('rcpt_451_once', 'rcpt'), ('data_451_once', 'data'), ('mail_451_once', 'mail')])
def test_451_once_then_success_on_retry(smtp_server, run, fault, step):
    server = start(smtp_server, 'starttls', fault=fault)
    rc, result = run(settings_for(server, tls='required', auth='plain'), retries=2)
    assert rc == 0 and result['sent'], result
    assert [(a['ok'], a.get('step'), a.get('code')) for a in result['attempts']] == [(False, step, 451), (True, None, None)]
    assert len(server.messages) == 1
    assert run.marker_record()['message_id'] == server.messages[0].message()['Message-ID']


def test_550_at_rcpt_is_not_retried_and_writes_no_marker(smtp_server, run):
    server = start(smtp_server, 'starttls', fault='rcpt_550')
    rc, result = run(settings_for(server, tls='required', auth='plain'), retries=3)
    assert rc != 0
    assert (result['step'], result['code'], result['transient']) == ('rcpt', 550, False)
    assert 'team@example.test' in result['text'] and result['msg'].startswith('test send failed at step rcpt: 550')
    assert len(result['attempts']) == 1
    assert server.messages == [] and not run.marker.exists()


def test_connection_dropped_during_data_fails_at_data(smtp_server, run):
    server = start(smtp_server, 'starttls', fault='data_drop')
    rc, result = run(settings_for(server, tls='required'), retries=1)
    assert rc != 0
    assert (result['step'], result['code'], result['transient']) == ('data', None, True)
    assert len(result['attempts']) == 2
    assert server.messages == [] and not run.marker.exists()


@pytest.mark.parametrize('mode,protocol', [('starttls', 'smtp'), ('smtps', 'smtps')])
def test_tls_name_mismatch_fails_at_tls_before_auth(smtp_server, run, mode, protocol):
    server = start(smtp_server, mode, cert='wrong_name')
    rc, result = run(settings_for(server, protocol=protocol, tls='required', auth='plain'), retries=2)
    assert rc != 0
    assert result['step'] == 'tls' and 'mismatch' in result['text'].lower()
    assert len(result['attempts']) == 1
    assert server.auth_attempts == [] and server.messages == []
    assert not run.marker.exists()


def test_stalled_server_fails_within_the_timeout(smtp_server, run):
    server = start(smtp_server, 'plain', fault='stall')
    started = time.monotonic()
    rc, result = run(settings_for(server, tls='opportunistic'), retries=0, timeout=0.5)
    assert rc != 0 and result['step'] == 'connect' and result['transient']
    assert time.monotonic() - started < 5


def test_closed_port_fails_at_connect(smtp_closed_port, run):
    settings = {'product': 'generic', 'server': {'host': '127.0.0.1', 'port': smtp_closed_port, 'tls': 'none'},
                'sender': {'from_address': 'app@example.test'}, 'test': {'recipients': ['team@example.test']}}
    rc, result = run(settings, retries=0)
    assert rc != 0 and result['step'] == 'connect' and result['code'] is None


def test_a_corrupt_marker_is_replaced_by_the_next_proof(smtp_server, run):
    server = start(smtp_server, 'starttls')
    run.marker.parent.mkdir(mode=0o700)
    run.marker.write_text('{not json')
    rc, result = run(settings_for(server, tls='required'))
    assert rc == 0 and result['sent'] and 'not a JSON marker' in json.dumps(result.get('warnings'))
    assert run.marker_record()['fingerprint'] == result['fingerprint']
    assert 'Traceback' not in result['_stderr']


def test_diff_shows_the_previous_and_the_new_proof(smtp_server, run):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required')
    first = run(settings, diff=True)[1]
    assert first['diff']['before'] == '' and first['fingerprint'] in first['diff']['after']
    second = run(settings, diff=True, force=True)[1]
    assert first['fingerprint'] in second['diff']['before']
    assert second['proof']['message_id'] in second['diff']['after']
    settings['sender']['subject_prefix'] = '[NEW]'
    checked = run(settings, diff=True, check_mode=True)[1]
    assert second['proof']['message_id'] in checked['diff']['before']
    assert 'check mode: not sent' in checked['diff']['after']
    assert checked['fingerprint'] in checked['diff']['after'] and checked['fingerprint'] != second['fingerprint']
    assert len(server.messages) == 2


@pytest.mark.parametrize('product,from_name,expected', [
    ('jira', None, '"Ada Tester (Jira)" <app@example.test>'),
    ('confluence', None, '"Ada Tester (Confluence)" <app@example.test>'),
    ('generic', '${fullname} <${email}> via ${email.hostname}', '"Ada Tester <ada@corp.example.test> via corp.example.test" <app@example.test>'),
    ('bitbucket', None, 'app@example.test'),
])
def test_from_header_per_product(smtp_server, run, product, from_name, expected):
    server = start(smtp_server, 'starttls')
    settings = settings_for(server, tls='required', product=product)
    if from_name:
        settings['sender']['from_name'] = from_name
    rc, result = run(settings)
    assert rc == 0, result
    assert server.messages[0].message()['From'] == expected
    body = server.messages[0].message().get_content()
    assert f'Product:     {product}' in body and f'{server.host}:{server.port}' in body


def test_a_send_process_stays_import_light(smtp_server, smtp_pki, tmp_path):
    """No cryptography and no yaml in a send: they cost more than the whole conversation."""
    import subprocess
    import sys

    from tests.support.modrun import ROOT, module_env

    server = start(smtp_server, 'starttls')
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'settings': settings_for(server, tls='required', auth='plain'), 'ca_path': smtp_pki.ca_file,
        'marker_path': str(tmp_path / 'state' / 'proof.json'), '_ansible_tmpdir': str(tmp_path)}}))
    proc = subprocess.run([sys.executable, '-X', 'importtime', str(ROOT / 'plugins' / 'modules' / 'test_send.py'), str(args)],
                          capture_output=True, text=True, env=module_env(), timeout=60, check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout)['sent'], proc.stdout[-2000:]
    imported = {line.rsplit('|', 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith('import time:')}
    assert 'ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send' in imported  # the probe works
    assert not {name for name in imported if name.split('.')[0] in ('cryptography', 'yaml')}
    assert len(server.messages) == 1


def test_cram_md5_delivers_once_over_two_runs(smtp_server, run):
    server = smtp_server('starttls', credentials={USER: CANARY}, mechanisms=['PLAIN', 'LOGIN', 'CRAM-MD5'])
    settings = settings_for(server, tls='required', auth='plain')
    settings['auth']['mechanism'] = 'cram_md5'
    assert run(settings)[1]['auth_mechanism'] == 'CRAM-MD5'
    assert not run(settings)[1]['changed']
    assert server.auth_attempts == [{'mechanism': 'CRAM-MD5', 'login': USER, 'ok': True, 'tls': True}]
    assert len(server.messages) == 1
