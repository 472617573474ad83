# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""-Dmail.* JVM options against what the settings render."""

from __future__ import annotations

from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import JvmOptions, parse_jvm_options
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.overrides import system_property_overrides

RENDERED = {'mail.transport.protocol': 'smtp', 'mail.smtp.host': 'smtp.example.com', 'mail.smtp.port': '587',
            'mail.smtp.starttls.enable': 'true'}


def options(text: str, file: str = '/opt/jira/bin/setenv.sh') -> JvmOptions:
    props = parse_jvm_options(text, file)
    return JvmOptions(system_properties={p.name: p.value for p in props}, truststore=None,
                      sources={p.name: p.source for p in props}, all=tuple(props), files=(file,))


def by_name(found):
    return {entry['property']: entry for entry in found}


def test_the_last_occurrence_counts_and_all_are_listed():
    text = ('JVM_SUPPORT_RECOMMENDED_ARGS="-Dmail.smtp.host=first.example"\n'
            'CATALINA_OPTS="-Dmail.smtp.host=second.example"\n')
    [entry] = system_property_overrides(options(text), RENDERED)
    assert entry['value'] == 'second.example' and entry['source'] == '/opt/jira/bin/setenv.sh:2'
    assert entry['sources'] == ['/opt/jira/bin/setenv.sh:1', '/opt/jira/bin/setenv.sh:2']
    assert entry['variable'] == 'CATALINA_OPTS' and entry['same'] is False


def test_form_keys_count_even_when_the_settings_do_not_render_them():
    found = by_name(system_property_overrides(options('JAVA_OPTS="-Dmail.smtps.port=465 -Dmail.host=x"\n'), RENDERED))
    assert set(found) == {'mail.smtps.port', 'mail.host'}
    assert found['mail.host']['rendered'] is None and "the form's value is ignored" in found['mail.host']['message']


def test_unrelated_mail_options_are_left_alone_with_settings():
    text = 'JVM_REQUIRED_ARGS="-Dmail.mime.decodeparameters=true -Dmail.smtp.quitwait=false -Datlassian.x=1"\n'
    assert system_property_overrides(options(text), RENDERED) == []
    assert [e['property'] for e in system_property_overrides(options(text), None)] == ['mail.smtp.quitwait']


def test_weakening_options_always_count_and_secrets_are_hidden():
    text = 'JAVA_OPTS="-Dmail.smtps.ssl.trust=* -Dmail.smtp.ssl.protocols=TLSv1 -Dmail.smtp.password=Canary-5e1"\n'
    found = by_name(system_property_overrides(options(text), RENDERED))
    assert found['mail.smtps.ssl.trust']['weakens_tls'] and found['mail.smtp.ssl.protocols']['weakens_tls']
    assert 'mail.smtp.password' not in found  # the settings do not render it
    hidden = by_name(system_property_overrides(options(text), None))['mail.smtp.password']
    assert hidden['value'] == '********' and 'Canary-5e1' not in repr(hidden)
