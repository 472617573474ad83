"""tests/support/ssh_hosts.py: hosts in network namespaces answer over SSH, and leave nothing behind.

The fleet benchmark and the molecule scenario fleet-ssh stand on these hosts; here they are
checked with the plain ssh client: each host has its own address (not the controller's bridge),
runs the controller's Python, and after stop() no namespace, link, sshd or key file is left.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.support.ssh_hosts import IP, SSHFleet, ssh_available

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(ssh_available() is not None, reason=f'no SSH hosts here: {ssh_available()}')]


def _ssh(fleet: SSHFleet, address: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(['ssh', '-i', fleet.key_file, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
                           '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', f'root@{address}', command],
                          capture_output=True, text=True, timeout=60, check=False)


def _netns() -> str:
    return subprocess.run([IP, 'netns', 'list'], capture_output=True, text=True, check=False).stdout


def test_each_host_is_its_own_address_and_all_is_gone_after_stop():
    fleet = SSHFleet(2, prefix='t')
    with fleet:
        assert set(fleet.hosts) == {'t001', 't002'}
        assert oct(pathlib.Path(fleet.keydir).stat().st_mode & 0o777) == '0o700'
        for address in fleet.hosts.values():
            done = _ssh(fleet, address, 'ip -4 -o addr show')
            assert done.returncode == 0, done.stderr
            assert f'inet {address}/24' in done.stdout
            assert f'inet {fleet.bridge_ip}/' not in done.stdout  # the bridge is outside: its own stack
        # the other host's address is not this one: separate network stacks
        one, two = list(fleet.hosts.values())
        assert one != two
        # a module runs there with the controller's Python, as Ansible will run it
        done = _ssh(fleet, one, f'{sys.executable} -c "import json, yaml, jsonschema; print(json.dumps(1))"')
        assert done.returncode == 0 and done.stdout.strip() == '1', done.stderr
        state = fleet.state()
    assert fleet.token not in _netns()
    links = subprocess.run([IP, '-o', 'link'], capture_output=True, text=True, check=False).stdout
    assert fleet.token not in links
    assert not pathlib.Path(state['keydir']).exists()
    for pid in state['pids']:
        assert not pathlib.Path(f'/proc/{pid}').exists() or 'zombie' in pathlib.Path(f'/proc/{pid}/status').read_text()


def test_the_command_line_up_and_down(tmp_path):
    state_file = tmp_path / 'state.json'
    script = pathlib.Path(__file__).resolve().parents[2] / 'tests' / 'support' / 'ssh_hosts.py'
    up = subprocess.run([sys.executable, str(script), 'up', '--count', '1', '--state', str(state_file)],
                        capture_output=True, text=True, timeout=60, check=False)
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads(state_file.read_text())
        assert json.loads(up.stdout) == state
        assert os.path.exists(state['key_file'])
        assert state['namespaces'][0] in _netns()
    finally:
        down = subprocess.run([sys.executable, str(script), 'down', '--state', str(state_file)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 0, down.stderr
    assert state['namespaces'][0] not in _netns()
    assert not state_file.exists()
    # down again is quiet: the destroy playbook runs it also when nothing was started
    again = subprocess.run([sys.executable, str(script), 'down', '--state', str(state_file)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0
