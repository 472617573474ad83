# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The managed truststore block of setenv.sh: rendering, placement, escaping through a real sh."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import jinja2
import pytest
import yaml
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.mailwright.smtp.plugins.module_utils._trust.jvm_options import (
    MARKER_BEGIN,
    MARKER_END,
    JvmOptionsError,
    apply_block,
    block_value,
    eval_quote,
    eval_unsafe,
    redact_block_text,
    render_block,
    secret_forms,
    shell_double_quote,
)

HOSTILE = 'p"a$b`c\\d\'e'  # p"a$b`c\d'e: every character a double-quoted string must escape, and a quote
VAR = 'JVM_SUPPORT_RECOMMENDED_ARGS'
STORE = '/var/atlassian/application-data/jira/mail-truststore.p12'
SHELLS = [s for s in ('sh', 'dash', 'bash') if shutil.which(s)]

# The block of the mail role's task "Point the JVM at the mail truststore in setenv.sh"
# (roles/mail/tasks/render.yml before this module took the job over), as YAML folds it.
ROLE_TASK = r"""
marker: "# {mark} mailwright mail truststore (managed by Ansible)"
block: >-
  {{ mail_setenv_variable }}="${{ '{' ~ mail_setenv_variable ~ '}' }}
  -Djavax.net.ssl.trustStore={{ mail_truststore_path }}
  -Djavax.net.ssl.trustStorePassword={{ mail_truststore_password }}
  -Djavax.net.ssl.trustStoreType={{ __mail_truststore_jvm_type }}"
"""


def role_block(variable: str, path: str, password: str, store_type: str) -> tuple[str, str]:
    """(marker, block) exactly as the role handed them to blockinfile."""
    task = yaml.safe_load(ROLE_TASK)
    block = jinja2.Template(task['block']).render(mail_setenv_variable=variable, mail_truststore_path=path,
                                                  mail_truststore_password=password,
                                                  __mail_truststore_jvm_type=store_type)
    return task['marker'], block


def block(password: str = 'changeit-123', *, path: str = STORE, store_type: str = 'pkcs12',
          variable: str = VAR) -> str:
    return render_block(variable=variable, store_path=path, store_password=password, store_type=store_type)


def run_blockinfile(tmp_path, text: str, *, marker: str, block_text: str, insertafter: str | None) -> str:
    """What ansible.builtin.blockinfile (this venv's ansible-core) makes of `text`."""
    target = tmp_path / 'blockinfile-setenv.sh'
    target.write_bytes(text.encode())
    args = {'path': str(target), 'marker': marker, 'block': block_text, '_ansible_tmpdir': str(tmp_path),
            '_ansible_remote_tmp': str(tmp_path), '_ansible_keep_remote_files': False}
    if insertafter is not None:
        args['insertafter'] = insertafter
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    proc = subprocess.run([sys.executable, '-m', 'ansible.modules.blockinfile', str(args_file)],
                          capture_output=True, text=True, check=False, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target.read_bytes().decode()


def source(shell: str, path, variable: str = VAR) -> str:
    """The variable's value after `shell` sourced the file (the way catalina.sh does)."""
    proc = subprocess.run([shell, '-c', f'. "$1"; printf %s "${variable}"', shell, str(path)],
                          capture_output=True, check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode('utf-8', 'surrogateescape')


def jvm_words(shell: str, path, variable: str = VAR) -> list[str]:
    """The words the JVM gets: the file sourced, then the variable read a second time through eval,
    as catalina.sh's `eval exec "$_RUNJAVA" ... "$JAVA_OPTS" "$CATALINA_OPTS"` does."""
    script = f'. "$1"; eval "set -- ${variable}"; for w in "$@"; do printf "%s\\0" "$w"; done'
    proc = subprocess.run([shell, '-c', script, shell, str(path)], capture_output=True, check=False, timeout=30,
                          cwd=pathlib.Path(path).parent)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode('utf-8', 'surrogateescape').split('\0')[:-1]


SETENV = (
    '#!/bin/sh\n'
    '# Jira setenv.sh (shortened)\n'
    'JVM_MINIMUM_MEMORY="384m"\n'
    'JVM_SUPPORT_RECOMMENDED_ARGS=""\n'
    '\n'
    'JVM_CODE_CACHE_ARGS=\'-XX:InitialCodeCacheSize=32m\'\n'
    'JAVA_OPTS="-Xms${JVM_MINIMUM_MEMORY} ${JAVA_OPTS} ${JVM_SUPPORT_RECOMMENDED_ARGS}"\n'
)


# --- the block ---------------------------------------------------------------------------------

def test_block_is_byte_for_byte_the_roles_block():
    marker, role = role_block(VAR, STORE, 'changeit-123', 'PKCS12')
    assert block() == (marker.replace('{mark}', 'BEGIN') + '\n' + role + '\n'
                       + marker.replace('{mark}', 'END') + '\n')
    assert block() == (
        '# BEGIN mailwright mail truststore (managed by Ansible)\n'
        f'{VAR}="${{{VAR}}} -Djavax.net.ssl.trustStore={STORE} -Djavax.net.ssl.trustStorePassword=changeit-123 '
        '-Djavax.net.ssl.trustStoreType=PKCS12"\n'
        '# END mailwright mail truststore (managed by Ansible)\n')


@pytest.mark.parametrize('store_type', ['jks', 'pkcs12', 'JKS'])
def test_store_type_is_upper_case(store_type):
    assert f'trustStoreType={store_type.upper()}"' in block(store_type=store_type)


@pytest.mark.parametrize('text, insertafter', [
    (SETENV, '^JVM_SUPPORT_RECOMMENDED_ARGS='),
    (SETENV, None),
    (SETENV, '^NO_SUCH_LINE='),
    (SETENV, 'EOF'),
    (SETENV + 'JVM_SUPPORT_RECOMMENDED_ARGS="-Dlater"\n', '^JVM_SUPPORT_RECOMMENDED_ARGS='),  # after the last match
    (SETENV + 'export JAVA_OPTS', None),                                   # no line break at the end
    (SETENV, r'(?m)^JVM_SUPPORT_RECOMMENDED_ARGS=.*$'),                    # blockinfile's multiline mode
    ('', '^JVM_SUPPORT_RECOMMENDED_ARGS='),
])
def test_new_block_lands_where_blockinfile_puts_it(tmp_path, text, insertafter):
    marker, role = role_block(VAR, STORE, 'changeit-123', 'PKCS12')
    expected = run_blockinfile(tmp_path, text, marker=marker, block_text=role, insertafter=insertafter)
    result = apply_block(text, block(), insert_after=insertafter)
    assert result.text == expected
    assert result.changed and result.action == 'insert'


def test_existing_role_block_is_replaced_like_blockinfile(tmp_path):
    marker, old = role_block(VAR, '/old/store.jks', 'old-pass', 'JKS')
    before = run_blockinfile(tmp_path, SETENV, marker=marker, block_text=old, insertafter='^JVM_SUPPORT')
    marker, new = role_block(VAR, STORE, 'changeit-123', 'PKCS12')
    expected = run_blockinfile(tmp_path, before, marker=marker, block_text=new, insertafter='^JVM_SUPPORT')
    result = apply_block(before, block(), insert_after='^JVM_SUPPORT')
    assert result.text == expected and result.action == 'replace'
    # A host the role configured with the same values: nothing to do.
    again = apply_block(expected, block(), insert_after='^JVM_SUPPORT')
    assert not again.changed and again.text == expected and again.action == 'unchanged'


def test_insert_after_the_last_matching_line():
    text = 'A=1\nCATALINA_OPTS="-Xmx1g"\nB=2\nCATALINA_OPTS="$CATALINA_OPTS -Dx"\nC=3\n'
    result = apply_block(text, block(variable='CATALINA_OPTS'), insert_after='^CATALINA_OPTS=')
    lines = result.text.splitlines()
    assert lines[:4] == text.splitlines()[:4]
    assert lines[4] == MARKER_BEGIN and lines[5].startswith('CATALINA_OPTS="${CATALINA_OPTS} -D')
    assert lines[6] == MARKER_END and lines[7] == 'C=3'


@pytest.mark.parametrize('insert_after', [None, '', 'EOF', '^NOT_THERE='])
def test_without_a_match_the_block_is_appended(insert_after):
    result = apply_block(SETENV, block(), insert_after=insert_after)
    assert result.text == SETENV + block()


def test_no_file_yet_is_just_the_block():
    result = apply_block(None, block(), insert_after='^JVM_SUPPORT_RECOMMENDED_ARGS=')
    assert result.text == block() and result.changed


def test_replace_in_place_keeps_every_other_byte():
    # CRLF and a Latin-1 byte elsewhere, a comment inside the old block's neighbourhood, no final line break.
    head = '#!/bin/sh\r\n# caf\udce9 \u00fcber\r\nJVM_SUPPORT_RECOMMENDED_ARGS="-Da=b"\r\n'
    tail = '# after\r\nexport JAVA_OPTS'
    text = head + block('old-password', store_type='jks') + tail
    result = apply_block(text, block(), insert_after='^JVM_SUPPORT')
    assert result.text == head + block() + tail
    assert result.action == 'replace'
    # Round trip through bytes the way the module reads and writes the file.
    raw = result.text.encode('utf-8', 'surrogateescape')
    assert b'caf\xe9' in raw and raw.endswith(b'export JAVA_OPTS')


def test_crlf_markers_are_recognised():
    old = block('old-password').replace('\n', '\r\n')
    result = apply_block('A=1\n' + old + 'B=2\n', block())
    assert result.text == 'A=1\n' + block() + 'B=2\n'


def test_idempotent():
    first = apply_block(SETENV, block(HOSTILE), insert_after='^JVM_SUPPORT_RECOMMENDED_ARGS=')
    second = apply_block(first.text, block(HOSTILE), insert_after='^JVM_SUPPORT_RECOMMENDED_ARGS=')
    assert first.changed and not second.changed and second.text == first.text
    # The regex only places a new block: an existing one stays where it is.
    third = apply_block(first.text, block(HOSTILE), insert_after='^JVM_CODE_CACHE_ARGS=')
    assert not third.changed


def test_duplicates_collapse_into_the_first():
    text = 'A=1\n' + block('one') + 'B=2\n' + block('two') + 'C=3\n' + block('three')
    result = apply_block(text, block())
    assert result.text == 'A=1\n' + block() + 'B=2\n' + 'C=3\n'
    assert result.text.count(MARKER_BEGIN) == 1
    assert not apply_block(result.text, block()).changed
    # Two identical copies are not "unchanged": the second one goes.
    assert apply_block(block() + block(), block()).text == block()


@pytest.mark.parametrize('text, line', [
    (f'A=1\n{MARKER_BEGIN}\nX=1\n', 2),
    (f'A=1\n{MARKER_END}\n', 2),
    (f'{MARKER_BEGIN}\n{MARKER_BEGIN}\nX\n{MARKER_END}\n', 2),
])
def test_a_marker_without_its_partner_is_refused(text, line):
    with pytest.raises(JvmOptionsError, match=f'line {line}: .*repair the file by hand'):
        apply_block(text, block())


def test_invalid_regex_is_refused():
    with pytest.raises(JvmOptionsError, match='not a valid Python regular expression'):
        apply_block(SETENV, block(), insert_after='^JVM_(')


# --- escaping ----------------------------------------------------------------------------------

def test_shell_double_quote():
    assert shell_double_quote(HOSTILE) == 'p\\"a\\$b\\`c\\\\d\'e'
    assert shell_double_quote('plain-/path.p12') == 'plain-/path.p12'


@pytest.mark.parametrize('shell', SHELLS)
def test_hostile_values_reach_the_jvm_intact_through_both_parses(shell, tmp_path):
    """The assignment and catalina.sh's eval: every hostile value arrives as one word, nothing runs."""
    marker = tmp_path / 'ran'
    path = f'/opt/my "apps"/$HOME/`id`/it\'s/$(touch {marker})/store\\.p12'
    password = HOSTILE + f' $(touch {marker}) -Dinjected=1 *'
    setenv = tmp_path / 'setenv.sh'
    setenv.write_bytes(apply_block(SETENV, block(password, path=path),
                                   insert_after='^JVM_SUPPORT_RECOMMENDED_ARGS=').text.encode())
    check = subprocess.run([shell, '-n', str(setenv)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    assert jvm_words(shell, setenv) == [f'-Djavax.net.ssl.trustStore={path}',
                                        f'-Djavax.net.ssl.trustStorePassword={password}',
                                        '-Djavax.net.ssl.trustStoreType=PKCS12']
    assert not marker.exists()


@pytest.mark.parametrize('shell', SHELLS[:1])
@hsettings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(password=st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\n\r\0'),
                        min_size=1, max_size=40))
def test_any_password_round_trips(shell, tmp_path_factory, password):
    setenv = tmp_path_factory.mktemp('sh') / 'setenv.sh'
    setenv.write_bytes(apply_block('', block(password)).text.encode())
    assert jvm_words(shell, setenv)[1] == '-Djavax.net.ssl.trustStorePassword=' + password


@pytest.mark.parametrize('value', ['Plain.Pass_word-1+2=3@4%5/6:7,8', 'changeit-123', STORE, 'caf\u00e9!#~^'])
def test_plain_values_are_written_as_they_are(value):
    """Hosts the role or an older module configured with plain values see the same bytes."""
    assert eval_quote(value) == block_value(value) == value
    assert f'trustStorePassword={value} -D' in block(value)


def test_quoted_forms():
    assert eval_quote("it's") == "'it'\\''s'"
    assert block_value('pw$(x)') == "'pw\\$(x)'"
    assert block_value('a"b\\c`d') == "'a\\\"b\\\\c\\`d'"
    assert set(secret_forms(HOSTILE)) == {shell_double_quote(HOSTILE), eval_quote(HOSTILE), block_value(HOSTILE)}
    assert secret_forms('plain-pw') == []


@pytest.mark.parametrize('variable', ['MY_JVM_ARGS', 'JVM_EXTRA_ARGS'])
def test_a_variable_catalina_is_not_known_to_evaluate_takes_only_plain_values(variable):
    assert 'trustStorePassword=plain-pw ' in block('plain-pw', variable=variable)
    with pytest.raises(JvmOptionsError, match=f'store_password contains whitespace.*jvm_options_variable {variable}') as info:
        block('Secret pw', variable=variable)
    assert 'Secret' not in str(info.value) and 'nothing was written' in str(info.value)
    with pytest.raises(JvmOptionsError, match="path '/opt/a b.p12' contains whitespace"):
        block(path='/opt/a b.p12', variable=variable)


@pytest.mark.parametrize('file', ['/opt/bitbucket/bin/_start-webapp.sh', '/etc/default/tomcat10', 'setenv.bash'])
def test_a_file_catalina_does_not_source_takes_only_plain_values(file):
    plain = render_block(variable=VAR, store_path=STORE, store_password='plain-pw', store_type='jks', file=file)
    assert 'trustStorePassword=plain-pw ' in plain
    with pytest.raises(JvmOptionsError, match=f'jvm_options_file {file} is not a setenv.sh'):
        render_block(variable=VAR, store_path=STORE, store_password='pw$x', store_type='jks', file=file)
    quoted = render_block(variable=VAR, store_path=STORE, store_password='pw$x', store_type='jks',
                          file='/opt/jira/bin/setenv.sh')
    assert "'pw\\$x'" in quoted


@pytest.mark.parametrize('bad', ['a\nb', 'a\rb', 'a\0b', '\n'])
def test_line_breaks_and_nul_in_the_password_are_refused_without_echoing_it(bad):
    password = 'Secret-' + bad + '-Tail'
    with pytest.raises(JvmOptionsError) as info:
        block(password)
    assert 'store_password' in str(info.value) and 'nothing was written' in str(info.value)
    assert 'Secret' not in str(info.value) and 'Tail' not in str(info.value)


def test_line_break_in_the_path_is_refused():
    with pytest.raises(JvmOptionsError, match='path .*line break or NUL'):
        block(path='/opt/a\nb.p12')


@pytest.mark.parametrize('variable', ['', '1ARGS', 'JVM-ARGS', 'A B', 'X;rm', 'A$', 'JVM_ARGS\n', None])
def test_variable_must_be_a_shell_identifier(variable):
    with pytest.raises(JvmOptionsError, match='not a shell variable name'):
        block(variable=variable)


@pytest.mark.parametrize('variable', ['CATALINA_OPTS', '_X', 'jvm_args2'])
def test_shell_identifiers_are_accepted(variable):
    assert f'\n{variable}="${{{variable}}} -D' in block(variable=variable)


# --- redaction ---------------------------------------------------------------------------------

def test_redaction_hides_current_old_and_foreign_passwords():
    role_old = role_block(VAR, STORE, 'old pass"word with spaces', 'JKS')[1]
    text = ('JVM_SUPPORT_RECOMMENDED_ARGS="-Djavax.net.ssl.trustStorePassword=Foreign\\"Pw -Dx=1"\n'
            f'{MARKER_BEGIN}\n{role_old}\n{MARKER_END}\n# mention of {HOSTILE} in a comment\n')
    before = redact_block_text(text, secrets=[HOSTILE], placeholder='********')
    assert 'old pass' not in before and 'with spaces' not in before and 'Foreign' not in before
    assert HOSTILE not in before
    assert '-Djavax.net.ssl.trustStorePassword=******** -Djavax.net.ssl.trustStoreType=JKS"' in before
    after = apply_block(text, block(HOSTILE)).text
    shown = redact_block_text(after, secrets=[HOSTILE], placeholder='********')
    assert all(form not in shown for form in [HOSTILE, *secret_forms(HOSTILE)])
    assert 'trustStorePassword=******** -Djavax.net.ssl.trustStoreType=PKCS12"\n' in shown
    assert shown.count('\n') == after.count('\n')


def test_eval_unsafe():
    assert not eval_unsafe('Plain.Pass_word-1+2=3@4%5/6:7,8')
    for char in ' "\'\\$`;&|<>(){}*?[]\t\x1b\x7f':
        assert eval_unsafe('a' + char + 'b'), char
