"""What _runtime.app reads from the jars without a JVM is what a real JVM loads: the class path
proof_classpath gives loads javax.mail.Session / jakarta.mail.Session from the jar it names, with
the version it read from the manifest, and a missing activation jar fails the way the
javamail_runtime conflict message says."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import find_mail_jars, proof_classpath
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.backend import javamail_runtime
from tests.support.apphome import jira_home, system_jar

pytestmark = pytest.mark.integration

PROBE = r'''
import java.lang.reflect.InvocationTargetException;
import java.util.Properties;

public class Probe {
    public static void main(String[] args) throws Exception {
        String api = args[0];
        Class<?> session = Class.forName(api + ".mail.Session");
        System.out.println("location=" + session.getProtectionDomain().getCodeSource().getLocation().getPath());
        System.out.println("version=" + session.getPackage().getImplementationVersion());
        try {
            Object instance = session.getMethod("getInstance", Properties.class).invoke(null, new Properties());
            Class<?> message = Class.forName(api + ".mail.internet.MimeMessage");
            Object mime = message.getConstructor(session).newInstance(instance);
            message.getMethod("setText", String.class).invoke(mime, "proof");
            message.getMethod("saveChanges").invoke(mime);
            System.out.println("message=ok");
        } catch (Throwable error) {
            Throwable cause = error instanceof InvocationTargetException ? error.getCause() : error;
            System.out.println("message=" + cause);
        }
    }
}
'''


@pytest.fixture(scope='module')
def probe(tmp_path_factory) -> pathlib.Path:
    javac = shutil.which('javac')
    if javac is None or shutil.which('java') is None:
        pytest.skip('no JDK (javac, java) on this host')
    directory = tmp_path_factory.mktemp('probe')
    (directory / 'Probe.java').write_text(PROBE)
    subprocess.run([javac, '-d', str(directory), str(directory / 'Probe.java')], check=True, timeout=120)
    return directory


def jvm(probe: pathlib.Path, classpath: list[str], api: str) -> dict[str, str]:
    proc = subprocess.run(['java', '-cp', os.pathsep.join([str(probe), *classpath]), 'Probe', api],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split('=', 1) for line in proc.stdout.splitlines())


def test_javax_class_path_of_a_jira_home(tmp_path, probe):
    # (Debian's javax.mail.jar also brings /usr/share/java/javax.activation.jar through its Class-Path)
    home = jira_home(tmp_path)
    classpath = proof_classpath(str(home), 'jira', 'javax')
    seen = jvm(probe, classpath, 'javax')
    [mail] = [jar for jar in find_mail_jars(str(home), 'jira') if jar.kind == 'mail' and jar.location == 'lib']
    assert seen['location'] == mail.path and seen['version'] == mail.version == '1.6.5'
    assert seen['message'] == 'ok'


def test_jakarta_class_path_and_the_missing_activation_symptom(tmp_path, probe):
    home = tmp_path / 'tomcat'
    (home / 'lib').mkdir(parents=True)
    shutil.copy(system_jar('jakarta-mail.jar'), home / 'lib' / 'jakarta.mail-2.0.0.jar')
    without = jvm(probe, proof_classpath(str(home), 'generic', 'jakarta'), 'jakarta')
    assert without['location'] == str(home / 'lib' / 'jakarta.mail-2.0.0.jar') and without['version'] == '2.0.0'
    assert 'NoClassDefFoundError: jakarta/activation/DataHandler' in without['message']
    result = javamail_runtime({'app_home': str(home), 'product': 'generic', 'session_type': 'jakarta.mail.Session',
                               'fail_on': []}, None, check_mode=False, diff=False)
    [conflict] = result['conflicts']
    assert conflict['kind'] == 'missing' and 'NoClassDefFoundError: jakarta/activation/DataHandler' in conflict['message']

    shutil.copy(system_jar('jakarta-activation.jar'), home / 'lib' / 'jakarta.activation-2.0.0.jar')
    assert jvm(probe, proof_classpath(str(home), 'generic', 'jakarta'), 'jakarta')['message'] == 'ok'
