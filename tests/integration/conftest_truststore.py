"""Fixtures for the truststore tests, built on the shared SMTP peers of tests/support:
TLS identities (self-signed, private CA chain) from tests.support.certs, aiosmtpd servers from
tests.support.smtp_server (STARTTLS and SMTPS on loopback) that can be restarted on the same
port with a rotated certificate; keytool_list is tests.support.keytool.keytool_aliases.

Registered with `pytest_plugins = ['tests.integration.conftest_truststore']` by the tests that use it,
which also import its helpers directly; it holds no asserts, so it opts out of assertion
rewriting (PYTEST_DONT_REWRITE) instead of warning that it was imported before rewriting.
"""
from __future__ import annotations

import atexit
import itertools
import pathlib
import shutil
import ssl
import tempfile
from dataclasses import dataclass

import pytest

from tests.support.certs import DEFAULT_DNS, CertFiles, CertificateAuthority, self_signed
from tests.support.fixtures_smtp import CANARY
from tests.support.keytool import KEYTOOL
from tests.support.keytool import keytool_aliases as keytool_list
from tests.support.smtp_server import SMTPTestServer

__all__ = ['CANARY', 'Identity', 'PrivateCA', 'TLSSMTPServer', 'self_signed_identity', 'private_ca',
           'keytool_list', 'tls_smtp_server', 'keytool_path']

_labels = itertools.count(1)
_cert_dir: pathlib.Path | None = None


def _directory() -> pathlib.Path:
    """One private directory per test process for key and certificate files, removed at exit."""
    global _cert_dir  # pylint: disable=global-statement
    if _cert_dir is None:
        _cert_dir = pathlib.Path(tempfile.mkdtemp(prefix='mailwright-truststore-pki-'))
        atexit.register(shutil.rmtree, _cert_dir, True)
    return _cert_dir


def _chain_from_file(cert_file: str) -> list[bytes]:
    text = pathlib.Path(cert_file).read_text(encoding='ascii')
    end = '-----END CERTIFICATE-----'
    return [ssl.PEM_cert_to_DER_cert(block.strip() + '\n' + end + '\n') for block in text.split(end) if 'BEGIN' in block]


@dataclass
class Identity:
    """What a TLS server presents: the shared CertFiles plus its chain as DER, leaf first."""

    files: CertFiles
    chain_der: list[bytes]

    @classmethod
    def of(cls, files: CertFiles) -> Identity:
        return cls(files=files, chain_der=_chain_from_file(files.cert_file))

    @property
    def leaf_der(self) -> bytes:
        return self.chain_der[0]

    def chain_pem(self) -> str:
        return ''.join(ssl.DER_cert_to_PEM_cert(der) for der in self.chain_der)


def self_signed_identity(cn: str = 'localhost', *, days: int = 90) -> Identity:
    """A self-signed leaf for cn, also valid for localhost and 127.0.0.1 (where the servers listen)."""
    dns = DEFAULT_DNS if cn == 'localhost' else (cn, 'localhost')
    return Identity.of(self_signed(_directory(), f'self-signed-{next(_labels)}', dns=dns, days=days))


class PrivateCA:
    """A private root CA (tests.support.certs); the relay's chain is leaf + this CA."""

    def __init__(self, common_name: str):
        self.authority = CertificateAuthority(_directory(), f'ca-{next(_labels)}', common_name=common_name)
        self.der = ssl.PEM_cert_to_DER_cert(self.authority.pem.decode('ascii'))

    def issue(self, *, days: int = 90) -> Identity:
        return Identity.of(self.authority.issue(f'leaf-{next(_labels)}', days=days))


def private_ca(cn: str = 'mailwright Test Root CA') -> PrivateCA:
    return PrivateCA(cn)


class TLSSMTPServer:
    """A shared SMTPTestServer ('starttls' or 'smtps') that can rotate its certificate in place."""

    def __init__(self, mode: str, identity: Identity):
        self.mode = mode
        self.identity = identity
        self.server = SMTPTestServer(mode, cert=identity.files).start()
        self.host, self.port = self.server.host, self.server.port

    @property
    def protocol(self) -> str:
        return 'smtps' if self.mode == 'smtps' else 'smtp'

    def stop(self) -> None:
        self.server.stop()

    def rotate(self, identity: Identity) -> None:
        """Restart on the same host and port with another certificate, as a renewed relay would."""
        self.server.stop()
        self.identity = identity
        self.server = SMTPTestServer(self.mode, cert=identity.files, host=self.host, port=self.port).start()

    def settings(self, **server) -> dict:
        """A settings document that points at this server, with a canary SMTP password."""
        return {'product': 'generic',
                'server': dict({'host': self.host, 'port': self.port, 'protocol': self.protocol,
                                'tls': 'required'}, **server),
                'auth': {'method': 'basic', 'username': 'app', 'password': CANARY + '-smtp'},
                'sender': {'from_address': 'app@example.test'}}


@pytest.fixture
def tls_smtp_server():
    """Factory: tls_smtp_server(mode, identity) -> a started TLSSMTPServer, stopped after the test."""
    servers: list[TLSSMTPServer] = []

    def start(mode: str, identity: Identity) -> TLSSMTPServer:
        server = TLSSMTPServer(mode, identity)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope='session')
def keytool_path() -> str:
    if not KEYTOOL:
        pytest.skip('no keytool on PATH (a JDK is needed for truststore tests)')
    return KEYTOOL
