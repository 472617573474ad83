"""One whole-process test send: mailwright.smtp.test_send vs swaks, on the same local server.

Both go STARTTLS + AUTH PLAIN to an aiosmtpd server on loopback (in this process); each run is a
fresh process, as a playbook (AnsiballZ: `python test_send.py args.json`) or an admin (swaks)
would start it. The module verifies the server's certificate against the test CA; swaks does not
verify by default. The module runs with force=true, so every run really sends.

    PYTHONPATH=.build/collections:. .venv/bin/python benchmarks/bench_test_send.py [--runs 5]

Prints one table row: median seconds of each, and the ratio (target: <= 1.5), then the floor
under the module's time: a Python process that only imports ansible.module_utils.basic, and one
that imports jsonschema too (settings validation needs it).

Python caches bytecode as on an ordinary host (in a temporary PYTHONPYCACHEPREFIX, warmed by one
untimed run), even where PYTHONDONTWRITEBYTECODE is set for the tests; --no-bytecode-cache
compiles every file in every run instead (closer to AnsiballZ's zip payload).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.certs import TestPKI  # noqa: E402
from tests.support.modrun import module_env  # noqa: E402
from tests.support.smtp_server import SMTPTestServer  # noqa: E402

PASSWORD = 'Bench-5ecret-Pa55'
TARGET = 1.5
USER = 'bench-user'


CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict | None = None, *, label: str | None = None) -> float:
    """Wall-clock seconds of one process; its CPU seconds are kept under label (steadier on a busy host)."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if label:
        CPU.setdefault(label, []).append(_children_cpu() - cpu_before)
    if proc.returncode != 0:
        raise SystemExit(f'{command[0]} failed (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--json', action='store_true', help='print the figures as JSON as well')
    parser.add_argument('--no-bytecode-cache', action='store_true', help='compile every module in every run')
    args = parser.parse_args()
    swaks = shutil.which('swaks')
    if swaks is None:
        raise SystemExit('swaks is not installed (apt-get install swaks)')
    work = pathlib.Path(tempfile.mkdtemp(prefix='bench-test-send-'))
    pki = TestPKI(work / 'pki')
    server = SMTPTestServer('starttls', cert=pki.good, credentials={USER: PASSWORD}).start()
    try:
        settings = {
            'product': 'jira',
            'server': {'host': '127.0.0.1', 'port': server.port, 'protocol': 'smtp', 'tls': 'required',
                       'timeout_ms': 10000, 'helo_domain': 'bench.example.test'},
            'auth': {'method': 'basic', 'username': USER, 'password': PASSWORD, 'mechanism': 'plain'},
            'sender': {'from_address': 'jira@example.test', 'subject_prefix': '[JIRA]'},
            'test': {'recipients': ['team@example.test']},
        }
        args_file = work / 'args.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
            'settings': settings, 'force': True, 'ca_path': pki.ca_file,
            'marker_path': str(work / 'state' / 'proof.json'),
            '_ansible_check_mode': False, '_ansible_diff': False,
            '_ansible_tmpdir': str(work), '_ansible_remote_tmp': str(work), '_ansible_keep_remote_files': False,
        }}))
        module = [sys.executable, str(ROOT / 'plugins' / 'modules' / 'test_send.py'), str(args_file)]
        swaks_cmd = [swaks, '--server', f'127.0.0.1:{server.port}', '--tls', '--auth', 'PLAIN',
                     '--auth-user', USER, '--auth-password', PASSWORD, '--ehlo', 'bench.example.test',
                     '--from', 'jira@example.test', '--to', 'team@example.test',
                     '--header', 'Subject: [JIRA] swaks test message', '--silent', '2']
        env = module_env()
        if args.no_bytecode_cache:
            env['PYTHONDONTWRITEBYTECODE'] = '1'
        else:
            env.pop('PYTHONDONTWRITEBYTECODE', None)
            env['PYTHONPYCACHEPREFIX'] = str(work / 'pycache')
        floors = {
            'import ansible.module_utils.basic': [sys.executable, '-c', 'import ansible.module_utils.basic'],
            '+ jsonschema': [sys.executable, '-c', 'import ansible.module_utils.basic, jsonschema'],
        }
        timed(module, env)  # warm the page cache and the bytecode for both before measuring
        timed(swaks_cmd)
        for command in floors.values():
            timed(command, env)
        ours, theirs = [], []
        floor_times: dict[str, list[float]] = {name: [] for name in floors}
        for _run in range(args.runs):  # interleaved, so drift hits all alike
            ours.append(timed(module, env, label='test_send'))
            theirs.append(timed(swaks_cmd, label='swaks'))
            for name, command in floors.items():
                floor_times[name].append(timed(command, env, label=name))
        delivered = len(server.messages)
        expected = 2 + 2 * args.runs
        if delivered != expected:
            raise SystemExit(f'expected {expected} delivered messages, the server has {delivered}')
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    ratio = ours_median / theirs_median
    cpu = {name: statistics.median(values) for name, values in CPU.items()}
    cpu_ratio = cpu['test_send'] / cpu['swaks']
    print('| benchmark | runs | test_send median (s) | swaks median (s) | ratio | CPU s: test_send / swaks | CPU ratio | target |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    print(f'| STARTTLS + AUTH PLAIN, whole process | {args.runs} | {ours_median:.3f} | {theirs_median:.3f} '
          f'| {ratio:.2f} | {cpu["test_send"]:.3f} / {cpu["swaks"]:.3f} | {cpu_ratio:.2f} '
          f'| <= {TARGET:g} {"ok" if ratio <= TARGET else "MISSED"} |')
    for name, values in floor_times.items():
        median = statistics.median(values)
        print(f'| floor: {name} | {args.runs} | {median:.3f} | | {median / theirs_median:.2f} '
              f'| {cpu[name]:.3f} | {cpu[name] / cpu["swaks"]:.2f} | |')
    print(f'(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall times on a busy host vary, CPU times less)')
    if args.json:
        print(json.dumps({'test_send': ours, 'swaks': theirs, 'ratio': ratio, 'floors': floor_times, 'cpu': CPU}))
    return 0  # a valid run; benchmarks/run.py gives the verdict


if __name__ == '__main__':
    sys.exit(main())
