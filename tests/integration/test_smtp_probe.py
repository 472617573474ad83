"""smtp_probe against real peers on loopback: aiosmtpd variants, silent listeners, closed ports, dnsmasq.

The module runs as its own process (tests.support.modrun), exactly as AnsiballZ would run it; the
deadline rules that need odd peers (a server that answers slowly, more targets than workers) are
exercised through probe_many directly.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._reach.probe import (
    ProbeOptions,
    Target,
    probe_many,
)
from tests.support.modrun import run_module

pytestmark = pytest.mark.integration
pytest_plugins = ['tests.support.fixtures_smtp']

CANARY = 'Canary-5ecret-Pa55'
TIMEOUT = 1.5


# --- peers that need no SMTP server ------------------------------------------------------------

class SlowServer:
    """A hand-written SMTP peer that waits `delay` seconds before every reply.

    Every single reply arrives within the per-step timeout, so only the overall deadline can stop
    a client that has several steps to go.
    """

    def __init__(self, delay: float):
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        try:
            with conn:
                conn.settimeout(10)
                time.sleep(self.delay)
                conn.sendall(b'220 slow.test ESMTP\r\n')
                reader = conn.makefile('rb')
                for line in reader:
                    time.sleep(self.delay)
                    if line.upper().startswith(b'EHLO'):
                        conn.sendall(b'250-slow.test\r\n250 SIZE 1000\r\n')
                    elif line.upper().startswith(b'QUIT'):
                        conn.sendall(b'221 bye\r\n')
                        return
                    else:
                        conn.sendall(b'502 no\r\n')
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.sock.close()


def settings(port: int, *, tls: str = 'opportunistic', protocol: str = 'smtp', password: str | None = None,
             username: str = 'probe-user', nameservers: list[str] | None = None, dns_port: int = 53) -> dict:
    doc = {'product': 'generic',
           'server': {'host': '127.0.0.1', 'port': port, 'protocol': protocol, 'tls': tls,
                      'timeout_ms': int(TIMEOUT * 1000)},
           'sender': {'from_address': 'probe@example.com'}}
    if protocol == 'smtps':
        del doc['server']['tls']
    if password is not None:
        doc['auth'] = {'method': 'basic', 'username': username, 'password': password}
    if nameservers:
        doc['dns'] = {'nameservers': nameservers, 'port': dns_port}
    return doc


def probe(args: dict, *, check_mode: bool = False) -> tuple[int, dict]:
    rc, result = run_module('smtp_probe', args, check_mode=check_mode)
    return rc, result


def only(result: dict) -> dict:
    assert len(result['results']) >= 1, result
    return result['results'][0]


# --- shared aiosmtpd peers (tests/support/fixtures_smtp.py) ---------------------------------------

@pytest.fixture
def peer(smtp_server, smtp_pki):
    """peer(mode, cert='good'|'wrong_name'|'expired'|'expiring', password=CANARY) -> a started server.

    The relay accepts user 'probe-user' with `password`; 'expiring' is a CA-signed leaf valid 10 days.
    """
    def start(mode: str, cert: str = 'good', *, password: str = CANARY, **kwargs):
        leaf = smtp_pki.ca.issue('expiring', days=10) if cert == 'expiring' else cert
        return smtp_server(mode, cert=leaf, credentials={'probe-user': password}, **kwargs)

    return start


def assert_no_canary(rc_result: tuple[int, dict]) -> None:
    text = json.dumps(rc_result[1])
    assert CANARY not in text
    assert CANARY not in rc_result[1].get('_stderr', '')


# --- silent, closed, slow ----------------------------------------------------------------------

def test_listener_that_accepts_and_never_speaks_times_out_at_the_banner(smtp_server):
    stalled = smtp_server('plain', fault='stall')
    started = time.monotonic()
    rc, result = probe({'settings': settings(stalled.port), 'timeout': TIMEOUT})
    wall = time.monotonic() - started
    assert stalled.connections == 1
    relay = only(result)
    assert rc == 1 and result['failed']
    assert (relay['status'], relay['step'], relay['timed_out']) == ('fail', 'banner', True)
    assert relay['errors'][0]['kind'] == 'timeout'
    assert relay['errors'][0]['message'] == f'no reply within {TIMEOUT:g}s'
    assert relay['connect_ms'] is not None and relay['banner'] is None
    assert TIMEOUT <= relay['elapsed_ms'] / 1000 < TIMEOUT + 1
    assert wall < TIMEOUT + 10  # plus one Python start on a possibly loaded machine
    assert 'at banner' in result['msg']


def test_closed_port_is_connection_refused(smtp_closed_port):
    rc, result = probe({'settings': settings(smtp_closed_port), 'timeout': TIMEOUT})
    relay = only(result)
    assert rc == 1
    assert (relay['status'], relay['step']) == ('fail', 'connect')
    assert relay['errors'][0]['kind'] == 'refused'
    assert 'Connection refused' in relay['errors'][0]['message']
    assert relay['elapsed_ms'] < 1000


def test_fail_on_never_reports_without_failing(smtp_closed_port):
    rc, result = probe({'settings': settings(smtp_closed_port), 'timeout': TIMEOUT, 'fail_on': 'never'})
    assert rc == 0 and not result.get('failed') and result['changed'] is False
    assert result['counts']['fail'] == 1


def test_overall_deadline_cuts_a_slow_conversation_and_names_the_step():
    # Replies come after 0.6 s, within a 1 s timeout each; banner + EHLO + QUIT need 1.8 s.
    with SlowServer(delay=0.6) as slow:
        started = time.monotonic()
        results = probe_many([Target('127.0.0.1', slow.port, name='slow')], ProbeOptions(timeout=1.0),
                             deadline=1.0)
        wall = time.monotonic() - started
    result = results[0]
    assert wall < 2.0
    assert (result['status'], result['timed_out']) == ('fail', True)
    assert result['step'] == 'ehlo'
    assert result['errors'][0] == {'step': 'ehlo', 'status': 'fail', 'code': None, 'transient': True,
                                   'kind': 'timeout', 'message': 'overall deadline of 1s reached while at step ehlo'}
    assert result['banner'] == 'slow.test ESMTP'
    assert result['transcript'][-1].startswith('* abandoned: overall deadline')


def test_module_process_ends_at_the_deadline_even_with_a_slow_peer():
    with SlowServer(delay=0.6) as slow:
        started = time.monotonic()
        rc, result = probe({'settings': settings(slow.port), 'timeout': 1.0, 'deadline': 1.0})
        wall = time.monotonic() - started
    relay = only(result)
    assert rc == 1 and relay['timed_out'] and relay['step'] == 'ehlo'
    assert relay['errors'][0]['message'] == 'overall deadline of 1s reached while at step ehlo'
    assert 'relay (127.0.0.1:' in result['msg'] and 'fail at ehlo' in result['msg']
    # The probing itself ends at the deadline; the process around it must not hang on the stuck
    # worker (the wall bound is loose: starting Python on a loaded machine takes seconds).
    assert result['elapsed_ms'] < 1500
    assert wall < 1.0 + 10


def test_targets_that_never_start_are_reported_as_queued(smtp_server):
    stalled = smtp_server('plain', fault='stall')
    targets = [Target('127.0.0.1', stalled.port) for _index in range(3)]
    started = time.monotonic()
    results = probe_many(targets, ProbeOptions(timeout=5.0), deadline=0.8, max_workers=1)
    wall = time.monotonic() - started
    assert wall < 2.0
    assert [r['step'] for r in results] == ['banner', 'queued', 'queued']
    assert all(r['timed_out'] and r['status'] == 'fail' for r in results)
    assert 'not started within the overall deadline' in results[1]['errors'][0]['message']


# --- mx_of against a real DNS server -------------------------------------------------------------

def free_udp_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def dnsmasq(tmp_path):
    """dnsmasq on a loopback high port serving the probe.test zone."""
    binary = shutil.which('dnsmasq') or ('/usr/sbin/dnsmasq' if os.path.exists('/usr/sbin/dnsmasq') else None)
    if binary is None:
        pytest.skip('dnsmasq is not installed (Debian package dnsmasq-base)')
    port = free_udp_port()
    conf = tmp_path / 'dnsmasq.conf'
    conf.write_text('\n'.join([
        f'port={port}', 'listen-address=127.0.0.1', 'bind-interfaces', 'no-resolv', 'no-hosts',
        'local=/test/', 'user=root',
        'mx-host=probe.test,mail.probe.test,10',
        'mx-host=probe.test,backup.probe.test,20',
        'host-record=mail.probe.test,127.0.0.1',
        'host-record=backup.probe.test,127.0.0.1',
        'host-record=implicit.test,127.0.0.1',
        'mx-host=noaddress.test,ghost.noaddress.test,10',
    ]) + '\n')
    proc = subprocess.Popen([binary, '--keep-in-foreground', f'--conf-file={conf}',
                             f'--pid-file={tmp_path / "dnsmasq.pid"}'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ['127.0.0.1'], port, 0.5
    for _attempt in range(50):
        try:
            resolver.resolve('mail.probe.test', 'A')
            break
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f'dnsmasq exited: {proc.stdout.read().decode()}') from None
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(5)


def test_mx_of_probes_each_mx_host_found_through_the_configured_nameserver(dnsmasq):
    with SlowServer(delay=0) as relay, SlowServer(delay=0) as mx:
        rc, result = probe({'settings': settings(relay.port, nameservers=['127.0.0.1'], dns_port=dnsmasq),
                            'mx_of': ['probe.test', 'implicit.test', 'nothere.test', 'noaddress.test'],
                            'mx_port': mx.port, 'timeout': TIMEOUT, 'fail_on': 'never'})
    assert rc == 0, result
    by_target = {r['target']: r for r in result['results']}
    first, second = by_target['mx:probe.test:mail.probe.test'], by_target['mx:probe.test:backup.probe.test']
    assert (first['preference'], second['preference']) == (10, 20)
    assert (first['source'], first['domain'], first['address'], first['port']) == \
        ('mx_of', 'probe.test', '127.0.0.1', mx.port)
    # the slow server offers no STARTTLS: reachable, but mail would go in plaintext
    assert first['status'] == 'warn' and first['banner'] == 'slow.test ESMTP'
    assert by_target['mx:implicit.test:implicit.test']['status'] == 'warn'  # RFC 5321 implicit MX
    missing = by_target['mx:nothere.test']
    assert (missing['status'], missing['step'], missing['errors'][0]['kind']) == ('fail', 'dns', 'dns')
    assert 'NXDOMAIN' in missing['errors'][0]['message']
    ghost = by_target['mx:noaddress.test']
    assert 'ghost.noaddress.test' in ghost['errors'][0]['message'] and 'no A/AAAA' in ghost['errors'][0]['message']
    assert result['results'][0]['target'] == 'relay'


# --- TLS and AUTH against aiosmtpd -------------------------------------------------------------

def test_starttls_offered_and_verified_against_ca_path_passes(peer, smtp_pki):
    server = peer('starttls')
    rc, result = probe({'settings': settings(server.port, tls='required'), 'ca_path': smtp_pki.ca_file})
    relay = only(result)
    assert rc == 0 and result['changed'] is False, result['msg']
    assert (relay['status'], relay['step'], relay['errors'], relay['warnings']) == ('pass', 'quit', [], [])
    assert relay['starttls_offered'] is True
    assert relay['tls']['established'] and relay['tls']['verified'] and relay['tls']['version'].startswith('TLSv1.')
    assert relay['tls']['cipher'] and relay['tls']['bits'] >= 128
    assert relay['certificate']['sans'] == ['localhost', 'mail.test', '127.0.0.1', '::1']
    assert 88 <= relay['certificate']['days_left'] <= 90
    assert relay['certificate']['issuer'] == 'CN=mailwright test CA'
    assert len(relay['chain']) == 2 and relay['chain'][1]['is_ca']
    # the EHLO after STARTTLS: what the application will use
    assert {'SIZE', '8BITMIME', 'SMTPUTF8', 'AUTH'} <= set(relay['extensions'])
    assert relay['size_limit'] == 33554432
    assert relay['connect_ms'] is not None and relay['banner']
    assert any(line.startswith('* TLS established') for line in relay['transcript'])


def test_ipv6_relay_is_verified_against_its_ip_address(peer, smtp_pki):
    server = peer('starttls', host='::1')
    doc = settings(server.port, tls='required')
    doc['server']['host'] = '::1'
    rc, result = probe({'settings': doc, 'ca_path': smtp_pki.ca_file})
    relay = only(result)
    assert rc == 0, result['msg']
    assert (relay['host'], relay['status'], relay['tls']['verified']) == ('::1', 'pass', True)


@pytest.mark.parametrize('mechanisms', [['PLAIN', 'LOGIN', 'XOAUTH2'], ['LOGIN']])
def test_auth_mechanisms_are_the_ones_offered_after_starttls(peer, smtp_pki, mechanisms):
    server = peer('starttls', mechanisms=mechanisms)
    rc, result = probe({'settings': settings(server.port, tls='required'), 'ca_path': smtp_pki.ca_file})
    relay = only(result)
    assert rc == 0
    assert sorted(relay['auth_mechanisms']) == sorted(mechanisms)
    # before TLS this server hides AUTH: the first EHLO in the transcript has none
    first_ehlo = relay['transcript'][relay['transcript'].index('C: STARTTLS') - 1::-1]
    assert not any('AUTH' in line for line in first_ehlo)


def test_system_cas_do_not_trust_a_private_ca(peer):
    server = peer('starttls')
    rc, result = probe({'settings': settings(server.port, tls='required')})
    relay = only(result)
    assert rc == 1 and (relay['status'], relay['step']) == ('fail', 'tls')
    assert relay['errors'][0]['kind'] == 'certificate'
    # the relay sends its private root along: OpenSSL names that root as the problem
    assert 'self-signed certificate in certificate chain' in relay['errors'][0]['message']
    assert relay['certificate']['issuer'] == 'CN=mailwright test CA'  # read again to show it


def test_no_starttls_with_tls_required_fails_before_anything_is_sent(peer):
    server = peer('plain')
    rc, result = probe({'settings': settings(server.port, tls='required', password=CANARY),
                        'check_credentials': True})
    relay = only(result)
    assert rc == 1
    assert (relay['status'], relay['step'], relay['errors'][0]['kind']) == ('fail', 'policy', 'policy')
    assert 'does not offer STARTTLS and tls is required' in relay['errors'][0]['message']
    assert not any(line.startswith('C: AUTH') or line.startswith('C: MAIL') for line in relay['transcript'])
    assert server.auth_attempts == []
    assert relay['credentials']['ok'] is None


def test_no_starttls_with_tls_opportunistic_warns(peer):
    server = peer('plain')
    rc, result = probe({'settings': settings(server.port, tls='opportunistic')})
    relay = only(result)
    assert rc == 0
    assert relay['status'] == 'warn' and relay['step'] == 'quit'
    assert 'does not offer STARTTLS' in relay['warnings'][0]['message']
    assert relay['tls']['established'] is False and relay['certificate'] is None
    assert 'does not offer STARTTLS' in json.dumps(result['warnings'])


def test_opportunistic_credential_check_without_starttls_fails_at_tls_before_auth(peer):
    # The relay offers AUTH in clear and would accept the password: only mailwright's rule stops it.
    server = peer('plain', auth_require_tls=False)
    outcome = probe({'settings': settings(server.port, tls='opportunistic', password=CANARY),
                     'check_credentials': True})
    rc, result = outcome
    relay = only(result)
    assert rc == 1 and (relay['status'], relay['step']) == ('fail', 'tls'), relay
    error = relay['errors'][0]
    assert (error['step'], error['kind'], error['code'], error['transient']) == ('tls', 'policy', None, False)
    assert error['message'].startswith('the server does not offer STARTTLS, and tls is opportunistic')
    assert 'would send the password in clear' in error['message'] and 'server.tls: required' in error['message']
    assert relay['credentials']['checked'] and relay['credentials']['ok'] is None
    assert 'PLAIN' in relay['auth_mechanisms']
    assert not any(line.startswith('C: AUTH') for line in relay['transcript'])
    # what the server read: EHLO and nothing after it, no secret
    assert [line.split()[0] for line in server.commands()] == ['EHLO'], server.commands()
    assert CANARY.encode() not in bytes(server.received) and server.auth_attempts == []
    assert_no_canary(outcome)


def test_opportunistic_without_starttls_and_a_password_is_a_policy_failure_without_a_credential_check(peer):
    server = peer('plain', auth_require_tls=False)
    rc, result = probe({'settings': settings(server.port, tls='opportunistic', password=CANARY)})
    relay = only(result)
    assert rc == 1 and (relay['status'], relay['step']) == ('fail', 'tls'), relay
    assert (relay['errors'][0]['step'], relay['errors'][0]['kind']) == ('tls', 'policy')
    assert 'would send the password in clear' in relay['errors'][0]['message']
    assert 'fail at tls' in result['msg'] and relay['credentials']['checked'] is False
    assert server.auth_attempts == [] and CANARY.encode() not in bytes(server.received)


def test_fail_on_warn_fails_the_task_for_a_warning(peer):
    server = peer('plain')
    rc, result = probe({'settings': settings(server.port, tls='opportunistic'), 'fail_on': 'warn'})
    assert rc == 1 and result['failed'] and 'warn at quit' in result['msg']


def test_smtps_passes_with_tls_from_the_first_byte(peer, smtp_pki):
    server = peer('smtps')
    rc, result = probe({'settings': settings(server.port, protocol='smtps'), 'ca_path': smtp_pki.ca_file})
    relay = only(result)
    assert rc == 0, result['msg']
    assert (relay['status'], relay['protocol'], relay['tls_policy']) == ('pass', 'smtps', 'required')
    assert relay['tls']['established'] and relay['tls']['verified']
    assert relay['starttls_offered'] is False
    # TLS comes before the banner on SMTPS
    lines = relay['transcript']
    assert lines.index(next(line for line in lines if line.startswith('* TLS established'))) < \
        lines.index(next(line for line in lines if line.startswith('S: 220')))


def test_credential_check_good_password_never_shown(peer, smtp_pki):
    server = peer('starttls')
    outcome = probe({'settings': settings(server.port, tls='required', password=CANARY),
                     'check_credentials': True, 'ca_path': smtp_pki.ca_file})
    rc, result = outcome
    relay = only(result)
    assert rc == 0, result['msg']
    assert relay['credentials'] == {'checked': True, 'ok': True, 'username': 'probe-user', 'mechanism': 'PLAIN',
                                    'text': relay['credentials']['text']}
    assert relay['credentials']['text'].startswith('235')
    assert 'C: AUTH PLAIN ********' in relay['transcript']
    assert not any(line.startswith('C: MAIL') for line in relay['transcript'])  # no mail is sent
    assert server.auth_attempts == [{'mechanism': 'PLAIN', 'login': 'probe-user', 'ok': True, 'tls': True}]
    assert_no_canary(outcome)


def test_credential_check_bad_password_fails_at_auth_and_is_never_shown(peer, smtp_pki):
    server = peer('starttls', password='the-right-one')
    outcome = probe({'settings': settings(server.port, tls='required', password=CANARY),
                     'check_credentials': True, 'ca_path': smtp_pki.ca_file})
    rc, result = outcome
    relay = only(result)
    assert rc == 1
    assert (relay['status'], relay['step'], relay['errors'][0]['kind']) == ('fail', 'auth', 'auth')
    assert relay['errors'][0]['code'] == 535
    assert relay['credentials']['ok'] is False
    assert 'C: AUTH PLAIN ********' in relay['transcript']
    assert_no_canary(outcome)


@pytest.mark.parametrize('token,ok', [(CANARY, True), (CANARY + '-expired', False)])
def test_oauth2_credential_check_uses_xoauth2_and_hides_the_token(smtp_server, smtp_pki, token, ok):
    server = smtp_server('starttls', tokens={'probe-user': CANARY})
    doc = settings(server.port, tls='required')
    doc['auth'] = {'method': 'oauth2', 'username': 'probe-user', 'oauth2': {'provider': 'google', 'token': token}}
    outcome = probe({'settings': doc, 'check_credentials': True, 'ca_path': smtp_pki.ca_file})
    rc, result = outcome
    relay = only(result)
    assert (rc == 0) is ok
    assert relay['credentials']['ok'] is ok
    assert 'C: AUTH XOAUTH2 ********' in relay['transcript']
    assert server.auth_attempts == [{'mechanism': 'XOAUTH2', 'login': 'probe-user', 'ok': ok, 'tls': True}]
    assert_no_canary(outcome)


def test_credentials_are_not_sent_in_plaintext_when_starttls_is_offered(peer, smtp_pki):
    server = peer('starttls')
    outcome = probe({'settings': settings(server.port, tls='none', password=CANARY), 'check_credentials': True})
    rc, result = outcome
    relay = only(result)
    assert rc == 1
    assert (relay['step'], relay['errors'][0]['kind']) == ('policy', 'policy')
    assert 'refusing to send credentials over an unencrypted connection' in relay['errors'][0]['message']
    assert server.auth_attempts == []
    assert_no_canary(outcome)


def test_credentials_are_not_sent_when_the_certificate_fails(peer):
    server = peer('starttls', 'wrong_name')
    outcome = probe({'settings': settings(server.port, tls='required', password=CANARY), 'check_credentials': True})
    assert outcome[0] == 1 and only(outcome[1])['step'] == 'tls'
    assert server.auth_attempts == []
    assert_no_canary(outcome)


def test_check_mode_probes_and_checks_credentials_too(peer, smtp_pki):
    server = peer('starttls')
    rc, result = probe({'settings': settings(server.port, tls='required', password=CANARY),
                        'check_credentials': True, 'ca_path': smtp_pki.ca_file}, check_mode=True)
    assert rc == 0 and result['changed'] is False
    assert only(result)['credentials']['ok'] is True and len(server.auth_attempts) == 1


@pytest.mark.parametrize('protocol', ['smtp', 'smtps'])
def test_wrong_name_certificate_fails_with_the_names_it_has(peer, smtp_pki, protocol):
    server = peer('smtps' if protocol == 'smtps' else 'starttls', 'wrong_name')
    rc, result = probe({'settings': settings(server.port, protocol=protocol, tls='required'),
                        'ca_path': smtp_pki.ca_file})
    relay = only(result)
    assert rc == 1 and (relay['status'], relay['step']) == ('fail', 'tls')
    texts = [e['message'] for e in relay['errors']]
    assert 'certificate verification failed' in texts[0] and "'127.0.0.1'" in texts[0]
    assert "the certificate does not name '127.0.0.1': it is for wrong-name.example.test" in texts
    assert relay['certificate']['sans'] == ['wrong-name.example.test']
    assert all(e['kind'] == 'certificate' for e in relay['errors'])


def test_expired_certificate_fails_with_its_date(peer, smtp_pki):
    server = peer('starttls', 'expired')
    rc, result = probe({'settings': settings(server.port, tls='required'), 'ca_path': smtp_pki.ca_file})
    relay = only(result)
    assert rc == 1 and relay['step'] == 'tls'
    texts = ' | '.join(e['message'] for e in relay['errors'])
    assert 'certificate has expired' in texts
    assert f'the certificate expired on {relay["certificate"]["not_after"]}' in texts
    assert relay['certificate']['days_left'] < 0


def test_expired_certificate_only_warns_without_validation(peer):
    server = peer('starttls', 'expired')
    rc, result = probe({'settings': settings(server.port, tls='required'), 'validate_certs': False})
    relay = only(result)
    assert rc == 0 and relay['status'] == 'warn' and relay['tls']['established']
    assert relay['tls']['verified'] is False
    assert any('expired on' in w['message'] for w in relay['warnings'])


def test_certificate_expiring_soon_warns(peer, smtp_pki):
    server = peer('starttls', 'expiring')
    rc, result = probe({'settings': settings(server.port, tls='required'), 'ca_path': smtp_pki.ca_file,
                        'expiry_warning_days': 30})
    relay = only(result)
    assert rc == 0 and relay['status'] == 'warn'
    assert 'expires in' in relay['warnings'][0]['message'] and relay['certificate']['days_left'] <= 10


def test_extra_targets_never_get_credentials(peer, smtp_pki):
    relay_server, other = peer('starttls'), peer('starttls')
    rc, result = probe({'settings': settings(relay_server.port, tls='required', password=CANARY),
                        'targets': [{'host': '127.0.0.1', 'port': other.port, 'tls': 'required', 'name': 'other'}],
                        'check_credentials': True, 'ca_path': smtp_pki.ca_file})
    assert rc == 0, result['msg']
    assert [r['target'] for r in result['results']] == ['relay', 'other']
    assert len(relay_server.auth_attempts) == 1 and other.auth_attempts == []
    assert result['results'][1]['credentials']['checked'] is False


# --- the fan-out --------------------------------------------------------------------------------

def test_forty_targets_with_twenty_silent_finish_within_two_timeouts(peer, smtp_server):
    servers = [peer('plain') for _index in range(4)]
    silent = [smtp_server('plain', fault='stall') for _index in range(20)]
    targets = [{'host': '127.0.0.1', 'port': servers[index % 4].port, 'name': f'real-{index}'} for index in range(19)]
    targets += [{'host': '127.0.0.1', 'port': server.port, 'name': f'silent-{server.port}'} for server in silent]
    started = time.monotonic()
    rc, result = probe({'settings': settings(servers[0].port), 'targets': targets, 'timeout': TIMEOUT,
                        'fail_on': 'never'})
    wall = time.monotonic() - started
    assert all(server.connections == 1 for server in silent)
    assert rc == 0
    results = result['results']
    assert len(results) == 40
    silent_results = [r for r in results if r['target'].startswith('silent-')]
    assert len(silent_results) == 20
    assert all((r['status'], r['step'], r['timed_out']) == ('fail', 'banner', True) for r in silent_results)
    assert all(r['status'] == 'warn' and r['step'] == 'quit' for r in results if r not in silent_results)
    assert result['elapsed_ms'] < 2 * TIMEOUT * 1000
    assert wall < 2 * TIMEOUT + 10  # plus one Python process start, slow on a loaded machine


def test_mx_lookups_against_a_silent_nameserver_cost_one_timeout_together():
    mute = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # receives queries, never answers
    mute.bind(('127.0.0.1', 0))
    try:
        with SlowServer(delay=0) as relay:
            started = time.monotonic()
            rc, result = probe({'settings': settings(relay.port, nameservers=['127.0.0.1'],
                                                     dns_port=mute.getsockname()[1]),
                                'mx_of': ['one.test', 'two.test', 'three.test'], 'timeout': 1.0, 'deadline': 3.0,
                                'fail_on': 'never'})
            wall = time.monotonic() - started
    finally:
        mute.close()
    assert rc == 0
    lookups = [r for r in result['results'] if r['source'] == 'mx_of']
    assert [r['target'] for r in lookups] == ['mx:one.test', 'mx:two.test', 'mx:three.test']
    for lookup in lookups:
        assert (lookup['step'], lookup['timed_out'], lookup['errors'][0]['kind']) == ('dns', True, 'timeout')
        assert lookup['errors'][0]['message'] == f'MX lookup for {lookup["domain"]} timed out after 1s'
    assert result['results'][0]['status'] == 'warn'  # the relay was still probed
    assert result['elapsed_ms'] < 1800 and wall < 1.0 + 10
