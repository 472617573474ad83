"""Managed hosts over real SSH on this machine: one network namespace per host, each with its own sshd.

Why namespaces and not containers: measured on a 2-core machine, 50 namespaces with an sshd each
start in 1 to 3 s, where one rootful Podman container (runc) takes 0.7 to 3.3 s to run `true` -
about a minute for 50, after building an image with sshd and the collection's pip dependencies.
What the benchmark and the molecule scenario need from a "host" is its own address, its own sshd
and an SSH connection that Ansible must open, multiplex and ship modules over: a namespace has that.
The hosts share this machine's file system, so their Python (the venv of the controller, with the
collection's pip dependencies) and each host's own sandbox root are plain paths.

Layout: a bridge with the first address of a random 10.x.y.0/24 (the controller side: the relay
and the DNS server listen there, so every host reaches them), one veth pair per host into its
namespace, sshd on <host address>:22 inside. Names carry a random token, keys live in a private
temp directory (0700): a client key for root (authorized_keys) and one host key.

Everything is torn down by stop() - the processes of each namespace (sshd and its sessions), the
namespaces (their veth ends go with them), the bridge, the key directory - also after a failed
start; the benchmark calls it in `finally`, the molecule scenario in its destroy playbook.

In-process:  ``with SSHFleet(50) as fleet: fleet.hosts`` (name -> address), ``fleet.ssh_vars``.
As a command (the molecule scenario):

    ssh_hosts.py up --count N --state FILE     start, write FILE (JSON: hosts, bridge, key, names)
    ssh_hosts.py down --state FILE             tear down what FILE records (quiet if it is gone)
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t

__all__ = ['SSHFleet', 'ssh_available', 'main']

SSHD = '/usr/sbin/sshd'
IP = shutil.which('ip') or '/usr/sbin/ip'
READY_SECONDS = 20

SSHD_CONFIG = """\
ListenAddress {address}:22
HostKey {keydir}/host_ed25519
AuthorizedKeysFile {keydir}/authorized_keys
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
LogLevel ERROR
Subsystem sftp internal-sftp
"""


def ssh_available() -> str | None:
    """None when hosts can be had here, else why not (for a skip or the benchmark's note)."""
    if os.geteuid() != 0:
        return 'network namespaces need root'
    for tool in (SSHD, IP, shutil.which('ssh-keygen') or '', shutil.which('ssh') or ''):
        if not tool or not os.access(tool, os.X_OK):
            return f'{tool or "ssh/ssh-keygen"} not found: install the Debian packages openssh-server, openssh-client'
    return None


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run([IP, '-4', '-o', 'addr'], capture_output=True, text=True, check=False).stdout
    used += subprocess.run([IP, '-4', 'route'], capture_output=True, text=True, check=False).stdout
    for _attempt in range(50):
        net = ipaddress.ip_network(f'10.{secrets.randbelow(150) + 100}.{secrets.randbelow(254) + 1}.0/24')
        if f'{str(net.network_address)[:-1]}' not in used:
            return net
    raise RuntimeError('no free 10.x.y.0/24 for the SSH fleet bridge')


class SSHFleet:
    """count hosts named prefix001... reachable over SSH as root; see the module docstring."""

    def __init__(self, count: int, *, prefix: str = 'app'):
        if not 1 <= count <= 250:
            raise ValueError('between 1 and 250 hosts')
        self.count = count
        self.prefix = prefix
        self.token = secrets.token_hex(3)
        self.bridge = f'mw{self.token}br'
        self.keydir = pathlib.Path(tempfile.mkdtemp(prefix='mailwright-ssh-'))  # 0700
        self.network: ipaddress.IPv4Network | None = None
        self.bridge_ip = ''
        self.hosts: dict[str, str] = {}
        self.namespaces: list[str] = []
        self._procs: list[subprocess.Popen] = []

    @property
    def key_file(self) -> str:
        return str(self.keydir / 'id_ed25519')

    @property
    def ssh_vars(self) -> dict[str, t.Any]:
        """The connection variables of every host (group vars), host keys not pinned: throwaway hosts."""
        return {
            'ansible_connection': 'ssh',
            'ansible_user': 'root',
            'ansible_ssh_private_key_file': self.key_file,
            'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                                       '-o LogLevel=ERROR',
            'ansible_python_interpreter': sys.executable,
        }

    def start(self) -> SSHFleet:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        keygen = shutil.which('ssh-keygen') or 'ssh-keygen'
        _run(keygen, '-q', '-t', 'ed25519', '-N', '', '-C', 'mailwright-fleet', '-f', self.key_file)
        _run(keygen, '-q', '-t', 'ed25519', '-N', '', '-C', 'mailwright-fleet-host', '-f',
             str(self.keydir / 'host_ed25519'))
        shutil.copyfile(self.key_file + '.pub', self.keydir / 'authorized_keys')
        pathlib.Path('/run/sshd').mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.network = _free_subnet()
        addresses = list(self.network.hosts())
        self.bridge_ip = str(addresses[0])
        _run(IP, 'link', 'add', self.bridge, 'type', 'bridge')
        _run(IP, 'addr', 'add', f'{self.bridge_ip}/24', 'dev', self.bridge)
        _run(IP, 'link', 'set', self.bridge, 'up')
        for index in range(1, self.count + 1):
            name = f'{self.prefix}{index:03d}'
            namespace = f'mw{self.token}{name}'
            outside, inside = f'mw{self.token}v{index}', f'mw{self.token}p{index}'
            address = str(addresses[index])
            _run(IP, 'netns', 'add', namespace)
            self.namespaces.append(namespace)
            _run(IP, 'link', 'add', outside, 'type', 'veth', 'peer', 'name', inside)
            _run(IP, 'link', 'set', inside, 'netns', namespace)
            _run(IP, 'link', 'set', outside, 'master', self.bridge, 'up')
            inns = (IP, 'netns', 'exec', namespace)
            _run(*inns, IP, 'link', 'set', 'lo', 'up')
            _run(*inns, IP, 'addr', 'add', f'{address}/24', 'dev', inside)
            _run(*inns, IP, 'link', 'set', inside, 'up')
            config = self.keydir / f'sshd-{name}.conf'
            config.write_text(SSHD_CONFIG.format(address=address, keydir=self.keydir))
            self._procs.append(subprocess.Popen([*inns, SSHD, '-D', '-e', '-f', str(config)],
                                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=open(self.keydir / f'sshd-{name}.log', 'wb'),
                                                start_new_session=True))
            self.hosts[name] = address
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        waiting = dict(self.hosts)
        while waiting:
            for name, address in list(waiting.items()):
                with socket.socket() as sock:
                    sock.settimeout(0.5)
                    try:
                        sock.connect((address, 22))
                        if sock.recv(4).startswith(b'SSH-'):
                            del waiting[name]
                    except OSError:
                        pass
            if not waiting:
                return
            dead = [p for p in self._procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                log = (self.keydir / f'sshd-{next(iter(waiting))}.log').read_text(errors='replace')
                raise RuntimeError(f'sshd did not answer on {sorted(waiting)[:5]}: {log.strip()[-500:]}')
            time.sleep(0.1)

    def state(self) -> dict[str, t.Any]:
        return {'hosts': self.hosts, 'bridge': self.bridge, 'bridge_ip': self.bridge_ip,
                'namespaces': self.namespaces, 'keydir': str(self.keydir), 'key_file': self.key_file,
                'pids': [p.pid for p in self._procs], 'ssh_vars': self.ssh_vars}

    def stop(self) -> None:
        teardown(self.state())
        for proc in self._procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()

    def __enter__(self) -> SSHFleet:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill(pids: t.Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def teardown(state: dict[str, t.Any]) -> None:
    """Kill what runs in each recorded namespace, delete the namespaces, the bridge and the keys."""
    _kill(state.get('pids', []))
    for namespace in state.get('namespaces', []):
        pids = subprocess.run([IP, 'netns', 'pids', namespace], capture_output=True, text=True, check=False).stdout
        _kill(int(pid) for pid in pids.split() if pid.isdigit())
        subprocess.run([IP, 'netns', 'del', namespace], capture_output=True, check=False)
    if state.get('bridge'):
        subprocess.run([IP, 'link', 'del', state['bridge']], capture_output=True, check=False)
    keydir = state.get('keydir')
    if keydir and pathlib.Path(keydir).name.startswith('mailwright-ssh-'):
        shutil.rmtree(keydir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Managed hosts over SSH in network namespaces.')
    sub = parser.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up')
    up.add_argument('--count', type=int, default=3)
    up.add_argument('--prefix', default='app')
    up.add_argument('--state', required=True)
    down = sub.add_parser('down')
    down.add_argument('--state', required=True)
    args = parser.parse_args(argv)
    state_file = pathlib.Path(args.state)
    if args.command == 'down':
        if state_file.exists():
            teardown(json.loads(state_file.read_text()))
            state_file.unlink()
        return 0
    why_not = ssh_available()
    if why_not:
        sys.stderr.write(f'no SSH hosts: {why_not}\n')
        return 1
    if state_file.exists():  # a previous run that was not torn down
        teardown(json.loads(state_file.read_text()))
    fleet = SSHFleet(args.count, prefix=args.prefix)
    fleet.start()
    try:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(fleet.state(), indent=2) + '\n')
    except BaseException:
        fleet.stop()
        raise
    print(json.dumps(fleet.state(), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
