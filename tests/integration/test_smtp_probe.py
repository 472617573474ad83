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

from ansible_collections.mailwright.smtp.plugins.module_utils._probe import (
    ProbeOptions,
    Target,
    probe_many,
)
from tests.support.modrun import run_module

pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
TIMEOUT = 1.5


# --- peers that need no SMTP server ------------------------------------------------------------

class SilentListeners:
    """Listening sockets that never accept: the kernel completes the handshake, no banner comes."""

    def __init__(self, count: int = 1):
        self.sockets = []
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(('127.0.0.1', 0))
            sock.listen(16)
            self.sockets.append(sock)
        self.ports = [s.getsockname()[1] for s in self.sockets]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for sock in self.sockets:
            sock.close()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


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


# --- no SMTP server needed ---------------------------------------------------------------------

def test_silent_listener_times_out_at_the_banner():
    with SilentListeners() as silent:
        started = time.monotonic()
        rc, result = probe({'settings': settings(silent.ports[0]), 'timeout': TIMEOUT})
        wall = time.monotonic() - started
    relay = only(result)
    assert rc == 1 and result['failed']
    assert (relay['status'], relay['step'], relay['timed_out']) == ('fail', 'banner', True)
    assert relay['errors'][0]['kind'] == 'timeout'
    assert relay['errors'][0]['text'] == f'no reply within {TIMEOUT:g}s'
    assert relay['connect_ms'] is not None and relay['banner'] is None
    assert TIMEOUT <= relay['elapsed_ms'] / 1000 < TIMEOUT + 1
    assert wall < TIMEOUT + 5
    assert 'at banner' in result['msg']


def test_closed_port_is_connection_refused():
    rc, result = probe({'settings': settings(closed_port()), 'timeout': TIMEOUT})
    relay = only(result)
    assert rc == 1
    assert (relay['status'], relay['step']) == ('fail', 'connect')
    assert relay['errors'][0]['kind'] == 'refused'
    assert 'Connection refused' in relay['errors'][0]['text']
    assert relay['elapsed_ms'] < 1000


def test_fail_on_never_reports_without_failing():
    rc, result = probe({'settings': settings(closed_port()), 'timeout': TIMEOUT, 'fail_on': 'never'})
    assert rc == 0 and not result.get('failed') and result['changed'] is False
    assert result['summary']['fail'] == 1


def test_overall_deadline_cuts_a_slow_conversation_and_names_the_step():
    # Replies come after 0.6 s, within a 1 s timeout each; banner + EHLO + QUIT need 1.8 s.
    with SlowServer(delay=0.6) as slow:
        started = time.monotonic()
        results = probe_many([Target('127.0.0.1', slow.port, name='slow')], ProbeOptions(timeout=1.0),
                             deadline=1.0)
        wall = time.monotonic() - started
    result = results[0]
    assert wall < 1.5
    assert (result['status'], result['timed_out']) == ('fail', True)
    assert result['step'] == 'ehlo'
    assert result['errors'][0] == {'step': 'ehlo', 'code': None, 'transient': True, 'kind': 'timeout',
                                   'text': 'overall deadline of 1s reached while at step ehlo'}
    assert result['banner'] == 'slow.test ESMTP'
    assert result['transcript'][-1].startswith('* abandoned: overall deadline')


def test_targets_that_never_start_are_reported_as_queued():
    with SilentListeners(3) as silent:
        targets = [Target('127.0.0.1', port) for port in silent.ports]
        started = time.monotonic()
        results = probe_many(targets, ProbeOptions(timeout=5.0), deadline=0.8, max_workers=1)
        wall = time.monotonic() - started
    assert wall < 1.5
    assert [r['step'] for r in results] == ['banner', 'queued', 'queued']
    assert all(r['timed_out'] and r['status'] == 'fail' for r in results)
    assert 'not started within the overall deadline' in results[1]['errors'][0]['text']


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
                raise RuntimeError(f'dnsmasq exited: {proc.stdout.read().decode()}')
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
    assert 'NXDOMAIN' in missing['errors'][0]['text']
    ghost = by_target['mx:noaddress.test']
    assert 'ghost.noaddress.test' in ghost['errors'][0]['text'] and 'no A/AAAA' in ghost['errors'][0]['text']
    assert result['results'][0]['target'] == 'relay'
