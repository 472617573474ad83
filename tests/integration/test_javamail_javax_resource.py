"""Proof with JavaMail 1.6 (javax, Debian libmail-java): a javax.mail.Session built from the
Resource tomcat_mail_resource renders, the way Tomcat 9's MailSessionFactory builds it, sends
through a STARTTLS + AUTH relay and refuses a certificate made out to another host name.

The control case keeps the test honest: the same attributes without the host-name check (what
the render wrote before mail.smtp.ssl.checkserveridentity) log in and deliver through that
wrong-name certificate, password included.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.support.modrun import run_module
from tests.support.tomcat import make_truststore

pytest_plugins = ['tests.support.fixtures_smtp']
pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'
USER = 'jira-notify'
JARS = ['/usr/share/java/javax.mail.jar', '/usr/share/java/javax.activation.jar']
SOURCE = pathlib.Path(__file__).resolve().parents[1] / 'support' / 'java' / 'Tomcat9MailSession.java'

_missing = [jar for jar in JARS if not os.path.exists(jar)]
if _missing or not shutil.which('javac') or not shutil.which('keytool'):
    pytestmark = [pytestmark, pytest.mark.skip(reason='needs a JDK (javac, keytool) and ' + (', '.join(_missing) or 'JavaMail')
                                                      + ' (Debian libmail-java)')]


@pytest.fixture(scope='module')
def java(tmp_path_factory, smtp_pki):
    work = tmp_path_factory.mktemp('javax')
    classpath = os.pathsep.join(JARS)
    subprocess.run(['javac', '-d', str(work), '-cp', classpath, str(SOURCE)], check=True, capture_output=True, timeout=120)
    store = make_truststore(work / 'relay-ca.p12', pathlib.Path(smtp_pki.ca_file).read_bytes())

    def send(context: pathlib.Path, name: str, subject: str) -> subprocess.CompletedProcess:
        return subprocess.run(['java', f'-Djavax.net.ssl.trustStore={store}', '-Djavax.net.ssl.trustStorePassword=changeit',
                               '-Djavax.net.ssl.trustStoreType=PKCS12', '-cp', f'{work}{os.pathsep}{classpath}',
                               'Tomcat9MailSession', str(context), name, 'ops@example.com', subject],
                              capture_output=True, text=True, timeout=120, check=False)
    return send


def render(tmp_path: pathlib.Path, server, name='mail/JiraMailServer') -> pathlib.Path:
    context = tmp_path / 'context.xml'
    settings = {
        'product': 'jira',
        'server': {'host': 'localhost', 'port': server.port, 'tls': 'required', 'timeout_ms': 10000,
                   'jndi': {'name': name, 'session_type': 'javax.mail.Session'}},
        'auth': {'method': 'basic', 'username': USER, 'password': CANARY},
        'sender': {'from_address': 'jira@example.com'},
    }
    rc, result = run_module('tomcat_mail_resource', {'path': str(context), 'settings': settings})
    assert rc == 0 and result['changed'], result
    assert result['resource']['mail.smtp.ssl.checkserveridentity'] == 'true'
    return context


def without_the_check(context: pathlib.Path) -> pathlib.Path:
    tree = ET.parse(context)
    for resource in tree.iter('Resource'):
        del resource.attrib['mail.smtp.ssl.checkserveridentity']
    old = context.with_name('old-render.xml')
    tree.write(old)
    return old


def test_a_session_built_like_tomcat9_sends_with_the_rendered_resource(smtp_server, tmp_path, java):
    server = smtp_server('starttls', credentials={USER: CANARY}, auth_require_tls=True)
    proc = java(render(tmp_path, server), 'mail/JiraMailServer', 'javax proof')
    assert proc.returncode == 0 and proc.stdout.strip() == 'SENT', proc.stdout + proc.stderr
    delivered = server.wait_for_messages(1)
    assert len(delivered) == 1 and delivered[0].tls and delivered[0].auth_login == USER
    assert delivered[0].mail_from == 'jira@example.com'


def test_it_refuses_a_certificate_for_another_host_name(smtp_server, tmp_path, java):
    server = smtp_server('starttls', cert='wrong_name', credentials={USER: CANARY}, auth_require_tls=True)
    context = render(tmp_path, server)
    proc = java(context, 'mail/JiraMailServer', 'must not arrive')
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Can't verify identity of server: localhost" in proc.stdout
    assert server.messages == [] and server.auth_attempts == []   # refused before the password went out

    # the control: the render without the check takes that certificate and hands over the password
    proc = java(without_the_check(context), 'mail/JiraMailServer', 'through the wrong name')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(server.wait_for_messages(1)) == 1 and server.auth_attempts[0]['login'] == USER
