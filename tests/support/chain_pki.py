"""A relay PKI with an intermediate: root CA -> issuing CA -> leaf for 127.0.0.1 and localhost.

Written as PEM files into a directory the caller owns: the leaf alone (a relay that forgets its
intermediate) and leaf + intermediate (a complete chain), the leaf's key, and the root as PEM text.
The leaf has 20 days left, under the probe's 30-day expiry threshold.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.certs import CertificateAuthority

__all__ = ['ChainPKI']


class ChainPKI:
    """root CA -> intermediate CA -> leaf (127.0.0.1, localhost); files for leaf-only and full chains."""

    def __init__(self, directory: pathlib.Path):
        self.root = CertificateAuthority(directory, 'root', common_name='mailwright Chain Root CA')
        now = dt.datetime.now(dt.timezone.utc)
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.inter_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'mailwright Issuing CA 1')])
        self.inter = (x509.CertificateBuilder().subject_name(self.inter_name).issuer_name(self.root.name)
                      .public_key(self.inter_key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1000))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                      .sign(self.root.key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                           x509.IPAddress(ipaddress.ip_address('127.0.0.1'))])
        self.leaf = (x509.CertificateBuilder()
                     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')]))
                     .issuer_name(self.inter_name).public_key(key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=20))
                     .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                     .add_extension(san, critical=False).sign(self.inter_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        self.key_file = directory / 'leaf.key'
        self.key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        self.leaf_only = directory / 'leaf-only.crt'
        self.leaf_only.write_bytes(self.leaf.public_bytes(pem))
        self.full = directory / 'leaf-inter.crt'
        self.full.write_bytes(self.leaf.public_bytes(pem) + self.inter.public_bytes(pem))
        self.root_pem = self.root.pem.decode('ascii')

    def der(self, which: str) -> bytes:
        """DER of 'leaf', 'inter' or 'root'."""
        cert = {'leaf': self.leaf, 'inter': self.inter, 'root': self.root.cert}[which]
        return cert.public_bytes(serialization.Encoding.DER)
