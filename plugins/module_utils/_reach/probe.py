# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""SMTP reachability probes: many targets at once, one overall deadline, one result per target.

Each target gets one conversation through the shared client (``_smtp.SMTPClient``): TCP connect,
banner, EHLO, STARTTLS or SMTPS, an optional AUTH, QUIT. Nothing is ever sent with MAIL FROM, so
a probe is read-only and safe in check mode.

Why threads and an overall deadline: a target that accepts the connection and never speaks costs
one full timeout. Probed one after the other, 100 such targets cost 100 timeouts; probed in
parallel they cost one. The deadline bounds the whole run even when a peer trickles bytes slowly
enough to keep every single read within its timeout: what is unfinished at the deadline is
reported as a timeout at the step it had reached, and its socket is shut down so the worker ends.

What is an error and what is a warning is decided from the observations alone
(``assess_*`` functions), so the rules are unit-testable without a network.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
import threading
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import (
    SMTPClient,
    SMTPStepError,
    Transcript,
    connection_from_settings,
    fetch_peer_chain,
    plaintext_credentials_refusal,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import load_ca_bundle
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import verification_hint
from ansible_collections.mailwright.smtp.plugins.module_utils._reach.findings import (
    count_statuses,
    trips,
    worst_status,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import WAIT_FOREVER_SECONDS, timeout_seconds

__all__ = [
    'MAX_WORKERS',
    'DEFAULT_TIMEOUT',
    'Credentials',
    'Target',
    'ProbeOptions',
    'Progress',
    'probe_target',
    'probe_many',
    'target_from_settings',
    'targets_from_params',
    'mx_targets',
    'error_kind',
    'hostname_matches',
    'assess_policy',
    'assess_certificate',
    'classify',
    'summarize',
    'should_fail',
    'load_ca_bundle',
    'empty_result',
    'probe_timeout',
    'run',
    'failure_message',
    'ProbeFailed',
    'assess_chain',
]

# One thread per target up to this many; more targets queue behind them (still within the deadline).
MAX_WORKERS = 256
# When the settings say "wait forever" (timeout_ms <= 0) a probe still has to end.
DEFAULT_TIMEOUT = WAIT_FOREVER_SECONDS
# A finding's cause (SMTPStepError.cause) as the error family's kind, for a failed task.
# Enough to show what is wrong without flooding the play output for a large fan-out.
_MAX_WARNING_LINES = 20
_CAUSE_KIND = {'timeout': 'network', 'refused': 'network', 'unreachable': 'network', 'dns': 'network',
               'policy': 'policy', 'certificate': 'tls', 'tls': 'tls', 'auth': 'server', 'smtp': 'server',
               'incomplete_chain': 'tls'}


class ProbeFailed(MailwrightError):
    """Targets tripped fail_on; the details are the whole probe result, so nothing is lost."""


@dataclass
class Credentials:
    method: str                      # 'basic' | 'oauth2'
    username: str
    secret: str = field(repr=False)  # never shown by repr()
    mechanism: str | None = None


@dataclass
class Target:
    """One server to probe, and how the application would talk to it."""
    host: str
    port: int
    protocol: str = 'smtp'
    tls: str = 'opportunistic'
    name: str | None = None
    source: str = 'targets'              # 'settings' | 'targets' | 'mx_of'
    helo: str | None = None
    address: str | None = None           # connect here instead of resolving host (MX via custom DNS)
    domain: str | None = None            # mx_of: the mail domain
    preference: int | None = None        # mx_of: the MX preference
    credentials: Credentials | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return self.name or f'{self.host}:{self.port}'


@dataclass
class ProbeOptions:
    timeout: float = DEFAULT_TIMEOUT
    validate_certs: bool = True
    cafile: str | None = None
    cadata: str | None = None
    expiry_warning_days: int = 30
    check_credentials: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # The trust anchors (DER -> name) the chain is checked against, as the JVM would; None: not checked.
    anchors: t.Mapping[bytes, str] | None = field(default=None, repr=False)
    # Where the anchors come from, for messages: 'truststore_path /x (146 certificates)', 'ca_path /y', ...
    trust_source: str | None = None
    # Option names to set when verification fails (truststore_path or ca_path).
    trust_hint: str | None = None


class Progress:
    """Where one probe is; read by the coordinator when the deadline passes."""

    def __init__(self, target: Target, transcript: Transcript):
        self.target = target
        self.transcript = transcript
        self.step = 'queued'
        self.client: SMTPClient | None = None
        self.started: float | None = None
        self._lock = threading.Lock()
        self._closed = False

    def at(self, step: str) -> None:
        self.step = step

    def current_step(self) -> str:
        """The step in progress, refined from the client's state inside connect()/secure()."""
        client = self.client
        if client is None or self.step not in ('connect', 'starttls'):
            return self.step
        if self.step == 'connect':
            if client.sock is None:
                return 'connect'
            if client.protocol == 'smtps' and not client.tls_active:
                return 'tls'
            return 'banner'
        # secure(): STARTTLS reply, the handshake, then the second EHLO
        if client.tls_active:
            return 'ehlo'
        return 'tls' if any(line.startswith('S: 220') for line in client.transcript.lines[-1:]) else 'starttls'

    def close_once(self) -> bool:
        """True exactly once: for whoever (worker or coordinator) writes the result first."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            return True

    def abort(self) -> None:
        """Wake a worker blocked in recv(): shutting the socket down makes the read return."""
        client = self.client
        sock = getattr(client, 'sock', None) if client is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# --- result model ------------------------------------------------------------------------------

def empty_result(target: Target) -> dict[str, t.Any]:
    """The result skeleton: every key present, so playbooks can read any of them."""
    return {
        'target': target.label,
        'source': target.source,
        'domain': target.domain,
        'preference': target.preference,
        'host': target.host,
        'address': target.address,
        'port': target.port,
        'protocol': target.protocol,
        'tls_policy': 'required' if target.protocol == 'smtps' else target.tls,
        'status': 'fail',
        'step': 'queued',
        'timed_out': False,
        'elapsed_ms': None,
        'connect_ms': None,
        'banner': None,
        'extensions': {},
        'starttls_offered': False,
        'auth_mechanisms': [],
        'size_limit': None,
        'tls': {'established': False, 'version': None, 'cipher': None, 'bits': None,
                'verified': False, 'verify_error': None, 'server_hostname': None,
                'chain_complete': None, 'anchor': None, 'missing_issuer': None, 'chain': [], 'days_left': None},
        'certificate': None,
        'chain': [],
        'credentials': {'checked': False, 'ok': None, 'username': None, 'mechanism': None, 'text': None},
        'errors': [],
        'warnings': [],
        'transcript': [],
    }


_TIMEOUT_TEXT = re.compile(r'\bwithin\b|timed out|deadline', re.I)
_REFUSED_TEXT = re.compile(r'refused', re.I)


def error_kind(step: str, text: str, code: int | None = None) -> str:
    """A reason read back from a step and its text, for findings that carry no cause.

    The probe itself no longer needs it (SMTPStepError.cause says it where the failure is raised);
    kept for readers of older results that have only step and text.
    """
    if _TIMEOUT_TEXT.search(text or '') and code is None:
        return 'timeout'
    if step == 'connect':
        return 'refused' if _REFUSED_TEXT.search(text or '') else 'unreachable'
    if step == 'policy':
        return 'policy'
    if step == 'tls':
        return 'certificate' if 'certificate' in (text or '').lower() else 'tls'
    if step == 'certificate':
        return 'certificate'
    if step == 'auth':
        return 'auth'
    if step == 'dns':
        return 'dns'
    return 'smtp'


def _finding(step: str, message: str, *, kind: str, code: int | None = None,
             transient: bool = False) -> dict[str, t.Any]:
    """One finding: {step, status, message, code, transient, kind}; status is set by _finish."""
    return {'step': step, 'status': None, 'message': message, 'code': code, 'transient': transient,
            'kind': kind}


def _from_step_error(exc: SMTPStepError) -> dict[str, t.Any]:
    return _finding(exc.step, exc.text, kind=exc.cause, code=exc.code, transient=exc.transient)


def classify(result: dict[str, t.Any]) -> str:
    """fail when anything is an error, warn when anything deserves a look, else pass."""
    if result['errors']:
        return 'fail'
    if result['warnings']:
        return 'warn'
    return 'pass'


def _finish(result: dict[str, t.Any]) -> dict[str, t.Any]:
    """What follows from a target's findings, derived in this one place: status, timed_out."""
    for key, status in (('errors', 'fail'), ('warnings', 'warn')):
        for found in result[key]:
            found['status'] = status
    result['timed_out'] = any(e['kind'] == 'timeout' for e in result['errors'])
    result['status'] = classify(result)
    return result


# --- rules (pure: observations in, findings out) -----------------------------------------------

def assess_policy(*, tls_policy: str, protocol: str, starttls_offered: bool, tls_established: bool,
                  has_credentials: bool = False) -> tuple[list[dict], list[dict]]:
    """Errors and warnings about the TLS policy once the conversation has settled.

    A refused policy (tls required, no STARTTLS) arrives as an SMTPStepError from the client and is
    not repeated here. Credentials configured under opportunistic on a connection left in clear are
    an error even when they were not tried: the application would send the password in clear.
    """
    errors: list[dict] = []
    warnings: list[dict] = []
    if protocol == 'smtps' or tls_established:
        return errors, warnings
    if tls_policy == 'required':
        errors.append(_finding('policy', 'tls is required but no TLS session was established', kind='policy'))
    elif tls_policy == 'opportunistic':
        reason = ('the server offers STARTTLS but no TLS session was established' if starttls_offered
                  else 'the server does not offer STARTTLS')
        if has_credentials:
            # What test_send refuses, and what a STARTTLS-stripping man in the middle harvests.
            errors.append(_finding('tls', plaintext_credentials_refusal(reason).text, kind='policy'))
        else:
            warnings.append(_finding('policy', f'{reason}: mail would travel in plaintext; tls is opportunistic',
                                     kind='policy'))
    elif tls_policy == 'none':
        if starttls_offered:
            warnings.append(_finding('policy', 'the server offers STARTTLS but the settings use tls: none; '
                                               'use opportunistic or required', kind='policy'))
        else:
            warnings.append(_finding('policy', 'no TLS: mail travels in plaintext (tls: none)', kind='policy'))
        if has_credentials:
            warnings.append(_finding('policy', 'the password would be sent in plaintext (tls: none)', kind='policy'))
    return errors, warnings


def _san_names(sans: t.Iterable[str]) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) from SAN strings written as 'DNS:x', 'IP:x', 'IP Address:x' or bare."""
    names: list[str] = []
    ips: list[str] = []
    for raw in sans or ():
        text = str(raw).strip()
        kind, sep, value = text.partition(':')
        if sep and kind.strip().upper() in ('DNS', 'IP', 'IP ADDRESS'):
            (ips if kind.strip().upper().startswith('IP') else names).append(value.strip())
            continue
        try:
            ipaddress.ip_address(text)
            ips.append(text)
        except ValueError:
            names.append(text)
    return names, ips


def hostname_matches(hostname: str, sans: t.Iterable[str]) -> bool:
    """RFC 6125 matching: exact name, or one wildcard as the whole left-most label; IPs exactly."""
    names, ips = _san_names(sans)
    host = hostname.rstrip('.').lower()
    try:
        wanted = ipaddress.ip_address(host.strip('[]'))
    except ValueError:
        wanted = None
    if wanted is not None:
        for ip in ips:
            try:
                if ipaddress.ip_address(ip) == wanted:
                    return True
            except ValueError:
                continue
        return False
    for name in names:
        pattern = name.rstrip('.').lower()
        if pattern == host:
            return True
        if pattern.startswith('*.') and '*' not in pattern[2:]:
            head, _dot, rest = host.partition('.')
            if head and rest == pattern[2:] and rest.count('.') >= 1:
                return True
    return False


def assess_certificate(certificate: dict[str, t.Any] | None, *, hostname: str, validate_certs: bool,
                       verified: bool, verify_error: str | None,
                       expiry_warning_days: int) -> tuple[list[dict], list[dict]]:
    """Errors and warnings about the presented leaf certificate.

    With validate_certs the application would refuse a bad certificate, so problems are errors;
    without it they are warnings (the operator chose to accept them, we still say what they are).
    """
    errors: list[dict] = []
    warnings: list[dict] = []
    bad = errors if validate_certs else warnings
    if validate_certs and not verified and verify_error:
        errors.append(_finding('tls', f'certificate verification failed: {verify_error}', kind='certificate'))
    if certificate is None:
        return errors, warnings
    days_left = certificate.get('days_left')
    if days_left is not None:
        if days_left < 0:
            bad.append(_finding('certificate', f'the certificate expired on {certificate.get("not_after")} '
                                               f'({-days_left} days ago)', kind='certificate'))
        elif days_left <= expiry_warning_days:
            warnings.append(_finding('certificate', f'the certificate expires in {days_left} days '
                                                    f'({certificate.get("not_after")}); warning threshold is '
                                                    f'{expiry_warning_days} days', kind='certificate'))
    sans = certificate.get('sans') or []
    if hostname and not hostname_matches(hostname, sans):
        shown = ', '.join(str(s) for s in sans) or f'no subjectAltName (subject {certificate.get("subject")})'
        bad.append(_finding('certificate', f'the certificate does not name {hostname!r}: it is for {shown}',
                            kind='certificate'))
    if certificate.get('self_signed') and not verified and not validate_certs:
        # With validate_certs the verification error already says so.
        warnings.append(_finding('certificate', 'the certificate is self-signed', kind='certificate'))
    if not validate_certs:
        warnings.append(_finding('certificate', 'certificate validation is disabled (validate_certs: false): '
                                                'chain and name were not verified by TLS', kind='certificate'))
    return errors, warnings


# --- one target --------------------------------------------------------------------------------

def assess_chain(chain_der: list[bytes], anchors: t.Mapping[bytes, str] | None, *,
                 validate_certs: bool, trust_source: str | None = None) -> tuple[dict[str, t.Any], list[dict], list[dict]]:
    """(tls keys, errors, warnings) about the chain as the relay sends it, judged as Java judges it.

    Java's PKIX validator builds the path from the certificates the server sent and its truststore
    only; it does not fetch a missing intermediate (AIA), which browsers and some TLS stacks do. A
    relay that sends its leaf alone, signed by an intermediate the store does not hold, works in a
    browser test and fails in the JVM: that is the `incomplete_chain` finding.
    """
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import walk_chain

    keys: dict[str, t.Any] = {'chain_complete': None, 'anchor': None, 'missing_issuer': None}
    errors: list[dict] = []
    warnings: list[dict] = []
    if not chain_der or anchors is None:
        return keys, errors, warnings
    try:
        walked = walk_chain(chain_der[0], chain_der[1:], anchors)
    except Exception:  # pylint: disable=broad-except
        return keys, errors, warnings  # a certificate we cannot parse is reported by _describe_chain
    keys['chain_complete'] = walked['anchor'] is not None
    keys['anchor'] = walked['anchor'] or walked['anchor_subject']
    if walked['missing'] is not None:
        keys['missing_issuer'] = walked['missing']
        where = f' in {trust_source}' if trust_source else ''
        bad = errors if validate_certs else warnings
        bad.append(_finding(
            'certificate', f'incomplete chain: the server sent {len(chain_der)} certificate(s) and no issuer for '
            f'{walked["missing"]!r} is among them or{where} - Java does not fetch missing intermediates, so the '
            'JVM refuses this relay: configure the relay to send its intermediate certificate(s), or trust the '
            'issuer in the store', kind='incomplete_chain'))
    return keys, errors, warnings


def _short_chain(described: list[dict]) -> list[dict[str, t.Any]]:
    return [{key: item.get(key) for key in ('subject', 'issuer', 'not_after', 'days_left')} for item in described]


_TrustOptions = t.Tuple[t.Optional[str], t.Optional[str], t.Optional[t.Dict[bytes, str]], t.Optional[str],
                        t.Optional[int]]


def _trust_options(params: t.Mapping[str, t.Any]) -> _TrustOptions:
    """(cafile, cadata, anchors, source, truststore count) from ca_path and truststore_path: what the client verifies with.

    The truststore is read without a JVM (_trust.keytool.store_ca_bundle), so the probe trusts what
    the application's JVM trusts; with ca_path too, both are trusted. Without either, the system CAs.
    """
    import ssl

    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import make_context, pem_to_der_list

    cafile, cadata = load_ca_bundle(params.get('ca_path'))
    count = None
    sources = []
    if params.get('ca_path'):
        sources.append(f'ca_path {params["ca_path"]}')
    if params.get('truststore_path'):
        from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import store_ca_bundle

        store_pem, count = store_ca_bundle(params['truststore_path'], params.get('truststore_password') or '',
                                           params.get('truststore_type'), option='truststore_path')
        cadata = store_pem + (cadata or '')
        sources.insert(0, f'truststore_path {params["truststore_path"]} ({count} certificates)')
    try:
        if cafile or cadata:
            # Every given certificate is an anchor, CA or not: a Java truststore trusts a leaf it holds.
            text = cadata or ''
            if cafile:
                with open(cafile, 'rb') as handle:
                    text += handle.read().decode('ascii', 'replace')
            anchors = dict.fromkeys(pem_to_der_list(text), '')
        else:
            anchors = dict.fromkeys(make_context().get_ca_certs(binary_form=True), '')
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise MailwrightError(f'cannot load the CA certificates of {" and ".join(sources) or "the system"}: {exc}',
                              kind='file') from None
    return cafile, cadata, (anchors or None), (' and '.join(sources) or 'the system CAs'), count


def _describe_chain(chain_der: list[bytes]) -> tuple[dict | None, list[dict]]:
    if not chain_der:
        return None, []
    try:
        from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import describe_certificate
    except ImportError:  # cryptography missing: the module checked it already; be defensive
        return None, []
    described = []
    for der in chain_der:
        try:
            described.append(describe_certificate(der))
        except Exception as exc:  # a certificate we cannot parse is a finding, not a crash
            described.append({'error': f'cannot parse certificate: {exc}'})
    return described[0], described


def _auth_mechanisms(extensions: dict[str, str]) -> list[str]:
    return extensions.get('AUTH', '').upper().split()


def _size_limit(extensions: dict[str, str]) -> int | None:
    value = extensions.get('SIZE', '').strip()
    return int(value) if value.isdigit() else None


def _record_session(result: dict, client: SMTPClient, target: Target) -> None:
    result['connect_ms'] = client.connect_ms
    result['banner'] = client.banner or None
    result['extensions'] = dict(client.extensions)
    result['starttls_offered'] = bool(client.starttls_offered or 'STARTTLS' in client.extensions)
    result['auth_mechanisms'] = _auth_mechanisms(client.extensions)
    result['size_limit'] = _size_limit(client.extensions)
    info = client.tls_info or {}
    result['tls'] = dict(result['tls'], **{
        'established': bool(info.get('version')),
        'version': info.get('version'),
        'cipher': info.get('cipher'),
        'bits': info.get('bits'),
        'verified': bool(info.get('verified')) and bool(info.get('version')),
        'verify_error': info.get('verify_error'),
        'server_hostname': client.server_hostname if client.tls_info is not None else None,
    })


def _remaining(deadline_at: float | None) -> float | None:
    return None if deadline_at is None else deadline_at - time.monotonic()


def _step_timeout(options: ProbeOptions, deadline_at: float | None) -> float:
    """Never wait on one read longer than the whole run may still take."""
    remaining = _remaining(deadline_at)
    return options.timeout if remaining is None else max(0.05, min(options.timeout, remaining))


def _converse(client: SMTPClient, target: Target, options: ProbeOptions, progress: Progress,
              result: dict[str, t.Any]) -> None:
    """The conversation: connect, EHLO, the TLS policy, the optional AUTH, QUIT; raises SMTPStepError."""
    progress.at('connect')
    client.connect()
    progress.at('ehlo')
    client.ehlo()
    progress.at('starttls')
    client.secure()
    creds = target.credentials
    if options.check_credentials and creds is not None:
        progress.at('auth')
        result['credentials'].update(checked=True, username=creds.username)
        try:
            # A policy failure for the target before AUTH: never in clear unless tls is none.
            client.check_credentials_allowed()
            if client.tls_info is not None and not client.tls_info.get('verified') and options.validate_certs:
                raise SMTPStepError('policy', 'certificate not verified: credentials were not sent')
            reply = client.auth(creds.method, creds.username, creds.secret, mechanism=creds.mechanism)
            result['credentials'].update(ok=True, mechanism=client.auth_mechanism,
                                         text=f'{reply.code} {reply.text}')
        except SMTPStepError as exc:
            ok = False if exc.step == 'auth' and exc.code is not None else None
            result['credentials'].update(ok=ok, text=client.transcript.scrub(str(exc)))
            raise
    progress.at('quit')
    client.quit()


def _run_conversation(client: SMTPClient, target: Target, options: ProbeOptions, progress: Progress,
                      result: dict[str, t.Any]) -> SMTPStepError | None:
    """Run _converse and record what the session learnt; the failure, or None. Never raises."""
    failure: SMTPStepError | None = None
    try:
        _converse(client, target, options, progress, result)
    except SMTPStepError as exc:
        failure = exc
    except Exception as exc:  # never a traceback: report it as this target's failure
        failure = SMTPStepError(progress.current_step(),
                                client.transcript.scrub(f'unexpected {type(exc).__name__}: {exc}'))
    finally:
        step_reached = progress.current_step()
        _record_session(result, client, target)
        try:
            # Say goodbye when the server is still talking to us (it answered with a code).
            client.close(quit=failure is not None and failure.code is not None)
        except Exception:
            pass
    if failure is not None:
        result['errors'].append(_from_step_error(failure))
        result['step'] = failure.step
        client.transcript.note(f'failed at {failure.step}: {failure.text}')
    else:
        result['step'] = step_reached
    return failure


def _certificate_chain(client: SMTPClient, target: Target, failure: SMTPStepError | None,
                       result: dict[str, t.Any], *, timeout: float, deadline_at: float | None) -> list[bytes]:
    """The chain: from the session, or (when verification refused it) from a second, unverified
    connection made only to read what the server presents."""
    chain = list((client.tls_info or {}).get('peer_chain_der') or [])
    if chain or failure is None or failure.step != 'tls' or not result['tls'].get('verify_error'):
        return chain
    left = _remaining(deadline_at)
    if left is not None and left <= 0.1:
        return chain
    transcript = client.transcript
    transcript.note('reading the certificate again without verification, to describe it')
    try:
        return fetch_peer_chain(target.address or target.host, target.port, protocol=target.protocol,
                                helo=target.helo, timeout=min(timeout, left) if left else timeout,
                                server_hostname=target.host, transcript=transcript)
    except SMTPStepError as exc:
        transcript.note(f'could not read the certificate: {exc}')
    except Exception as exc:
        transcript.note(f'could not read the certificate: {type(exc).__name__}')
    return chain


def _assess(result: dict[str, t.Any], target: Target, options: ProbeOptions,
            failure: SMTPStepError | None) -> None:
    """Add the certificate and policy findings to what the conversation itself reported."""
    tls_info = result['tls']
    if tls_info['established'] or tls_info.get('verify_error'):
        verify_error = tls_info['verify_error'] if options.validate_certs else None
        # The client already reported a refused handshake as an error: do not say it twice.
        already = failure is not None and failure.step == 'tls'
        errors, warnings = assess_certificate(result['certificate'], hostname=target.host,
                                              validate_certs=options.validate_certs,
                                              verified=tls_info['verified'],
                                              verify_error=None if already else verify_error,
                                              expiry_warning_days=options.expiry_warning_days)
        result['errors'].extend(errors)
        result['warnings'].extend(warnings)
    if failure is None or failure.step == 'auth':
        errors, warnings = assess_policy(
            tls_policy=result['tls_policy'], protocol=target.protocol,
            starttls_offered=result['starttls_offered'], tls_established=tls_info['established'],
            has_credentials=target.credentials is not None)
        if errors and failure is None:
            result['step'] = errors[0]['step']  # the conversation went on, but the policy fails here
        result['errors'].extend(errors)
        result['warnings'].extend(warnings)
    if failure is not None or target.credentials is None:
        return
    if options.check_credentials and not tls_info['established']:
        result['warnings'].append(_finding('auth', 'the credentials were sent over a plaintext connection '
                                                   '(tls: none, the server offers no STARTTLS)', kind='policy'))
    if not result['auth_mechanisms']:
        result['warnings'].append(_finding('auth', 'the settings authenticate but the server offers no AUTH '
                                                   'on this connection', kind='auth'))


def _name_trust_options(result: dict[str, t.Any], options: ProbeOptions) -> None:
    """A failed verification says what it verified against and which option changes that."""
    if not options.trust_hint:
        return
    for found in result['errors']:
        if found['kind'] == 'certificate' and 'verification failed' in found['message']:
            found['message'] += f' ({options.trust_hint})'


def probe_target(target: Target, options: ProbeOptions, *, progress: Progress | None = None,
                 deadline_at: float | None = None) -> dict[str, t.Any]:
    """Probe one target; never raises. The result follows ``empty_result``."""
    transcript = progress.transcript if progress is not None else Transcript()
    for secret in options.secrets:
        transcript.register_secret(secret)
    if target.credentials is not None:
        transcript.register_secret(target.credentials.secret)
    progress = progress or Progress(target, transcript)
    result = empty_result(target)
    started = progress.started = time.monotonic()
    timeout = _step_timeout(options, deadline_at)
    try:
        client = SMTPClient(target.address or target.host, target.port, protocol=target.protocol,
                            tls=target.tls, helo=target.helo, timeout=timeout,
                            verify=options.validate_certs, cafile=options.cafile, cadata=options.cadata,
                            check_hostname=options.validate_certs, server_hostname=target.host,
                            transcript=transcript)
    except ValueError as exc:
        result['errors'].append(_finding('connect', str(exc), kind='smtp'))
        result['step'] = 'connect'
        return _finish(result)
    progress.client = client
    failure = _run_conversation(client, target, options, progress, result)
    chain = _certificate_chain(client, target, failure, result, timeout=timeout, deadline_at=deadline_at)
    result['certificate'], result['chain'] = _describe_chain(chain)
    result['tls']['chain'] = _short_chain(result['chain'])
    result['tls']['days_left'] = (result['certificate'] or {}).get('days_left')
    keys, errors, warnings = assess_chain(chain, options.anchors, validate_certs=options.validate_certs,
                                          trust_source=options.trust_source)
    result['tls'].update(keys)
    _assess(result, target, options, failure)
    result['errors'].extend(errors)
    result['warnings'].extend(warnings)
    _name_trust_options(result, options)
    result['elapsed_ms'] = _ms_since(started)
    result['transcript'] = list(transcript.lines)
    return _finish(result)


def _ms_since(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))


# --- many targets ------------------------------------------------------------------------------

def _timeout_result(progress: Progress, deadline: float) -> dict[str, t.Any]:
    target = progress.target
    result = empty_result(target)
    step = progress.current_step()
    client = progress.client
    if client is not None:
        _record_session(result, client, target)
    result['step'] = step
    if step == 'queued':
        text = f'not started within the overall deadline of {deadline:g}s (too many targets for the deadline)'
    else:
        text = f'overall deadline of {deadline:g}s reached while at step {step}'
    result['errors'].append(_finding(step, text, transient=True, kind='timeout'))
    if progress.started is not None:
        result['elapsed_ms'] = _ms_since(progress.started)
    progress.transcript.note(f'abandoned: {text}')
    result['transcript'] = list(progress.transcript.lines)
    return _finish(result)


def probe_many(targets: list[Target], options: ProbeOptions, *, deadline: float,
               max_workers: int = MAX_WORKERS, reported_deadline: float | None = None) -> list[dict[str, t.Any]]:
    """Probe every target concurrently; return results in target order within ``deadline`` seconds.

    ``reported_deadline`` is the deadline named in timeout messages when ``deadline`` is what is left
    of a larger one (the caller spent some of it on DNS).
    """
    if not targets:
        return []
    deadline_at = time.monotonic() + deadline
    progresses = [Progress(target, Transcript(options.secrets)) for target in targets]
    results: list[dict | None] = [None] * len(targets)

    def work(index: int) -> None:
        progress = progresses[index]
        if time.monotonic() >= deadline_at:
            return  # the coordinator reports it as not started
        outcome = probe_target(progress.target, options, progress=progress, deadline_at=deadline_at)
        if progress.close_once():
            results[index] = outcome

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(targets))),
                                                     thread_name_prefix='smtp-probe')
    try:
        futures = [executor.submit(work, index) for index in range(len(targets))]
        concurrent.futures.wait(futures, timeout=max(0.0, deadline_at - time.monotonic()))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    for index, progress in enumerate(progresses):
        if results[index] is None and progress.close_once():
            results[index] = _timeout_result(progress, reported_deadline or deadline)
            progress.abort()
    return t.cast('list[dict[str, t.Any]]', results)


# --- targets from the module's options ---------------------------------------------------------

def target_from_settings(effective: dict[str, t.Any], *, token: str | None = None) -> Target:
    """The relay of the settings; `token` is an access token obtained for this run (auth.oauth2.grant_type)."""
    auth = effective.get('auth') or {}
    creds = None
    method = auth.get('method') or 'none'
    token = token or (auth.get('oauth2') or {}).get('token')
    if method == 'basic' and auth.get('username') and auth.get('password'):
        creds = Credentials('basic', auth['username'], auth['password'], auth.get('mechanism'))
    elif method == 'oauth2' and auth.get('username') and token:
        creds = Credentials('oauth2', auth['username'], token, auth.get('mechanism') or 'xoauth2')
    conn = connection_from_settings(effective)  # the one reading of server.* for a conversation
    return Target(host=conn['host'], port=conn['port'], protocol=conn['protocol'], tls=conn['tls'],
                  name=effective.get('name') or 'relay', source='settings', helo=conn['helo'],
                  credentials=creds)


def targets_from_params(items: list[dict[str, t.Any]] | None, *, helo: str | None = None) -> list[Target]:
    targets = []
    for item in items or ():
        protocol = item.get('protocol') or 'smtp'
        port = item.get('port') or (465 if protocol == 'smtps' else 25)
        tls = 'required' if protocol == 'smtps' else (item.get('tls') or 'opportunistic')
        targets.append(Target(host=item['host'], port=int(port), protocol=protocol, tls=tls,
                              name=item.get('name'), source='targets', helo=helo))
    return targets


def _dns_failure(domain: str, text: str, port: int, *, kind: str = 'dns') -> dict[str, t.Any]:
    result = empty_result(Target(host=domain, port=port, name=f'mx:{domain}', source='mx_of', domain=domain))
    result['step'] = 'dns'
    result['errors'].append(_finding('dns', text, kind=kind, transient=kind == 'timeout'))
    return _finish(result)


def _mx_failure_text(domain: str, answer, timeout: float) -> tuple[str, str]:
    """(message, kind) of a failed MX lookup, in the words results have always used."""
    if answer.kind == 'nxdomain':
        return f'{domain} does not exist (NXDOMAIN)', 'dns'
    if answer.kind == 'timeout':
        return f'MX lookup for {domain} timed out after {timeout:g}s', 'timeout'
    if answer.kind in ('servfail', 'refused', 'unreachable'):
        return f'MX lookup for {domain} failed (SERVFAIL or refused): {answer.message}', 'dns'
    return f'MX lookup for {domain} failed: {answer.message}', 'dns'


def _mx_of_domain(domain: str, *, nameservers: list[str], dns_port: int, mx_port: int, timeout: float,
                  helo: str | None) -> tuple[list[Target], list[dict[str, t.Any]]]:
    # The one resolver and the one lookup of the collection (_reach.dns), dns.port included.
    from ansible_collections.mailwright.smtp.plugins.module_utils._reach.dns import DnsClient, make_resolver

    resolver = make_resolver(nameservers=nameservers or None, port=dns_port, timeout=timeout, retries=0)
    resolver.lifetime = timeout  # one lookup, however many nameservers, stays within the probe's timeout
    client = DnsClient(resolver=resolver)
    answer = client.lookup(domain, 'MX')
    if answer.kind == 'nodata':
        # RFC 5321 5.1: no MX means the domain's own address is the mail exchanger.
        records = [(0, domain)]
    elif not answer.found:
        text, kind = _mx_failure_text(domain, answer, timeout)
        return [], [_dns_failure(domain, text, mx_port, kind=kind)]
    else:
        records = sorted((int(p), h.rstrip('.')) for p, _sep, h in (r.partition(' ') for r in answer.records))
    if len(records) == 1 and records[0][1] in ('', '.'):
        return [], [_dns_failure(domain, f'{domain} publishes a null MX (RFC 7505): it accepts no mail', mx_port)]
    targets: list[Target] = []
    failures: list[dict[str, t.Any]] = []
    for preference, exchange in records:
        address = None
        if nameservers:
            addresses = [r for rdtype in ('A', 'AAAA') for r in client.lookup(exchange, rdtype).records]
            if not addresses:
                failures.append(_dns_failure(domain, f'MX host {exchange} of {domain} has no A/AAAA record', mx_port))
                continue
            address = addresses[0]
        targets.append(Target(host=exchange, port=mx_port, protocol='smtp', tls='opportunistic',
                              name=f'mx:{domain}:{exchange}', source='mx_of', helo=helo,
                              address=address, domain=domain, preference=preference))
    return targets, failures


def mx_targets(domains: list[str], *, nameservers: list[str] | None = None, dns_port: int = 53,
               mx_port: int = 25, timeout: float = DEFAULT_TIMEOUT, helo: str | None = None,
               deadline_at: float | None = None) -> tuple[list[Target], list[dict[str, t.Any]]]:
    """The MX hosts of each domain as targets, and a failed result for each domain without any.

    Domains are looked up at the same time, so the lookups together cost at most one timeout.
    With custom nameservers the MX hosts' addresses come from the same servers (the system resolver
    may not know the zone); otherwise the connection resolves the name as the application would.
    """
    names = [domain.rstrip('.') for domain in domains]
    if not names:
        return [], []
    left = _remaining(deadline_at)
    lifetime = timeout if left is None else max(0.05, min(timeout, left))
    outcomes: list[tuple[list[Target], list[dict[str, t.Any]]] | None] = [None] * len(names)
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(names)),
                                               thread_name_prefix='mx-lookup') as executor:
        futures = {executor.submit(_mx_of_domain, name, nameservers=list(nameservers or []), dns_port=dns_port,
                                   mx_port=mx_port, timeout=lifetime, helo=helo): index
                   for index, name in enumerate(names)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            try:
                outcomes[index] = future.result()
            except Exception as exc:  # a resolver bug must not become a traceback
                outcomes[index] = ([], [_dns_failure(names[index], f'MX lookup for {names[index]} failed: '
                                                                   f'{type(exc).__name__}: {exc}', mx_port)])
    targets: list[Target] = []
    failures: list[dict[str, t.Any]] = []
    for found, failed in t.cast('list[tuple[list[Target], list[dict[str, t.Any]]]]', outcomes):
        targets.extend(found)
        failures.extend(failed)
    return targets, failures


# --- the run as a whole ------------------------------------------------------------------------

def summarize(results: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """The run's `counts`: pass, warn, fail (as dns_check's), total and timed_out."""
    counts: dict[str, t.Any] = count_statuses(r['status'] for r in results)
    counts.update(total=len(results), timed_out=sum(1 for r in results if r['timed_out']))
    return counts


def should_fail(results: list[dict[str, t.Any]], fail_on: str) -> bool:
    return any(trips(r['status'], fail_on) for r in results)


def probe_timeout(effective: dict[str, t.Any] | None, timeout: float | None) -> float:
    """The per-step timeout: the option, else the settings' rule (_settings.model.timeout_seconds)."""
    if timeout is not None and timeout > 0:
        return float(timeout)
    return timeout_seconds(effective['server'] if effective else None)


def _options(params: dict[str, t.Any], timeout: float, secrets: t.Iterable[str]) -> ProbeOptions:
    cafile, cadata, anchors, source, count = _trust_options(params)
    hint = verification_hint(params.get('truststore_path'), count)
    if params.get('ca_path'):
        hint = hint.replace('verified against the system CAs', f'verified against ca_path {params["ca_path"]}')
    return ProbeOptions(timeout=timeout, validate_certs=params.get('validate_certs', True),
                        cafile=cafile, cadata=cadata, anchors=anchors, trust_source=source, trust_hint=hint,
                        expiry_warning_days=int(params.get('expiry_warning_days') or 0),
                        check_credentials=bool(params.get('check_credentials')),
                        secrets=tuple(s for s in secrets if s))


def _warnings(results: list[dict[str, t.Any]]) -> list[str]:
    """One line per target that warns, at most _MAX_WARNING_LINES: enough without flooding a fan-out."""
    warned = [r for r in results if r['status'] == 'warn']
    lines = [f'{r["target"]} ({r["host"]}:{r["port"]}): ' + '; '.join(w['message'] for w in r['warnings'])
             for r in warned[:_MAX_WARNING_LINES]]
    if len(warned) > _MAX_WARNING_LINES:
        lines.append(f'{len(warned) - _MAX_WARNING_LINES} more target(s) with warnings; see results')
    return lines


def _grant_token(params: dict[str, t.Any], effective: dict[str, t.Any], timeout: float,
                 obtained: list[str]) -> tuple[str | None, dict[str, t.Any] | None]:
    """For check_credentials with auth.oauth2.grant_type: a fresh access token and its description."""
    oauth2 = (effective.get('auth') or {}).get('oauth2') or {}
    if not params.get('check_credentials') or effective['auth']['method'] != 'oauth2' or not oauth2.get('grant_type'):
        return None, None
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.oauth2 import obtain_token, sasl_secret_forms

    token = obtain_token(oauth2, timeout=timeout, ca_path=params.get('token_ca_path'), register=obtained.extend)
    server = effective['server']
    obtained.extend(sasl_secret_forms(effective['auth']['username'] or '', token.token, server['host'], int(server['port'])))
    return token.token, dict(token.summary(), grant_type=oauth2['grant_type'])


def run(params: dict[str, t.Any], effective: dict[str, t.Any], *, secrets: t.Iterable[str] = (),
        obtained: list[str] | None = None) -> dict[str, t.Any]:
    """Everything smtp_probe does after argument parsing: the module result, `warnings` as text.

    Raises MailwrightError for unusable options, ProbeFailed when targets trip fail_on, and
    OAuth2Error (step token) when the credential check cannot obtain its access token. `obtained`
    receives every spelling of a secret obtained at run time, for the module to register.
    """
    started = time.monotonic()
    timeout = probe_timeout(effective, params.get('timeout'))
    deadline = float(params['deadline']) if params.get('deadline') else 3 * timeout
    if deadline <= 0:
        raise MailwrightError('deadline must be a positive number of seconds', kind='invalid')
    obtained = obtained if obtained is not None else []
    token, token_info = _grant_token(params, effective, timeout, obtained)
    options = _options(params, timeout, list(secrets) + obtained)
    helo = effective['server'].get('helo_domain')
    targets = [target_from_settings(effective, token=token)] + targets_from_params(params.get('targets'), helo=helo)
    dns_failures: list[dict[str, t.Any]] = []
    if params.get('mx_of'):
        dns_settings = effective.get('dns') or {}
        mx, dns_failures = mx_targets(params['mx_of'], nameservers=dns_settings.get('nameservers') or [],
                                      dns_port=effective['dns']['port'],
                                      mx_port=params.get('mx_port') or 25,
                                      timeout=timeout, helo=helo, deadline_at=started + deadline)
        targets.extend(mx)
    left = max(0.05, deadline - (time.monotonic() - started))
    results = probe_many(targets, options, deadline=left, reported_deadline=deadline) + dns_failures
    counts = summarize(results)
    elapsed_ms = _ms_since(started)
    parts = [f'{counts["total"]} target(s): {counts["pass"]} pass, {counts["warn"]} warn, {counts["fail"]} fail']
    if counts['timed_out']:
        parts.append(f'{counts["timed_out"]} timed out')
    result = {'changed': False, 'results': results, 'status': worst_status(r['status'] for r in results),
              'counts': counts, 'timeout_ms': int(round(timeout * 1000)), 'deadline_ms': int(round(deadline * 1000)),
              'elapsed_ms': elapsed_ms, 'msg': ', '.join(parts) + f' in {elapsed_ms / 1000:.1f}s',
              'warnings': _warnings(results)}
    if token_info is not None:
        result['oauth2'] = token_info
    fail_on = params.get('fail_on') or 'fail'
    if should_fail(results, fail_on):
        raise _probe_failed(result, fail_on)
    return result


def _probe_failed(result: dict[str, t.Any], fail_on: str) -> ProbeFailed:
    """The failure for a run whose targets trip fail_on; its kind is that of the first finding."""
    tripped = [r for r in result['results'] if trips(r['status'], fail_on)]
    first = next((f for r in tripped for f in (r['errors'] or r['warnings'])), None)
    details = {key: value for key, value in result.items() if key != 'msg'}
    return ProbeFailed(result['msg'] + '\n' + failure_message(result['results'], fail_on),
                       kind=_CAUSE_KIND.get(first['kind'], 'server') if first else 'server', **details)


def failure_message(results: list[dict[str, t.Any]], fail_on: str) -> str:
    """One line per target that trips fail_on: what, where, why."""
    lines = []
    for result in results:
        if not trips(result['status'], fail_on):
            continue
        findings = result['errors'] or result['warnings']
        why = '; '.join(f['message'] for f in findings[:3]) or result['status']
        lines.append(f'{result["target"]} ({result["host"]}:{result["port"]}) {result["status"]} '
                     f'at {result["step"]}: {why}')
    return '\n'.join(lines)
