"""Fixtures for the truststore tests: TLS identities (self-signed, private CA chain), TLS SMTP
servers on loopback (STARTTLS and SMTPS, restartable with a rotated certificate), keytool helpers.

Registered with `pytest_plugins = ['tests.integration.conftest_truststore']` by the tests that use it,
which also import its helpers directly; it holds no asserts, so it opts out of assertion
rewriting (PYTEST_DONT_REWRITE) instead of warning that it was imported before rewriting.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass, field

import pytest

CANARY = 'Canary-5ecret-Pa55'
KEYTOOL = shutil.which('keytool')


@dataclass
class Identity:
    """What a TLS server presents: its chain (leaf first, DER) and the key, plus files for ssl."""

    chain_der: list[bytes]
    key_pem: bytes
    ca_der: bytes | None = None  # the private CA when the chain was issued by one
    files: dict[str, str] = field(default_factory=dict)

    @property
    def leaf_der(self) -> bytes:
        return self.chain_der[0]

    def chain_pem(self) -> str:
        return ''.join(ssl.DER_cert_to_PEM_cert(der) for der in self.chain_der)


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'mailwright tests'),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _build(subject_cn, issuer_name, issuer_key, public_key, *, ca: bool, sans=(), days=90):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(_name(subject_cn)).issuer_name(issuer_name)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False,
            decipher_only=False), critical=True)
    if sans:
        entries = []
        for san in sans:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                entries.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _der(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


SERVER_NAMES = ('localhost', '127.0.0.1')


def self_signed_identity(cn: str = 'localhost', *, days: int = 90) -> Identity:
    key = _key()
    cert = _build(cn, _name(cn), key, key.public_key(), ca=False, sans=SERVER_NAMES, days=days)
    return Identity(chain_der=[_der(cert)], key_pem=_key_pem(key))


@dataclass
class PrivateCA:
    name: object
    key: object
    der: bytes

    def issue(self, cn: str = 'localhost', *, days: int = 90) -> Identity:
        key = _key()
        cert = _build(cn, self.name, self.key, key.public_key(), ca=False, sans=SERVER_NAMES, days=days)
        # The server sends leaf + CA, as relays with a private CA usually do.
        return Identity(chain_der=[_der(cert), self.der], key_pem=_key_pem(key), ca_der=self.der)


def private_ca(cn: str = 'mailwright Test Root CA') -> PrivateCA:
    key = _key()
    cert = _build(cn, _name(cn), key, key.public_key(), ca=True, days=365)
    return PrivateCA(name=_name(cn), key=key, der=_der(cert))


def _server_context(identity: Identity, workdir: str) -> ssl.SSLContext:
    cert_file = os.path.join(workdir, f'chain-{id(identity)}.pem')
    key_file = os.path.join(workdir, f'key-{id(identity)}.pem')
    with open(cert_file, 'w') as handle:
        handle.write(identity.chain_pem())
    with open(key_file, 'wb') as handle:
        handle.write(identity.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class TLSSMTPServer:
    """aiosmtpd on 127.0.0.1: STARTTLS (mode 'starttls') or implicit TLS (mode 'smtps').

    `rotate(identity)` restarts it on the same port with another certificate.
    """

    def __init__(self, mode: str, identity: Identity, workdir: str):
        self.mode = mode
        self.identity = identity
        self.workdir = workdir
        self.host = '127.0.0.1'
        self.port = _free_port()
        self.controller = None

    @property
    def protocol(self) -> str:
        return 'smtps' if self.mode == 'smtps' else 'smtp'

    def start(self) -> TLSSMTPServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        context = _server_context(self.identity, self.workdir)
        if self.mode == 'smtps':
            self.controller = Controller(Sink(), hostname=self.host, port=self.port, ssl_context=context)
        else:
            self.controller = Controller(Sink(), hostname=self.host, port=self.port, tls_context=context,
                                         require_starttls=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def rotate(self, identity: Identity) -> None:
        self.stop()
        self.identity = identity
        self.start()

    def settings(self, **server) -> dict:
        """A settings document that points at this server, with a canary SMTP password."""
        return {'product': 'generic',
                'server': dict({'host': self.host, 'port': self.port, 'protocol': self.protocol,
                                'tls': 'required'}, **server),
                'auth': {'method': 'basic', 'username': 'app', 'password': CANARY + '-smtp'},
                'sender': {'from_address': 'app@example.test'}}


@pytest.fixture
def tls_smtp_server(tmp_path_factory):
    """Factory: tls_smtp_server(mode, identity) -> a started TLSSMTPServer, stopped after the test."""
    servers: list[TLSSMTPServer] = []
    # Key files live outside the test's tmp_path, which the tests inspect for stray files.
    workdir = str(tmp_path_factory.mktemp('tls-server'))

    def start(mode: str, identity: Identity) -> TLSSMTPServer:
        server = TLSSMTPServer(mode, identity, workdir).start()
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


def keytool_list(store: str, password: str) -> dict[str, str]:
    """alias -> SHA-256 as the real keytool reports it (its own fingerprint text, independent of ours)."""
    proc = subprocess.run([KEYTOOL, '-J-Duser.language=en', '-list', '-keystore', store, '-storepass', password],
                          capture_output=True, text=True, check=True, timeout=60)
    result = {}
    alias = None
    for line in proc.stdout.splitlines():
        if ', ' in line and ('trustedCertEntry' in line or 'PrivateKeyEntry' in line):
            alias = line.split(', ')[0]
        elif line.startswith('Certificate fingerprint (SHA-256): ') and alias is not None:
            result[alias] = line.split(': ', 1)[1].strip()
            alias = None
    return result
