# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""A JNDI mail ``<Resource>`` in a Tomcat ``server.xml`` or context file, edited by text span.

The stdlib XML parser decides whether the file is well-formed and what each attribute means;
a small tokenizer that understands comments, CDATA, processing instructions, the DOCTYPE and
quoted attribute values (which may contain ``>``) finds where each tag starts and ends. Edits
are made on those spans only, so comments, attribute order, indentation and line endings
elsewhere in the file stay byte for byte. An existing Resource is edited attribute by
attribute: unchanged attributes keep their quoting and layout, changed values are replaced in
place, new attributes go after the last one in the layout the element already uses.
"""

from __future__ import annotations

import re
import typing as t
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    format_from_header,
    javamail_properties,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED, is_secret_name, redact_text

__all__ = [
    'TomcatError',
    'ResourceResult',
    'resource_attributes',
    'apply_resource',
    'manual_steps',
    'xml_attr_escape',
    'redact_xml',
    'new_context_file',
    'read_resources',
]

PLACEHOLDER = REDACTED
# Attributes Tomcat itself reads from a <Resource>; everything else becomes a session property.
_TOMCAT_RESOURCE_ATTRS = ('name', 'auth', 'type', 'description', 'scope', 'singleton', 'factory', 'closeMethod')


class TomcatError(MailwrightError, ValueError):
    """A file we refuse to edit; the message says where and why (a ValueError too, as callers expect)."""

    kind = 'invalid'


# --- escaping ---------------------------------------------------------------------------------

def xml_attr_escape(value: str) -> str:
    """Escape for a double-quoted attribute value. CR, LF and TAB become character references:
    a literal one would be normalised to a space by every XML parser."""
    return (value.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;')
            .replace('\r', '&#13;').replace('\n', '&#10;').replace('\t', '&#9;'))


# A name followed by `=`: where an attribute (or something a broken file meant as one) starts.
_ATTR_START = re.compile(r'(?<![^\s/>=<"\'])([^\s/>=<"\']+)\s*=\s*')
# A tag with its attributes, tolerant of anything up to the next unquoted `>`.
_TAG = re.compile(r'<([^\s/>!?<]+)((?:[^<>"\']|"[^"]*"|\'[^\']*\')*)(>?)')
_ELEMENT_TEXT = re.compile(r'<([^\s/>!?<]+)(?:\s(?:[^<>"\']|"[^"]*"|\'[^\']*\')*)?>([^<]*)')


def _value_end(text: str, start: int) -> int:
    """Where a value starting at `start` ends: its closing quote, or, unquoted (a file that is
    not XML), the next blank, `>` or `/>`. An unclosed quote runs to the end of the text."""
    quote = text[start:start + 1]
    if quote in ('"', "'"):
        close = text.find(quote, start + 1)
        return len(text) if close < 0 else close + 1
    match = re.compile(r'(?:[^\s>/]|/(?!>))*').match(text, start)
    return match.end() if match else start


def _secret_spans(text: str) -> list[tuple[int, int]]:
    """Spans of every value held under a secret-looking name, found without parsing: an
    attribute `password="..."` anywhere (comments included), the `value` of an element whose
    `name` is secret-looking (`<Parameter name="x.password" value="..."/>`) and the text of
    an element named like a secret (`<password>...</password>`). Every occurrence of a name is
    tried on its own, so a value that swallowed the next attribute cannot hide it."""
    spans: list[tuple[int, int]] = []

    def add(value_start: int) -> None:
        end = _value_end(text, value_start)
        quote = text[value_start:value_start + 1]
        if quote in ('"', "'"):
            # keep the quotes so the line still reads as an attribute
            spans.append((value_start + 1, end - 1 if end - 1 > value_start and text[end - 1] == quote else end))
        elif end > value_start:
            spans.append((value_start, end))

    pos = 0
    while True:
        match = _ATTR_START.search(text, pos)
        if not match:
            break
        if is_secret_name(match.group(1).rpartition(':')[2]):
            add(match.end())
        pos = match.end()  # the value is not consumed: a name inside it is tried too
    for tag in _TAG.finditer(text):
        body, offset = tag.group(2), tag.start(2)
        attrs = {m.group(1).lower(): offset + m.end() for m in _ATTR_START.finditer(body)}
        named = [attrs[k] for k in ('name', 'key') if k in attrs]
        for value_start in named:
            value = text[value_start:_value_end(text, value_start)].strip('"\'')
            if is_secret_name(_xml_unescape(value)) and 'value' in attrs:
                add(attrs['value'])
    for element in _ELEMENT_TEXT.finditer(text):
        if is_secret_name(element.group(1).rpartition(':')[2]) and element.group(2).strip():
            spans.append((element.start(2), element.end(2)))
    return spans


def _xml_unescape(value: str) -> str:
    try:
        return ET.fromstring(f'<a v="{value}"/>').attrib['v']
    except ET.ParseError:
        return value


def redact_xml(text: str, secrets: t.Iterable[str]) -> str:
    """`text` fit for a diff: every value under a secret-looking attribute or element, whatever it
    is (an old password the settings never knew, escaped or quoted any way, in a file that does
    not even parse), and every given secret as an attribute value or element text."""
    spans = sorted(_secret_spans(text))
    out: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue  # inside a span already hidden
        start = max(start, pos)
        out.append(text[pos:start])
        out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    # as an attribute value, and as element text (only & and < need escaping there)
    return redact_text(''.join(out), secrets,
                       forms=(xml_attr_escape, lambda s: s.replace('&', '&amp;').replace('<', '&lt;')))


# --- tokenizer --------------------------------------------------------------------------------

@dataclass
class _Attr:
    name: str
    start: int          # first character of the name
    end: int            # after the closing quote
    value_start: int    # after the opening quote
    value_end: int      # at the closing quote
    ws_start: int       # start of the whitespace before the name


@dataclass
class _Tag:
    name: str
    start: int
    end: int
    attrs: list[_Attr] = field(default_factory=list)
    self_closing: bool = False
    name_end: int = 0


@dataclass
class _Element:
    tag: _Tag
    end_tag: _Tag | None = None
    parent: '_Element | None' = None
    children: list['_Element'] = field(default_factory=list)
    attrib: dict[str, str] = field(default_factory=dict)   # decoded by the stdlib parser

    @property
    def local(self) -> str:
        return self.tag.name.rpartition(':')[2]

    @property
    def start(self) -> int:
        return self.tag.start

    @property
    def end(self) -> int:
        return (self.end_tag or self.tag).end


_NAME = re.compile(r'[^\s/>=<"\']+')
_SPACE = re.compile(r'\s*')


def _skip_space(text: str, index: int) -> int:
    """The index after the blanks at `index`."""
    match = _SPACE.match(text, index)
    return match.end() if match else index  # \s* always matches, if only the empty string


class _Tokenizer:
    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path

    def line(self, pos: int) -> int:
        return self.text.count('\n', 0, pos) + 1

    def fail(self, pos: int, message: str) -> t.NoReturn:
        raise TomcatError(f'{self.path}:{self.line(pos)}: {message}')

    def _skip_to(self, pos: int, token: str, what: str) -> int:
        found = self.text.find(token, pos)
        if found < 0:
            self.fail(pos, f'unterminated {what}')
        return found + len(token)

    def _declaration(self, pos: int) -> int:
        """Skip <!DOCTYPE ...> with an optional [internal subset] and quoted literals."""
        text = self.text
        depth = 0
        index = pos + 2
        while index < len(text):
            char = text[index]
            if char in '"\'':
                index = self._skip_to(index + 1, char, 'literal in declaration')
                continue
            if text.startswith('<!--', index):
                index = self._skip_to(index + 4, '-->', 'comment')
                continue
            if char == '[':
                depth += 1
            elif char == ']':
                depth -= 1
            elif char == '>' and depth <= 0:
                return index + 1
            index += 1
        self.fail(pos, 'unterminated declaration')

    def _start_tag(self, pos: int) -> _Tag:
        text = self.text
        match = _NAME.match(text, pos + 1)
        if not match:
            self.fail(pos, 'a tag without a name')
        tag = _Tag(match.group(0), pos, -1, name_end=match.end())
        index = match.end()
        while True:
            ws_start = index
            index = _skip_space(text, index)
            if text.startswith('/>', index):
                tag.self_closing = True
                tag.end = index + 2
                return tag
            if text.startswith('>', index):
                tag.end = index + 1
                return tag
            match = _NAME.match(text, index)
            if not match or index == ws_start:
                self.fail(index, f'unexpected character in <{tag.name}>')
            name_start = index
            index = _skip_space(text, match.end())
            if not text.startswith('=', index):
                self.fail(index, f'attribute {match.group(0)} of <{tag.name}> has no value')
            index = _skip_space(text, index + 1)
            quote = text[index:index + 1]
            if quote not in ('"', "'"):
                self.fail(index, f'attribute {match.group(0)} of <{tag.name}> is not quoted')
            close = text.find(quote, index + 1)
            if close < 0:
                self.fail(index, f'unterminated value of attribute {match.group(0)}')
            tag.attrs.append(_Attr(match.group(0), name_start, close + 1, index + 1, close, ws_start))
            index = close + 1

    def elements(self) -> list[_Element]:
        """All elements in document order (start-tag order), linked into a tree."""
        text = self.text
        ordered: list[_Element] = []
        stack: list[_Element] = []
        pos = 0
        while True:
            pos = text.find('<', pos)
            if pos < 0:
                break
            if text.startswith('<!--', pos):
                pos = self._skip_to(pos + 4, '-->', 'comment')
            elif text.startswith('<![CDATA[', pos):
                pos = self._skip_to(pos + 9, ']]>', 'CDATA section')
            elif text.startswith('<?', pos):
                pos = self._skip_to(pos + 2, '?>', 'processing instruction')
            elif text.startswith('<!', pos):
                pos = self._declaration(pos)
            elif text.startswith('</', pos):
                match = _NAME.match(text, pos + 2)
                close = text.find('>', pos)
                if not match or close < 0:
                    self.fail(pos, 'malformed end tag')
                if not stack or stack[-1].tag.name != match.group(0):
                    self.fail(pos, f'unexpected </{match.group(0)}>')
                stack.pop().end_tag = _Tag(match.group(0), pos, close + 1)
                pos = close + 1
            else:
                tag = self._start_tag(pos)
                element = _Element(tag, parent=stack[-1] if stack else None)
                if stack:
                    stack[-1].children.append(element)
                ordered.append(element)
                if not tag.self_closing:
                    stack.append(element)
                pos = tag.end
        if stack:
            self.fail(stack[-1].start, f'<{stack[-1].tag.name}> is never closed')
        return ordered


# --- document ---------------------------------------------------------------------------------

_ENCODING = re.compile(rb'^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["\']([A-Za-z0-9._-]+)["\']')


def _encoding(data: bytes) -> str:
    match = _ENCODING.match(data)
    return match.group(1).decode('ascii') if match else 'utf-8'


def _parse(data: bytes, path: str) -> tuple[str, str, list[_Element]]:
    """Decode, check well-formedness with the stdlib, and tokenize. Returns (text, encoding, elements)."""
    parser = ET.XMLParser()
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, column = getattr(exc, 'position', (0, 0))
        reason = str(exc).split(':', maxsplit=1)[0]
        raise TomcatError(f'{path}:{line}: not well-formed XML ({reason}, column {column + 1}); '
                          'fix the file first, nothing was changed') from None
    encoding = _encoding(data)
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise TomcatError(f'{path}: cannot decode the file as {encoding}: {exc}') from None
    elements = _Tokenizer(text, path).elements()
    stdlib = list(root.iter())
    if len(stdlib) != len(elements) or any(
            e.local != s.tag.rpartition('}')[2] for e, s in zip(elements, stdlib)):
        raise TomcatError(f'{path}: the file uses XML constructs this editor does not handle '
                          '(elements from entity references?); nothing was changed')
    for element, parsed in zip(elements, stdlib):
        element.attrib = {k.rpartition('}')[2]: v for k, v in parsed.attrib.items()}
    return text, encoding, elements


def _line_start(text: str, pos: int) -> int:
    return text.rfind('\n', 0, pos) + 1


def _indent_of(text: str, pos: int) -> str | None:
    """The whitespace before pos on its line, or None when something else precedes it."""
    prefix = text[_line_start(text, pos):pos]
    return prefix if prefix.strip() == '' else None


def _newline(text: str) -> str:
    crlf = text.count('\r\n')
    return '\r\n' if crlf and crlf >= text.count('\n') - crlf else '\n'


def _norm_path(path: str) -> str:
    return '' if path.strip('/') == '' else '/' + path.strip('/')


def _describe(element: _Element) -> str:
    bits = [f'{k}="{element.attrib[k]}"' for k in ('path', 'docBase') if k in element.attrib]
    return '<Context ' + ' '.join(bits) + '>' if bits else '<Context>'


def _find_context(elements: list[_Element], text: str, path: str, *, context_path: str | None,
                  doc_base: str | None) -> _Element:
    def matches(element: _Element) -> bool:
        if context_path is not None and 'path' in element.attrib \
                and _norm_path(element.attrib['path']) != _norm_path(context_path):
            return False
        if doc_base is not None and 'docBase' in element.attrib \
                and element.attrib['docBase'].rstrip('/') != doc_base.rstrip('/'):
            return False
        return True

    root = elements[0]
    if root.local == 'Context':
        if not matches(root):
            raise TomcatError(f'{path}: the file is a context file whose {_describe(root)} does not match '
                              f'context_path={context_path!r} doc_base={doc_base!r}; nothing was changed')
        return root
    contexts = [e for e in elements if e.local == 'Context']
    if not contexts:
        raise TomcatError(f'{path}: no <Context> element found (root is <{root.tag.name}>); add the '
                          "application's <Context> inside its <Host> first, or point path at the context "
                          'file (conf/Catalina/localhost/<app>.xml); nothing was changed')

    def selected(element: _Element) -> bool:
        if context_path is not None and _norm_path(element.attrib.get('path', '\0')) != _norm_path(context_path):
            return False
        if doc_base is not None and element.attrib.get('docBase', '\0').rstrip('/') != doc_base.rstrip('/'):
            return False
        return True

    chosen = [c for c in contexts if selected(c)]
    listing = ', '.join(f'{_describe(c)} (line {text.count(chr(10), 0, c.start) + 1})' for c in contexts)
    if not chosen:
        raise TomcatError(f'{path}: no <Context> matches context_path={context_path!r} doc_base={doc_base!r}; '
                          f'found: {listing}; nothing was changed')
    if len(chosen) > 1:
        raise TomcatError(f'{path}: {len(chosen)} <Context> elements match; choose one with context_path or '
                          f'doc_base; found: {listing}; nothing was changed')
    return chosen[0]


def read_resources(data: bytes, path: str, *, context_path: str | None = None,
                   doc_base: str | None = None) -> tuple[str, list[dict[str, t.Any]], list[str]]:
    """What render would compare against, read with render's own parser: (the selected context,
    every <Resource> in it as {name, line, attrib}, and every Context of the file described)."""
    text, _encoding_name, elements = _parse(data, path)
    context = _find_context(elements, text, path, context_path=context_path, doc_base=doc_base)
    resources = [{'name': child.attrib.get('name'), 'line': text.count('\n', 0, child.start) + 1,
                  'attrib': dict(child.attrib)} for child in context.children if child.local == 'Resource']
    contexts = [_describe(e) for e in elements if e.local == 'Context']
    return _describe(context), resources, contexts


# --- rendering --------------------------------------------------------------------------------

def resource_attributes(effective: dict[str, t.Any], *, extra: dict[str, t.Any] | None = None,
                        notes: list[str] | None = None) -> dict[str, str]:
    """The attributes of the <Resource> for the effective settings, in their stable order."""
    jndi = effective['server'].get('jndi')
    if not jndi:
        if effective['product'] in ('bitbucket', 'ghes'):
            raise TomcatError(f"{effective['product']} has no JNDI mail session; use mail_properties or the "
                              'product API module instead')
        raise TomcatError('the settings have no server.jndi: set server.jndi.name (e.g. mail/Session) and '
                          'server.jndi.session_type (jakarta.mail.Session on Tomcat 10+, javax.mail.Session '
                          'on Tomcat 9 and earlier)')
    if effective['auth']['method'] == 'oauth2':
        from ansible_collections.mailwright.smtp.plugins.module_utils._render.oauth2 import refusal

        raise TomcatError(refusal(effective, 'a JNDI mail Resource (OAuth 2.0 cannot be expressed in it)'))
    attrs: dict[str, str] = {'name': jndi['name'], 'auth': 'Container', 'type': jndi['session_type']}
    password = effective['auth'].get('password')
    for key, value in javamail_properties(effective, notes=notes).items():
        attrs[key] = value
        # Tomcat's MailSessionFactory takes `password` out of the properties and logs in with it
        # as mail.smtp.user (or mail.user) through an Authenticator.
        if key == 'mail.smtp.user' and password is not None:
            attrs['password'] = password
    for key, value in (extra or {}).items():
        if key in ('name', 'auth', 'type', 'password') or key in attrs:
            raise TomcatError(f'extra attribute {key!r} would override a value derived from the settings; '
                              'set it through the settings instead')
        attrs[key] = 'true' if value is True else 'false' if value is False else str(value)
    return attrs


def _render_element(attrs: dict[str, str], indent: str, newline: str) -> str:
    lead = '<Resource '
    pad = newline + indent + ' ' * len(lead)
    items = [f'{k}="{xml_attr_escape(v)}"' for k, v in attrs.items()]
    return lead + pad.join(items) + '/>'


def new_context_file(attrs: dict[str, str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Context>\n  '
            + _render_element(attrs, '  ', '\n') + '\n</Context>\n')


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def _apply_edits(text: str, edits: list[_Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[:edit.start] + edit.text + text[edit.end:]
    return text


def _whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines when nothing else shares them."""
    indent = _indent_of(text, start)
    rest = re.compile(r'[ \t]*(\r\n|\r|\n)').match(text, end)
    if indent is not None and rest:
        return _line_start(text, start), rest.end()
    return start, end


def _update_tag(text: str, element: _Element, wanted: dict[str, str], newline: str) -> list[_Edit]:
    tag = element.tag
    edits: list[_Edit] = []
    present = {a.name: a for a in tag.attrs}
    for attr in tag.attrs:
        if attr.name not in wanted:
            edits.append(_Edit(attr.ws_start, attr.end, ''))
        elif element.attrib.get(attr.name) != wanted[attr.name]:
            quote = text[attr.value_start - 1]
            value = xml_attr_escape(wanted[attr.name])
            if quote == "'":
                value = value.replace('&quot;', '"').replace("'", '&apos;')
            edits.append(_Edit(attr.value_start, attr.value_end, value))
    added = [k for k in wanted if k not in present]
    if added:
        kept = [a for a in tag.attrs if a.name in wanted]
        anchor = kept[-1] if kept else None
        position = anchor.end if anchor else tag.name_end
        separators = [text[a.ws_start:a.start] for a in tag.attrs]
        if anchor is not None and any('\n' in s for s in separators):
            sep = text[anchor.ws_start:anchor.start]
            if '\n' not in sep:
                sep = next(s for s in reversed(separators) if '\n' in s)
        else:
            sep = ' '
        sep = sep.replace('\r\n', '\n').replace('\n', newline)
        edits.append(_Edit(position, position, ''.join(f'{sep}{k}="{xml_attr_escape(wanted[k])}"' for k in added)))
    return edits


def _child_indent(text: str, context: _Element) -> tuple[str, str]:
    ctx_indent = _indent_of(text, context.start) or ''
    for child in context.children:
        indent = _indent_of(text, child.start)
        if indent is not None:
            return ctx_indent, indent
    parent_indent = _indent_of(text, context.parent.start) if context.parent else None
    unit = '  '
    if parent_indent is not None and ctx_indent.startswith(parent_indent) and len(ctx_indent) > len(parent_indent):
        unit = ctx_indent[len(parent_indent):]
    elif '\t' in ctx_indent:
        unit = '\t'
    return ctx_indent, ctx_indent + unit


def _insert(text: str, context: _Element, attrs: dict[str, str], newline: str) -> list[_Edit]:
    ctx_indent, indent = _child_indent(text, context)
    element = _render_element(attrs, indent, newline)
    if context.end_tag is None:  # <Context .../>: open it up
        tag = context.tag
        close = tag.end - 2
        while close > tag.name_end and text[close - 1] in ' \t':
            close -= 1
        return [_Edit(close, tag.end, f'>{newline}{indent}{element}{newline}{ctx_indent}</{tag.name}>')]
    end = context.end_tag.start
    if _indent_of(text, end) is not None and _line_start(text, end) > context.tag.end:
        start = _line_start(text, end)
        return [_Edit(start, start, f'{indent}{element}{newline}')]
    return [_Edit(end, end, f'{newline}{indent}{element}{newline}{ctx_indent}')]


@dataclass
class ResourceResult:
    changed: bool
    action: str               # added | updated | removed | unchanged | absent
    before: str
    after: str
    context: str
    line: int | None
    content: bytes | None     # the new file content when changed
    context_file: bool = True  # the root element is the Context (not a server.xml)


def apply_resource(data: bytes | None, path: str, *, state: str, attrs: dict[str, str] | None = None,
                   resource_name: str | None = None, context_path: str | None = None,
                   doc_base: str | None = None) -> ResourceResult:
    """Add, update or remove the <Resource name=...> in the selected Context. Pure: no I/O.

    `data` None means the file does not exist: state present creates a context file.
    """
    name = (attrs or {}).get('name') or resource_name
    if not name:
        raise TomcatError('no Resource name given')
    if data is None:
        if state == 'absent':
            return ResourceResult(False, 'absent', '', '', '', None, None)
        text = new_context_file(attrs or {})
        content = text.encode('utf-8')
        _verify(content, text, path, name, attrs or {}, state=state, context_path=None, doc_base=None)
        return ResourceResult(True, 'added', '', text, '<Context>', 3, content)
    text, encoding, elements = _parse(data, path)
    context_file = elements[0].local == 'Context'
    context = _find_context(elements, text, path, context_path=context_path, doc_base=doc_base)
    where = _describe(context)
    found = [c for c in context.children if c.local == 'Resource' and c.attrib.get('name') == name]
    newline = _newline(text)
    edits: list[_Edit] = []
    if state == 'absent':
        if not found:
            return ResourceResult(False, 'absent', text, text, where, None, None, context_file)
        action = 'removed'
        for element in found:
            start, end = _whole_lines(text, element.start, element.end)
            edits.append(_Edit(start, end, ''))
        line = text.count('\n', 0, found[0].start) + 1
    else:
        if attrs is None:
            raise ValueError('attributes are required to add or update a Resource')
        if found:
            first = found[0]
            line = text.count('\n', 0, first.start) + 1
            if first.attrib == attrs and len(found) == 1:
                return ResourceResult(False, 'unchanged', text, text, where, line, None, context_file)
            action = 'updated'
            edits.extend(_update_tag(text, first, attrs, newline))
            for element in found[1:]:
                start, end = _whole_lines(text, element.start, element.end)
                edits.append(_Edit(start, end, ''))
        else:
            action = 'added'
            edits.extend(_insert(text, context, attrs, newline))
            line = None
    after = _apply_edits(text, edits)
    if line is None:
        marker = after.find(f'<Resource name="{xml_attr_escape(name)}"')
        line = after.count('\n', 0, marker) + 1 if marker >= 0 else None
    content = after.encode(encoding, errors='xmlcharrefreplace')
    _verify(content, after, path, name, attrs, state=state, context_path=context_path, doc_base=doc_base)
    return ResourceResult(after != text, action, text, after, where, line, content, context_file)


def _verify(content: bytes, text: str, path: str, name: str, attrs: dict[str, str] | None, *, state: str,
            context_path: str | None, doc_base: str | None) -> None:
    """Whatever we write must still parse, and must say what we meant: new files included."""
    try:
        check = _parse(content, path)[2]
    except TomcatError:
        raise TomcatError(f'{path}: internal check failed: the rendered Resource would not parse '
                          '(a value holds a character XML cannot carry); nothing was changed') from None
    check_ctx = _find_context(check, text, path, context_path=context_path, doc_base=doc_base)
    now = [c for c in check_ctx.children if c.local == 'Resource' and c.attrib.get('name') == name]
    if (state == 'absent' and now) or (state == 'present' and (len(now) != 1 or now[0].attrib != attrs)):
        raise TomcatError(f'{path}: internal check failed: the edited file does not hold the intended '
                          'Resource; nothing was changed')


# --- what only a person can do ----------------------------------------------------------------

def manual_steps(effective: dict[str, t.Any], *, path: str, is_context_file: bool) -> list[str]:
    product = effective['product']
    server = effective['server']
    sender = effective['sender']
    jndi = (server.get('jndi') or {}).get('name', 'mail/Session')
    location = f'java:comp/env/{jndi}'
    steps: list[str] = []
    if is_context_file:
        steps.append(f'Tomcat re-reads {path} when the context is redeployed (autoDeploy) or restarted; '
                     'restart Tomcat if the application does not pick up the new mail session')
    else:
        steps.append(f'Restart Tomcat: {path} is read only at start-up')
    if product == 'jira':
        detail = [f'From address {sender["from_address"]}']
        if sender.get('subject_prefix'):
            detail.append(f'Email prefix {sender["subject_prefix"]}')
        if effective.get('name'):
            detail.append(f'Name {effective["name"]}')
        if effective.get('description'):
            detail.append(f'Description {effective["description"]}')
        steps.append('In Jira: Administration → System → Outgoing Mail → Configure new SMTP mail server: '
                     + ', '.join(detail) + f', and JNDI Location {location}')
    elif product == 'confluence':
        detail = [f'Name {effective.get("name") or "SMTP Server"}', f'From address {sender["from_address"]}']
        if sender.get('from_name'):
            detail.append(f'From name {sender["from_name"]}')
        if sender.get('subject_prefix'):
            detail.append(f'Subject prefix {sender["subject_prefix"]}')
        steps.append('In Confluence: General Configuration → Mail Servers → Add a new SMTP mail server: '
                     + ', '.join(detail) + f', and JNDI Location {location}')
    else:
        steps.append(f'The application looks the mail session up at {location}')
        template = format_from_header(effective)[1]
        if template:
            steps.append(f'The from name {sender["from_name"]!r} uses product variables; mail.from holds the '
                         'plain address')
        if sender.get('subject_prefix'):
            steps.append(f'Subject prefix {sender["subject_prefix"]!r}: a mail session has no property for it; '
                         'the application has to add it to the subject itself')
        kind = 'jakarta' if server['jndi'] and server['jndi']['session_type'].startswith('jakarta') else 'javax'
        steps.append(f'The {kind} mail and activation jars must be in Tomcat\'s lib/ directory, once '
                     '(not also inside the web application); mailwright.smtp.javamail_runtime checks that and moves them')
    return steps
