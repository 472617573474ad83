"""Confluence scenario: javax.mail Resource, JKS truststore trusting the relay's CA, setenv.sh block, the message."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'shared'))
import verify_helpers as vh  # noqa: E402


def test_server_xml_has_the_mail_resource(host):
    server_xml = host.file(str(vh.sandbox() / 'app/confluence/conf/server.xml'))
    assert server_xml.mode == 0o640
    resource = ET.fromstring(server_xml.content).find(".//Context/Resource[@name='mail/ConfluenceMailServer']")
    assert resource is not None
    assert resource.get('type') == 'javax.mail.Session'
    assert resource.get('mail.smtp.port') == str(vh.peers()['smtp_port'])


def test_setenv_names_a_jks_store(host):
    setenv = host.file(str(vh.sandbox() / 'app/confluence/bin/setenv.sh')).content_string
    assert '-Djavax.net.ssl.trustStoreType=JKS' in setenv
    assert setenv.count('# BEGIN mailwright mail truststore') == 1


def test_truststore_trusts_the_relay_ca(host):
    store = vh.sandbox() / 'home/mail-truststore.jks'
    assert host.file(str(store)).content[:4] == b'\xfe\xed\xfe\xed'  # JKS magic
    assert 'relay-ca' in vh.keytool_aliases(store, 'molecule-store-password')


def test_one_message_with_the_confluence_prefix(host):
    received = vh.messages()
    assert len(received) == 1
    envelope, message = received[0]
    assert envelope['rcpt_tos'] == ['wiki-admins@example.test']
    assert message['Subject'].startswith('[Confluence]')
