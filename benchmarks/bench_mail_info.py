"""Read-back: mailwright.smtp.mail_info on N hosts vs the mail role's idempotent re-run on the same hosts.

The fleet of bench_fleet.py (every host its own network namespace reached over SSH, with its own sandbox root:
Tomcat server.xml, setenv.sh, PKCS12 truststore, test-send marker; one local STARTTLS relay with
AUTH, and dnsmasq when it is there). The role runs once to configure the hosts, then:
  1. the role, idempotent re-run (must report changed=0 on every host);
  2. one mail_info task per host with the same settings, reading server.xml, setenv.sh, the
     truststore and the marker (must report drift [] and a current proof on every host).
An audit reads every host back, so reading must not cost more than the re-run it replaces:
target ratio read-back / re-run <= 1.0. Prints a table and a ``BENCH-RESULT {json}`` line for
benchmarks/run.py.

Usage: python benchmarks/bench_mail_info.py [--hosts 50] [--forks 10] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_fleet as fleet  # noqa: E402  the fleet, its inventory and its runner, reused

INFO_PLAY = """\
- name: Read every host back
  hosts: fleet
  gather_facts: false
  tasks:
    - name: mail_info with the settings
      mailwright.smtp.mail_info:
        settings: "{{ mail_settings }}"
        server_xml: "{{ mail_app_install_dir }}/conf/server.xml"
        context_path: ""
        jvm_options_file: "{{ mail_app_install_dir }}/bin/setenv.sh"
        truststore_path: "{{ mail_truststore_path }}"
        store_password: "{{ mail_truststore_password }}"
        marker_path: "{{ mail_test_send_marker }}"
        test_send_ca_path: "{{ mail_test_send_ca_path }}"
      register: read

    - name: The host matches its settings and its proof is current
      ansible.builtin.assert:
        that:
          - read.drift == []
          - read.proof.current
        quiet: true
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', type=int, default=50)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--connection', choices=['ssh', 'local'], default='ssh',
                        help='ssh: one network namespace with its own sshd per host (root); local: localhost aliases')
    parser.add_argument('--keep', action='store_true', help='keep the work directory and print its path')
    args = parser.parse_args()

    # SIGTERM unwinds through the test bed's `finally`: no namespace or sshd is left behind
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    with fleet.provisioned(args.hosts, args.forks, 'jira', args.connection, True, args.keep) as bed:
        workdir, inventory, env = bed.workdir, bed.inventory, bed.env
        (workdir / 'role.yml').write_text(fleet.ROLE_PLAY)
        (workdir / 'info.yml').write_text(INFO_PLAY)

        ok = True
        first_wall, first, out = fleet.run_playbook(workdir / 'role.yml', inventory, env, 'first')
        first_totals = fleet.totals(first)
        if first.get('_rc') or first_totals['failed'] or first_totals['hosts'] != args.hosts:
            print(out[-6000:], file=sys.stderr)
            ok = False
        rerun_wall, rerun, out = fleet.run_playbook(workdir / 'role.yml', inventory, env, 'rerun')
        rerun_totals = fleet.totals(rerun)
        if rerun.get('_rc') or rerun_totals['failed'] or rerun_totals['changed']:
            print(out[-6000:], file=sys.stderr)
            print(f'role re-run was not idempotent or failed: {rerun_totals}', file=sys.stderr)
            ok = False
        info_wall, info, out = fleet.run_playbook(workdir / 'info.yml', inventory, env, 'info')
        info_totals = fleet.totals(info)
        if info.get('_rc') or info_totals['failed'] or info_totals['changed'] or info_totals['hosts'] != args.hosts:
            print(out[-6000:], file=sys.stderr)
            print(f'mail_info failed, changed something or found drift: {info_totals}', file=sys.stderr)
            ok = False

        ratio = info_wall / rerun_wall
        print(f'\nRead-back: {args.hosts} hosts ({bed.note}; separate sandbox roots), forks {args.forks}, '
              f'pipelining on, product jira, {os.cpu_count()} CPUs, one run')
        print()
        print(f'| {"run":<38} | {"wall s":>8} | {"ok":>5} | {"changed":>7} | {"failed":>6}')
        print(f'|{"-" * 40}|{"-" * 10}|{"-" * 7}|{"-" * 9}|{"-" * 8}')
        for name, wall, tot in (('role, first run', first_wall, first_totals),
                                ('role, idempotent re-run', rerun_wall, rerun_totals),
                                ('mail_info (+ assert no drift)', info_wall, info_totals)):
            print(f'| {name:<38} | {wall:>8.2f} | {tot["ok"]:>5} | {tot["changed"]:>7} | {tot["failed"]:>6}')
        print(f'\nmail_info / role re-run = {ratio:.2f} (target <= 1.0)')
        print('BENCH-RESULT ' + json.dumps({
            'name': f'mail_info on {args.hosts} hosts vs the role re-run', 'ours_s': round(info_wall, 2),
            'theirs_s': round(rerun_wall, 2), 'ratio': round(ratio, 3), 'target': '<= 1.0',
            'pass': ok and ratio <= 1.0, 'valid': ok, 'hosts': args.hosts, 'forks': args.forks,
            'connection': bed.connection}))
        return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
