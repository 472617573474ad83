"""test_send client java as a module process against a real aiosmtpd relay (STARTTLS + AUTH).

The proof runs in a real JVM with Debian's JavaMail 1.6.5 (javax, libmail-java) and Jakarta Mail
2.0.0 (jakarta, libjakarta-mail-java): it sends once and then reports changed=false; it fails at
TLS when the truststore lacks the relay's CA (naming the option to set), on a certificate for
another name (the rendered host-name check), and on an IP-literal relay (with what to do); check
mode delivers nothing (the relay never sees DATA). The canary password and token appear nowhere,
raw or base64.
"""
from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil

import pytest

from tests.support.modrun import run_module
from tests.support.tomcat import make_truststore

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
TOKEN = 'ya29.Canary-Token-0Auth2-abcdef'
USER = 'relay-user'
SECRET_FORMS = [CANARY, TOKEN, base64.b64encode(CANARY.encode()).decode(), base64.b64encode(TOKEN.encode()).decode()[:24],
                base64.b64encode(f'\0{USER}\0{CANARY}'.encode()).decode()[:24],
                base64.b64encode(f'user={USER}\x01auth=Bearer {TOKEN}\x01\x01'.encode()).decode()[:24]]
JARS = {
    'javax': ['/usr/share/java/javax.mail.jar', '/usr/share/java/javax.activation.jar'],
    'jakarta': ['/usr/share/java/jakarta-mail.jar', '/usr/share/java/jakarta-activation.jar'],
}
VERSIONS = {'javax': '1.6.5', 'jakarta': '2.0.0'}

_missing = [jar for jars in JARS.values() for jar in jars if not os.path.exists(jar)]
if _missing or shutil.which('java') is None or shutil.which('keytool') is None:
    pytestmark = [pytestmark, pytest.mark.skip(reason=f'needs java, keytool and {", ".join(_missing) or "the mail jars"} '
                                                      '(Debian: default-jre, libmail-java, libjakarta-mail-java)')]


def settings_for(server, *, host='localhost', auth='plain', tls='required') -> dict:
    doc = {
        'product': 'jira',
        'server': {'host': host, 'port': server.port, 'protocol': 'smtp', 'tls': tls, 'timeout_ms': 5000,
                   'helo_domain': 'app01.example.test'},
        'sender': {'from_address': 'app@example.test', 'subject_prefix': '[TEST]'},
        'test': {'recipients': ['team@example.test']},
    }
    if auth in ('plain', 'login'):
        doc['auth'] = {'method': 'basic', 'username': USER, 'password': CANARY, 'mechanism': auth}
    elif auth == 'xoauth2':
        doc['auth'] = {'method': 'oauth2', 'username': USER, 'oauth2': {'provider': 'google', 'token': TOKEN}}
    return doc


class Runner:
    def __init__(self, tmp_path: pathlib.Path, store: pathlib.Path):
        self.tmp_path = tmp_path
        self.marker = tmp_path / 'state' / 'proof.json'
        self.store = store

    def __call__(self, settings: dict, *, api: str = 'javax', check_mode: bool = False, **options) -> tuple[int, dict]:
        args = {'settings': settings, 'marker_path': str(self.marker), 'client': 'java', 'classpath': JARS[api],
                'truststore_path': str(self.store), 'truststore_password': 'changeit', 'truststore_type': 'pkcs12',
                'retries': 0}
        args.update(options)
        args = {k: v for k, v in args.items() if v is not None}
        rc, result = run_module('test_send', args, check_mode=check_mode)
        texts = [json.dumps(result), result.get('_stderr', '')]
        if self.marker.exists():
            texts.append(self.marker.read_text())
        for text in texts:
            for form in SECRET_FORMS:
                assert form not in text, f'secret form {form!r} leaked: {text[:600]}'
        return rc, result


@pytest.fixture(scope='module')
def stores(tmp_path_factory, smtp_pki):
    directory = tmp_path_factory.mktemp('stores')
    good = make_truststore(directory / 'relay-ca.p12', pathlib.Path(smtp_pki.ca_file).read_bytes())
    # a store that holds some other CA, not the relay's
    other = make_truststore(directory / 'other-ca.p12', pathlib.Path(smtp_pki.self_signed.cert_file).read_bytes())
    return {'good': good, 'other': other}


@pytest.fixture
def run(tmp_path, stores) -> Runner:
    return Runner(tmp_path, stores['good'])


def start(smtp_server, cert='good'):
    return smtp_server('starttls', cert=cert, credentials={USER: CANARY}, tokens={USER: TOKEN}, auth_require_tls=True)


@pytest.mark.parametrize('api, auth', [('javax', 'plain'), ('javax', 'login'), ('jakarta', 'plain'),
                                       ('jakarta', 'xoauth2')])
def test_sends_once_then_reports_unchanged(smtp_server, run, api, auth):
    server = start(smtp_server)
    settings = settings_for(server, auth=auth)
    rc, first = run(settings, api=api)
    assert rc == 0, first
    assert (first['changed'], first['sent']) == (True, True)
    assert first['javamail']['api'] == api and first['javamail']['version'] == VERSIONS[api]
    assert first['jvm']['version'] and first['jvm']['vendor']
    assert first['tls_protocol'] in ('TLSv1.2', 'TLSv1.3') and first['tls']['version'] == first['tls_protocol']
    assert first['auth_mechanism'] == auth.upper()
    assert first['java_runtime']['truststore']['source'] == 'truststore_path'
    assert len(server.messages) == 1
    delivered = server.messages[0]
    assert delivered.tls and delivered.auth_login == USER
    assert server.auth_attempts[-1]['mechanism'] == auth.upper()
    parsed = delivered.message()
    # the message Python built, sent by JavaMail with its Message-ID and fingerprint intact
    assert parsed['Message-ID'] == first['proof']['message_id']
    assert parsed['X-Mailwright-Fingerprint'] == first['fingerprint']
    assert 'C: STARTTLS' in first['transcript'] and any(line.startswith('C: <message, ') for line in first['transcript'])

    rc, second = run(settings, api=api)
    assert rc == 0, second
    assert (second['changed'], second['sent']) == (False, False)
    assert len(server.messages) == 1


def test_the_java_proof_is_its_own_fingerprint(smtp_server, run, smtp_pki):
    """A proof by java does not stand for one by python: the client is part of what is proven."""
    server = start(smtp_server)
    settings = settings_for(server)
    rc, java = run(settings)
    assert rc == 0 and java['sent'], java
    rc, python = run_module('test_send', {'settings': settings, 'marker_path': str(run.marker),
                                          'ca_path': smtp_pki.ca_file})
    assert rc == 0 and python['sent'] and python['reason'] == 'settings changed', python
    assert len(server.messages) == 2


def test_check_mode_delivers_nothing(smtp_server, run):
    server = start(smtp_server)
    rc, result = run(settings_for(server), check_mode=True)
    assert rc == 0, result
    assert result['changed'] and not result['sent']
    assert server.messages == []
    commands = [c.split(':')[0].split()[0].upper() for c in server.commands()]
    assert 'DATA' not in commands
    assert {'MAIL', 'RCPT', 'RSET'} <= set(commands)
    assert result['server_reply']['code'] == 250
    assert not run.marker.exists() and not (run.marker.parent / 'fingerprint.key').exists()


def test_fails_at_tls_when_the_store_lacks_the_relay_ca(smtp_server, tmp_path, stores):
    server = start(smtp_server)
    rc, result = Runner(tmp_path, stores['other'])(settings_for(server))
    assert rc != 0 and result['failed']
    assert result['step'] == 'tls' and result['kind'] == 'tls'
    assert 'truststore_path' in result['msg'] and str(stores['other']) in result['msg']
    assert server.messages == [] and server.auth_attempts == []
    assert not tmp_path.joinpath('state', 'proof.json').exists()


def test_refuses_a_certificate_for_another_name(smtp_server, run):
    server = start(smtp_server, cert='wrong_name')
    rc, result = run(settings_for(server))
    assert rc != 0 and result['step'] == 'tls'
    assert 'does not name localhost' in result['msg'] and 'checkserveridentity' in result['msg']
    assert result['javamail']['version'] == '1.6.5'    # what the JVM said, on failure too
    assert server.messages == [] and server.auth_attempts == []


@pytest.mark.parametrize('api', ['javax', 'jakarta'])
def test_an_ip_literal_relay_fails_with_what_to_do(smtp_server, run, api):
    """The good certificate lists 127.0.0.1 as an IP SAN; JavaMail 1.6.5 and Jakarta Mail 2.0.0
    refuse it all the same once the host-name check is on."""
    server = start(smtp_server)
    rc, result = run(settings_for(server, host='127.0.0.1'), api=api)
    assert rc != 0 and result['step'] == 'tls'
    assert 'IP address (127.0.0.1)' in result['msg'] and 'DNS name' in result['msg'], result['msg']
    assert VERSIONS[api] in result['msg']
    assert server.messages == []


def test_opportunistic_with_auth_is_refused_before_the_jvm_runs(smtp_server, run):
    server = start(smtp_server)
    rc, result = run(settings_for(server, tls='opportunistic'))
    assert rc != 0 and result['kind'] == 'policy' and 'tls: required' in result['msg']
    assert server.commands() == []


def test_app_home_gives_the_jars_and_the_truststore(smtp_server, tmp_path, stores):
    """A fake Jira install: mail jars in lib/, the truststore named in bin/setenv.sh."""
    home = tmp_path / 'jira'
    (home / 'lib').mkdir(parents=True)
    (home / 'bin').mkdir()
    (home / 'atlassian-jira' / 'WEB-INF' / 'lib').mkdir(parents=True)
    for jar in JARS['javax']:
        shutil.copyfile(jar, home / 'lib' / os.path.basename(jar).replace('.jar', '-1.6.5.jar'))
    (home / 'bin' / 'setenv.sh').write_text(
        f'JVM_SUPPORT_RECOMMENDED_ARGS="-Djavax.net.ssl.trustStore={stores["good"]} '
        '-Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12"\n')
    server = start(smtp_server)
    rc, result = Runner(tmp_path, stores['good'])(settings_for(server), classpath=None, truststore_path=None,
                                                  truststore_password=None, truststore_type=None, app_home=str(home))
    assert rc == 0 and result['sent'], result
    assert result['java_runtime']['truststore'] == {'path': str(stores['good']), 'type': 'PKCS12', 'source': 'app_home'}
    assert all(path.startswith(str(home / 'lib')) for path in result['java_runtime']['classpath'])
    assert result['javamail']['jar'].startswith(str(home / 'lib'))
    assert len(server.messages) == 1


@pytest.mark.parametrize('api', ['javax', 'jakarta'])
def test_smtps_sends_with_the_rendered_ssl_enable(smtp_server, run, api):
    """SMTPS is rendered as protocol smtp + mail.smtp.ssl.enable; the JVM proves that reading."""
    server = smtp_server('smtps', credentials={USER: CANARY}, auth_require_tls=True)
    settings = settings_for(server)
    settings['server'].pop('tls')
    settings['server']['protocol'] = 'smtps'
    rc, result = run(settings, api=api)
    assert rc == 0 and result['sent'], result
    assert result['tls_protocol'] in ('TLSv1.2', 'TLSv1.3')
    assert 'C: STARTTLS' not in result['transcript']
    assert len(server.messages) == 1 and server.messages[0].tls and server.messages[0].auth_login == USER
