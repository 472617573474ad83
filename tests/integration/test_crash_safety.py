# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash safety: an interrupted write leaves server.xml, .properties files and truststores old or new.

The real module runs as its own process and is interrupted for real:

* SIGKILL between the complete temporary file and the rename (a sitecustomize on PYTHONPATH
  wraps os.replace), and right after the rename;
* a full disk, twice: RLIMIT_FSIZE lowered in the child (writes fail with EFBIG), and a 64 KiB
  tmpfs filled to the last block (writes fail with ENOSPC);
* for truststore_cert, keytool itself killed by SIGKILL in the middle of its work, or leaving a
  torn work copy behind.

After each, the target is byte-identical to before (or, after the rename, the complete new file),
it still parses (ElementTree, our .properties reader, ``keytool -list``), the module said what
went wrong without a traceback, and a normal run afterwards brings the file to the wanted state.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import pathlib
import shutil
import stat
import subprocess
import textwrap
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import PropertiesFile
from tests.support.crash import crash_env, fsize_limit, run_module_raw
from tests.support.keytool import keytool_listing

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVER_XML = (ROOT / 'tests' / 'fixtures' / 'tomcat' / 'server-with-context.xml').read_bytes()
CANARY = 'Canary-5ecret-Pa55'
STOREPASS = 'Store-5ecret-Pa55'
KEYTOOL = shutil.which('keytool')

SETTINGS = {
    'product': 'generic',
    'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required',
               'jndi': {'name': 'mail/Session', 'session_type': 'jakarta.mail.Session'}},
    'auth': {'method': 'basic', 'username': 'app', 'password': CANARY},
    'sender': {'from_address': 'app@example.com', 'from_name': 'Example App'},
}
PROPERTIES = ('# The application\'s own settings\nserver.port = 8080\n'
              + ''.join(f'app.key{index} = value {index} with some length to make the file bigger\n'
                        for index in range(40))).encode('latin-1')


# --- the three kinds of file ------------------------------------------------------------------

def _xml_ok(path: pathlib.Path) -> None:
    tree = ET.parse(path)
    assert tree.getroot().tag == 'Server'


def _xml_new(path: pathlib.Path) -> None:
    _xml_ok(path)
    resources = [r for r in ET.parse(path).iter('Resource') if r.get('name') == 'mail/Session']
    assert len(resources) == 1 and resources[0].get('mail.smtp.host') == 'smtp.example.com'


def _props_ok(path: pathlib.Path) -> None:
    values = PropertiesFile(path.read_bytes().decode('latin-1')).as_dict()
    assert values['server.port'] == '8080' and values['app.key39'].startswith('value 39')


def _props_new(path: pathlib.Path) -> None:
    _props_ok(path)
    values = PropertiesFile(path.read_bytes().decode('latin-1')).as_dict()
    assert values['spring.mail.host'] == 'smtp.example.com' and values['spring.mail.password'] == CANARY


class Target:
    """One module and the file it writes."""

    def __init__(self, name, module, filename, initial, args, verify_old, verify_new):
        self.name, self.module, self.filename, self.initial = name, module, filename, initial
        self.args, self.verify_old, self.verify_new = args, verify_old, verify_new


TARGETS = [
    Target('server.xml', 'tomcat_mail_resource', 'server.xml', SERVER_XML,
           lambda path: {'path': str(path), 'settings': SETTINGS, 'context_path': ''}, _xml_ok, _xml_new),
    Target('properties', 'mail_properties', 'application.properties', PROPERTIES,
           lambda path: {'path': str(path), 'settings': SETTINGS, 'flavour': 'spring'}, _props_ok, _props_new),
]


def _leftovers(directory: pathlib.Path, filename: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != filename)


def _clean_failure(outcome, path: pathlib.Path) -> dict:
    """The module failed with a JSON result that says what and where, and no traceback."""
    assert 'Traceback' not in outcome.stderr, outcome.stderr[-3000:]
    result = outcome.result
    assert result is not None, f'no JSON result (rc={outcome.returncode}): {outcome.stdout[-2000:]} {outcome.stderr[-2000:]}'
    assert result.get('failed') and outcome.returncode == 1, result
    assert 'exception' not in result, result.get('exception')
    assert str(path) in result['msg'] or path.name in result['msg'], result['msg']
    assert CANARY not in outcome.stdout + outcome.stderr
    return result


@pytest.fixture(params=TARGETS, ids=[t.name for t in TARGETS])
def target(request):
    return request.param


@pytest.fixture
def workdir(tmp_path):
    directory = tmp_path / 'conf'
    directory.mkdir()
    return directory


@pytest.mark.parametrize('where', ['before-replace', 'after-replace'])
def test_killed_around_the_rename(target, workdir, where):
    path = workdir / target.filename
    path.write_bytes(target.initial)
    outcome = run_module_raw(target.module, target.args(path), env=crash_env(where, target.filename))
    assert outcome.killed, (outcome.returncode, outcome.stdout, outcome.stderr[-2000:])
    if where == 'before-replace':
        assert path.read_bytes() == target.initial
        target.verify_old(path)
    else:
        target.verify_new(path)
    # The only thing a kill can leave is the dot-named temporary file, never a torn target.
    for name in _leftovers(workdir, target.filename):
        assert name.startswith('.' + target.filename + '.') and name.endswith('.tmp'), name
    # The next normal run recovers: the wanted content, then nothing left to change.
    outcome = run_module_raw(target.module, target.args(path))
    assert outcome.returncode == 0, outcome.stdout[-2000:]
    assert outcome.result['changed'] is (where == 'before-replace')
    target.verify_new(path)
    again = run_module_raw(target.module, target.args(path))
    assert again.returncode == 0 and again.result['changed'] is False, again.stdout[-2000:]


def test_file_size_limit_fails_cleanly(target, workdir):
    """RLIMIT_FSIZE below the new file's size: the temporary write fails with EFBIG."""
    path = workdir / target.filename
    path.write_bytes(target.initial)
    outcome = run_module_raw(target.module, target.args(path), preexec_fn=fsize_limit(len(target.initial) // 2))
    result = _clean_failure(outcome, path)
    assert 'too large' in result['msg'].lower(), result['msg']
    assert path.read_bytes() == target.initial
    target.verify_old(path)
    assert _leftovers(workdir, target.filename) == []
    outcome = run_module_raw(target.module, target.args(path))
    assert outcome.returncode == 0 and outcome.result['changed'], outcome.stdout[-2000:]
    target.verify_new(path)


class TmpfsDisk:
    """A 64 KiB tmpfs; `fill()` uses up every free block, `free()` gives them back."""

    def __init__(self, mountpoint: pathlib.Path):
        self.path = mountpoint

    def __truediv__(self, name: str) -> pathlib.Path:
        return self.path / name

    def fill(self) -> None:
        with open(self.path / 'filler', 'wb', buffering=0) as handle:
            try:
                while True:
                    handle.write(b'\0' * 512)
                    handle.flush()
            except OSError:
                pass
        try:  # whatever is left is smaller than one write; take it too
            with open(self.path / 'crumbs', 'wb', buffering=0) as handle:
                handle.write(b'\0' * 511)
        except OSError:
            pass

    def free(self) -> None:
        for name in ('filler', 'crumbs'):
            (self.path / name).unlink(missing_ok=True)


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs mounted for this test only (unmounted afterwards)."""
    mountpoint = tmp_path / 'tmpfs'
    mountpoint.mkdir()
    proc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', str(mountpoint)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {proc.stderr.strip()}')
    try:
        yield TmpfsDisk(mountpoint)
    finally:
        subprocess.run(['umount', '-l', str(mountpoint)], capture_output=True, check=False)


def test_full_disk_fails_cleanly(target, full_disk):
    path = full_disk / target.filename
    path.write_bytes(target.initial)
    full_disk.fill()
    outcome = run_module_raw(target.module, target.args(path))
    result = _clean_failure(outcome, path)
    assert 'space' in result['msg'].lower(), result['msg']
    assert path.read_bytes() == target.initial
    target.verify_old(path)
    assert sorted(set(_leftovers(full_disk.path, target.filename)) - {'filler', 'crumbs'}) == []
    full_disk.free()
    outcome = run_module_raw(target.module, target.args(path))
    assert outcome.returncode == 0 and outcome.result['changed'], outcome.stdout[-2000:]
    target.verify_new(path)


def test_backup_on_a_full_disk_fails_cleanly(target, full_disk):
    """backup: true with no room left: no truncated backup stays, the file is intact, the message
    names the file and the backup option."""
    path = full_disk / target.filename
    path.write_bytes(target.initial)
    full_disk.fill()
    outcome = run_module_raw(target.module, dict(target.args(path), backup=True))
    result = _clean_failure(outcome, path)
    assert 'backup' in result['msg'] and 'space' in result['msg'].lower(), result['msg']
    assert path.read_bytes() == target.initial
    target.verify_old(path)
    assert sorted(set(_leftovers(full_disk.path, target.filename)) - {'filler', 'crumbs'}) == []
    full_disk.free()
    outcome = run_module_raw(target.module, dict(target.args(path), backup=True))
    assert outcome.returncode == 0 and outcome.result['changed'], outcome.stdout[-2000:]
    target.verify_new(path)
    assert pathlib.Path(outcome.result['backup_file']).read_bytes() == target.initial


def test_backup_past_the_file_size_limit_fails_cleanly(target, workdir):
    """RLIMIT_FSIZE below the file's size: the backup is cut short (EFBIG) and removed again."""
    path = workdir / target.filename
    path.write_bytes(target.initial)
    outcome = run_module_raw(target.module, dict(target.args(path), backup=True),
                             preexec_fn=fsize_limit(len(target.initial) // 2))
    result = _clean_failure(outcome, path)
    assert 'backup' in result['msg'] and 'too large' in result['msg'].lower(), result['msg']
    assert path.read_bytes() == target.initial
    assert _leftovers(workdir, target.filename) == []


# --- truststores ------------------------------------------------------------------------------

def _certificate_pem(cn: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=90)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def _keytool_list(path: pathlib.Path) -> str:
    return keytool_listing(path, STOREPASS)


@pytest.fixture(scope='module')
def certificates():
    if KEYTOOL is None:
        pytest.skip('no keytool on PATH (JDK)')
    return {'old': _certificate_pem('old.relay.test'), 'new': _certificate_pem('new.relay.test')}


@pytest.fixture(params=['pkcs12', 'jks'])
def store(request, tmp_path, certificates):
    """A truststore holding one certificate (alias 'old'), and its bytes."""
    directory = tmp_path / 'security'
    directory.mkdir()
    path = directory / f'truststore.{"p12" if request.param == "pkcs12" else "jks"}'
    pem = tmp_path / 'old.pem'
    pem.write_text(certificates['old'])
    subprocess.run([KEYTOOL, '-importcert', '-noprompt', '-alias', 'old', '-file', str(pem), '-keystore', str(path),
                    '-storepass', STOREPASS, '-storetype', request.param.upper()],
                   capture_output=True, check=True, timeout=120)
    return path


def _truststore_args(path: pathlib.Path, certificates, **extra) -> dict:
    return dict({'path': str(path), 'store_password': STOREPASS, 'pem_content': certificates['new'],
                 'alias': 'relay', 'seed': 'none'}, **extra)


def _assert_store_old(path: pathlib.Path, before: bytes) -> None:
    assert path.read_bytes() == before
    listing = _keytool_list(path)
    assert 'old,' in listing and 'relay,' not in listing, listing


def _assert_recovers(path: pathlib.Path, certificates) -> None:
    outcome = run_module_raw('truststore_cert', _truststore_args(path, certificates))
    assert outcome.returncode == 0 and outcome.result['changed'], outcome.stdout[-2000:] + outcome.stderr[-2000:]
    listing = _keytool_list(path)
    assert 'old,' in listing and 'relay,' in listing, listing
    again = run_module_raw('truststore_cert', _truststore_args(path, certificates))
    assert again.returncode == 0 and again.result['changed'] is False, again.stdout[-2000:]


def _no_work_copies(directory: pathlib.Path, filename: str) -> None:
    assert _leftovers(directory, filename) == [], _leftovers(directory, filename)


@pytest.mark.parametrize('where', ['before-replace', 'after-replace'])
def test_truststore_killed_around_the_rename(store, certificates, where):
    before = store.read_bytes()
    outcome = run_module_raw('truststore_cert', _truststore_args(store, certificates),
                             env=crash_env(where, store.name))
    assert outcome.killed, (outcome.returncode, outcome.stdout[-2000:], outcome.stderr[-2000:])
    if where == 'before-replace':
        _assert_store_old(store, before)
    else:
        listing = _keytool_list(store)
        assert 'old,' in listing and 'relay,' in listing, listing
    # A kill leaves at most the dot-named work directory / temporary file, never a torn store.
    for name in _leftovers(store.parent, store.name):
        assert name.startswith('.' + store.name + '.'), name
    if where == 'before-replace':
        _assert_recovers(store, certificates)


def _fake_keytool(tmp_path: pathlib.Path, behaviour: str) -> str:
    """A keytool that behaves like the real one, except on -importcert (see `behaviour`)."""
    script = tmp_path / f'keytool-{behaviour}'
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        REAL={KEYTOOL}
        case " $* " in
          *" -importcert "*) ;;
          *) exec "$REAL" "$@" ;;
        esac
        # the store is the argument after -keystore
        store=""; prev=""
        for arg in "$@"; do [ "$prev" = "-keystore" ] && store="$arg"; prev="$arg"; done
        case "{behaviour}" in
          sigkill)
            # keytool killed by SIGKILL while it works
            # (0.15 s is well inside the JVM's start-up; the status is "killed" either way)
            "$REAL" "$@" & pid=$!
            sleep 0.15; kill -9 $pid 2>/dev/null; wait $pid; exit 137 ;;
          torn)
            # keytool dies half way through writing the store: half a file, killed status
            "$REAL" "$@" >/dev/null 2>&1
            size=$(wc -c < "$store"); head -c $((size / 2)) "$store" > "$store.half" && mv "$store.half" "$store"
            kill -9 $$ ;;
          lying)
            # keytool says it succeeded but left half a store behind
            "$REAL" "$@" >/dev/null 2>&1
            size=$(wc -c < "$store"); head -c $((size / 2)) "$store" > "$store.half" && mv "$store.half" "$store"
            exit 0 ;;
        esac
    """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(script)


@pytest.mark.parametrize('behaviour', ['sigkill', 'torn', 'lying'])
def test_truststore_keytool_dies(store, certificates, tmp_path, behaviour):
    before = store.read_bytes()
    outcome = run_module_raw('truststore_cert', _truststore_args(store, certificates,
                                                                 keytool=_fake_keytool(tmp_path, behaviour)))
    result = _clean_failure(outcome, store)
    assert 'was not changed' in result['msg'], result['msg']
    assert STOREPASS not in outcome.stdout + outcome.stderr
    _assert_store_old(store, before)
    _no_work_copies(store.parent, store.name)
    _assert_recovers(store, certificates)


def test_truststore_file_size_limit(store, certificates):
    """RLIMIT_FSIZE below the store's size: copying or writing the store fails, the store stays."""
    before = store.read_bytes()
    outcome = run_module_raw('truststore_cert', _truststore_args(store, certificates),
                             preexec_fn=fsize_limit(len(before) // 2))
    _clean_failure(outcome, store)
    _assert_store_old(store, before)
    _no_work_copies(store.parent, store.name)
    _assert_recovers(store, certificates)


def test_truststore_full_disk(certificates, full_disk, tmp_path):
    path = full_disk / 'truststore.p12'
    pem = tmp_path / 'old.pem'
    pem.write_text(certificates['old'])
    subprocess.run([KEYTOOL, '-importcert', '-noprompt', '-alias', 'old', '-file', str(pem), '-keystore', str(path),
                    '-storepass', STOREPASS, '-storetype', 'PKCS12'], capture_output=True, check=True, timeout=120)
    before = path.read_bytes()
    full_disk.fill()
    outcome = run_module_raw('truststore_cert', _truststore_args(path, certificates))
    _clean_failure(outcome, path)
    _assert_store_old(path, before)
    assert sorted(set(_leftovers(full_disk.path, path.name)) - {'filler', 'crumbs'}) == []
    full_disk.free()
    _assert_recovers(path, certificates)


def test_the_crash_hook_is_live(workdir):
    """The sitecustomize hook really loads: without it the kill tests above would prove nothing."""
    path = workdir / 'server.xml'
    path.write_bytes(SERVER_XML)
    outcome = run_module_raw('tomcat_mail_resource', TARGETS[0].args(path), env=crash_env('before-replace', 'server.xml'))
    assert outcome.returncode == -9
    assert base64.b64encode(path.read_bytes()) == base64.b64encode(SERVER_XML)
    assert os.listdir(workdir) != ['server.xml']  # the complete temporary file is still there
