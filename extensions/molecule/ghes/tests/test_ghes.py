"""GHES scenario: the Manage API smtp object (stand-in), no JVM truststore, the message."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'shared'))
import verify_helpers as vh  # noqa: E402


def test_manage_api_holds_the_smtp_settings(host):
    peers = vh.peers()
    settings = vh.http_json(peers['ghes_url'] + '/manage/v1/config/settings', 'api_key', 'molecule-admin-password')
    smtp = settings['smtp']
    assert smtp['enabled'] is True
    assert smtp['address'] == '127.0.0.1'
    assert str(smtp['port']) == str(peers['smtp_port'])
    assert smtp['domain'] == 'github.example.test'
    assert smtp['authentication'] == 'login'
    assert smtp['noreply_address'] == 'noreply@github.example.test'
    assert smtp['support_address'] == 'https://support.example.test'


def test_no_jvm_truststore_for_ghes(host):
    assert not list((vh.sandbox() / 'home').glob('*truststore*'))


def test_one_message_from_the_noreply_address(host):
    received = vh.messages()
    assert len(received) == 1
    envelope, message = received[0]
    assert envelope['mail_from'] == 'noreply@github.example.test'
    assert envelope['auth'] is True
