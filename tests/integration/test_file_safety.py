# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writing files next to a hostile neighbour and a parallel run (plugins/module_utils/_core/files.py).

The real modules run as processes on real files:

* backups: a symlink (or a neighbour's file) planted at the predictable backup name makes the task
  fail, and the planted target gets nothing; a backup has the file's own mode;
* symlinks: a link at server.xml, the .properties file or setenv.sh is followed and stays a link;
  a link a neighbour (uid 65534) owns, pointing at a root-owned file, is refused;
* secrets: an existing world-readable file that would hold a password fails the task before
  anything is written, unless allow_world_readable is true (then a warning every run);
* lost updates: two runs adding different Resources (or keys) to one file at the same moment
  both land.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import PropertiesFile
from tests.integration.conftest_truststore import CANARY as STORE_CANARY, self_signed_identity
from tests.support.modrun import module_process

pytest_plugins = ['tests.integration.conftest_truststore']
pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVER_XML = (ROOT / 'tests' / 'fixtures' / 'tomcat' / 'server-with-context.xml').read_bytes()
PROPERTIES = b'# the application\'s own settings\nserver.port = 8080\n'
SETENV = b'#!/bin/sh\nJVM_SUPPORT_RECOMMENDED_ARGS=""\n'
PASSWORD = 'Fil3-5afety-Pa55'
NEIGHBOUR = 65534  # nobody
VICTIM = b'root:x:0:0:root:/root:/bin/bash\n'


def settings(jndi: str = 'mail/Session') -> dict:
    return {
        'product': 'generic',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required',
                   'jndi': {'name': jndi, 'session_type': 'jakarta.mail.Session'}},
        'auth': {'method': 'basic', 'username': 'app', 'password': PASSWORD},
        'sender': {'from_address': 'app@example.com', 'from_name': 'Example App'},
    }


def run(name: str, args: dict, **kwargs) -> tuple[int, dict]:
    proc = module_process(name, args, **kwargs)
    assert 'Traceback' not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert PASSWORD not in proc.stdout + proc.stderr and STORE_CANARY not in proc.stdout + proc.stderr
    assert 'exception' not in result, result.get('exception')
    return proc.returncode, result


def warnings(result: dict) -> str:
    """The warnings' text (Ansible 2.19 returns them as structured summaries)."""
    return json.dumps(result.get('warnings', []))


def tomcat_args(path: pathlib.Path, **extra) -> dict:
    return dict({'path': str(path), 'settings': settings(), 'context_path': ''}, **extra)


def properties_args(path: pathlib.Path, **extra) -> dict:
    return dict({'path': str(path), 'settings': settings(), 'flavour': 'spring'}, **extra)


WRITERS = {
    'server.xml': ('tomcat_mail_resource', 'server.xml', SERVER_XML, tomcat_args),
    'properties': ('mail_properties', 'application.properties', PROPERTIES, properties_args),
}


@pytest.fixture(params=sorted(WRITERS))
def writer(request):
    return WRITERS[request.param]


def _file(directory: pathlib.Path, name: str, content: bytes, mode: int = 0o640) -> pathlib.Path:
    path = directory / name
    path.write_bytes(content)
    path.chmod(mode)
    return path


# --- backups ----------------------------------------------------------------------------------

def _plant_at_backup_names(path: pathlib.Path, plant) -> callable:
    """A preexec_fn: in the module's own process (same pid after exec), plant something at every
    backup name the next 60 seconds can give it: <file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~."""
    def apply() -> None:
        now = time.time()
        for second in range(-1, 60):
            stamp = time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(now + second))
            plant(pathlib.Path(f'{path}.{os.getpid()}.{stamp}'))
    return apply


@pytest.mark.parametrize('planted', ['symlink', 'neighbour-file'])
def test_backup_name_taken_fails_and_the_planted_target_gets_nothing(writer, planted, tmp_path):
    module, name, initial, args = writer
    conf = tmp_path / 'conf'
    conf.mkdir()
    path = _file(conf, name, initial)
    victim = _file(tmp_path, 'victim', VICTIM, 0o644)

    def plant(link: pathlib.Path) -> None:
        if planted == 'symlink':
            os.symlink(victim, link)
        else:  # a file the neighbour owns and can read, whatever mode the copy would give it
            link.write_bytes(b'')
            os.chown(link, NEIGHBOUR, NEIGHBOUR)

    rc, result = run(module, args(path, backup=True), preexec_fn=_plant_at_backup_names(path, plant))
    assert rc == 1 and result['failed'], result
    assert 'backup' in result['msg'] and 'exists already' in result['msg'] and str(path) in result['msg'], result['msg']
    assert path.read_bytes() == initial
    assert victim.read_bytes() == VICTIM
    planted_files = [p for p in conf.iterdir() if p.name != name]
    assert planted_files and all(p.is_symlink() or p.stat().st_size == 0 for p in planted_files)


def test_backup_has_the_files_own_mode(writer, tmp_path):
    module, name, initial, args = writer
    path = _file(tmp_path, name, initial, 0o600)
    rc, result = run(module, args(path, backup=True))
    assert rc == 0 and result['changed'], result
    backup = pathlib.Path(result['backup_file'])
    assert backup.parent == tmp_path and backup.name.startswith(name + '.') and backup.name.endswith('~')
    assert not backup.is_symlink() and backup.read_bytes() == initial
    assert oct(backup.stat().st_mode & 0o777) == '0o600'
    assert oct(path.stat().st_mode & 0o777) == '0o600'


def test_check_mode_writes_no_backup_and_no_lock_file(writer, tmp_path):
    module, name, initial, args = writer
    path = _file(tmp_path, name, initial)
    rc, result = run(module, args(path, backup=True), check_mode=True)
    assert rc == 0 and result['changed'], result
    assert sorted(p.name for p in tmp_path.iterdir()) == [name] and path.read_bytes() == initial


# --- symlinks ---------------------------------------------------------------------------------

def test_symlink_is_followed_and_stays(writer, tmp_path):
    module, name, initial, args = writer
    shared = tmp_path / 'shared'
    shared.mkdir()
    real = _file(shared, name, initial)
    conf = tmp_path / 'conf'
    conf.mkdir()
    link = conf / name
    link.symlink_to(real)
    rc, result = run(module, args(link, backup=True))
    assert rc == 0 and result['changed'], result
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() != initial and b'smtp.example.com' in real.read_bytes()
    assert oct(real.stat().st_mode & 0o777) == '0o640'
    # the backup is of the file, next to the file
    assert pathlib.Path(result['backup_file']).parent == shared
    assert sorted(p.name for p in conf.iterdir()) == [name]
    rc, result = run(module, args(link))
    assert rc == 0 and result['changed'] is False, result


def test_neighbours_symlink_to_a_root_file_is_refused(writer, tmp_path):
    module, name, _initial, args = writer
    victim = _file(tmp_path, 'passwd', VICTIM, 0o640)
    conf = tmp_path / 'conf'
    conf.mkdir(mode=0o1777)
    link = conf / name
    link.symlink_to(victim)
    os.lchown(link, NEIGHBOUR, NEIGHBOUR)
    rc, result = run(module, args(link))
    assert rc == 1 and result['failed'], result
    assert 'refusing to follow the symlink' in result['msg'] and str(victim) in result['msg'], result['msg']
    assert str(link) in result['msg']
    assert victim.read_bytes() == VICTIM and link.is_symlink()
    assert sorted(p.name for p in conf.iterdir()) == [name]


def test_dangling_symlink_is_refused(writer, tmp_path):
    module, name, _initial, args = writer
    link = tmp_path / name
    link.symlink_to(tmp_path / 'nowhere' / name)
    rc, result = run(module, args(link))
    assert rc == 1 and 'does not exist' in result['msg'] and str(link) in result['msg'], result['msg']
    assert link.is_symlink() and not (tmp_path / 'nowhere').exists()


# --- secrets in world-readable files ----------------------------------------------------------

def test_world_readable_file_with_a_password_is_refused(writer, tmp_path):
    module, name, initial, args = writer
    path = _file(tmp_path, name, initial, 0o644)
    rc, result = run(module, args(path, backup=True))
    assert rc == 1 and result['failed'], result
    for words in (str(path), 'readable by every user', 'allow_world_readable', 'mail_allow_world_readable'):
        assert words in result['msg'], result['msg']
    assert path.read_bytes() == initial and sorted(p.name for p in tmp_path.iterdir()) == [name]

    rc, result = run(module, args(path, allow_world_readable=True))
    assert rc == 0 and result['changed'], result
    assert 'readable by every user' in warnings(result), result
    assert oct(path.stat().st_mode & 0o777) == '0o644'
    rc, result = run(module, args(path, allow_world_readable=True))
    assert rc == 0 and result['changed'] is False
    assert 'readable by every user' in warnings(result), result  # every run

    # a mode given with the task that closes the file is fine: it is set before the content
    path.write_bytes(initial)
    path.chmod(0o644)
    rc, result = run(module, args(path, mode='0640'))
    assert rc == 0 and result['changed'] and oct(path.stat().st_mode & 0o777) == '0o640', result


def test_group_readable_is_allowed(writer, tmp_path):
    module, name, initial, args = writer
    path = _file(tmp_path, name, initial, 0o640)
    rc, result = run(module, args(path))
    assert rc == 0 and result['changed'] and not result.get('warnings'), result


# --- jvm_options_file -------------------------------------------------------------------------

_RELAY_PEM: dict[pathlib.Path, str] = {}


def _truststore_args(tmp_path: pathlib.Path, setenv: pathlib.Path, keytool: str, **extra) -> dict:
    # One relay certificate per test: a new one for the same alias would be a rotation, refused.
    pem = _RELAY_PEM.setdefault(tmp_path, self_signed_identity().chain_pem())
    return dict({'path': str(tmp_path / 'trust.p12'), 'store_password': STORE_CANARY, 'pem_content': pem,
                 'alias': 'relay', 'keytool': keytool, 'jvm_options_file': str(setenv),
                 'jvm_options_variable': 'CATALINA_OPTS'}, **extra)


def test_jvm_options_symlink_followed_neighbours_refused(tmp_path, keytool_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    real = _file(shared, 'setenv.sh', SETENV, 0o750)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    link = bin_dir / 'setenv.sh'
    link.symlink_to(real)
    rc, result = run('truststore_cert', _truststore_args(tmp_path, link, keytool_path))
    assert rc == 0 and result['changed'], result
    assert link.is_symlink() and b'trustStorePassword' in real.read_bytes()
    assert result['jvm_options']['path'] == str(real)

    victim = _file(tmp_path, 'passwd', VICTIM, 0o640)
    link.unlink()
    link.symlink_to(victim)
    os.lchown(link, NEIGHBOUR, NEIGHBOUR)
    store = tmp_path / 'trust2.p12'
    rc, result = run('truststore_cert', _truststore_args(tmp_path, link, keytool_path, path=str(store)))
    assert rc == 1 and 'refusing to follow the symlink' in result['msg'] and str(victim) in result['msg'], result
    assert victim.read_bytes() == VICTIM and not store.exists()


def test_world_readable_setenv_is_refused_before_the_store_is_touched(tmp_path, keytool_path):
    setenv = _file(tmp_path, 'setenv.sh', SETENV, 0o755)
    store = tmp_path / 'trust.p12'
    rc, result = run('truststore_cert', _truststore_args(tmp_path, setenv, keytool_path))
    assert rc == 1 and result['failed'], result
    for words in (str(setenv), 'readable by every user', 'allow_world_readable', 'mail_allow_world_readable'):
        assert words in result['msg'], result['msg']
    assert setenv.read_bytes() == SETENV and not store.exists()

    rc, result = run('truststore_cert', _truststore_args(tmp_path, setenv, keytool_path, allow_world_readable=True))
    assert rc == 0 and result['changed'], result
    assert b'trustStorePassword' in setenv.read_bytes()
    assert 'readable by every user' in warnings(result), result

    fresh = tmp_path / 'new' / 'setenv.sh'
    fresh.parent.mkdir()
    # A store of its own: every _truststore_args has a new self-signed certificate, which the
    # rotation policy would (rightly) refuse to put over the one the runs above stored.
    rc, result = run('truststore_cert', _truststore_args(tmp_path, fresh, keytool_path,
                                                         path=str(fresh.parent / 'trust.p12')))
    assert rc == 0 and oct(fresh.stat().st_mode & 0o777) == '0o640', result


# --- lost updates -----------------------------------------------------------------------------

ROUNDS = 20


def _together(*jobs) -> list[tuple[int, dict]]:
    """Run the jobs (module name, args) as processes started at the same moment."""
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(index: int, name: str, args: dict) -> None:
        barrier.wait()
        results[index] = run(name, args)

    threads = [threading.Thread(target=work, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_runs_adding_resources_to_one_server_xml_both_land(tmp_path):
    lost = []
    for round_ in range(ROUNDS):
        path = _file(tmp_path, f'server-{round_}.xml', SERVER_XML)
        outcomes = _together(*(('tomcat_mail_resource', {'path': str(path), 'settings': settings(name),
                                                         'context_path': ''}) for name in ('mail/A', 'mail/B')))
        assert all(rc == 0 and result['changed'] for rc, result in outcomes), outcomes
        names = {r.get('name') for r in ET.parse(path).iter('Resource')}
        if not {'mail/A', 'mail/B'} <= names:
            lost.append(round_)
    assert lost == [], f'{len(lost)} of {ROUNDS} rounds lost a Resource'


def test_two_runs_adding_keys_to_one_properties_file_both_land(tmp_path):
    lost = []
    for round_ in range(ROUNDS):
        path = _file(tmp_path, f'app-{round_}.properties', PROPERTIES)
        outcomes = _together(*(('mail_properties', {'path': str(path), 'settings': settings(), 'flavour': 'javamail',
                                                    'extra_keys': {key: 'yes'}}) for key in ('app.a', 'app.b')))
        assert all(rc == 0 for rc, _result in outcomes), outcomes
        values = PropertiesFile(path.read_bytes().decode('latin-1')).as_dict()
        if not ('app.a' in values and 'app.b' in values and values['server.port'] == '8080'):
            lost.append(round_)
    assert lost == [], f'{len(lost)} of {ROUNDS} rounds lost a key'
