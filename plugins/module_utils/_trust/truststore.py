# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of the truststore_cert module: fetch or read certificates, plan, apply with keytool.

ensure_truststore() takes the option values, the loaded settings and a small host (TrustHost: the
task's file attributes and applying them), returns the result and raises TruststoreError; it never
sees the AnsibleModule, so the unit tests drive a whole run with a stand-in host.

The plan is computed from keytool's listing and SHA-256 fingerprints only, so a re-run with the
same certificate changes nothing. Changes are made by keytool on a private copy of the store in
the store's own directory; the real store is replaced in one rename only after every keytool
step succeeded, so a failure (wrong password, bad certificate, timeout) leaves it byte-identical.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._trust.jvm_options import (
    DEFAULT_VARIABLE as DEFAULT_JVM_OPTIONS_VARIABLE,
    BlockResult,
    JvmOptionsError,
    apply_block,
    check_value,
    check_shell_safe,
    check_variable,
    compile_insert_after,
    redact_block_text,
    render_block,
    secret_forms,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import (
    Entry,
    Keytool,
    KeytoolError,
    detect_store_type,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import TaskFileHost
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import sha256_fingerprint, walk_chain
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import timeout_seconds

__all__ = [
    'Action',
    'TruststoreError',
    'default_alias',
    'chain_aliases',
    'select_certificates',
    'plan_actions',
    'apply_plan_to_entries',
    'entries_summary',
    'certificates_from_pem',
    'CERTIFICATE_CHOICES',
    'DEFAULT_JVM_OPTIONS_VARIABLE',
    'TrustHost',
    'jvm_options_secrets',
    'ensure_truststore',
    'SEED_CHOICES',
    'seed_of',
]

CERTIFICATE_CHOICES = ('leaf', 'root', 'chain')
DEFAULT_NEW_STORE_MODE = 0o644  # like the JRE's cacerts: public certificates, readable by the app user
DEFAULT_NEW_JVM_OPTIONS_MODE = 0o640  # the JVM options file holds the store password


class TruststoreError(MailwrightError):
    """An expected failure with a message a person can act on; `details` go into the result.

    `kind` defaults to 'invalid'; raise sites name another (file, tls, conflict, tool, ...).
    """


@dataclass(frozen=True)
class Action:
    action: str             # 'add' | 'replace' | 'remove'
    alias: str
    sha256_before: str | None
    sha256_after: str | None
    der: bytes | None = None  # the certificate to import (add / replace)
    reason: str | None = None  # replace: why the rotation policy accepted it

    def to_dict(self) -> dict[str, t.Any]:
        return {'action': self.action, 'alias': self.alias,
                'sha256_before': self.sha256_before, 'sha256_after': self.sha256_after}

    def certificate(self) -> bytes:
        """The DER to import; every add and replace carries one (plan() makes them so)."""
        if self.der is None:
            raise ValueError(f'{self.action} {self.alias}: the action carries no certificate')
        return self.der


def default_alias(host: str) -> str:
    """mailwright-<host>; keytool lower-cases aliases, so we do too (JKS and PKCS12 alike)."""
    return 'mailwright-' + host.strip().rstrip('.').lower()


def chain_aliases(alias: str, count: int) -> list[str]:
    """alias, alias-1, alias-2, ... for a chain of `count` certificates (leaf first)."""
    return [alias] + [f'{alias}-{i}' for i in range(1, count)]


def select_certificates(chain: list[bytes], which: str) -> list[bytes]:
    """The certificate(s) to trust out of a presented chain (leaf first)."""
    if not chain:
        raise TruststoreError('no certificate to import: the source presented an empty chain')
    if which == 'leaf':
        return [chain[0]]
    if which == 'root':
        return [chain[-1]]
    if which == 'chain':
        return list(chain)
    raise TruststoreError(f'certificate must be one of {", ".join(CERTIFICATE_CHOICES)}, not {which!r}')


def _alias_key(alias: str) -> str:
    return alias.lower()


def _chains_to(der: bytes, intermediates: list[bytes], anchors: dict[bytes, str], *,
               now: dt.datetime | None = None) -> str | None:
    """The name of the anchor `der` verifies against (signatures, CA flags, validity now), through
    CA certificates of `intermediates` (the presented chain); None when it does not."""
    return walk_chain(der, intermediates, anchors, now=now)['anchor']


def _certificate_facts(der: bytes | None) -> dict[str, t.Any]:
    if der is None:
        return {}
    info = _describe(der)
    return {'subject': info['subject'], 'issuer': info['issuer'], 'not_after': info['not_after'],
            'sha256': info['sha256']}


def _rotation_reason(der: bytes, *, entries: list[Entry], presented: list[bytes],
                     pinned: str | None, pinned_der: bytes | None, allow_replace: bool) -> str | None:
    """Why a changed certificate under an existing alias may replace the old one, or None.

    The rotation policy: the pin decides when there is one (the new certificate is the pinned one, or
    is issued by it, or issues it); without one, the new certificate must verify against a CA the
    store already trusts, under any alias, the old entry included (the JVM already trusts it, so the
    replacement grants no new trust); otherwise only allow_replace accepts it.
    """
    new_fp = sha256_fingerprint(der)
    if pinned:
        if new_fp == pinned:
            return 'it is the certificate pinned by fingerprint'
        if pinned_der is not None and _chains_to(der, presented, {pinned_der: 'pinned'}):
            return 'it is issued by the certificate pinned by fingerprint'
        if pinned_der is not None and _chains_to(pinned_der, presented, {der: 'new'}):
            return 'it issued the certificate pinned by fingerprint'
    anchors: dict[bytes, str] = {}
    for entry in entries:
        if entry.trusted and entry.der is not None:
            anchors.setdefault(entry.der, entry.alias)
    anchor = _chains_to(der, presented, anchors)
    if anchor is not None:
        return f'it verifies against the CA certificate the store trusts under alias {anchor}'
    if allow_replace:
        return 'allow_replace is true'
    return None


def plan_actions(entries: list[Entry], *, state: str, alias: str, wanted: list[bytes] | None = None,
                 chain_mode: bool = False, presented: list[bytes] | None = None, pinned: str | None = None,
                 allow_replace: bool = False) -> list[Action]:
    """What must change so the store holds `wanted` under alias (alias-1, ...) or nothing there.

    Only our aliases are considered; every other entry is left alone. In chain mode, numbered
    aliases beyond the current chain (alias-3 after the chain shrank to 2) are removed too.

    A different certificate under an existing alias is a rotation, accepted only by the policy of
    _rotation_reason (`presented` is the whole chain the source presented, `pinned` the normalised
    fingerprint option); a refused one fails the plan with both certificates described.
    """
    by_alias = {_alias_key(e.alias): e for e in entries}
    actions: list[Action] = []
    ours: list[str] = []
    refused: list[dict[str, t.Any]] = []
    presented = list(presented if presented is not None else (wanted or []))
    pinned_der = next((d for d in presented + list(wanted or []) if pinned and sha256_fingerprint(d) == pinned), None)
    if state == 'present':
        ours = chain_aliases(alias, len(wanted or []))
        for name, der in zip(ours, wanted or []):
            current = by_alias.get(_alias_key(name))
            new_fp = sha256_fingerprint(der)
            if current is None:
                actions.append(Action('add', name, None, new_fp, der))
                continue
            if not current.trusted:
                raise TruststoreError(
                    f'alias {name!r} holds a {current.entry_type}, not a trusted certificate; refusing to '
                    'replace it (it may be a server key). Choose another alias.', kind='conflict', alias=name)
            if current.sha256 != new_fp:
                reason = _rotation_reason(der, entries=entries, presented=presented, pinned=pinned,
                                          pinned_der=pinned_der, allow_replace=allow_replace)
                if reason is None:
                    refused.append({'alias': name, 'old': _certificate_facts(current.der), 'new': _certificate_facts(der)})
                    continue
                actions.append(Action('replace', name, current.sha256, new_fp, der, reason=reason))
    else:
        current = by_alias.get(_alias_key(alias))
        if current is not None:
            if not current.trusted:
                raise TruststoreError(f'alias {alias!r} holds a {current.entry_type}, not a trusted '
                                      'certificate; refusing to remove it.', kind='conflict', alias=alias)
            actions.append(Action('remove', current.alias, current.sha256, None))
    if refused:
        described = '; '.join(
            f'alias {r["alias"]}: stored {r["old"].get("sha256")} ({r["old"].get("subject")}, not after '
            f'{r["old"].get("not_after")}), presented {r["new"]["sha256"]} ({r["new"]["subject"]}, not after '
            f'{r["new"]["not_after"]})' for r in refused)
        raise TruststoreError(
            f'the certificate presented for an existing alias differs from the stored one and does not verify '
            f'against a CA certificate the store already trusts ({described}); nothing was changed. This is what '
            'a man in the middle looks like, and also what a renewed self-signed or re-issued certificate looks '
            'like: compare the new fingerprint with the one the relay\'s administrator gives you, then set '
            'fingerprint to it (or allow_replace=true to accept any new certificate once).',
            kind='conflict', refused=refused)
    if chain_mode:
        numbered = re.compile(re.escape(_alias_key(alias)) + r'-(\d+)$')
        keep = {_alias_key(a) for a in ours}
        for entry in sorted(entries, key=lambda e: e.alias):
            if numbered.match(_alias_key(entry.alias)) and _alias_key(entry.alias) not in keep and entry.trusted:
                actions.append(Action('remove', entry.alias, entry.sha256, None))
    return actions


def apply_plan_to_entries(entries: list[Entry], actions: list[Action]) -> list[Entry]:
    """The listing the store will have after `actions` (for check mode and the diff)."""
    result = {_alias_key(e.alias): e for e in entries}
    for action in actions:
        key = _alias_key(action.alias)
        if action.action == 'remove':
            result.pop(key, None)
        else:
            result[key] = Entry(alias=key, entry_type='trustedCertEntry', certificates=(action.certificate(),))
    return sorted(result.values(), key=lambda e: e.alias)


def entries_summary(entries: list[Entry]) -> str:
    """One 'alias: SHA256' line per entry, sorted: what --diff shows instead of keystore bytes."""
    lines = []
    for entry in sorted(entries, key=lambda e: e.alias):
        suffix = '' if entry.trusted else f' ({entry.entry_type})'
        lines.append(f'{entry.alias}: {entry.sha256 or "-"}{suffix}')
    return '\n'.join(lines) + ('\n' if lines else '')


def certificates_from_pem(data: bytes | str, *, where: str) -> list[bytes]:
    """DER certificates from PEM text (a bundle, leaf first) or from one DER certificate."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import pem_to_der_list

    raw = data.encode('utf-8') if isinstance(data, str) else data
    if b'-----BEGIN CERTIFICATE-----' in raw:
        try:
            certs = pem_to_der_list(raw)
        except ValueError as exc:
            raise TruststoreError(f'{where}: not a valid PEM certificate: {exc}') from None
    elif raw[:1] == b'\x30':  # a single DER certificate
        certs = [raw]
    else:
        raise TruststoreError(f'{where}: no "-----BEGIN CERTIFICATE-----" block and not a DER certificate')
    if not certs:
        raise TruststoreError(f'{where}: no certificate found')
    return certs


# --- the backend -------------------------------------------------------------------------------

# What the backend needs from Ansible, and nothing more: the task's file attributes for a path and
# applying them. AnsibleModule is one; the unit tests pass a stand-in, so a whole run needs no Ansible.
TrustHost = TaskFileHost


@dataclass
class _Run:
    """One run's plain inputs: the option values, the host, the run mode; warnings collect here."""

    params: t.Mapping[str, t.Any]
    host: TrustHost
    check_mode: bool = False
    diff: bool = False
    secrets: t.Sequence[str] = ()
    warnings: list[str] = field(default_factory=list)

    def file_args(self, path: str) -> dict[str, t.Any]:
        return self.host.load_file_common_arguments(self.params, path=path)


def jvm_options_secrets(params: t.Mapping[str, t.Any]) -> list[str]:
    """Every form of the store password the JVM options file holds, for the module to register first.

    The file holds the password quoted for the shell: Ansible must scrub those forms from any output too.
    """
    if params.get('state', 'present') != 'present' or not params.get('jvm_options_file'):
        return []
    return list(secret_forms(params['store_password']))


def ensure_truststore(params: t.Mapping[str, t.Any], effective: dict[str, t.Any] | None, *, host: TrustHost,
                      check_mode: bool = False, diff: bool = False, secrets: t.Sequence[str] = ()) -> dict[str, t.Any]:
    """Everything truststore_cert does: returns the result, raises TruststoreError (or another
    MailwrightError) carrying the warnings made before the failure.

    `params` are the module's option values (file attributes included, for host); `effective` the
    loaded settings or None; `secrets` the values already registered, scrubbed from transcripts too.
    """
    run = _Run(params, host, check_mode=check_mode, diff=diff, secrets=list(secrets))
    try:
        result = _run(run, effective)
    except MailwrightError as exc:
        exc.warnings = run.warnings + list(exc.warnings)
        raise
    result['warnings'] = run.warnings
    return result


def _describe(der: bytes) -> dict[str, t.Any]:
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import describe_certificate

    try:
        return describe_certificate(der)
    except ValueError as exc:
        raise TruststoreError(f'cannot read the certificate: {exc}') from None


def _smtp_kind(exc) -> str:
    """The error kind of a failed certificate fetch, from the SMTP step (never from the message)."""
    if exc.kind == 'policy':
        return 'policy'
    if exc.step == 'tls':
        return 'tls'
    return 'server' if exc.code is not None else 'network'


def _fetch_chain(run: _Run, effective: dict | None) -> tuple[list[bytes], dict[str, t.Any]]:
    """The chain from pem_path / pem_content, or presented by the SMTP server in the settings."""
    params = run.params
    if params['pem_path']:
        try:
            with open(params['pem_path'], 'rb') as handle:
                data = handle.read()
        except OSError as exc:
            raise TruststoreError(f'cannot read pem_path {params["pem_path"]}: {exc.strerror}', kind='file') from None
        return certificates_from_pem(data, where=params['pem_path']), {'pem_path': params['pem_path']}
    if params['pem_content']:
        return certificates_from_pem(params['pem_content'], where='pem_content'), {'pem_content': True}
    server = (effective or {}).get('server') or {}
    host = params['host'] or server.get('host')
    port = params['port'] or server.get('port')
    protocol = server['protocol'] if server else 'smtp'  # no settings: only host and port given
    if not host or not port:
        raise TruststoreError('no certificate source: give settings (with server.host), or pem_path, '
                              'or pem_content')
    if protocol == 'smtp' and server.get('tls') == 'none':
        run.warnings.append('settings say server.tls is none: the application sends in clear text and never '
                            'consults the truststore; importing the certificate anyway (fetched over STARTTLS)')
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import (
        SMTPStepError,
        Transcript,
        fetch_peer_chain,
    )

    # No AUTH happens while fetching, but scrub the settings' secrets anyway: defence in depth.
    transcript = Transcript(secrets=list(run.secrets))
    try:
        chain = fetch_peer_chain(host, int(port), protocol=protocol, helo=server.get('helo_domain'),
                                 timeout=params['timeout'] or timeout_seconds(server or None), server_hostname=host,
                                 transcript=transcript)
    except SMTPStepError as exc:
        how = 'SMTPS' if protocol == 'smtps' else 'STARTTLS'
        raise TruststoreError(f'cannot fetch the certificate of {host}:{port} over {how}: {exc}', kind=_smtp_kind(exc),
                              smtp_error=exc.to_dict(), transcript=list(transcript.lines)) from None
    return chain, {'host': host, 'port': int(port), 'protocol': protocol,
                   'method': 'smtps' if protocol == 'smtps' else 'starttls'}


def _check_pin(fingerprint: str, chosen: list[bytes], which: str) -> str:
    """The pinned fingerprint, normalised; refuses a chain in which the chosen certificate(s) miss it."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import normalize_fingerprint

    try:
        pinned = normalize_fingerprint(fingerprint)
    except ValueError as exc:
        raise TruststoreError(f'fingerprint is not a SHA-256 fingerprint: {exc}') from None
    found = [sha256_fingerprint(der) for der in chosen]
    if pinned not in found:
        what = 'any certificate of the presented chain' if which == 'chain' else f'the {which} certificate'
        raise TruststoreError(
            f'pinned fingerprint {pinned} does not match {what} ({", ".join(found)}); nothing imported. '
            'If the server certificate was rotated on purpose, update the fingerprint.', kind='tls',
            expected_sha256=pinned, presented_sha256=found)
    return pinned


def _store_type_for(path: str, requested: str) -> tuple[str, bool]:
    """(type to use, exists) for the store at path; refuses a type that contradicts the file."""
    try:
        detected = detect_store_type(path)
    except ValueError as exc:
        raise TruststoreError(str(exc), kind='file') from None
    except OSError as exc:
        raise TruststoreError(f'cannot read {path}: {exc.strerror}', kind='file') from None
    exists = os.path.exists(path)
    if exists and detected is None:
        raise TruststoreError(f'{path} exists but is empty; remove it or point path at a keystore', kind='file')
    if detected is None:
        return ('pkcs12' if requested == 'auto' else requested), False
    if requested != 'auto' and requested != detected:
        raise TruststoreError(f'store_type is {requested} but {path} is a {detected.upper()} keystore; '
                              f'set store_type to {detected} or auto')
    return detected, True


@contextlib.contextmanager
def _directory_lock(directory: str, *, timeout: float, enabled: bool = True):
    """An exclusive flock on the store's directory for the duration of a run (_files.directory_lock)."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import FileSafetyError, directory_lock

    if not enabled or not os.path.isdir(directory):
        yield
        return
    try:
        with directory_lock(directory, timeout=timeout, what=directory):
            yield
    except FileSafetyError as exc:
        raise TruststoreError(exc.message, kind=exc.kind) from None


def _list(keytool: Keytool, path: str, password: str, store_type: str | None, *, fast: bool = False) -> list[Entry]:
    try:
        return keytool.list_entries(path, password, store_type, fast=fast)
    except KeytoolError as exc:
        raise TruststoreError(f'{exc.message} [{path}]', kind=exc.kind, keytool_error=exc.to_dict()) from None


def _work_copy(keytool: Keytool, work: str, *, path: str, directory: str, store_type: str, exists: bool,
               password: str, actions: list[Action], cacerts: str | None, cacerts_password: str) -> list[Entry]:
    """Make the planned changes with keytool on `work` (a copy of the store, or of cacerts); its listing."""
    try:
        if exists:
            try:
                shutil.copyfile(path, work)
            except OSError as exc:
                raise TruststoreError(f'cannot copy {path} to a work copy in {directory}: {exc.strerror}; '
                                      f'{path} was not changed', kind='file') from None
        elif cacerts:
            keytool.copy_store(cacerts, cacerts_password, None, work, password, store_type)
        for action in actions:
            if action.action in ('remove', 'replace'):
                keytool.delete_entry(work, password, store_type, action.alias)
            if action.action in ('add', 'replace'):
                keytool.import_certificate(work, password, store_type, action.alias, action.certificate())
        return keytool.list_entries(work, password, store_type)
    except KeytoolError as exc:
        raise TruststoreError(f'{exc.message}; {path} was not changed', kind=exc.kind,
                              keytool_error=exc.to_dict()) from None


def _apply(run: _Run, keytool: Keytool, *, path: str, store_type: str, exists: bool, password: str,
           actions: list[Action], cacerts: str | None, cacerts_password: str,
           expected: list[Entry]) -> tuple[list[Entry], str | None]:
    """Run the plan on a private copy next to the store, then swap it in. Returns (entries, backup).

    The caller holds the store directory's lock (_directory_lock), so the write takes none.
    """
    from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import (
        FileSafetyError,
        locked_target,
        resolve_target,
    )

    params = run.params
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TruststoreError(f'directory {directory} does not exist; create it first', kind='file')
    # The symlink policy (_files) on the path as given, before keytool does any work.
    try:
        resolved = resolve_target(params['path'])
    except FileSafetyError as exc:
        raise TruststoreError(exc.message, kind=exc.kind) from None
    if resolved != path:
        raise TruststoreError(f'path {params["path"]} changed while the run waited for the lock; '
                              f'{path} was not changed', kind='file')
    try:
        workdir = tempfile.mkdtemp(prefix='.' + os.path.basename(path) + '.mailwright-', dir=directory)
    except OSError as exc:
        raise TruststoreError(f'cannot create a work copy in {directory}: {exc.strerror}', kind='file') from None
    try:
        work = os.path.join(workdir, os.path.basename(path))
        after = _work_copy(keytool, work, path=path, directory=directory, store_type=store_type, exists=exists,
                           password=password, actions=actions, cacerts=cacerts, cacerts_password=cacerts_password)
        # keytool said yes; check it did what we planned before the swap.
        if entries_summary(after) != entries_summary(expected):
            raise TruststoreError(f'keytool produced a different store than planned; {path} was not changed',
                                  kind='tool', planned=entries_summary(expected), got=entries_summary(after))
        mode = None
        if not exists and params.get('mode') is None:
            mode = DEFAULT_NEW_STORE_MODE
        file_args = run.file_args(path)
        try:
            with open(work, 'rb') as handle:
                content = handle.read()
        except OSError as exc:
            raise TruststoreError(f'cannot read the work copy of {path}: {exc.strerror}; {path} was not changed',
                                  kind='file') from None
        try:
            # Re-read under the lock the caller holds: the backup is of the store as it is now.
            with locked_target(params['path'], lock=False) as target:
                backup_file = target.write(run.host, content, mode=mode, backup=params['backup'],
                                           file_args=file_args)
        except FileSafetyError as exc:
            # the temporary file and any partial backup are gone; the rename did not happen.
            raise TruststoreError(f'{exc.message}; {path} was not changed' if 'not changed' not in exc.message
                                  else exc.message, kind=exc.kind) from None
        return after, backup_file
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the JVM options file ---------------------------------------------------------------------

@dataclass(frozen=True)
class _JvmPlan:
    path: str              # the file written (the target when jvm_options_file is a symlink)
    before: str | None     # None: the file does not exist yet
    outcome: BlockResult
    block: str = ''        # the rendered block, applied again if the file changed before the write


def _check_jvm_options(params: t.Mapping[str, t.Any]) -> None:
    """Refuse what the block cannot hold before anything is fetched or written."""
    password = params['store_password']
    variable = params['jvm_options_variable']
    try:
        check_variable(variable)
        check_value(params['path'], 'path')
        check_value(password, 'store_password', secret=True)
        # Only a setenv.sh is known to be read through catalina.sh's eval, where quoting survives:
        # elsewhere a value that is not plain is refused (render_block knows the variable, not the file).
        check_shell_safe(params['path'], 'path', variable=variable, file=params['jvm_options_file'])
        check_shell_safe(password, 'store_password', variable=variable, file=params['jvm_options_file'], secret=True)
        compile_insert_after(params['jvm_options_insert_after'])
    except JvmOptionsError as exc:
        raise TruststoreError(str(exc), kind=exc.kind) from None


def _jvm_options_secret(run: _Run, target, *, warn: bool = True) -> None:
    """The file holds the store password: refuse one every user can read (_files.check_secret_mode)."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import check_secret_mode

    check_secret_mode(run.host, target, what='the truststore password', new_mode=DEFAULT_NEW_JVM_OPTIONS_MODE,
                      allow_world_readable=run.params['allow_world_readable'], warn=warn, warnings=run.warnings)


def _plan_jvm_options(run: _Run, store_type: str) -> _JvmPlan:
    """Read the JVM options file and compute its new text; nothing is written.

    Refusals (symlink policy, a world-readable file) come here, before the store is touched.
    """
    from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import FileSafetyError, locked_target

    params = run.params
    given = params['jvm_options_file']
    try:
        # Like every file the collection writes: a symlink (setenv.sh linked from a shared location)
        # is followed and the link stays, unless a neighbour owns it. No lock here: the caller may
        # hold the store directory's, which can be this one; _write_jvm_options reads it again locked.
        with locked_target(given, option='jvm_options_file', lock=False) as target:
            pass
        if not target.directory_exists:
            raise TruststoreError(f'jvm_options_file {given}: directory {os.path.dirname(target.path)} does not exist; '
                                  'create it first (nothing was written)', kind='file')
        _jvm_options_secret(run, target)
    except FileSafetyError as exc:
        raise TruststoreError(exc.message, kind=exc.kind) from None
    # surrogateescape: any byte outside the block goes back out exactly as it came in.
    before = None if target.data is None else target.data.decode('utf-8', 'surrogateescape')
    try:
        block = render_block(variable=params['jvm_options_variable'], store_path=params['path'],
                             store_password=params['store_password'], store_type=store_type)
        outcome = apply_block(before, block, insert_after=params['jvm_options_insert_after'])
    except JvmOptionsError as exc:
        raise TruststoreError(f'jvm_options_file {given}: {exc}', kind=exc.kind) from None
    return _JvmPlan(target.path, before, outcome, block)


def _jvm_options_diff(params: t.Mapping[str, t.Any], plan: _JvmPlan) -> dict[str, str]:
    secrets = [params['store_password']]
    return {'before_header': plan.path, 'after_header': plan.path,
            'before': redact_block_text(plan.before or '', secrets=secrets, placeholder=REDACTED),
            'after': redact_block_text(plan.outcome.text, secrets=secrets, placeholder=REDACTED)}


def _write_jvm_options(run: _Run, plan: _JvmPlan) -> dict[str, t.Any]:
    """Write the planned block under the file's directory lock, re-planned if the file moved on."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import (
        FileSafetyError,
        fs_attributes,
        locked_target,
    )

    params = run.params
    file_args = run.file_args(plan.path)
    # owner and group name the application's user, who must read this file as well as the store;
    # mode, SELinux context and attributes are the store's and stay off this file.
    file_args.update(mode=None, seuser=None, serole=None, setype=None, selevel=None, attributes=None,
                     secontext=[None] * len(file_args['secontext']))
    if run.check_mode:
        info: dict[str, t.Any] = {'path': plan.path, 'changed': plan.outcome.changed}
        if not plan.outcome.changed and plan.before is not None:
            info['changed'] = run.host.set_fs_attributes_if_different(file_args, False)
        return info
    try:
        with locked_target(params['jvm_options_file'], option='jvm_options_file') as target:
            before = None if target.data is None else target.data.decode('utf-8', 'surrogateescape')
            outcome = plan.outcome
            if target.path != plan.path or before != plan.before:
                # Changed since the plan (another run, an editor): apply the block to what is there now.
                _jvm_options_secret(run, target, warn=False)
                try:
                    outcome = apply_block(before, plan.block, insert_after=params['jvm_options_insert_after'])
                except JvmOptionsError as exc:
                    raise TruststoreError(f'jvm_options_file {params["jvm_options_file"]}: {exc}',
                                          kind=exc.kind) from None
            info = {'path': target.path, 'changed': outcome.changed}
            if outcome.changed:
                mode = DEFAULT_NEW_JVM_OPTIONS_MODE if target.data is None else None
                backup_file = target.write(run.host, outcome.text.encode('utf-8', 'surrogateescape'), mode=mode,
                                           backup=params['backup'], file_args=dict(file_args, path=target.path))
                if backup_file:
                    info['backup_file'] = backup_file
            else:
                info['changed'] = fs_attributes(run.host, target, file_args, False)
    except FileSafetyError as exc:
        raise TruststoreError(exc.message, kind=exc.kind) from None
    return info


# --- one run ----------------------------------------------------------------------------------

def _alias_for(params: t.Mapping[str, t.Any], effective: dict | None) -> str:
    host = params['host'] or ((effective or {}).get('server') or {}).get('host')
    alias = params['alias'] or (default_alias(host) if host else None)
    if not alias:
        raise TruststoreError('alias is required when the source is pem_path or pem_content without settings/host')
    alias = alias.strip().lower()
    if not alias:
        raise TruststoreError('alias must not be empty')
    return alias


def _wanted(run: _Run, effective: dict | None, alias: str, result: dict[str, t.Any]) -> tuple[list[bytes], list[bytes], str | None]:
    """(presented chain, certificates to import, pinned fingerprint) for state=present; fills `result`."""
    params = run.params
    chain, source = _fetch_chain(run, effective)
    result['source'] = source
    result['presented_chain'] = [_describe(der) for der in chain]
    chosen = select_certificates(chain, params['certificate'])
    pinned = _check_pin(params['fingerprint'], chosen, params['certificate']) if params['fingerprint'] else None
    aliases = chain_aliases(alias, len(chosen))
    certificates = []
    for name, der in zip(aliases, chosen):
        info = dict(_describe(der), alias=name)
        certificates.append(info)
        if info['days_left'] < 0:
            run.warnings.append(f'certificate {info["subject"]} (alias {name}) expired on {info["not_after"]}')
        elif info['days_left'] < params['expiry_warning_days']:
            run.warnings.append(f'certificate {info["subject"]} (alias {name}) expires in {info["days_left"]} '
                                f'days ({info["not_after"]})')
    result.update(certificate=certificates[0], certificates=certificates, aliases=aliases)
    return chain, chosen, pinned


SEED_CHOICES = ('cacerts', 'none')


def seed_of(params: t.Mapping[str, t.Any]) -> str:
    """What a new store starts from: 'cacerts', 'none' or a keystore path.

    `seed` decides; the older create_from_cacerts (a bool) and cacerts_path still say the same
    thing in their words, and a contradiction between them and `seed` is refused.
    """
    seed = params.get('seed')
    legacy = params.get('create_from_cacerts')
    if seed is not None and not str(seed).strip():
        raise TruststoreError('seed must be cacerts, none or the path of a keystore, not an empty string')
    if seed is None:
        seed = 'cacerts' if legacy is None or legacy else 'none'
    elif legacy is not None and bool(legacy) != (seed != 'none'):
        raise TruststoreError(f'create_from_cacerts={str(bool(legacy)).lower()} contradicts seed={seed}; '
                              'set seed only (create_from_cacerts is its older spelling)')
    if seed == 'cacerts' and params.get('cacerts_path'):
        return params['cacerts_path']
    return seed


def _seed_path(keytool: Keytool, params: t.Mapping[str, t.Any], seed: str) -> str | None:
    """The keystore a new store is copied from, or None for seed=none; refuses one that is not there."""
    if seed == 'none':
        return None
    if seed == 'cacerts':
        found = keytool.find_cacerts(app_home=params.get('app_home'))
        if not found:
            from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import cacerts_candidates

            looked = ', '.join(cacerts_candidates(keytool.path, app_home=params.get('app_home')))
            raise TruststoreError(f'seed=cacerts: no cacerts found (looked in {looked}); set seed to the path of '
                                  "the JRE's cacerts, or seed=none for a store without the public CAs", kind='file')
        return found
    if not os.path.isfile(seed):
        raise TruststoreError(f'seed {seed}: no such file (give cacerts, none or the path of a keystore)', kind='file')
    return seed


def _seed_diff(entries: list[Entry], *, seeded: list[Entry], source: str) -> str:
    """The new store's summary with the copied entries as one line: 145 CAs are not worth reading."""
    copied = {_alias_key(e.alias): e.sha256 for e in seeded}
    own = [e for e in entries if copied.get(_alias_key(e.alias)) != e.sha256]
    kept = len(entries) - len(own)
    return f'+{kept} entries from {source}\n' + entries_summary(own)


def _other_trusted(entries: list[Entry], managed: t.Iterable[str]) -> int:
    mine = {_alias_key(a) for a in managed}
    return sum(1 for e in entries if e.trusted and _alias_key(e.alias) not in mine)


def _store(run: _Run, keytool: Keytool, *, path: str, alias: str, chain: list[bytes], chosen: list[bytes],
           pinned: str | None, store_type: str, exists: bool, result: dict[str, t.Any]) -> None:
    """Plan and make the store's change (the caller holds the directory lock); fills `result`."""
    params = run.params
    state, password = params['state'], params['store_password']
    cacerts = None
    if exists:
        before = _list(keytool, path, password, store_type, fast=True)
    else:
        before = []
        if state == 'present':
            # A new store starts from the JRE's cacerts unless told otherwise: the JVM pointed at it
            # (-Djavax.net.ssl.trustStore) trusts nothing else. An existing store is never re-seeded.
            cacerts = _seed_path(keytool, params, seed_of(params))
    base = _list(keytool, cacerts, params['seed_password'], None, fast=True) if cacerts else before
    if cacerts:
        result['cacerts'] = cacerts
        result['seeded'] = {'source': cacerts, 'entries': len(base)}
    elif not exists and state == 'present':
        result['seeded'] = {'source': 'none', 'entries': 0}

    actions = plan_actions(base, state=state, alias=alias, wanted=chosen,
                           chain_mode=params['certificate'] == 'chain', presented=chain, pinned=pinned,
                           allow_replace=params['allow_replace'])
    # Every accepted rotation is reported and warned: a replaced certificate is never silent.
    result['rotated'] = [{'alias': a.alias, 'old_sha256': a.sha256_before, 'new_sha256': a.sha256_after,
                          'reason': a.reason} for a in actions if a.action == 'replace']
    for rotation in result['rotated']:
        run.warnings.append(f'the certificate under alias {rotation["alias"]} changed; the new one is accepted '
                            f'({rotation["reason"]}): {rotation["old_sha256"]} -> {rotation["new_sha256"]}')
    expected = apply_plan_to_entries(base, actions)
    result['actions'] = [a.to_dict() for a in actions]
    result['entries_before'] = len(before)
    if state == 'present':
        result['other_trusted_entries'] = others = _other_trusted(expected, chain_aliases(alias, len(chosen)))
        # Said when the JVM is pointed at the store here, or when the store is made so now.
        if not others and (params['jvm_options_file'] or not exists):
            run.warnings.append(
                f'{path} holds only the relay\'s certificate: a JVM started with -Djavax.net.ssl.trustStore={path} '
                'trusts nothing else, so every other TLS connection of the application fails (Marketplace, '
                'licensing, integrations, cloud services). A new store keeps the public CAs with seed=cacerts; '
                'recreate this one (remove it and run again) unless the JVM is not pointed at it.')
    if run.diff:
        after_text = (_seed_diff(expected, seeded=base, source=cacerts) if cacerts
                      else entries_summary(expected))
        result['diff'] = {'before_header': f'{path} (entries)', 'after_header': f'{path} (entries)',
                          'before': entries_summary(before), 'after': after_text}

    creating = not exists and state == 'present'
    if not actions and not creating:
        result['entries_after'] = len(before)
        if exists:
            result['changed'] = run.host.set_fs_attributes_if_different(run.file_args(path), False)
    elif run.check_mode:
        result['changed'] = True
        result['entries_after'] = len(expected)
        result['pending'] = True  # the store on disk does not hold this yet: nothing may verify against it
    else:
        result['changed'] = True
        after, backup_file = _apply(run, keytool, path=path, store_type=store_type, exists=exists,
                                    password=password, actions=actions, cacerts=cacerts,
                                    cacerts_password=params['seed_password'], expected=expected)
        result['entries_after'] = len(after)
        if backup_file:
            result['backup_file'] = backup_file


def _run(run: _Run, effective: dict | None) -> dict[str, t.Any]:
    params = run.params
    state = params['state']
    # Follow a symlink (Debian's <jre>/lib/security/cacerts -> /etc/ssl/certs/java/cacerts): the
    # store the JVM reads is the target, and replacing the link by a file would cut it loose.
    path = os.path.realpath(params['path'])
    if params['pem_path'] and params['pem_content']:
        raise TruststoreError('pem_path and pem_content are mutually exclusive')
    alias = _alias_for(params, effective)
    try:
        keytool = Keytool(params['keytool'], timeout=params['keytool_timeout'])
    except KeytoolError as exc:
        raise TruststoreError(exc.message, kind=exc.kind) from None
    # With state=absent the JVM options file is left alone: other entries may still need the store.
    jvm_options = state == 'present' and bool(params['jvm_options_file'])
    if jvm_options:
        _check_jvm_options(params)
    jvm_plan = None

    result: dict[str, t.Any] = {'changed': False, 'path': path, 'alias': alias, 'state': state, 'pending': False}
    if path != params['path']:
        result['link'] = params['path']
    chain, chosen, pinned = _wanted(run, effective, alias, result) if state == 'present' else ([], [], None)

    # Serialise runs on stores of one directory (parallel playbooks, several instances sharing a
    # store): the plan must be made from the store the change is applied to. The lock is on the
    # directory itself, so it leaves no file behind and readers (the JVM) never wait.
    with _directory_lock(os.path.dirname(path), timeout=params['keytool_timeout'], enabled=not run.check_mode):
        store_type, exists = _store_type_for(path, params['store_type'])
        result['store_type'] = store_type
        if jvm_options:
            # Planned before the store is touched: a file we refuse to edit fails the task with nothing written.
            jvm_plan = _plan_jvm_options(run, store_type)
        _store(run, keytool, path=path, alias=alias, chain=chain, chosen=chosen, pinned=pinned,
               store_type=store_type, exists=exists, result=result)

    if jvm_plan is not None:
        try:
            result['jvm_options'] = _write_jvm_options(run, jvm_plan)
        except TruststoreError as exc:
            if result['changed'] and not run.check_mode:
                raise TruststoreError(f'{exc.message}; the keystore {path} was updated', kind=exc.kind, changed=True,
                                      **exc.details) from None
            raise
        result['changed'] = result['changed'] or result['jvm_options']['changed']
        if run.diff:
            result['diff'] = [result['diff'], _jvm_options_diff(params, jvm_plan)]
    return result
