# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of mail_info: read a host back into the settings model, without changing anything.

Each source is read with the parser its render module uses (tomcat.read_resources on top of the
editor's own tokenizer, PropertiesFile, bitbucket.read_current, GhesApi.read_smtp, the JVM-free
keystore reader), mapped back by readback.py, and compared by drift.py against what render would
write. Only GET requests are made and no file is opened for writing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import time
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import read_bytes
from ansible_collections.mailwright.smtp.plugins.module_utils._info import readback
from ansible_collections.mailwright.smtp.plugins.module_utils._info.drift import compare
from ansible_collections.mailwright.smtp.plugins.module_utils._info.readback import Reading
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.marker import (
    MarkerError,
    default_marker_path,
    fingerprint,
    key_path_for,
    marker_age,
    read_key,
    read_marker,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import (
    SendOptions,
    fingerprint_material,
    recipients_of,
    settings_fingerprint,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render import bitbucket, ghes
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    PropertiesError,
    PropertiesFile,
    managed_keys,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import read_resources, resource_attributes
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import REDACTED

__all__ = ['DEFAULT_JNDI_NAMES', 'read_info', 'read_jvm_options', 'read_truststore']

DEFAULT_JNDI_NAMES = {'jira': 'mail/JiraMailServer', 'confluence': 'mail/ConfluenceMailServer', 'generic': 'mail/Session'}
_ALWAYS_UNKNOWN = ('$.name', '$.description', '$.provider', '$.test', '$.dns')
_JVM_OPTION = re.compile(r'''-D([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|'[^']*'|(?:[^\s"'\\]|\\.)+)''')


class InfoError(MailwrightError):
    kind = 'file'


def _read_file(path: str, option: str) -> bytes:
    data = _read_if_there(path, option)
    if data is None:
        raise InfoError(f'{option} {path}: no such file', step='info')
    return data


def _read_if_there(path: str, option: str) -> bytes | None:
    """The file's bytes, None when it does not exist (yet): a state to report, not a failure."""
    try:
        return read_bytes(path)
    except OSError as exc:
        raise InfoError(f'{option} {path}: cannot read it: {exc.strerror}', step='info') from None


def _world_readable(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IROTH)
    except OSError:
        return False


# --- sources ----------------------------------------------------------------------------------

def _pick_resource(resources: list[dict[str, t.Any]], product: str, effective: t.Mapping[str, t.Any] | None,
                   where: str, findings: list[dict[str, str]]) -> dict[str, t.Any] | None:
    names: dict[str, int] = {}
    for resource in resources:
        names[str(resource['name'])] = names.get(str(resource['name']), 0) + 1
    for name, count in names.items():
        if count > 1:
            findings.append({'kind': 'duplicate_resource', 'where': where,
                             'message': f'{where}: {count} <Resource name="{name}"> elements in one Context; Tomcat '
                                        'binds one of them, which one depends on the version'})
    jndi = (effective or {}).get('server', {}).get('jndi') if effective else None
    wanted = (jndi or {}).get('name') or DEFAULT_JNDI_NAMES.get(product)
    chosen = [r for r in resources if r['name'] == wanted]
    if not chosen:
        # the one mail session under another name is still what the application would look up wrongly
        chosen = [r for r in resources if str(r['attrib'].get('type', '')).endswith('mail.Session')]
        if len(chosen) > 1 and effective is not None:
            chosen = []
        elif len(chosen) > 1:
            findings.append({'kind': 'ambiguous_resource', 'where': where,
                             'message': f'{where}: several mail Resources ({", ".join(r["name"] for r in chosen)}); '
                                        'read the first; give settings to choose by server.jndi.name'})
    return chosen[0] if chosen else None


def _tomcat_source(params: t.Mapping[str, t.Any], product: str, effective, findings) -> tuple[Reading, t.Callable]:
    path = params['server_xml']
    data = _read_file(path, 'server_xml')
    context, resources, _contexts = read_resources(data, path, context_path=params.get('context_path'),
                                                   doc_base=params.get('doc_base'))
    where = f'{path} {context}'
    resource = _pick_resource(resources, product, effective, where, findings)
    if resource is None:
        reading = Reading()
        reading.note('missing', f'{where}: no mail <Resource> found', where)
        reading.unknown.append('$.server')
        reading.unknown.append('$.sender')
        reading.unknown.append('$.auth')
    else:
        reading = readback.from_resource(resource['attrib'], where=f'{path}:{resource["line"]}')
        if 'password' in resource['attrib'] and _world_readable(path):
            findings.append({'kind': 'world_readable_secret', 'where': path,
                             'message': f'{path} holds the relay password and is readable by every user'})

    def expected(eff) -> Reading:
        return readback.from_resource(resource_attributes(dict(eff)), where='(desired)')
    return reading, expected


_PROPERTY_READERS = {'javamail': readback.from_javamail_file, 'spring': readback.from_spring,
                     'bitbucket': readback.from_bitbucket_properties}


def _properties_source(params: t.Mapping[str, t.Any], product: str, findings) -> tuple[Reading, t.Callable]:
    path = params['properties_path']
    flavour = params.get('flavour') or ('bitbucket' if product == 'bitbucket' else 'javamail')
    data = _read_if_there(path, 'properties_path')
    if data is None:
        findings.append({'kind': 'missing', 'where': path, 'message': f'{path} does not exist'})
    try:
        props = PropertiesFile((data or b'').decode('iso-8859-1')).as_dict()
    except PropertiesError as exc:
        raise InfoError(f'properties_path {path}: {exc}', kind='invalid', step='info') from None
    reader = _PROPERTY_READERS[flavour]
    reading = reader(props, where=path)
    if flavour == 'spring' and props.get('spring.mail.password') and _world_readable(path):
        findings.append({'kind': 'world_readable_secret', 'where': path,
                         'message': f'{path} holds the relay password (spring.mail.password) and is readable by every user'})

    def expected(eff) -> Reading:
        return reader(managed_keys(dict(eff), flavour).values, where='(desired)')
    return reading, expected


def _api_params(params: t.Mapping[str, t.Any], product: str) -> dict[str, t.Any]:
    out = {k: params.get(k) for k in ('url', 'url_username', 'url_password', 'token', 'validate_certs', 'ca_path', 'timeout')}
    if product == 'ghes' and not out['url_username'] and not out['token']:
        out['url_username'] = 'api_key'
    return out


def _bitbucket_source(params, wire_secrets: set[str]) -> tuple[Reading, t.Callable]:
    client = bitbucket.client_for(_api_params(params, 'bitbucket'))
    try:
        config = bitbucket.read_current(client)
    finally:
        wire_secrets.update(client.secrets)
    reading = readback.from_bitbucket_api(config, where=params['url'])

    def expected(eff) -> Reading:
        return readback.from_bitbucket_api(bitbucket.desired_config(eff), where='(desired)')
    return reading, expected


def _ghes_source(params, wire_secrets: set[str]) -> tuple[Reading, t.Callable]:
    client = ghes.client_for(_api_params(params, 'ghes'))
    api = ghes.GhesApi(client, params.get('api') or 'manage')
    try:
        smtp = api.read_smtp()
    finally:
        wire_secrets.update(client.secrets)
    if smtp and ghes.readable_password(smtp):
        wire_secrets.add(str(smtp['password']))
    reading = readback.from_ghes_smtp(smtp, where=params['url'])

    def expected(eff) -> Reading:
        return readback.from_ghes_smtp(ghes.desired_smtp(eff), where='(desired)')
    return reading, expected


# --- JVM options, truststore, proof -----------------------------------------------------------

def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
        value = value[1:-1]
    return re.sub(r'\\(.)', r'\1', value).strip("'")


def read_jvm_options(path: str, findings: list[dict[str, str]]) -> dict[str, t.Any]:
    """The truststore options and every -Dmail.* override in a JVM options file (setenv.sh)."""
    data = _read_if_there(path, 'jvm_options_file')
    if data is None:
        findings.append({'kind': 'missing', 'where': path, 'message': f'{path} does not exist: no JVM options are set there'})
    text = (data or b'').decode('utf-8', errors='replace')
    options: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith('#'):
            continue
        for match in _JVM_OPTION.finditer(line):
            options[match.group(1)] = _unquote(match.group(2))
    overrides = sorted(k for k in options if k.startswith('mail.'))
    for key in overrides:
        findings.append({'kind': 'jvm_override', 'where': path,
                         'message': f'{path}: -D{key} overrides what the mail session sets (JavaMail reads system '
                                    'properties first for some keys; Jira reads -Dmail.smtp.host/port over its form)'})
    password = options.get('javax.net.ssl.trustStorePassword')
    if password and _world_readable(path):
        findings.append({'kind': 'world_readable_secret', 'where': path,
                         'message': f'{path} holds the truststore password and is readable by every user'})
    return {'path': path, 'truststore_path': options.get('javax.net.ssl.trustStore'),
            'truststore_type': (options.get('javax.net.ssl.trustStoreType') or '').lower() or None,
            'store_password': password, 'mail_overrides': overrides}


def _relay_names(cert: dict[str, t.Any]) -> list[str]:
    names = [str(n).lower() for n in cert.get('sans') or []]
    match = re.search(r'CN=([^,]+)', str(cert.get('subject') or ''))
    if match:
        names.append(match.group(1).strip().lower())
    return names


def _matches_host(names: list[str], host: str) -> bool:
    host = host.lower()
    return any(n == host or (n.startswith('*.') and host.endswith(n[1:]) and host.count('.') == n.count('.'))
               for n in names)


def read_truststore(path: str, password: str | None, *, relay: str | None, keytool: str | None,
                    findings: list[dict[str, str]], now: dt.datetime | None = None) -> dict[str, t.Any]:
    """Entries of a Java truststore, JVM-free where the format allows (JKS without a password)."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import describe_certificate
    from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import (
        Keytool,
        KeytoolError,
        detect_store_type,
        read_store,
    )

    if _read_if_there(path, 'truststore_path') is None:
        findings.append({'kind': 'missing', 'where': path, 'message': f'the truststore {path} does not exist'})
        return {'path': path, 'store_type': None, 'entries': [], 'missing': True}
    try:
        store_type = detect_store_type(path)
    except ValueError as exc:
        raise InfoError(f'truststore_path: {exc}', kind='invalid', step='info') from None
    entries = read_store(path, password, store_type)
    if entries is None and password is not None:
        try:
            entries = Keytool(keytool or 'keytool').list_entries(path, password, store_type)
        except KeytoolError as exc:
            raise InfoError(f'truststore_path {path}: {exc.message}', kind=exc.kind, step='info') from None
    if entries is None:
        raise InfoError(f'truststore_path {path}: a {store_type} store whose certificates cannot be read without '
                        'store_password; give store_password', kind='invalid', step='info')
    now = now or dt.datetime.now(dt.timezone.utc)
    listed = []
    for entry in entries:
        if entry.der is None:
            continue
        cert = describe_certificate(entry.der, now=now)
        listed.append({'alias': entry.alias, 'type': entry.entry_type, 'subject': cert['subject'],
                       'issuer': cert['issuer'], 'sha256': cert['sha256'], 'not_after': cert['not_after'],
                       'days_left': cert['days_left']})
        if relay and cert['expired'] and (_matches_host(_relay_names(cert), relay)
                                          or entry.alias == 'mailwright-' + relay.lower()):
            findings.append({'kind': 'expired_certificate', 'where': f'{path} alias {entry.alias}',
                             'message': f'the relay certificate for {relay} in {path} (alias {entry.alias}) expired '
                                        f'on {cert["not_after"]}'})
    return {'path': path, 'store_type': store_type, 'entries': listed}


def _proof(marker_path: str, effective: t.Mapping[str, t.Any] | None, params: t.Mapping[str, t.Any],
           now: float) -> dict[str, t.Any]:
    view: dict[str, t.Any] = {'marker_path': marker_path, 'found': False, 'time': None, 'age_seconds': None,
                              'message_id': None, 'proves_settings': None, 'current': False}
    try:
        marker = read_marker(marker_path)
    except MarkerError as exc:
        view['error'] = exc.message
        return view
    if marker is None:
        return view
    age = marker_age(marker, now)
    view.update(found=True, time=marker.get('time'), message_id=marker.get('message_id'),
                age_seconds=None if age is None else int(age), relay=marker.get('relay'))
    if effective is None:
        return view
    try:
        key = read_key(key_path_for(marker_path))
    except MarkerError as exc:
        view['error'] = exc.message
        key = None
    if key is None:
        view['proves_settings'] = False
        return view
    options = SendOptions(ca_path=params.get('test_send_ca_path'),
                          validate_certs=params.get('test_send_validate_certs', True))
    material = fingerprint_material(dict(effective), recipients_of(dict(effective)), options)
    if marker.get('settings_fingerprint'):
        # what the settings decide, whichever client and truststore the test send used
        view['proves_settings'] = settings_fingerprint(key, material) == marker['settings_fingerprint']
    else:  # a marker written before settings_fingerprint existed
        view['proves_settings'] = fingerprint(key, material) == marker.get('fingerprint')
    max_age = effective['test']['max_age_seconds']
    view['current'] = bool(view['proves_settings']) and age is not None and age <= max_age
    return view


# --- the run ----------------------------------------------------------------------------------

def _readings(params, product, effective, findings, wire_secrets) -> list[tuple[str, Reading, t.Callable]]:
    sources: list[tuple[str, Reading, t.Callable]] = []
    if params.get('server_xml'):
        reading, expected = _tomcat_source(params, product, effective, findings)
        sources.append(('server_xml', reading, expected))
    if product == 'bitbucket' and params.get('url'):
        reading, expected = _bitbucket_source(params, wire_secrets)
        sources.append(('api', reading, expected))
    if product == 'ghes' and params.get('url'):
        reading, expected = _ghes_source(params, wire_secrets)
        sources.append(('api', reading, expected))
    if params.get('properties_path'):
        reading, expected = _properties_source(params, product, findings)
        sources.append(('properties', reading, expected))
    return sources


def read_info(params: t.Mapping[str, t.Any], effective: t.Mapping[str, t.Any] | None, *,
              check_mode: bool = False, wire_secrets: set[str] | None = None,
              now: float | None = None) -> dict[str, t.Any]:
    """The module result: current, unknown, truststore, proof, drift, findings."""
    wire_secrets = wire_secrets if wire_secrets is not None else set()
    product = (effective or {}).get('product') or params.get('product')
    if not product:
        raise MailwrightError('give product (or settings, whose product is used)', kind='invalid', step='info')
    if effective is not None and params.get('product') and params['product'] != effective['product']:
        raise MailwrightError(f'product {params["product"]} but the settings are for {effective["product"]}',
                              kind='invalid', step='info')
    findings: list[dict[str, str]] = []
    sources = _readings(params, product, effective, findings, wire_secrets)
    current = readback.merge(product, [s[1] for s in sources], unknown=_ALWAYS_UNKNOWN)
    findings.extend(current.notes)
    for secret in current.secrets.values():
        wire_secrets.add(secret)
    jvm = None
    if params.get('jvm_options_file'):
        jvm = read_jvm_options(params['jvm_options_file'], findings)
        if jvm['store_password']:
            wire_secrets.add(jvm['store_password'])
    server = current.doc.get('server') or {}
    relay = server.get('host') or (effective or {}).get('server', {}).get('host')
    truststore = None
    store_path = params.get('truststore_path') or (jvm or {}).get('truststore_path')
    if store_path:
        password = params.get('store_password') or (jvm or {}).get('store_password')
        truststore = read_truststore(store_path, password, relay=relay, keytool=params.get('keytool'), findings=findings)
    now = time.time() if now is None else now
    marker_path = params.get('marker_path')
    basis = effective['server'] if effective else server
    if not marker_path and basis.get('host') and basis.get('port'):
        marker_path = default_marker_path(product, basis['host'], basis['port'])
    proof = _proof(marker_path, effective, params, now) if marker_path else None
    drift = None
    if effective is not None:
        try:
            expected = readback.merge(product, [s[2](effective) for s in sources], unknown=_ALWAYS_UNKNOWN)
        except (MailwrightError, ValueError) as exc:
            raise MailwrightError(f'the settings cannot be rendered for this host, so nothing can be compared: {exc}',
                                  kind='invalid', step='info') from None
        drift = compare(current, expected, effective)
    result: dict[str, t.Any] = {
        'changed': False,
        'check_mode': check_mode,
        'product': product,
        'sources': [name for name, _reading, _expected in sources],
        'current': current.doc,
        'unknown': current.unknown + [p for p in current.maybe if p not in current.unknown],
        'truststore': truststore,
        'jvm_options': None if jvm is None else {k: (REDACTED if k == 'store_password' and v else v)
                                                 for k, v in jvm.items()},
        'proof': proof,
        'findings': findings,
    }
    if drift is not None:
        result['drift'] = drift
    return result
