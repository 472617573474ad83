"""What the JVM will meet, probed against real peers: an aiosmtpd relay whose leaf is signed by an
intermediate CA, serving the leaf alone or leaf + intermediate, over TLS 1.3 or forced TLS 1.2; and
the probe and the Python test send verifying the relay against a truststore truststore_cert made.
"""
from __future__ import annotations

import json
import pathlib
import ssl

import pytest
from tests.support.certs import CertificateAuthority
from tests.support.chain_pki import ChainPKI
from tests.support.modrun import run_module
from tests.support.smtp_server import SMTPTestServer

pytestmark = pytest.mark.integration

CANARY = 'Canary-Tru5t-Pa55'
USER = 'app'


class Relay(SMTPTestServer):
    """The shared aiosmtpd peer, with the server side's highest TLS version pinned when asked."""

    def __init__(self, *args, maximum_version: ssl.TLSVersion | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.maximum_version = maximum_version

    def _tls_context(self) -> ssl.SSLContext:
        context = super()._tls_context()
        if self.maximum_version is not None:
            context.maximum_version = self.maximum_version
        return context


@pytest.fixture(scope='module')
def pki(tmp_path_factory) -> ChainPKI:
    return ChainPKI(tmp_path_factory.mktemp('chain-pki'))


@pytest.fixture
def relay(pki):
    started = []

    def start(cert_file: pathlib.Path, **kwargs) -> Relay:
        server = Relay('starttls', cert=(str(cert_file), str(pki.key_file)), credentials={USER: CANARY}, **kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def settings(server) -> dict:
    return {'product': 'generic',
            'server': {'host': server.host, 'port': server.port, 'protocol': 'smtp', 'tls': 'required',
                       'timeout_ms': 5000},
            'auth': {'method': 'basic', 'username': USER, 'password': CANARY},
            'sender': {'from_address': 'app@example.test'},
            'test': {'recipients': ['ops@example.test']}}


def make_store(tmp_path: pathlib.Path, pem: str, name: str = 'trust.p12', store_type: str = 'pkcs12') -> pathlib.Path:
    """A truststore made by truststore_cert itself (seed none: only the given CA)."""
    store = tmp_path / name
    rc, res = run_module('truststore_cert', {'pem_content': pem, 'alias': 'corp-root', 'path': str(store),
                                             'store_password': CANARY, 'seed': 'none', 'store_type': store_type})
    assert rc == 0, res
    return store


def probe(server, **extra) -> tuple[int, dict]:
    rc, res = run_module('smtp_probe', dict({'settings': settings(server), 'check_credentials': True}, **extra))
    assert CANARY not in json.dumps(res), 'a secret leaked into the probe result'
    return rc, res


def test_leaf_only_is_an_incomplete_chain(pki, relay, tmp_path):
    server = relay(pki.leaf_only)
    store = make_store(tmp_path, pki.root_pem)
    rc, res = probe(server, truststore_path=str(store), truststore_password=CANARY)
    assert rc != 0, res
    tls = res['results'][0]['tls']
    assert tls['established'] is False or tls['verified'] is False
    assert tls['chain_complete'] is False and tls['missing_issuer'] == 'CN=mailwright Issuing CA 1', tls
    assert [c['subject'] for c in tls['chain']] == ['CN=127.0.0.1']
    kinds = [e['kind'] for e in res['results'][0]['errors']]
    assert 'incomplete_chain' in kinds, res['results'][0]['errors']
    assert 'Java does not fetch missing intermediates' in res['msg'] and 'incomplete chain' in res['msg']
    assert res['kind'] == 'tls'


@pytest.mark.parametrize('store_type', ['pkcs12', 'jks'])
def test_leaf_and_intermediate_is_complete(store_type, pki, relay, tmp_path):
    server = relay(pki.full)
    store = make_store(tmp_path, pki.root_pem, f'trust.{store_type}', store_type)
    rc, res = probe(server, truststore_path=str(store), truststore_password=CANARY, truststore_type=store_type)
    assert rc == 0, res.get('msg')
    target = res['results'][0]
    tls = target['tls']
    assert tls['verified'] is True and tls['chain_complete'] is True, tls
    assert tls['anchor'] == 'CN=mailwright Chain Root CA' and tls['missing_issuer'] is None
    assert [(c['subject'], c['issuer']) for c in tls['chain']] == [
        ('CN=127.0.0.1', 'CN=mailwright Issuing CA 1'), ('CN=mailwright Issuing CA 1', 'CN=mailwright Chain Root CA')]
    assert 19 <= tls['days_left'] <= 20 and tls['chain'][0]['days_left'] == tls['days_left']
    # 20 days left is under the 30-day threshold: a warning, not a failure.
    assert target['status'] == 'warn' and any('expires in' in w['message'] for w in target['warnings'])
    assert target['credentials']['ok'] is True


@pytest.mark.parametrize(('maximum', 'expected'), [(ssl.TLSVersion.TLSv1_2, 'TLSv1.2'), (None, 'TLSv1.3')])
def test_tls_version_is_what_the_server_negotiated(maximum, expected, pki, relay, tmp_path):
    server = relay(pki.full, maximum_version=maximum)
    store = make_store(tmp_path, pki.root_pem)
    rc, res = probe(server, truststore_path=str(store), truststore_password=CANARY)
    assert rc == 0, res.get('msg')
    tls = res['results'][0]['tls']
    assert tls['version'] == expected and tls['cipher'], tls
    if expected == 'TLSv1.2':
        assert not tls['cipher'].startswith('TLS_'), tls['cipher']  # a TLS 1.2 suite name (ECDHE-...)


def test_truststore_without_the_relay_ca_fails_naming_the_option(pki, relay, tmp_path):
    server = relay(pki.full)
    other = CertificateAuthority(tmp_path, 'other', common_name='Some Other CA')
    wrong = make_store(tmp_path, other.pem.decode('ascii'), 'wrong.p12')
    rc, res = probe(server, truststore_path=str(wrong), truststore_password=CANARY)
    assert rc != 0 and res['kind'] == 'tls', res
    assert 'certificate verification failed' in res['msg']
    assert f'verified against truststore_path {wrong} (1 certificates)' in res['msg'], res['msg']
    assert "trust the relay's CA in that truststore" in res['msg']
    assert res['results'][0]['credentials']['ok'] is None  # nothing was sent to an unverified relay
    assert server.auth_attempts == []


def test_truststore_wrong_password_and_missing_store_name_the_option(pki, relay, tmp_path):
    server = relay(pki.full)
    store = make_store(tmp_path, pki.root_pem)
    rc, res = probe(server, truststore_path=str(store), truststore_password='not-the-password')
    assert rc != 0 and 'truststore_path' in res['msg'] and 'truststore_password' in res['msg'], res
    rc, res = probe(server, truststore_path=str(tmp_path / 'none.p12'), truststore_password=CANARY)
    assert rc != 0 and f'truststore_path {tmp_path / "none.p12"}: no such file' in res['msg'], res
    assert server.connections == 0  # refused before any connection


def test_without_truststore_the_message_says_which_options_trust(pki, relay):
    server = relay(pki.full)
    rc, res = probe(server)
    assert rc != 0 and 'set truststore_path' in res['msg'] and 'ca_path' in res['msg'], res['msg']


def _send(server, tmp_path, **extra) -> tuple[int, dict]:
    rc, res = run_module('test_send', dict({'settings': settings(server), 'marker_path': str(tmp_path / 'proof.json'),
                                            'retries': 0}, **extra))
    assert CANARY not in json.dumps(res), 'a secret leaked into the test_send result'
    return rc, res


def test_test_send_verifies_against_the_truststore(pki, relay, tmp_path):
    """The Python proof trusts what the JVM trusts: the store, not the system CAs."""
    server = relay(pki.full)
    other = CertificateAuthority(tmp_path, 'other', common_name='Some Other CA')
    wrong = make_store(tmp_path, other.pem.decode('ascii'), 'wrong.p12')
    rc, res = _send(server, tmp_path, truststore_path=str(wrong), truststore_password=CANARY)
    assert rc != 0 and res['kind'] == 'tls', res
    assert 'certificate verification failed' in res['msg'], res['msg']
    assert f'verified against truststore_path {wrong} (1 certificates)' in res['msg'], res['msg']
    assert server.messages == [] and server.auth_attempts == []

    rc, res = _send(server, tmp_path)
    assert rc != 0 and 'set truststore_path' in res['msg'] and 'ca_path' in res['msg'], res['msg']

    good = make_store(tmp_path, pki.root_pem, 'good.p12')
    rc, res = _send(server, tmp_path, truststore_path=str(good), truststore_password=CANARY)
    assert rc == 0 and res['sent'] is True, res.get('msg')
    assert len(server.messages) == 1
    rc, res = _send(server, tmp_path, truststore_path=str(good), truststore_password=CANARY)
    assert rc == 0 and res['changed'] is False and len(server.messages) == 1, res
