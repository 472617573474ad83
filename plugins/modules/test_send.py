#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: test_send
short_description: Send one test message through the relay, again only when the settings change
version_added: 0.1.0
description:
  - The products' "send a test email" button as an idempotent task. Sends one plain-text message
    with the effective settings (SMTP or SMTPS, TLS policy, AUTH, HELO name, timeout), the
    product's From header and subject prefix, to C(settings.test.recipients) plus O(recipients).
  - "Idempotent: a marker on the host (mode 0600) records what was proven - a fingerprint of the
    effective settings and recipients - with the time, the Message-ID and the server's reply.
    The fingerprint is an HMAC-SHA256 keyed by a random per-host key (file C(fingerprint.key),
    mode 0600, next to the marker), so the password and token count without ever being stored.
    The same fingerprint, not older than C(settings.test.max_age), means no message, C(changed=false),
    and the last proof in RV(proof). Changed settings, O(force=true) or an older proof send again."
  - AUTH follows C(settings.auth) - none, basic (PLAIN, LOGIN or CRAM-MD5; C(auth.mechanism) forces
    one) or OAuth 2.0 (XOAUTH2, or OAUTHBEARER where the relay offers only that or C(auth.mechanism) asks for it).
  - "OAuth 2.0 tokens: with C(settings.auth.oauth2.grant_type) (C(client_credentials) or C(refresh_token)) a
    fresh access token is obtained from C(auth.oauth2.token_url) over HTTPS just before the message is sent
    (the certificate verified against the system CAs or O(token_ca_path)), held in memory only and never
    shown; a refused grant fails at step C(token) naming what to fix (client secret, expired or revoked
    refresh token, scopes, missing admin consent). Without a grant, C(settings.auth.oauth2.token) or O(token)."
  - "Credentials are sent only over TLS (STARTTLS or SMTPS), or in clear when the settings say
    C(server.tls: none) explicitly (a trusted relay, for example on loopback; even then not when the
    server offers STARTTLS). Under C(server.tls: opportunistic) with authentication configured, a
    server that does not offer STARTTLS, or answers it with an error - what a man in the middle who
    strips STARTTLS produces - is a failure at step C(tls) with C(kind=policy), not retried, and
    nothing more is sent: no AUTH, no MAIL FROM, no message. The message explains that the
    application itself, set to \"use TLS if available\", would send the password in clear there;
    the fix is C(server.tls: required)."
  - Without authentication, C(opportunistic) may go on in clear; the run then warns (in the task
    output and the result's C(warnings)) that the message went unencrypted.
  - "Failures name the step: C(connect), C(tls), C(auth), C(mail), C(rcpt), C(data) or C(policy),
    with the server's code and text, and C(kind=policy) when mailwright itself refused to go on. Transient failures (4xx replies, timeouts, dropped connections)
    are retried O(retries) times, waiting O(retry_delay) seconds and doubling each time; permanent
    ones (5xx, certificate or policy problems) are not. No marker is written after a failure, so the
    next run tries again."
  - The message carries C(X-Mailwright-Fingerprint) and a C(Message-ID) to find it in a mailbox or
    a relay log, and its body states the product, the sending host, the relay and the time.
  - RV(transcript) is the SMTP conversation (as the products' mail debug logs show it), with AUTH
    payloads, the password and the token replaced by C(********).
author:
  - mailwright maintainers (@mailwright)
requirements:
  - Python standard library only on the managed host for a valid settings document (no cryptography, no PyYAML; jsonschema, below, only explains an invalid one)
extends_documentation_fragment:
  - mailwright.smtp.settings
  - mailwright.smtp.truststore
  - mailwright.smtp.attributes
  - mailwright.smtp.result
attributes:
  check_mode:
    support: full
    details:
      - When a message would be sent, runs the whole conversation up to RCPT TO (TLS, AUTH, sender
        and every recipient accepted), then RSET and QUIT, so the path is proven without delivering,
        and reports the message that would be sent. The same TLS rule holds - no credentials in
        clear unless C(server.tls) is C(none). When the marker proves the settings already,
        reports C(changed=false) without connecting. Writes nothing, neither the marker nor the key.
  diff_mode:
    support: full
    details: Shows the previous and the new proof recorded in the marker.
options:
  recipients:
    description: Recipients added to C(settings.test.recipients) (duplicates are dropped).
    type: list
    elements: str
    default: []
  force:
    description: Send even when the marker proves these settings already.
    type: bool
    default: false
  token:
    description:
      - OAuth 2.0 access token for XOAUTH2, instead of C(settings.auth.oauth2.token). Never printed.
      - Not used when C(settings.auth.oauth2.grant_type) is set.
    type: str
  token_ca_path:
    description:
      - CA certificates (PEM file) that verify the OAuth 2.0 token endpoint's certificate instead of the
        system CAs. Only used with C(settings.auth.oauth2.grant_type).
    type: path
  marker_path:
    description:
      - Where the proof is recorded.
      - Defaults to C(/var/lib/mailwright/test_send/<product>-<sha1 of host:port>.json). The
        directory is made with mode 0700 when missing, and holds the fingerprint key too.
    type: path
  ca_path:
    description:
      - CA certificates (PEM) that verify the relay's certificate instead of the system CAs. A
        file, or a directory whose C(*.pem), C(*.crt) and C(*.cer) files are read.
    type: path
  validate_certs:
    description: Verify the relay's certificate chain and name. Leave on outside of tests.
    type: bool
    default: true
  retries:
    description: How many times a transient failure (4xx, timeout, dropped connection) is retried.
    type: int
    default: 2
  retry_delay:
    description: Seconds before the first retry; doubled for each further one (at most 30).
    type: float
    default: 1.0
  timeout:
    description:
      - Seconds each step may take. Defaults to C(settings.server.timeout_ms); when that is 0 or
        less (the products then wait forever) 60 seconds.
      - With O(client=java) JavaMail's own timeouts are the rendered C(mail.smtp.*timeout) keys; this
        bounds the whole JVM run (three times this, plus 30 seconds for the JVM's start).
    type: float
  client:
    description:
      - Who makes the proof. C(python) is mailwright's own SMTP client.
      - C(java) runs the proof in the application's JVM with its JavaMail or Jakarta Mail jars and
        exactly the session properties the render step writes (C(mail.smtp.ssl.checkserveridentity)
        included), plus C(mail.debug=true) for RV(transcript). The password (or token) reaches JavaMail
        through an C(Authenticator) and travels to the JVM on its standard input, never on its command
        line. The helper is shipped compiled for Java 8, so a JRE is enough on the host.
      - In check mode C(java) connects, authenticates, sends MAIL FROM and RCPT TO, then RSET; nothing is
        delivered.
      - C(java) refuses C(server.tls=opportunistic) with authentication (JavaMail would send the password
        in clear to a relay without STARTTLS), O(validate_certs=false) and O(ca_path) (the JVM reads a Java
        truststore, see O(truststore_path)).
      - With C(java), O(truststore_path) is given to the JVM as C(javax.net.ssl.trustStore) (set from standard
        input, so its password stays off the command line); without it, the store named in O(app_home)'s JVM
        options, else the JRE's default C(cacerts).
    type: str
    choices: [python, java]
    default: python
  java:
    description:
      - With O(client=java), the java binary. Defaults to C(<app_home>/jre/bin/java) when it exists, else
        C(java) on PATH.
    type: path
  app_home:
    description:
      - With O(client=java), the application's install directory. The mail and activation jars are taken
        from C(<app_home>/lib), else from the webapp's C(WEB-INF/lib); the truststore the JVM options in
        C(<app_home>/bin/setenv.sh) name (C(-Djavax.net.ssl.trustStore*), the managed block and any
        existing option) is used unless O(truststore_path) is given.
    type: path
  classpath:
    description:
      - With O(client=java), the mail and activation jars to use, instead of those found under O(app_home).
    type: list
    elements: path
notes:
  - Run it on the application host (C(delegate_to) the app server), where the product's mail leaves from.
  - A message dropped during DATA may have been delivered anyway; the retry then delivers a second one.
    SMTP gives a client no way to know.
seealso:
  - module: mailwright.smtp.smtp_probe
  - module: mailwright.smtp.settings_validate
"""

EXAMPLES = r"""
- name: Prove that Jira's relay delivers (once per settings change)
  mailwright.smtp.test_send:
    settings: "{{ jira_mail }}"
  delegate_to: "{{ jira_host }}"

- name: Check the path without delivering anything
  mailwright.smtp.test_send:
    settings: "{{ jira_mail }}"
  check_mode: true

- name: Send again now, to an extra mailbox, trusting a private CA
  mailwright.smtp.test_send:
    settings: "{{ confluence_mail }}"
    recipients: [oncall@example.com]
    ca_path: /etc/pki/mail-relay-ca.pem
    force: true

- name: Prove it the application's way - Jira's JVM, its JavaMail jars and its truststore
  mailwright.smtp.test_send:
    settings: "{{ jira_mail }}"
    client: java
    app_home: /opt/atlassian/jira

- name: XOAUTH2 with a token fetched earlier in the play
  mailwright.smtp.test_send:
    settings: "{{ bitbucket_mail }}"
    token: "{{ oauth_token.access_token }}"
"""

RETURN = r"""
sent:
  description: Whether a message was delivered in this run.
  returned: always
  type: bool
  sample: true
reason:
  description: Why a message was (or in check mode would be) sent; null when the proof was current.
  returned: always
  type: str
  sample: settings changed
fingerprint:
  description: The keyed fingerprint of what is proven (null in check mode before the first real run).
  returned: always
  type: str
  sample: hmac-sha256:5f0c...
marker_path:
  description: The marker file.
  returned: always
  type: str
  sample: /var/lib/mailwright/test_send/jira-3f2a....json
recipients:
  description: Everyone the message goes to.
  returned: always
  type: list
  elements: str
  sample: [platform-team@example.com]
relay:
  description: host:port of the relay.
  returned: always
  type: str
  sample: smtp.example.com:587
proof:
  description: The proof in the marker - the previous one when nothing was sent, the new one after a send.
  returned: always
  type: dict
  sample: {fingerprint: "hmac-sha256:5f0c...", time: "2026-11-23T09:30:00Z", age_seconds: 12,
           message_id: "<170...@example.com>", reply: {code: 250, text: "2.0.0 Ok: queued as 4F2A"},
           recipients: [platform-team@example.com], relay: "smtp.example.com:587"}
message:
  description: The message sent (or that would be sent).
  returned: when a message was sent or would be sent
  type: dict
  sample: {from: "Mail Tester (Jira) <jira@example.com>", subject: "[JIRA] mailwright test message",
           message_id: "<170...@example.com>", envelope_from: jira@example.com, size: 712}
server_reply:
  description: The server's reply to the end of DATA (or to RSET in check mode).
  returned: when the conversation succeeded
  type: dict
  sample: {code: 250, text: "2.0.0 Ok: queued as 4F2A"}
tls:
  description: TLS version and cipher of the conversation, and whether the certificate was verified.
  returned: when the conversation succeeded
  type: dict
  sample: {version: TLSv1.3, cipher: TLS_AES_256_GCM_SHA384, verified: true}
auth_mechanism:
  description: The AUTH mechanism used, null without AUTH.
  returned: when the conversation succeeded
  type: str
  sample: PLAIN
attempts:
  description: One entry per attempt, with the failed step, code and text, and the delay before the retry.
  returned: always
  type: list
  elements: dict
  sample: [{attempt: 1, ok: false, step: rcpt, code: 451, text: "4.7.1 Greylisted", transient: true, retry_in: 1.0},
           {attempt: 2, ok: true}]
oauth2:
  description: The OAuth 2.0 access token obtained for this run, described (never the token itself).
  returned: when C(settings.auth.oauth2.grant_type) is set and a message was sent or checked
  type: dict
  sample: {grant_type: client_credentials, token_url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
           token_type: Bearer, expires_in: 3599, scope: ["https://outlook.office365.com/.default"]}
transcript:
  description: The SMTP conversation, AUTH payloads and secrets replaced by C(********).
  returned: always
  type: list
  elements: str
  sample: ["S: 220 smtp.example.com ESMTP", "C: EHLO jira01.example.com", "C: AUTH PLAIN ********", "S: 235 2.7.0 ok"]
jvm:
  description: With O(client=java), the JVM that made the proof.
  returned: when client is java and the JVM ran
  type: dict
  sample: {version: "17.0.15", vendor: Debian, runtime: "17.0.15+6-Debian-1deb12u1", home: /opt/atlassian/jira/jre}
javamail:
  description: With O(client=java), the mail implementation the JVM loaded (from its jar's manifest) and its API.
  returned: when client is java and the JVM ran
  type: dict
  sample: {implementation: javax.mail, version: "1.6.5", specification: "1.6", vendor: Oracle,
           jar: /opt/atlassian/jira/lib/javax.mail-1.6.5.jar, api: javax}
tls_protocol:
  description: With O(client=java), the TLS protocol the JVM negotiated with the relay (null without TLS).
  returned: when client is java and the conversation succeeded
  type: str
  sample: TLSv1.3
java_runtime:
  description: With O(client=java), the java binary, the class path and the truststore (path, type, where it came from) used.
  returned: when client is java and the conversation succeeded
  type: dict
  sample: {java: /opt/atlassian/jira/jre/bin/java, classpath: [/opt/atlassian/jira/lib/javax.mail-1.6.5.jar],
           api: javax, truststore: {path: /opt/atlassian/jira/mail-truststore.p12, type: PKCS12, source: app_home}}
step:
  description: On failure, the step that failed (token, connect, tls, auth, mail, rcpt, data, policy, marker).
  returned: failure
  type: str
  sample: rcpt
kind:
  description:
    - On failure, what went wrong as a word code can branch on - C(policy) when mailwright refused to
      go on (for example credentials that would travel in clear under C(server.tls=opportunistic),
      reported at step C(tls)), C(tls), C(network), C(server) (the relay refused), C(invalid) or C(file).
  returned: failure
  type: str
  sample: policy
oauth2_error:
  description: On failure at step C(token), the token endpoint's error code (RFC 6749), null when it gave none.
  returned: failure at step token
  type: str
  sample: invalid_grant
code:
  description: On failure, the server's reply code (null when the server did not answer).
  returned: failure
  type: int
  sample: 550
text:
  description: On failure, the server's text or the local reason.
  returned: failure
  type: str
  sample: "5.1.1 <nobody@example.com>: Recipient address rejected"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    load_module_settings,
    new_module,
    run_backend,
    settings_argument_spec,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import truststore_argument_spec


def main() -> None:
    argument_spec = settings_argument_spec()
    argument_spec.update(
        recipients=dict(type='list', elements='str', default=[]),
        force=dict(type='bool', default=False),
        token=dict(type='str', no_log=True),
        token_ca_path=dict(type='path'),
        marker_path=dict(type='path'),
        ca_path=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        **truststore_argument_spec(),
        retries=dict(type='int', default=2),
        retry_delay=dict(type='float', default=1.0),
        timeout=dict(type='float'),
        client=dict(type='str', choices=['python', 'java'], default='python'),
        java=dict(type='path'),
        app_home=dict(type='path'),
        classpath=dict(type='list', elements='path'),
    )
    module: AnsibleModule = new_module(argument_spec=argument_spec, supports_check_mode=True)
    effective = load_module_settings(module)  # first: it registers the secrets before any failure

    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import secret_values
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import SendOptions, run_test_send

    params = module.params
    options = SendOptions(
        recipients=params['recipients'], force=params['force'], token=params['token'],
        token_ca_path=params['token_ca_path'],
        marker_path=params['marker_path'], ca_path=params['ca_path'], validate_certs=params['validate_certs'],
        truststore_path=params['truststore_path'], truststore_password=params['truststore_password'],
        truststore_type=params['truststore_type'],
        retries=params['retries'], retry_delay=params['retry_delay'], timeout=params['timeout'],
        check_mode=module.check_mode, diff=module._diff,
        client=params['client'], java=params['java'], app_home=params['app_home'], classpath=params['classpath'],
    )
    run_backend(module, run_test_send, effective, options, secrets=secret_values(params['settings']),
                register_after=options.obtained_secrets)


if __name__ == '__main__':
    main()
