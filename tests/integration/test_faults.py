# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults: one misbehaving SMTP relay and one DNS zone, met by smtp_probe, truststore_cert,
test_send and dns_check.

The relay (tests/support/smtp_server.py) answers 421 at connect, 451 once then succeeds, 550 at
RCPT, drops the connection in the middle of DATA, or accepts and never speaks; a man in the
middle (tests/support/mitm.py) strips STARTTLS from the EHLO reply of a real STARTTLS relay; the
relay presents a certificate for the wrong name or an expired one. The DNS zone
(tests/support/dns_server.py, dnsmasq) answers SERVFAIL for servfail.test, lets slow.test time
out, and a nameserver that never answers stands for a dead resolver.

For every fault and every module that meets it: the documented failure (the step, and the SMTP
code or the text), nothing half-written (a truststore stays byte-identical, no test-send marker
appears), no secret in the output, bounded time, and the next run against a healthy peer
recovers.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import time

import pytest

from tests.support.mitm import StripStartTLS
from tests.support.modrun import run_module

pytest_plugins = ['tests.support.fixtures_smtp', 'tests.support.fixtures_dns']
pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
STOREPASS = 'Store-5ecret-Pa55'
TIMEOUT = 1.5


def settings_for(port: int, *, tls: str = 'required', host: str = '127.0.0.1', dns: dict | None = None) -> dict:
    doc = {
        'product': 'generic',
        'server': {'host': host, 'port': port, 'tls': tls, 'timeout_ms': int(TIMEOUT * 1000),
                   'helo_domain': 'app.example.test'},
        'auth': {'method': 'basic', 'username': 'alice', 'password': CANARY},
        'sender': {'from_address': 'app@example.test'},
        'test': {'recipients': ['ops@example.test'], 'max_age': '30d'},
    }
    if dns is not None:
        doc['dns'] = dns
    return doc


def no_secret(result: dict) -> None:
    text = json.dumps(result)
    assert CANARY not in text and STOREPASS not in text
    assert 'Traceback' not in result.get('_stderr', ''), result['_stderr'][-3000:]


@pytest.fixture
def relay(smtp_server):
    """A relay with a fault (or none): relay('rcpt_550'), relay(cert='expired'), relay(mitm=True),
    relay(mitm={'refuse_starttls': True, 'advertise_auth': 'PLAIN LOGIN'})."""
    opened: list[StripStartTLS] = []

    def start(fault: str | None = None, *, cert: str = 'good', mitm: bool | dict = False):
        server = smtp_server('starttls', cert=cert, credentials={'alice': CANARY}, fault=fault)
        server.endpoint = server.port
        server.mitm = None
        if mitm:
            # mitm=True strips STARTTLS; a dict passes StripStartTLS options (refuse_starttls, advertise_auth)
            proxy = StripStartTLS(server.host, server.port, **(mitm if isinstance(mitm, dict) else {})).start()
            opened.append(proxy)
            server.endpoint = proxy.port
            server.mitm = proxy
        return server

    yield start
    for proxy in opened:
        proxy.stop()


# --- what each module must say, per fault -------------------------------------------------------

# fault id -> (server kwargs, probe expectation (step, code, kind, timed_out))
SMTP_FAULTS = {
    'connect_421': ({'fault': 'connect_421'}, ('banner', 421, 'smtp', False)),
    'stall': ({'fault': 'stall'}, ('banner', None, 'timeout', True)),
    'starttls_stripped': ({'mitm': True}, ('policy', None, 'policy', False)),
    'wrong_name': ({'cert': 'wrong_name'}, ('tls', None, 'certificate', False)),
    'expired': ({'cert': 'expired'}, ('tls', None, 'certificate', False)),
}
# Faults after the conversation's start: the probe never sends MAIL FROM, so it cannot meet them.
DELIVERY_FAULTS = ['mail_451_once', 'rcpt_451_once', 'rcpt_550', 'data_drop']


@pytest.mark.parametrize('fault', list(SMTP_FAULTS))
def test_probe_meets_the_fault_then_recovers(relay, smtp_pki, fault):
    kwargs, (step, code, kind, timed_out) = SMTP_FAULTS[fault]
    server = relay(**kwargs)
    start = time.monotonic()
    rc, result = run_module('smtp_probe', {'settings': settings_for(server.endpoint), 'ca_path': smtp_pki.ca_file,
                                           'check_credentials': True, 'timeout': TIMEOUT})
    elapsed = time.monotonic() - start
    no_secret(result)
    assert rc == 1 and result['failed'], result
    target = result['results'][0]
    assert (target['status'], target['step'], target['timed_out']) == ('fail', step, timed_out), target
    first = target['errors'][0]
    assert (first['step'], first['code'], first['kind']) == (step, code, kind), target['errors']
    assert first['transient'] is (code is not None and code < 500 or kind == 'timeout'), first
    assert f'fail at {step}' in result['msg'], result['msg']
    assert elapsed < 3 * TIMEOUT + 5, elapsed
    # Credentials never went out: not over a stripped connection, not over a refused certificate.
    assert not server.auth_attempts
    if server.mitm is not None:
        assert server.mitm.stripped >= 1
        assert b'AUTH' not in bytes(server.mitm.client_bytes).upper()
    if fault == 'wrong_name':
        assert 'does not name' in json.dumps(target['errors'])
    if fault == 'expired':
        assert 'expired' in json.dumps(target['errors'])
    healthy = relay()
    rc, result = run_module('smtp_probe', {'settings': settings_for(healthy.endpoint), 'ca_path': smtp_pki.ca_file,
                                           'check_credentials': True, 'timeout': TIMEOUT})
    assert rc == 0 and result['results'][0]['status'] == 'pass', result['msg']
    assert result['results'][0]['credentials']['ok'] is True


# The downgrade attacks on tls: opportunistic: STARTTLS stripped from EHLO, or STARTTLS answered
# with 454; either way the man in the middle advertises AUTH in clear to collect the password.
DOWNGRADES = {
    'strip': ({'advertise_auth': 'PLAIN LOGIN'}, 'the server does not offer STARTTLS'),
    'refuse': ({'refuse_starttls': True, 'advertise_auth': 'PLAIN LOGIN'}, 'the server answered STARTTLS with 454'),
}


def nothing_after_ehlo(mitm: StripStartTLS) -> None:
    """The man in the middle read EHLO (a STARTTLS, QUIT) and nothing else: no AUTH, MAIL or DATA."""
    sent = bytes(mitm.client_bytes)
    assert CANARY.encode() not in sent
    verbs = {line.split()[0].upper() for line in sent.decode('utf-8', 'replace').split('\r\n') if line.strip()}
    assert verbs and verbs <= {'EHLO', 'STARTTLS', 'QUIT'}, verbs


@pytest.mark.parametrize('attack', list(DOWNGRADES))
def test_probe_with_opportunistic_tls_behind_a_downgrading_mitm_sends_no_password(relay, smtp_pki, attack):
    """tls: opportunistic is what the stripping attack targets; the password must still stay home."""
    options, reason = DOWNGRADES[attack]
    server = relay(mitm=options)
    rc, result = run_module('smtp_probe', {'settings': settings_for(server.endpoint, tls='opportunistic'),
                                           'ca_path': smtp_pki.ca_file, 'check_credentials': True,
                                           'timeout': TIMEOUT})
    no_secret(result)
    target = result['results'][0]
    assert rc == 1 and (target['status'], target['step']) == ('fail', 'tls'), target
    error = target['errors'][0]
    assert (error['step'], error['kind'], error['code']) == ('tls', 'policy', None), target['errors']
    assert error['message'].startswith(reason) and 'would send the password in clear' in error['message']
    assert target['credentials']['checked'] and target['credentials']['ok'] is None
    assert 'PLAIN' in target['auth_mechanisms']  # the bait was offered, and not taken
    assert not server.auth_attempts and not server.messages
    nothing_after_ehlo(server.mitm)


@pytest.mark.parametrize('attack', list(DOWNGRADES))
def test_test_send_with_opportunistic_tls_behind_a_downgrading_mitm_sends_nothing(relay, smtp_pki, tmp_path, attack):
    options, reason = DOWNGRADES[attack]
    server = relay(mitm=options)
    marker = tmp_path / 'state' / 'test-send.json'
    rc, result = _send(server.endpoint, marker, smtp_pki.ca_file, retries=2,
                       settings=settings_for(server.endpoint, tls='opportunistic'))
    no_secret(result)
    assert rc == 1 and (result['step'], result['kind']) == ('tls', 'policy'), result
    assert result['msg'].startswith(f'test send failed at step tls: {reason}'), result['msg']
    assert len(result['attempts']) == 1 and not marker.exists()
    assert not server.auth_attempts and not server.messages
    nothing_after_ehlo(server.mitm)


@pytest.mark.parametrize('fault', DELIVERY_FAULTS)
def test_probe_does_not_send_mail_so_delivery_faults_pass(relay, smtp_pki, fault):
    server = relay(fault)
    rc, result = run_module('smtp_probe', {'settings': settings_for(server.endpoint), 'ca_path': smtp_pki.ca_file,
                                           'check_credentials': True, 'timeout': TIMEOUT})
    assert rc == 0 and result['results'][0]['status'] == 'pass', result['msg']
    assert not server.messages
    assert 'MAIL FROM' not in '\n'.join(result['results'][0]['transcript']).upper()


# --- truststore_cert ----------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path, smtp_pki):
    """A truststore that already trusts the company CA (alias corp-ca), made by the module itself."""
    if shutil.which('keytool') is None:
        pytest.skip('no keytool on PATH (JDK)')
    path = tmp_path / 'security' / 'truststore.p12'
    path.parent.mkdir()
    rc, result = run_module('truststore_cert', {'path': str(path), 'store_password': STOREPASS,
                                                'pem_path': smtp_pki.ca_file, 'alias': 'corp-ca', 'seed': 'none'})
    assert rc == 0 and result['changed'], result.get('msg')
    return path


TRUSTSTORE_FETCH_FAULTS = {
    'connect_421': ('banner', 'server replied 421'),
    'stall': ('banner', f'no reply within {TIMEOUT:g}s'),
    'starttls_stripped': ('policy', 'does not offer STARTTLS'),
}


@pytest.mark.parametrize('fault', list(TRUSTSTORE_FETCH_FAULTS))
def test_truststore_cannot_fetch_then_recovers(relay, store, fault):
    step, text = TRUSTSTORE_FETCH_FAULTS[fault]
    server = relay(**SMTP_FAULTS[fault][0])
    before = store.read_bytes()
    args = {'settings': settings_for(server.endpoint), 'path': str(store), 'store_password': STOREPASS,
            'timeout': TIMEOUT, 'alias': 'relay'}
    start = time.monotonic()
    rc, result = run_module('truststore_cert', args)
    assert time.monotonic() - start < 2 * TIMEOUT + 10
    no_secret(result)
    assert rc == 1 and result['failed'], result
    assert result['msg'].startswith(f'cannot fetch the certificate of 127.0.0.1:{server.endpoint} over STARTTLS'), \
        result['msg']
    assert text in result['msg'], result['msg']
    assert result['smtp_error']['step'] == step, result['smtp_error']
    assert store.read_bytes() == before
    assert sorted(p.name for p in store.parent.iterdir()) == [store.name]
    healthy = relay()
    rc, result = run_module('truststore_cert', dict(args, settings=settings_for(healthy.endpoint)))
    assert rc == 0 and result['changed'] and result['aliases'] == ['relay'], result.get('msg')
    rc, result = run_module('truststore_cert', dict(args, settings=settings_for(healthy.endpoint)))
    assert rc == 0 and not result['changed']


@pytest.mark.parametrize('cert', ['wrong_name', 'expired'])
def test_truststore_imports_what_the_server_presents_and_says_so(relay, store, smtp_pki, cert):
    """Fetching is deliberately unverified (it fetches what to trust); an expired certificate is
    imported with a warning, a wrong-name one is imported and described, and a pin refuses both."""
    server = relay(cert=cert)
    before = store.read_bytes()
    args = {'settings': settings_for(server.endpoint), 'path': str(store), 'store_password': STOREPASS,
            'timeout': TIMEOUT, 'alias': 'relay'}
    good_pin = smtp_pki.good.sha256() if callable(getattr(smtp_pki.good, 'sha256', None)) else None
    if good_pin:
        rc, result = run_module('truststore_cert', dict(args, fingerprint=good_pin))
        no_secret(result)
        assert rc == 1 and 'does not match' in result['msg'], result
        assert store.read_bytes() == before
    rc, result = run_module('truststore_cert', args)
    no_secret(result)
    assert rc == 0 and result['changed'], result.get('msg')
    if cert == 'expired':
        assert any('expired' in str(w) for w in result.get('warnings', [])), result.get('warnings')
        assert result['certificate']['days_left'] < 0
    else:
        assert '127.0.0.1' not in result['certificate']['sans'], result['certificate']


# --- DNS ----------------------------------------------------------------------------------------

def _dns_settings(nameserver: str, port: int, domain: str = 'example.test') -> dict:
    doc = settings_for(1, tls='none', dns={'nameservers': [nameserver], 'port': port})
    doc['auth'] = {'method': 'none'}
    doc['sender']['from_address'] = f'app@{domain}'
    return doc


DNS_FAULTS = {
    # id -> (domain, use the silent nameserver, expected kind, timed out)
    'servfail': ('servfail.test', False, 'dns', False),
    'timeout': ('slow.test', False, 'timeout', True),
    'dead_nameserver': ('example.test', True, 'timeout', True),
}


@pytest.mark.parametrize('fault', list(DNS_FAULTS))
def test_probe_mx_lookup_faults(dns_server_process, fault):
    domain, silent, kind, timed_out = DNS_FAULTS[fault]
    ip, port = dns_server_process.address
    if silent:
        ip, port = '127.0.0.1', dns_server_process.silent_port
    start = time.monotonic()
    rc, result = run_module('smtp_probe', {'settings': _dns_settings(ip, port, domain), 'mx_of': [domain],
                                           'timeout': TIMEOUT, 'fail_on': 'fail'})
    elapsed = time.monotonic() - start
    no_secret(result)
    assert rc == 1
    mx = [r for r in result['results'] if r.get('source') == 'mx_of' and r.get('domain') == domain]
    assert len(mx) == 1, result['results']
    error = mx[0]['errors'][0]
    assert (mx[0]['step'], error['kind'], mx[0]['timed_out']) == ('dns', kind, timed_out), mx[0]
    assert f'MX lookup for {domain}' in error['message'], error
    if fault == 'servfail':
        assert 'SERVFAIL' in error['message'] and error['transient'] is False
    assert elapsed < 2 * TIMEOUT + 5, elapsed


@pytest.mark.parametrize('fault', list(DNS_FAULTS))
def test_dns_check_faults_then_recovers(dns_server_process, fault):
    domain, silent, kind, _timed_out = DNS_FAULTS[fault]
    error_kind = 'servfail' if fault == 'servfail' else 'timeout'
    ip, port = dns_server_process.address
    bad_ip, bad_port = ('127.0.0.1', dns_server_process.silent_port) if silent else (ip, port)
    args = {'timeout': TIMEOUT, 'retries': 0, 'checks': ['sender_mx', 'dmarc']}
    start = time.monotonic()
    rc, result = run_module('dns_check', dict(args, settings=_dns_settings(bad_ip, bad_port, domain)))
    elapsed = time.monotonic() - start
    no_secret(result)
    assert rc == 1 and result.get('failed'), result
    checks = {c['check']: c for c in result['checks']}
    for name in ('sender_mx', 'dmarc'):
        assert (checks[name]['status'], checks[name]['kind']) == ('fail', error_kind), checks[name]
    assert ('SERVFAIL' if fault == 'servfail' else 'TIMED OUT') in checks['sender_mx']['message']
    assert f'sender_mx fail: sender domain {domain} could not be resolved' in result['msg'], result['msg']
    assert elapsed < 4 * TIMEOUT + 5, elapsed
    # Recovery: a healthy domain through a nameserver that answers.
    rc, result = run_module('dns_check', dict(args, checks=['sender_mx'],
                                              settings=_dns_settings(ip, port, 'example.test')))
    assert rc == 0 and {c['check']: c['status'] for c in result['checks']} == {'sender_mx': 'pass'}, result['msg']


# --- test_send ----------------------------------------------------------------------------------

# fault -> (server kwargs, step, code)
SEND_FAULTS = {
    'connect_421': ({'fault': 'connect_421'}, 'connect', 421),  # test_send reports the banner as connect
    'mail_451_once': ({'fault': 'mail_451_once'}, 'mail', 451),
    'rcpt_451_once': ({'fault': 'rcpt_451_once'}, 'rcpt', 451),
    'rcpt_550': ({'fault': 'rcpt_550'}, 'rcpt', 550),
    'data_drop': ({'fault': 'data_drop'}, 'data', None),
    'stall': ({'fault': 'stall'}, 'connect', None),
    'starttls_stripped': ({'mitm': True}, 'policy', None),
    'wrong_name': ({'cert': 'wrong_name'}, 'tls', None),
    'expired': ({'cert': 'expired'}, 'tls', None),
}


def _send(endpoint: int, marker: pathlib.Path, ca_file: str, **extra) -> tuple[int, dict]:
    args = dict({'settings': extra.pop('settings', None) or settings_for(endpoint), 'marker_path': str(marker),
                 'ca_path': ca_file,
                 'timeout': TIMEOUT, 'retries': 0, 'retry_delay': 0.1}, **extra)
    return run_module('test_send', args)


def _failure_of(result: dict) -> dict:
    """The documented failure detail of a test_send result: step, code, text, and transient from
    the last attempt."""
    attempts = result.get('attempts') or [{}]
    return {'step': result.get('step'), 'code': result.get('code'), 'text': result.get('text'),
            'transient': attempts[-1].get('transient'), 'attempts': attempts}


@pytest.mark.parametrize('fault', list(SEND_FAULTS))
def test_test_send_fails_at_the_step_writes_no_marker_then_recovers(relay, smtp_pki, tmp_path, fault):
    kwargs, step, code = SEND_FAULTS[fault]
    server = relay(**kwargs)
    marker = tmp_path / 'state' / 'test-send.json'
    marker.parent.mkdir()
    start = time.monotonic()
    rc, result = _send(server.endpoint, marker, smtp_pki.ca_file)
    elapsed = time.monotonic() - start
    no_secret(result)
    assert rc == 1 and result.get('failed'), result
    error = _failure_of(result)
    assert error['step'] == step, error
    if code is not None:
        assert error['code'] == code, error
    assert error['transient'] is (fault in ('connect_421', 'mail_451_once', 'rcpt_451_once', 'data_drop', 'stall')), error
    assert step in result['msg'], result['msg']
    # No marker and no temporary file; only the per-host fingerprint key may exist (it proves nothing).
    assert not marker.exists()
    assert sorted(p.name for p in marker.parent.iterdir()) in ([], ['fingerprint.key'])
    assert elapsed < 3 * TIMEOUT + 5, elapsed
    if fault not in ('data_drop',):
        assert not server.messages, 'no message may be accepted when the send failed'
    if fault in ('starttls_stripped', 'wrong_name', 'expired', 'connect_421', 'stall'):
        assert not server.auth_attempts, 'credentials went out on a connection that was not safe'
    if server.mitm is not None:
        assert b'AUTH' not in bytes(server.mitm.client_bytes).upper()
    # Recovery: a 451-once relay accepts the next attempt; every other fault, a healthy relay.
    again = server if fault.endswith('_451_once') else relay()
    rc, result = _send(again.endpoint, marker, smtp_pki.ca_file)
    no_secret(result)
    assert rc == 0 and result['changed'], result.get('msg')
    assert marker.exists() and CANARY not in marker.read_text()
    assert len(again.wait_for_messages(1)) >= 1
    rc, result = _send(again.endpoint, marker, smtp_pki.ca_file)
    assert rc == 0 and not result['changed'], 'the proof is fresh: no second message'


@pytest.mark.parametrize('fault, retried', [('mail_451_once', True), ('rcpt_451_once', True), ('rcpt_550', False)])
def test_test_send_retries_transient_failures_only(relay, smtp_pki, tmp_path, fault, retried):
    """451 then success inside one run (the documented retry); a 550 is not retried."""
    server = relay(fault)
    marker = tmp_path / 'test-send.json'
    rc, result = _send(server.endpoint, marker, smtp_pki.ca_file, retries=2)
    no_secret(result)
    first = result['attempts'][0]
    assert first['ok'] is False and first['code'] == (451 if retried else 550), result['attempts']
    if retried:
        assert rc == 0 and result['sent'] and len(result['attempts']) == 2 and result['attempts'][1]['ok'], result
        assert first['transient'] is True and first['retry_in'] > 0
        assert marker.exists() and len(server.wait_for_messages(1)) == 1
    else:
        assert rc == 1 and len(result['attempts']) == 1 and result['step'] == 'rcpt', result
        assert not marker.exists() and not server.messages
