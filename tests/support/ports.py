"""Loopback ports for the test peers: the one place that picks a free port.

    free_port()                  # a TCP port free on 127.0.0.1 a moment ago
    free_port(kind='udp')        # the same for UDP
    free_port(kind='both')       # free for UDP and TCP at once (a DNS server listens on both)
    closed_port()                # a TCP port nobody listens on: connecting is refused

A port is bound to 0 and released, so another process may take it before the caller binds it;
peers that must not race bind the port themselves or retry (see dns_server.DnsServer.start).
"""
from __future__ import annotations

import socket

__all__ = ['free_port', 'closed_port']

_KINDS = {'tcp': socket.SOCK_STREAM, 'udp': socket.SOCK_DGRAM}


def _bound(host: str, kind: int, port: int = 0) -> int:
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((host, port))
        return sock.getsockname()[1]


def free_port(host: str = '127.0.0.1', kind: str = 'tcp') -> int:
    """A port on host that was free a moment ago; kind is 'tcp', 'udp' or 'both'."""
    if kind != 'both':
        return _bound(host, _KINDS[kind])
    while True:
        port = _bound(host, socket.SOCK_DGRAM)
        try:
            return _bound(host, socket.SOCK_STREAM, port)
        except OSError:
            continue  # taken for TCP: pick another


def closed_port(host: str = '127.0.0.1') -> int:
    """A loopback TCP port nobody listens on: connecting is refused."""
    return free_port(host)
