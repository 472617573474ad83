# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Driving the JDK's keytool: list, import, delete, copy a Java keystore.

keytool is the one tool every JRE ships (Atlassian products bundle their own), so we drive it
rather than writing JKS/PKCS12 ourselves. Passwords travel in environment variables
(`-storepass:env`), never on the command line where `ps` would show them, and are scrubbed from
anything keytool prints before it reaches an error message.

Nothing here imports Ansible; the module backend (_truststore.py) adds files and results.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED, redact_text
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import sha256_fingerprint

__all__ = [
    'STORE_TYPES',
    'REDACTED',
    'KeytoolError',
    'Entry',
    'Keytool',
    'detect_store_type',
    'parse_list_output',
    'redact_text',
    'java_home_from_keytool',
    'find_cacerts',
    'DEBIAN_CACERTS',
    'read_store',
    'store_ca_bundle',
    'cacerts_candidates',
    'truststore_argument_spec',
    'verification_hint',
]

STORE_TYPES = ('jks', 'pkcs12')
DEBIAN_CACERTS = '/etc/ssl/certs/java/cacerts'

_JKS_MAGIC = b'\xfe\xed\xfe\xed'
_JCEKS_MAGIC = b'\xce\xce\xce\xce'
# Environment variable names keytool reads the passwords from (-storepass:env NAME).
_ENV_STOREPASS = 'MAILWRIGHT_KEYTOOL_STOREPASS'
_ENV_SRCPASS = 'MAILWRIGHT_KEYTOOL_SRCSTOREPASS'
# keytool translates its labels ("Alias name:", "Entry type:"); pin English so parsing holds.
_LOCALE_ARGS = ['-J-Duser.language=en', '-J-Duser.country=US']
_PEM_RE = re.compile(r'-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----', re.S)


# keytool's own classification -> the collection's error kind (_core.errors.KINDS).
_CAUSE_KINDS = {'password': 'invalid', 'missing': 'missing', 'timeout': 'tool', 'keytool': 'tool'}


class KeytoolError(MailwrightError):
    """keytool failed or could not run. `reason` is keytool's own words, secrets redacted.

    `cause` is keytool's classification ('password': wrong store password, 'missing': no keytool,
    'timeout', 'keytool': any other failure); `kind` is the collection-wide one derived from it.
    """

    def __init__(self, message: str, *, reason: str = '', output: str = '', returncode: int | None = None,
                 command: list[str] | None = None, cause: str = 'keytool'):
        super().__init__(message, kind=_CAUSE_KINDS.get(cause, 'tool'))
        self.reason = reason
        self.output = output
        self.returncode = returncode
        self.command = command or []
        self.cause = cause

    def to_dict(self) -> dict[str, t.Any]:
        # `kind` here is keytool's cause, as the keytool_error result key always documented it.
        return {'msg': self.message, 'reason': self.reason, 'kind': self.cause,
                'rc': self.returncode, 'command': ' '.join(self.command)}


@dataclass(frozen=True)
class Entry:
    """One keystore entry as keytool lists it."""

    alias: str
    entry_type: str                      # trustedCertEntry | PrivateKeyEntry | SecretKeyEntry
    certificates: tuple[bytes, ...] = field(default=(), repr=False)  # DER, the entry's chain

    @property
    def der(self) -> bytes | None:
        return self.certificates[0] if self.certificates else None

    @property
    def sha256(self) -> str:
        """SHA-256 of the entry's (first) certificate, 'AA:BB:...'; '' for secret keys."""
        return sha256_fingerprint(self.certificates[0]) if self.certificates else ''

    @property
    def trusted(self) -> bool:
        return self.entry_type.lower() == 'trustedcertentry'


def detect_store_type(source: str | bytes | os.PathLike) -> str | None:
    """'jks', 'jceks' or 'pkcs12' from the file's first bytes; None for a missing or empty file.

    JKS starts with the magic 0xFEEDFEED, JCEKS with 0xCECECECE; PKCS#12 is a DER SEQUENCE (0x30).
    Raises ValueError for anything else, so a wrong path is not mistaken for a keystore.
    """
    if isinstance(source, bytes):
        head = source[:4]
        where = 'data'
    else:
        where = os.fspath(source)
        try:
            with open(where, 'rb') as handle:
                head = handle.read(4)
        except FileNotFoundError:
            return None
    if not head:
        return None
    if head == _JKS_MAGIC:
        return 'jks'
    if head == _JCEKS_MAGIC:
        return 'jceks'
    if head[0] == 0x30 and len(head) >= 2:
        return 'pkcs12'
    raise ValueError(f'{where} is not a Java keystore: it starts with {head.hex()}, '
                     'neither JKS (feedfeed) nor PKCS#12 (30...)')


def _read_jks(data: bytes, password: str | None) -> list[Entry] | None:
    """Entries of a JKS store read without a JVM, or None when it cannot be read here (a wrong
    password, an unknown layout): the caller then asks keytool, which explains. Without a
    password the certificates are read unverified (JKS stores them in the clear, as keytool
    -list without -storepass does)."""
    import struct

    if len(data) < 32 or data[:4] != _JKS_MAGIC:
        return None
    body, digest = data[:-20], data[-20:]
    # JKS's integrity check: SHA-1 over the password as UTF-16BE, a fixed salt, and the body.
    check = None if password is None else \
        hashlib.sha1(password.encode('utf-16-be') + b'Mighty Aphrodite' + body).digest()  # nosec B324
    if check is not None and check != digest:
        return None
    pos = 4
    try:
        version, count = struct.unpack_from('>II', body, pos)
        pos += 8
        if version != 2:
            return None

        def utf() -> str:
            nonlocal pos
            (length,) = struct.unpack_from('>H', body, pos)
            pos += 2
            raw = body[pos:pos + length]
            pos += length
            return raw.decode('utf-8')

        def blob() -> bytes:
            nonlocal pos
            (length,) = struct.unpack_from('>I', body, pos)
            pos += 4
            raw = body[pos:pos + length]
            pos += length
            return raw

        entries = []
        for _index in range(count):
            (tag,) = struct.unpack_from('>I', body, pos)
            pos += 4
            alias = utf()
            pos += 8  # creation time
            if tag == 2:
                utf()  # certificate type, X.509
                entries.append(Entry(alias, 'trustedCertEntry', (blob(),)))
            elif tag == 1:
                blob()  # the protected key
                (chain_length,) = struct.unpack_from('>I', body, pos)
                pos += 4
                chain = []
                for _cert in range(chain_length):
                    utf()
                    chain.append(blob())
                entries.append(Entry(alias, 'PrivateKeyEntry', tuple(chain)))
            else:
                return None
    except (struct.error, UnicodeDecodeError):
        return None
    return entries if pos == len(body) else None


def _read_pkcs12(data: bytes, password: str | None) -> list[Entry] | None:
    """Trusted-certificate entries of a PKCS#12 store read with cryptography; None for anything
    else (keys, secret keys, a wrong password), so keytool decides those."""
    try:
        from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

        store = pkcs12.load_pkcs12(data, None if password is None else password.encode('utf-8'))
    except Exception:  # pylint: disable=broad-exception-caught  # any doubt: ask keytool
        return None
    if store.key is not None or store.cert is not None:
        return None
    entries = []
    for cert in store.additional_certs:
        if not cert.friendly_name:
            return None
        # Java's PKCS12 keystore is case-insensitive and lists aliases in lower case
        entries.append(Entry(cert.friendly_name.decode('utf-8').lower(), 'trustedCertEntry',
                             (cert.certificate.public_bytes(Encoding.DER),)))
    return entries


def read_store(path: str, password: str | None, store_type: str | None) -> list[Entry] | None:
    """The entries of a truststore without starting a JVM (keytool costs about a second a call,
    which a fleet pays on every idempotent run); None when only keytool can tell."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError:
        return None
    kind = store_type or detect_store_type(data)
    if kind == 'jks':
        return _read_jks(data, password)
    if kind == 'pkcs12':
        return _read_pkcs12(data, password)
    return None


def truststore_argument_spec() -> dict[str, t.Any]:
    """The truststore options of the clients (doc fragment mailwright.smtp.truststore); a fresh dict each call."""
    return {'truststore_path': {'type': 'path'},
            'truststore_password': {'type': 'str', 'no_log': True},
            'truststore_type': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'jks', 'pkcs12']}}


def verification_hint(truststore_path: str | None, count: int | None = None) -> str:
    """What to set when the relay's certificate did not verify: words naming the module options, which
    the mail role maps to its variables (roles/mail/vars/main.yml)."""
    if truststore_path:
        return (f'verified against truststore_path {truststore_path} ({count} certificates): trust the relay\'s CA '
                'in that truststore (mailwright.smtp.truststore_cert)')
    return ("verified against the system CAs: set truststore_path to the truststore the application's JVM "
            "uses, or ca_path to the relay's CA")


def store_ca_bundle(path: str, password: str, store_type: str | None = None, *,
                    option: str = 'truststore_path') -> tuple[str, int]:
    """(PEM text, count) of the trusted certificates of a truststore, read without a JVM: what the
    probe and the Python test send verify the relay against, so they trust exactly what the
    application's JVM trusts. Raises MailwrightError naming `option` when the store cannot serve.
    """
    kind = None if store_type in (None, '', 'auto') else store_type
    if not os.path.isfile(path):
        raise MailwrightError(f'{option} {path}: no such file (run the trust step first, or point {option} at '
                              "the store the application's JVM uses)", kind='file')
    entries = read_store(path, password, kind)
    if entries is None:
        raise MailwrightError(
            f'{option} {path}: cannot read it with the given {option.replace("_path", "_password")} '
            '(a wrong password, or a PKCS12 store that also holds private keys, which this reader leaves to keytool)',
            kind='invalid')
    certificates = [entry.der for entry in entries if entry.trusted and entry.der]
    if not certificates:
        raise MailwrightError(f'{option} {path}: holds no trusted certificate', kind='invalid')
    return ''.join(_pem(der) for der in certificates), len(certificates)


def parse_list_output(text: str) -> list[Entry]:
    """Entries from `keytool -list -rfc` output (English labels).

    Each entry starts with 'Alias name: ...', then 'Entry type: ...', then one PEM block per
    certificate (a PrivateKeyEntry lists its chain, leaf first). Fingerprints are computed from
    the PEM rather than read from the text, so they do not depend on keytool's wording.
    """
    entries: list[Entry] = []
    blocks = re.split(r'^Alias name: ', text, flags=re.M)
    for block in blocks[1:]:
        alias, _sep, rest = block.partition('\n')
        alias = alias.rstrip('\r')
        match = re.search(r'^Entry type: *(\S+)', rest, flags=re.M)
        entry_type = match.group(1) if match else 'unknown'
        certs = []
        for pem in _PEM_RE.findall(rest):
            try:
                certs.append(base64.b64decode(''.join(pem.split()), validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f'keytool listed a certificate for alias {alias!r} that is not valid base64') from exc
        entries.append(Entry(alias=alias, entry_type=entry_type, certificates=tuple(certs)))
    return entries


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode('ascii')
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return '-----BEGIN CERTIFICATE-----\n' + '\n'.join(lines) + '\n-----END CERTIFICATE-----\n'


def java_home_from_keytool(keytool_path: str) -> str:
    """java.home of the JRE a keytool belongs to: <java.home>/bin/keytool, symlinks resolved."""
    return os.path.dirname(os.path.dirname(os.path.realpath(keytool_path)))


def _jre_cacerts(home: str) -> list[str]:
    # <java.home>/lib/security for Java 9+ and a bundled JRE, <java.home>/jre/lib/... for a Java 8 JDK
    return [os.path.join(home, 'lib', 'security', 'cacerts'), os.path.join(home, 'jre', 'lib', 'security', 'cacerts')]


def cacerts_candidates(keytool_path: str | None, *, app_home: str | None = None,
                       environ: t.Mapping[str, str] | None = None) -> list[str]:
    """Where the JRE's cacerts may be, most specific first: the application's bundled JRE
    (<app_home>/jre, what Atlassian installers ship), keytool's JRE, $JAVA_HOME, the java on PATH,
    then Debian's shared /etc/ssl/certs/java/cacerts."""
    environ = os.environ if environ is None else environ
    homes = []
    if app_home:
        homes.append(os.path.join(app_home, 'jre'))
    if keytool_path:
        homes.append(java_home_from_keytool(keytool_path))
    if environ.get('JAVA_HOME'):
        homes.append(environ['JAVA_HOME'])
    java = shutil.which('java', path=environ.get('PATH'))
    if java:
        homes.append(java_home_from_keytool(java))
    candidates: list[str] = []
    for home in homes:
        for candidate in _jre_cacerts(home):
            if candidate not in candidates:
                candidates.append(candidate)
    return candidates + ([DEBIAN_CACERTS] if DEBIAN_CACERTS not in candidates else [])


def find_cacerts(keytool_path: str | None, *, app_home: str | None = None,
                 environ: t.Mapping[str, str] | None = None) -> str | None:
    """The cacerts file the application's JVM trusts by default (the first of cacerts_candidates)."""
    for candidate in cacerts_candidates(keytool_path, app_home=app_home, environ=environ):
        if os.path.isfile(candidate):
            return candidate
    return None


def _keytool_reason(output: str) -> str:
    """keytool's one-line reason ('keytool error: java.io.IOException: ...' -> the message)."""
    for line in output.splitlines():
        if line.startswith('keytool error:'):
            reason = line[len('keytool error:'):].strip()
            # Drop the Java exception class: the message is what a person acts on.
            return re.sub(r'^[\w.$]+(?:Exception|Error):\s*', '', reason)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ''


class Keytool:
    """One keytool executable. Every call is bounded by `timeout` seconds."""

    def __init__(self, executable: str = 'keytool', *, timeout: float = 120.0):
        resolved = executable if os.sep in executable else shutil.which(executable)
        if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
            raise KeytoolError(
                f'keytool not found or not executable: {executable}; set the keytool option to the '
                "keytool of the application's JRE (for example /opt/atlassian/jira/jre/bin/keytool)",
                cause='missing')
        self.path = resolved
        self.timeout = timeout

    @property
    def java_home(self) -> str:
        return java_home_from_keytool(self.path)

    def find_cacerts(self, *, app_home: str | None = None) -> str | None:
        return find_cacerts(self.path, app_home=app_home)

    def run(self, args: list[str], *, storepass: str | None = None, srcstorepass: str | None = None,
            what: str) -> str:
        """Run keytool with args; stdout on success, KeytoolError (redacted) on failure."""
        env = dict(os.environ)
        secrets = [storepass, srcstorepass]
        if storepass is not None:
            env[_ENV_STOREPASS] = storepass
        if srcstorepass is not None:
            env[_ENV_SRCPASS] = srcstorepass
        # A JAVA_TOOL_OPTIONS banner on stderr is harmless; a locale change is not (see _LOCALE_ARGS).
        command = [self.path, *_LOCALE_ARGS, *args]
        try:
            proc = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise KeytoolError(f'keytool did not finish {what} within {self.timeout:g} s',
                               cause='timeout', command=command) from None
        except OSError as exc:
            raise KeytoolError(f'cannot run keytool {self.path}: {exc.strerror}', cause='missing',
                               command=command) from None
        stdout = redact_text(proc.stdout.decode('utf-8', 'replace'), secrets)
        stderr = redact_text(proc.stderr.decode('utf-8', 'replace'), secrets)
        if proc.returncode != 0:
            output = (stdout + '\n' + stderr).strip()
            reason = _keytool_reason(output) or f'exit code {proc.returncode}'
            cause = 'password' if 'password was incorrect' in reason.lower() else 'keytool'
            message = f'keytool failed {what}: {reason}'
            if cause == 'password':
                message += ' (the store_password does not open this keystore)'
            raise KeytoolError(message, reason=reason, output=output, returncode=proc.returncode,
                               command=command, cause=cause)
        return stdout

    @staticmethod
    def _store_args(store: str, store_type: str | None) -> list[str]:
        args = ['-keystore', store, '-storepass:env', _ENV_STOREPASS]
        if store_type:
            args += ['-storetype', store_type.upper()]
        return args

    def list_entries(self, store: str, password: str, store_type: str | None = None, *,
                     fast: bool = False) -> list[Entry]:
        """All entries of a keystore (the password is checked: a wrong one raises cause='password').

        With fast=True a store that can be read without the JVM is (see read_store)."""
        if fast:
            entries = read_store(store, password, store_type)
            if entries is not None:
                return entries
        out = self.run(['-list', '-rfc', *self._store_args(store, store_type)],
                       storepass=password, what=f'listing {store}')
        try:
            return parse_list_output(out)
        except ValueError as exc:
            raise KeytoolError(f'cannot read keytool listing of {store}: {exc}') from None

    def import_certificate(self, store: str, password: str, store_type: str | None, alias: str,
                           der: bytes) -> None:
        """Add `der` as a trusted certificate under `alias` (keytool creates a missing store)."""
        workdir = tempfile.mkdtemp(prefix='mailwright-keytool-')
        try:
            pem_file = os.path.join(workdir, 'cert.pem')
            with open(pem_file, 'w', encoding='ascii') as handle:
                handle.write(_pem(der))
            # -noprompt: never wait for "Trust this certificate?"; -trustcacerts: let keytool
            # build the chain from cacerts when it can (it imports either way).
            self.run(['-importcert', '-noprompt', '-trustcacerts', '-alias', alias, '-file', pem_file,
                      *self._store_args(store, store_type)],
                     storepass=password, what=f'importing alias {alias} into {store}')
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def delete_entry(self, store: str, password: str, store_type: str | None, alias: str) -> None:
        self.run(['-delete', '-alias', alias, *self._store_args(store, store_type)],
                 storepass=password, what=f'deleting alias {alias} from {store}')

    def copy_store(self, source: str, source_password: str, source_type: str | None,
                   dest: str, dest_password: str, dest_type: str) -> None:
        """Copy every entry of `source` into `dest` (new or existing), re-keyed with dest_password."""
        args = ['-importkeystore', '-noprompt', '-srckeystore', source, '-srcstorepass:env', _ENV_SRCPASS,
                '-destkeystore', dest, '-deststorepass:env', _ENV_STOREPASS, '-deststoretype', dest_type.upper()]
        if source_type:
            args += ['-srcstoretype', source_type.upper()]
        self.run(args, storepass=dest_password, srcstorepass=source_password,
                 what=f'copying {source} into {dest}')
