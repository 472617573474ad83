"""Test TLS material made with `cryptography`: a private CA and the server certificates tests need.

Everything is written as PEM into a directory the caller owns (normally a pytest tmp dir):

    pki = TestPKI(tmp_path)             # CA + the usual leaves, made once
    pki.ca_file                          # trust anchor for clients (PEM)
    pki.good.cert_file, pki.good.key_file       # SANs localhost, 127.0.0.1, ::1, mail.test
    pki.wrong_name / pki.expired / pki.self_signed
    pki.ca.issue('other', dns=['relay.test'], ips=[])   # any other leaf

EC P-256 keys keep generation in the milliseconds.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import pathlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ['CertFiles', 'CertificateAuthority', 'self_signed', 'TestPKI', 'DEFAULT_DNS', 'DEFAULT_IPS']

DEFAULT_DNS = ('localhost', 'mail.test')
DEFAULT_IPS = ('127.0.0.1', '::1')


@dataclass
class CertFiles:
    """A leaf certificate on disk: cert_file holds the leaf (then the issuing CA, unless self-signed)."""

    label: str
    cert_file: str
    key_file: str
    der: bytes

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(self.der).hexdigest().upper()
        return ':'.join(digest[i:i + 2] for i in range(0, 64, 2))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(dns, ips) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]
                                       + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])


def _validity(expired: bool, days: int) -> tuple[dt.datetime, dt.datetime]:
    now = _now()
    if expired:
        return now - dt.timedelta(days=60), now - dt.timedelta(days=2)
    return now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)


def _leaf_builder(subject_cn: str, public_key, issuer: x509.Name, dns, ips, not_before, not_after):
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(_san(dns, ips), critical=False))


class CertificateAuthority:
    """A private root CA whose certificate is written to <directory>/<label>.pem."""

    def __init__(self, directory: str | pathlib.Path, label: str = 'ca', *, common_name: str = 'mailwright test CA'):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key = _key()
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = str(self.directory / f'{label}.pem')
        pathlib.Path(self.ca_file).write_bytes(self.pem)

    def issue(self, label: str, *, dns=DEFAULT_DNS, ips=DEFAULT_IPS, days: int = 90,
              expired: bool = False) -> CertFiles:
        """A server certificate signed by this CA, with exactly the given SANs."""
        key = _key()
        not_before, not_after = _validity(expired, days)
        builder = _leaf_builder((list(dns) + list(ips))[0], key.public_key(), self.name, dns, ips, not_before, not_after)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _write(self.directory, label, cert, key, chain=self.pem)


def self_signed(directory: str | pathlib.Path, label: str = 'self-signed', *, dns=DEFAULT_DNS,
                ips=DEFAULT_IPS, days: int = 90) -> CertFiles:
    """A server certificate that signs itself (no CA will vouch for it)."""
    key = _key()
    cn = (list(dns) + list(ips))[0]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    not_before, not_after = _validity(False, days)
    cert = _leaf_builder(cn, key.public_key(), name, dns, ips, not_before, not_after).sign(key, hashes.SHA256())
    return _write(pathlib.Path(directory), label, cert, key, chain=b'')


def _write(directory: pathlib.Path, label: str, cert, key, *, chain: bytes) -> CertFiles:
    cert_file, key_file = directory / f'{label}.crt', directory / f'{label}.key'
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + chain)
    key_file.write_bytes(_pem_key(key))
    key_file.chmod(0o600)
    return CertFiles(label, str(cert_file), str(key_file), cert.public_bytes(serialization.Encoding.DER))


class TestPKI:
    """The CA and the four leaves SMTP tests use: good, wrong_name, expired, self_signed."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, directory: str | pathlib.Path):
        self.directory = pathlib.Path(directory)
        self.ca = CertificateAuthority(self.directory)
        self.ca_file = self.ca.ca_file
        self.good = self.ca.issue('good')
        self.wrong_name = self.ca.issue('wrong-name', dns=('wrong-name.example.test',), ips=())
        self.expired = self.ca.issue('expired', expired=True)
        self.self_signed = self_signed(self.directory)

    def leaf(self, kind: str) -> CertFiles:
        """'good' | 'wrong_name' | 'expired' | 'self_signed'."""
        return getattr(self, kind.replace('-', '_'))
