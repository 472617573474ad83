# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""TLS helpers shared by the SMTP client, the probe and the truststore: contexts, the CA bundle
an option names, the peer's chain, certificate details and fingerprints.

Only the stdlib at import time; `cryptography` is imported when a certificate is described, so
a plain test send never pays for it. The requirements say cryptography >= 41, whose certificates
have no `not_valid_after_utc` (added in 42): every reader of a validity date goes through
get_not_valid_after / get_not_valid_before, as community.crypto's cryptography_support does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import ssl
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError

__all__ = [
    'CaBundleError',
    'load_ca_bundle',
    'get_not_valid_after',
    'get_not_valid_before',
    'make_context',
    'peer_chain_der',
    'sha256_fingerprint',
    'normalize_fingerprint',
    'pem_to_der_list',
    'describe_certificate',
    'is_ca',
    'issued_by',
    'walk_chain',
]

_PEM_BLOCK = re.compile(r'-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----', re.S)
_ENCODING_DER = getattr(ssl, '_ssl', ssl).__dict__.get('ENCODING_DER', 2)
_CA_SUFFIXES = ('.pem', '.crt', '.cer')


class CaBundleError(MailwrightError, ValueError):
    """A ca_path that names nothing usable; a ValueError too, for callers that predate the family."""

    kind = 'file'


def load_ca_bundle(ca_path: str | None, *, option: str = 'ca_path') -> tuple[str | None, str | None]:
    """(cafile, cadata) for ssl.create_default_context from a PEM file or a directory of them.

    A directory is read as the *.pem, *.crt and *.cer files that hold a certificate, in name
    order; one without any is an error rather than an empty trust (which would fail every
    handshake with a message about the server instead of the option).
    """
    if not ca_path:
        return None, None
    if os.path.isfile(ca_path):
        return ca_path, None
    if not os.path.isdir(ca_path):
        raise CaBundleError(f'{option} {ca_path}: no such file or directory')
    parts = []
    for entry in sorted(os.listdir(ca_path)):
        full = os.path.join(ca_path, entry)
        if os.path.isfile(full) and entry.lower().endswith(_CA_SUFFIXES):
            with open(full, encoding='ascii', errors='replace') as handle:
                text = handle.read()
            if '-----BEGIN CERTIFICATE-----' in text:
                parts.append(text)
    if not parts:
        raise CaBundleError(f'{option} {ca_path}: no PEM certificates (*.pem, *.crt, *.cer) in this directory')
    return None, '\n'.join(parts)


def _as_utc(value: dt.datetime) -> dt.datetime:
    # cryptography < 42 returns naive datetimes that are UTC by definition (RFC 5280)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def get_not_valid_after(cert) -> dt.datetime:
    """The certificate's notAfter as an aware UTC datetime, on every supported cryptography."""
    value = getattr(cert, 'not_valid_after_utc', None)
    return _as_utc(value if value is not None else cert.not_valid_after)


def get_not_valid_before(cert) -> dt.datetime:
    """The certificate's notBefore as an aware UTC datetime, on every supported cryptography."""
    value = getattr(cert, 'not_valid_before_utc', None)
    return _as_utc(value if value is not None else cert.not_valid_before)


def make_context(*, verify: bool = True, cafile: str | None = None, cadata: str | None = None,
                 check_hostname: bool = True, minimum_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client context: system CAs (or the given ones), hostname checking, TLS 1.2 at least."""
    if verify:
        context = ssl.create_default_context(cafile=cafile, cadata=cadata)
        context.check_hostname = check_hostname
        if cafile or cadata:
            # Every certificate given is an anchor, as in a Java truststore (a trusted leaf or
            # intermediate ends the path); Python 3.13 sets this by default, older ones need it.
            context.verify_flags |= getattr(ssl, 'VERIFY_X509_PARTIAL_CHAIN', 0)
    else:
        # fetching what to trust, or a probe told not to verify: look, do not judge
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = minimum_version or ssl.TLSVersion.TLSv1_2
    return context


def peer_chain_der(sock: ssl.SSLSocket) -> list[bytes]:
    """The certificates the peer presented, leaf first, as DER.

    Python exposes the whole presented chain publicly only from 3.13
    (SSLSocket.get_unverified_chain); 3.10-3.12 have the same call on the private _sslobj.
    Where neither exists we fall back to the leaf alone, which `certificate: root|chain` then
    reports as a one-certificate chain.
    """
    sslobj = getattr(sock, '_sslobj', None)
    native = getattr(sock, 'get_unverified_chain', None) or getattr(sslobj, 'get_unverified_chain', None)
    chain: list[bytes] = []
    if native is not None:
        try:
            for cert in native() or []:
                chain.append(cert if isinstance(cert, bytes) else cert.public_bytes(_ENCODING_DER))
        except (ssl.SSLError, ValueError, AttributeError):
            chain = []
    if not chain:
        leaf = sock.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return chain


def _colon_pairs(hex_digits: str) -> str:
    return ':'.join(hex_digits[i:i + 2] for i in range(0, len(hex_digits), 2))


def sha256_fingerprint(der: bytes) -> str:
    """'AB:CD:...' upper-case, colon-separated: the form keytool and browsers show."""
    return _colon_pairs(hashlib.sha256(der).hexdigest().upper())


def normalize_fingerprint(text: str) -> str:
    """Accept a SHA-256 fingerprint with or without colons, any case, optionally 'SHA256:'-prefixed."""
    digits = re.sub(r'[\s:]', '', re.sub(r'^(sha-?256)[:=]?', '', text.strip(), flags=re.I)).upper()
    if not re.fullmatch(r'[0-9A-F]{64}', digits):
        raise ValueError(f'{text!r} is not a SHA-256 fingerprint (64 hex digits, colons optional)')
    return _colon_pairs(digits)


def pem_to_der_list(pem: str | bytes) -> list[bytes]:
    """Every certificate in a PEM text, in order. ValueError when there is none or one is corrupt."""
    if isinstance(pem, bytes):
        pem = pem.decode('ascii', errors='replace')
    blocks = _PEM_BLOCK.findall(pem)
    if not blocks:
        raise ValueError('no PEM certificate (-----BEGIN CERTIFICATE-----) found')
    out = []
    for index, block in enumerate(blocks):
        try:
            out.append(base64.b64decode(''.join(block.split()), validate=True))
        except ValueError:
            raise ValueError(f'PEM certificate #{index + 1} is not valid base64') from None
    return out


def _names(name) -> str:
    return name.rfc4514_string()


def describe_certificate(der: bytes, *, now: dt.datetime | None = None) -> dict[str, t.Any]:
    """What a person needs to decide whether to trust a certificate."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.timezone.utc)
    not_before = get_not_valid_before(cert)
    not_after = get_not_valid_after(cert)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        sans += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        sans = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return {
        'subject': _names(cert.subject),
        'issuer': _names(cert.issuer),
        'sans': sans,
        'not_before': not_before.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'not_after': not_after.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'days_left': (not_after - now).days,
        'expired': now > not_after,
        'not_yet_valid': now < not_before,
        'sha256': sha256_fingerprint(der),
        'serial': format(cert.serial_number, 'X'),
        'is_ca': is_ca,
        'self_signed': cert.subject == cert.issuer,
    }


def is_ca(cert) -> bool:
    """A CA certificate: basicConstraints CA=true, or a v1-style self-signed root without extensions."""
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.subject == cert.issuer


def issued_by(cert, issuer) -> bool:
    """True when `issuer`'s key signed `cert` (names and signature; dates are the caller's)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # pylint: disable=broad-except
        return False
    return True


def walk_chain(der: bytes, intermediates: t.Sequence[bytes], anchors: t.Mapping[bytes, str], *,
               now: dt.datetime | None = None) -> dict[str, t.Any]:
    """Build the path a JVM builds: `der` through the CA certificates of `intermediates` (what the
    peer sent) to a certificate of `anchors` (DER -> name), checking signatures and validity now.

    Nothing is fetched (no AIA): Java's PKIX validator does not fetch a missing intermediate either,
    so a chain that needs one fails there. Returns {'anchor': name or None, 'anchor_subject': its
    subject, 'path': [DER, ...] from
    `der` up to the last certificate reached, 'missing': the issuer name the walk could not find
    (None when it reached an anchor), 'expired': the subject of a certificate out of its validity}.
    """
    from cryptography import x509

    now = now or dt.datetime.now(dt.timezone.utc)
    outcome: dict[str, t.Any] = {'anchor': None, 'anchor_subject': None, 'path': [der], 'missing': None,
                                 'expired': None}
    if der in anchors:
        outcome['anchor'] = anchors[der]
        outcome['anchor_subject'] = _names(x509.load_der_x509_certificate(der).subject)
        return outcome
    anchor_certs = [(x509.load_der_x509_certificate(a), name) for a, name in anchors.items()]
    anchor_certs = [(cert, name) for cert, name in anchor_certs if is_ca(cert)]
    pool = [(c, d) for c, d in ((x509.load_der_x509_certificate(d), d) for d in intermediates if d != der)
            if is_ca(c)]
    cert, seen = x509.load_der_x509_certificate(der), {der}
    for _depth in range(8):
        if not get_not_valid_before(cert) <= now <= get_not_valid_after(cert):
            outcome['expired'] = _names(cert.subject)
            return outcome
        for anchor, name in anchor_certs:
            if issued_by(cert, anchor):
                outcome['anchor'] = name
                outcome['anchor_subject'] = _names(anchor.subject)
                return outcome
        step = next(((c, d) for c, d in pool if d not in seen and issued_by(cert, c)), None)
        if step is None:
            outcome['missing'] = _names(cert.issuer)
            return outcome
        seen.add(step[1])
        outcome['path'].append(step[1])
        cert = step[0]
    outcome['missing'] = _names(cert.issuer)
    return outcome
