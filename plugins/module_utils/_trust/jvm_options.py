# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The managed block in a shell file sourced at JVM start (Tomcat/Atlassian ``bin/setenv.sh``)
that points the JVM at the mail truststore.

The block is byte for byte what the mail role wrote with ``ansible.builtin.blockinfile`` (same
markers, one assignment line, ``\\n`` line endings) whenever the values are plain, so hosts
configured by the role see no change.

A value in the block is read twice before it reaches the JVM: once by the double-quoted
assignment in setenv.sh, and again by Tomcat's ``catalina.sh``, which starts the JVM with
``eval exec ... "$JAVA_OPTS" "$CATALINA_OPTS"``. A password such as ``pw$(touch X)x`` would run a
command at start-up, a space would split it, ``x -Dother=1`` would add JVM options. So a value
that is not plain is single-quoted for the eval and that text escaped for the double quotes;
both parses then give back exactly the value. This only holds where we know catalina.sh evaluates
the variable: a file named ``setenv.sh`` (the only file catalina.sh sources) and a variable in
``EVAL_VARIABLES`` (catalina.sh's own, or Atlassian's that their setenv.sh folds into JAVA_OPTS).
Anywhere else (Bitbucket's ``_start-webapp.sh`` expands ``$JAVA_OPTS`` unquoted, without eval)
no quoting survives, and a value that is not plain is refused.

Everything works on text: the caller reads and writes the file. Decode it with
``decode('utf-8', 'surrogateescape')`` and encode it back the same way, and every byte outside
the block survives. Nothing here imports Ansible.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import redact_text

__all__ = [
    'DEFAULT_VARIABLE',
    'MARKER_BEGIN',
    'MARKER_END',
    'JvmOptionsError',
    'BlockResult',
    'shell_double_quote',
    'check_variable',
    'check_value',
    'compile_insert_after',
    'render_block',
    'apply_block',
    'redact_block_text',
    'eval_unsafe',
    'EVAL_VARIABLES',
    'eval_quote',
    'block_value',
    'secret_forms',
    'evaluated_by_catalina',
    'check_shell_safe',
]

DEFAULT_VARIABLE = 'JVM_SUPPORT_RECOMMENDED_ARGS'
# blockinfile's marker "# {mark} mailwright mail truststore (managed by Ansible)", as the role set it.
MARKER_BEGIN = '# BEGIN mailwright mail truststore (managed by Ansible)'
MARKER_END = '# END mailwright mail truststore (managed by Ansible)'

_IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
_PASSWORD_OPTION = '-Djavax.net.ssl.trustStorePassword='
_TYPE_OPTION = ' -Djavax.net.ssl.trustStoreType='
# A password option outside our block: its value runs to the end of the shell word.
_FOREIGN_PASSWORD = re.compile(re.escape(_PASSWORD_OPTION) + r'(?:\\.|[^\s"\'\\])+')
# Characters that Tomcat's catalina.sh re-reads when it passes JAVA_OPTS/CATALINA_OPTS through `eval`
# (and that an unquoted expansion splits or globs); control characters are never plain either.
_EVAL_SPECIAL = re.compile(r'[\s"\'\\$`;&|<>(){}*?\[\]\x00-\x1f\x7f]')
# Variables that reach catalina.sh's eval from setenv.sh: its own two, and the two that Jira's and
# Confluence's setenv.sh fold into JAVA_OPTS (JAVA_OPTS="... ${JVM_REQUIRED_ARGS} ${JVM_SUPPORT_RECOMMENDED_ARGS}").
EVAL_VARIABLES = frozenset({'JAVA_OPTS', 'CATALINA_OPTS', 'JVM_SUPPORT_RECOMMENDED_ARGS', 'JVM_REQUIRED_ARGS'})
# The one file catalina.sh sources ($CATALINA_BASE/bin/setenv.sh, else $CATALINA_HOME/bin/setenv.sh).
CATALINA_SETENV = 'setenv.sh'
_PLAIN_HINT = 'letters, digits and . , _ - + = @ % / : (no whitespace, quotes, $, \\, backtick or ; & | < > ( ) { } * ? [ ])'


class JvmOptionsError(MailwrightError, ValueError):
    """A value or a file we refuse to write; the message never holds the password."""

    kind = 'invalid'


@dataclass(frozen=True)
class BlockResult:
    text: str
    changed: bool
    action: str  # 'unchanged' | 'replace' | 'insert'


def shell_double_quote(value: str) -> str:
    """`value` escaped for the inside of a POSIX double-quoted string: \\ " $ and backtick."""
    return re.sub(r'([\\"$`])', r'\\\1', value)


def eval_quote(value: str) -> str:
    """`value` as one word for a shell `eval`: unchanged when plain, else single-quoted ('\\'' for ')."""
    if not eval_unsafe(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def block_value(value: str) -> str:
    """`value` as written in the block of a setenv.sh read by catalina.sh: quoted for the eval, then
    escaped for setenv.sh's double-quoted assignment. A plain value is written as it is."""
    return shell_double_quote(eval_quote(value))


def secret_forms(value: str) -> list[str]:
    """Every spelling of a secret the block (current or as older versions wrote it) may hold."""
    return [form for form in dict.fromkeys((shell_double_quote(value), eval_quote(value), block_value(value)))
            if form != value]


def evaluated_by_catalina(variable: str, file: str | None = None) -> bool:
    """True when catalina.sh reads `variable` through eval: one of EVAL_VARIABLES, in a file named
    setenv.sh (`file` None: the file is not known here and the variable alone decides)."""
    if variable not in EVAL_VARIABLES:
        return False
    return file is None or os.path.basename(file) == CATALINA_SETENV


def check_shell_safe(value: str, what: str, *, variable: str, file: str | None = None, secret: bool = False) -> None:
    """Refuse a value that is not plain where no quoting is known to survive how the file is read."""
    if not eval_unsafe(value) or evaluated_by_catalina(variable, file):
        return
    shown = '' if secret else f' {value!r}'
    if variable not in EVAL_VARIABLES:
        where = (f'jvm_options_variable {variable} is not one that Tomcat\'s catalina.sh is known to evaluate '
                 f'({", ".join(sorted(EVAL_VARIABLES))})')
    else:
        where = (f'jvm_options_file {file} is not a setenv.sh, the only file catalina.sh sources, so how '
                 f'{variable} is expanded there is unknown (Bitbucket\'s _start-webapp.sh expands it unquoted)')
    raise JvmOptionsError(f'{what}{shown} contains whitespace, a quote or a shell metacharacter, and {where}: '
                          'no quoting is known to bring such a value to the JVM intact. Use a value made of '
                          f'{_PLAIN_HINT}, or a setenv.sh with one of those variables; nothing was written')


def check_variable(name: str) -> None:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise JvmOptionsError(f'jvm_options_variable {name!r} is not a shell variable name '
                              '(letters, digits and _, not starting with a digit); nothing was written')


def check_value(value: str, what: str, *, secret: bool = False) -> None:
    """Refuse a line break or NUL: a shell assignment on one line cannot hold it."""
    if any(char in value for char in '\n\r\0'):
        shown = '' if secret else f' {value!r}'
        raise JvmOptionsError(f'{what}{shown} contains a line break or NUL character, which the one-line '
                              'assignment in the JVM options file cannot hold; nothing was written')


def render_block(*, variable: str, store_path: str, store_password: str, store_type: str,
                 file: str | None = None) -> str:
    """The three lines of the managed block, each ending in \\n.

    Values survive both the assignment and catalina.sh's eval (see the module docstring); `file`,
    when given, must be a setenv.sh for a value that is not plain (see check_shell_safe).
    """
    check_variable(variable)
    check_value(store_path, 'path')
    check_value(store_password, 'store_password', secret=True)
    check_shell_safe(store_path, 'path', variable=variable, file=file)
    check_shell_safe(store_password, 'store_password', variable=variable, file=file, secret=True)
    line = (f'{variable}="${{{variable}}} -Djavax.net.ssl.trustStore={block_value(store_path)} '
            f'{_PASSWORD_OPTION}{block_value(store_password)}'
            f'{_TYPE_OPTION}{store_type.upper()}"')
    return f'{MARKER_BEGIN}\n{line}\n{MARKER_END}\n'


def _lines(text: str) -> list[str]:
    """Lines with their \\n kept; only \\n ends a line, as for sh (and ''.join gives the text back)."""
    parts = text.split('\n')
    lines = [part + '\n' for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _is_marker(line: str, marker: str) -> bool:
    bare = line[:-1] if line.endswith('\n') else line
    return bare == marker or bare == marker + '\r'


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(begin, end) line indexes of every managed block; a marker without its partner is refused."""
    spans: list[tuple[int, int]] = []
    begin: int | None = None
    for index, line in enumerate(lines):
        if _is_marker(line, MARKER_BEGIN):
            if begin is not None:
                raise JvmOptionsError(f'line {index + 1}: a second "{MARKER_BEGIN}" before the END marker of the '
                                      f'block that starts on line {begin + 1}; repair the file by hand '
                                      '(nothing was written)')
            begin = index
        elif _is_marker(line, MARKER_END):
            if begin is None:
                raise JvmOptionsError(f'line {index + 1}: "{MARKER_END}" without a BEGIN marker before it; '
                                      'repair the file by hand (nothing was written)')
            spans.append((begin, index))
            begin = None
    if begin is not None:
        raise JvmOptionsError(f'line {begin + 1}: "{MARKER_BEGIN}" without an END marker after it; repair '
                              'the file by hand (nothing was written)')
    return spans


def compile_insert_after(insert_after: str | None) -> re.Pattern[str] | None:
    """The insert_after regex; None for unset or blockinfile's special value EOF (append)."""
    if insert_after in (None, '', 'EOF'):
        return None
    try:
        return re.compile(insert_after)
    except re.error as exc:
        raise JvmOptionsError(f'jvm_options_insert_after {insert_after!r} is not a valid Python regular '
                              f'expression: {exc}; nothing was written') from None


def _insert_position(text: str, lines: list[str], insert_after: str | None) -> int:
    """Where a new block goes, as blockinfile's insertafter: after the last matching line, else at the end."""
    regex = compile_insert_after(insert_after)
    if regex is None:
        return len(lines)
    if regex.flags & re.MULTILINE:
        # blockinfile searches the whole file for a (?m) pattern and takes its first match.
        match = regex.search(text)
        return len(lines) if match is None else min(text.count('\n', 0, match.end()) + 1, len(lines))
    position = None
    for index, line in enumerate(lines):
        if regex.search(line):
            position = index + 1
    return len(lines) if position is None else position


def apply_block(text: str | None, block: str, *, insert_after: str | None = None) -> BlockResult:
    """`text` (None: no file yet) with exactly one managed block holding `block`.

    An existing block is replaced where it is (later duplicates are dropped); otherwise the block
    goes after the last line matching `insert_after`, or at the end. Other lines are kept as they are.
    """
    if text is None:
        return BlockResult(block, True, 'insert')
    lines = _lines(text)
    spans = _blocks(lines)
    new_lines = _lines(block)
    if spans:
        for begin, end in reversed(spans[1:]):
            del lines[begin:end + 1]
        begin, end = spans[0]
        lines[begin:end + 1] = new_lines
        action = 'replace'
    else:
        position = _insert_position(text, lines, insert_after)
        if position > 0 and not lines[position - 1].endswith('\n'):
            lines[position - 1] += '\n'  # the last line had no line break: ours must start a new line
        lines[position:position] = new_lines
        action = 'insert'
    after = ''.join(lines)
    if after == text:
        return BlockResult(text, False, 'unchanged')
    return BlockResult(after, True, action)


def _redact_block_line(line: str, placeholder: str) -> str:
    """Hide the password in one assignment line of our block, whatever it is (an old password too,
    possibly unescaped as the role wrote it): from the option to the store type option, else to
    the closing quote, else to the end of the line."""
    start = line.find(_PASSWORD_OPTION)
    if start < 0:
        return line
    start += len(_PASSWORD_OPTION)
    end = line.rfind(_TYPE_OPTION, start)
    if end < 0:
        bare = line.rstrip('\r\n')
        end = bare.rfind('"', start)
        if end < 0:
            end = len(bare)
    return line[:start] + placeholder + line[end:]


def redact_block_text(text: str, *, secrets: t.Iterable[str | None] = (), placeholder: str) -> str:
    """`text` fit for a diff: the password of our block (current or old), any other
    trustStorePassword option and every known secret (raw or shell-escaped) replaced by `placeholder`."""
    lines = _lines(text)
    try:
        spans = _blocks(lines)
    except JvmOptionsError:
        spans = []
    inside = {index for begin, end in spans for index in range(begin + 1, end)}
    out = []
    for index, line in enumerate(lines):
        if index in inside:
            line = _redact_block_line(line, placeholder)
        else:
            line = _FOREIGN_PASSWORD.sub(lambda m: _PASSWORD_OPTION + placeholder, line)
        out.append(line)
    return redact_text(''.join(out), secrets, forms=(block_value, eval_quote, shell_double_quote),
                       placeholder=placeholder)


def eval_unsafe(value: str) -> bool:
    """True when `value` is not plain: Tomcat's catalina.sh, which runs the JVM through `eval`, would
    re-interpret it (whitespace, quotes, $, backslash, backtick, ; & | < >, globbing and control characters)."""
    return bool(_EVAL_SPECIAL.search(value))
