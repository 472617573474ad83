"""javamail_runtime as a real module process on a fake Jira install: check reports, present fixes,
the second run is unchanged, check mode touches nothing, --diff, fail_on, a -Dmail.smtp.host in
setenv.sh with its file and line, a wrong-API jar, refusals, and secrets that never reach stdout."""
from __future__ import annotations

import pytest

# the standard-library-only host of test_host_libraries, reused
from test_host_libraries import bare_host  # noqa: F401  pylint: disable=unused-import

from tests.support.apphome import jira_home, tree_state
from tests.support.modrun import module_process, run_module

pytestmark = pytest.mark.integration

STORE_PASSWORD = 'Canary-Store-9d2e'
MAIL_PASSWORD = 'Canary-Mail-41bb'
JVM_MAIL_PASSWORD = 'Canary-Jvm-77c0'
SETENV = f'''#!/bin/sh
JVM_SUPPORT_RECOMMENDED_ARGS="-Dmail.smtp.host=old-relay.example.com"
JAVA_OPTS="$JAVA_OPTS -Dmail.smtp.password={JVM_MAIL_PASSWORD}"
# BEGIN mailwright mail truststore (managed by Ansible)
JVM_SUPPORT_RECOMMENDED_ARGS="${{JVM_SUPPORT_RECOMMENDED_ARGS}} -Djavax.net.ssl.trustStore=/opt/ts.p12 \
-Djavax.net.ssl.trustStorePassword={STORE_PASSWORD} -Djavax.net.ssl.trustStoreType=PKCS12"
# END mailwright mail truststore (managed by Ansible)
'''
SETTINGS = {
    'product': 'jira',
    'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required',
               'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session'}},
    'auth': {'method': 'basic', 'username': 'jira', 'password': MAIL_PASSWORD},
    'sender': {'from_address': 'jira@example.com'},
}


def test_check_present_idempotent_and_check_mode(tmp_path):
    home = jira_home(tmp_path, setenv=SETENV)
    args = {'app_home': str(home), 'settings': SETTINGS}
    before = tree_state(home)

    rc, report = run_module('javamail_runtime', args)
    assert rc == 0, report
    assert report['changed'] is False and [c['kind'] for c in report['conflicts']] == ['duplicate']
    [override] = report['system_property_overrides']
    assert override['source'] == f'{home}/bin/setenv.sh:2' and override['rendered'] == 'smtp.example.com'
    assert any('-Dmail.smtp.host=old-relay.example.com' in str(w) for w in report['warnings'])

    rc, checked = run_module('javamail_runtime', dict(args, state='present'), check_mode=True, diff=True)
    assert rc == 0 and checked['changed'] is True and len(checked['moves']) == 1
    assert tree_state(home) == before, 'check mode changed the install'

    rc, fixed = run_module('javamail_runtime', dict(args, state='present'), diff=True)
    assert rc == 0 and fixed['changed'] is True and fixed['diff'] == checked['diff']
    assert (home / 'mailwright-jar-backup' / 'WEB-INF-lib' / 'javax.mail-1.6.5.jar').is_file()
    assert not (home / 'atlassian-jira' / 'WEB-INF' / 'lib' / 'javax.mail-1.6.5.jar').exists()

    after = tree_state(home)
    rc, again = run_module('javamail_runtime', dict(args, state='present'), diff=True)
    assert rc == 0 and again['changed'] is False and again['conflicts'] == []
    assert tree_state(home) == after


def test_fail_on_overrides_fails_cleanly_and_moves_nothing(tmp_path):
    home = jira_home(tmp_path, setenv=SETENV)
    before = tree_state(home)
    proc = module_process('javamail_runtime', {'app_home': str(home), 'settings': SETTINGS, 'state': 'present',
                                               'fail_on': ['conflicts', 'overrides']})
    assert proc.returncode == 1 and 'Traceback' not in proc.stdout + proc.stderr
    assert '"kind": "conflict"' in proc.stdout and 'setenv.sh:2' in proc.stdout
    for secret in (STORE_PASSWORD, MAIL_PASSWORD, JVM_MAIL_PASSWORD):
        assert secret not in proc.stdout and secret not in proc.stderr
    # without settings every -Dmail.smtp.* option is reported, the password one with its value hidden
    proc = module_process('javamail_runtime', {'app_home': str(home), 'product': 'jira', 'fail_on': ['overrides']})
    assert proc.returncode == 1 and '-Dmail.smtp.password=********' in proc.stdout
    for secret in (STORE_PASSWORD, JVM_MAIL_PASSWORD):
        assert secret not in proc.stdout and secret not in proc.stderr
    assert tree_state(home) == before


def test_wrong_api_jar_for_a_jakarta_resource(tmp_path):
    home = jira_home(tmp_path, duplicate=False, tomcat='10.1.60')
    rc, result = run_module('javamail_runtime', {'app_home': str(home), 'product': 'generic',
                                                 'session_type': 'jakarta.mail.Session'})
    assert rc == 1 and result['kind'] == 'conflict'
    assert [c['kind'] for c in result['conflicts']] == ['wrong_api', 'missing']
    assert 'lib/ holds javax.mail only' in result['msg']
    rc, result = run_module('javamail_runtime', {'app_home': str(home), 'product': 'generic',
                                                 'session_type': 'jakarta.mail.Session', 'fail_on': []})
    assert rc == 0 and len(result['warnings']) == 2


def test_symlinked_lib_out_of_app_home_is_refused(tmp_path):
    home = jira_home(tmp_path)
    outside = tmp_path / 'outside'
    (home / 'atlassian-jira' / 'WEB-INF' / 'lib').rename(outside)
    (home / 'atlassian-jira' / 'WEB-INF' / 'lib').symlink_to(outside)
    before = tree_state(outside)
    rc, result = run_module('javamail_runtime', {'app_home': str(home), 'product': 'jira', 'state': 'present'})
    assert rc == 1 and result['kind'] == 'file'
    assert 'outside app_home' in result['msg'] and 'nothing was moved' in result['msg']
    assert tree_state(outside) == before


def test_bad_options_fail_before_anything(tmp_path):
    rc, result = run_module('javamail_runtime', {'app_home': str(tmp_path / 'nope'), 'state': 'present'})
    assert rc == 1 and result['kind'] == 'file' and 'does not exist' in result['msg']
    rc, result = run_module('javamail_runtime', {'app_home': str(tmp_path), 'fail_on': ['everything']})
    assert rc == 1 and 'fail_on' in result['msg']


def test_needs_no_third_party_library(tmp_path, bare_host):  # noqa: F811
    home = jira_home(tmp_path, setenv=SETENV)
    rc, result = run_module('javamail_runtime', {'app_home': str(home), 'settings': SETTINGS, 'state': 'present'},
                            env=bare_host)
    assert rc == 0 and result['changed'] and result['system_property_overrides'], result
