# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""From what a format holds back to the settings model: the inverse of each renderer's mapping.

Every reader takes the values render would compare against (JavaMail session properties of a
``<Resource>`` or a properties file, Bitbucket's ``RestMailConfiguration``, GHES's ``smtp`` object)
and returns a `Reading`: the part of a settings document they determine, the secrets found (kept
apart, so the document can be shown), and the JSON paths of what the format cannot carry.

The same readers read what render *would* write (see drift.py), so a value that render writes
lossily (Bitbucket timeouts in whole seconds, GHES's STARTTLS flag) compares equal whenever a
render run would change nothing.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._render.ghes import DISCARD_KEY, readable_password
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import DERIVED_PROPERTIES, REDACTED

__all__ = ['Reading', 'from_javamail', 'from_resource', 'from_spring', 'from_javamail_file', 'from_bitbucket_properties',
           'from_bitbucket_api', 'from_ghes_smtp', 'merge', 'DERIVED_ON_READ']

# Keys a renderer derives from first-class fields without the settings model having a field for
# them (TLS sessions get the host-name check): present or not, they are neither drift nor unknown.
DERIVED_ON_READ = frozenset({'mail.smtp.ssl.checkserveridentity', 'mail.smtps.ssl.checkserveridentity'})
# The documented way to ask JavaMail for TLS from the first byte before mail.smtp.ssl.enable existed
# (Jira's SSL example for port 465).
_SSL_FACTORIES = ('javax.net.ssl.SSLSocketFactory',)
# Attributes Tomcat reads from a <Resource> itself; everything else is a session property.
_TOMCAT_ATTRS = ('name', 'auth', 'type', 'description', 'scope', 'singleton', 'factory', 'closeMethod', 'password')
_MECHANISMS = {'PLAIN': 'plain', 'LOGIN': 'login', 'XOAUTH2': 'xoauth2'}
_FROM = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<]*?))\s*<([^<>]+)>\s*$')


@dataclass
class Reading:
    """A (partial) settings document read from one source."""

    doc: dict[str, t.Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)   # JSON path -> the value found
    unknown: list[str] = field(default_factory=list)        # JSON paths the source cannot carry
    # paths whose absence may hide a value (a plain mail.from is also how a ${fullname} name renders):
    # reported as unknown, yet compared, since render would write the same absence
    maybe: list[str] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)  # findings: {kind, message, where}

    def set(self, path: tuple[str, ...], value: t.Any) -> None:
        node = self.doc
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    def note(self, kind: str, message: str, where: str = '') -> None:
        self.notes.append({'kind': kind, 'message': message, 'where': where})


def merge(product: str, readings: t.Sequence[Reading], *, unknown: t.Iterable[str] = ()) -> Reading:
    """One document from several sources (a later source does not overwrite an earlier one)."""
    out = Reading({'product': product})

    def fold(into: dict, more: dict) -> None:
        for key, value in more.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                fold(into[key], value)
            else:
                into.setdefault(key, value)

    for reading in readings:
        fold(out.doc, reading.doc)
        for path, value in reading.secrets.items():
            out.secrets.setdefault(path, value)
        out.notes.extend(reading.notes)
        out.maybe.extend(p for p in reading.maybe if p not in out.maybe)
    known = set(_leaf_paths(out.doc))
    for section in ('server', 'auth', 'sender'):
        if section not in out.doc:
            out.unknown.append(f'$.{section}')
    if 'server' in out.doc and 'host' not in out.doc['server']:
        out.unknown.append('$.server.host')
    seen: set[str] = set(out.unknown)
    for path in [p for r in readings for p in r.unknown] + list(unknown):
        if path not in known and path not in seen:
            seen.add(path)
            out.unknown.append(path)
    return out


def _leaf_paths(doc: t.Any, prefix: str = '$') -> t.Iterator[str]:
    if isinstance(doc, dict) and doc:
        for key, value in doc.items():
            yield from _leaf_paths(value, f'{prefix}.{key}')
    else:
        yield prefix


def _true(value: t.Any) -> bool:
    return str(value).strip().lower() == 'true'


def _int(value: t.Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _parse_from(value: str) -> tuple[str | None, str]:
    """(display name or None, address) of a mail.from value."""
    match = _FROM.match(value)
    if not match:
        return None, value.strip()
    quoted, plain, address = match.groups()
    name = re.sub(r'\\(.)', r'\1', quoted) if quoted is not None else (plain or '').strip()
    return (name or None), address.strip()


def from_javamail(props: t.Mapping[str, str], *, where: str) -> Reading:
    """JavaMail session properties (the inverse of _render.properties.javamail_properties)."""
    reading = Reading()
    props = {str(k): str(v) for k, v in props.items()}
    transport = props.get('mail.transport.protocol', 'smtp').strip().lower()
    # JavaMail reads mail.smtps.* when the transport is smtps; mailwright writes mail.smtp.* only
    proto = 'smtps' if transport == 'smtps' else 'smtp'

    def get(key: str) -> str | None:
        return props.get(f'mail.{proto}.{key}')

    used = {'mail.transport.protocol'} | {f'mail.{proto}.{k}' for k in (
        'host', 'port', 'ssl.enable', 'starttls.enable', 'starttls.required', 'auth', 'user', 'auth.mechanisms',
        'connectiontimeout', 'timeout', 'writetimeout', 'localhost', 'from')}
    used |= {'mail.from', 'mail.debug'} | DERIVED_ON_READ
    if (get('socketFactory.class') or '').strip() in _SSL_FACTORIES:
        used.add(f'mail.{proto}.socketFactory.class')
    host = get('host') or props.get('mail.host')
    if host:
        reading.set(('server', 'host'), host.strip())
    else:
        reading.unknown.append('$.server.host')
    smtps = transport == 'smtps' or _true(get('ssl.enable')) or (get('socketFactory.class') or '').strip() in _SSL_FACTORIES
    port = _int(get('port'))
    reading.set(('server', 'port'), port if port is not None else (465 if smtps else 25))
    reading.set(('server', 'protocol'), 'smtps' if smtps else 'smtp')
    if smtps:
        reading.set(('server', 'tls'), 'required')
    elif _true(get('starttls.enable')):
        reading.set(('server', 'tls'), 'required' if _true(get('starttls.required')) else 'opportunistic')
    else:
        reading.set(('server', 'tls'), 'none')
        if _true(get('starttls.required')):
            reading.note('tls', f'{where}: mail.{proto}.starttls.required without starttls.enable: JavaMail ignores it '
                         'and sends in clear text', where)
    timeouts = [_int(get(k)) for k in ('connectiontimeout', 'timeout', 'writetimeout')]
    given = [v for v in timeouts if v is not None and v > 0]
    # JavaMail's own default is infinite, which the settings spell 0
    reading.set(('server', 'timeout_ms'), max(given) if given else 0)
    if len(set(given)) > 1:
        reading.note('timeout', f'{where}: the connect, read and write timeouts differ ({timeouts}); '
                     'read as the longest', where)
    if get('localhost'):
        reading.set(('server', 'helo_domain'), get('localhost'))
    user = get('user') or props.get('mail.user')
    if _true(get('auth')) and user:
        reading.set(('auth', 'method'), 'basic')
        reading.set(('auth', 'username'), user)
        mechanism = (get('auth.mechanisms') or '').strip().upper()
        if mechanism in _MECHANISMS:
            reading.set(('auth', 'mechanism'), _MECHANISMS[mechanism])
    else:
        reading.set(('auth', 'method'), 'none')
        if _true(get('auth')):
            reading.note('auth', f'{where}: mail.{proto}.auth is true but no user is set: JavaMail cannot log in', where)
    envelope = get('from')
    header = props.get('mail.from')
    name, address = _parse_from(header) if header else (None, None)
    if envelope or address:
        reading.set(('sender', 'from_address'), (envelope or address or '').strip())
    else:
        reading.unknown.append('$.sender.from_address')
    if name:
        reading.set(('sender', 'from_name'), name)
    else:
        reading.maybe.append('$.sender.from_name')
    if envelope and address and envelope.strip().lower() != address.lower():
        reading.note('sender', f'{where}: the envelope sender (mail.{proto}.from {envelope}) and the From header '
                     f'(mail.from {address}) differ', where)
    if _true(props.get('mail.debug')):
        reading.note('debug', f'{where}: mail.debug is true: the application logs every SMTP conversation, the '
                     'AUTH exchange included', where)
    extra: dict[str, t.Any] = {}
    for key, value in props.items():
        if key in used or not key.startswith('mail.'):
            continue
        if key in DERIVED_PROPERTIES:
            reading.note('property', f'{where}: {key}={value} has no place in the settings (it is derived from '
                         'first-class fields there); it is left out', where)
            continue
        extra[key] = value
    if extra:
        reading.set(('server', 'properties'), extra)
        for key, value in extra.items():
            if key.endswith('.ssl.trust') and value.strip() == '*':
                reading.note('tls', f'{where}: {key}=* trusts every certificate the relay presents', where)
    reading.unknown.extend(['$.sender.subject_prefix', '$.name', '$.description', '$.test', '$.dns'])
    return reading


def from_resource(attrib: t.Mapping[str, str], *, where: str) -> Reading:
    """A Tomcat mail <Resource>: its own attributes, and the rest as session properties."""
    props = {k: v for k, v in attrib.items() if k not in _TOMCAT_ATTRS}
    reading = from_javamail(props, where=where)
    jndi: dict[str, t.Any] = {'name': attrib.get('name', ''), 'session_type': attrib.get('type', 'javax.mail.Session')}
    if _true(attrib.get('mail.debug')):
        jndi['debug'] = True
    reading.set(('server', 'jndi'), jndi)
    if reading.doc.get('auth', {}).get('method') == 'basic':
        if attrib.get('password') is not None:
            reading.set(('auth', 'password'), REDACTED)
            reading.secrets['$.auth.password'] = attrib['password']
        else:
            reading.note('auth', f'{where}: a user but no password attribute: Tomcat logs in without a password', where)
            reading.unknown.append('$.auth.password')
    return reading


_SPRING = {'spring.mail.host': 'mail.smtp.host', 'spring.mail.port': 'mail.smtp.port',
           'spring.mail.protocol': 'mail.transport.protocol', 'spring.mail.username': 'mail.smtp.user'}


def from_spring(props: t.Mapping[str, str], *, where: str) -> Reading:
    """Spring Boot's spring.mail.* keys, mapped back to the JavaMail properties they stand for."""
    javamail = {_SPRING[k]: v for k, v in props.items() if k in _SPRING}
    prefix = 'spring.mail.properties.'
    javamail.update({k[len(prefix):]: v for k, v in props.items() if k.startswith(prefix)})
    reading = from_javamail(javamail, where=where)
    if reading.doc.get('auth', {}).get('method') == 'basic':
        if props.get('spring.mail.password') is not None:
            reading.set(('auth', 'password'), REDACTED)
            reading.secrets['$.auth.password'] = props['spring.mail.password']
        else:
            reading.unknown.append('$.auth.password')
    return reading


def from_javamail_file(props: t.Mapping[str, str], *, where: str) -> Reading:
    """A plain JavaMail properties file: the password is never in it (the application supplies it)."""
    reading = from_javamail({k: v for k, v in props.items() if k.startswith('mail.')}, where=where)
    if reading.doc.get('auth', {}).get('method') == 'basic':
        reading.unknown.append('$.auth.password')
    return reading


def from_bitbucket_properties(props: t.Mapping[str, str], *, where: str) -> Reading:
    """bitbucket.properties: the mail timeouts (seconds) are all the settings it carries."""
    reading = Reading()
    seconds = [_int(props.get(k)) for k in ('mail.timeout.connect', 'mail.timeout.send')]
    given = [s for s in seconds if s is not None and s > 0]
    if given:
        reading.set(('server', 'timeout_ms'), max(given) * 1000)
        if len(set(given)) > 1:
            reading.note('timeout', f'{where}: mail.timeout.connect and mail.timeout.send differ ({seconds}); '
                         'read as the longer', where)
    else:
        reading.unknown.append('$.server.timeout_ms')
    return reading


def from_bitbucket_api(config: t.Mapping[str, t.Any] | None, *, where: str) -> Reading:
    """Bitbucket's RestMailConfiguration (the inverse of _render.bitbucket.desired_config)."""
    reading = Reading()
    if not config:
        reading.note('missing', f'{where}: no mail server is configured', where)
        reading.unknown.extend(['$.server.host', '$.sender.from_address'])
        return reading
    smtps = str(config.get('protocol') or 'SMTP').upper() == 'SMTPS'
    reading.set(('server', 'host'), str(config.get('hostname') or '').strip())
    port = _int(config.get('port'))
    reading.set(('server', 'port'), port if port is not None else (465 if smtps else 25))
    reading.set(('server', 'protocol'), 'smtps' if smtps else 'smtp')
    if smtps:
        tls = 'required'
    elif config.get('requireStartTls'):
        tls = 'required'
    else:
        tls = 'opportunistic' if config.get('useStartTls') else 'none'
    reading.set(('server', 'tls'), tls)
    if config.get('username'):
        reading.set(('auth', 'method'), 'basic')
        reading.set(('auth', 'username'), config['username'])
        reading.unknown.append('$.auth.password')  # write-only on the server
    else:
        reading.set(('auth', 'method'), 'none')
    if config.get('senderAddress'):
        reading.set(('sender', 'from_address'), str(config['senderAddress']).strip())
    else:
        reading.unknown.append('$.sender.from_address')
    reading.unknown.extend(['$.sender.from_name', '$.sender.subject_prefix', '$.server.helo_domain', '$.test', '$.dns'])
    return reading


def from_ghes_smtp(smtp: t.Mapping[str, t.Any] | None, *, where: str) -> Reading:
    """GHES's smtp settings object (the inverse of _render.ghes.desired_smtp)."""
    reading = Reading()
    if not smtp or not smtp.get('address'):
        reading.note('missing', f'{where}: no SMTP server is configured', where)
        reading.unknown.extend(['$.server.host', '$.sender.noreply_address'])
        return reading
    reading.set(('server', 'host'), str(smtp['address']).strip())
    port = _int(smtp.get('port'))
    reading.set(('server', 'port'), port if port is not None else 25)
    reading.set(('server', 'protocol'), 'smtp')
    # GHES can only use STARTTLS when offered; it cannot require it
    reading.set(('server', 'tls'), 'opportunistic' if _true(smtp.get('enable_starttls_auto')) else 'none')
    if smtp.get('domain'):
        reading.set(('server', 'helo_domain'), smtp['domain'])
    username = smtp.get('username') or smtp.get('user_name')
    if smtp.get('authentication') and username:
        reading.set(('auth', 'method'), 'basic')
        reading.set(('auth', 'username'), username)
        mechanism = str(smtp['authentication']).strip().lower()
        if mechanism in ('plain', 'login', 'cram_md5'):
            reading.set(('auth', 'mechanism'), mechanism)
        password = readable_password(smtp)
        if password is not None:
            reading.set(('auth', 'password'), REDACTED)
            reading.secrets['$.auth.password'] = password
        else:
            reading.unknown.append('$.auth.password')
    else:
        reading.set(('auth', 'method'), 'none')
    noreply = smtp.get('noreply_address')
    if noreply:
        reading.set(('sender', 'noreply_address'), noreply)
        reading.set(('sender', 'from_address'), noreply)  # GHES sends From the no-reply address
    discard = smtp.get(DISCARD_KEY, smtp.get('discard_to_noreply_address'))
    reading.set(('sender', 'discard_to_noreply'), _true(discard))
    if smtp.get('support_address'):
        reading.set(('sender', 'support'), smtp['support_address'])
    reading.set(('ghes', 'email_enabled'), _true(smtp.get('enabled')))
    reading.unknown.extend(['$.sender.from_name', '$.sender.subject_prefix', '$.ghes.hostname', '$.test', '$.dns'])
    return reading
