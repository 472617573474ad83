"""Local peers for the molecule scenarios and `make demo`: one background process on loopback.

    peers.py start --dir DIR [--http bitbucket|ghes]...   start, wait until ready, print DIR/state.json
    peers.py stop --dir DIR                               stop the process group recorded in DIR/peers.pid
    peers.py messages --dir DIR                           print the received messages

What runs (all on 127.0.0.1, ports picked free at start, written to DIR/state.json):

* an SMTP relay (aiosmtpd) offering STARTTLS and AUTH PLAIN/LOGIN after TLS, with a certificate
  signed by a private CA made with cryptography (DIR/pki/ca.pem). The relay password comes from
  the environment variable MAILWRIGHT_RELAY_PASSWORD (never from the command line, so it shows in
  no process list and no state file). Every accepted message is written to DIR/spool/<n>.eml with
  its envelope in DIR/spool/<n>.json.
* dnsmasq serving the zone `demo.test` / `example.test` (A, MX, SPF, DMARC, GHES reply records).
* optionally the Bitbucket and GHES REST stand-ins from tests/support (HTTP, in threads).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
# The certificates and the HTTP stand-ins come from tests/support, whatever the caller's cwd.
sys.path.insert(0, str(ROOT))
RELAY_USER = os.environ.get('MAILWRIGHT_RELAY_USER', 'mailer')
DNS_ZONE_RECORDS = [
    # the relay by name, so settings may use a name instead of 127.0.0.1
    'host-record=relay.demo.test,127.0.0.1',
    # sender domain of every scenario: MX, SPF authorising the loopback relay, DMARC
    'mx-host=example.test,relay.demo.test,10',
    'txt-record=example.test,"v=spf1 ip4:127.0.0.0/8 -all"',
    'txt-record=_dmarc.example.test,"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"',
    # GHES reply records for github.example.test
    'host-record=github.example.test,127.0.0.1',
    'host-record=reply.github.example.test,127.0.0.1',
    'mx-host=reply.github.example.test,github.example.test,10',
    'mx-host=noreply.github.example.test,github.example.test,10',
]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def make_pki(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """CA + relay certificate (leaf, then the CA) for relay.demo.test / localhost / 127.0.0.1."""
    from tests.support.certs import CertificateAuthority

    ca = CertificateAuthority(directory, common_name='mailwright demo CA')
    relay = ca.issue('relay', dns=('relay.demo.test', 'localhost'), ips=('127.0.0.1',), days=365)
    return pathlib.Path(ca.ca_file), pathlib.Path(relay.cert_file), pathlib.Path(relay.key_file)


class SpoolHandler:
    """aiosmtpd handler: keep every message as a file."""

    def __init__(self, spool: pathlib.Path):
        self.spool = spool
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            number = len(list(self.spool.glob('*.eml'))) + 1
            stem = self.spool / f'{number:04d}'
            stem.with_suffix('.eml').write_bytes(envelope.original_content or envelope.content)
            stem.with_suffix('.json').write_text(json.dumps({
                'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos,
                'tls': bool(getattr(server, '_tls_protocol', None)),
                'auth': bool(getattr(session, 'authenticated', False)),
                'received': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            }))
        return '250 OK queued as mailwright-demo'


def serve(directory: pathlib.Path, http: list[str]) -> int:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    password = os.environ.get('MAILWRIGHT_RELAY_PASSWORD', '').encode()
    spool = directory / 'spool'
    spool.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = make_pki(directory / 'pki')
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_path), str(key_path))

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == RELAY_USER.encode() and auth_data.password == password
        return AuthResult(success=ok, handled=False)

    smtp_port = free_port()
    controller = Controller(SpoolHandler(spool), hostname='127.0.0.1', port=smtp_port, tls_context=context,
                            authenticator=authenticator, auth_require_tls=True, require_starttls=False,
                            server_hostname='relay.demo.test', ident='mailwright demo relay')
    controller.start()

    dns_port = free_port(socket.SOCK_DGRAM)
    conf = directory / 'dnsmasq.conf'
    conf.write_text('\n'.join([
        f'port={dns_port}', 'listen-address=127.0.0.1', 'bind-interfaces', 'no-resolv', 'no-hosts',
        'local=/test/', 'user=root', *DNS_ZONE_RECORDS]) + '\n')
    binary = shutil.which('dnsmasq') or '/usr/sbin/dnsmasq'
    dnsmasq = subprocess.Popen([binary, '--keep-in-foreground', f'--conf-file={conf}'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    state: dict = {
        'pid': os.getpid(), 'smtp_host': '127.0.0.1', 'smtp_port': smtp_port, 'smtp_user': RELAY_USER,
        'ca_path': str(ca_path), 'spool': str(spool), 'dns_port': dns_port, 'dns_host': '127.0.0.1',
    }
    servers = []
    if 'bitbucket' in http:
        from tests.support.bitbucket_api import BitbucketServer
        bitbucket = BitbucketServer(username='admin', password=os.environ.get('MAILWRIGHT_BITBUCKET_PASSWORD', 'admin-secret'))
        servers.append(bitbucket.start())
        state['bitbucket_url'] = bitbucket.url
    if 'ghes' in http:
        from tests.support.ghes_api import GhesServer
        ghes = GhesServer(password=os.environ.get('MAILWRIGHT_GHES_PASSWORD', 'root-admin-secret'))
        ghes.apply_seconds = 0.05
        servers.append(ghes.start())
        state['ghes_url'] = ghes.url

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())
    signal.signal(signal.SIGINT, lambda *_args: stop.set())
    # wait for dnsmasq to answer before saying we are ready
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and dnsmasq.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.2)
            query = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04demo\x04test\x00\x00\x01\x00\x01'
            try:
                probe.sendto(query, ('127.0.0.1', dns_port))
                probe.recv(512)
                break
            except OSError:
                time.sleep(0.05)
    if dnsmasq.poll() is not None:
        state['dns_error'] = f'dnsmasq exited with {dnsmasq.returncode}'
    tmp = directory / 'state.json.tmp'
    tmp.write_text(json.dumps(state, indent=2) + '\n')
    tmp.replace(directory / 'state.json')
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for server in servers:
            server.stop()
        controller.stop()
        dnsmasq.terminate()
        try:
            dnsmasq.wait(5)
        except subprocess.TimeoutExpired:
            dnsmasq.kill()
    return 0


def start(directory: pathlib.Path, http: list[str]) -> int:
    stop(directory, quiet=True)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / 'state.json').unlink(missing_ok=True)
    for old in (directory / 'spool').glob('*'):
        old.unlink()
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), 'serve', '--dir', str(directory)]
    for name in http:
        command += ['--http', name]
    with open(directory / 'peers.log', 'ab') as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (directory / 'peers.pid').write_text(f'{process.pid}\n')
    deadline = time.monotonic() + 30
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('action', choices=['start', 'stop', 'serve', 'messages'])
    parser.add_argument('--dir', required=True, type=pathlib.Path)
    parser.add_argument('--http', action='append', default=[], choices=['bitbucket', 'ghes'])
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
