"""Fan-out: 200 SMTP targets, half of them silent, through smtp_probe vs ansible.builtin.wait_for.

The peers run on loopback: N/2 real SMTP servers (one aiosmtpd event loop serving N/2 ports) and
N/2 silent listeners (the kernel completes the TCP handshake, nobody ever sends a banner). Every
probe uses the same per-step timeout T.

- smtp_probe: one module process (as AnsiballZ runs it) for all N targets, the relay of the
  settings being the first. Also the same through `ansible-playbook` (one task) so the Ansible
  start-up cost is visible.
- wait_for: what one would write without this collection: a playbook looping
  `ansible.builtin.wait_for: {host, port, search_regex: '^220', timeout: T}` over the targets, one
  after the other. Each silent target costs a full T, so by default only a SUBSET (half silent) is
  run and the full list is extrapolated from the measured per-target times (said so in the
  output). `--full` runs all N.

Prints one table from one run. Usage:
  PYTHONPATH=.build/collections:. .venv/bin/python benchmarks/bench_probe_fanout.py \
      [--targets 200] [--timeout 2] [--subset 20] [--full]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.modrun import module_env, run_module  # noqa: E402

VENV_BIN = pathlib.Path(sys.executable).parent


class SilentListeners:
    """Sockets that listen and never accept: connect succeeds, no byte ever comes back."""

    def __init__(self, count: int):
        self.sockets = []
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(('127.0.0.1', 0))
            sock.listen(16)
            self.sockets.append(sock)
        self.ports = [s.getsockname()[1] for s in self.sockets]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


class SMTPServers:
    """One asyncio loop in a thread serving aiosmtpd on `count` ports."""

    def __init__(self, count: int):
        from aiosmtpd.handlers import Sink
        from aiosmtpd.smtp import SMTP

        self.loop = asyncio.new_event_loop()
        self.ports: list[int] = []
        self.servers = []
        ready = threading.Event()

        async def start() -> None:
            for _index in range(count):
                server = await self.loop.create_server(
                    lambda: SMTP(Sink(), hostname='bench.test', ident='bench ESMTP'),
                    host='127.0.0.1', port=0)
                self.servers.append(server)
                self.ports.append(server.sockets[0].getsockname()[1])

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not ready.wait(30):
            raise RuntimeError('SMTP servers did not start')

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def settings_for(port: int, timeout: float) -> dict:
    return {'product': 'generic',
            'server': {'host': '127.0.0.1', 'port': port, 'tls': 'opportunistic', 'timeout_ms': int(timeout * 1000)},
            'sender': {'from_address': 'bench@example.com'}}


def interleave(real: list[int], silent: list[int]) -> list[tuple[int, bool]]:
    out = []
    for r, s in zip(real, silent):
        out += [(r, False), (s, True)]
    return out


def run_playbook(playbook: str, extra: dict, workdir: pathlib.Path, *, tree: pathlib.Path | None = None) -> tuple[float, int, str]:
    inventory = workdir / 'inventory.ini'
    inventory.write_text(f'localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n')
    vars_file = workdir / 'vars.json'
    vars_file.write_text(json.dumps(extra))
    book = workdir / 'play.yml'
    book.write_text(playbook)
    env = module_env({'ANSIBLE_HOST_KEY_CHECKING': 'False', 'ANSIBLE_STDOUT_CALLBACK': 'default',
                      'ANSIBLE_LOCALHOST_WARNING': 'False', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False'})
    if tree is not None:
        # the tree callback (ansible-core) writes each host's last task result as JSON
        env.update(ANSIBLE_CALLBACKS_ENABLED='ansible.builtin.tree', ANSIBLE_CALLBACK_TREE_DIR=str(tree))
    start = time.perf_counter()
    proc = subprocess.run([str(VENV_BIN / 'ansible-playbook'), '-i', str(inventory), str(book),
                           '-e', f'@{vars_file}'], capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - start, proc.returncode, proc.stdout[-2000:] + proc.stderr[-2000:]


def matched_items(tree: pathlib.Path) -> tuple[int, int]:
    """(items that found '^220', items run) from the tree callback's result file."""
    items = json.loads((tree / 'localhost').read_text()).get('results', [])
    return sum(1 for item in items if not item.get('failed')), len(items)


PROBE_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - mailwright.smtp.smtp_probe:
        settings: "{{ settings }}"
        targets: "{{ targets }}"
        timeout: "{{ timeout }}"
        fail_on: never
"""

WAIT_FOR_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.wait_for:
        host: 127.0.0.1
        port: "{{ item }}"
        search_regex: '^220'
        timeout: "{{ timeout }}"
      loop: "{{ ports }}"
      ignore_errors: true
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--targets', type=int, default=200)
    parser.add_argument('--timeout', type=float, default=2.0)
    parser.add_argument('--subset', type=int, default=20, help='wait_for targets actually run (half silent)')
    parser.add_argument('--full', action='store_true', help='run wait_for over all targets (slow)')
    args = parser.parse_args()
    half = args.targets // 2
    timeout = args.timeout

    silent = SilentListeners(half)
    servers = SMTPServers(args.targets - half)
    rows = []
    try:
        ordered = interleave(servers.ports, silent.ports)
        relay_port = servers.ports[0]
        extra = [{'host': '127.0.0.1', 'port': p, 'name': f'{"silent" if s else "smtp"}-{p}'}
                 for p, s in ordered if p != relay_port]
        settings = settings_for(relay_port, timeout)

        # 1. smtp_probe, one module process.
        start = time.perf_counter()
        rc, result = run_module('smtp_probe', {'settings': settings, 'targets': extra, 'timeout': timeout,
                                               'fail_on': 'never'}, timeout=600)
        probe_wall = time.perf_counter() - start
        if rc != 0 or 'results' not in result or 'counts' not in result:
            print(f'smtp_probe failed (rc={rc}): {result.get("msg")} {sorted(result)}', file=sys.stderr)
            return 1
        results = result['results']
        silent_set = set(silent.ports)
        silent_ok = all(r['status'] == 'fail' and r['step'] == 'banner' for r in results if r['port'] in silent_set)
        real_ok = all(r['status'] != 'fail' for r in results if r['port'] not in silent_set)
        rows.append(('smtp_probe, one module process', len(results), probe_wall, 'measured'))
        rows.append(('smtp_probe, probing only (its elapsed_ms)', len(results),
                     result['elapsed_ms'] / 1000, 'measured, no Python start-up'))

        with tempfile.TemporaryDirectory() as tmp:
            workdir = pathlib.Path(tmp)
            # 2. smtp_probe through ansible-playbook (Ansible start-up included).
            wall, prc, out = run_playbook(PROBE_PLAY, {'settings': settings, 'targets': extra, 'timeout': timeout},
                                          workdir)
            if prc != 0:
                print(out, file=sys.stderr)
                return 1
            rows.append(('smtp_probe, ansible-playbook (1 task)', len(results), wall, 'measured'))

            # 3. wait_for, one target after the other.
            count = len(ordered) if args.full else min(args.subset, len(ordered))
            subset = [port for port, _silent in ordered[:count]]
            wall, wrc, out = run_playbook(WAIT_FOR_PLAY, {'ports': subset, 'timeout': timeout}, workdir,
                                          tree=workdir / 'tree')
            if wrc != 0:
                print(out, file=sys.stderr)
                return 1
            matched, ran = matched_items(workdir / 'tree')
            silent_in_subset = sum(1 for _port, is_silent in ordered[:count] if is_silent)
            wait_for_ok = (matched, ran) == (count - silent_in_subset, count)
            rows.append(('wait_for loop, ansible-playbook', count, wall, 'measured'))
            if count < len(ordered):
                # The subset has the same half-silent mix as the full list, so the per-target
                # cost scales; the playbook start-up (measured with an empty loop) does not.
                startup, _rc, _out = run_playbook(WAIT_FOR_PLAY, {'ports': [], 'timeout': timeout}, workdir)
                per_target = (wall - startup) / count
                estimate = startup + per_target * len(ordered)
                rows.append((f'wait_for loop, extrapolated from {count}', len(ordered), estimate,
                             f'EXTRAPOLATED ({per_target:.2f}s/target + {startup:.1f}s start-up)'))
    finally:
        servers.close()
        silent.close()

    print(f'\nFan-out: {args.targets} targets ({half} silent listeners, {args.targets - half} aiosmtpd), '
          f'timeout {timeout:g}s, loopback, {os.cpu_count()} CPUs, one run')
    print(f'smtp_probe results: silent targets failed at banner: {silent_ok}; real targets reachable: {real_ok}; '
          f'counts {result["counts"]["pass"]} pass / {result["counts"]["warn"]} warn / '
          f'{result["counts"]["fail"]} fail (warn = no STARTTLS on the plain test servers)')
    print(f'wait_for results: {matched} of {ran} items found ^220 (expected {count - silent_in_subset}): '
          f'{wait_for_ok}')
    print()
    print(f'| {"method":<42} | {"targets":>7} | {"wall s":>8} | {"x timeout":>9} | {"vs smtp_probe":>13} | how')
    print(f'|{"-" * 44}|{"-" * 9}|{"-" * 10}|{"-" * 11}|{"-" * 15}|------')
    for name, count, wall, how in rows:
        print(f'| {name:<42} | {count:>7} | {wall:>8.2f} | {wall / timeout:>9.2f} | {wall / probe_wall:>13.1f} | {how}')
    if not (silent_ok and real_ok and wait_for_ok):
        print('WARNING: results were not as expected; the timing is not a fair comparison', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
