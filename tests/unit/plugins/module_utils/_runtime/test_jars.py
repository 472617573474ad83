# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planning the jar layout: duplicates, missing and wrong-API jars, and the moves that fix them."""

from __future__ import annotations

import os

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import MailJar
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.jars import plan_layout, session_api, version_key

HOME = '/opt/jira'
LIB = f'{HOME}/lib'
WEB = f'{HOME}/atlassian-jira/WEB-INF/lib'
BACKUP = f'{HOME}/mailwright-jar-backup'


def jar(location, name, api='javax', kind='mail', version='1.6.5', parts=('api', 'provider')):
    directory = LIB if location == 'lib' else WEB
    return MailJar(path=os.path.join(directory, name), api=api, kind=kind, version=version, location=location,
                   name=name, parts=parts)


def plan(jars, product='jira', session_type=None, **kwargs):
    return plan_layout(jars, app_home=HOME, product=product, session_type=session_type, lib=LIB, webinf=WEB,
                       backup_dir=BACKUP, **kwargs)


def moves(result):
    return [(os.path.relpath(m.source, HOME), os.path.relpath(m.destination, HOME), m.reason) for m in result.moves]


def test_clean_jira_has_no_conflicts():
    result = plan([jar('lib', 'javax.mail-1.6.5.jar'), jar('lib', 'activation-1.2.0.jar', kind='activation', version='1.2.0')],
                  session_type='javax.mail.Session')
    assert result.conflicts == [] and result.moves == []


def test_webapp_copy_of_a_lib_jar_is_a_duplicate_moved_to_backup():
    result = plan([jar('lib', 'javax.mail-1.6.2.jar', version='1.6.2'), jar('webapp', 'javax.mail-1.6.5.jar')])
    [conflict] = result.conflicts
    assert conflict.kind == 'duplicate' and conflict.fixed
    assert 'not of required type javax.mail.Session' in conflict.message
    assert 'Keep lib/javax.mail-1.6.2.jar' in conflict.message  # lib/ wins over a newer webapp copy
    assert moves(result) == [('atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar',
                              'mailwright-jar-backup/WEB-INF-lib/javax.mail-1.6.5.jar', 'duplicate')]
    assert result.after() == [f'{LIB}/javax.mail-1.6.2.jar', f'{BACKUP}/WEB-INF-lib/javax.mail-1.6.5.jar']


def test_two_copies_in_lib_keep_the_newest():
    result = plan([jar('lib', 'javax.mail-1.6.10.jar', version='1.6.10'), jar('lib', 'mail-1.4.7.jar', version='1.4.7')])
    assert [c.kind for c in result.conflicts] == ['duplicate']
    assert 'twice' in result.conflicts[0].message
    assert moves(result) == [('lib/mail-1.4.7.jar', 'mailwright-jar-backup/lib/mail-1.4.7.jar', 'duplicate')]


def test_api_jar_beside_its_provider_is_not_a_duplicate():
    jars = [jar('lib', 'jakarta.mail-api-2.1.3.jar', api='jakarta', version='2.1.3', parts=('api',)),
            jar('lib', 'angus-mail-2.0.3.jar', api='jakarta', version='2.0.3', parts=('provider',)),
            jar('lib', 'jakarta.activation-api-2.1.3.jar', api='jakarta', kind='activation', version='2.1.3', parts=('api',))]
    result = plan(jars, product='generic', session_type='jakarta.mail.Session')
    assert result.conflicts == [] and result.moves == []
    # ... but a full jar beside the split pair is
    result = plan(jars + [jar('webapp', 'jakarta.mail-2.0.1.jar', api='jakarta', version='2.0.1')],
                  product='generic', session_type='jakarta.mail.Session')
    assert [c.kind for c in result.conflicts] == ['duplicate']


def test_jndi_session_moves_a_webapp_only_jar_into_lib():
    result = plan([jar('webapp', 'javax.mail-1.6.5.jar'), jar('webapp', 'activation-1.2.0.jar', kind='activation')],
                  product='confluence', session_type='javax.mail.Session')
    assert sorted(moves(result)) == [('atlassian-jira/WEB-INF/lib/activation-1.2.0.jar', 'lib/activation-1.2.0.jar', 'lib'),
                                     ('atlassian-jira/WEB-INF/lib/javax.mail-1.6.5.jar', 'lib/javax.mail-1.6.5.jar', 'lib')]
    assert [(c.kind, c.fixed) for c in result.conflicts] == [('missing', True), ('missing', True)]
    assert 'NoClassDefFoundError: javax/mail/Authenticator' in result.conflicts[0].message


def test_without_a_jndi_session_a_webapp_only_jar_stays():
    result = plan([jar('webapp', 'javax.mail-1.6.5.jar')], product='confluence')
    assert result.conflicts == [] and result.moves == []


def test_missing_jars_for_a_jndi_session():
    result = plan([], session_type='jakarta.mail.Session')
    assert [(c.kind, c.fixed) for c in result.conflicts] == [('missing', False), ('missing', False)]
    assert 'jakarta/mail/Authenticator' in result.conflicts[0].message
    assert 'jakarta/activation/DataHandler' in result.conflicts[1].message
    # javax.activation is built into Java 8
    result = plan([jar('lib', 'javax.mail-1.6.5.jar')], session_type='javax.mail.Session', java_version='1.8.0_402')
    assert result.conflicts == []
    result = plan([jar('lib', 'javax.mail-1.6.5.jar')], session_type='javax.mail.Session', java_version='17.0.13')
    assert [c.kind for c in result.conflicts] == ['missing'] and 'Java 8 has it built in' in result.conflicts[0].message
    # an activation jar the mail jar's manifest Class-Path brings along counts
    linked = MailJar(path='/usr/share/java/javax.activation.jar', api='javax', kind='activation', version='1.2.0',
                     location='lib')
    result = plan([jar('lib', 'javax.mail-1.6.5.jar')], session_type='javax.mail.Session', linked=[linked])
    assert result.conflicts == [] and result.moves == []
    # the product cannot send at all
    assert [c.kind for c in plan([], product='jira').conflicts] == ['missing']
    assert plan([], product='generic').conflicts == []


def test_wrong_api_for_the_resource_type():
    result = plan([jar('lib', 'javax.mail-1.6.5.jar'), jar('lib', 'javax.activation.jar', kind='activation')],
                  product='generic', session_type='jakarta.mail.Session')
    kinds = [c.kind for c in result.conflicts]
    assert kinds == ['wrong_api', 'missing']
    assert 'javax.mail only' in result.conflicts[0].message and not result.conflicts[0].fixed


@pytest.mark.parametrize('tomcat, session, wrong', [
    ('10.1.60', 'javax.mail.Session', True),
    ('9.0.98', 'jakarta.mail.Session', True),
    ('9.0.98', 'javax.mail.Session', False),
    ('10.1.60', 'jakarta.mail.Session', False),
])
def test_resource_type_against_the_tomcat_version(tomcat, session, wrong):
    api = session_api(session)
    jars = [jar('lib', 'm.jar', api=api), jar('lib', 'a.jar', api=api, kind='activation')]
    result = plan(jars, product='generic', session_type=session, tomcat=tomcat)
    assert [c.kind for c in result.conflicts] == (['wrong_api'] if wrong else [])
    if wrong:
        assert f'Tomcat {tomcat}' in result.conflicts[0].message


def test_bitbucket_is_reported_never_rearranged():
    result = plan([jar('lib', 'javax.mail-1.6.5.jar'), jar('webapp', 'javax.mail-1.6.5.jar')], product='bitbucket')
    assert [(c.kind, c.fixed) for c in result.conflicts] == [('duplicate', False)]
    assert result.moves == [] and 'by hand' in result.conflicts[0].message


def test_version_key():
    assert version_key('1.6.10') > version_key('1.6.9') and version_key(None) == ()
