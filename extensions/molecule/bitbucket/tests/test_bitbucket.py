"""Bitbucket scenario: the REST mail server (stand-in), bitbucket.properties, the truststore, the message."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'shared'))
import verify_helpers as vh  # noqa: E402


def test_rest_mail_server_matches_the_settings(host):
    peers = vh.peers()
    config = vh.http_json(peers['bitbucket_url'] + '/rest/api/latest/admin/mail-server', 'admin', 'molecule-admin-password')
    assert config['hostname'] == '127.0.0.1'
    assert config['port'] == peers['smtp_port']
    assert config['requireStartTls'] is True
    assert config['username'] == 'mailer'
    assert 'password' not in config or not config['password']
    sender = vh.http_json(peers['bitbucket_url'] + '/rest/api/latest/admin/mail-server/sender-address', 'admin',
                          'molecule-admin-password')
    assert sender == 'bitbucket@example.test'


def test_bitbucket_properties_has_the_mail_timeouts(host):
    properties = host.file(str(vh.sandbox() / 'home/bitbucket.properties'))
    assert properties.mode == 0o640
    assert 'mail.timeout.connect=20' in properties.content_string.splitlines()
    assert 'molecule-relay-password' not in properties.content_string


def test_truststore_and_message(host):
    assert 'mailwright-127.0.0.1' in vh.keytool_aliases(vh.sandbox() / 'home/bitbucket-truststore.p12', 'molecule-store-password')
    received = vh.messages()
    assert len(received) == 1
    assert received[0][0]['rcpt_tos'] == ['scm-admins@example.test']
