"""Fleet: the mailwright.smtp.mail role on N hosts over SSH vs a playbook of 8 ansible.builtin.ping tasks.

Every host is its own network namespace with its own sshd and address (tests/support/ssh_hosts.py),
reached over real SSH as Ansible reaches any host: a connection per host (ControlMaster, the
default ControlPersist), modules shipped as AnsiballZ payloads over it. Each host has its own
sandbox root: its own Tomcat ``conf/server.xml`` (or ``.properties`` file for --product generic),
its own truststore, its own test-send marker. One STARTTLS relay (aiosmtpd, certificate from a
private CA, AUTH) and one dnsmasq zone (the demo zone: MX/SPF/DMARC of the sender domain) listen
on the hosts' bridge and serve them all - the peers of tests/support.
Forks 10, pipelining on (ANSIBLE_PIPELINING: what an SSH user sets too; it needs no requiretty in
sudoers, which holds here), no fact gathering, as a platform team would run it. Every measured run
starts with cold connections (its own ControlPath directory), so each pays for its SSH handshakes.
``--connection local`` runs the earlier layout instead: N inventory aliases of localhost.

Measured, from one run:
  1. the role, first run (everything changes, one test message per host);
  2. the role, idempotent re-run (must report changed=0 on every host);
  3. the floor: a playbook of 8 ``ansible.builtin.ping`` tasks on the same hosts.
Prints a table, where the time of each run goes (wall seconds per task over all hosts, from a
small callback), the ratio re-run / floor (target <= 1.0), and a ``BENCH-RESULT {json}`` line for
benchmarks/run.py.

Usage: python benchmarks/bench_fleet.py [--hosts 50] [--forks 10] [--product jira|generic]
                                        [--connection ssh|local] [--keep]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import typing as t

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COLLECTIONS = ROOT / '.build' / 'collections'
SERVER_XML = ROOT / 'tests' / 'fixtures' / 'tomcat' / 'server-with-context.xml'
PASSWORD = 'Bench-5ecret-Pa55'
STOREPASS = 'changeit-bench'
DOMAIN = 'example.test'

PING_PLAY = """\
- name: Ansible's floor, 8 ping tasks
  hosts: fleet
  gather_facts: false
  tasks:
"""
PING_PLAY += ''.join(f'    - name: ping {index}\n      ansible.builtin.ping:\n' for index in range(1, 9))

ROLE_PLAY = """\
- name: Outgoing mail, the whole flow
  hosts: fleet
  gather_facts: false
  roles:
    - role: mailwright.smtp.mail
"""


@contextlib.contextmanager
def provisioned(count: int, forks: int, product: str = 'jira', connection: str = 'ssh', dns_wanted: bool = True,
                keep: bool = False) -> t.Iterator[types.SimpleNamespace]:
    """The fleet's test bed: hosts (SSH namespaces, or localhost aliases), relay, dnsmasq, inventory, env.

    Torn down on leaving, also after a failure (SIGTERM too, when the caller turns it into SystemExit).
    """
    from tests.support.certs import CertificateAuthority
    from tests.support.dns_server import DnsServer, dnsmasq_available
    from tests.support.smtp_server import SMTPTestServer
    from tests.support.ssh_hosts import SSHFleet, ssh_available

    workdir = pathlib.Path(tempfile.mkdtemp(prefix='mailwright-fleet-'))
    dns = relay = fleet = None
    note = 'local connection, localhost aliases'
    try:
        names = [f'app{index:03d}' for index in range(1, count + 1)]
        hosts: dict[str, str | None] = dict.fromkeys(names)
        ssh_vars = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
        listen = '127.0.0.1'
        if connection == 'ssh':
            why_not = ssh_available()
            if why_not:
                print(f'no SSH hosts ({why_not}): local connection instead', file=sys.stderr)
            else:
                started = time.perf_counter()
                fleet = SSHFleet(count).start()
                hosts = dict(fleet.hosts)
                ssh_vars = fleet.ssh_vars
                listen = fleet.bridge_ip
                note = f'SSH to {count} network namespaces, one sshd each, set up in {time.perf_counter() - started:.1f} s'
        ca = CertificateAuthority(workdir / 'pki')
        leaf = ca.issue('relay', dns=('localhost',), ips=tuple(dict.fromkeys(('127.0.0.1', listen))))
        relay = SMTPTestServer('starttls', cert=leaf, host=listen, credentials={'notify': PASSWORD}).start()
        if dns_wanted and dnsmasq_available():
            also = listen if listen != '127.0.0.1' else None
            dns = DnsServer('demo', workdir=str(workdir / 'dns'), also_listen=also).start()  # once dnsmasq answers
        settings = settings_document(product, listen, relay.port, dns.port if dns is not None else None)
        inventory = build_inventory(workdir, hosts, product, settings, ca.ca_file, dns is not None, ssh_vars)
        plugins = workdir / 'callback_plugins'
        plugins.mkdir()
        (plugins / 'mailwright_timer.py').write_text(_TIMER)
        yield types.SimpleNamespace(workdir=workdir, inventory=inventory, env=ansible_env(workdir, forks, plugins),
                                    relay=relay, dns=dns, note=note, connection='ssh' if fleet else 'local')
    finally:
        if fleet is not None:
            fleet.stop()
        if relay is not None:
            relay.stop()
        if dns is not None:
            dns.stop()
        if keep:
            print(f'work directory kept: {workdir}', file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


TARGET = 1.0


def settings_document(product: str, relay_host: str, relay_port: int, dns_port: int | None) -> dict:
    doc = {
        'product': product,
        'server': {'host': relay_host, 'port': relay_port, 'tls': 'required', 'timeout_ms': 5000,
                   'helo_domain': f'app.{DOMAIN}'},
        'auth': {'method': 'basic', 'username': 'notify', 'password': PASSWORD},
        'sender': {'from_address': f'{product}@{DOMAIN}'},
        'test': {'recipients': [f'ops@{DOMAIN}'], 'max_age': '30d'},
    }
    if product == 'generic':
        doc['server']['jndi'] = {'name': 'mail/Session', 'session_type': 'jakarta.mail.Session'}
    if dns_port is not None:
        doc['dns'] = {'nameservers': [relay_host], 'port': dns_port, 'check_mx': True, 'check_spf': True,
                      'check_dmarc': True, 'sending_ips': ['127.0.0.1']}
    else:
        doc['dns'] = {'check_mx': False, 'check_spf': False, 'check_dmarc': False}
    return doc


def build_inventory(workdir: pathlib.Path, hosts: dict[str, str | None], product: str, settings: dict,
                    ca_file: str, dns: bool, connection: dict) -> pathlib.Path:
    fleet = {}
    for name, address in hosts.items():
        root = workdir / 'hosts' / name
        host_vars: dict = {'ansible_host': address} if address else {}
        host_vars.update({
            'mail_truststore_path': str(root / 'security' / 'truststore.p12'),
            'mail_test_send_marker': str(root / 'state' / 'test-send.json'),
        })
        (root / 'security').mkdir(parents=True)
        (root / 'state').mkdir()
        if product in ('jira', 'confluence'):
            (root / 'conf').mkdir()
            (root / 'bin').mkdir()
            shutil.copyfile(SERVER_XML, root / 'conf' / 'server.xml')
            (root / 'bin' / 'setenv.sh').write_text('JVM_SUPPORT_RECOMMENDED_ARGS=""\n')
            # as on a real host, files that will hold the SMTP password are not readable by every user
            for secret_file in (root / 'conf' / 'server.xml', root / 'bin' / 'setenv.sh'):
                secret_file.chmod(0o640)
            # server.xml holds more than one <Context>: pick Jira's, the root context (path "").
            host_vars.update(mail_app_install_dir=str(root), mail_tomcat_context_path='')
        else:
            (root / 'app').mkdir()
            host_vars.update(mail_properties_path=str(root / 'app' / 'mail.properties'),
                             mail_properties_flavour='javamail')
        fleet[name] = host_vars
    group_vars = {
        **connection,
        'mail_settings': settings,
        'mail_truststore_password': STOREPASS,
        'mail_probe_ca_path': ca_file,
        'mail_test_send_ca_path': ca_file,
        'mail_dns_enabled': dns,
        'mail_restart_enabled': False,
    }
    inventory = {'all': {'children': {'fleet': {'hosts': fleet, 'vars': group_vars}}}}
    path = workdir / 'inventory.yml'
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def ansible_env(workdir: pathlib.Path, forks: int, plugins: pathlib.Path) -> dict:
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(COLLECTIONS),
        'ANSIBLE_FORKS': str(forks),
        'ANSIBLE_PIPELINING': 'True',
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_LOCALHOST_WARNING': 'False',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
        'ANSIBLE_DEPRECATION_WARNINGS': 'False',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCAL_TEMP': str(workdir / 'tmp-local'),
        'ANSIBLE_REMOTE_TEMP': str(workdir / 'tmp-remote'),
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        # the timer costs a clock read per task: on in every run, so the floor pays it too
        'ANSIBLE_CALLBACK_PLUGINS': str(plugins),
        'ANSIBLE_CALLBACKS_ENABLED': 'mailwright_timer',
    })
    env.pop('PYTHONPATH', None)  # modules must find the collection the way a user's Ansible does
    return env


_RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def run_playbook(playbook: pathlib.Path, inventory: pathlib.Path, env: dict,
                 run: str) -> tuple[float, dict, str]:
    ansible_playbook = str(pathlib.Path(sys.executable).parent / 'ansible-playbook')
    # cold connections in every run: its own ControlPath directory (masters of earlier runs idle out)
    control = pathlib.Path(env['ANSIBLE_LOCAL_TEMP']).parent / f'cp-{run}'
    control.mkdir(exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run([ansible_playbook, '-i', str(inventory), str(playbook)],
                          env=dict(env, ANSIBLE_SSH_CONTROL_PATH_DIR=str(control)),
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    recap = {m.group(1): {'ok': int(m.group(2)), 'changed': int(m.group(3)), 'unreachable': int(m.group(4)),
                          'failed': int(m.group(5))} for m in _RECAP.finditer(proc.stdout)}
    if proc.returncode != 0:
        recap['_rc'] = proc.returncode
    return wall, recap, proc.stdout + proc.stderr


def totals(recap: dict) -> dict:
    hosts = {k: v for k, v in recap.items() if not k.startswith('_')}
    return {key: sum(v[key] for v in hosts.values()) for key in ('ok', 'changed', 'failed', 'unreachable')} | {
        'hosts': len(hosts), 'hosts_changed': sum(1 for v in hosts.values() if v['changed'])}


_TIMER = """
import time
import types
import typing as t
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'mailwright_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.rows, self.current = [], None

    def _close(self):
        if self.current:
            self.rows.append((time.monotonic() - self.current[1], self.current[0]))

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = (task.get_name(), time.monotonic())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        self.current = None
        for seconds, name in self.rows:
            self._display.display('TIMER %8.2f  %s' % (seconds, name))
"""


def timings(out: str) -> list[tuple[float, str]]:
    rows = []
    for line in out.splitlines():
        if line.startswith('TIMER '):
            seconds, name = line[len('TIMER '):].strip().split(None, 1)
            rows.append((float(seconds), name))
    return rows


def print_timings(label: str, rows: list[tuple[float, str]], wall: float) -> None:
    """Where the time of a run goes: each task's wall seconds over all hosts, the rest is start-up."""
    print(f'\n{label}: wall seconds per task over all hosts (the rest of {wall:.2f} s is ansible-playbook '
          f'start-up, inventory, play set-up and exit: {wall - sum(seconds for seconds, _task in rows):.2f} s)')
    for seconds, name in rows:
        print(f'  {seconds:8.2f}  {name}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', type=int, default=50)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--product', choices=['jira', 'generic'], default='jira')
    parser.add_argument('--no-dns', action='store_true', help='skip the DNS step (no dnsmasq)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory and print its path')
    parser.add_argument('--connection', choices=['ssh', 'local'], default='ssh',
                        help='ssh: one network namespace with its own sshd per host (root); local: localhost aliases')
    args = parser.parse_args()

    # SIGTERM (a CI job cancelled) unwinds through `finally` too: no namespace or sshd is left behind
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    with provisioned(args.hosts, args.forks, args.product, args.connection, not args.no_dns, args.keep) as bed:
        workdir, inventory, env, relay = bed.workdir, bed.inventory, bed.env, bed.relay
        (workdir / 'role.yml').write_text(ROLE_PLAY)
        (workdir / 'ping.yml').write_text(PING_PLAY)
        connection_note, use_dns = bed.note, bed.dns is not None

        rows = []
        ok = True
        first_wall, first, out = run_playbook(workdir / 'role.yml', inventory, env, 'first')
        first_timer = timings(out)
        first_totals = totals(first)
        if first.get('_rc') or first_totals['failed'] or first_totals['hosts'] != args.hosts:
            print(out[-6000:], file=sys.stderr)
            print(f'role first run failed: {first_totals}', file=sys.stderr)
            ok = False
        sent_first = len(relay.messages)
        rows.append(('role, first run', first_wall, first_totals, f'{sent_first} test messages'))

        rerun_wall, rerun, out = run_playbook(workdir / 'role.yml', inventory, env, 'rerun')
        rerun_timer = timings(out)
        rerun_totals = totals(rerun)
        sent_rerun = len(relay.messages) - sent_first
        if rerun.get('_rc') or rerun_totals['failed'] or rerun_totals['changed']:
            print(out[-6000:], file=sys.stderr)
            print(f'role re-run was not idempotent or failed: {rerun_totals}', file=sys.stderr)
            ok = False
        rows.append(('role, idempotent re-run', rerun_wall, rerun_totals, f'{sent_rerun} test messages'))

        ping_wall, ping, out = run_playbook(workdir / 'ping.yml', inventory, env, 'ping')
        ping_timer = timings(out)
        ping_totals = totals(ping)
        if ping.get('_rc') or ping_totals['failed'] or ping_totals['hosts'] != args.hosts:
            print(out[-3000:], file=sys.stderr)
            ok = False
        rows.append(('8 x ansible.builtin.ping (floor)', ping_wall, ping_totals, ''))

        tasks_per_host = first_totals['ok'] / max(1, first_totals['hosts'])
        ratio = rerun_wall / ping_wall
        print(f'\nFleet: {args.hosts} hosts ({connection_note}; separate sandbox roots), forks {args.forks}, '
              f'pipelining on, product {args.product}, DNS {"dnsmasq" if use_dns else "off"}, '
              f'{os.cpu_count()} CPUs, one run')
        print()
        print(f'| {"run":<34} | {"wall s":>8} | {"vs ping floor":>13} | {"ok":>5} | {"changed":>7} | '
              f'{"failed":>6} | note')
        print(f'|{"-" * 36}|{"-" * 10}|{"-" * 15}|{"-" * 7}|{"-" * 9}|{"-" * 8}|------')
        for name, wall, tot, note in rows:
            print(f'| {name:<34} | {wall:>8.2f} | {wall / ping_wall:>13.2f} | {tot["ok"]:>5} | '
                  f'{tot["changed"]:>7} | {tot["failed"]:>6} | {note}')
        print_timings('role, first run', first_timer, first_wall)
        print_timings('role, idempotent re-run', rerun_timer, rerun_wall)
        print_timings('8 x ping (floor)', ping_timer, ping_wall)
        print(f'\nre-run / ping floor = {ratio:.2f} (target <= {TARGET:g}); {tasks_per_host:.1f} ok tasks per host '
              f'in the first run')
        print('BENCH-RESULT ' + json.dumps({
            'name': f'fleet, {args.hosts} hosts, idempotent re-run vs 8 pings', 'ours_s': round(rerun_wall, 2),
            'theirs_s': round(ping_wall, 2), 'ratio': round(ratio, 3), 'target': f'<= {TARGET:g}',
            'pass': ok and ratio <= TARGET, 'valid': ok, 'first_run_s': round(first_wall, 2),
            'hosts': args.hosts, 'forks': args.forks, 'connection': bed.connection}))
        return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
