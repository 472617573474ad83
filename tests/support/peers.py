"""The local peers of the demo, the molecule scenarios and the packaging tests, as one process.

Built from the other peers of this package, nothing of its own:

* the relay: smtp_server.SMTPTestServer in STARTTLS mode, AUTH PLAIN/LOGIN after TLS only, with a
  certificate for relay.demo.test / localhost / 127.0.0.1 from certs.CertificateAuthority (the CA
  in DIR/pki/ca.pem; the leaf lives 397 days, so no probe warns that it expires soon). Every
  accepted message lands in DIR/spool/NNNN.eml with its envelope in NNNN.json
  (smtp_server.Delivered.to_dict: mail_from, rcpt_tos, tls, auth, auth_login, ...);
* the DNS server: dns_server.DnsServer('demo') - dnsmasq, answered before we say we are ready;
* optionally the Bitbucket and GHES REST stand-ins (bitbucket_api, ghes_api), in threads.

In-process:  ``with Peers(directory, http=['ghes'], relay_password='pw') as peers: peers.state``.

As a command (extensions/molecule/shared/peers.py is the entry point the scenarios and
tools/demo.py run; it only puts the checkout on sys.path and calls main()):

    peers.py start --dir DIR [--http bitbucket|ghes]...   start in the background, wait, print DIR/state.json
    peers.py stop --dir DIR                               stop the process group recorded in DIR/peers.pid
    peers.py messages --dir DIR                           print the received messages

The relay user comes from MAILWRIGHT_RELAY_USER (default mailer), its password from
MAILWRIGHT_RELAY_PASSWORD, the stand-ins' from MAILWRIGHT_BITBUCKET_PASSWORD and
MAILWRIGHT_GHES_PASSWORD: never from the command line, so no process list and no state file shows
them. MAILWRIGHT_PEERS_LISTEN names one more address for the relay and the DNS server (the bridge
of hosts in network namespaces, tests/support/ssh_hosts.py); the relay's certificate covers it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import typing as t

ROOT = pathlib.Path(__file__).resolve().parents[2]
if __package__ in (None, ''):  # run as a file: import the package from the checkout, not from tests/support
    sys.path[0] = str(ROOT)

from tests.support.certs import CertificateAuthority  # noqa: E402
from tests.support.dns_server import DnsServer, DnsServerError  # noqa: E402
from tests.support.smtp_server import SMTPTestServer  # noqa: E402

__all__ = ['HTTP_PEERS', 'Peers', 'RELAY_NAME', 'main', 'running', 'start', 'stop']

RELAY_NAME = 'relay.demo.test'
RELAY_CERT_DAYS = 397
HTTP_PEERS = ('bitbucket', 'ghes')
READY_SECONDS = 30


class Peers:
    """The relay, the demo DNS zone and the HTTP stand-ins named in http, under directory."""

    def __init__(self, directory: str | pathlib.Path, *, http=(), relay_user: str = 'mailer',
                 relay_password: str = '', bitbucket_password: str = 'admin-secret',
                 ghes_password: str = 'root-admin-secret', listen: str = '127.0.0.1'):
        unknown = set(http) - set(HTTP_PEERS)
        if unknown:
            raise ValueError(f'unknown HTTP peers {sorted(unknown)}; choose from {HTTP_PEERS}')
        self.directory = pathlib.Path(directory)
        self.http = list(http)
        self.relay_user = relay_user
        self.relay_password = relay_password
        self.bitbucket_password = bitbucket_password
        self.ghes_password = ghes_password
        self.listen = listen
        self.relay: SMTPTestServer | None = None
        self.dns: DnsServer | None = None
        self.servers: list = []
        self.state: dict = {}

    @property
    def spool(self) -> pathlib.Path:
        return self.directory / 'spool'

    def start(self) -> Peers:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority(self.directory / 'pki', common_name='mailwright demo CA')
        ips = tuple(dict.fromkeys(('127.0.0.1', self.listen)))
        leaf = ca.issue('relay', dns=(RELAY_NAME, 'localhost'), ips=ips, days=RELAY_CERT_DAYS)
        self.relay = SMTPTestServer('starttls', cert=leaf, host=self.listen, credentials={self.relay_user: self.relay_password},
                                    mechanisms=['PLAIN', 'LOGIN'], maildir=str(self.spool), server_name=RELAY_NAME,
                                    ident='mailwright demo relay').start()
        self.state = {
            'pid': os.getpid(), 'smtp_host': self.relay.host, 'smtp_port': self.relay.port,
            'smtp_user': self.relay_user, 'ca_path': ca.ca_file, 'spool': str(self.spool),
            'dns_host': self.listen, 'dns_port': None,
        }
        self.dns = DnsServer('demo', workdir=str(self.directory / 'dns'),
                             also_listen=self.listen if self.listen != '127.0.0.1' else None)
        try:
            self.dns.start()  # returns once dnsmasq answers
            self.state['dns_port'] = self.dns.port
        except DnsServerError as error:
            self.dns = None
            self.state['dns_error'] = str(error)
        if 'bitbucket' in self.http:
            from tests.support.bitbucket_api import BitbucketServer

            bitbucket = BitbucketServer(username='admin', password=self.bitbucket_password)
            self.servers.append(bitbucket.start())
            self.state['bitbucket_url'] = bitbucket.url
        if 'ghes' in self.http:
            from tests.support.ghes_api import GhesServer

            ghes = GhesServer(password=self.ghes_password)
            ghes.apply_seconds = 0.05
            self.servers.append(ghes.start())
            self.state['ghes_url'] = ghes.url

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        if self.dns is not None:
            self.dns.stop()
            self.dns = None

    def __enter__(self) -> Peers:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(directory: pathlib.Path, http: list[str]) -> int:
    """Run the peers in this process until SIGTERM/SIGINT; DIR/state.json appears once they answer."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: stopped.set())
    signal.signal(signal.SIGINT, lambda *_args: stopped.set())
    peers = Peers(directory, http=http, relay_user=os.environ.get('MAILWRIGHT_RELAY_USER', 'mailer'),
                  relay_password=os.environ.get('MAILWRIGHT_RELAY_PASSWORD', ''),
                  bitbucket_password=os.environ.get('MAILWRIGHT_BITBUCKET_PASSWORD', 'admin-secret'),
                  ghes_password=os.environ.get('MAILWRIGHT_GHES_PASSWORD', 'root-admin-secret'),
                  listen=os.environ.get('MAILWRIGHT_PEERS_LISTEN') or '127.0.0.1')
    with peers:
        tmp = directory / 'state.json.tmp'
        tmp.write_text(json.dumps(peers.state, indent=2) + '\n')
        tmp.replace(directory / 'state.json')
        while not stopped.wait(0.5):
            pass
    return 0


def start(directory: pathlib.Path, http: list[str]) -> int:
    """Start `serve` as its own session in the background and wait until DIR/state.json is written."""
    stop(directory, quiet=True)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / 'state.json').unlink(missing_ok=True)
    for old in (directory / 'spool').glob('*'):
        old.unlink()
    command = [sys.executable, '-m', 'tests.support.peers', 'serve', '--dir', str(directory)]
    for name in http:
        command += ['--http', name]
    with open(directory / 'peers.log', 'ab') as log:
        # cwd: `-m` finds this package in the checkout whatever the caller's directory and PYTHONPATH.
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
    (directory / 'peers.pid').write_text(f'{process.pid}\n')
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if (directory / 'state.json').exists():
            print((directory / 'state.json').read_text(), end='')
            return 0
        if process.poll() is not None:
            break
        time.sleep(0.05)
    sys.stderr.write(f'peers did not start; see {directory / "peers.log"}\n')
    stop(directory, quiet=True)
    return 1


def stop(directory: pathlib.Path, *, quiet: bool = False) -> int:
    """SIGTERM to the recorded peers process, SIGKILL to its process group if it lingers past 5 s."""
    pid_file = directory / 'peers.pid'
    if not pid_file.exists():
        return 0
    pid = int(pid_file.read_text().strip() or 0)
    try:
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(100):
            time.sleep(0.05)
            os.kill(pid, 0)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError as error:
        if not quiet:
            sys.stderr.write(f'cannot stop {pid}: {error}\n')
    pid_file.unlink(missing_ok=True)
    return 0


def messages(directory: pathlib.Path) -> int:
    for eml in sorted((directory / 'spool').glob('*.eml')):
        envelope = json.loads(eml.with_suffix('.json').read_text())
        print(f'--- {eml.name}: from {envelope["mail_from"]} to {", ".join(envelope["rcpt_tos"])}'
              f' (TLS {envelope["tls"]}, AUTH {envelope["auth"]}) ---')
        print(eml.read_bytes().decode('utf-8', 'replace').rstrip())
    return 0


@contextlib.contextmanager
def running(directory: pathlib.Path, *, user: str, password: str) -> t.Iterator[dict]:
    """The peers started as their own process, through the script molecule and the demo use, for a
    test that runs playbooks or containers against them: yields the state (plus `_dir`)."""
    script = str(pathlib.Path(__file__).resolve().parents[2] / 'extensions' / 'molecule' / 'shared' / 'peers.py')
    env = dict(os.environ, MAILWRIGHT_RELAY_USER=user, MAILWRIGHT_RELAY_PASSWORD=password)
    started = subprocess.run([sys.executable, script, 'start', '--dir', str(directory)], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield dict(json.loads((directory / 'state.json').read_text()), _dir=directory)
    finally:
        subprocess.run([sys.executable, script, 'stop', '--dir', str(directory)], capture_output=True, timeout=60,
                       check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='peers.py', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('action', choices=['start', 'stop', 'serve', 'messages'])
    parser.add_argument('--dir', required=True, type=pathlib.Path)
    parser.add_argument('--http', action='append', default=[], choices=list(HTTP_PEERS))
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    if args.action == 'serve':
        return serve(directory, args.http)
    if args.action == 'start':
        return start(directory, args.http)
    if args.action == 'messages':
        return messages(directory)
    return stop(directory)


if __name__ == '__main__':
    sys.exit(main())
