"""Helpers for the scenarios' testinfra tests (molecule/<scenario>/tests/test_*.py)."""
from __future__ import annotations

import email
import json
import os
import pathlib
import subprocess
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[3]


def sandbox() -> pathlib.Path:
    scenario = os.environ.get('MOLECULE_SCENARIO_NAME') or pathlib.Path.cwd().name
    return ROOT / '.build' / 'molecule' / scenario


def peers() -> dict:
    return json.loads((sandbox() / 'peers' / 'state.json').read_text())


def messages() -> list[tuple[dict, email.message.Message]]:
    spool = pathlib.Path(peers()['spool'])
    out = []
    for eml in sorted(spool.glob('*.eml')):
        out.append((json.loads(eml.with_suffix('.json').read_text()), email.message_from_bytes(eml.read_bytes())))
    return out


def keytool_aliases(store: pathlib.Path, password: str) -> dict[str, str]:
    """alias -> SHA-256 fingerprint, from keytool -list."""
    listing = subprocess.run(['keytool', '-list', '-keystore', str(store), '-storepass:env', 'STOREPASS', '-J-Duser.language=en'],
                             env=dict(os.environ, STOREPASS=password), capture_output=True, text=True, check=True).stdout
    aliases = {}
    lines = listing.splitlines()
    for index, line in enumerate(lines):
        if ',' in line and ('trustedCertEntry' in line or 'PrivateKeyEntry' in line):
            alias = line.split(',')[0].strip()
            following = lines[index + 1] if index + 1 < len(lines) else ''
            aliases[alias] = following.split(': ', 1)[-1].strip()
    return aliases


def http_json(url: str, username: str, password: str):
    request = urllib.request.Request(url)
    import base64
    token = base64.b64encode(f'{username}:{password}'.encode()).decode()
    request.add_header('Authorization', f'Basic {token}')
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test peer
        return json.loads(response.read())
