"""Pytest fixtures for SMTP tests: a private PKI and aiosmtpd servers on loopback.

Use in a test file:

    pytest_plugins = ['tests.support.fixtures_smtp']

    def test_x(smtp_server, smtp_pki):
        server = smtp_server('starttls', credentials={'alice': CANARY})   # started, stopped after the test
        ... connect to server.host / server.port, trust smtp_pki.ca_file ...
        assert len(server.messages) == 1

Fixtures:
- smtp_pki (session): tests.support.certs.TestPKI - ca_file, good, wrong_name, expired, self_signed.
- smtp_server (function): factory smtp_server(mode='starttls', *, cert='good', credentials=None,
  tokens=None, auth_require_tls=None, mechanisms=None, fault=None, maildir=None) -> SMTPTestServer.
  cert is a TestPKI leaf name or a CertFiles; ignored for mode 'plain'.
- smtp_closed_port (function): a loopback port nobody listens on.
- smtp_canary: the canary secret 'Canary-5ecret-Pa55' that must never show up anywhere.
"""
from __future__ import annotations

import pytest

from tests.support.certs import TestPKI
from tests.support.smtp_server import SMTPTestServer, closed_port

CANARY = 'Canary-5ecret-Pa55'

__all__ = ['CANARY', 'smtp_pki', 'smtp_server', 'smtp_closed_port', 'smtp_canary']


@pytest.fixture(scope='session')
def smtp_pki(tmp_path_factory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp('smtp-pki'))


@pytest.fixture
def smtp_server(smtp_pki):
    started: list[SMTPTestServer] = []

    def start(mode: str = 'starttls', *, cert='good', **kwargs) -> SMTPTestServer:
        leaf = None
        if mode != 'plain' and cert is not None:
            leaf = smtp_pki.leaf(cert) if isinstance(cert, str) else cert
        server = SMTPTestServer(mode, cert=leaf, **kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def smtp_closed_port() -> int:
    return closed_port()


@pytest.fixture
def smtp_canary() -> str:
    return CANARY
