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
    one) or OAuth 2.0 (XOAUTH2 with C(settings.auth.oauth2.token) or O(token)).
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
    type: str
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
    type: float
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
transcript:
  description: The SMTP conversation, AUTH payloads and secrets replaced by C(********).
  returned: always
  type: list
  elements: str
  sample: ["S: 220 smtp.example.com ESMTP", "C: EHLO jira01.example.com", "C: AUTH PLAIN ********", "S: 235 2.7.0 ok"]
step:
  description: On failure, the step that failed (connect, tls, auth, mail, rcpt, data, policy, marker).
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
        marker_path=dict(type='path'),
        ca_path=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        **truststore_argument_spec(),
        retries=dict(type='int', default=2),
        retry_delay=dict(type='float', default=1.0),
        timeout=dict(type='float'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    effective = load_module_settings(module)  # first: it registers the secrets before any failure

    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import secret_values
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import SendOptions, run_test_send

    params = module.params
    options = SendOptions(
        recipients=params['recipients'], force=params['force'], token=params['token'],
        marker_path=params['marker_path'], ca_path=params['ca_path'], validate_certs=params['validate_certs'],
        truststore_path=params['truststore_path'], truststore_password=params['truststore_password'],
        truststore_type=params['truststore_type'],
        retries=params['retries'], retry_delay=params['retry_delay'], timeout=params['timeout'],
        check_mode=module.check_mode, diff=module._diff,
    )
    run_backend(module, run_test_send, effective, options, secrets=secret_values(params['settings']))


if __name__ == '__main__':
    main()
