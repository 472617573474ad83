# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Application-home discovery on fake install directories with real jar files."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import zipfile

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import (
    MailJar,
    Truststore,
    classify_jar,
    default_java,
    detect_product,
    find_mail_jars,
    parse_jvm_options,
    proof_classpath,
    jre_version,
    linked_jars,
    read_jvm_options,
    tomcat_version,
    webapp_dir,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.jvm_options import apply_block, render_block
from tests.support.apphome import SYSTEM_JARS, make_jar, system_jar


def jira_home(tmp_path: pathlib.Path) -> pathlib.Path:
    home = tmp_path / 'jira'
    (home / 'lib').mkdir(parents=True)
    (home / 'atlassian-jira' / 'WEB-INF' / 'lib').mkdir(parents=True)
    (home / 'bin').mkdir()
    make_jar(home / 'lib' / 'catalina.jar', ['org/apache/catalina/Server.class'], {'Bundle-Version': '9.0.98'})
    return home


@pytest.mark.parametrize('name', sorted(SYSTEM_JARS))
def test_classify_real_jars(name, tmp_path):
    jar = classify_jar(str(system_jar(name)), 'lib')
    api, kind, version = SYSTEM_JARS[name]
    assert jar == MailJar(path=f'/usr/share/java/{name}', api=api, kind=kind, version=version, location='lib')
    assert jar.evidence == 'classes'


def test_package_decides_not_the_name(tmp_path):
    # Jakarta Mail 1.6 is named jakarta.mail but holds javax.mail classes: a javax jar.
    jar = make_jar(tmp_path / 'jakarta.mail-1.6.7.jar', ['javax/mail/Session.class', 'com/sun/mail/smtp/SMTPTransport.class'],
                   {'Automatic-Module-Name': 'jakarta.mail', 'Bundle-Version': '1.6.7'})
    found = classify_jar(str(jar), 'webapp')
    assert (found.api, found.kind, found.version, found.location) == ('javax', 'mail', '1.6.7', 'webapp')


def test_split_implementation_jars(tmp_path):
    angus = classify_jar(str(make_jar(tmp_path / 'angus-mail-2.0.3.jar', ['org/eclipse/angus/mail/smtp/SMTPTransport.class'],
                                      {'Implementation-Version': '2.0.3'})), 'lib')
    assert (angus.api, angus.kind, angus.version) == ('jakarta', 'mail', '2.0.3')
    smtp = classify_jar(str(make_jar(tmp_path / 'smtp-1.6.2.jar', ['com/sun/mail/smtp/SMTPTransport.class'],
                                     {'Implementation-Version': '1.6.2'})), 'lib')
    assert (smtp.api, smtp.kind, smtp.evidence) == ('javax', 'mail', 'manifest')
    # a manifest line continued on the next one (72-byte limit)
    wrapped = tmp_path / 'activation-x.jar'
    with zipfile.ZipFile(wrapped, 'w') as archive:
        archive.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\r\nImplementation-Version: 1.2.\r\n 2\r\n\r\nName: x\r\nImplementation-Version: 9\r\n')
        archive.writestr('jakarta/activation/DataHandler.class', b'')
    assert classify_jar(str(wrapped), 'lib').version == '1.2.2'


def test_not_a_mail_jar_and_unreadable_jar(tmp_path):
    assert classify_jar(str(make_jar(tmp_path / 'mailbox-utils.jar', ['org/example/Mailbox.class'])), 'lib') is None
    broken = tmp_path / 'javax.mail-1.4.7.jar'
    broken.write_bytes(b'not a zip')
    jar = classify_jar(str(broken), 'lib')
    assert (jar.api, jar.kind, jar.version, jar.evidence) == ('javax', 'mail', '1.4.7', 'name')


def test_find_mail_jars_jira(tmp_path):
    home = jira_home(tmp_path)
    shutil.copy(system_jar('javax.mail.jar'), home / 'lib' / 'javax.mail-1.6.5.jar')
    shutil.copy(system_jar('javax.activation.jar'), home / 'lib' / 'activation-1.2.0.jar')
    shutil.copy(system_jar('javax.mail.jar'), home / 'atlassian-jira' / 'WEB-INF' / 'lib' / 'javax.mail-1.6.5.jar')
    make_jar(home / 'atlassian-jira' / 'WEB-INF' / 'lib' / 'commons-lang.jar', ['org/apache/Foo.class'])
    jars = find_mail_jars(str(home), 'jira')
    assert [(jar.location, jar.name, jar.api, jar.kind) for jar in jars] == [
        ('lib', 'activation-1.2.0.jar', 'javax', 'activation'),
        ('lib', 'javax.mail-1.6.5.jar', 'javax', 'mail'),
        ('webapp', 'javax.mail-1.6.5.jar', 'javax', 'mail'),
    ]
    assert find_mail_jars(str(home)) == jars  # the product is found from the layout
    assert detect_product(str(home)) == 'jira'
    assert proof_classpath(str(home), 'jira') == [str(home / 'lib' / 'activation-1.2.0.jar'),
                                                  str(home / 'lib' / 'javax.mail-1.6.5.jar')]


def test_webapp_dirs(tmp_path):
    assert webapp_dir(str(tmp_path), 'jira') == str(tmp_path / 'atlassian-jira')
    assert webapp_dir(str(tmp_path), 'confluence') == str(tmp_path / 'confluence')
    assert webapp_dir(str(tmp_path), 'bitbucket') == str(tmp_path / 'app')
    (tmp_path / 'atlassian-bitbucket').mkdir()
    assert webapp_dir(str(tmp_path), 'bitbucket') == str(tmp_path / 'atlassian-bitbucket')
    assert webapp_dir(str(tmp_path), 'generic') is None
    assert webapp_dir(str(tmp_path)) is None


def test_proof_classpath_falls_back_to_webapp_and_filters_api(tmp_path):
    home = tmp_path / 'confluence-install'
    webinf = home / 'confluence' / 'WEB-INF' / 'lib'
    webinf.mkdir(parents=True)
    shutil.copy(system_jar('javax.mail.jar'), webinf / 'javax.mail-1.6.5.jar')
    shutil.copy(system_jar('javax.activation.jar'), webinf / 'javax.activation-1.2.0.jar')
    (home / 'lib').mkdir()
    shutil.copy(system_jar('jakarta-mail.jar'), home / 'lib' / 'jakarta.mail-2.0.0.jar')
    shutil.copy(system_jar('jakarta-activation.jar'), home / 'lib' / 'jakarta.activation-2.0.0.jar')
    assert proof_classpath(str(home), 'confluence', 'javax') == [str(webinf / 'javax.activation-1.2.0.jar'),
                                                                 str(webinf / 'javax.mail-1.6.5.jar')]
    assert proof_classpath(str(home), 'confluence', 'jakarta') == [str(home / 'lib' / 'jakarta.activation-2.0.0.jar'),
                                                                   str(home / 'lib' / 'jakarta.mail-2.0.0.jar')]
    assert proof_classpath(str(home), 'confluence') == proof_classpath(str(home), 'confluence', 'jakarta')


def test_proof_classpath_missing_names_app_home_and_option(tmp_path):
    home = jira_home(tmp_path)
    shutil.copy(system_jar('javax.mail.jar'), home / 'lib' / 'javax.mail.jar')
    with pytest.raises(MailwrightError) as caught:
        proof_classpath(str(home), 'jira', 'jakarta')
    assert caught.value.kind == 'missing'
    assert str(home) in caught.value.message and 'classpath' in caught.value.message
    assert 'there is a javax mail jar' in caught.value.message
    with pytest.raises(MailwrightError, match='no mail jar in .*/lib or .*atlassian-jira/WEB-INF/lib'):
        proof_classpath(str(tmp_path / 'nowhere'), 'jira')


JIRA_SETENV = '''\
#!/bin/sh
# Jira's own start-up options
JVM_SUPPORT_RECOMMENDED_ARGS=""
JVM_REQUIRED_ARGS='-Djava.awt.headless=true -Datlassian.standalone=JIRA -Dmail.mime.decodeparameters=true'
# JVM_SUPPORT_RECOMMENDED_ARGS="-Dmail.smtp.host=commented.example"
CATALINA_OPTS="-Dmail.smtp.host=relay.override.example \\
  -Dmail.smtp.port=2525 ${CATALINA_OPTS}"
export JAVA_OPTS="${JAVA_OPTS} -Dmail.smtp.localhost='jira host'"
UNRELATED="-Dmail.smtp.host=never.passed"
JAVA_OPTS="-Xms${JVM_MINIMUM_MEMORY} ${JAVA_OPTS} ${JVM_REQUIRED_ARGS} ${JVM_SUPPORT_RECOMMENDED_ARGS}"
'''


def test_read_jvm_options_with_managed_block(tmp_path):
    home = jira_home(tmp_path)
    password = "pa ss'$(touch X)\"`"
    block = render_block(variable='JVM_SUPPORT_RECOMMENDED_ARGS', store_path='/opt/jira/mail truststore.p12',
                         store_password=password, store_type='pkcs12', file='setenv.sh')
    (home / 'bin' / 'setenv.sh').write_text(apply_block(JIRA_SETENV, block).text)
    options = read_jvm_options(str(home), 'jira')
    setenv = str(home / 'bin' / 'setenv.sh')
    assert options.truststore == Truststore(path='/opt/jira/mail truststore.p12', password=password, type='PKCS12')
    assert password not in repr(options.truststore)
    assert options.system_properties['mail.smtp.host'] == 'relay.override.example'
    assert options.system_properties['mail.smtp.port'] == '2525'
    assert options.system_properties['mail.smtp.localhost'] == 'jira host'
    assert options.system_properties['mail.mime.decodeparameters'] == 'true'
    assert options.sources['mail.smtp.host'] == f'{setenv}:6'
    assert options.sources['mail.smtp.port'] == f'{setenv}:6'
    assert options.sources['mail.smtp.localhost'] == f'{setenv}:8'
    assert options.sources['javax.net.ssl.trustStore'] == f'{setenv}:12'
    assert [prop.managed for prop in options.all if prop.name.startswith('javax.net.ssl')] == [True] * 3
    assert 'never.passed' not in options.system_properties.values()
    assert 'commented.example' not in options.system_properties.values()
    assert options.secret_values() == [password]
    assert options.files == (setenv,)


def test_block_values_read_back_as_the_shell_reads_them(tmp_path):
    """What the parser reads is what sh and catalina.sh's eval give the JVM."""
    sh = shutil.which('sh')
    if sh is None:
        pytest.skip('no sh')
    password = "a b'c\"d$e`f\\g"
    block = render_block(variable='CATALINA_OPTS', store_path='/x/y.jks', store_password=password,
                         store_type='jks', file='setenv.sh')
    setenv = tmp_path / 'setenv.sh'
    setenv.write_text(block)
    script = f'. {setenv}; eval "set -- $CATALINA_OPTS"; for a in "$@"; do printf "%s\\n" "$a"; done'
    words = subprocess.run([sh, '-c', script], capture_output=True, text=True, check=True).stdout.splitlines()
    parsed = parse_jvm_options(setenv.read_text(), str(setenv))
    assert [f'-D{prop.name}={prop.value}' for prop in parsed] == words


def test_bitbucket_reads_start_webapp_without_eval(tmp_path):
    home = tmp_path / 'bb'
    (home / 'bin').mkdir(parents=True)
    (home / 'bin' / '_start-webapp.sh').write_text(
        'JVM_SUPPORT_RECOMMENDED_ARGS="-Dmail.smtp.port=26 -Dy=\'b c\' \'-Dx=a\'"\n')
    options = read_jvm_options(str(home), 'bitbucket')
    # no eval there: the quotes reach the JVM, and a word starting with a quote is no -D option
    assert options.system_properties == {'mail.smtp.port': '26', 'y': "'b"}
    assert read_jvm_options(str(home), 'jira').system_properties == {}


def test_default_java(tmp_path):
    assert default_java(str(tmp_path)) == 'java'
    java = tmp_path / 'jre' / 'bin' / 'java'
    java.parent.mkdir(parents=True)
    java.write_text('#!/bin/sh\n')
    assert default_java(str(tmp_path)) == 'java'  # not executable
    os.chmod(java, 0o755)
    assert default_java(str(tmp_path)) == str(java)
    assert default_java(None) == 'java'


def test_parts_of_split_and_full_jars(tmp_path):
    full = classify_jar(str(system_jar('jakarta-mail.jar')), 'lib')
    assert full.parts == ('api', 'provider')
    api_only = classify_jar(str(make_jar(tmp_path / 'jakarta.mail-api-2.1.3.jar', ['jakarta/mail/Session.class'])), 'lib')
    assert api_only.parts == ('api',)
    assert api_only.as_dict()['parts'] == ['api'] and api_only.as_dict()['name'] == 'jakarta.mail-api-2.1.3.jar'


def test_tomcat_and_jre_versions(tmp_path):
    home = jira_home(tmp_path)
    assert tomcat_version(str(home)) == '9.0.98'
    assert jre_version(str(home)) is None
    (home / 'jre').mkdir()
    (home / 'jre' / 'release').write_text('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="17.0.13"\n')
    assert jre_version(str(home)) == '17.0.13'
    assert tomcat_version(str(tmp_path / 'none')) is None
    tomcat10 = pathlib.Path('/usr/share/tomcat10')
    if tomcat10.is_dir():  # Debian's lib/ holds symlinks to /usr/share/java; the manifest is read through them
        assert tomcat_version(str(tomcat10)).startswith('10.')


def test_a_stray_quote_hides_no_later_option():
    text = "# nothing\necho it's broken\nCATALINA_OPTS=\"-Dmail.smtp.host=after.example\"\n"
    [prop] = parse_jvm_options(text, '/x/setenv.sh')
    assert (prop.name, prop.value, prop.line) == ('mail.smtp.host', 'after.example', 3)
    multi = 'JAVA_OPTS="-Da=1\n  -Dmail.smtp.port=26"\nJAVA_OPTS="$JAVA_OPTS -Db=2"\n'
    assert [(p.name, p.value, p.line) for p in parse_jvm_options(multi, '/x/setenv.sh')] == [
        ('a', '1', 1), ('mail.smtp.port', '26', 1), ('b', '2', 3)]


def test_a_fifo_is_never_read(tmp_path):
    home = jira_home(tmp_path)
    os.mkfifo(home / 'bin' / 'setenv.sh')
    with pytest.raises(MailwrightError, match='not a regular file'):
        read_jvm_options(str(home), 'jira')
    os.mkfifo(home / 'lib' / 'javax.mail-1.6.5.jar')
    assert find_mail_jars(str(home), 'jira') == []


def test_jvm_options_file_symlink_policy(tmp_path):
    home = jira_home(tmp_path)
    real = tmp_path / 'setenv-real.sh'
    real.write_text('JAVA_OPTS="-Dmail.smtp.port=2525"\n')
    (home / 'bin' / 'setenv.sh').symlink_to(real)  # a link of the file's owner: followed
    assert read_jvm_options(str(home), 'jira').system_properties == {'mail.smtp.port': '2525'}
    (home / 'bin' / 'setenv.sh').unlink()
    (home / 'bin' / 'setenv.sh').symlink_to(tmp_path / 'gone.sh')
    with pytest.raises(MailwrightError, match='does not exist'):
        read_jvm_options(str(home), 'jira')


def test_manifest_class_path_brings_its_activation_jar(tmp_path):
    debian = classify_jar(str(system_jar('javax.mail.jar')), 'lib')
    assert debian.class_path == ('/usr/share/java/javax.activation.jar',)
    if not os.path.isfile('/usr/share/java/javax.activation.jar'):
        pytest.skip('Debian libactivation-java is not installed')
    [linked] = linked_jars([debian])
    assert (linked.path, linked.api, linked.kind, linked.location) == (
        '/usr/share/java/javax.activation.jar', 'javax', 'activation', 'lib')
    relative = make_jar(tmp_path / 'lib' / 'mail.jar', ['javax/mail/Session.class'],
                        {'Class-Path': 'activation.jar ../other/x%20y.jar http://example.com/z.jar'})
    assert classify_jar(str(relative), 'lib').class_path == (str(tmp_path / 'lib' / 'activation.jar'),
                                                             str(tmp_path / 'other' / 'x y.jar'))
    assert linked_jars([classify_jar(str(relative), 'lib')]) == []  # named but not there
