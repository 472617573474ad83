"""_prove.java_client without a JVM: the helper shipped in step with its source, the stdin the JVM
reads, the transcript made from mail.debug, and JVM failures in the Python client's vocabulary."""
from __future__ import annotations

import base64
import importlib.util
import pathlib
import struct
from types import SimpleNamespace

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import Transcript
from ansible_collections.mailwright.smtp.plugins.module_utils._prove import java_client, java_helper
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import (
    SendOptions,
    _check_inputs,
    fingerprint_material,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import PropertiesFile, javamail_properties
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective

ROOT = pathlib.Path(__file__).resolve().parents[5]
CANARY = 'Canary-5ecret-Pa55'
TOKEN = 'ya29.Canary-Token-0Auth2-abcdef'


def _build_tool():
    spec = importlib.util.spec_from_file_location('build_java_helper', ROOT / 'tools' / 'build_java_helper.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def settings(**server):
    return load_effective({
        'product': 'jira',
        'server': dict({'host': 'smtp.example.com', 'port': 587, 'tls': 'required'}, **server),
        'auth': {'method': 'basic', 'username': 'jira', 'password': CANARY},
        'sender': {'from_address': 'jira@example.com'},
        'test': {'recipients': ['ops@example.com']},
    })


# --- the shipped classes ------------------------------------------------------------------------

def test_the_shipped_classes_are_built_from_the_sources():
    tool = _build_tool()
    assert java_helper.SOURCE_SHA256 == tool.source_sha256(), 'run make java-helper'
    assert tool.shipped_sha256((ROOT / 'plugins/module_utils/_prove/java_helper.py').read_text()) == tool.source_sha256()


def test_the_shipped_classes_are_java_8_bytecode():
    names = {pathlib.Path(p).stem + '.class' for p in (ROOT / 'tools' / 'java').glob('*.java')}
    assert names <= set(java_helper.CLASS_FILES)
    for name, encoded in java_helper.CLASS_FILES.items():
        data = base64.b64decode(encoded)
        magic, _minor, major = struct.unpack('>IHH', data[:8])
        assert magic == 0xCAFEBABE and major == 52, (name, major)   # 52: runs on every JRE from 8 on
    assert java_helper.MAIN_CLASS + '.class' in java_helper.CLASS_FILES


def test_check_fails_when_a_source_changes(tmp_path, monkeypatch):
    tool = _build_tool()
    sources = tmp_path / 'java'
    sources.mkdir()
    for path in (ROOT / 'tools' / 'java').glob('*.java'):
        (sources / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(tool, 'SOURCES', sources)
    assert tool.main(['--check']) == 0
    (sources / 'MailwrightProof.java').write_text((sources / 'MailwrightProof.java').read_text() + '\n// changed\n')
    assert tool.main(['--check']) == 1


# --- what the JVM is given ------------------------------------------------------------------------

def test_session_properties_are_the_rendered_ones_plus_debug():
    effective = settings()
    props = java_client.session_properties(effective)
    rendered = javamail_properties(effective)
    assert {k: v for k, v in props.items() if k in rendered} == rendered
    assert set(props) - set(rendered) == {'mail.debug', 'mail.debug.auth'}
    assert props['mail.smtp.ssl.checkserveridentity'] == 'true'


def test_oauth2_names_xoauth2():
    effective = load_effective({'product': 'generic', 'server': {'host': 'smtp.gmail.com', 'port': 587, 'tls': 'required'},
                                'auth': {'method': 'oauth2', 'username': 'u@example.com',
                                         'oauth2': {'provider': 'google', 'token': TOKEN}},
                                'sender': {'from_address': 'u@example.com'}})
    assert java_client.session_properties(effective)['mail.smtp.auth.mechanisms'] == 'XOAUTH2'


def test_stdin_holds_the_secrets_escaped_and_the_properties_as_rendered():
    effective = settings(properties={'mail.smtp.sendpartial': True})
    runtime = java_client.JavaRuntime('java', ['/x/mail.jar'], 'javax',
                                      truststore={'path': '/s.p12', 'password': 'st=re pass', 'type': 'PKCS12'})
    secret = 'p=ss:wörd #1'
    text = java_client.proof_input(effective, java_client.session_properties(effective), sender='jira@example.com',
                                   recipients=['a@example.com', 'b@example.com'], message=b'Subject: x\r\n\r\nhi\r\n',
                                   secret=secret, check_mode=True, runtime=runtime)
    assert text.isascii()
    values = PropertiesFile(text).as_dict()   # read back as java.util.Properties.load does
    assert values['mailwright.proof.password'] == secret
    assert values['mailwright.proof.system.javax.net.ssl.trustStorePassword'] == 'st=re pass'
    assert values['mailwright.proof.mode'] == 'check' and values['mailwright.proof.api'] == 'javax'
    assert [values['mailwright.proof.rcpt.0'], values['mailwright.proof.rcpt.1']] == ['a@example.com', 'b@example.com']
    assert base64.b64decode(values['mailwright.proof.message']) == b'Subject: x\r\n\r\nhi\r\n'
    assert values['mail.smtp.sendpartial'] == 'true'


def test_the_command_line_carries_no_secret():
    runtime = java_client.JavaRuntime('/jre/bin/java', ['/x/mail.jar'], 'javax',
                                      truststore={'path': '/s.p12', 'password': CANARY, 'type': None})
    command = java_client.jvm_command(runtime, '/tmp/d')
    assert CANARY not in ' '.join(command)
    assert command[0] == '/jre/bin/java' and command[-1] == java_helper.MAIN_CLASS
    assert command[command.index('-cp') + 1] == '/tmp/d:/x/mail.jar'


# --- the transcript ------------------------------------------------------------------------------------

DEBUG = '''DEBUG: Jakarta Mail version 1.6.5
DEBUG: Tables of loaded providers
DEBUG SMTP: useEhlo true, useAuth true
220 mail.test ESMTP
EHLO app01
250-mail.test
250 AUTH LOGIN PLAIN
DEBUG SMTP: Using mechanism LOGIN
AUTH LOGIN
334 VXNlcm5hbWU6
{user64}
334 UGFzc3dvcmQ6
{pass64}
235 2.7.0 Authentication successful
AUTH PLAIN {plain64}
MAIL FROM:<jira@example.com>
250 OK
DATA
354 End data
Subject: secret body {canary}
.
250 2.0.0 queued
'''


def test_debug_output_becomes_a_redacted_transcript():
    transcript = Transcript()
    java_client.register_credentials(transcript, 'jira', CANARY, oauth2=False)
    text = DEBUG.format(user64=base64.b64encode(b'jira').decode(), pass64=base64.b64encode(CANARY.encode()).decode(),
                        plain64=base64.b64encode(f'\0jira\0{CANARY}'.encode()).decode(), canary=CANARY)
    mechanism = java_client.parse_transcript(text, transcript)
    lines = transcript.lines
    joined = '\n'.join(lines)
    assert mechanism == 'LOGIN'
    assert CANARY not in joined and base64.b64encode(CANARY.encode()).decode() not in joined
    assert 'C: AUTH PLAIN ********' in lines and lines.count('C: ********') == 2
    assert 'S: 220 mail.test ESMTP' in lines and 'C: EHLO app01' in lines
    assert 'C: .' in lines and any(line.startswith('C: <message, ') for line in lines)
    assert 'secret body' not in joined   # message data is summarised, not copied
    assert not any('Tables of loaded providers' in line for line in lines)


def test_register_credentials_covers_the_xoauth2_payload():
    transcript = Transcript()
    java_client.register_credentials(transcript, 'u', TOKEN, oauth2=True)
    payload = base64.b64encode(f'user=u\x01auth=Bearer {TOKEN}\x01\x01'.encode()).decode()
    assert transcript.scrub(f'C: AUTH XOAUTH2 {payload} {TOKEN}') == 'C: AUTH XOAUTH2 ******** ********'


# --- failures ------------------------------------------------------------------------------------------

RUNTIME = java_client.JavaRuntime('java', ['/x/javax.mail.jar'], 'javax', truststore={'path': '/s.p12'},
                                  truststore_source='truststore_path')
JAVAMAIL = {'implementation': 'javax.mail', 'version': '1.6.5'}


def failure(phase, *errors, last=None, host='smtp.example.com'):
    result = {'ok': False, 'phase': phase, 'javamail': JAVAMAIL, 'jvm': {'version': '17'},
              'errors': [dict(zip(('class', 'message', 'code'), e)) for e in errors], 'last_reply': last or {}}
    return java_client.failure_from_result(result, settings(host=host) if host != 'smtp.example.com' else settings(),
                                           RUNTIME)


def test_untrusted_certificate_names_the_truststore_option():
    error = failure('connect', ('javax.mail.MessagingException', 'Could not convert socket to TLS'),
                    ('javax.net.ssl.SSLHandshakeException', 'PKIX path building failed'))
    assert (error.step, error.kind, error.transient) == ('tls', 'tls', False)
    assert 'truststore_path' in error.text and '/s.p12' in error.text
    assert error.java['javamail'] == JAVAMAIL


def test_wrong_name_and_ip_literal():
    error = failure('connect', ('javax.mail.MessagingException', 'Could not convert socket to TLS'),
                    ('java.io.IOException', "Can't verify identity of server: smtp.example.com"))
    assert error.step == 'tls' and 'does not name smtp.example.com' in error.text
    error = failure('connect', ('java.io.IOException', "Can't verify identity of server: 10.0.0.5"), host='10.0.0.5')
    assert 'IP address (10.0.0.5)' in error.text and 'javax.mail 1.6.5' in error.text and 'DNS name' in error.text


@pytest.mark.parametrize('phase, errors, last, step, code, transient', [
    ('connect', [('javax.mail.AuthenticationFailedException', '535 5.7.8 nope', None)], {'code': 535}, 'auth', 535, False),
    ('connect', [('javax.mail.MessagingException', "Couldn't connect to host, port: x, 25; timeout 5000", None),
                 ('java.net.ConnectException', 'Connection refused', None)], {}, 'connect', None, True),
    ('connect', [('javax.mail.MessagingException', 'Exception reading response', None),
                 ('java.net.SocketTimeoutException', 'Read timed out', None)], {}, 'connect', None, True),
    ('rcpt', [('java.lang.IllegalStateException', 'server replied 550 to RCPT TO', None)],
     {'code': 550, 'text': '550 5.1.1 no such user'}, 'rcpt', 550, False),
    ('send', [('javax.mail.SendFailedException', 'Invalid Addresses', None),
              ('com.sun.mail.smtp.SMTPAddressFailedException', '451 4.7.1 Greylisted', 451)],
     {'code': 451, 'text': '451 4.7.1 Greylisted'}, 'rcpt', 451, True),
    ('send', [('com.sun.mail.smtp.SMTPSendFailedException', '554 5.7.1 rejected', 554)],
     {'code': 554, 'text': '554 5.7.1 rejected'}, 'data', 554, False),
])
def test_failures_in_the_vocabulary_of_the_python_client(phase, errors, last, step, code, transient):
    error = failure(phase, *errors, last=last)
    assert (error.step, error.code, error.transient) == (step, code, transient)


def test_starttls_required_is_policy():
    error = failure('connect', ('javax.mail.MessagingException', 'STARTTLS is required but host does not support STARTTLS'))
    assert (error.step, error.kind) == ('tls', 'policy')


def test_missing_classes_say_which_jars():
    error = failure('setup', ('java.lang.ClassNotFoundException', 'javax.mail.Session'))
    assert error.kind == 'missing' and '/x/javax.mail.jar' in error.text


# --- refused before a JVM starts ----------------------------------------------------------------------------

@pytest.mark.parametrize('server, options, kind', [
    ({'tls': 'opportunistic'}, {}, 'policy'),
    ({}, {'validate_certs': False}, 'invalid'),
    ({}, {'ca_path': '/etc/ssl/ca.pem'}, 'invalid'),
])
def test_what_client_java_refuses(server, options, kind):
    with pytest.raises(MailwrightError) as caught:
        _check_inputs(settings(**server), SendOptions(client='java', **options))
    assert caught.value.kind == kind


def test_runtime_needs_jars(tmp_path):
    options = SimpleNamespace(app_home=None, java='/bin/sh', classpath=None, truststore_path=None)
    with pytest.raises(MailwrightError, match='app_home .* or classpath'):
        java_client.resolve_runtime(settings(), options)
    options.java = str(tmp_path / 'nojava')
    with pytest.raises(MailwrightError, match='java option') as caught:
        java_client.resolve_runtime(settings(), options)
    assert caught.value.kind == 'missing'


def test_the_client_is_part_of_the_fingerprint_material():
    effective = settings()
    python = fingerprint_material(effective, ['ops@example.com'], SendOptions())
    java = fingerprint_material(effective, ['ops@example.com'], SendOptions(client='java', app_home='/opt/jira'))
    assert 'client' not in python          # markers written before client java existed still hold
    assert java['client']['name'] == 'java' and java['client']['app_home'] == '/opt/jira'
