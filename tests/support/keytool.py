"""What the real JDK keytool says about a keystore: the one reader of `keytool -list` in the tests.

Tests and the molecule verifiers compare our truststores against keytool's own view, so this reads
keytool's text, not our keystore reader (plugins/module_utils/_trust/keytool.py):

    keytool_listing(store, password)   # the text of `keytool -list` (English), raises on failure
    keytool_aliases(store, password)   # {alias: 'AB:CD:...'} - the SHA-256 fingerprint keytool prints

The password reaches keytool through the environment (-storepass:env), never the command line.
"""
from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ['KEYTOOL', 'KeytoolError', 'keytool_aliases', 'keytool_listing']

KEYTOOL = shutil.which('keytool')
_FINGERPRINT = 'Certificate fingerprint (SHA-256): '


class KeytoolError(AssertionError):
    """keytool -list failed; the message carries its output."""


def keytool_listing(store, password: str, *, keytool: str | None = None, timeout: float = 120) -> str:
    """The stdout of `keytool -list` for store, in English."""
    binary = keytool or KEYTOOL or 'keytool'
    proc = subprocess.run([binary, '-J-Duser.language=en', '-list', '-keystore', str(store), '-storepass:env',
                           'MAILWRIGHT_STOREPASS'], env=dict(os.environ, MAILWRIGHT_STOREPASS=password),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise KeytoolError(f'keytool -list {store} exited with {proc.returncode}: {proc.stdout}{proc.stderr}')
    return proc.stdout


def keytool_aliases(store, password: str, *, keytool: str | None = None) -> dict[str, str]:
    """alias -> SHA-256 fingerprint (upper-case hex with colons), as keytool reports them."""
    result: dict[str, str] = {}
    alias = None
    for line in keytool_listing(store, password, keytool=keytool).splitlines():
        if ', ' in line and ('trustedCertEntry' in line or 'PrivateKeyEntry' in line):
            alias = line.split(', ')[0]
        elif line.startswith(_FINGERPRINT) and alias is not None:
            result[alias] = line[len(_FINGERPRINT):].strip()
            alias = None
    return result
