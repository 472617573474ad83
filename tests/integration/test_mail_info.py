"""mail_info reads a host back: round trips through the render modules for every product (rendered by
the modules as real processes, read back by mail_info as a real process), one field changed at a time
shows up as exactly that field, and files the collection did not write are read as documented."""
from __future__ import annotations

import copy
import json
import os
import pathlib
import shutil
import subprocess

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._info.info import read_info
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import effective_settings, load_effective
from tests.support.bitbucket_api import BitbucketServer
from tests.support.ghes_api import GhesServer
from tests.support.modrun import run_module

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / 'tests' / 'fixtures' / 'tomcat'
CANARY = 'Canary-5ecret-Pa55'
ADMIN = 'Adm1n-Canary-Pa55'
SCHEMA = json.loads((ROOT / 'schemas' / 'mail-settings.schema.json').read_text())


def tomcat_doc(product: str) -> dict:
    doc = {
        'product': product,
        'server': {'host': 'smtp.example.com', 'port': 587, 'protocol': 'smtp', 'tls': 'required',
                   'timeout_ms': 15000, 'helo_domain': 'app01.example.com',
                   'properties': {'mail.smtp.ssl.protocols': 'TLSv1.3'}},
        'auth': {'method': 'basic', 'username': 'app-notify', 'password': CANARY, 'mechanism': 'login'},
        'sender': {'from_address': 'app@example.com', 'from_name': 'App Notifications', 'subject_prefix': '[APP]'},
    }
    if product == 'generic':
        doc['server']['jndi'] = {'name': 'mail/Session', 'session_type': 'javax.mail.Session'}
    return doc


# one change per rendered field: (JSON path, the section and values to change)
TOMCAT_CHANGES: list[tuple[str, dict]] = [
    ('$.server.host', {'server': {'host': 'relay.example.net'}}),
    ('$.server.port', {'server': {'port': 2525}}),
    ('$.server.protocol', {'server': {'protocol': 'smtps', 'port': 587}}),
    ('$.server.tls', {'server': {'tls': 'opportunistic'}}),
    ('$.server.timeout_ms', {'server': {'timeout_ms': 30000}}),
    ('$.server.helo_domain', {'server': {'helo_domain': 'app02.example.com'}}),
    ("$.server.properties['mail.smtp.ssl.protocols']", {'server': {'properties': {'mail.smtp.ssl.protocols': 'TLSv1.2'}}}),
    ('$.server.jndi.session_type', {'server': {'jndi': {'name': 'X', 'session_type': 'jakarta.mail.Session'}}}),
    ('$.server.jndi.debug', {'server': {'jndi': {'name': 'X', 'debug': True}}}),
    ('$.auth.username', {'auth': {'username': 'other-user'}}),
    ('$.auth.password', {'auth': {'password': 'Another-Canary-77'}}),
    ('$.auth.mechanism', {'auth': {'mechanism': 'plain'}}),
    ('$.sender.from_address', {'sender': {'from_address': 'other@example.com'}}),
    ('$.sender.from_name', {'sender': {'from_name': 'Other Name'}}),
]


def changed(doc: dict, change: dict) -> dict:
    out = copy.deepcopy(doc)
    for section, values in change.items():
        for key, value in values.items():
            if isinstance(value, dict):
                base = dict(out[section].get(key) or {})
                if key == 'jndi':
                    base = dict(out[section].get('jndi') or {}, **{k: v for k, v in value.items() if k != 'name'})
                    base.setdefault('name', (out[section].get('jndi') or {}).get('name') or
                                    {'jira': 'mail/JiraMailServer', 'confluence': 'mail/ConfluenceMailServer'}[out['product']])
                    out[section][key] = base
                else:
                    out[section][key] = dict(base, **value)
            else:
                out[section][key] = value
    return out


def paths(drift: list[dict]) -> list[str]:
    return [item['path'] for item in drift]


def assert_valid_with_secrets(current: dict, **secrets: str) -> None:
    """`current` with the masked secrets filled in is a valid settings document (schema and rules)."""
    from jsonschema import Draft202012Validator

    doc = copy.deepcopy(current)
    if doc.get('auth', {}).get('password') == '********' or (doc.get('auth', {}).get('method') == 'basic'
                                                             and 'password' not in doc['auth']):
        doc['auth']['password'] = secrets.get('password', 'filled-in')
    errors = list(Draft202012Validator(SCHEMA).iter_errors(doc))
    assert not errors, [e.message for e in errors]
    result = effective_settings(doc)
    assert result.ok, [str(e) for e in result.errors]


def no_canary(result: dict, *secrets: str) -> None:
    text = json.dumps(result)
    for secret in (CANARY, ADMIN) + secrets:
        assert secret not in text


@pytest.mark.parametrize('product', ['jira', 'confluence', 'generic'])
def test_tomcat_round_trip_every_field(tmp_path, product):
    server_xml = tmp_path / 'server.xml'
    shutil.copy(FIXTURES / 'server-with-context.xml', server_xml)
    server_xml.chmod(0o600)
    doc = tomcat_doc(product)
    render = {'settings': doc, 'path': str(server_xml), 'context_path': ''}
    rc, result = run_module('tomcat_mail_resource', render)
    assert rc == 0 and result['changed'], result
    info = {'settings': doc, 'server_xml': str(server_xml), 'context_path': ''}
    rc, result = run_module('mail_info', info)
    assert rc == 0, result
    assert result['drift'] == [] and result['changed'] is False
    no_canary(result)
    assert result['current']['auth']['password'] == '********'
    assert '$.sender.subject_prefix' in result['unknown']
    assert result['current']['server']['timeout_ms'] == 15000
    assert_valid_with_secrets(result['current'])
    # the host as it is, against settings that differ in one rendered field at a time
    params = dict(info, settings=None, context_path='')
    for path, change in TOMCAT_CHANGES:
        desired = load_effective(changed(doc, change))
        drift = read_info(params, desired)['drift']
        assert paths(drift) == [path], (path, drift)
        if path == '$.auth.password':
            assert drift[0]['current'] == drift[0]['desired'] == '********' and drift[0]['masked'] is True
    renamed = copy.deepcopy(doc)
    renamed['server']['jndi'] = {'name': 'mail/Other'}
    assert paths(read_info(params, load_effective(renamed))['drift']) == ['$.server.jndi.name']
    # fields the JNDI Resource cannot hold, or left at their default, are no drift
    for quiet in ({'sender': {'subject_prefix': '[OTHER]'}}, {'test': {'max_age': '7d'}},
                  {'sender': {'from_name': '${fullname} (App)'}}):
        base = copy.deepcopy(doc)
        base.setdefault('test', {})
        assert_no_drift = read_info(params, load_effective(changed(base, quiet)))['drift']
        if 'from_name' in quiet.get('sender', {}):
            assert paths(assert_no_drift) == ['$.sender.from_name']  # the file has a fixed name
        else:
            assert assert_no_drift == []


def test_default_fields_are_not_drift(tmp_path):
    server_xml = tmp_path / 'server.xml'
    shutil.copy(FIXTURES / 'server-with-context.xml', server_xml)
    server_xml.chmod(0o600)
    minimal = {'product': 'jira', 'server': {'host': 'smtp.example.com'},
               'sender': {'from_address': 'jira@example.com'}}
    assert run_module('tomcat_mail_resource', {'settings': minimal, 'path': str(server_xml), 'context_path': ''})[0] == 0
    explicit = dict(minimal, server={'host': 'smtp.example.com', 'port': 25, 'protocol': 'smtp', 'tls': 'opportunistic',
                                     'timeout_ms': 10000,
                                     'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session'}},
                    auth={'method': 'none'})
    for desired in (minimal, explicit):
        rc, result = run_module('mail_info', {'settings': desired, 'server_xml': str(server_xml), 'context_path': ''})
        assert rc == 0 and result['drift'] == [], result


def test_rendered_host_name_check_is_neither_drift_nor_a_property(tmp_path):
    doc = tomcat_doc('jira')
    attrib = {'name': 'mail/JiraMailServer', 'auth': 'Container', 'type': 'javax.mail.Session'}
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import resource_attributes, xml_attr_escape

    attrib.update(resource_attributes(load_effective(doc)))
    attrib['mail.smtp.ssl.checkserveridentity'] = 'true'
    body = ' '.join(f'{k}="{xml_attr_escape(v)}"' for k, v in attrib.items())
    (tmp_path / 'context.xml').write_text(f'<?xml version="1.0"?>\n<Context>\n  <Resource {body}/>\n</Context>\n')
    result = read_info({'server_xml': str(tmp_path / 'context.xml')}, load_effective(doc))
    assert result['drift'] == []
    assert 'mail.smtp.ssl.checkserveridentity' not in result['current']['server'].get('properties', {})
    assert not [u for u in result['unknown'] if 'checkserveridentity' in u]


def properties_doc(flavour: str) -> dict:
    doc = tomcat_doc('generic')
    doc['server'].pop('jndi', None)
    if flavour == 'javamail':
        doc['auth'].pop('mechanism')
    return doc


@pytest.mark.parametrize('flavour', ['javamail', 'spring'])
def test_properties_round_trip(tmp_path, flavour):
    path = tmp_path / 'application.properties'
    path.write_text('# the application\napp.name=demo\n')
    path.chmod(0o600)
    doc = properties_doc(flavour)
    rc, result = run_module('mail_properties', {'settings': doc, 'path': str(path), 'flavour': flavour})
    assert rc == 0 and result['changed'], result
    info = {'settings': doc, 'properties_path': str(path), 'flavour': flavour}
    rc, result = run_module('mail_info', info)
    assert rc == 0 and result['drift'] == [], result
    no_canary(result)
    assert_valid_with_secrets(result['current'])
    params = dict(info, settings=None)
    for path_, change in TOMCAT_CHANGES:
        if 'jndi' in path_ or (flavour == 'javamail' and path_ in ('$.auth.password', '$.auth.mechanism')):
            continue
        desired = changed(doc, change)
        desired['server'].pop('jndi', None)
        drift = read_info(params, load_effective(desired))['drift']
        assert paths(drift) == [path_], (path_, drift)


def bitbucket_doc() -> dict:
    return {'product': 'bitbucket',
            'server': {'host': 'smtp.example.com', 'port': 587, 'protocol': 'smtp', 'tls': 'required', 'timeout_ms': 20000},
            'auth': {'method': 'basic', 'username': 'bitbucket-mail', 'password': CANARY},
            'sender': {'from_address': 'bitbucket@example.com'}}


def test_bitbucket_round_trip(tmp_path):
    props = tmp_path / 'bitbucket.properties'
    props.write_text('# hand-made\njdbc.url=jdbc:postgresql://db/bitbucket\n')
    props.chmod(0o600)
    doc = bitbucket_doc()
    with BitbucketServer(username='admin', password=ADMIN) as srv:
        api = {'url': srv.url, 'url_username': 'admin', 'url_password': ADMIN, 'timeout': 5}
        rc, result = run_module('bitbucket_mail_server', dict(api, settings=doc))
        assert rc == 0 and result['changed'], result
        rc, result = run_module('mail_properties', {'settings': doc, 'path': str(props), 'flavour': 'bitbucket'})
        assert rc == 0 and result['changed'], result
        srv.clear()
        info = dict(api, settings=doc, properties_path=str(props))
        rc, result = run_module('mail_info', info)
        assert rc == 0 and result['drift'] == [], result
        assert [r.method for r in srv.requests] and all(r.method == 'GET' for r in srv.requests)
        no_canary(result)
        assert result['sources'] == ['api', 'properties']
        assert result['current']['server']['timeout_ms'] == 20000
        assert '$.auth.password' in result['unknown']  # write-only on the server
        assert_valid_with_secrets(result['current'])
        params = dict(info, settings=None)
        for path, change in [('$.server.host', {'server': {'host': 'relay.example.net'}}),
                             ('$.server.port', {'server': {'port': 2525}}),
                             ('$.server.protocol', {'server': {'protocol': 'smtps'}}),
                             ('$.server.tls', {'server': {'tls': 'opportunistic'}}),
                             ('$.server.timeout_ms', {'server': {'timeout_ms': 60000}}),
                             ('$.auth.username', {'auth': {'username': 'other'}}),
                             ('$.sender.from_address', {'sender': {'from_address': 'other@example.com'}})]:
            drift = read_info(params, load_effective(changed(doc, change)))['drift']
            assert paths(drift) == [path], (path, drift)
        # the password cannot be read back, so a new one is no drift (and nothing else is)
        assert read_info(params, load_effective(changed(doc, {'auth': {'password': 'New-Canary-1'}})))['drift'] == []


def ghes_doc() -> dict:
    return {'product': 'ghes',
            'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'opportunistic', 'helo_domain': 'ghes.example.com'},
            'auth': {'method': 'basic', 'username': 'ghes-mail', 'password': CANARY, 'mechanism': 'plain'},
            'sender': {'from_address': 'noreply@ghes.example.com', 'noreply_address': 'noreply@ghes.example.com',
                       'discard_to_noreply': True, 'support': 'https://support.example.com'}}


def test_ghes_round_trip():
    doc = ghes_doc()
    with GhesServer(password=ADMIN) as srv:
        api = {'url': srv.url, 'url_password': ADMIN, 'timeout': 5}
        rc, result = run_module('ghes_smtp', dict(api, settings=doc))
        assert rc == 0 and result['changed'], result
        srv.clear()
        info = dict(api, settings=doc)
        rc, result = run_module('mail_info', info)
        assert rc == 0 and result['drift'] == [], result
        assert all(r.method == 'GET' for r in srv.requests)
        no_canary(result)
        assert_valid_with_secrets(result['current'])
        params = dict(info, settings=None, api='manage')
        for path, change in [('$.server.host', {'server': {'host': 'relay.example.net'}}),
                             ('$.server.port', {'server': {'port': 2525}}),
                             ('$.server.tls', {'server': {'tls': 'none'}}),
                             ('$.server.helo_domain', {'server': {'helo_domain': 'other.example.com'}}),
                             ('$.auth.username', {'auth': {'username': 'other'}}),
                             ('$.auth.mechanism', {'auth': {'mechanism': 'cram_md5'}}),
                             ('$.sender.discard_to_noreply', {'sender': {'discard_to_noreply': False}}),
                             ('$.sender.support', {'sender': {'support': 'help@example.com'}}),
                             ('$.ghes.email_enabled', {'ghes': {'email_enabled': False}})]:
            desired = changed(dict(doc, ghes={}), change)
            drift = read_info(params, load_effective(desired))['drift']
            assert paths(drift) == [path], (path, drift)
        # a GHES that returns the stored password: compared, never shown
        srv.return_password = True
        drift = read_info(params, load_effective(changed(doc, {'auth': {'password': 'New-Canary-1'}})))['drift']
        assert drift == [{'path': '$.auth.password', 'current': '********', 'desired': '********', 'masked': True}]


# --- files the collection did not write -----------------------------------------------------------

# Jira's documented JNDI examples (server.xml inside the application's <Context>): plain SMTP with
# authentication, and the SSL example for port 465 with the socket factory and mail.debug.
JIRA_DOCUMENTED = '''<?xml version="1.0" encoding="utf-8"?>
<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps">
        <Context path="" docBase="${catalina.home}/atlassian-jira" reloadable="false" useHttpOnly="true">
          <Resource name="jdbc/JiraDS" auth="Container" type="javax.sql.DataSource"/>
          <Resource name="mail/JiraMailServer"
                    auth="Container"
                    type="javax.mail.Session"
                    mail.smtp.host="smtp.gmail.com"
                    mail.smtp.port="465"
                    mail.transport.protocol="smtp"
                    mail.smtp.auth="true"
                    mail.smtp.user="jira@example.com"
                    password="%s"
                    mail.smtp.starttls.enable="true"
                    mail.smtp.socketFactory.class="javax.net.ssl.SSLSocketFactory"
                    mail.debug="true"
                    mail.smtp.userset="true"/>
        </Context>
        <Context path="/other" docBase="other-app">
          <Resource name="mail/JiraMailServer" auth="Container" type="javax.mail.Session"
                    mail.smtp.host="mail.yourcompany.com" mail.smtp.port="25" mail.transport.protocol="smtp"
                    mail.smtp.auth="true" mail.smtp.user="jirauser" password="%s"/>
          <Resource name="mail/JiraMailServer" auth="Container" type="javax.mail.Session"
                    mail.smtp.host="mail2.yourcompany.com"/>
        </Context>
      </Host>
    </Engine>
  </Service>
</Server>
''' % (CANARY, 'Second-Canary-9')


def test_jira_documented_resources_in_a_server_xml_with_two_contexts(tmp_path):
    server_xml = tmp_path / 'server.xml'
    server_xml.write_text(JIRA_DOCUMENTED)
    server_xml.chmod(0o644)  # as hand-made files often are
    rc, result = run_module('mail_info', {'product': 'jira', 'server_xml': str(server_xml)})
    assert rc != 0 and result['kind'] == 'invalid' and '2 <Context> elements match' in result['msg']
    rc, result = run_module('mail_info', {'product': 'jira', 'server_xml': str(server_xml), 'context_path': ''})
    assert rc == 0, result
    no_canary(result, 'Second-Canary-9')
    current = result['current']
    assert current['server'] == {'host': 'smtp.gmail.com', 'port': 465, 'protocol': 'smtps', 'tls': 'required',
                                 'timeout_ms': 0,
                                 'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session',
                                          'debug': True},
                                 'properties': {'mail.smtp.userset': 'true'}}
    assert current['auth'] == {'method': 'basic', 'username': 'jira@example.com', 'password': '********'}
    assert 'sender' not in current and '$.sender' in result['unknown']  # no mail.from, no mail.smtp.from
    kinds = {f['kind'] for f in result['findings']}
    assert {'debug', 'world_readable_secret'} <= kinds
    doc = copy.deepcopy(current)
    doc['sender'] = {'from_address': 'jira@example.com'}
    assert_valid_with_secrets(doc)
    # the other Context: two Resources with one name, the first read
    rc, result = run_module('mail_info', {'product': 'jira', 'server_xml': str(server_xml), 'context_path': '/other'})
    assert rc == 0, result
    assert result['current']['server']['host'] == 'mail.yourcompany.com'
    assert result['current']['server']['tls'] == 'none' and result['current']['server']['timeout_ms'] == 0
    assert [f['kind'] for f in result['findings']].count('duplicate_resource') == 1
    no_canary(result, 'Second-Canary-9')


def test_hand_made_bitbucket_properties(tmp_path):
    props = tmp_path / 'bitbucket.properties'
    props.write_text('# Bitbucket shared home\r\n'
                     'setup.displayName=Bitbucket\r\n'
                     '! mail tuning\r\n'
                     'mail.timeout.connect = 30\r\n'
                     'mail.timeout.send:\\\r\n    60\r\n')
    rc, result = run_module('mail_info', {'product': 'bitbucket', 'properties_path': str(props)})
    assert rc == 0, result
    assert result['current'] == {'product': 'bitbucket', 'server': {'timeout_ms': 60000}}
    assert any(f['kind'] == 'timeout' and 'differ' in f['message'] for f in result['findings'])
    assert '$.server.host' in result['unknown'] or '$.server' in result['unknown']
    desired = bitbucket_doc()
    desired['server']['timeout_ms'] = 60000
    rc, result = run_module('mail_info', {'settings': desired, 'properties_path': str(props)})
    assert rc == 0 and result['drift'] == [], result


def jdk_cacerts() -> str | None:
    for candidate in ('/etc/ssl/certs/java/cacerts',):
        if os.path.isfile(candidate):
            return candidate
    keytool = shutil.which('keytool')
    if keytool:
        home = pathlib.Path(os.path.realpath(keytool)).parents[1]
        for candidate in (home / 'lib' / 'security' / 'cacerts',):
            if candidate.is_file():
                return str(candidate)
    return None


@pytest.mark.skipif(jdk_cacerts() is None, reason='needs a JDK cacerts (openjdk-17-jre-headless / ca-certificates-java)')
def test_jdk_cacerts_copy_read_without_a_password(tmp_path):
    store = tmp_path / 'cacerts'
    shutil.copy(jdk_cacerts(), store)
    rc, result = run_module('mail_info', {'product': 'generic', 'truststore_path': str(store)})
    assert rc == 0, result
    entries = result['truststore']['entries']
    assert len(entries) > 50
    for entry in entries:
        assert set(entry) >= {'alias', 'subject', 'issuer', 'sha256', 'not_after', 'days_left'}
        assert len(entry['sha256'].split(':')) == 32
    listing = subprocess.run(['keytool', '-list', '-keystore', str(store), '-storepass', 'changeit'],
                             capture_output=True, text=True, check=False)
    if listing.returncode == 0:
        count = sum(1 for line in listing.stdout.splitlines() if 'trustedCertEntry' in line)
        assert count == len(entries)


def test_expired_relay_certificate_and_store_password_in_a_world_readable_file(tmp_path):
    from tests.support.certs import CertificateAuthority

    ca = CertificateAuthority(tmp_path / 'pki')
    expired = ca.issue('relay', dns=['smtp.example.com'], ips=[], expired=True)
    store = tmp_path / 'truststore.jks'
    subprocess.run(['keytool', '-importcert', '-noprompt', '-alias', 'mailwright-smtp.example.com', '-file',
                    str(expired.cert_file if hasattr(expired, 'cert_file') else expired.cert), '-keystore', str(store),
                    '-storetype', 'JKS', '-storepass', 'store-Canary-1'], check=True, capture_output=True)
    setenv = tmp_path / 'setenv.sh'
    setenv.write_text('JVM_SUPPORT_RECOMMENDED_ARGS="${JVM_SUPPORT_RECOMMENDED_ARGS} '
                      f'-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=store-Canary-1 '
                      '-Djavax.net.ssl.trustStoreType=JKS -Dmail.smtp.host=override.example.com"\n')
    setenv.chmod(0o644)
    rc, result = run_module('mail_info', {'settings': bitbucket_doc() | {'product': 'jira', 'server': {
        'host': 'smtp.example.com', 'port': 587}}, 'jvm_options_file': str(setenv)})
    assert rc == 0, result
    assert 'store-Canary-1' not in json.dumps(result)
    assert result['jvm_options']['store_password'] == '********'
    assert result['truststore']['entries'][0]['days_left'] < 0
    kinds = [f['kind'] for f in result['findings']]
    assert {'expired_certificate', 'world_readable_secret', 'jvm_override'} <= set(kinds)


HOSTILE = 'Ca<n&"ary\'-\\5ecret %41'


def test_a_password_with_xml_and_properties_specials_never_shows(tmp_path):
    """The password as found on the host, in every spelling its file or the result could give it."""
    import html

    from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import encoded_forms
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import escape_value
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import xml_attr_escape

    doc = tomcat_doc('jira')
    doc['auth']['password'] = HOSTILE
    server_xml = tmp_path / 'server.xml'
    shutil.copy(FIXTURES / 'server-with-context.xml', server_xml)
    server_xml.chmod(0o600)
    assert run_module('tomcat_mail_resource', {'settings': doc, 'path': str(server_xml), 'context_path': ''})[0] == 0
    spring = tmp_path / 'application.properties'
    spring.write_text('')
    spring.chmod(0o600)
    generic = properties_doc('spring')
    generic['auth']['password'] = HOSTILE
    assert run_module('mail_properties', {'settings': generic, 'path': str(spring), 'flavour': 'spring'})[0] == 0
    forms = {HOSTILE, xml_attr_escape(HOSTILE), html.escape(HOSTILE), escape_value(HOSTILE), json.dumps(HOSTILE)[1:-1],
             *encoded_forms(HOSTILE)}
    for args in ({'product': 'jira', 'server_xml': str(server_xml), 'context_path': ''},
                 {'settings': doc, 'server_xml': str(server_xml), 'context_path': ''},
                 {'product': 'generic', 'properties_path': str(spring), 'flavour': 'spring'}):
        rc, result = run_module('mail_info', args)
        assert rc == 0, result
        text = json.dumps(result) + result['_stderr']
        for form in forms:
            assert form not in text, form
        assert result['current']['auth']['password'] == '********'
    # the settings a host does not match: drift says so, without either value
    rc, result = run_module('mail_info', {'settings': changed(doc, {'auth': {'password': 'Other-Canary-3'}}),
                                          'server_xml': str(server_xml), 'context_path': ''})
    assert rc == 0 and paths(result['drift']) == ['$.auth.password']
    assert HOSTILE not in json.dumps(result) and 'Other-Canary-3' not in json.dumps(result)


def test_on_a_host_with_the_standard_library_only(tmp_path):
    """Reading server.xml needs no third-party library; reading a truststore names cryptography."""
    from test_host_libraries import SITECUSTOMIZE

    from tests.support.modrun import module_env

    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(SITECUSTOMIZE)
    bare = {'PYTHONPATH': f'{site}:{module_env()["PYTHONPATH"]}'}
    server_xml = tmp_path / 'server.xml'
    shutil.copy(FIXTURES / 'server-with-context.xml', server_xml)
    server_xml.chmod(0o600)
    doc = tomcat_doc('jira')
    assert run_module('tomcat_mail_resource', {'settings': doc, 'path': str(server_xml), 'context_path': ''})[0] == 0
    rc, result = run_module('mail_info', {'settings': doc, 'server_xml': str(server_xml), 'context_path': ''}, env=bare)
    assert rc == 0 and result['drift'] == [], result
    rc, result = run_module('mail_info', {'product': 'jira', 'truststore_path': str(tmp_path / 'x.p12')}, env=bare)
    assert rc == 1 and 'cryptography' in result['msg'] and 'Traceback' not in result['_stderr'], result
