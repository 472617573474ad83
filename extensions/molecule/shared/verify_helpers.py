"""Helpers for the scenarios' testinfra tests (molecule/<scenario>/tests/test_*.py)."""
from __future__ import annotations

import email
import json
import os
import pathlib
import sys
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

# keytool's own view of a store: the reader the integration tests use too
from tests.support.keytool import keytool_aliases  # noqa: E402,F401  pylint: disable=unused-import


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


def http_json(url: str, username: str, password: str):
    request = urllib.request.Request(url)
    import base64
    token = base64.b64encode(f'{username}:{password}'.encode()).decode()
    request.add_header('Authorization', f'Basic {token}')
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test peer
        return json.loads(response.read())
