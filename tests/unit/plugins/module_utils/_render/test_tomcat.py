# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Span-based editing of the mail <Resource> in Tomcat server.xml and context files."""

from __future__ import annotations

import difflib
import json
import os
import pathlib
import stat
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import (
    TomcatError,
    apply_resource,
    manual_steps,
    redact_xml,
    resource_attributes,
    xml_attr_escape,
)
from tests.support.modrun import run_module

FIXTURES = pathlib.Path(__file__).resolve().parents[4] / 'fixtures' / 'tomcat'
STOCK = (FIXTURES / 'server.xml').read_bytes()            # Debian tomcat10's server.xml, untouched
WITH_CONTEXT = (FIXTURES / 'server-with-context.xml').read_bytes()
CONTEXT_XML = (FIXTURES / 'context.xml').read_bytes()    # Debian tomcat10's conf/context.xml
CANARY = 'Canary-5ecret-Pa55'


def settings(**over):
    doc = {
        'product': 'jira',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required', 'helo_domain': 'jira01.example.com'},
        'auth': {'method': 'basic', 'username': 'jira-notify', 'password': CANARY},
        'sender': {'from_address': 'jira@example.com', 'from_name': '${fullname} (Jira)', 'subject_prefix': '[JIRA]'},
    }
    doc.update(over)
    return doc


def attrs_for(**over):
    return resource_attributes(load_effective(settings(**over)))


def diff_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
            if line[:1] in '+-' and not line.startswith(('+++', '---'))]


def resource_span(text: str, name: str) -> set[int]:
    """0-based line numbers covered by the Resource element named `name`."""
    start = text.index(f'<Resource name="{name}"')
    end = text.index('/>', start) + 2
    first = text.count('\n', 0, start)
    return set(range(first, text.count('\n', 0, end) + 1))


def changed_line_numbers(before: str, after: str) -> tuple[set[int], set[int]]:
    """(removed lines of before, added lines of after), 0-based."""
    removed: set[int] = set()
    added: set[int] = set()
    matcher = difflib.SequenceMatcher(a=before.splitlines(True), b=after.splitlines(True), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != 'equal':
            removed.update(range(i1, i2))
            added.update(range(j1, j2))
    return removed, added


# --- rendering --------------------------------------------------------------------------------

def test_javax_rendering_is_what_tomcat9_jira_expects():
    """Jira/Confluence on Tomcat 9: javax.mail.Session, attributes Tomcat's MailSessionFactory reads."""
    attrs = attrs_for()
    assert attrs == {
        'name': 'mail/JiraMailServer',
        'auth': 'Container',
        'type': 'javax.mail.Session',
        'mail.transport.protocol': 'smtp',
        'mail.smtp.host': 'smtp.example.com',
        'mail.smtp.port': '587',
        'mail.smtp.ssl.checkserveridentity': 'true',
        'mail.smtp.starttls.enable': 'true',
        'mail.smtp.starttls.required': 'true',
        'mail.smtp.auth': 'true',
        'mail.smtp.user': 'jira-notify',
        'password': CANARY,
        'mail.smtp.connectiontimeout': '10000',
        'mail.smtp.timeout': '10000',
        'mail.smtp.writetimeout': '10000',
        'mail.smtp.localhost': 'jira01.example.com',
        'mail.smtp.from': 'jira@example.com',
        'mail.from': 'jira@example.com',   # the ${fullname} template is Jira's own business
    }
    assert list(attrs)[:3] == ['name', 'auth', 'type']
    assert list(attrs).index('password') == list(attrs).index('mail.smtp.user') + 1


def test_confluence_smtps_anonymous_and_debug():
    attrs = resource_attributes(load_effective({
        'product': 'confluence',
        'server': {'host': 'relay.example.com', 'protocol': 'smtps', 'timeout_ms': 0,
                   'jndi': {'debug': True}, 'properties': {'mail.smtp.quitwait': False, 'mail.smtp.sendpartial': True}},
        'sender': {'from_address': 'confluence@example.com'},
    }))
    assert attrs == {
        'name': 'mail/ConfluenceMailServer', 'auth': 'Container', 'type': 'javax.mail.Session',
        'mail.transport.protocol': 'smtp', 'mail.smtp.host': 'relay.example.com', 'mail.smtp.port': '465',
        'mail.smtp.ssl.enable': 'true', 'mail.smtp.ssl.checkserveridentity': 'true',
        'mail.smtp.from': 'confluence@example.com',
        'mail.from': 'confluence@example.com', 'mail.debug': 'true',
        'mail.smtp.quitwait': 'false', 'mail.smtp.sendpartial': 'true',
    }


def test_jakarta_type_and_generic_from_name():
    attrs = resource_attributes(load_effective({
        'product': 'generic',
        'server': {'host': 'smtp.example.com', 'port': 2525, 'tls': 'opportunistic',
                   'jndi': {'name': 'mail/Session', 'session_type': 'jakarta.mail.Session'}},
        'sender': {'from_address': 'app@example.com', 'from_name': 'Example App'},
    }))
    assert attrs['type'] == 'jakarta.mail.Session'
    assert attrs['mail.smtp.starttls.enable'] == 'true' and 'mail.smtp.starttls.required' not in attrs
    assert attrs['mail.from'] == 'Example App <app@example.com>'


@pytest.mark.parametrize('doc, message', [
    ({'product': 'bitbucket', 'server': {'host': 'h.example.com'}, 'sender': {'from_address': 'a@example.com'}},
     'bitbucket has no JNDI'),
    ({'product': 'generic', 'server': {'host': 'h.example.com'}, 'sender': {'from_address': 'a@example.com'}},
     'server.jndi'),
    ({'product': 'jira', 'server': {'host': 'h.example.com', 'tls': 'required'},
      'auth': {'method': 'oauth2', 'username': 'a@example.com', 'oauth2': {'provider': 'google'}},
      'sender': {'from_address': 'a@example.com'}}, 'OAuth 2.0'),
])
def test_settings_that_cannot_become_a_resource(doc, message):
    with pytest.raises(TomcatError, match=message):
        resource_attributes(load_effective(doc))


def test_extra_attributes_cannot_override_settings():
    eff = load_effective(settings())
    assert resource_attributes(eff, extra={'description': 'Outgoing mail'})['description'] == 'Outgoing mail'
    with pytest.raises(TomcatError, match='override'):
        resource_attributes(eff, extra={'password': 'x'})


def test_xml_escaping_of_metacharacters_and_line_breaks():
    nasty = 'a&b<c>d"e\'f\rg\nh\ti ☃'
    attrs = attrs_for()
    attrs['mail.smtp.localhost'] = nasty
    attrs['password'] = nasty
    result = apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs, context_path='')
    parsed = ET.fromstring(result.content)
    resource = next(r for r in parsed.iter('Resource') if r.get('name') == 'mail/JiraMailServer')
    assert resource.get('password') == nasty and resource.get('mail.smtp.localhost') == nasty
    assert xml_attr_escape(nasty) in result.after
    assert '&#13;' in result.after and '&#10;' in result.after and '&#9;' in result.after
    # and the second run sees no difference
    assert apply_resource(result.content, 'server.xml', state='present', attrs=attrs, context_path='').action == 'unchanged'


# --- the stock server.xml ---------------------------------------------------------------------

def test_stock_server_xml_without_context_is_refused_untouched():
    with pytest.raises(TomcatError, match='no <Context> element found'):
        apply_resource(STOCK, 'conf/server.xml', state='present', attrs=attrs_for())


def test_add_change_remove_touch_only_resource_lines():
    before = WITH_CONTEXT.decode()
    attrs = attrs_for()
    added = apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs, context_path='')
    assert added.changed and added.action == 'added'
    removed, new = changed_line_numbers(before, added.after)
    assert not removed
    assert new == resource_span(added.after, 'mail/JiraMailServer')
    # inserted as the last child of the Jira Context, indented like its siblings
    assert '          <JarScanner scanManifest="false"/>\n          <Resource name="mail/JiraMailServer"\n' \
           '                    auth="Container"\n' in added.after
    assert added.line == added.after[:added.after.index('<Resource name="mail/Jira')].count('\n') + 1

    again = apply_resource(added.content, 'server.xml', state='present', attrs=attrs, context_path='')
    assert not again.changed and again.action == 'unchanged' and again.content is None

    changed_attrs = attrs_for(server={'host': 'relay.example.com', 'port': 2525, 'tls': 'opportunistic'})
    changed = apply_resource(added.content, 'server.xml', state='present', attrs=changed_attrs, context_path='')
    assert changed.action == 'updated'
    removed, new = changed_line_numbers(added.after, changed.after)
    assert removed <= resource_span(added.after, 'mail/JiraMailServer')
    assert new <= resource_span(changed.after, 'mail/JiraMailServer')
    assert diff_lines(added.after, changed.after) == [
        '-                    mail.smtp.host="smtp.example.com"\n',
        '-                    mail.smtp.port="587"\n',
        '+                    mail.smtp.host="relay.example.com"\n',
        '+                    mail.smtp.port="2525"\n',
        '-                    mail.smtp.starttls.required="true"\n',
        '-                    mail.smtp.localhost="jira01.example.com"\n',
    ]

    gone = apply_resource(changed.content, 'server.xml', state='absent', resource_name='mail/JiraMailServer',
                          context_path='')
    assert gone.action == 'removed' and gone.content == WITH_CONTEXT
    assert apply_resource(gone.content, 'server.xml', state='absent', resource_name='mail/JiraMailServer',
                          context_path='').action == 'absent'


def test_existing_resource_keeps_its_attribute_order_and_quoting():
    text = ('<Server><Service><Engine><Host>\n'
            '  <Context docBase="app">\n'
            "    <Resource mail.smtp.port='25' name='mail/JiraMailServer' type=\"javax.mail.Session\"\n"
            '              mail.smtp.host="old.example.com" custom="gone" auth="Container"/>\n'
            '  </Context>\n'
            '</Host></Engine></Service></Server>\n')
    attrs = attrs_for()
    result = apply_resource(text.encode(), 'server.xml', state='present', attrs=attrs, doc_base='app')
    after = result.after
    start = after.index('<Resource')
    assert after[start:].startswith("<Resource mail.smtp.port='587' name='mail/JiraMailServer' type=\"javax.mail.Session\"\n"
                                    '              mail.smtp.host="smtp.example.com" auth="Container"\n'
                                    '              mail.transport.protocol="smtp"\n')
    assert 'custom=' not in after
    parsed = ET.fromstring(result.content).find('.//Resource')
    assert parsed.attrib == attrs


def test_duplicates_are_collapsed_into_the_first():
    text = ('<Context>\n  <Resource name="mail/JiraMailServer" auth="Container" type="javax.mail.Session"/>\n'
            '  <Resource name="mail/Other" auth="Container" type="javax.mail.Session"/>\n'
            '  <Resource name="mail/JiraMailServer" auth="Container"\n            type="javax.mail.Session"/>\n'
            '</Context>\n')
    result = apply_resource(text.encode(), 'app.xml', state='present', attrs=attrs_for())
    resources = [r.get('name') for r in ET.fromstring(result.content).iter('Resource')]
    assert resources == ['mail/JiraMailServer', 'mail/Other']
    assert '\n  <Resource name="mail/Other" auth="Container" type="javax.mail.Session"/>\n</Context>\n' in result.after


# --- context files and odd but valid XML ------------------------------------------------------

def test_stock_context_xml_gets_the_resource_at_its_indentation():
    attrs = attrs_for()
    result = apply_resource(CONTEXT_XML, 'conf/context.xml', state='present', attrs=attrs)
    removed, new = changed_line_numbers(CONTEXT_XML.decode(), result.after)
    assert not removed and new == resource_span(result.after, 'mail/JiraMailServer')
    assert '    -->\n    <Resource name="mail/JiraMailServer"\n              auth="Container"\n' in result.after
    assert result.after.endswith('mail.from="jira@example.com"/>\n</Context>\n')
    back = apply_resource(result.content, 'conf/context.xml', state='absent', resource_name='mail/JiraMailServer')
    assert back.content == CONTEXT_XML


def test_self_closing_context_is_opened():
    text = b'<?xml version="1.0"?>\n<Context path="/app" docBase="app" />\n'
    result = apply_resource(text, 'app.xml', state='present', attrs=attrs_for(), context_path='/app/')
    assert result.after.startswith('<?xml version="1.0"?>\n<Context path="/app" docBase="app">\n  <Resource name=')
    assert result.after.endswith('/>\n</Context>\n')


def test_crlf_line_endings_are_kept_and_used():
    text = CONTEXT_XML.replace(b'\n', b'\r\n')
    result = apply_resource(text, 'context.xml', state='present', attrs=attrs_for())
    assert b'\n' not in result.content.replace(b'\r\n', b'')
    assert result.content.startswith(text[:text.index(b'</Context>')])
    back = apply_resource(result.content, 'context.xml', state='absent', resource_name='mail/JiraMailServer')
    assert back.content == text


def test_tokenizer_is_not_fooled_by_comments_cdata_doctype_and_quoted_gt():
    text = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            '<!DOCTYPE Server [ <!ENTITY x "<Context>"> <!-- ] > --> ]>\n'
            '<Server note="a > b" other=\'c "/>" d\'>\n'
            '  <!-- <Context path=""> <Resource name="mail/JiraMailServer"/> </Context> -->\n'
            '  <Context path="" note="x>y">\n'
            '    <Script><![CDATA[ </Context> <Resource name="mail/JiraMailServer"/> ]]></Script>\n'
            '    <Description>caf\xe9</Description>\n'
            '  </Context>\n'
            '</Server>\n').encode('iso-8859-1')
    attrs = attrs_for()
    attrs['mail.smtp.localhost'] = 'hôte'
    result = apply_resource(text, 'server.xml', state='present', attrs=attrs, context_path='')
    assert result.action == 'added'
    assert result.content.startswith(text[:text.index(b'  </Context>')])
    assert b'caf\xe9' in result.content and b'h\xf4te' in result.content   # stays ISO-8859-1
    assert result.content.count(b'<Resource name="mail/JiraMailServer"') == 3  # comment, CDATA, ours
    back = apply_resource(result.content, 'server.xml', state='absent', resource_name='mail/JiraMailServer',
                          context_path='')
    assert back.content == text


def test_not_well_formed_reports_file_and_line():
    text = b'<Server>\n  <Context path="">\n    <Resource name="x">\n  </Context>\n</Server>\n'
    with pytest.raises(TomcatError, match=r'^conf/server.xml:4: not well-formed XML \(mismatched tag'):
        apply_resource(text, 'conf/server.xml', state='present', attrs=attrs_for())


def test_context_selection():
    with pytest.raises(TomcatError, match='2 <Context> elements match') as exc:
        apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs_for())
    assert 'line 160' in str(exc.value)
    with pytest.raises(TomcatError, match="no <Context> matches context_path='/nope'"):
        apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs_for(), context_path='/nope')
    by_doc_base = apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs_for(),
                                 doc_base='${catalina.home}/atlassian-jira')
    by_path = apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs_for(), context_path='/')
    assert by_doc_base.after == by_path.after
    other = apply_resource(WITH_CONTEXT, 'server.xml', state='present', attrs=attrs_for(), context_path='/other')
    assert '<Context path="/other" docBase="other-app">\n          <Resource name=' in other.after
    with pytest.raises(TomcatError, match='does not match'):
        apply_resource(CONTEXT_XML.replace(b'<Context>', b'<Context path="/a">'), 'ctx.xml', state='present',
                       attrs=attrs_for(), context_path='/b')


def test_missing_file_becomes_a_context_file():
    result = apply_resource(None, 'app.xml', state='present', attrs=attrs_for())
    assert ET.fromstring(result.content).find('Resource').attrib == attrs_for()
    assert apply_resource(None, 'app.xml', state='absent', resource_name='mail/JiraMailServer').action == 'absent'


def test_redaction_covers_the_escaped_password():
    secret = 'p&ss"<word>'
    text = f'<Resource password="{xml_attr_escape(secret)}"/>'
    assert redact_xml(text, [secret]) == '<Resource password="********"/>'


OLD_PASSWORD = 'Old&"Pa55<\'é>'  # a secret the settings no longer know: it is only in the file


@pytest.mark.parametrize('text', [
    '<Resource name="mail/X" password="OLD-1" mail.smtp.user="u"/>',
    "<Resource password='OLD\"1' x='1'/>",
    '<Resource password="OLD&quot;1&#x41;&#10;x" />',
    '<Resource\n   PassWord = "OLD\n1"\n/>',
    '<Resource mail.smtp.password="OLD-1" mail.smtps.password="OLD-1"/>',
    '<Connector keystorePass="OLD-1" certificateKeystorePassword="OLD-1"/>',
    '<Realm connectionPassword="OLD-1" appSecret="OLD-1" authToken="OLD-1" dbPasswd="OLD-1"/>',
    '<!-- <Resource password="OLD-1"/> -->',
    '<Resource description="token=" password="OLD-1"/>',
    '<Parameter name="mail.smtp.password" value="OLD-1"/>',
    '<password>OLD-1</password>',
    # not XML at all: the tolerant scan still finds the value
    '<Resource password="OLD-1 other="x"',
    '<Resource password=OLD-1 other="x"/>',
    '<Resource password="OLD-1\n</Context>',
])
def test_redact_xml_hides_every_secret_attribute_whatever_its_value(text):
    shown = redact_xml(text, [])
    assert 'OLD' not in shown and '********' in shown


def test_redact_xml_keeps_what_is_not_secret():
    text = '<Valve bypass="yes" token_url="http://x" name="mail/X" value="v"/>'
    assert redact_xml(text, []) == text


def _old_password_file(tmp_path) -> pathlib.Path:
    path = tmp_path / 'server.xml'
    path.write_bytes(WITH_CONTEXT)
    os.chmod(path, 0o640)
    old = settings(auth={'method': 'basic', 'username': 'jira-notify', 'password': OLD_PASSWORD})
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': old, 'context_path': ''})
    assert rc == 0 and result['changed']
    assert f'password="{xml_attr_escape(OLD_PASSWORD)}"' in path.read_text()
    return path


def _old_spellings() -> list[str]:
    import base64
    import urllib.parse
    return [OLD_PASSWORD, xml_attr_escape(OLD_PASSWORD), OLD_PASSWORD.replace('&', '&amp;').replace('<', '&lt;'),
            base64.b64encode(OLD_PASSWORD.encode()).decode(), urllib.parse.quote(OLD_PASSWORD, safe=''),
            json.dumps(OLD_PASSWORD)[1:-1], 'Pa55']


@pytest.mark.parametrize('check_mode', [True, False])
def test_module_diff_hides_the_previous_password(tmp_path, check_mode):
    from tests.support.modrun import module_process

    path = _old_password_file(tmp_path)
    proc = module_process('tomcat_mail_resource', {'path': str(path), 'settings': settings(), 'context_path': ''},
                          check_mode=check_mode, diff=True)
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result['changed'], result
    assert 'password="********"' in result['diff']['before']
    for form in _old_spellings():
        assert form not in proc.stdout, form
    assert CANARY not in proc.stdout


def test_manual_steps_name_the_jndi_location_and_the_ui_fields():
    jira = manual_steps(load_effective(settings()), path='/opt/jira/conf/server.xml', is_context_file=False)
    assert any('Restart Tomcat' in s for s in jira)
    assert any('Outgoing Mail' in s and 'java:comp/env/mail/JiraMailServer' in s and '[JIRA]' in s for s in jira)
    confluence = manual_steps(load_effective(settings(product='confluence')), path='server.xml', is_context_file=False)
    assert any('Mail Servers' in s and '${fullname} (Jira)' in s and 'java:comp/env/mail/ConfluenceMailServer' in s
               for s in confluence)


# --- the module -------------------------------------------------------------------------------

def test_module_check_diff_write_idempotent(tmp_path):
    path = tmp_path / 'server.xml'
    path.write_bytes(WITH_CONTEXT)
    os.chmod(path, 0o640)
    args = {'path': str(path), 'settings': settings(), 'context_path': '', 'backup': True}
    rc, check = run_module('tomcat_mail_resource', args, check_mode=True, diff=True)
    assert rc == 0 and check['changed'] and check['action'] == 'added'
    assert path.read_bytes() == WITH_CONTEXT
    assert 'password="********"' in check['diff']['after'] and check['resource']['password'] == '********'
    rc, first = run_module('tomcat_mail_resource', args, diff=True)
    assert rc == 0 and first['changed']
    assert f'password="{CANARY}"' in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert pathlib.Path(first['backup_file']).read_bytes() == WITH_CONTEXT
    assert CANARY not in json.dumps(first) + json.dumps(check)
    assert any('Outgoing Mail' in s for s in first['manual_steps'])
    rc, second = run_module('tomcat_mail_resource', args, diff=True)
    assert rc == 0 and not second['changed'] and second['action'] == 'unchanged'
    rc, gone = run_module('tomcat_mail_resource', dict(args, state='absent', backup=False))
    assert rc == 0 and gone['changed'] and path.read_bytes() == WITH_CONTEXT


def test_module_new_context_file_is_not_world_readable(tmp_path):
    path = tmp_path / 'Catalina' / 'localhost' / 'app.xml'
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': settings()})
    assert rc == 1 and 'directory does not exist' in result['msg']
    path.parent.mkdir(parents=True)
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': settings()})
    assert rc == 0 and result['changed']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_module_refuses_broken_xml_and_leaves_it(tmp_path):
    path = tmp_path / 'server.xml'
    broken = WITH_CONTEXT.replace(b'<JarScanner scanManifest="false"/>', b'<JarScanner scanManifest="false">')
    path.write_bytes(broken)
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': settings(), 'context_path': ''})
    assert rc == 1 and result['failed']
    assert result['msg'].startswith(f'{path}:166: not well-formed XML')
    assert path.read_bytes() == broken
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': settings(),
                                                     'context_path': '/missing'})
    assert rc == 1 and path.read_bytes() == broken
    path.write_bytes(STOCK)
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': settings()})
    assert rc == 1 and 'no <Context> element found' in result['msg'] and path.read_bytes() == STOCK


def test_a_new_context_file_is_checked_before_it_is_written():
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import TomcatError, apply_resource

    with pytest.raises(TomcatError, match='would not parse'):
        apply_resource(None, 'ctx.xml', state='present', attrs={'name': 'mail/X', 'password': 'a\x01b'})
    ok = apply_resource(None, 'ctx.xml', state='present', attrs={'name': 'mail/X', 'password': 'a<&>"b'})
    assert ok.changed and b'a&lt;&amp;&gt;&quot;b' in ok.content
