# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The javamail_runtime backend on fake install directories: report, fix, idempotence, check mode,
fail_on, overrides and the refusals on a hostile file system."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.backend import javamail_runtime
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import effective_settings
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.jvm_options import apply_block, render_block
from tests.support.apphome import jira_home, make_jar, system_jar, tree_state

SETENV = '''#!/bin/sh
JVM_SUPPORT_RECOMMENDED_ARGS=""
JVM_REQUIRED_ARGS='-Djava.awt.headless=true -Dmail.mime.decodeparameters=true'
JVM_SUPPORT_RECOMMENDED_ARGS="${JVM_SUPPORT_RECOMMENDED_ARGS} -Dmail.smtp.host=old-relay.example.com"
'''


def settings(session_type='javax.mail.Session', product='jira', **server):
    document = {'product': product,
                'server': dict({'host': 'smtp.example.com', 'port': 587, 'tls': 'required',
                                'jndi': {'name': 'mail/JiraMailServer', 'session_type': session_type}}, **server),
                'auth': {'method': 'basic', 'username': 'jira', 'password': 'Canary-pw-7f3a'},
                'sender': {'from_address': 'jira@example.com'}}
    result = effective_settings(document)
    assert not result.errors, result.errors
    return result.effective


def run(home, *, effective=None, check_mode=False, diff=False, secrets=None, **params):
    return javamail_runtime(dict({'app_home': str(home)}, **params), effective, check_mode=check_mode, diff=diff,
                            secrets=secrets)


def test_check_reports_present_fixes_second_run_unchanged(tmp_path):
    home = jira_home(tmp_path, setenv=SETENV)
    before = tree_state(home)
    report = run(home, product='jira')
    assert tree_state(home) == before
    assert report['changed'] is False and report['moves'] == []
    assert [(c['kind'], c['fixed']) for c in report['conflicts']] == [('duplicate', False)]
    assert report['planned_moves'][0]['from'] == str(home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar')
    assert report['warnings'][0] == report['conflicts'][0]['message']
    assert [jar['location'] for jar in report['jars']] == ['lib', 'lib', 'webapp']
    assert report['tomcat_version'] == '9.0.98'

    checked = run(home, product='jira', state='present', check_mode=True, diff=True)
    assert tree_state(home) == before, 'check mode moved or created something'
    assert checked['changed'] is True and checked['moves'] == report['planned_moves']
    assert 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar\n' in checked['diff']['before']
    assert 'mailwright-jar-backup/WEB-INF-lib/javax.mail-1.6.5.jar\n' in checked['diff']['after']

    fixed = run(home, product='jira', state='present', diff=True)
    assert fixed['changed'] is True and fixed['diff'] == checked['diff']
    assert not (home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar').exists()
    moved = home / 'mailwright-jar-backup/WEB-INF-lib/javax.mail-1.6.5.jar'
    assert moved.read_bytes() == system_jar('javax.mail.jar').read_bytes()
    assert (moved.parent.stat().st_mode & 0o777) == 0o750
    assert fixed['conflicts'][0]['fixed'] is True and 'Restart' in fixed['manual_steps'][0]

    after = tree_state(home)
    again = run(home, product='jira', state='present', diff=True)
    assert again['changed'] is False and again['conflicts'] == [] and again['moves'] == []
    assert again['diff']['before'] == again['diff']['after']
    assert tree_state(home) == after


def test_a_second_backup_of_one_name_gets_its_own(tmp_path):
    home = jira_home(tmp_path)
    run(home, product='jira', state='present')
    shutil.copy(system_jar('javax.mail.jar'), home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar')
    result = run(home, product='jira', state='present')
    assert result['moves'][0]['to'] == str(home / 'mailwright-jar-backup/WEB-INF-lib/javax.mail-1.6.5.1.jar')
    assert len(list((home / 'mailwright-jar-backup/WEB-INF-lib').iterdir())) == 2


def test_setenv_override_reported_with_file_and_line(tmp_path):
    home = jira_home(tmp_path, duplicate=False, setenv=SETENV)
    result = run(home, product='jira')
    [override] = result['system_property_overrides']
    setenv = home / 'bin' / 'setenv.sh'
    assert override['property'] == 'mail.smtp.host' and override['value'] == 'old-relay.example.com'
    assert override['source'] == f'{setenv}:4' and override['variable'] == 'JVM_SUPPORT_RECOMMENDED_ARGS'
    assert 'mail.mime.decodeparameters' not in str(result['system_property_overrides'])
    with_settings = run(home, effective=settings())
    [override] = with_settings['system_property_overrides']
    assert override['rendered'] == 'smtp.example.com' and override['same'] is False
    assert 'overrides mail.smtp.host=smtp.example.com' in override['message']


def test_overrides_compare_every_rendered_key_and_flag_weakened_tls(tmp_path):
    text = ('CATALINA_OPTS="-Dmail.smtp.port=587 -Dmail.smtp.starttls.enable=false -Dmail.smtp.ssl.trust=* '
            '-Dmail.smtp.ssl.checkserveridentity=false -Dmail.smtp.quitwait=false"\n')
    home = jira_home(tmp_path, duplicate=False, setenv=text)
    found = {o['property']: o for o in run(home, effective=settings())['system_property_overrides']}
    assert set(found) == {'mail.smtp.port', 'mail.smtp.starttls.enable', 'mail.smtp.ssl.trust',
                          'mail.smtp.ssl.checkserveridentity'}
    assert found['mail.smtp.port']['same'] is True and 'repeats' in found['mail.smtp.port']['message']
    assert found['mail.smtp.starttls.enable']['rendered'] == 'true'
    assert found['mail.smtp.ssl.trust']['weakens_tls'] and found['mail.smtp.ssl.checkserveridentity']['weakens_tls']
    # without settings every mail.smtp.* option counts, quitwait included
    assert 'mail.smtp.quitwait' in {o['property'] for o in run(home, product='jira')['system_property_overrides']}


def test_truststore_password_is_collected_never_returned(tmp_path):
    canary = "Canary-store'pw $x"
    block = render_block(variable='JVM_SUPPORT_RECOMMENDED_ARGS', store_path='/opt/ts.p12', store_password=canary,
                         store_type='pkcs12', file='setenv.sh')
    text = apply_block(SETENV, block).text + 'JAVA_OPTS="$JAVA_OPTS -Dmail.smtp.password=Canary-mail-pw"\n'
    home = jira_home(tmp_path, setenv=text)
    secrets: list[str] = []
    result = run(home, product='jira', secrets=secrets)
    assert canary in secrets and 'Canary-mail-pw' in secrets
    assert canary not in repr(result) and 'Canary-mail-pw' not in repr(result)
    assert {'property': 'mail.smtp.password', 'value': '********'}.items() <= next(
        o for o in result['system_property_overrides'] if o['property'] == 'mail.smtp.password').items()


def test_wrong_api_jar_for_the_resource_type(tmp_path):
    home = jira_home(tmp_path, duplicate=False, tomcat=None)
    with pytest.raises(MailwrightError) as caught:
        run(home, effective=settings('jakarta.mail.Session', product='generic'))
    error = caught.value
    assert error.kind == 'conflict'
    assert [c['kind'] for c in error.details['conflicts']] == ['wrong_api', 'missing']
    assert 'lib/ holds javax.mail only' in error.message and 'nothing was moved' in error.message
    # the Tomcat in lib/ decides too: Tomcat 10 builds jakarta sessions
    home10 = jira_home(tmp_path / 't10', duplicate=False, tomcat='10.1.60')
    with pytest.raises(MailwrightError, match='this is Tomcat 10.1.60'):
        run(home10, product='generic', session_type='javax.mail.Session')


def test_fail_on(tmp_path):
    home = jira_home(tmp_path, setenv=SETENV)
    before = tree_state(home)
    # the default fails on missing and wrong_api only: a duplicate and an override warn
    assert len(run(home, product='jira')['warnings']) == 2
    with pytest.raises(MailwrightError) as caught:
        run(home, product='jira', fail_on=['conflicts'])
    assert caught.value.kind == 'conflict' and caught.value.details['changed'] is False
    assert caught.value.warnings == [caught.value.details['system_property_overrides'][0]['message']]
    with pytest.raises(MailwrightError, match='-Dmail.smtp.host=old-relay.example.com'):
        run(home, product='jira', state='present', fail_on=['overrides'])
    assert tree_state(home) == before, 'a failing finding must stop the task before anything moves'
    # state=present: a conflict the moves fix does not fail
    result = run(home, product='jira', state='present', fail_on=['duplicate'])
    assert result['changed'] is True
    assert run(home, product='jira', fail_on=[])['warnings'] == [result['system_property_overrides'][0]['message']]


def test_jndi_session_moves_a_webapp_only_jar_into_lib(tmp_path):
    home = tmp_path / 'confluence-install'
    webinf = home / 'confluence' / 'WEB-INF' / 'lib'
    webinf.mkdir(parents=True)
    (home / 'lib').mkdir()
    shutil.copy(system_jar('javax.mail.jar'), webinf / 'javax.mail-1.6.5.jar')
    shutil.copy(system_jar('javax.activation.jar'), webinf / 'javax.activation-1.2.0.jar')
    assert run(home, product='confluence')['planned_moves'] == []  # the form: jars stay in the webapp
    result = run(home, effective=settings(product='confluence'), state='present')
    assert sorted(os.listdir(home / 'lib')) == ['javax.activation-1.2.0.jar', 'javax.mail-1.6.5.jar']
    assert os.listdir(webinf) == []
    assert [m['reason'] for m in result['moves']] == ['lib', 'lib']
    assert run(home, effective=settings(product='confluence'), state='present')['changed'] is False


def test_symlinked_lib_dir_outside_app_home_is_refused(tmp_path):
    home = jira_home(tmp_path)
    outside = tmp_path / 'elsewhere'
    (home / 'lib').rename(outside)
    (home / 'lib').symlink_to(outside)
    shutil.copy(system_jar('javax.mail.jar'), outside / 'mail-1.4.7.jar')  # a duplicate inside lib/
    before, before_outside = tree_state(home), tree_state(outside)
    assert run(home, product='jira')['planned_moves']  # check reads through the link
    with pytest.raises(MailwrightError) as caught:
        run(home, product='jira', state='present')
    assert caught.value.kind == 'file'
    assert f'{home}/lib is a symlink to {outside}, outside app_home' in caught.value.message
    assert tree_state(home) == before and tree_state(outside) == before_outside
    with pytest.raises(MailwrightError, match='outside app_home'):
        run(home, product='jira', state='present', check_mode=True)  # check mode says so too


def test_symlinked_jar_outside_app_home_is_refused(tmp_path):
    home = jira_home(tmp_path, duplicate=False)
    (home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar').symlink_to(system_jar('javax.mail.jar'))
    with pytest.raises(MailwrightError, match=r'javax.mail-1.6.5.jar is a symlink to /usr/share/java/javax.mail.jar, '
                                              'outside app_home'):
        run(home, product='jira', state='present')
    assert (home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar').is_symlink()
    # a link that stays inside app_home is moved as a link
    (home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar').unlink()
    (home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar').symlink_to('../../../lib/javax.mail-1.6.5.jar')
    result = run(home, product='jira', state='present')
    assert result['changed'] and (home / 'mailwright-jar-backup/WEB-INF-lib/javax.mail-1.6.5.jar').is_symlink()


def test_backup_dir_rules(tmp_path):
    home = jira_home(tmp_path)
    for inside in ('lib/old', 'atlassian-jira/backup', str(home / 'atlassian-jira' / 'WEB-INF' / 'lib'), '.', str(home)):
        with pytest.raises(MailwrightError, match='backup_dir .* is inside'):
            run(home, product='jira', state='present', backup_dir=inside)
    shared = tmp_path / 'shared'
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(MailwrightError, match='writable by every user'):
        run(home, product='jira', state='present', backup_dir=str(shared))
    link = home / 'mailwright-jar-backup'
    link.symlink_to(tmp_path / 'shared')
    with pytest.raises(MailwrightError, match='outside app_home'):
        run(home, product='jira', state='present')
    link.unlink()
    (home / 'mailwright-jar-backup' / 'WEB-INF-lib').mkdir(parents=True)
    (home / 'mailwright-jar-backup' / 'WEB-INF-lib' / 'javax.mail-1.6.5.jar').symlink_to('/etc/passwd')
    result = run(home, product='jira', state='present')  # an existing name is never replaced
    assert result['moves'][0]['to'].endswith('javax.mail-1.6.5.1.jar')
    assert os.readlink(home / 'mailwright-jar-backup' / 'WEB-INF-lib' / 'javax.mail-1.6.5.jar') == '/etc/passwd'
    outside_ok = tmp_path / 'private-backup'
    shutil.copy(system_jar('javax.mail.jar'), home / 'atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar')
    assert run(home, product='jira', state='present', backup_dir=str(outside_ok))['changed']
    assert (outside_ok / 'WEB-INF-lib' / 'javax.mail-1.6.5.jar').is_file()


def test_world_writable_webapp_lib_is_refused(tmp_path):
    home = jira_home(tmp_path)
    webinf = home / 'atlassian-jira/WEB-INF/lib'
    webinf.chmod(0o777)
    with pytest.raises(MailwrightError, match='writable by every user'):
        run(home, product='jira', state='present')
    assert (webinf / 'javax.mail-1.6.5.jar').exists()


def test_bad_input_writes_nothing(tmp_path):
    home = jira_home(tmp_path)
    before = tree_state(home)
    with pytest.raises(MailwrightError, match=r"disagrees with the settings \(\$.product is 'jira'\)"):
        run(home, effective=settings(), product='confluence', state='present')
    with pytest.raises(MailwrightError, match=r'\$.server.jndi.session_type'):
        run(home, effective=settings(), session_type='jakarta.mail.Session', state='present')
    with pytest.raises(MailwrightError, match='app_home .* does not exist'):
        run(tmp_path / 'missing', state='present')
    with pytest.raises(MailwrightError, match='not a JVM'):
        run(home, product='ghes')
    (tmp_path / 'a-file').write_text('')
    with pytest.raises(MailwrightError, match='is not a directory'):
        run(tmp_path / 'a-file')
    assert tree_state(home) == before


def test_split_jakarta_jars_and_unreadable_jar(tmp_path):
    home = tmp_path / 'tomcat'
    make_jar(home / 'lib' / 'jakarta.mail-api-2.1.3.jar', ['jakarta/mail/Session.class'], {'Bundle-Version': '2.1.3'})
    make_jar(home / 'lib' / 'angus-mail-2.0.3.jar', ['org/eclipse/angus/mail/smtp/SMTPTransport.class'])
    make_jar(home / 'lib' / 'jakarta.activation-api-2.1.3.jar', ['jakarta/activation/DataHandler.class'])
    (home / 'lib' / 'javax.mail-1.4.jar').write_bytes(b'truncated')
    result = run(home, product='generic', session_type='jakarta.mail.Session')
    assert result['conflicts'] == []
    assert {jar['name']: jar['evidence'] for jar in result['jars']}['javax.mail-1.4.jar'] == 'name'


def test_activation_through_the_manifest_class_path(tmp_path):
    home = jira_home(tmp_path, duplicate=False)
    (home / 'lib' / 'javax.activation-1.2.0.jar').unlink()
    (home / 'jre').mkdir()
    (home / 'jre' / 'release').write_text('JAVA_VERSION="17.0.13"\n')
    if not os.path.isfile('/usr/share/java/javax.activation.jar'):
        pytest.skip('Debian libactivation-java is not installed')
    # Debian's javax.mail.jar names /usr/share/java/javax.activation.jar in its Class-Path
    assert run(home, effective=settings())['conflicts'] == []
    (home / 'lib' / 'javax.mail-1.6.5.jar').unlink()
    make_jar(home / 'lib' / 'javax.mail-1.6.7.jar', ['javax/mail/Session.class'], {'Bundle-Version': '1.6.7'})
    with pytest.raises(MailwrightError, match='needs the javax.activation jar'):
        run(home, effective=settings())
