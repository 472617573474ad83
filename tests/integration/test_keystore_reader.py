"""The JVM-free keystore reader agrees with keytool, and defers to it whenever in doubt."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import Keytool, read_store

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which('keytool') is None, reason='no JDK keytool on PATH')]
PASSWORD = 'Canary-5ecret-Pa55'


def _keytool(*args):
    subprocess.run(['keytool', *args], check=True, capture_output=True, timeout=120, env={'LC_ALL': 'C', 'PATH': '/usr/bin:/bin'})


@pytest.mark.parametrize('store_type', ['jks', 'pkcs12'])
def test_reader_matches_keytool(tmp_path, smtp_pki, store_type):
    store = str(tmp_path / f'store.{store_type}')
    for alias, cert in (('mailwright-relay', smtp_pki.good), ('Other-CA', smtp_pki.self_signed),
                        ('ca', smtp_pki.wrong_name)):
        _keytool('-importcert', '-noprompt', '-alias', alias, '-file', cert.cert_file, '-keystore', store,
                 '-storetype', store_type, '-storepass', PASSWORD)
    listed = Keytool('keytool').list_entries(store, PASSWORD, store_type)
    read = read_store(store, PASSWORD, store_type)
    assert read is not None, 'a trusted-certificates store is read without the JVM'
    assert sorted((e.alias, e.entry_type.lower(), e.sha256) for e in read) == \
        sorted((e.alias, e.entry_type.lower(), e.sha256) for e in listed)
    assert len(read) == 3
    assert read_store(store, 'wrong-password', store_type) is None, 'a wrong password is left to keytool'


@pytest.mark.parametrize('store_type', ['jks', 'pkcs12'])
def test_reader_defers_on_private_keys(tmp_path, store_type):
    store = str(tmp_path / f'keys.{store_type}')
    _keytool('-genkeypair', '-alias', 'app', '-keyalg', 'EC', '-dname', 'CN=app', '-keystore', store,
             '-storetype', store_type, '-storepass', PASSWORD, '-keypass', PASSWORD)
    read = read_store(store, PASSWORD, store_type)
    listed = Keytool('keytool').list_entries(store, PASSWORD, store_type)
    if read is not None:  # JKS private key entries are parsed; PKCS#12 ones are left to keytool
        assert [(e.alias, e.entry_type, e.sha256) for e in read] == [(e.alias, e.entry_type, e.sha256) for e in listed]
    else:
        assert store_type == 'pkcs12'
