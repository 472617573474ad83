"""The local peers of the molecule scenarios and `make demo`, as a script: see tests/support/peers.py.

    peers.py start --dir DIR [--http bitbucket|ghes]...   start, wait until ready, print DIR/state.json
    peers.py stop --dir DIR                               stop the process group recorded in DIR/peers.pid
    peers.py messages --dir DIR                           print the received messages

The playbooks and tools/demo.py run this file from anywhere without PYTHONPATH, so it puts the
checkout on sys.path itself; the relay, the DNS server and the HTTP stand-ins are the ones the
tests use (tests/support).
"""
from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.support.peers import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
