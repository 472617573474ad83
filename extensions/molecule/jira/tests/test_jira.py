"""Jira scenario: the JNDI Resource, the setenv.sh block, the truststore, the proof, the message."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'shared'))
import verify_helpers as vh  # noqa: E402


def test_server_xml_has_the_mail_resource(host):
    server_xml = host.file(str(vh.sandbox() / 'app/jira/conf/server.xml'))
    assert server_xml.mode == 0o640
    resource = ET.fromstring(server_xml.content).find(".//Context/Resource[@name='mail/JiraMailServer']")
    assert resource is not None
    assert resource.get('type') == 'javax.mail.Session'
    assert resource.get('mail.smtp.host') == '127.0.0.1'
    assert resource.get('mail.smtp.port') == str(vh.peers()['smtp_port'])
    assert resource.get('mail.smtp.starttls.required') == 'true'
    assert resource.get('mail.smtp.user') == 'mailer'
    assert resource.get('password') == 'molecule-relay-password'


def test_setenv_points_the_jvm_at_the_truststore(host):
    setenv = host.file(str(vh.sandbox() / 'app/jira/bin/setenv.sh')).content_string
    store = vh.sandbox() / 'home/mail-truststore.p12'
    assert '# BEGIN mailwright mail truststore (managed by Ansible)' in setenv
    assert f'-Djavax.net.ssl.trustStore={store}' in setenv
    assert '-Djavax.net.ssl.trustStoreType=PKCS12' in setenv
    # the block sits after the variable's definition and before JAVA_OPTS uses it
    assert setenv.index('JVM_SUPPORT_RECOMMENDED_ARGS=""') < setenv.index('# BEGIN mailwright') < setenv.index('JAVA_OPTS=')
    assert host.run(f'sh -n {vh.sandbox() / "app/jira/bin/setenv.sh"}').rc == 0


def test_truststore_holds_the_relay_certificate(host):
    store = vh.sandbox() / 'home/mail-truststore.p12'
    assert host.file(str(store)).exists
    aliases = vh.keytool_aliases(store, 'molecule-store-password')
    assert 'mailwright-127.0.0.1' in aliases


def test_exactly_one_message_over_two_converges(host):
    received = vh.messages()
    assert len(received) == 1
    envelope, message = received[0]
    assert envelope['tls'] and envelope['auth']
    assert envelope['rcpt_tos'] == ['platform-team@example.test']
    assert message['Subject'].startswith('[JIRA]')
    assert message['From'] == '"Molecule Admin (Jira)" <jira@example.test>'
    assert message['X-Mailwright-Fingerprint'].startswith('hmac-sha256:')


def test_proof_marker_is_private(host):
    marker = host.file(str(vh.sandbox() / 'home/mailwright-proof.json'))
    assert marker.mode == 0o600
    assert 'molecule-relay-password' not in marker.content_string
