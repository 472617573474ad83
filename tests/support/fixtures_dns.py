"""pytest fixtures for the real DNS test server (dnsmasq on loopback).

Use from a test file with ``pytest_plugins = ["tests.support.fixtures_dns"]``.
The zone is described in :mod:`tests.support.dns_server`.
"""
from __future__ import annotations

import pytest

from tests.support.dns_server import DNSMASQ, DnsServer, dnsmasq_available

__all__ = ["dns_server", "dns_server_process", "dns_silent_port"]


@pytest.fixture(scope="session")
def dns_server_process():
    """The running :class:`DnsServer` (zone ``test``), shared by the whole session."""
    if not dnsmasq_available():
        pytest.skip(f"{DNSMASQ} is not installed (Debian package dnsmasq-base)")
    with DnsServer("test") as server:
        yield server


@pytest.fixture
def dns_server(dns_server_process) -> tuple[str, int]:
    """(ip, port) of the test DNS server."""
    return dns_server_process.address


@pytest.fixture
def dns_silent_port(dns_server_process) -> int:
    """A loopback UDP port with a socket bound that never answers (a nameserver that times out)."""
    return dns_server_process.silent_port
