# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""The settings model: schema validation, semantic rules, provider presets, effective settings.

Pure Python (jsonschema is the only third-party import, loaded lazily), so every rule can be
unit-tested without Ansible. Every other module consumes the *effective* settings produced here.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.schema import schema

__all__ = [
    'REDACTED',
    'EffectiveSettings',
    'Server',
    'Jndi',
    'Auth',
    'OAuth2',
    'Sender',
    'Ghes',
    'Test',
    'TestUser',
    'Dns',
    'DEFAULT_TIMEOUT_MS',
    'WAIT_FOREVER_SECONDS',
    'timeout_seconds',
    'JAVAMAIL_KEYS',
    'DERIVED_PROPERTIES',
    'Finding',
    'SettingsError',
    'Validation',
    'PRESETS',
    'effective_settings',
    'load_effective',
    'secret_values',
    'looks_secret',
    'default_scopes',
    'token_url_of',
    'BASIC_AUTH_SHUTDOWN',
    'MOVE_TO_OAUTH2',
    'insecure_property_warnings',
    'redact',
    'parse_duration',
]


# Where secrets live in a document. Nothing else in a document is secret.
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ('auth', 'password'),
    ('auth', 'oauth2', 'token'),
    ('auth', 'oauth2', 'client_secret'),
    ('auth', 'oauth2', 'refresh_token'),
)

# Keys whose values are treated as secret wherever they appear, known to the schema or not (a
# typo such as `passwrd`, a field a later version adds): Ansible echoes module arguments on
# failure, so an unknown field must not be the way a password reaches -vvv output.
_SECRET_KEY = re.compile(r'pass|pasw|pwd|secret|token|credential|cred|private.?key|api.?key|access.?key'
                         r'|auth.?key|bearer|cookie', re.IGNORECASE)
# ...except where the name says it holds an address (auth.oauth2.token_url is not a secret).
_NOT_SECRET_KEY = re.compile(r'(url|uri|endpoint)\Z', re.IGNORECASE)


def looks_secret(key: t.Any) -> bool:
    """True when a mapping key's name suggests its value is a secret."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and not _NOT_SECRET_KEY.search(key)


# Fields that end up in mail headers or SMTP commands: CR/LF there would inject headers.
_HEADER_FIELDS = (
    ('sender', 'from_address'), ('sender', 'from_name'), ('sender', 'subject_prefix'),
    ('sender', 'noreply_address'), ('server', 'helo_domain'), ('server', 'host'), ('auth', 'username'),
)

_PRESET_PORTS = {'smtp': 587, 'smtps': 465}
PRESETS: dict[str, str] = {
    'gmail': 'smtp.gmail.com',
    'microsoft365': 'smtp.office365.com',
    'outlook': 'smtp-mail.outlook.com',
    'yahoo': 'smtp.mail.yahoo.com',
}

# The scopes each provider needs for SMTP: delegated (a user's token, static or refreshed)...
_OAUTH2_SCOPES = {
    'google': ['https://mail.google.com/'],
    'microsoft': ['https://outlook.office.com/SMTP.Send', 'offline_access'],
}
# ...and app-only (client credentials), where Microsoft takes the resource's .default scope and
# the Exchange application permission SMTP.SendAsApp decides what the token may do.
_OAUTH2_APP_SCOPES = {
    'microsoft': ['https://outlook.office365.com/.default'],
}
_TOKEN_URLS = {
    'google': 'https://oauth2.googleapis.com/token',
    'microsoft': 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token',
}
# Hosts of Exchange Online, where basic SMTP AUTH is being switched off.
_OFFICE365_HOST = re.compile(r'(?:^|\.)office365\.com\.?\Z', re.IGNORECASE)
BASIC_AUTH_SHUTDOWN = (
    'Microsoft turns basic SMTP AUTH off by default for existing Exchange Online tenants at the end of '
    'December 2026 (tenants created later do not have it by default; the relay then answers 550 5.7.30 or '
    '535 5.7.139)'
)
MOVE_TO_OAUTH2 = (
    'move to auth.method: oauth2 with auth.oauth2 {provider: microsoft, grant_type: client_credentials, '
    'tenant, client_id, client_secret}: the app registration needs the Exchange Online application permission '
    'SMTP.SendAsApp (admin consent) and an Exchange service principal with access to the mailbox; the scope is '
    'https://outlook.office365.com/.default'
)


def default_scopes(provider: str, grant_type: str | None) -> list[str]:
    """The scopes requested when the settings give none, by provider and grant."""
    if grant_type == 'client_credentials' and provider in _OAUTH2_APP_SCOPES:
        return list(_OAUTH2_APP_SCOPES[provider])
    return list(_OAUTH2_SCOPES.get(provider, []))


def token_url_of(oauth: t.Mapping[str, t.Any]) -> str | None:
    """auth.oauth2.token_url, or the one the provider (and tenant) imply; None when neither says."""
    if oauth.get('token_url'):
        return str(oauth['token_url'])
    provider = oauth.get('provider', 'custom')
    if provider == 'google':
        return _TOKEN_URLS['google']
    if provider == 'microsoft' and oauth.get('tenant'):
        return _TOKEN_URLS['microsoft'].format(tenant=oauth['tenant'])
    return None


_DEFAULT_JNDI_NAME = {
    'jira': 'mail/JiraMailServer',
    'confluence': 'mail/ConfluenceMailServer',
    'generic': 'mail/Session',
}

# The JavaMail keys the settings render to (_render/properties.javamail_properties), in the order
# they are written: the renderer imports this tuple, so the keys it writes, the keys it removes
# and the keys server.properties may not set are one list.
JAVAMAIL_KEYS: tuple[str, ...] = (
    'mail.transport.protocol', 'mail.smtp.host', 'mail.smtp.port', 'mail.smtp.ssl.enable',
    'mail.smtp.ssl.checkserveridentity', 'mail.smtp.starttls.enable', 'mail.smtp.starttls.required', 'mail.smtp.auth', 'mail.smtp.user',
    'mail.smtp.auth.mechanisms', 'mail.smtp.connectiontimeout', 'mail.smtp.timeout',
    'mail.smtp.writetimeout', 'mail.smtp.localhost', 'mail.smtp.from', 'mail.from', 'mail.debug',
)
# JavaMail keys derived from first-class fields (JAVAMAIL_KEYS, the host-name check of TLS
# sessions among them): setting them through server.properties would make two sources of truth for one
# value, and the property would win. Each `mail.smtp.` key has a `mail.smtps.` twin that JavaMail
# reads for protocol smtps; both are refused.
_DERIVED_SMTP_KEYS = tuple(key[len('mail.smtp.'):] for key in JAVAMAIL_KEYS if key.startswith('mail.smtp.'))
DERIVED_PROPERTIES = frozenset(
    {f'mail.{proto}.{key}' for proto in ('smtp', 'smtps') for key in _DERIVED_SMTP_KEYS}
    | {key for key in JAVAMAIL_KEYS if not key.startswith('mail.smtp.')}
    # mail.host and mail.user are JavaMail's protocol-independent fallbacks for host and user.
    | {'mail.host', 'mail.user'}
)
_DERIVED_PROPERTIES = DERIVED_PROPERTIES  # the historical private name
# Where to set a derived key instead, by the part after mail.smtp(s).
_DERIVED_HINTS = {
    'ssl.enable': 'set server.protocol: smtps for TLS from the first byte',
    'ssl.checkserveridentity': 'mailwright always checks the relay\'s host name on TLS sessions; '
                               'it cannot be switched off',
    'starttls.enable': 'set server.tls (required or opportunistic)',
    'starttls.required': 'set server.tls: required',
    'auth.mechanisms': 'set auth.mechanism',
    'connectiontimeout': 'set server.timeout_ms',
    'timeout': 'set server.timeout_ms',
    'writetimeout': 'set server.timeout_ms',
    'mail.debug': 'set server.jndi.debug',
}
# TLS versions no relay should be offered any more (RFC 8996).
_WEAK_TLS_PROTOCOLS = frozenset({'sslv2', 'sslv3', 'tlsv1', 'tlsv1.1'})
INSECURE_PROPERTIES_FLAG: t.Final = 'allow_insecure_properties'

# Characters no XML 1.0 document can carry, even as a character reference: a settings value
# with one could never be written into server.xml. Tab, CR and LF are handled on their own.
_UNCARRIABLE = re.compile('[\x01-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_HEADER_CONTROL = re.compile('[\x7f]')
_FROM_NAME_VARIABLES = ('fullname', 'email', 'email.hostname')
_HOST_LABEL = re.compile(r'(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z')
_EMAIL_LOCAL = re.compile(r'[^\s@<>()\[\]\\,;:"]+\Z')
_DURATION = re.compile(r'([0-9]{1,6})([smhdw])\Z')
_DURATION_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}


# --- the effective settings, typed ------------------------------------------------------------
# What effective_settings() returns, key for key: every key is always present (None where the
# document leaves an optional value out), so consumers index (server['protocol']) and never
# re-apply a default. A default lives in _effective() and nowhere else.

Protocol = t.Literal['smtp', 'smtps']
TlsPolicy = t.Literal['none', 'opportunistic', 'required']


class Jndi(t.TypedDict):
    name: str
    session_type: str
    debug: bool


class Server(t.TypedDict):
    host: str
    port: int
    protocol: Protocol
    tls: TlsPolicy           # 'required' whenever protocol is smtps
    timeout_ms: int          # <= 0: the product waits forever; see timeout_seconds()
    helo_domain: str | None
    jndi: Jndi | None        # set for jira and confluence, and wherever the document gives one
    properties: dict[str, t.Any]
    allow_insecure_properties: bool


class OAuth2(t.TypedDict):
    provider: str
    grant_type: str | None   # None: the static token (or the token option) is used
    token_url: str | None    # derived from provider (and tenant) when the document gives none
    tenant: str | None
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    scopes: list[str]        # the provider's defaults for the grant when the document gives none
    token: str | None


class Auth(t.TypedDict):
    method: t.Literal['none', 'basic', 'oauth2']
    username: str | None     # None unless method is basic or oauth2
    password: str | None     # None unless method is basic
    mechanism: str | None    # 'xoauth2' for oauth2
    oauth2: OAuth2 | None    # None unless method is oauth2


class Sender(t.TypedDict):
    from_address: str
    from_name: str | None
    subject_prefix: str | None
    noreply_address: str | None
    discard_to_noreply: bool
    support: str | None


class Ghes(t.TypedDict):
    hostname: str | None
    email_enabled: bool


class TestUser(t.TypedDict):
    fullname: str | None
    email: str | None


class Test(t.TypedDict):
    recipients: list[str]
    max_age: str
    max_age_seconds: int
    user: TestUser


class Dns(t.TypedDict):
    check_mx: bool
    check_spf: bool
    check_dmarc: bool
    check_ptr: bool
    check_ghes_reply: bool
    sending_ips: list[str]
    nameservers: list[str]
    port: int
    expect: list[dict[str, t.Any]]


class EffectiveSettings(t.TypedDict):
    product: t.Literal['jira', 'confluence', 'bitbucket', 'ghes', 'generic']
    name: str | None
    description: str | None
    provider: str | None
    server: Server
    auth: Auth
    sender: Sender
    ghes: Ghes
    test: Test
    dns: Dns


# The one timeout rule. The products read timeout_ms <= 0 as "wait forever" (Jira's meaning,
# JavaMail's default); a check that can hang is no check, so mailwright's own network steps
# (probe, test send, certificate fetch) wait WAIT_FOREVER_SECONDS instead. The settings doc
# fragment, the schema description and the validation warning state the same number.
DEFAULT_TIMEOUT_MS = 10000   # Jira's default, and the settings' default
WAIT_FOREVER_SECONDS = 60.0


def timeout_seconds(server: Server | t.Mapping[str, t.Any] | None) -> float:
    """Seconds one network step may take under the effective settings' server.timeout_ms.

    timeout_ms / 1000 when positive, WAIT_FOREVER_SECONDS when 0 or less ("wait forever"), and
    the settings' default when there are no settings at all (a probe of explicit targets only).
    """
    timeout_ms = DEFAULT_TIMEOUT_MS if server is None else server['timeout_ms']
    return timeout_ms / 1000.0 if timeout_ms > 0 else WAIT_FOREVER_SECONDS


@dataclass(frozen=True)
class Finding:
    """One error or warning about a document, located by JSON path (``$.server.port``)."""

    path: str
    message: str
    hint: str = ''

    def __str__(self) -> str:
        text = f'{self.path}: {self.message}'
        return f'{text} ({self.hint})' if self.hint else text

    def to_dict(self) -> dict[str, str]:
        return {'path': self.path, 'message': self.message, 'hint': self.hint}


@dataclass
class Validation:
    effective: EffectiveSettings | None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class SettingsError(ValueError):
    def __init__(self, errors: list[Finding]):
        self.errors = errors
        super().__init__('invalid mail settings: ' + '; '.join(str(e) for e in errors))


def json_path(parts: t.Iterable[t.Any]) -> str:
    out = '$'
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f'[{part}]'
        elif isinstance(part, str) and re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', part):
            out += f'.{part}'
        else:
            out += "['" + str(part).replace("'", "\\'")[:80] + "']"
    return out


def _get(doc: t.Any, path: tuple[str, ...]) -> t.Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _show(value: t.Any) -> str:
    """A value as it may appear in a message: short, and printable."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


_TYPE_NAMES = {
    'object': 'a mapping', 'array': 'a list', 'string': 'a string', 'integer': 'a whole number',
    'boolean': 'true or false', 'number': 'a number', 'null': 'null',
}


def _python_type(value: t.Any) -> str:
    if isinstance(value, bool):
        return 'boolean'
    return {dict: 'mapping', list: 'list', str: 'string', int: 'whole number', float: 'number',
            type(None): 'null'}.get(type(value), type(value).__name__)


# --- schema layer -------------------------------------------------------------------------

_validator = None


def _schema_validator():
    global _validator
    if _validator is None:
        from jsonschema import Draft202012Validator  # guarded by the module through _deps

        _validator = Draft202012Validator(schema())
    return _validator


def _is_secret_path(parts: tuple) -> bool:
    return tuple(parts) in SECRET_PATHS or any(looks_secret(part) for part in parts)


def _holds_secret(value: t.Any) -> bool:
    """True when a mapping or list carries a secret-looking key anywhere inside."""
    if not isinstance(value, (dict, list)):
        return False
    for _leaf in _secret_leaves(value):  # any leaf, even a None value, means a secret key is there
        return True
    return False


def _schema_finding(error) -> Finding:
    parts = tuple(error.absolute_path)
    path = json_path(parts)
    kind = error.validator
    value = error.instance
    # Never show a value under a secret-looking key, nor a container that holds one.
    secret = _is_secret_path(parts) or _holds_secret(value)
    shown = 'the given value' if secret else _show(value)
    if kind == 'required':
        missing = [name for name in error.validator_value if not isinstance(value, dict) or name not in value]
        name = missing[0] if missing else '?'
        return Finding(json_path(parts + (name,)), 'required field is missing',
                       f"add '{name}': {error.schema['properties'][name].get('description', '')}".rstrip(': '))
    if kind == 'additionalProperties':
        allowed = sorted(error.schema.get('properties', {}))
        extra = [k for k in value if k not in error.schema.get('properties', {})]
        name = extra[0] if extra else '?'
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else 'allowed: ' + ', '.join(allowed)
        return Finding(json_path(parts + (str(name),)), 'unknown field', hint)
    if kind == 'type':
        expected = error.validator_value
        expected = expected if isinstance(expected, list) else [expected]
        want = ' or '.join(_TYPE_NAMES.get(e) or str(e) for e in expected)
        return Finding(path, f'must be {want}, got a {_python_type(value)}' + ('' if secret else f' ({shown})'))
    if kind == 'enum':
        choices = ', '.join(str(c) for c in error.validator_value)
        return Finding(path, f'{shown} is not allowed', f'one of: {choices}')
    if kind == 'pattern':
        desc = error.schema.get('description', '')
        return Finding(path, f'{shown} is not in the expected form', desc)
    if kind == 'minimum':
        return Finding(path, f'{shown} is too small', f'at least {error.validator_value}')
    if kind == 'maximum':
        return Finding(path, f'{shown} is too large', f'at most {error.validator_value}')
    if kind == 'minLength':
        return Finding(path, 'must not be empty' if error.validator_value <= 1
                       else f'is too short (at least {error.validator_value} characters)')
    if kind == 'maxLength':
        return Finding(path, f'is too long ({len(value)} characters)', f'at most {error.validator_value}')
    if kind == 'uniqueItems':
        return Finding(path, 'contains the same entry twice', 'list each entry once')
    if kind == 'maxItems':
        return Finding(path, f'has {len(value)} entries', f'at most {error.validator_value}')
    if kind == 'propertyNames':
        return Finding(path, f'key {shown} is not allowed', error.schema.get('description', ''))
    return Finding(path, error.message if not secret else f'failed the {kind} rule')


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    'object': (dict,), 'array': (list,), 'string': (str,), 'integer': (int,), 'boolean': (bool,),
}


def _quick_valid(value: t.Any, node: dict) -> bool:
    """True only if `value` is valid against `node`, for the keywords our schema uses.

    A fast path for the common case, so that modules (a test send, above all) do not pay for
    importing jsonschema: it may say False where jsonschema would accept (jsonschema then
    decides and explains), never True where jsonschema would refuse. A unit test holds it to that.
    """
    kind = node.get('type')
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if isinstance(value, bool):
            if 'boolean' not in kinds:
                return False
        elif not any(type(value) in _JSON_TYPES.get(k, ()) for k in kinds):
            return False
    if 'enum' in node and (isinstance(value, bool) or value not in node['enum']):
        return False
    if isinstance(value, str):
        if len(value) < node.get('minLength', 0) or len(value) > node.get('maxLength', len(value)):
            return False
        if 'pattern' in node and not re.search(node['pattern'], value):
            return False
    elif isinstance(value, int) and not isinstance(value, bool):
        if value < node.get('minimum', value) or value > node.get('maximum', value):
            return False
    elif isinstance(value, dict):
        properties = node.get('properties', {})
        if any(name not in value for name in node.get('required', ())):
            return False
        names = node.get('propertyNames')
        extra = node.get('additionalProperties', True)
        for key, item in value.items():
            if not isinstance(key, str):
                return False
            if names is not None and not _quick_valid(key, names):
                return False
            if key in properties:
                if not _quick_valid(item, properties[key]):
                    return False
            elif extra is False or (isinstance(extra, dict) and not _quick_valid(item, extra)):
                return False
    elif isinstance(value, list):
        if len(value) > node.get('maxItems', len(value)):
            return False
        if node.get('uniqueItems') and not (all(isinstance(v, str) for v in value) and len(set(value)) == len(value)):
            return False
        items = node.get('items')
        if isinstance(items, dict) and not all(_quick_valid(v, items) for v in value):
            return False
    known = {'type', 'enum', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'properties',
             'required', 'propertyNames', 'additionalProperties', 'maxItems', 'uniqueItems', 'items',
             'title', 'description', 'examples', 'writeOnly', '$schema', '$id'}
    return known.issuperset(node)  # a keyword this checker does not know: let jsonschema decide


def _schema_findings(doc: dict) -> tuple[list[Finding], list[tuple]]:
    """Findings, and the locations of the values at fault (for pruning them)."""
    findings: list[Finding] = []
    faulty: list[tuple] = []
    for error in _schema_validator().iter_errors(doc):
        findings.append(_schema_finding(error))
        parts = tuple(error.absolute_path)
        if error.validator == 'additionalProperties':
            known = error.schema.get('properties', {})
            faulty.extend(parts + (k,) for k in error.instance if k not in known)
        elif error.validator != 'required':
            faulty.append(parts)
    findings.sort(key=lambda f: f.path)
    return findings, faulty


def _prune(doc: dict, faulty: list[tuple]) -> dict | None:
    """The document without the values the schema rejected, so the semantic rules can still
    report on the rest in the same run. None when a whole required part is at fault."""
    pruned = copy.deepcopy(doc)
    for parts in sorted(faulty, key=len, reverse=True):
        if len(parts) < 2 and parts[:1] in ((), ('product',), ('sender',)):
            return None
        parent = _get(pruned, tuple(parts[:-1]))
        if isinstance(parent, dict):
            parent.pop(parts[-1], None)
        elif isinstance(parent, list) and isinstance(parts[-1], int) and parts[-1] < len(parent):
            parent[parts[-1]] = None
    return pruned


# --- semantic layer -----------------------------------------------------------------------

def _valid_hostname(name: str) -> bool:
    if name.startswith('[') and name.endswith(']'):
        name = name[1:-1]
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    name = name[:-1] if name.endswith('.') else name
    return 0 < len(name) <= 253 and all(_HOST_LABEL.match(label) for label in name.split('.'))


def _valid_email(address: str) -> bool:
    local, sep, domain = address.rpartition('@')
    return bool(sep and local and _EMAIL_LOCAL.match(local) and _valid_hostname(domain)
                and not domain.startswith('['))


def parse_duration(text: str) -> int:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f'{text!r} is not a duration like 30d')
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _walk_strings(doc: t.Any, parts: tuple = ()) -> t.Iterator[tuple[tuple, str]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _walk_strings(value, parts + (key,))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _walk_strings(value, parts + (index,))
    elif isinstance(doc, str):
        yield parts, doc


def _check_control_characters(doc: dict, errors: list[Finding]) -> None:
    for parts, text in _walk_strings(doc):
        if '\r' in text or '\n' in text:
            errors.append(Finding(json_path(parts), 'contains a line break (CR/LF)',
                                  'remove it: in mail headers and SMTP commands a line break injects '
                                  'headers or commands'))
        elif '\x00' in text:
            errors.append(Finding(json_path(parts), 'contains a NUL character', 'remove it'))
        else:
            bad = _UNCARRIABLE.search(text) or (parts in _HEADER_FIELDS and _HEADER_CONTROL.search(text))
            if bad:
                shown = '' if _is_secret_path(parts) else f' (U+{ord(bad.group()):04X})'
                errors.append(Finding(json_path(parts), f'contains a control character{shown}',
                                      'remove it: XML files, .properties readers and mail headers cannot carry it'))


def _weakens_tls(key: str, value: t.Any) -> str | None:
    """Why a (non-derived) JavaMail property weakens TLS, or None. `key` is lower-case."""
    for proto in ('smtp', 'smtps'):
        prefix = f'mail.{proto}.'
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if rest == 'ssl.trust':
            return ('trusts the listed hosts (or every host for *) without checking their certificate'
                    ' chain, so a man in the middle is accepted')
        if rest.startswith(('ssl.socketfactory', 'socketfactory')):
            return ('replaces the TLS socket factory (or lets JavaMail fall back to a plain socket), '
                    "bypassing the session's certificate and host-name checks")
        if rest == 'ssl.protocols':
            weak = sorted(p for p in str(value).split() if p.lower() in _WEAK_TLS_PROTOCOLS)
            if weak:
                return f"allows {', '.join(weak)}, which are broken (RFC 8996); use TLSv1.2 TLSv1.3"
    return None


def _property_findings(server: dict, errors: list[Finding], warnings: list[Finding]) -> None:
    """server.properties must not shadow a settings field nor weaken TLS behind its back."""
    allowed = server.get(INSECURE_PROPERTIES_FLAG) is True
    for key, value in server.get('properties', {}).items():
        where = json_path(('server', 'properties', key))
        lowered = key.lower()
        if lowered in _DERIVED_PROPERTIES:
            hint = _DERIVED_HINTS.get(lowered) or _DERIVED_HINTS.get(lowered.split('.', 2)[-1],
                                                                     'set the matching server/auth/sender field instead')
            errors.append(Finding(where, 'is derived from the settings and cannot be set here', hint))
        elif looks_secret(lowered):
            errors.append(Finding(where, 'looks like a secret',
                                  'secrets belong in auth.password, which is never shown'))
        else:
            reason = _weakens_tls(lowered, value)
            if reason is None:
                continue
            if allowed:
                warnings.append(Finding(where, f'weakens TLS: {reason}',
                                        f'accepted because server.{INSECURE_PROPERTIES_FLAG} is true; '
                                        'remove it as soon as the relay has a certificate the truststore accepts'))
            else:
                errors.append(Finding(where, f'weakens TLS: {reason}',
                                      'remove it (for a private CA, import it with truststore_cert); if you must, '
                                      f'set server.{INSECURE_PROPERTIES_FLAG}: true and every run warns'))


def insecure_property_warnings(effective: t.Mapping[str, t.Any]) -> list[Finding]:
    """The TLS-weakening properties accepted through the escape hatch, for every module to warn about."""
    warnings: list[Finding] = []
    _property_findings(effective.get('server') or {}, [], warnings)
    return warnings


def _semantic_findings(doc: dict, errors: list[Finding], warnings: list[Finding]) -> None:
    """Rules the schema cannot express. `doc` has passed the schema. One function per section."""
    server = doc.get('server', {})
    _check_control_characters(doc, errors)
    _placeholder_findings(doc, errors)
    _name_findings(server, errors)
    _sender_findings(doc['sender'], errors)
    _test_findings(doc.get('test', {}), errors)
    _dns_findings(doc.get('dns', {}), errors)
    _property_findings(server, errors, warnings)
    _connection_findings(server, errors, warnings)
    _auth_findings(doc, errors, warnings)
    _product_findings(doc, errors, warnings)
    _provider_findings(doc, warnings)
    _basic_shutdown_findings(doc, warnings)


def _placeholder_findings(doc: dict, errors: list[Finding]) -> None:
    for parts in SECRET_PATHS:
        if _get(doc, parts) == REDACTED:
            errors.append(Finding(json_path(parts), 'is the masked placeholder, not the secret',
                                  'pass the original settings document (with the vaulted secret), '
                                  'not the redacted copy settings_validate returns'))


def _name_findings(server: dict, errors: list[Finding]) -> None:
    host = server.get('host')
    if host is not None and not _valid_hostname(host):
        errors.append(Finding('$.server.host', f'{_show(host)} is not a host name or IP address',
                              'e.g. smtp.example.com or 192.0.2.10'))
    helo = server.get('helo_domain')
    if helo is not None and not _valid_hostname(helo):
        errors.append(Finding('$.server.helo_domain', f'{_show(helo)} is not a host name',
                              'the fully qualified name of the sending host'))


def _sender_findings(sender: dict, errors: list[Finding]) -> None:
    from_address = sender['from_address']
    if '${' in from_address:
        errors.append(Finding('$.sender.from_address', 'must be a plain address without variables',
                              'put ${fullname} and friends into sender.from_name'))
    elif '<' in from_address or not _valid_email(from_address):
        errors.append(Finding('$.sender.from_address', f'{_show(from_address)} is not a plain e-mail address',
                              'e.g. jira@example.com, with the display name in sender.from_name'))

    from_name = sender.get('from_name')
    if from_name is not None:
        for match in re.finditer(r'\$\{([^}]*)(\}?)', from_name):
            if not match.group(2):
                errors.append(Finding('$.sender.from_name', 'has an unclosed ${', 'close it: ${fullname}'))
            elif match.group(1) not in _FROM_NAME_VARIABLES:
                errors.append(Finding('$.sender.from_name', f'unknown variable ${{{match.group(1)}}}',
                                      'allowed: ' + ', '.join('${%s}' % v for v in _FROM_NAME_VARIABLES)))

    for key in ('noreply_address',):
        value = sender.get(key)
        if value is not None and not _valid_email(value):
            errors.append(Finding(f'$.sender.{key}', f'{_show(value)} is not a plain e-mail address',
                                  'e.g. noreply@github.example.com'))
    support = sender.get('support')
    if support is not None:
        if '://' in support or support.lower().startswith('http'):
            if not re.match(r'https?://[^\s/]+', support):
                errors.append(Finding('$.sender.support', 'a URL must start with http:// or https://',
                                      'e.g. https://support.example.com'))
        elif not _valid_email(support):
            errors.append(Finding('$.sender.support', f'{_show(support)} is neither an e-mail address nor a URL',
                                  'an address like support@example.com or an http(s):// URL'))


def _test_findings(test: dict, errors: list[Finding]) -> None:
    for index, address in enumerate(test.get('recipients', [])):
        if not _valid_email(address):
            errors.append(Finding(f'$.test.recipients[{index}]', f'{_show(address)} is not an e-mail address'))
    user_email = _get(test, ('user', 'email'))
    if user_email is not None and not _valid_email(user_email):
        errors.append(Finding('$.test.user.email', f'{_show(user_email)} is not an e-mail address'))


def _dns_findings(dns: dict, errors: list[Finding]) -> None:
    for key in ('sending_ips', 'nameservers'):
        for index, value in enumerate(dns.get(key, [])):
            try:
                ipaddress.ip_address(value)
            except ValueError:
                errors.append(Finding(f'$.dns.{key}[{index}]', f'{_show(value)} is not an IP address',
                                      'e.g. 192.0.2.25 or 2001:db8::25'))


def _connection_findings(server: dict, errors: list[Finding], warnings: list[Finding]) -> None:
    """Protocol, TLS policy and port that contradict each other; a timeout that waits forever."""
    protocol = server.get('protocol', 'smtp')
    tls = server.get('tls')
    port = server.get('port')
    if protocol == 'smtps' and tls == 'none':
        errors.append(Finding('$.server.tls', "'none' contradicts protocol smtps, which is encrypted from the first byte",
                              "omit tls or set it to 'required', or use protocol smtp"))
    elif protocol == 'smtps' and tls == 'opportunistic':
        warnings.append(Finding('$.server.tls', "protocol smtps is always encrypted; 'opportunistic' is read as 'required'"))
    if protocol == 'smtp' and port == 465:
        if tls in (None, 'opportunistic', 'required'):
            errors.append(Finding('$.server.port', 'STARTTLS on port 465 is a contradiction: 465 expects TLS from the first byte',
                                  'use protocol smtps on 465, or port 587 for STARTTLS'))
        else:
            errors.append(Finding('$.server.port', 'plain SMTP on port 465 will not work: 465 expects TLS from the first byte',
                                  'use protocol smtps on 465, or port 25/587 for plain SMTP'))
    if protocol == 'smtps' and port in (25, 587):
        warnings.append(Finding('$.server.port', f'port {port} normally speaks plain SMTP with STARTTLS, not SMTPS',
                                'use port 465 for smtps, or protocol smtp with tls: required'))
    if server.get('timeout_ms') == 0:
        warnings.append(Finding('$.server.timeout_ms', 'is 0: the product will wait forever on a stuck relay',
                                f"mailwright's own checks still stop after {WAIT_FOREVER_SECONDS:g} s; "
                                f"{DEFAULT_TIMEOUT_MS} is Jira's default"))


def _encrypted(doc: dict) -> bool:
    """Whether the connection is encrypted before any credential is sent (presets require TLS)."""
    server = doc.get('server', {})
    tls = server.get('tls')
    return server.get('protocol', 'smtp') == 'smtps' or tls == 'required' or (tls is None and doc.get('provider') not in (None, 'custom'))


def _auth_findings(doc: dict, errors: list[Finding], warnings: list[Finding]) -> None:
    server = doc.get('server', {})
    auth = doc.get('auth', {})
    protocol = server.get('protocol', 'smtp')
    tls = server.get('tls')
    port = server.get('port')
    encrypted = _encrypted(doc)
    method = auth.get('method', 'none')
    mechanism = auth.get('mechanism')
    if method == 'basic':
        for key in ('username', 'password'):
            if auth.get(key) is None:
                errors.append(Finding(f'$.auth.{key}', 'is required for basic authentication',
                                      'or set auth.method to none for an anonymous relay'))
        if mechanism in ('xoauth2', 'oauthbearer'):
            errors.append(Finding('$.auth.mechanism', f'{mechanism} needs auth.method oauth2', 'use plain, login or cram_md5'))
        if tls == 'none':
            warnings.append(Finding('$.server.tls', f"with basic authentication and tls 'none' on port {port or 25} "
                                    'the password is sent in clear', "set tls: required (or protocol smtps)"))
        elif protocol == 'smtp' and tls in (None, 'opportunistic') and not encrypted:
            warnings.append(Finding('$.server.tls', "'opportunistic' lets a man in the middle strip STARTTLS and read "
                                    'the password', 'set tls: required'))
    elif method == 'oauth2':
        if not encrypted:
            errors.append(Finding('$.auth.method', 'OAuth 2.0 needs a secure connection',
                                  'set protocol smtps, or tls: required with protocol smtp'))
        if auth.get('username') is None:
            errors.append(Finding('$.auth.username', 'is required for OAuth 2.0 (the mailbox the token belongs to)'))
        if mechanism not in (None, 'xoauth2', 'oauthbearer'):
            errors.append(Finding('$.auth.mechanism', f"'{mechanism}' cannot carry an OAuth 2.0 token",
                                  "use xoauth2 or oauthbearer, or omit it"))
        _oauth2_findings(auth.get('oauth2', {}), errors, warnings)
        if auth.get('password') is not None:
            warnings.append(Finding('$.auth.password', 'is ignored with OAuth 2.0', 'remove it'))
    else:
        for key in ('username', 'password', 'oauth2'):
            if auth.get(key) is not None:
                warnings.append(Finding(f'$.auth.{key}', "is ignored: auth.method is 'none'",
                                        "set auth.method: basic to authenticate"))


def _oauth2_findings(oauth: dict, errors: list[Finding], warnings: list[Finding]) -> None:
    """auth.oauth2: a grant that can obtain a token, scopes the provider honours."""
    provider = oauth.get('provider', 'custom')
    grant = oauth.get('grant_type')
    at = '$.auth.oauth2.'
    if grant is None:
        for key in ('client_secret', 'refresh_token', 'token_url', 'tenant'):
            if oauth.get(key) is not None:
                warnings.append(Finding(at + key, 'is ignored without auth.oauth2.grant_type',
                                        'set grant_type client_credentials or refresh_token to obtain tokens at run time'))
    else:
        if grant == 'client_credentials' and provider == 'google':
            errors.append(Finding(at + 'grant_type', 'Google has no client-credentials grant for Gmail SMTP',
                                  'use grant_type: refresh_token with the refresh token of the sending account'))
        if oauth.get('client_id') is None:
            errors.append(Finding(at + 'client_id', f'is required for grant_type {grant}',
                                  'the application (client) ID of the app registration'))
        if grant == 'client_credentials' and oauth.get('client_secret') is None:
            errors.append(Finding(at + 'client_secret', 'is required for grant_type client_credentials',
                                  'a client secret of the app registration, from Ansible Vault'))
        if grant == 'refresh_token' and oauth.get('refresh_token') is None:
            errors.append(Finding(at + 'refresh_token', 'is required for grant_type refresh_token',
                                  'the refresh token of the sending account, obtained once in a browser, from Ansible Vault'))
        if grant == 'client_credentials' and oauth.get('refresh_token') is not None:
            warnings.append(Finding(at + 'refresh_token', 'is ignored with grant_type client_credentials'))
        if oauth.get('token') is not None:
            warnings.append(Finding(at + 'token', f'is ignored: grant_type {grant} obtains a token at run time'))
        if token_url_of(oauth) is None:
            if provider == 'microsoft':
                errors.append(Finding(at + 'tenant', 'is required for provider microsoft (it names the token endpoint)',
                                      'the tenant ID or domain, e.g. contoso.onmicrosoft.com, or give token_url'))
            else:
                errors.append(Finding(at + 'token_url', f'is required for provider {provider}',
                                      "the provider's https token endpoint"))
    if oauth.get('tenant') is not None and provider != 'microsoft':
        warnings.append(Finding(at + 'tenant', f'is only used by provider microsoft, not {provider}'))
    url = oauth.get('token_url')
    if url is not None:
        netloc = url.split('://', 1)[-1].split('/', 1)[0]
        if '@' in netloc:
            # the value is not quoted back: user-info may hold a password
            errors.append(Finding(at + 'token_url', 'must not carry user-info (user:password@)',
                                  'the client authenticates with client_id and client_secret'))
        elif '#' in url:
            errors.append(Finding(at + 'token_url', 'must not have a fragment', "give the provider's token endpoint"))
    _scope_findings(oauth, errors)


def _scope_findings(oauth: dict, errors: list[Finding]) -> None:
    provider = oauth.get('provider', 'custom')
    scopes = oauth.get('scopes')
    if scopes is None:
        return
    if oauth.get('grant_type') == 'client_credentials' and provider == 'microsoft':
        wrong = [s for s in scopes if not s.endswith('/.default')]
        if wrong:
            errors.append(Finding('$.auth.oauth2.scopes', 'client credentials take only a resource\'s .default scope, not '
                                  + ', '.join(wrong), 'use https://outlook.office365.com/.default or omit scopes'))
        return
    missing = [s for s in _OAUTH2_SCOPES.get(provider, []) if s not in scopes]
    if missing:
        errors.append(Finding('$.auth.oauth2.scopes', f'{provider} needs ' + ', '.join(missing),
                              'add the missing scopes or omit scopes to use the defaults'))


def _basic_shutdown_findings(doc: dict, warnings: list[Finding]) -> None:
    """Basic SMTP AUTH against Exchange Online: it works today, and stops working by default soon."""
    if doc.get('auth', {}).get('method') != 'basic':
        return
    host = doc.get('server', {}).get('host') or ''
    if doc.get('provider') == 'microsoft365' or _OFFICE365_HOST.search(host):
        warnings.append(Finding('$.auth.method', f'basic authentication to Exchange Online: {BASIC_AUTH_SHUTDOWN}',
                                MOVE_TO_OAUTH2))


def _product_findings(doc: dict, errors: list[Finding], warnings: list[Finding]) -> None:
    product = doc['product']
    server = doc.get('server', {})
    sender = doc['sender']
    method = doc.get('auth', {}).get('method', 'none')
    mechanism = doc.get('auth', {}).get('mechanism')
    protocol = server.get('protocol', 'smtp')
    tls = server.get('tls')
    if server.get('jndi') is not None and product in ('bitbucket', 'ghes'):
        errors.append(Finding('$.server.jndi', f'{product} has no JNDI mail session',
                              'remove server.jndi; JNDI is for jira, confluence and generic'))
    if product == 'ghes':
        if sender.get('noreply_address') is None:
            errors.append(Finding('$.sender.noreply_address', 'is required for GitHub Enterprise Server',
                                  'the address GHES uses as From and To of notification mail, e.g. noreply@github.example.com'))
        if method == 'oauth2':
            errors.append(Finding('$.auth.method', 'GitHub Enterprise Server has no OAuth 2.0 for SMTP',
                                  'use basic (authentication type plain, login or cram_md5) or none'))
        if protocol == 'smtps':
            warnings.append(Finding('$.server.protocol', 'GitHub Enterprise Server speaks SMTP with STARTTLS, not SMTPS',
                                    'use protocol smtp with port 587'))
        if tls == 'required':
            warnings.append(Finding('$.server.tls', 'GitHub Enterprise Server can only use STARTTLS when offered '
                                    '(enable_starttls_auto); it cannot refuse a relay without it'))
        if _get(doc, ('dns', 'check_ghes_reply')) is not False and _get(doc, ('ghes', 'hostname')) is None:
            warnings.append(Finding('$.ghes.hostname', 'is not set, so the reply./noreply. DNS records cannot be checked',
                                    'set the instance hostname, e.g. github.example.com'))
    else:
        for parts in (('sender', 'noreply_address'), ('sender', 'support'), ('ghes', 'hostname')):
            if _get(doc, parts) is not None:
                warnings.append(Finding(json_path(parts), f'is only used by GitHub Enterprise Server, not {product}'))
        if mechanism == 'cram_md5' and product != 'generic':
            warnings.append(Finding('$.auth.mechanism', f'{product} lets JavaMail choose the mechanism; cram_md5 is only '
                                    "honoured by mailwright's own checks"))


def _provider_findings(doc: dict, warnings: list[Finding]) -> None:
    host = doc.get('server', {}).get('host')
    method = doc.get('auth', {}).get('method', 'none')
    provider = doc.get('provider')
    if provider and provider != 'custom':
        preset_host = _preset_host(provider)
        if host is not None and host != preset_host:
            warnings.append(Finding('$.server.host', f'differs from the {provider} preset ({preset_host}); the explicit host wins'))
        if method == 'none':
            warnings.append(Finding('$.auth.method', f'{provider} does not accept anonymous mail',
                                    'set auth.method basic (app password / SMTP credentials) or oauth2'))


def _first_per_path(findings: list[Finding]) -> list[Finding]:
    """One error per field: a line break in the host also makes it no host name; say it once."""
    seen: set[str] = set()
    kept = []
    for finding in findings:
        if finding.path not in seen:
            seen.add(finding.path)
            kept.append(finding)
    return kept


def _preset_host(provider: str) -> str:
    if provider.startswith('ses:'):
        return f'email-smtp.{provider[4:]}.amazonaws.com'
    return PRESETS[provider]


# --- effective settings -------------------------------------------------------------------

_MAX_DEPTH = 16  # the schema nests 5 levels; anything deeper is an error, found without recursion


def _too_deep(document: t.Any) -> tuple[tuple, int] | None:
    """The path where `document` first goes deeper than _MAX_DEPTH, and how deep it goes at most.

    Iterative on purpose: a document nested 500 levels deep must be an error, not a RecursionError.
    """
    stack: list[tuple[t.Any, tuple[str | int, ...]]] = [(document, ())]
    first: tuple[str | int, ...] | None = None
    deepest = 0
    while stack:
        value, parts = stack.pop()
        deepest = max(deepest, len(parts))
        if len(parts) > _MAX_DEPTH and first is None:
            first = parts
        if isinstance(value, dict):
            stack.extend((v, parts + (str(k),)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, parts + (i,)) for i, v in enumerate(value))
    return (first, deepest) if first is not None else None


def _compact(value: t.Any) -> t.Any:
    """Drop None values and derived keys, so an effective document normalises to itself."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None and k != 'max_age_seconds'}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _effective(doc: dict) -> EffectiveSettings:
    """Every field present, defaults filled, preset applied, port derived: one section at a time."""
    product = doc['product']
    return {
        'product': product,
        'name': doc.get('name', 'SMTP Server' if product == 'confluence' else None),
        'description': doc.get('description'),
        'provider': doc.get('provider'),
        'server': _effective_server(doc),
        'auth': _effective_auth(doc.get('auth', {})),
        'sender': _effective_sender(doc['sender'], product),
        'ghes': {
            'hostname': doc.get('ghes', {}).get('hostname'),
            'email_enabled': doc.get('ghes', {}).get('email_enabled', True),
        },
        'test': _effective_test(doc.get('test', {})),
        'dns': _effective_dns(doc.get('dns', {}), product),
    }


def _effective_server(doc: dict) -> Server:
    product = doc['product']
    provider = doc.get('provider')
    server = doc.get('server', {})
    preset = provider not in (None, 'custom')
    protocol = server.get('protocol', 'smtp')
    tls: TlsPolicy
    if protocol == 'smtps':
        tls = 'required'
    else:
        tls = server.get('tls') or ('required' if preset else 'opportunistic')
    if 'port' in server:
        port = server['port']
    elif preset:
        port = _PRESET_PORTS[protocol]
    else:
        port = 465 if protocol == 'smtps' else 25
    # '' when neither gives one: effective_settings() refuses that before anyone sees it.
    host: str = server.get('host') or (_preset_host(provider) if provider is not None and preset else '')

    jndi = server.get('jndi')
    if jndi is not None or product in ('jira', 'confluence'):
        jndi = jndi or {}
        jndi = {
            'name': jndi.get('name', _DEFAULT_JNDI_NAME.get(product, 'mail/Session')),
            'session_type': jndi.get('session_type', 'javax.mail.Session'),
            'debug': jndi.get('debug', False),
        }
    return {
        'host': host,
        'port': port,
        'protocol': protocol,
        'tls': tls,
        'timeout_ms': server.get('timeout_ms', DEFAULT_TIMEOUT_MS),
        'helo_domain': server.get('helo_domain'),
        'jndi': jndi,
        'properties': dict(server.get('properties', {})),
        INSECURE_PROPERTIES_FLAG: server.get(INSECURE_PROPERTIES_FLAG, False),
    }


def _effective_auth(auth: dict) -> Auth:
    method = auth.get('method', 'none')
    oauth2: OAuth2 | None = None
    if method == 'oauth2':
        given = auth.get('oauth2', {})
        oauth_provider = given.get('provider', 'custom')
        grant = given.get('grant_type')
        oauth2 = {
            'provider': oauth_provider,
            'grant_type': grant,
            'token_url': token_url_of(given) if grant else given.get('token_url'),
            'tenant': given.get('tenant'),
            'client_id': given.get('client_id'),
            'client_secret': given.get('client_secret'),
            'refresh_token': given.get('refresh_token'),
            'scopes': list(given.get('scopes', default_scopes(oauth_provider, grant))),
            'token': given.get('token'),
        }
    return {
        'method': method,
        'username': auth.get('username') if method != 'none' else None,
        'password': auth.get('password') if method == 'basic' else None,
        'mechanism': auth.get('mechanism') or ('xoauth2' if method == 'oauth2' else None),
        'oauth2': oauth2,
    }


def _effective_sender(sender: dict, product: str) -> Sender:
    from_name = sender.get('from_name')
    if from_name is None and product == 'confluence':
        from_name = '${fullname} (Confluence)'
    return {
        'from_address': sender['from_address'],
        'from_name': from_name,
        'subject_prefix': sender.get('subject_prefix'),
        'noreply_address': sender.get('noreply_address'),
        'discard_to_noreply': sender.get('discard_to_noreply', False),
        'support': sender.get('support'),
    }


def _effective_test(test: dict) -> Test:
    max_age = test.get('max_age', '30d')
    return {
        'recipients': list(test.get('recipients', [])),
        'max_age': max_age,
        'max_age_seconds': parse_duration(max_age),
        'user': {
            'fullname': _get(test, ('user', 'fullname')),
            'email': _get(test, ('user', 'email')),
        },
    }


def _effective_dns(dns: dict, product: str) -> Dns:
    return {
        'check_mx': dns.get('check_mx', True),
        'check_spf': dns.get('check_spf', True),
        'check_dmarc': dns.get('check_dmarc', True),
        'check_ptr': dns.get('check_ptr', False),
        'check_ghes_reply': dns.get('check_ghes_reply', product == 'ghes'),
        'sending_ips': list(dns.get('sending_ips', [])),
        'nameservers': list(dns.get('nameservers', [])),
        'port': dns.get('port', 53),
        'expect': [dict(e, contains=e.get('contains')) for e in dns.get('expect', [])],
    }


def effective_settings(document: t.Any) -> Validation:
    """Validate one settings document and return its effective settings, errors and warnings.

    Never raises for bad input: every problem comes back as a Finding with a JSON path.
    """
    if document is None or document == {}:
        return Validation(None, [Finding('$', 'the settings document is empty',
                                         'give at least product, server.host and sender.from_address')])
    if not isinstance(document, dict):
        return Validation(None, [Finding('$', f'the settings document must be a mapping, got a {_python_type(document)}',
                                         'a YAML/JSON object with product, server, auth, sender, ...')])
    deep = _too_deep(document)
    if deep is not None:
        parts, depth = deep
        return Validation(None, [Finding(json_path(parts[:_MAX_DEPTH + 1]),
                                         f'nested {depth} levels deep, more than the {_MAX_DEPTH} a settings document may have',
                                         'a settings document is a few levels deep; check the YAML indentation')])
    doc = _compact(document)
    errors, faulty = ([], []) if _quick_valid(doc, schema()) else _schema_findings(doc)
    warnings: list[Finding] = []
    if errors:
        # Report the semantic problems of the rest of the document in the same run, where the
        # document without the rejected values is schema-valid.
        pruned = _prune(doc, faulty)
        if pruned is not None and _quick_valid(_compact(pruned), schema()) or (
                pruned is not None and not _schema_findings(_compact(pruned))[0]):
            seen = {f.path for f in errors}
            more: list[Finding] = []
            _semantic_findings(_compact(pruned), more, warnings)
            errors.extend(f for f in _first_per_path(more) if f.path not in seen)
        return Validation(None, errors, warnings)
    _semantic_findings(doc, errors, warnings)
    errors = _first_per_path(errors)
    if not errors:
        effective = _effective(doc)
        if not effective['server']['host']:
            errors.append(Finding('$.server.host', 'required field is missing',
                                  'set server.host, or a provider preset that supplies it'))
    if errors:
        return Validation(None, errors, warnings)
    return Validation(effective, [], warnings)


def load_effective(document: t.Any) -> EffectiveSettings:
    """Effective settings of a raw or already-effective document; SettingsError when invalid."""
    result = effective_settings(document)
    if result.errors or result.effective is None:  # no effective settings without an error
        raise SettingsError(result.errors)
    return result.effective


def _secret_leaves(document: t.Any) -> t.Iterator[t.Any]:
    """Every scalar under a secret-looking key (or a known secret path), at any depth, without recursion."""
    # Every name in SECRET_PATHS looks secret, so the key test alone covers the known fields.
    stack: list[tuple[t.Any, bool]] = [(document, False)]
    while stack:
        value, secret = stack.pop()
        # Pushed in reverse, so the values come out in document order.
        if isinstance(value, dict):
            stack.extend(reversed([(item, secret or looks_secret(key)) for key, item in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(item, secret) for item in value]))
        elif secret:
            yield value


def secret_values(document: t.Any) -> list[str]:
    """The secrets a document carries, for registering with Ansible's no_log machinery.

    The known secret fields, and every value under a key that looks like a secret, known to the
    schema or not, as text (a numeric password is echoed as a number).
    """
    values: list[str] = []
    seen: set[str] = set()
    for value in _secret_leaves(document):
        if isinstance(value, bool) or value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if text and text != REDACTED and text not in seen:
            seen.add(text)
            values.append(text)
    return values


def redact(document: t.Any) -> t.Any:
    """A deep copy with every secret (known field or secret-looking key) replaced by REDACTED."""
    copied = copy.deepcopy(document)
    for parts in SECRET_PATHS:
        parent = _get(copied, parts[:-1])
        if isinstance(parent, dict) and parent.get(parts[-1]) is not None:
            parent[parts[-1]] = REDACTED
    stack = [copied]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if looks_secret(key) and item is not None and not isinstance(item, bool):
                    value[key] = REDACTED
                else:
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return copied
