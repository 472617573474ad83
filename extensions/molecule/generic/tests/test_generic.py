"""Generic scenario: spring.mail.* keys, no truststore without TLS, an anonymous plaintext message."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'shared'))
import verify_helpers as vh  # noqa: E402


def test_spring_properties(host):
    properties = host.file(str(vh.sandbox() / 'home/application.properties'))
    assert properties.mode == 0o640
    lines = properties.content_string.splitlines()
    assert 'spring.mail.host=127.0.0.1' in lines
    assert f'spring.mail.port={vh.peers()["smtp_port"]}' in lines
    assert 'spring.mail.default-encoding=UTF-8' in lines
    assert not any(line.startswith('spring.mail.username') for line in lines)


def test_no_truststore_without_tls(host):
    assert not host.file(str(vh.sandbox() / 'home/unused-truststore.p12')).exists


def test_one_anonymous_plaintext_message(host):
    received = vh.messages()
    assert len(received) == 1
    envelope, message = received[0]
    assert envelope['tls'] is False and envelope['auth'] is False
    assert message['From'] == 'Billing service <billing@example.test>'
