# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Backend of mailwright.smtp.test_send: one real message, sent again only when it proves something new.

The decision (send or not) compares a keyed fingerprint of what would be proven with the marker
of the last proof (see _state). The send itself is one SMTP conversation through the shared
client, retried with backoff on transient failures (4xx, timeouts, dropped connections) and never
on permanent ones (5xx, certificate and policy failures).

Import-light on purpose: no cryptography, no yaml; the stdlib email package is used only for
address formatting and dates.
"""

from __future__ import annotations

import os
import socket
import time
import typing as t
from dataclasses import dataclass, field
from email.utils import format_datetime, formataddr, make_msgid

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.oauth2 import (
    AccessToken,
    OAuth2Error,
    obtain_token,
    sasl_secret_forms,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import (
    SMTPStepError,
    Transcript,
    client_from_settings,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import load_ca_bundle
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import timeout_seconds
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import store_ca_bundle, verification_hint
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.marker import (
    MarkerError,
    default_marker_path,
    fingerprint,
    iso_utc,
    key_path_for,
    load_or_create_key,
    marker_age,
    read_key,
    read_marker,
    write_marker,
)

__all__ = [
    'SendOptions',
    'settings_fingerprint',
    'TestMessage',
    'SendFailure',
    'recipients_of',
    'fingerprint_material',
    'render_from_name',
    'from_header',
    'build_message',
    'decide',
    'converse',
    'run_test_send',
    'REPORT_STEPS',
]

SUBJECT = 'mailwright test message'
DEFAULT_FULLNAME = 'Mailwright Test'
_PRODUCT_TITLES = {'jira': 'Jira', 'confluence': 'Confluence', 'bitbucket': 'Bitbucket',
                   'ghes': 'GitHub Enterprise', 'generic': 'mailwright'}
# The client's fine-grained steps, reported in the vocabulary admins know from the products.
REPORT_STEPS = {'connect': 'connect', 'banner': 'connect', 'ehlo': 'connect', 'starttls': 'tls', 'tls': 'tls',
                'auth': 'auth', 'mail': 'mail', 'rcpt': 'rcpt', 'data': 'data', 'quit': 'data', 'policy': 'policy'}
_MAX_BACKOFF = 30.0
# What client java adds to the result: the JVM, the JavaMail jar and the TLS protocol it negotiated.
_JAVA_RESULT_KEYS = ('jvm', 'javamail', 'tls_protocol', 'java_runtime')


@dataclass
class SendOptions:
    """Module options beyond the settings document."""

    recipients: list[str] = field(default_factory=list)
    force: bool = False
    token: str | None = None
    token_ca_path: str | None = None  # CA bundle for the OAuth 2.0 token endpoint (else the system CAs)
    marker_path: str | None = None
    ca_path: str | None = None
    validate_certs: bool = True
    # The Java truststore the relay is verified against (read without a JVM), as the application's JVM does.
    truststore_path: str | None = None
    truststore_password: str | None = field(default=None, repr=False)
    truststore_type: str = 'auto'
    retries: int = 2
    retry_delay: float = 1.0
    timeout: float | None = None
    check_mode: bool = False
    diff: bool = True
    # Filled while the module runs: every spelling of a secret obtained at run time (the access
    # token, its SASL strings), for the module to register before anything is printed.
    obtained_secrets: list[str] = field(default_factory=list, repr=False)
    access_token: AccessToken | None = field(default=None, repr=False)
    # client java: the application's JVM and jars (see java_client)
    client: str = 'python'
    java: str | None = None
    app_home: str | None = None
    classpath: list[str] | None = None


@dataclass
class TestMessage:
    __test__ = False  # not a pytest class

    sender: str
    recipients: list[str]
    headers: list[tuple[str, str]]
    body: str
    message_id: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def as_bytes(self) -> bytes:
        body = self.body
        if body.isascii():
            transfer = '7bit'
            encoded = body.encode('ascii')
        else:
            import quopri

            transfer = 'quoted-printable'
            encoded = quopri.encodestring(body.encode('utf-8'))
        lines = [f'{k}: {v}' for k, v in self.headers]
        lines += ['MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8',
                  f'Content-Transfer-Encoding: {transfer}']
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('ascii') + encoded.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')

    def summary(self) -> dict[str, t.Any]:
        return {'envelope_from': self.sender, 'recipients': list(self.recipients),
                'headers': dict(self.headers), 'message_id': self.message_id,
                'subject': self.header('Subject'), 'from': self.header('From'), 'body': self.body,
                'size': len(self.as_bytes())}


class SendFailure(MailwrightError):
    """The test send failed after its attempts; carries the last step error and the history.

    Its kind is the step error's (policy for a refusal such as credentials in clear), its step
    the product vocabulary of REPORT_STEPS; the adapter adds what to_dict says to the result.
    """

    def __init__(self, error: SMTPStepError, attempts: list[dict[str, t.Any]]):
        self.error = error
        self.attempts = attempts
        step = REPORT_STEPS.get(error.step, error.step)
        super().__init__(self._describe(error, step, len(attempts)), kind=error.kind, step=step,
                         smtp_step=error.step, code=error.code, text=error.text, transient=error.transient,
                         attempts=attempts)

    @staticmethod
    def _describe(error: SMTPStepError, step: str, tries: int) -> str:
        detail = f'{error.code} {error.text}' if error.code is not None else error.text
        return f'test send failed at step {step}: {detail}' + (f' (after {tries} attempts)' if tries > 1 else '')

    def to_dict(self) -> dict[str, t.Any]:
        return {'step': self.step, 'smtp_step': self.error.step, 'kind': self.error.kind, 'code': self.error.code,
                'text': self.error.text, 'transient': self.error.transient}


def recipients_of(effective: dict[str, t.Any], extra: t.Iterable[str] = ()) -> list[str]:
    """settings.test.recipients then the extra ones, each once (case-insensitively), order kept."""
    seen: set[str] = set()
    out: list[str] = []
    for address in list(effective['test']['recipients']) + list(extra or ()):
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def _grant(effective: dict[str, t.Any]) -> str | None:
    return (effective['auth'].get('oauth2') or {}).get('grant_type')


def _token(effective: dict[str, t.Any], options: SendOptions) -> str | None:
    """The access token to authenticate with: obtained with auth.oauth2.grant_type (once per run,
    kept in memory only), else the token option or auth.oauth2.token. OAuth2Error (step token)
    when the token endpoint refuses."""
    oauth2 = effective['auth'].get('oauth2') or {}
    if not oauth2.get('grant_type'):
        return options.token or oauth2.get('token')
    if options.access_token is None:
        timeout = options.timeout or timeout_seconds(effective['server'])
        options.access_token = obtain_token(oauth2, timeout=timeout, ca_path=options.token_ca_path,
                                            register=options.obtained_secrets.extend)
        username = effective['auth'].get('username') or ''
        server = effective['server']
        options.obtained_secrets.extend(sasl_secret_forms(username, options.access_token.token, server['host'],
                                                          int(server['port'])))
    return options.access_token.token


def fingerprint_material(effective: dict[str, t.Any], recipients: list[str], options: SendOptions) -> dict[str, t.Any]:
    """What a proof proves: everything that shapes the conversation and the message.

    Left out: dns (not used to send), test.max_age (how long a proof lasts, not what it proves)
    and retries/timeouts of this module. The token option counts as auth.oauth2.token; a token
    obtained by a grant does not (it changes every run; the grant's settings are what is proven).
    """
    settings = {key: value for key, value in effective.items() if key != 'dns'}
    settings['test'] = {key: value for key, value in effective['test'].items()
                        if key not in ('max_age', 'max_age_seconds', 'recipients')}
    auth = dict(settings['auth'])
    if auth.get('method') == 'oauth2' and not _grant(effective):
        auth['oauth2'] = dict(auth.get('oauth2') or {}, token=_token(effective, options))
    settings['auth'] = auth
    trust: dict[str, t.Any] = {'ca_path': options.ca_path, 'validate_certs': options.validate_certs}
    if options.truststore_path:  # only when set: proofs made without it keep their fingerprint
        trust['truststore_path'] = options.truststore_path
    material = {'settings': settings, 'recipients': sorted(r.lower() for r in recipients), 'trust': trust}
    if options.client != 'python':
        # Another client proves another stack; python's material stays as it was, so existing markers hold.
        material['client'] = {'name': options.client, 'java': options.java, 'app_home': options.app_home,
                              'classpath': options.classpath, 'truststore_path': options.truststore_path,
                              'truststore_type': options.truststore_type,
                              'truststore_password': options.truststore_password}
    return material


def _test_user(effective: dict[str, t.Any]) -> tuple[str, str]:
    user = effective['test'].get('user') or {}
    return (user.get('fullname') or DEFAULT_FULLNAME), (user.get('email') or effective['sender']['from_address'])


def render_from_name(template: str, effective: dict[str, t.Any]) -> str:
    """${fullname}, ${email} and ${email.hostname} filled from test.user, as the products do."""
    fullname, email = _test_user(effective)
    return (template.replace('${email.hostname}', email.rpartition('@')[2])
            .replace('${fullname}', fullname).replace('${email}', email))


def from_header(effective: dict[str, t.Any]) -> str:
    """The From header the product would write for the test user."""
    sender = effective['sender']
    product = effective['product']
    address = sender['from_address']
    if product == 'ghes' and sender.get('noreply_address'):
        address = sender['noreply_address']  # GHES sends all notifications from the no-reply address
    if sender.get('from_name'):
        name = render_from_name(sender['from_name'], effective)
    elif product == 'jira':
        name = f'{_test_user(effective)[0]} (Jira)'  # Jira: "User Name (Jira) <address>"
    else:
        name = ''
    return formataddr((name, address)) if name else address


def build_message(effective: dict[str, t.Any], recipients: list[str], fingerprint_value: str, *,
                  now: float | None = None, sending_host: str | None = None) -> TestMessage:
    now = time.time() if now is None else now
    sender = effective['sender']
    server = effective['server']
    domain = sender['from_address'].rpartition('@')[2] or 'localhost'
    # make_msgid with an explicit domain: without one it asks DNS for our FQDN, which can take seconds
    message_id = make_msgid('mailwright.test', domain=domain)
    prefix = sender.get('subject_prefix')
    subject = f'{prefix} {SUBJECT}' if prefix else SUBJECT
    host = sending_host or socket.gethostname()
    when = iso_utc(now)
    import datetime as dt

    date = format_datetime(dt.datetime.fromtimestamp(now, dt.timezone.utc), usegmt=True)
    tls = 'SMTPS' if server['protocol'] == 'smtps' else f'SMTP, tls {server["tls"]}'
    relay = f'{server["host"]}:{server["port"]} ({tls})'
    body = '\n'.join([
        'This is a test message sent by mailwright (mailwright.smtp.test_send).',
        '',
        f'Product:     {effective["product"]}' + (f' ({effective["name"]})' if effective.get('name') else ''),
        f'Host:        {host}',
        f'Relay:       {relay}',
        f'Sent at:     {when}',
        f'Fingerprint: {fingerprint_value}',
        '',
        'It proves that this host can send mail with these settings. No reply is needed.',
        '',
    ])
    headers = [
        ('From', from_header(effective)),
        ('To', ', '.join(recipients)),
        ('Subject', _encode_header(subject)),
        ('Date', date),
        ('Message-ID', message_id),
        ('X-Mailwright-Fingerprint', fingerprint_value),
        ('Auto-Submitted', 'auto-generated'),
    ]
    return TestMessage(sender['from_address'], list(recipients), headers, body, message_id)


def _encode_header(value: str) -> str:
    if value.isascii():
        return value
    from email.header import Header

    return Header(value, 'utf-8').encode()


def settings_fingerprint(key: bytes, material: dict[str, t.Any]) -> str:
    """The part of the proof's fingerprint that the settings alone decide, without the client and trust options.

    An audit (mail_info) asks whether the proof is of these settings; it does not know which client or
    truststore the role's test send used, which the full fingerprint also covers.
    """
    return fingerprint(key, {'settings': material['settings'], 'recipients': material['recipients']})


@dataclass
class Decision:
    send: bool
    reason: str | None
    fingerprint: str | None
    previous: dict[str, t.Any] | None
    age: float | None


def decide(key: bytes | None, material: dict[str, t.Any], marker: dict[str, t.Any] | None, *,
           max_age: int, force: bool, now: float | None = None) -> Decision:
    """Send or not, and why."""
    value = fingerprint(key, material) if key is not None else None
    age = marker_age(marker, now) if marker else None
    if force:
        return Decision(True, 'force', value, marker, age)
    if marker is None:
        return Decision(True, 'no previous proof', value, marker, age)
    if value is None or marker.get('fingerprint') != value:
        return Decision(True, 'settings changed', value, marker, age)
    if age is None or age > max_age:
        return Decision(True, 'previous proof is older than test.max_age', value, marker, age)
    return Decision(False, None, value, marker, age)


def converse(effective: dict[str, t.Any], message: TestMessage, options: SendOptions,
             transcript: Transcript) -> dict[str, t.Any]:
    """One conversation: open, AUTH, MAIL, RCPT (each), then DATA, or RSET in check mode."""
    overrides: dict[str, t.Any] = {'transcript': transcript, 'verify': options.validate_certs,
                                   'check_hostname': options.validate_certs}
    if options.ca_path:
        overrides['cafile'], overrides['cadata'] = load_ca_bundle(options.ca_path)
    count = None
    if options.truststore_path:
        store_pem, count = store_ca_bundle(options.truststore_path, options.truststore_password or '',
                                           options.truststore_type, option='truststore_path')
        overrides['cadata'] = store_pem + (overrides.get('cadata') or '')
    if options.timeout:
        overrides['timeout'] = options.timeout
    client = client_from_settings(effective, **overrides)
    try:
        return _converse_with(client, effective, message, options)
    except SMTPStepError as exc:
        if exc.cause != 'certificate' or not options.validate_certs:
            raise
        # Say what the relay was verified against and which option changes that.
        hint = verification_hint(options.truststore_path, count)
        if options.ca_path and not options.truststore_path:
            hint = hint.replace('verified against the system CAs', f'verified against ca_path {options.ca_path}')
        raise SMTPStepError(exc.step, f'{exc.text} ({hint})', code=exc.code, transient=exc.transient,
                            kind=exc.kind, cause=exc.cause) from None


def _converse_with(client, effective: dict[str, t.Any], message: TestMessage,
                   options: SendOptions) -> dict[str, t.Any]:
    outcome: dict[str, t.Any] = {'warnings': []}
    with client:
        client.open()
        auth = effective['auth']
        if auth['method'] != 'none':
            # Said here, before anything else is sent; client.auth() enforces it again for every caller.
            client.check_credentials_allowed()
        elif not client.tls_active and client.tls == 'opportunistic':
            # Nothing secret travels, so opportunistic may go on in clear; the result says so.
            what = 'the envelope (RCPT check only, check mode)' if options.check_mode else 'the test message'
            outcome['warnings'].append(
                f'{client.plaintext_reason()}: {what} went to {client.host}:{client.port} unencrypted '
                '(tls is opportunistic, no authentication configured); set server.tls: required to refuse '
                'a relay without STARTTLS')
        if auth['method'] == 'basic':
            client.auth('basic', auth['username'] or '', auth['password'] or '', mechanism=auth.get('mechanism'))
        elif auth['method'] == 'oauth2':
            client.auth('oauth2', auth['username'] or '', _token(effective, options) or '',
                        mechanism=auth.get('mechanism'))
        client.mail(message.sender)
        for recipient in message.recipients:
            client.rcpt(recipient)
        if options.check_mode:
            reply = client.rset()
        else:
            reply = client.data(message.as_bytes())
        outcome['reply'] = reply.to_dict()
        tls = client.tls_info or {}
        outcome['tls'] = {'version': tls.get('version'), 'cipher': tls.get('cipher'),
                          'verified': tls.get('verified')} if tls else None
        outcome['auth_mechanism'] = client.auth_mechanism
        outcome['banner'] = client.banner
        outcome['timings'] = dict(client.timings)
    return outcome


def _ms_since(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))


def send_with_retries(effective, message, options, transcript, *, sleep=time.sleep) -> tuple[dict, list[dict]]:
    attempts: list[dict[str, t.Any]] = []
    total = 1 + max(0, options.retries)
    conversation = converse
    if options.client == 'java':
        from ansible_collections.mailwright.smtp.plugins.module_utils._prove.java_client import converse_java

        conversation = converse_java
    for number in range(1, total + 1):
        if total > 1:
            transcript.note(f'attempt {number} of {total}')
        started = time.monotonic()
        try:
            outcome = conversation(effective, message, options, transcript)
        except SMTPStepError as error:
            record = {'attempt': number, 'ok': False, 'elapsed_ms': _ms_since(started),
                      'step': REPORT_STEPS.get(error.step, error.step), 'code': error.code, 'text': error.text,
                      'transient': error.transient}
            attempts.append(record)
            if not error.transient or number == total:
                raise SendFailure(error, attempts) from None
            delay = min(_MAX_BACKOFF, options.retry_delay * (2 ** (number - 1)))
            record['retry_in'] = delay
            transcript.note(f'{error} - transient, retrying in {delay:g}s')
            sleep(delay)
            continue
        attempts.append({'attempt': number, 'ok': True, 'elapsed_ms': _ms_since(started)})
        return outcome, attempts
    raise RuntimeError('unreachable: the loop returns or raises')  # pragma: no cover


def _proof_view(marker: dict[str, t.Any] | None, age: float | None) -> dict[str, t.Any] | None:
    if not marker:
        return None
    view = {key: marker.get(key) for key in ('fingerprint', 'time', 'message_id', 'reply', 'recipients', 'relay')}
    view['age_seconds'] = None if age is None else int(age)
    return view


def _check_inputs(effective: dict[str, t.Any], options: SendOptions) -> list[str]:
    """The recipients; MailwrightError (step policy) for what makes a send impossible."""
    if options.retries < 0 or options.retry_delay < 0:
        raise MailwrightError('retries and retry_delay must not be negative', kind='invalid')
    recipients = recipients_of(effective, options.recipients)
    if not recipients:
        raise MailwrightError('no recipient for the test message: set settings.test.recipients or the recipients '
                              'option', kind='invalid', step='policy')
    if effective['auth']['method'] == 'oauth2' and not _grant(effective) and not _token(effective, options):
        raise MailwrightError('auth.method is oauth2 but there is no token: set settings.auth.oauth2.token or the '
                              'token option', kind='invalid', step='policy')
    if options.client == 'java':
        _check_java_inputs(effective, options)
    return recipients


def _check_java_inputs(effective: dict[str, t.Any], options: SendOptions) -> None:
    """What client java cannot prove the way the options ask, refused before anything runs."""
    if not options.validate_certs:
        raise MailwrightError('validate_certs=false is not available with client java: the JVM verifies the relay '
                              'with its truststore (truststore_path), as the application does', kind='invalid')
    if options.ca_path:
        raise MailwrightError('ca_path is for client python; the JVM reads a Java truststore: set truststore_path '
                              '(and truststore_password, truststore_type)', kind='invalid')
    server = effective['server']
    if effective['auth']['method'] != 'none' and server['protocol'] == 'smtp' and server['tls'] == 'opportunistic':
        # JavaMail would AUTH in clear when STARTTLS is missing or stripped; that is not run.
        raise MailwrightError('client java with tls opportunistic and authentication: JavaMail sends the password in '
                              'clear when the relay does not offer STARTTLS (or a man in the middle strips it), so '
                              'mailwright does not run that proof; set server.tls: required (the application then '
                              'refuses such a relay too)', kind='policy', step='tls')


def _previous_proof(key_path: str, marker_path: str, warnings: list[str]) -> tuple[bytes | None, dict | None]:
    try:
        return read_key(key_path), read_marker(marker_path)
    except MarkerError as exc:
        # A marker we cannot read proves nothing: send again and replace it.
        warnings.append(str(exc))
        return read_key_quietly(key_path), None


def _signing_key(key: bytes | None, key_path: str, options: SendOptions, warnings: list[str]) -> bytes:
    if options.check_mode and key is None:
        # Nothing may be written in check mode, the key included: preview with a throwaway key.
        return os.urandom(32)
    try:
        return key if key is not None else load_or_create_key(key_path)
    except (MarkerError, OSError) as exc:
        raise MailwrightError(f'cannot create the fingerprint key {key_path}: {exc}', kind='file', step='marker',
                              warnings=warnings) from None


def _diff(before: dict[str, t.Any] | None, after: dict[str, t.Any] | None, marker_path: str) -> dict[str, str]:
    return {'before': _diff_text(before), 'after': _diff_text(after),
            'before_header': marker_path, 'after_header': marker_path}


def run_test_send(effective: dict[str, t.Any], options: SendOptions, secrets: t.Iterable[str] = ()) -> dict[str, t.Any]:
    """The whole module run: the result dict (`warnings` as text), or a MailwrightError."""
    server = effective['server']
    recipients = _check_inputs(effective, options)
    marker_path = options.marker_path or default_marker_path(effective['product'], server['host'], server['port'])
    key_path = key_path_for(marker_path)
    transcript = Transcript(list(secrets) + [s for s in (options.token, options.truststore_password) if s])
    warnings: list[str] = []
    key, marker = _previous_proof(key_path, marker_path, warnings)
    material = fingerprint_material(effective, recipients, options)
    now = time.time()
    decision = decide(key, material, marker, max_age=effective['test']['max_age_seconds'], force=options.force, now=now)
    result: dict[str, t.Any] = {
        'changed': False, 'sent': False, 'reason': decision.reason, 'marker_path': marker_path,
        'fingerprint': decision.fingerprint, 'recipients': recipients,
        'relay': f'{server["host"]}:{server["port"]}', 'proof': _proof_view(decision.previous, decision.age),
        'transcript': [], 'attempts': [], 'warnings': warnings,
    }
    if not decision.send:
        previous = decision.previous or {}  # decide() skips the send only over a marker
        result['msg'] = f'already proven at {previous.get("time")} (message {previous.get("message_id")})'
        return result

    signing_key = _signing_key(key, key_path, options, warnings)
    value = fingerprint(signing_key, material)
    message = build_message(effective, recipients, value, now=now)
    result['message'] = message.summary()
    if _grant(effective):
        _obtain(effective, options, transcript, result)
    try:
        outcome, attempts = send_with_retries(effective, message, options, transcript)
    except SendFailure as failure:
        failure.details.update(transcript=transcript.lines, reason=decision.reason, marker_path=marker_path,
                               proof=result['proof'], warnings=warnings, **getattr(failure.error, 'java', {}))
        raise
    warnings.extend(outcome['warnings'])
    result.update(attempts=attempts, transcript=transcript.lines, tls=outcome['tls'],
                  auth_mechanism=outcome['auth_mechanism'], server_reply=outcome['reply'])
    result.update({key: outcome[key] for key in _JAVA_RESULT_KEYS if key in outcome})
    if options.check_mode:
        result.update(changed=True, fingerprint=decision.fingerprint,
                      msg=f'would send the test message ({decision.reason}); relay accepted sender and '
                          f'{len(recipients)} recipient(s), then RSET')
        would_be = {'fingerprint': decision.fingerprint, 'time': '(check mode: not sent)',
                    'message_id': message.message_id, 'reply': None, 'recipients': recipients,
                    'relay': result['relay']}
        if options.diff:
            result['diff'] = _diff(result['proof'], would_be, marker_path)
        return result
    record = {'fingerprint': value, 'epoch': now, 'time': iso_utc(now), 'message_id': message.message_id,
              'reply': outcome['reply'], 'recipients': recipients, 'relay': result['relay'],
              'product': effective['product'], 'settings_fingerprint': settings_fingerprint(signing_key, material)}
    before = result['proof']  # the previous proof, as reported before this send
    try:
        write_marker(None, marker_path, record)  # mode 0600 given: no AnsibleModule needed
    except OSError as exc:
        error = MailwrightError(f'the message was sent (Message-ID {message.message_id}) but the marker {marker_path} '
                                f'could not be written: {exc.strerror}; the next run will send again',
                                kind='file', step='marker', transcript=transcript.lines, warnings=warnings)
        # `message` is also the constructor's first parameter, so this result key is added after it
        error.details['message'] = result['message']
        raise error from None
    result.update(changed=True, sent=True, fingerprint=value, proof=_proof_view(record, 0.0),
                  msg=f'sent the test message ({decision.reason}): {outcome["reply"]["code"]} {outcome["reply"]["text"]}')
    if options.diff:
        result['diff'] = _diff(before, result['proof'], marker_path)
    return result


def _obtain(effective: dict[str, t.Any], options: SendOptions, transcript: Transcript, result: dict[str, t.Any]) -> None:
    """The grant's access token, before any SMTP connection: a refused grant fails at step token."""
    grant = _grant(effective)
    try:
        _token(effective, options)
    except OAuth2Error as exc:
        exc.details.update(reason=result['reason'], marker_path=result['marker_path'], proof=result['proof'],
                           transcript=transcript.lines)
        exc.warnings.extend(result['warnings'])
        raise
    finally:
        for secret in options.obtained_secrets:
            transcript.register_secret(secret)
    token = options.access_token
    if token is not None:
        result['oauth2'] = dict(token.summary(), grant_type=grant)
        transcript.note(f'access token obtained from {token.url} ({grant}'
                        + (f', expires in {token.expires_in} s' if token.expires_in is not None else '') + ')')


def read_key_quietly(path: str) -> bytes | None:
    try:
        return read_key(path)
    except MarkerError:
        return None


def _diff_text(view: dict[str, t.Any] | None) -> str:
    if not view:
        return ''
    import json

    return json.dumps({k: v for k, v in view.items() if k != 'age_seconds'}, indent=2, sort_keys=True) + '\n'
