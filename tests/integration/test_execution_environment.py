"""The execution environment builds from the built tarball and runs the collection.

* Both definitions (execution-environment.yml on a public base, tools/ee/execution-environment.yml
  on a local Debian base) make a build context with `ansible-builder create` that installs the
  collection from the tarball named after galaxy.yml's version.
* With Podman on the machine (tools/install-system-deps.sh installs it, with runc and debootstrap),
  `make ee` builds the image on the local base (made once by tools/ee/base-image.sh, then cached)
  and a playbook runs inside it (--network=host): settings_validate, a probe and a test send
  against the relay on the host, which must receive the message.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.support.peers import running

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
VERSION = yaml.safe_load((ROOT / 'galaxy.yml').read_text())['version']
TARBALL = f'mailwright-smtp-{VERSION}.tar.gz'
IMAGE = 'localhost/mailwright-ee:test'
CONTAINERS_CONF = ROOT / 'tools' / 'ee' / 'containers.conf'
RELAY_PASSWORD = 'ee-relay-password'


@pytest.fixture(scope='module')
def tarball():
    subprocess.run(['make', '-C', str(ROOT), 'build'], check=True, capture_output=True, timeout=300)
    return ROOT / '.build' / 'dist' / TARBALL


@pytest.mark.parametrize('definition', ['execution-environment.yml', 'tools/ee/execution-environment.yml'])
def test_context_installs_the_collection_from_the_tarball(tarball, tmp_path, definition):
    spec = yaml.safe_load((ROOT / definition).read_text())
    assert spec['dependencies']['galaxy']['collections'] == [{'name': f'collections/{TARBALL}', 'type': 'file'}]
    context = tmp_path / 'context'
    subprocess.run([str(BIN / 'ansible-builder'), 'create', '-f', str(ROOT / definition), '-c', str(context)],
                   check=True, capture_output=True, timeout=120)
    assert (context / '_build' / 'collections' / TARBALL).read_bytes() == tarball.read_bytes()
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'][0]['name'] == f'collections/{TARBALL}'
    containerfile = (context / 'Containerfile').read_text()
    assert 'ansible-galaxy collection install' in containerfile
    assert 'type: dir' not in (context / '_build' / 'requirements.yml').read_text()


def podman_works() -> bool:
    if not shutil.which('podman') or not os.path.exists('/usr/sbin/runc'):
        return False
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    return subprocess.run(['podman', 'info'], capture_output=True, env=env, timeout=60, check=False).returncode == 0


@pytest.fixture
def relay(tmp_path):
    with running(tmp_path / 'peers', user='mailer', password=RELAY_PASSWORD) as state:
        yield state


@pytest.mark.skipif(not podman_works(), reason='no working rootful Podman with runc (make system-deps installs it)')
def test_built_image_runs_the_flow_against_the_host_relay(tarball, relay, tmp_path):
    built = subprocess.run(['make', '-C', str(ROOT), 'ee'], capture_output=True, text=True, timeout=1200,
                           check=False)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    work = tmp_path / 'work'
    work.mkdir()
    work.chmod(0o777)  # the image runs as an unprivileged user (ansible-builder's USER 1000)
    shutil.copy(relay['ca_path'], work / 'ca.pem')
    settings = {
        'product': 'generic',
        'server': {'host': '127.0.0.1', 'port': relay['smtp_port'], 'tls': 'required'},
        'auth': {'method': 'basic', 'username': 'mailer', 'password': RELAY_PASSWORD},
        'sender': {'from_address': 'app@example.test'},
        'test': {'recipients': ['ops@example.test']},
        'dns': {'nameservers': [relay['dns_host']], 'port': relay['dns_port']},
    }
    (work / 'play.yml').write_text(yaml.safe_dump([{
        'name': 'Validate, probe and prove inside the execution environment',
        'hosts': 'localhost',
        'gather_facts': False,
        'module_defaults': {'group/mailwright.smtp.settings': {'settings': settings}},
        'tasks': [
            {'name': 'Validate', 'mailwright.smtp.settings_validate': {}, 'register': 'validated'},
            {'name': 'Probe', 'mailwright.smtp.smtp_probe': {'ca_path': '/work/ca.pem'}},
            {'name': 'Send', 'mailwright.smtp.test_send': {'ca_path': '/work/ca.pem',
                                                           'marker_path': '/work/proof.json'}},
            {'name': 'keytool is there', 'ansible.builtin.command': 'keytool -help', 'changed_when': False},
        ],
    }]))
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
    ran = subprocess.run(
        ['podman', '--runtime', '/usr/sbin/runc', 'run', '--rm', '--network=host', '-v', f'{work}:/work:Z',
         '-e', 'ANSIBLE_NOCOLOR=1', '-e', 'ANSIBLE_LOCALHOST_WARNING=false', IMAGE,
         'ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=/usr/bin/python3',
         '/work/play.yml'],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-3000:]
    assert 'failed=0' in ran.stdout
    assert list((relay['_dir'] / 'spool').glob('*.eml')), 'the relay received no message'
    assert RELAY_PASSWORD not in ran.stdout
