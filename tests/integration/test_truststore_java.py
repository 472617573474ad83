"""The proof that the import makes Java trust the relay: a Java SMTP client, compiled here with
the JDK's javac, fails the TLS handshake before truststore_cert runs and succeeds after it,
configured by nothing but the standard javax.net.ssl.trustStore* system properties.
"""
from __future__ import annotations

import hashlib
import pathlib
import shutil
import subprocess

import pytest

from tests.integration.conftest_truststore import CANARY, private_ca, self_signed_identity
from tests.support.modrun import run_module

pytest_plugins = ['tests.integration.conftest_truststore']
pytestmark = pytest.mark.integration

SOURCE = pathlib.Path(__file__).resolve().parents[1] / 'support' / 'java' / 'StartTlsProbe.java'
JAVAC = shutil.which('javac')
JAVA = shutil.which('java')


@pytest.fixture(scope='module')
def probe_classes(tmp_path_factory) -> str:
    if not (JAVAC and JAVA):
        pytest.skip('no JDK (javac/java) on PATH')
    out = tmp_path_factory.mktemp('java-probe')
    proc = subprocess.run([JAVAC, '-d', str(out), str(SOURCE)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return str(out)


def java_probe(classes: str, server, props: dict[str, str]) -> subprocess.CompletedProcess:
    # -Duser.language keeps messages stable; verify-host turns on endpoint identification,
    # so the server name (IP SAN 127.0.0.1) is checked as strictly as a careful client would.
    args = [JAVA, '-Duser.language=en', *[f'-D{k}={v}' for k, v in props.items()], '-cp', classes,
            'StartTlsProbe', server.host, str(server.port), server.mode, 'verify-host']
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def import_cert(server, store, store_type, keytool_path, **extra) -> dict:
    rc, result = run_module('truststore_cert', dict({
        'settings': server.settings(), 'path': str(store), 'store_type': store_type,
        'store_password': CANARY, 'keytool': keytool_path}, **extra))
    assert rc == 0, result
    return result


def trust_props(store, store_type) -> dict[str, str]:
    if store_type == 'jks':
        # A JKS truststore opens without a password (integrity is then unchecked): the store path
        # alone is enough, which shows nothing else is doing the trusting.
        return {'javax.net.ssl.trustStore': str(store)}
    # Certificates in a PKCS12 store made by keytool are encrypted: the JVM needs the password.
    return {'javax.net.ssl.trustStore': str(store), 'javax.net.ssl.trustStorePassword': CANARY,
            'javax.net.ssl.trustStoreType': 'PKCS12'}


@pytest.mark.parametrize('store_type', ['jks', 'pkcs12'])
@pytest.mark.parametrize('mode', ['starttls', 'smtps'])
def test_java_trusts_the_relay_only_after_the_import(mode, store_type, probe_classes, tls_smtp_server,
                                                     keytool_path, tmp_path):
    server = tls_smtp_server(mode, self_signed_identity())
    store = tmp_path / f'trust.{store_type}'
    # The store exists and opens, but holds some other certificate only.
    other = tmp_path / 'other.pem'
    other.write_text(self_signed_identity('other.example.test').chain_pem())
    rc, res = run_module('truststore_cert', {'pem_path': str(other), 'alias': 'other', 'path': str(store),
                                             'store_type': store_type, 'store_password': CANARY,
                                             'keytool': keytool_path})
    assert rc == 0, res

    # The JRE's default cacerts does not trust the relay either.
    default = java_probe(probe_classes, server, {})
    assert default.returncode == 2, default.stdout + default.stderr
    before = java_probe(probe_classes, server, trust_props(store, store_type))
    assert before.returncode == 2, before.stdout + before.stderr
    assert 'HANDSHAKE-FAILED' in before.stdout and 'PKIX path building failed' in before.stdout
    if mode == 'starttls':
        # It got as far as STARTTLS: the failure is the certificate, not the conversation.
        assert 'C: STARTTLS' in before.stdout and 'S: 220' in before.stdout

    result = import_cert(server, store, store_type, keytool_path)
    assert result['changed'] is True

    after = java_probe(probe_classes, server, trust_props(store, store_type))
    assert after.returncode == 0, after.stdout + after.stderr
    assert '* TLS established' in after.stdout and after.stdout.rstrip().endswith('OK')
    assert 'S: 221' in after.stdout


def test_java_trusts_renewed_relay_via_private_ca_root(probe_classes, tls_smtp_server, keytool_path, tmp_path):
    ca = private_ca()
    server = tls_smtp_server('starttls', ca.issue())
    store = tmp_path / 'trust.jks'
    props = trust_props(store, 'jks')

    result = import_cert(server, store, 'jks', keytool_path, certificate='root', alias='corp-ca')
    assert result['certificate']['sha256'].replace(':', '').lower() == hashlib.sha256(ca.der).hexdigest()
    assert java_probe(probe_classes, server, props).returncode == 0

    # The relay renews its certificate with the same CA: Java still trusts it, nothing re-imported.
    server.rotate(ca.issue())
    assert import_cert(server, store, 'jks', keytool_path, certificate='root', alias='corp-ca')['changed'] is False
    renewed = java_probe(probe_classes, server, props)
    assert renewed.returncode == 0, renewed.stdout

    # A relay certificate from another CA is not trusted by that store.
    server.rotate(private_ca('Someone Else CA').issue())
    foreign = java_probe(probe_classes, server, props)
    assert foreign.returncode == 2, foreign.stdout
