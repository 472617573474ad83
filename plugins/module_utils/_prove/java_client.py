# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""test_send with client java: the same proof, made by the application's JVM and JavaMail jars.

What Python's client proves is that Python can send; Jira, Confluence and every JavaMail
application send with their own JVM, JavaMail version and truststore, and the properties we
rendered. So the conversation here is run by a small Java program (tools/java, shipped compiled
in java_helper) with exactly ``javamail_properties(effective)`` - the one builder the render step
uses - plus ``mail.debug=true`` for the transcript.

Secrets: the password (or the OAuth 2.0 token) and the truststore password travel on the JVM's
stdin, never in its command line or environment; JavaMail gets the password from an
Authenticator. The debug output is scrubbed line by line through the same Transcript as Python's
client, with every spelling of the credentials registered (raw, base64, the PLAIN and XOAUTH2
payloads), and the message data is not copied into it.

The classes are written to a private temporary directory (mkdtemp: mode 0700, an unpredictable
name), removed after the run.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import REDACTED, credential_forms
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import SMTPStepError, Transcript
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import escape_key, escape_value, javamail_properties
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import timeout_seconds
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import detect_store_type

__all__ = [
    'CLIENTS',
    'JavaStepError',
    'JavaRuntime',
    'session_properties',
    'resolve_runtime',
    'proof_input',
    'jvm_command',
    'parse_transcript',
    'failure_from_result',
    'converse_java',
]

CLIENTS = ('python', 'java')
# Start-up flags measured by benchmarks/bench_test_send_java.py: one short run needs neither the
# optimising compiler nor a big heap; class data sharing is the JVM's default.
JVM_FLAGS = ('-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto')
_CONTROL = 'mailwright.proof.'
Api = t.Literal['javax', 'jakarta']
_API_OF_SESSION: dict[str, Api] = {'javax.mail.Session': 'javax', 'jakarta.mail.Session': 'jakarta'}


class JavaStepError(SMTPStepError):
    """A failed step of the Java proof; carries what the JVM said about itself (jvm, javamail)."""

    def __init__(self, step: str, text: str, *, java: dict[str, t.Any] | None = None, **kwargs: t.Any):
        self.java = java or {}
        super().__init__(step, text, **kwargs)


@dataclass
class JavaRuntime:
    """The JVM and jars a proof runs with, and the truststore it is given."""

    java: str
    classpath: list[str]
    api: str | None
    truststore: dict[str, str | None] | None = None
    truststore_source: str | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, t.Any]:
        store = self.truststore or {}
        return {'java': self.java, 'classpath': list(self.classpath), 'api': self.api,
                'truststore': {'path': store.get('path'), 'type': store.get('type'), 'source': self.truststore_source}
                if self.truststore else None}


def session_properties(effective: dict[str, t.Any]) -> dict[str, str]:
    """The rendered session properties (one code path with the render step), plus mail.debug for
    the transcript; XOAUTH2 named as the mechanism for auth.method oauth2 (the token is the password)."""
    props = javamail_properties(effective)
    if effective['auth']['method'] == 'oauth2':
        props['mail.smtp.auth.mechanisms'] = 'XOAUTH2'
    props['mail.debug'] = 'true'
    # Only a debug switch: with it JavaMail would print the AUTH exchange itself.
    props['mail.debug.auth'] = 'false'
    return props


def _api(effective: dict[str, t.Any]) -> Api | None:
    jndi = effective['server'].get('jndi') or {}
    return _API_OF_SESSION.get(jndi.get('session_type') or '')


def resolve_runtime(effective: dict[str, t.Any], options: t.Any) -> JavaRuntime:
    """java binary, class path and truststore from the options, else from app_home (_runtime.app)."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._runtime import app

    api = _api(effective)
    if options.app_home and not os.path.isdir(options.app_home):
        raise MailwrightError(f'app_home {options.app_home}: no such directory', kind='invalid', step='runtime')
    java = options.java or app.default_java(options.app_home)
    found = shutil.which(java) if os.sep not in java else (java if os.access(java, os.X_OK) else None)
    if not found:
        raise MailwrightError(f'java {java}: not found or not executable; set the java option (the application\'s '
                              'java binary) or app_home (its <app_home>/jre/bin/java is used)',
                              kind='missing', step='runtime')
    if options.classpath:
        classpath = list(options.classpath)
        for jar in classpath:
            if not os.path.isfile(jar):
                raise MailwrightError(f'classpath: {jar} is not a file', kind='invalid', step='runtime')
    elif options.app_home:
        classpath = app.proof_classpath(options.app_home, effective['product'], api)
    else:
        raise MailwrightError('client java needs the mail jars: set app_home (the install directory) or classpath',
                              kind='invalid', step='runtime')
    if options.classpath:
        # Explicit jars: the session type's API when they hold it, else whichever API they hold.
        held = {jar.api for jar in (app.classify_jar(path, 'lib') for path in classpath) if jar and jar.kind == 'mail'}
        api = api if api in held else (held.pop() if len(held) == 1 else None)
    runtime = JavaRuntime(found, classpath, api)
    if options.truststore_path:
        # the JVM needs the type named (Java 8 reads only JKS by default): 'auto' is the file's own
        store_type = options.truststore_type
        if store_type in (None, 'auto'):
            try:
                store_type = detect_store_type(options.truststore_path)
            except ValueError as exc:
                raise MailwrightError(f'truststore_path: {exc}', kind='file', step='runtime') from None
        runtime.truststore = {'path': options.truststore_path, 'password': options.truststore_password,
                              'type': store_type.upper() if store_type else None}
        runtime.truststore_source = 'truststore_path'
    elif options.app_home:
        store = app.read_jvm_options(options.app_home, effective['product']).truststore
        if store is not None:
            runtime.truststore = {'path': store.path, 'password': store.password, 'type': store.type}
            runtime.truststore_source = 'app_home'
    if runtime.truststore and not os.path.isfile(runtime.truststore['path'] or ''):
        option = 'truststore_path' if runtime.truststore_source == 'truststore_path' else \
            f'app_home ({options.app_home}/bin/setenv.sh, -Djavax.net.ssl.trustStore)'
        raise MailwrightError(f'{option}: the truststore {runtime.truststore["path"]} does not exist',
                              kind='file', step='runtime')
    return runtime


def _line(key: str, value: str) -> str:
    return f'{escape_key(key)}={escape_value(value)}\n'


def proof_input(effective: dict[str, t.Any], props: dict[str, str], *, sender: str, recipients: list[str],
                message: bytes, secret: str | None, check_mode: bool, runtime: JavaRuntime) -> str:
    """The Properties text the Java side reads from stdin (ASCII, escaped as Properties.store does)."""
    lines = [_line(key, value) for key, value in props.items()]
    control = {'mode': 'check' if check_mode else 'send', 'api': runtime.api or 'auto', 'from': sender,
               'message': base64.b64encode(message).decode('ascii')}
    for index, recipient in enumerate(recipients):
        control[f'rcpt.{index}'] = recipient
    if secret is not None and effective['auth']['method'] != 'none':
        control['password'] = secret
    store = runtime.truststore or {}
    for name, key in (('javax.net.ssl.trustStore', 'path'), ('javax.net.ssl.trustStorePassword', 'password'),
                      ('javax.net.ssl.trustStoreType', 'type')):
        if store.get(key):
            control[f'system.{name}'] = str(store[key])
    lines += [_line(_CONTROL + key, value) for key, value in control.items()]
    return ''.join(lines)


def jvm_command(runtime: JavaRuntime, classes_dir: str, *, flags: t.Sequence[str] = JVM_FLAGS) -> list[str]:
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.java_helper import MAIN_CLASS

    return [runtime.java, *flags, '-cp', os.pathsep.join([classes_dir, *runtime.classpath]), MAIN_CLASS]


def write_classes(directory: str) -> None:
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.java_helper import CLASS_FILES

    for name, encoded in CLASS_FILES.items():
        fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(base64.b64decode(encoded))


# --- the transcript ---------------------------------------------------------------------------

_REPLY = re.compile(r'\d{3}(?:[ -]|$)')
# JavaMail's provider tables: long, the same on every run, and no part of the conversation.
_NOISE = ('DEBUG: Tables of loaded providers', 'DEBUG: Providers Listed By', 'DEBUG: successfully loaded resource')
_MECHANISM = re.compile(r'DEBUG SMTP: (?:Using mechanism|AUTH) (\S+)')


def parse_transcript(text: str, transcript: Transcript) -> str | None:
    """mail.debug output into transcript lines (S:, C:, * for JavaMail's own notes); returns the
    AUTH mechanism JavaMail used. AUTH payloads and the answers to 334 challenges are replaced by
    the placeholder, the message data by its size."""
    mechanism = None
    challenged = False
    data: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip('\r')
        if data is not None:
            if line == '.':
                transcript.add('C', f'<message, {sum(len(d) + 2 for d in data)} bytes>')
                transcript.add('C', '.')
                data = None
            else:
                data.append(line)
            continue
        if line.startswith(_NOISE):
            continue
        if line.startswith('DEBUG'):
            found = _MECHANISM.match(line)
            if found and found.group(1) not in ('command', 'mechanisms'):
                mechanism = mechanism or found.group(1)
            transcript.note(line)
        elif _REPLY.match(line):
            transcript.add('S', line)
            challenged = line.startswith('334')
            if line.startswith('354'):
                data = []
        elif not line.strip():
            continue
        elif line.upper().startswith('AUTH '):
            words = line.split(' ', 2)
            transcript.add('C', ' '.join(words[:2]) + (' ' + REDACTED if len(words) > 2 else ''))
        elif challenged:
            transcript.add('C', REDACTED)
        else:
            transcript.add('C', line)
    if data is not None:  # the connection ended inside DATA
        transcript.add('C', f'<message, {sum(len(d) + 2 for d in data)} bytes, not finished>')
    return mechanism


def register_credentials(transcript: Transcript, username: str | None, secret: str | None, *, oauth2: bool) -> None:
    if not secret:
        return
    user = username or ''
    for form in credential_forms(username=user, password=None if oauth2 else secret, token=secret if oauth2 else None):
        transcript.register_secret(form)
    # register_secret adds the base64 forms: the payloads of PLAIN and XOAUTH2 as they go on the wire
    transcript.register_secret(f'\0{user}\0{secret}')
    transcript.register_secret(f'user={user}\x01auth=Bearer {secret}\x01\x01')


# --- failures ---------------------------------------------------------------------------------

def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip('[]'))
    except ValueError:
        return False
    return True


def _implementation(result: dict[str, t.Any]) -> str:
    mail = result.get('javamail') or {}
    return f"{mail.get('implementation') or 'JavaMail'} {mail.get('version') or '(unknown version)'}"


def failure_from_result(result: dict[str, t.Any], effective: dict[str, t.Any], runtime: JavaRuntime) -> JavaStepError:
    """The JVM's failure as a step error in the vocabulary of Python's client."""
    java = {key: result.get(key) for key in ('jvm', 'javamail', 'api') if result.get(key)}
    errors = result.get('errors') or [{}]
    classes = [str(e.get('class') or '') for e in errors]
    messages = [str(e.get('message') or '') for e in errors]
    codes = [e.get('code') for e in errors if isinstance(e.get('code'), int) and e.get('code') > 0]
    last = result.get('last_reply') or {}
    code = codes[0] if codes else None
    top = next((m for m in messages if m), classes[0] or 'failed')
    joined = ' | '.join(m for m in messages if m)
    host = effective['server']['host']
    phase = result.get('phase')

    def fail(step: str, text: str, **kwargs: t.Any) -> JavaStepError:
        return JavaStepError(step, text, java=java, **kwargs)

    if phase == 'setup':
        if any(c.endswith('ClassNotFoundException') or c.endswith('NoClassDefFoundError') for c in classes):
            return fail('connect', f'the class path lacks a JavaMail class ({top}): the jars '
                        f'{", ".join(runtime.classpath)} do not hold the {runtime.api or "javax or jakarta"} mail API '
                        'and its activation jar; check classpath or app_home', kind='missing', transient=False)
        return fail('connect', f'the JVM could not set up the mail session: {joined}', kind='tool', transient=False)
    if phase == 'connect':
        if any(c.endswith('AuthenticationFailedException') for c in classes):
            return fail('auth', f'{top}'.strip(), code=code or last.get('code'))
        if "Can't verify identity of server" in joined:
            if _is_ip(host):
                text = (f'{_implementation(result)} cannot verify a relay given as an IP address ({host}) with '
                        'mail.smtp.ssl.checkserveridentity=true (as rendered): it never matches an address '
                        'against the certificate, not even an IP SAN; set server.host to the DNS name in the '
                        'relay\'s certificate, or use a mail implementation whose host-name check handles IP '
                        'addresses (Eclipse Angus Mail); the check is not switched off')
            else:
                text = (f'the relay\'s certificate does not name {host}: {_implementation(result)} refused it '
                        '(mail.smtp.ssl.checkserveridentity=true, as rendered)')
            return fail('tls', text, cause='certificate', transient=False)
        if any(k in joined for k in ('PKIX', 'unable to find valid certification path', 'ValidatorException')) \
                or any(c.endswith(('CertPathBuilderException', 'CertificateException', 'SSLHandshakeException'))
                       for c in classes):
            store = runtime.truststore or {}
            where = (f'the truststore {store.get("path")} (from {runtime.truststore_source})' if store
                     else "the JRE's default truststore (cacerts)")
            return fail('tls', f'the JVM does not trust the relay\'s certificate ({joined}); {where} lacks the CA '
                        'that issued it: import it (mailwright.smtp.truststore_cert) or set truststore_path to the '
                        'store that holds it', cause='certificate', transient=False)
        if 'STARTTLS is required' in joined:
            return fail('tls', f'{top}: tls is required and the relay does not offer STARTTLS; nothing was sent',
                        kind='policy', transient=False)
        if any(c.endswith('SocketTimeoutException') for c in classes):
            return fail('connect', f'timed out: {joined}', transient=True, cause='timeout')
        if any(c.endswith(('SSLException', 'SSLProtocolException')) for c in classes):
            return fail('tls', joined, transient=False)
        if any(c.endswith(('ConnectException', 'UnknownHostException', 'NoRouteToHostException')) for c in classes) \
                or "Couldn't connect" in joined:
            cause = 'refused' if 'refused' in joined.lower() else 'unreachable'
            return fail('connect', joined, transient=True, cause=cause)
        if code:
            return fail('connect', top, code=code)
        return fail('connect', joined or top, transient=True)
    step = {'mail': 'mail', 'rcpt': 'rcpt', 'rset': 'quit'}.get(phase or '', 'data')
    if phase == 'send':
        if any(c.endswith('SMTPSenderFailedException') for c in classes):
            step = 'mail'
        elif any(c.endswith('SMTPAddressFailedException') for c in classes):
            step = 'rcpt'
    reply_code = code or last.get('code')
    text = str(last.get('text') or top).strip()
    if reply_code and text.startswith(str(reply_code)):
        text = text[3:].strip()
    if any(c.endswith('SocketTimeoutException') for c in classes):
        return fail(step, f'timed out: {joined}', transient=True, cause='timeout')
    return fail(step, text or joined, code=reply_code if isinstance(reply_code, int) and reply_code > 0 else None)


# --- one conversation -------------------------------------------------------------------------

def converse_java(effective: dict[str, t.Any], message: t.Any, options: t.Any, transcript: Transcript) -> dict[str, t.Any]:
    """One proof in the JVM: connect (EHLO, STARTTLS, AUTH), then the message, or in check mode
    MAIL FROM, RCPT TO and RSET. Returns what converse() returns, plus jvm, javamail and tls_protocol."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import _token

    runtime = resolve_runtime(effective, options)
    auth = effective['auth']
    oauth2 = auth['method'] == 'oauth2'
    secret = _token(effective, options) if oauth2 else auth.get('password')
    register_credentials(transcript, auth.get('username'), secret, oauth2=oauth2)
    if runtime.truststore and runtime.truststore.get('password'):
        transcript.register_secret(runtime.truststore['password'])
    props = session_properties(effective)
    stdin = proof_input(effective, props, sender=message.sender, recipients=message.recipients,
                        message=message.as_bytes(), secret=secret, check_mode=options.check_mode, runtime=runtime)
    step_seconds = options.timeout or timeout_seconds(effective['server'])
    limit = 3 * step_seconds + 30  # connect + read + write, and the JVM's start
    directory = tempfile.mkdtemp(prefix='mailwright-proof-')
    try:
        write_classes(directory)
        transcript.note(f'client java: {runtime.java} with {", ".join(os.path.basename(j) for j in runtime.classpath)}')
        try:
            proc = subprocess.run(jvm_command(runtime, directory), input=stdin.encode('ascii'), capture_output=True,
                                  timeout=limit, check=False, env=_jvm_env())
        except subprocess.TimeoutExpired as exc:
            parse_transcript((exc.stderr or b'').decode('utf-8', 'replace'), transcript)
            raise JavaStepError('connect', f'the JVM did not finish within {limit:g}s', transient=True,
                                cause='timeout') from None
        except OSError as exc:
            raise MailwrightError(f'java {runtime.java}: cannot run it: {exc.strerror}', kind='tool',
                                  step='runtime') from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    mechanism = parse_transcript(proc.stderr.decode('utf-8', 'replace'), transcript)
    try:
        result = json.loads(proc.stdout.decode('utf-8', 'replace').strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = transcript.scrub(proc.stderr.decode('utf-8', 'replace'))[-600:]
        raise MailwrightError(f'java {runtime.java} exited with {proc.returncode} without a result '
                              f'(a JRE older than Java 8?): {tail}', kind='tool', step='runtime') from None
    if not result.get('ok'):
        raise failure_from_result(result, effective, runtime)
    reply = result.get('reply') or {}
    text = str(reply.get('text') or '').strip()
    code = reply.get('code')
    if isinstance(code, int) and text.startswith(str(code)):
        text = text[3:].strip()
    tls = result.get('tls') or None
    return {
        'warnings': list(runtime.warnings),
        'reply': {'code': code, 'text': transcript.scrub(text)},
        'tls': {'version': tls.get('protocol'), 'cipher': tls.get('cipher'), 'verified': True} if tls else None,
        'tls_protocol': tls.get('protocol') if tls else None,
        'auth_mechanism': mechanism if auth['method'] != 'none' else None,
        'banner': next((line[3:] for line in transcript.lines if line.startswith('S: 220')), ''),
        'timings': {},
        'jvm': result.get('jvm'),
        'javamail': dict(result.get('javamail') or {}, api=result.get('api')),
        'java_runtime': runtime.summary(),
    }


def _jvm_env() -> dict[str, str]:
    """The environment without JVM option variables: JAVA_TOOL_OPTIONS would change the proof
    behind its back (and print a banner on stderr)."""
    env = dict(os.environ)
    for name in ('JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH'):
        env.pop(name, None)
    return env
