# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Java ``.properties`` files, edited without disturbing what we do not own.

Two halves:

* a round-trip editor that reads the format exactly as ``java.util.Properties.load`` does
  (comments ``#``/``!``, separators ``=``, ``:`` or whitespace, escapes including ``\\uXXXX``,
  line continuations, leading whitespace) and sets or removes only the keys it is told to,
  keeping every other byte of the file;
* the mapping from effective mail settings to keys for three flavours: plain JavaMail
  (``mail.smtp.*``), Spring Boot (``spring.mail.*``) and Bitbucket's ``bitbucket.properties``.

The file is handled as ISO-8859-1 text: every byte maps to one character and back, so lines we
do not touch come out byte for byte whatever encoding the file really uses. Everything we write
is plain ASCII (other characters as ``\\uXXXX``), which every reader (ISO-8859-1 or UTF-8) decodes
the same way.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core import redact as _redact
from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import is_secret_name
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import JAVAMAIL_KEYS

__all__ = [
    'FLAVOURS',
    'MARKER',
    'PropertiesError',
    'PropertiesFile',
    'Entry',
    'escape_key',
    'escape_value',
    'unescape',
    'format_from_header',
    'IP_LITERAL_WARNING',
    'javamail_properties',
    'flavour_keys',
    'ManagedKeys',
    'apply_properties',
    'managed_keys',
    'PropertiesResult',
    'redact_text',
]

FLAVOURS = ('javamail', 'spring', 'bitbucket')
MARKER = '# Mail settings below are managed by mailwright.smtp (mail_properties).'

_WHITESPACE = ' \t\f'
_SEPARATORS = '=:'
_ESCAPES = {'t': '\t', 'n': '\n', 'r': '\r', 'f': '\f'}
_NEWLINE = re.compile(r'\r\n|\r|\n')


class PropertiesError(MailwrightError, ValueError):
    """A .properties file that java.util.Properties would refuse (with the line number).

    A ValueError too: the settings mapping and the hostile-corpus tests catch it as one.
    """

    kind = 'invalid'

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message if line is None else f'line {line}: {message}')


# --- escaping ---------------------------------------------------------------------------------

def unescape(text: str, *, line: int | None = None) -> str:
    """Decode the backslash escapes of a key or value, as Properties.load does."""
    if '\\' not in text:
        return text
    out: list[str] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        index += 1
        if char != '\\':
            out.append(char)
            continue
        if index >= length:
            break  # a lone trailing backslash is dropped, as Java does
        char = text[index]
        index += 1
        if char == 'u':
            digits = text[index:index + 4]
            if len(digits) < 4 or not all(c in '0123456789abcdefABCDEF' for c in digits):
                raise PropertiesError(f'malformed \\uxxxx escape: \\u{digits}', line)
            out.append(chr(int(digits, 16)))
            index += 4
        else:
            out.append(_ESCAPES.get(char, char))
    # Java builds UTF-16 strings: join surrogate pairs written as two \u escapes.
    return ''.join(out).encode('utf-16-le', 'surrogatepass').decode('utf-16-le', 'surrogatepass') \
        if any('\ud800' <= c <= '\udfff' for c in out) else ''.join(out)


def _escape(text: str, *, is_key: bool) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == ' ':
            out.append('\\ ' if is_key or index == 0 else ' ')
        elif char == '\\':
            out.append('\\\\')
        elif char in '\t\n\r\f':
            out.append('\\' + {'\t': 't', '\n': 'n', '\r': 'r', '\f': 'f'}[char])
        elif char in '=:#!':
            out.append('\\' + char)
        elif 0x20 <= code <= 0x7e:
            out.append(char)
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            out.append('\\u%04X\\u%04X' % (0xD800 + high, 0xDC00 + low))
        else:
            out.append('\\u%04X' % code)
    return ''.join(out)


def escape_key(key: str) -> str:
    return _escape(key, is_key=True)


def escape_value(value: str) -> str:
    """Escape a value so Properties.load returns it unchanged (leading spaces kept, ASCII only)."""
    return _escape(value, is_key=False)


# --- the file model ---------------------------------------------------------------------------

@dataclass
class Entry:
    """One logical line: a key/value pair (key set) or a comment/blank line (key None)."""

    raw: str                  # the exact text, continuation lines and line terminator included
    line: int                 # 1-based number of its first natural line
    key: str | None = None
    value: str | None = None

    @property
    def terminated(self) -> bool:
        return self.raw.endswith(('\n', '\r'))


def _natural_lines(text: str) -> list[str]:
    lines: list[str] = []
    pos = 0
    for match in _NEWLINE.finditer(text):
        lines.append(text[pos:match.end()])
        pos = match.end()
    if pos < len(text):
        lines.append(text[pos:])
    return lines


def _strip_eol(line: str) -> str:
    return line.rstrip('\r\n')


def _continues(content: str) -> bool:
    trailing = len(content) - len(content.rstrip('\\'))
    return trailing % 2 == 1


def _split_key_value(logical: str, line: int) -> tuple[str, str]:
    """Split a logical line (leading whitespace removed) into raw key and raw value."""
    index = 0
    length = len(logical)
    while index < length:
        char = logical[index]
        if char == '\\':
            index += 2
            continue
        if char in _SEPARATORS or char in _WHITESPACE:
            break
        index += 1
    key = logical[:min(index, length)]
    index = min(index, length)
    # whitespace, then at most one '=' or ':', then whitespace
    while index < length and logical[index] in _WHITESPACE:
        index += 1
    if index < length and logical[index] in _SEPARATORS:
        index += 1
        while index < length and logical[index] in _WHITESPACE:
            index += 1
    return unescape(key, line=line), unescape(logical[index:], line=line)


class PropertiesFile:
    """A parsed .properties text that can set and remove keys and render itself back."""

    def __init__(self, text: str = ''):
        self.entries: list[Entry] = []
        lines = _natural_lines(text)
        index = 0
        while index < len(lines):
            first = index
            content = _strip_eol(lines[index]).lstrip(_WHITESPACE)
            if not content or content[0] in '#!':
                self.entries.append(Entry(lines[index], first + 1))
                index += 1
                continue
            if content == '\\' and index + 1 < len(lines):
                # A lone backslash continues nothing: Java reads the next line as a new one
                # (so it may be a comment), while at end of file it is an empty key.
                self.entries.append(Entry(lines[index], first + 1))
                index += 1
                continue
            logical = content
            raw = lines[index]
            index += 1
            at_eof = False
            while _continues(logical):
                logical = logical[:-1]
                if index >= len(lines) or not raw.endswith(('\n', '\r')):
                    at_eof = True
                    break
                nxt = lines[index]
                raw += nxt
                index += 1
                stripped = _strip_eol(nxt).lstrip(_WHITESPACE)
                if not stripped:
                    break  # an empty line after a continuation ends the logical line
                logical += stripped
            if not logical and not at_eof:
                # Java drops a logical line left empty by its continuation (but not at end of file).
                self.entries.append(Entry(raw, first + 1))
                continue
            key, value = _split_key_value(logical, first + 1)
            self.entries.append(Entry(raw, first + 1, key, value))
        self.newline = self._detect_newline(text)

    @staticmethod
    def _detect_newline(text: str) -> str:
        match = _NEWLINE.search(text)
        return match.group(0) if match else '\n'

    # reading
    def as_dict(self) -> dict[str, str]:
        """What java.util.Properties would hold (the last occurrence of a key wins)."""
        return {e.key: e.value for e in self.entries if e.key is not None and e.value is not None}  # set together

    def get(self, key: str) -> str | None:
        return self.as_dict().get(key)

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for entry in self.entries:
            if entry.key is not None:
                seen.setdefault(entry.key, None)
        return list(seen)

    def render(self) -> str:
        return ''.join(e.raw for e in self.entries)

    # editing
    def _line(self, key: str, value: str) -> str:
        return f'{escape_key(key)}={escape_value(value)}{self.newline}'

    def _ensure_terminated(self) -> None:
        """Make sure text appended after the last entry starts on a line of its own."""
        if not self.entries:
            return
        last = self.entries[-1]
        if last.terminated:
            # A continuation backslash on the very last line would swallow our first line.
            if last.key is not None and _continues(_strip_eol(last.raw.splitlines()[-1])):
                self.entries.append(Entry(self.newline, last.line + 1))
            return
        if last.key is not None and _continues(last.raw):
            last.raw += self.newline  # the empty line that follows ends the continuation
        last.raw += self.newline

    def set(self, key: str, value: str, *, marker: str | None = None) -> bool:
        """Set key to value; returns True when the text changed. The first occurrence keeps
        its place, later duplicates go; a new key is appended at the end."""
        matches = [e for e in self.entries if e.key == key]
        if len(matches) == 1 and matches[0].value == value:
            return False
        if matches:
            first = matches[0]
            newline = first.raw[len(first.raw.rstrip('\r\n')):] or ''
            first.raw = self._line(key, value)[:-len(self.newline)] + newline
            first.value = value
            for dup in matches[1:]:
                self.entries.remove(dup)
            return True
        self._ensure_terminated()
        if marker and not any(e.key is None and e.raw.rstrip('\r\n') == marker for e in self.entries):
            self.entries.append(Entry(marker + self.newline, 0))
        self.entries.append(Entry(self._line(key, value), 0, key, value))
        return True

    def remove(self, key: str) -> bool:
        before = len(self.entries)
        self.entries = [e for e in self.entries if e.key != key]
        return len(self.entries) != before

    def remove_marker(self, marker: str) -> bool:
        before = len(self.entries)
        self.entries = [e for e in self.entries if not (e.key is None and e.raw.rstrip('\r\n') == marker)]
        return len(self.entries) != before


# --- from settings to keys --------------------------------------------------------------------

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*\Z")


def format_from_header(effective: dict[str, t.Any]) -> tuple[str, bool]:
    """The value for ``mail.from``: "Name <address>" when the from name is a fixed text,
    else the plain address. Returns (value, template_dropped): True when the name uses
    product variables (${fullname}) that only the product itself can fill in."""
    sender = effective['sender']
    address = sender['from_address']
    name = sender.get('from_name')
    if not name:
        return address, False
    if '${' in name:
        return address, True
    if _ATOM.match(name) and name == name.strip() and '  ' not in name and '.' not in name:
        return f'{name} <{address}>', False
    quoted = name.replace('\\', '\\\\').replace('"', '\\"')
    return f'"{quoted}" <{address}>', False


def _text(value: t.Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


# Measured with the jars Debian ships: JavaMail 1.6.5 (libmail-java) and Jakarta Mail 2.0.0
# (libjakarta-mail-java) both refuse a relay named by its IP address when the host-name check is
# on, even when the certificate carries that address as an IP SAN: their own matcher compares only
# DNS names (the JDK's checker it tries first is out of reach on Java 9+).
IP_LITERAL_WARNING = (
    'server.host %(host)s is an IP address: with mail.smtp.ssl.checkserveridentity=true (always '
    'rendered for TLS) JavaMail 1.6 and Jakarta Mail 2.0 refuse such a relay with "Can\'t verify '
    'identity of server: %(host)s" even when the certificate lists the address; set server.host to '
    'the DNS name in the relay\'s certificate (or use a mail implementation whose host-name check '
    'matches IP addresses, such as Eclipse Angus Mail, which uses the JDK\'s own check); the check '
    'is not switched off')


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip('[]'))
    except ValueError:
        return False
    return True


# JavaMail has no CRAM-MD5; these are the mechanisms its SMTP provider knows.
_MECHANISMS = {'plain': 'PLAIN', 'login': 'LOGIN', 'xoauth2': 'XOAUTH2'}


def javamail_properties(effective: dict[str, t.Any], *, notes: list[str] | None = None) -> dict[str, str]:
    """JavaMail session properties for the effective settings, in a stable order.

    SMTPS is expressed as protocol ``smtp`` plus ``mail.smtp.ssl.enable=true``: Tomcat's mail
    session factory only reads ``mail.smtp.user`` for the password login, and
    ``Transport.send(message)`` picks the transport registered for the address type (rfc822 →
    ``smtp``), so a session set up as protocol ``smtps`` with ``mail.smtps.*`` keys would be
    ignored on that path. ``mail.smtp.ssl.enable`` is read by JavaMail 1.4.3+ (javax) and every
    Jakarta Mail release alike, so the same keys serve both session types.
    """
    notes = notes if notes is not None else []
    server = effective['server']
    auth = effective['auth']
    props: dict[str, str] = {
        'mail.transport.protocol': 'smtp',
        'mail.smtp.host': server['host'],
        'mail.smtp.port': str(server['port']),
    }
    if server['protocol'] == 'smtps':
        props['mail.smtp.ssl.enable'] = 'true'
    if server['protocol'] == 'smtps' or server['tls'] in ('opportunistic', 'required'):
        # JavaMail 1.x and Jakarta Mail 2.0 check the relay's name only when told to (default
        # false): without it any certificate the truststore accepts, for any host, is taken.
        props['mail.smtp.ssl.checkserveridentity'] = 'true'
        if _is_ip_literal(server['host']):
            notes.append(IP_LITERAL_WARNING % {'host': server['host']})
    if server['protocol'] != 'smtps' and server['tls'] in ('opportunistic', 'required'):
        props['mail.smtp.starttls.enable'] = 'true'
        if server['tls'] == 'required':
            props['mail.smtp.starttls.required'] = 'true'
    if auth['method'] in ('basic', 'oauth2'):
        props['mail.smtp.auth'] = 'true'
        props['mail.smtp.user'] = auth['username']
        mechanism = auth.get('mechanism')
        if mechanism in _MECHANISMS:
            props['mail.smtp.auth.mechanisms'] = _MECHANISMS[mechanism]
        elif mechanism:
            notes.append(f"JavaMail has no {mechanism} mechanism; it picks one the server offers")
    timeout = server['timeout_ms']
    if timeout > 0:
        for key in ('connectiontimeout', 'timeout', 'writetimeout'):
            props[f'mail.smtp.{key}'] = str(timeout)
    if server.get('helo_domain'):
        props['mail.smtp.localhost'] = server['helo_domain']
    props['mail.smtp.from'] = effective['sender']['from_address']
    props['mail.from'] = format_from_header(effective)[0]
    jndi = server.get('jndi') or {}
    if jndi.get('debug'):
        props['mail.debug'] = 'true'
    for key, value in (server.get('properties') or {}).items():
        props[key] = _text(value)
    return props


# Every key a flavour may write from settings: state=absent removes these, and keys of this set
# that the current settings no longer produce are removed on state=present.
_JAVAMAIL_KEYS = JAVAMAIL_KEYS  # owned by _settings.model, which refuses them in server.properties
_SPRING_KEYS = ('spring.mail.host', 'spring.mail.port', 'spring.mail.protocol', 'spring.mail.username',
                'spring.mail.password') + tuple(
    'spring.mail.properties.' + k for k in _JAVAMAIL_KEYS
    if k not in ('mail.transport.protocol', 'mail.smtp.host', 'mail.smtp.port', 'mail.smtp.user'))
# bitbucket.properties "Mail" section: connect and send timeouts are in seconds.
_BITBUCKET_KEYS = ('mail.timeout.connect', 'mail.timeout.send')


def flavour_keys(flavour: str) -> tuple[str, ...]:
    return {'javamail': _JAVAMAIL_KEYS, 'spring': _SPRING_KEYS, 'bitbucket': _BITBUCKET_KEYS}[flavour]


@dataclass
class ManagedKeys:
    """What a flavour wants in the file: values to set, and the notes for the user."""

    values: dict[str, str]
    secret_keys: set[str] = field(default_factory=set)
    manual_steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _oauth2_unsupported(effective: dict[str, t.Any]) -> None:
    if effective['auth']['method'] == 'oauth2':
        from ansible_collections.mailwright.smtp.plugins.module_utils._render.oauth2 import refusal

        raise PropertiesError(refusal(effective, 'a properties file (it would need a fresh access token for every '
                                                 'login)') + ' (or use auth.method basic with an app password)')


def managed_keys(effective: dict[str, t.Any], flavour: str) -> ManagedKeys:
    sender = effective['sender']
    server = effective['server']
    steps: list[str] = []
    warnings: list[str] = []
    secret: set[str] = set()
    if flavour == 'javamail':
        _oauth2_unsupported(effective)
        values = javamail_properties(effective, notes=warnings)
        if effective['auth']['method'] == 'basic':
            steps.append('JavaMail reads no password from a properties file: the application must supply '
                         'auth.password itself (Transport.connect or an Authenticator)')
    elif flavour == 'spring':
        _oauth2_unsupported(effective)
        javamail = javamail_properties(effective, notes=warnings)
        values = {'spring.mail.host': javamail.pop('mail.smtp.host'),
                  'spring.mail.port': javamail.pop('mail.smtp.port'),
                  'spring.mail.protocol': javamail.pop('mail.transport.protocol')}
        user = javamail.pop('mail.smtp.user', None)
        if user is not None:
            values['spring.mail.username'] = user
            if effective['auth'].get('password') is not None:
                values['spring.mail.password'] = effective['auth']['password']
                secret.add('spring.mail.password')
        for key, value in javamail.items():
            values['spring.mail.properties.' + key] = value
    elif flavour == 'bitbucket':
        values = {}
        timeout = server['timeout_ms']
        if timeout > 0:
            seconds = str(max(1, -(-timeout // 1000)))  # round up: never shorter than asked
            values['mail.timeout.connect'] = seconds
            values['mail.timeout.send'] = seconds
        else:
            warnings.append('timeout_ms is 0: Bitbucket keeps its own mail timeouts '
                            '(mail.timeout.connect / mail.timeout.send are left out)')
        steps.append('Restart Bitbucket: it reads bitbucket.properties only at start-up')
        steps.append('Set host, port, protocol, STARTTLS, username, password and "Email from" '
                     '(%s) with mailwright.smtp.bitbucket_mail_server or in Bitbucket: '
                     'Administration → Mail server' % sender['from_address'])
        if server.get('properties'):
            warnings.append('server.properties are JavaMail keys; bitbucket.properties has no place for '
                            'them and they are not written')
    else:
        raise PropertiesError(f'unknown flavour {flavour!r}; one of: ' + ', '.join(FLAVOURS))
    if flavour in ('javamail', 'spring'):
        template = format_from_header(effective)[1]
        if template:
            steps.append('The from name %r uses product variables; a JavaMail session can only carry a '
                         'fixed name, so mail.from holds the plain address' % sender['from_name'])
        if sender.get('subject_prefix'):
            steps.append('Subject prefix %r: JavaMail has no property for it; the application has to add '
                         'it to the subject itself' % sender['subject_prefix'])
        steps.append('Restart (or reload) the application so it reads the new properties')
    return ManagedKeys(values, secret, steps, warnings)


@dataclass
class PropertiesResult:
    changed: bool
    before: str
    after: str
    set_keys: list[str]
    removed_keys: list[str]
    managed: ManagedKeys


def apply_properties(text: str, effective: dict[str, t.Any] | None, flavour: str, *,
                     state: str = 'present', extra: dict[str, t.Any] | None = None) -> PropertiesResult:
    """Edit the text of a .properties file; pure function, nothing is read or written."""
    doc = PropertiesFile(text)
    extra = {k: _text(v) for k, v in (extra or {}).items()}
    if state == 'present':
        if effective is None:
            raise PropertiesError('settings are required with state present')
        managed = managed_keys(effective, flavour)
        wanted = dict(managed.values)
        wanted.update(extra)
    else:
        managed = ManagedKeys({}, manual_steps=['Restart (or reload) the application so it reads the new properties'])
        wanted = {}
    set_keys: list[str] = []
    removed: list[str] = []
    for key, value in wanted.items():
        if doc.set(key, value, marker=MARKER):
            set_keys.append(key)
    ours = set(flavour_keys(flavour))
    if state == 'absent':
        ours |= set(extra)
    for key in sorted(ours - set(wanted)):
        if doc.remove(key):
            removed.append(key)
    if state == 'absent' and not any(e.key is not None and e.key in ours for e in doc.entries):
        doc.remove_marker(MARKER)
    after = doc.render()
    return PropertiesResult(after != text, text, after, set_keys, removed, managed)


def _lenient_unescape(raw: str) -> str:
    try:
        return unescape(raw)
    except PropertiesError:  # a malformed \\uXXXX: still decide on the rest of the name
        return re.sub(r'\\(.)', r'\1', raw)


def _value_start(content: str) -> tuple[str, int]:
    """(raw key, where the value starts) in a logical line, split as _split_key_value splits it."""
    index, length = 0, len(content)
    while index < length and not (content[index] in _SEPARATORS or content[index] in _WHITESPACE):
        index += 2 if content[index] == '\\' else 1
    key_end = index = min(index, length)
    while index < length and content[index] in _WHITESPACE:
        index += 1
    if index < length and content[index] in _SEPARATORS:
        index += 1
        while index < length and content[index] in _WHITESPACE:
            index += 1
    return content[:key_end], index


def _redact_secret_entries(text: str, placeholder: str) -> str:
    """Every value under a secret-looking key replaced, whatever the value: continuation lines
    included, in commented-out entries too (``#spring.mail.password=old``). Line by line and
    without PropertiesFile, so a file Java would refuse is redacted all the same."""
    lines = _natural_lines(text)
    out: list[str] = []
    index = 0
    while index < len(lines):
        first = _strip_eol(lines[index])
        content = first.lstrip(_WHITESPACE)
        comment = bool(content) and content[0] in '#!'
        if comment:
            content = content[1:].lstrip(_WHITESPACE + '#!')
        # the logical line, as Properties.load joins it (comments are never continued)
        logical, used, eol = content, 1, lines[index][len(first):]
        while not comment and _continues(logical) and eol and index + used < len(lines):
            logical = logical[:-1]
            nxt = _strip_eol(lines[index + used])
            eol = lines[index + used][len(nxt):]
            used += 1
            if not nxt.lstrip(_WHITESPACE):
                break
            logical += nxt.lstrip(_WHITESPACE)
        if _continues(logical):
            logical = logical[:-1]
        raw_key, start = _value_start(logical)
        key = _lenient_unescape(raw_key)
        # an escaped separator inside the key (`spring.mail.password\\:x`) may hide a secret name
        if not raw_key or not any(is_secret_name(part) for part in (key, *re.split('[:=]', key))):
            # Not a secret: copy this line only, so every line it continues onto is tried as an
            # entry of its own (over-redacting a value that looks like one costs nothing).
            out.append(lines[index])
            index += 1
            continue
        shown = content[:-1] if not comment and _continues(content) else content
        if start <= len(shown):
            prefix = first[:len(first) - len(content) + start]  # key and separator as written
        else:
            prefix = escape_key(key) + '='  # the key itself was continued
        out.append(prefix + placeholder + eol)
        index += used
    return ''.join(out)


def redact_text(text: str, secrets: t.Iterable[str], placeholder: str = _redact.REDACTED) -> str:
    """`text` fit for a diff: the value of every secret-looking key (an old password too, one the
    settings never knew), and each given secret, raw and in its .properties escaped form."""
    text = _redact_secret_entries(text, placeholder)
    return _redact.redact_text(text, secrets, forms=(escape_value,), placeholder=placeholder)
