"""readback: each format's values mapped back to the settings model, the inverse of its renderer."""
from __future__ import annotations

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._info import readback
from ansible_collections.mailwright.smtp.plugins.module_utils._render.bitbucket import desired_config
from ansible_collections.mailwright.smtp.plugins.module_utils._render.ghes import desired_smtp
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import javamail_properties
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective

DOC = {'product': 'generic',
       'server': {'host': 'smtp.example.com', 'port': 465, 'protocol': 'smtps', 'timeout_ms': 7000},
       'auth': {'method': 'basic', 'username': 'u', 'password': 'Canary-1', 'mechanism': 'plain'},
       'sender': {'from_address': 'app@example.com', 'from_name': 'Ops "Team"'}}


def test_javamail_properties_read_back_as_the_document_they_came_from():
    reading = readback.from_javamail(javamail_properties(load_effective(DOC)), where='x')
    assert reading.doc == {
        'server': {'host': 'smtp.example.com', 'port': 465, 'protocol': 'smtps', 'tls': 'required', 'timeout_ms': 7000},
        'auth': {'method': 'basic', 'username': 'u', 'mechanism': 'plain'},
        'sender': {'from_address': 'app@example.com', 'from_name': 'Ops "Team"'}}
    assert reading.notes == []


@pytest.mark.parametrize('props, protocol, tls', [
    ({'mail.smtp.host': 'h'}, 'smtp', 'none'),
    ({'mail.smtp.host': 'h', 'mail.smtp.starttls.enable': 'true'}, 'smtp', 'opportunistic'),
    ({'mail.smtp.host': 'h', 'mail.smtp.starttls.enable': 'TRUE', 'mail.smtp.starttls.required': 'true'}, 'smtp', 'required'),
    ({'mail.smtp.host': 'h', 'mail.smtp.socketFactory.class': 'javax.net.ssl.SSLSocketFactory'}, 'smtps', 'required'),
    ({'mail.transport.protocol': 'smtps', 'mail.smtps.host': 'h'}, 'smtps', 'required'),
])
def test_tls_as_javamail_reads_it(props, protocol, tls):
    server = readback.from_javamail(props, where='x').doc['server']
    assert (server['protocol'], server['tls']) == (protocol, tls)
    assert server['port'] == (465 if protocol == 'smtps' else 25)
    assert server['timeout_ms'] == 0  # JavaMail's default: wait forever


def test_unknown_keys_become_properties_and_derived_ones_do_not():
    reading = readback.from_javamail({'mail.smtp.host': 'h', 'mail.smtp.userset': 'true', 'mail.smtp.ssl.trust': '*',
                                      'mail.smtp.ssl.checkserveridentity': 'true', 'mail.user': 'x',
                                      'mail.smtp.socketFactory.class': 'com.example.Factory', 'app.x': '1'}, where='f')
    assert reading.doc['server']['properties'] == {'mail.smtp.userset': 'true', 'mail.smtp.ssl.trust': '*',
                                                   'mail.smtp.socketFactory.class': 'com.example.Factory'}
    assert {n['kind'] for n in reading.notes} == {'tls', 'property'}


def test_a_resource_keeps_its_password_apart():
    reading = readback.from_resource({'name': 'mail/Session', 'type': 'jakarta.mail.Session', 'mail.smtp.host': 'h',
                                      'mail.smtp.auth': 'true', 'mail.smtp.user': 'u', 'password': 'Canary-1'}, where='f')
    assert reading.doc['auth'] == {'method': 'basic', 'username': 'u', 'password': '********'}
    assert reading.secrets == {'$.auth.password': 'Canary-1'}
    assert reading.doc['server']['jndi'] == {'name': 'mail/Session', 'session_type': 'jakarta.mail.Session'}


def test_bitbucket_and_ghes_bodies_read_back():
    effective = load_effective(dict(DOC, product='bitbucket', server={'host': 'h', 'port': 587, 'tls': 'required'},
                                    auth={'method': 'basic', 'username': 'u', 'password': 'p'}))
    reading = readback.from_bitbucket_api(desired_config(effective), where='api')
    assert reading.doc['server'] == {'host': 'h', 'port': 587, 'protocol': 'smtp', 'tls': 'required'}
    assert '$.auth.password' in reading.unknown
    effective = load_effective({'product': 'ghes', 'server': {'host': 'h', 'port': 25},
                                'sender': {'from_address': 'n@example.com', 'noreply_address': 'n@example.com'}})
    reading = readback.from_ghes_smtp(desired_smtp(effective), where='api')
    assert reading.doc['auth'] == {'method': 'none'}
    assert reading.doc['sender']['noreply_address'] == 'n@example.com'
    assert readback.from_ghes_smtp({'address': ''}, where='api').notes[0]['kind'] == 'missing'


def test_bitbucket_properties_timeouts_in_seconds():
    reading = readback.from_bitbucket_properties({'mail.timeout.connect': '5', 'mail.timeout.send': '5'}, where='f')
    assert reading.doc == {'server': {'timeout_ms': 5000}}
    assert readback.from_bitbucket_properties({}, where='f').unknown == ['$.server.timeout_ms']
