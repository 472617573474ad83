#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smtp_probe
short_description: Probe the mail relay and other SMTP servers concurrently (connect, EHLO, TLS, AUTH)
version_added: 0.1.0
description:
  - Opens one SMTP conversation to each target, from the host the task runs on (the application
    host, because that is where mail leaves from), and reports what a mail client would meet there.
  - "For each target: TCP connect time, the banner, the EHLO extensions (C(SIZE), C(PIPELINING),
    C(8BITMIME), C(SMTPUTF8), C(STARTTLS), C(AUTH) mechanisms), the STARTTLS or SMTPS handshake, the
    TLS version and cipher negotiated, the certificate chain verified against the system CAs, O(ca_path) or
    the Java truststore O(truststore_path), whether the certificate names the host, and the days left until
    it expires."
  - "Whether the chain the server sends is complete as a JVM sees it: from the leaf through the certificates
    the server sent to a trust anchor, without fetching missing intermediates (Java does not fetch them, so a
    relay that sends its leaf alone fails in the application while a browser test passes). An incomplete
    chain is a finding of C(kind=incomplete_chain) naming the missing issuer, an error unless
    O(validate_certs=false)."
  - Enforces the settings' TLS policy. C(server.tls=required) with no STARTTLS offered is a failure
    (nothing else is sent). C(opportunistic) left in clear (no STARTTLS offered, or STARTTLS answered
    with an error) is a warning without authentication (mail would travel in plaintext), and a
    failure at step C(tls) with C(kind=policy) when the settings authenticate - the application,
    set to "use TLS if available", would send the password in clear to that server or to a man in
    the middle who strips STARTTLS; use C(server.tls=required).
  - With O(check_credentials=true) the relay's credentials from the settings are tried with AUTH,
    then the conversation ends with QUIT. No MAIL FROM is ever sent, so no mail is sent.
    Credentials are sent only over TLS, or in clear when C(server.tls=none) says so explicitly (and
    the server offers no STARTTLS); under C(opportunistic) the target fails at step C(tls)
    (C(kind=policy)) before AUTH. They are never sent over a TLS session whose certificate failed
    verification (with O(validate_certs=false) nothing is verified, so they go over whatever TLS
    session was established).
  - All targets are probed at the same time (one thread each, up to 256) under one overall
    O(deadline). A server that accepts the connection and never speaks costs one O(timeout), not one
    per server, so 200 targets of which 100 are silent finish in about one O(timeout). Targets still
    unfinished at the deadline are reported with C(timed_out=true) and the step they had reached.
  - Each target comes back with a transcript of its conversation; AUTH payloads and the password are
    replaced by C(********).
  - Read-only. C(changed) is always false.
author:
  - mailwright maintainers (@mailwright)
extends_documentation_fragment:
  - mailwright.smtp.settings
  - mailwright.smtp.truststore
  - mailwright.smtp.attributes
  - mailwright.smtp.result
attributes:
  check_mode:
    support: full
    details:
      - Probing only reads, so it runs in check mode too, and so does the credential check
        (an AUTH exchange followed by QUIT changes nothing on the server).
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to diff.
options:
  targets:
    description:
      - Servers to probe besides the relay of O(settings) (which is always the first target).
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Host name or IP address.
        type: str
        required: true
      port:
        description: TCP port. Defaults to 465 for C(smtps), otherwise 25.
        type: int
      protocol:
        description: C(smtps) starts TLS on connect; C(smtp) may upgrade with STARTTLS.
        type: str
        choices: [smtp, smtps]
        default: smtp
      tls:
        description: TLS policy for this target. C(smtps) implies C(required).
        type: str
        choices: [none, opportunistic, required]
        default: opportunistic
      name:
        description: A label for the result. Defaults to C(host:port).
        type: str
  mx_of:
    description:
      - Mail domains whose MX hosts are probed on O(mx_port), as a server delivering mail directly
        would do (GitHub Enterprise Server without a relay, for example).
      - The MX records are looked up with dnspython, through C(settings.dns.nameservers) and
        C(settings.dns.port) when set, otherwise the system resolver. A domain without MX records
        is probed at its own name (RFC 5321 implicit MX); a null MX, NXDOMAIN or a failed lookup is
        a failed result with C(step=dns).
      - MX hosts get the C(opportunistic) TLS policy.
    type: list
    elements: str
    default: []
  mx_port:
    description:
      - Port used for MX hosts found through O(mx_of). Leave at 25 except for tests or
        port-forwarded set-ups.
    type: int
    default: 25
  check_credentials:
    description:
      - Authenticate to the relay with C(settings.auth) (basic or OAuth 2.0), then QUIT.
      - Only the relay of O(settings) is authenticated; other targets never get credentials.
      - With C(settings.auth.oauth2.grant_type) a fresh access token is obtained from the token endpoint
        first (see O(token_ca_path)); a refused grant fails the task at step C(token), naming what to fix.
      - A relay that refuses basic authentication with C(535 5.7.139) or C(550 5.7.30) (Exchange Online with
        basic SMTP AUTH off) is explained, with the move to C(auth.method=oauth2).
      - Runs in check mode as well.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for each step (connect, each reply, the TLS handshake).
      - Defaults to C(settings.server.timeout_ms). When that is 0 or less (the products then wait
        forever) the probe waits 60 seconds.
    type: float
  deadline:
    description:
      - Seconds the whole probe may take, for all targets together (including MX lookups).
      - Defaults to three times O(timeout).
    type: float
  token_ca_path:
    description:
      - CA certificates (PEM file) that verify the OAuth 2.0 token endpoint instead of the system CAs.
        Only used with O(check_credentials) and C(settings.auth.oauth2.grant_type).
    type: path
  ca_path:
    description:
      - CA certificates (PEM) to verify the servers' chains with instead of the system CAs.
        A file, or a directory whose C(*.pem), C(*.crt) and C(*.cer) files are read.
    type: path
  validate_certs:
    description:
      - Verify certificate chains and names. When false, TLS still runs and the certificate is still
        described, but problems (expired, wrong name, self-signed) are warnings instead of failures.
    type: bool
    default: true
  fail_on:
    description:
      - C(fail) fails the task when any target failed; C(warn) also when any target has warnings;
        C(never) only reports.
    type: str
    choices: [fail, warn, never]
    default: fail
  expiry_warning_days:
    description: Warn when a certificate expires within this many days.
    type: int
    default: 30
requirements:
  - cryptography >= 41 on the managed host, to describe certificates
  - dnspython >= 2.4 on the managed host, only with O(mx_of)
notes:
  - Run it on the application host (C(delegate_to) the app server), since reachability of the
    relay from the control node proves nothing about the application's network path.
seealso:
  - module: mailwright.smtp.dns_check
  - module: mailwright.smtp.truststore_cert
"""

EXAMPLES = r"""
- name: Probe the relay from the application host and try its credentials
  mailwright.smtp.smtp_probe:
    settings: "{{ mail_settings }}"
    check_credentials: true
  register: probe

- name: Show the relay's TLS version and how long its certificate lasts
  ansible.builtin.debug:
    msg: "{{ probe.results[0].tls.version }}, {{ probe.results[0].certificate.days_left }} days left"

- name: GHES delivers directly; check outbound port 25 to the MX of the main correspondents
  mailwright.smtp.smtp_probe:
    settings: "{{ ghes_mail_settings }}"
    mx_of: [example.com, example.org]
    timeout: 5
    deadline: 20
    fail_on: never
  register: outbound

- name: Probe extra relays with a private CA; only report
  mailwright.smtp.smtp_probe:
    settings: "{{ mail_settings }}"
    targets:
      - host: smtp-backup.example.com
        port: 587
        tls: required
        name: backup
      - host: smtps.example.com
        protocol: smtps
    ca_path: /etc/pki/mail-ca.pem
    expiry_warning_days: 21
    fail_on: never
"""

RETURN = r"""
changed:
  description: Always false; probing changes nothing.
  returned: always
  type: bool
  sample: false
msg:
  description: One line summary, followed by one line per target that failed the task.
  returned: always
  type: str
  sample: "3 target(s): 2 pass, 0 warn, 1 fail, 1 timed out in 2.0s"
status:
  description: The worst status over all targets.
  returned: always
  type: str
  choices: [pass, warn, fail]
  sample: fail
counts:
  description: How many targets ended with each status (as dns_check's RV(counts)), how many there were and timed out.
  returned: always
  type: dict
  contains:
    pass:
      description: Targets that passed.
      type: int
      returned: always
      sample: 2
    warn:
      description: Targets with warnings.
      type: int
      returned: always
      sample: 0
    fail:
      description: Targets that failed (timeouts included).
      type: int
      returned: always
      sample: 1
    total:
      description: Number of results.
      type: int
      returned: always
      sample: 3
    timed_out:
      description: Targets that timed out, at one step or at the overall deadline.
      type: int
      returned: always
      sample: 1
timeout_ms:
  description: The per-step timeout used, in milliseconds.
  returned: always
  type: int
  sample: 10000
deadline_ms:
  description: The overall deadline used, in milliseconds.
  returned: always
  type: int
  sample: 30000
elapsed_ms:
  description: Wall time of the whole probe, in milliseconds.
  returned: always
  type: int
  sample: 2013
oauth2:
  description: The OAuth 2.0 access token obtained for the credential check, described (never the token itself).
  returned: when O(check_credentials) and C(settings.auth.oauth2.grant_type) are set
  type: dict
  sample: {grant_type: client_credentials, token_url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
           token_type: Bearer, expires_in: 3599, scope: ["https://outlook.office365.com/.default"]}
results:
  description:
    - One result per target, the relay first, then O(targets), then MX hosts and failed MX lookups.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description:
        - The target's label, C(relay) or the settings' C(name), O(targets[].name) or C(host:port),
          C(mx:<domain>:<mx host>), or C(mx:<domain>) for a failed lookup.
      type: str
      returned: always
      sample: relay
    source:
      description: Where the target came from, C(settings), C(targets) or C(mx_of).
      type: str
      returned: always
      sample: settings
    domain:
      description: For O(mx_of) targets, the mail domain; otherwise null.
      type: str
      returned: always
      sample: example.com
    preference:
      description: For O(mx_of) targets, the MX preference; otherwise null.
      type: int
      returned: always
      sample: 10
    host:
      description: Host name probed, also the name the certificate must carry.
      type: str
      returned: always
      sample: smtp.example.com
    address:
      description: The address connected to when it came from the configured nameservers; otherwise null.
      type: str
      returned: always
      sample: 192.0.2.25
    port:
      description: TCP port.
      type: int
      returned: always
      sample: 587
    protocol:
      description: C(smtp) or C(smtps).
      type: str
      returned: always
      sample: smtp
    tls_policy:
      description: The TLS policy applied (C(smtps) always C(required)).
      type: str
      returned: always
      sample: required
    status:
      description: C(fail) when there is any error, C(warn) when there is any warning, otherwise C(pass).
      type: str
      returned: always
      sample: pass
    step:
      description:
        - The step that failed, or C(quit) when the conversation ended normally.
        - One of C(connect), C(banner), C(ehlo), C(starttls), C(tls), C(auth), C(quit), C(policy), C(dns),
          and C(queued) for a target that never started before the deadline.
      type: str
      returned: always
      sample: quit
    timed_out:
      description:
        - True when the target timed out, because a step got no answer within O(timeout) or the overall
          O(deadline) passed. The error then says which, and RV(results[].step) is where it was.
      type: bool
      returned: always
      sample: false
    elapsed_ms:
      description: Milliseconds spent on this target.
      type: int
      returned: always
      sample: 84
    connect_ms:
      description: TCP connect time in milliseconds.
      type: int
      returned: always
      sample: 1
    banner:
      description: The server's greeting text.
      type: str
      returned: always
      sample: smtp.example.com ESMTP ready
    extensions:
      description: EHLO extensions of the last EHLO (after STARTTLS when used), upper-case keyword to parameters.
      type: dict
      returned: always
      sample:
        SIZE: "35882577"
        PIPELINING: ""
        8BITMIME: ""
        SMTPUTF8: ""
        AUTH: PLAIN LOGIN
    starttls_offered:
      description: Whether the server offered STARTTLS before TLS.
      type: bool
      returned: always
      sample: true
    auth_mechanisms:
      description: AUTH mechanisms offered by the last EHLO.
      type: list
      elements: str
      returned: always
      sample: [PLAIN, LOGIN]
    size_limit:
      description: The SIZE limit in bytes when announced; otherwise null.
      type: int
      returned: always
      sample: 35882577
    tls:
      description:
        - The TLS session; C(established) false and the rest null when there was none.
        - C(version) and C(cipher) are what the handshake negotiated.
        - C(chain_complete) is true when the leaf verifies, through the certificates the server sent, against a
          trust anchor (O(truststore_path), O(ca_path) or the system CAs), without fetching anything; false with
          C(missing_issuer) naming the issuer no certificate was found for; null when not checked (no chain,
          no anchors). C(anchor) is the anchor reached (the subject of the trusted CA).
        - C(chain) is the chain the server sent, leaf first, each with C(subject), C(issuer), C(not_after),
          C(days_left); C(days_left) is the leaf's.
      type: dict
      returned: always
      sample:
        established: true
        version: TLSv1.3
        cipher: TLS_AES_256_GCM_SHA384
        bits: 256
        verified: true
        verify_error: null
        server_hostname: smtp.example.com
        chain_complete: true
        anchor: CN=Example Root CA
        missing_issuer: null
        chain:
          - {subject: CN=smtp.example.com, issuer: CN=Example Issuing CA, not_after: "2027-01-01T00:00:00Z", days_left: 120}
          - {subject: CN=Example Issuing CA, issuer: CN=Example Root CA, not_after: "2030-01-01T00:00:00Z", days_left: 1216}
        days_left: 120
    certificate:
      description:
        - The server's leaf certificate, or null when none was seen.
        - When verification refused the certificate, it is read again over a second, unverified
          connection so that the reason can be shown.
      type: dict
      returned: always
      sample:
        subject: CN=smtp.example.com
        issuer: CN=Example CA
        sans: [smtp.example.com]
        not_before: "2026-01-01T00:00:00Z"
        not_after: "2027-01-01T00:00:00Z"
        days_left: 120
        sha256: "AA:BB:CC"
        serial: "1234"
        is_ca: false
        self_signed: false
    chain:
      description: Every certificate the server presented, leaf first, described like RV(results[].certificate).
      type: list
      elements: dict
      returned: always
    credentials:
      description:
        - The credential check. C(checked) is false unless O(check_credentials) applied to this target;
          C(ok) is true, false (the server rejected them) or null (not tried to the end).
      type: dict
      returned: always
      sample:
        checked: true
        ok: true
        username: jira-notify
        mechanism: PLAIN
        text: 235 2.7.0 Authentication successful
    errors:
      description:
        - What failed, each with C(step), C(status) (C(fail)), C(message), C(code), C(transient) and C(kind)
          (the finding shape M(mailwright.smtp.dns_check)'s C(checks) share); C(kind) is one of
          C(timeout), C(refused), C(unreachable), C(policy), C(certificate), C(tls), C(auth), C(smtp), C(dns),
          C(incomplete_chain).
      type: list
      elements: dict
      returned: always
      sample:
        - step: banner
          status: fail
          message: no reply within 2s
          code: null
          transient: true
          kind: timeout
    warnings:
      description: What deserves a look, in the same shape as RV(results[].errors), with C(status) C(warn).
      type: list
      elements: dict
      returned: always
    transcript:
      description: The conversation, C(S:) server, C(C:) client, C(*) notes; AUTH payloads and secrets are C(********).
      type: list
      elements: str
      returned: always
      sample:
        - "* connecting to smtp.example.com port 587 (smtp)"
        - "S: 220 smtp.example.com ESMTP"
        - "C: EHLO app01.example.com"
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
    - When targets trip O(fail_on), the kind of the first failing finding - V(network) (timeout, refused,
      unreachable, DNS), V(tls) (handshake or certificate), V(policy) or V(server) (AUTH or SMTP refused);
      V(invalid) for options that cannot work.
  returned: failure
  type: str
  sample: network
step:
  description:
    - V(token) when the credential check could not obtain its OAuth 2.0 access token (nothing was probed);
      C(msg) names what to fix.
  returned: failure at step token
  type: str
  sample: token
oauth2_error:
  description: With RV(step=token), the token endpoint's error code (RFC 6749), null when it gave none.
  returned: failure at step token
  type: str
  sample: invalid_client
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.deps import require_lib
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import truststore_argument_spec
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    load_module_settings,
    new_module,
    run_backend,
    settings_argument_spec,
)


def main() -> None:
    argument_spec = settings_argument_spec()
    argument_spec.update(
        targets=dict(type='list', elements='dict', default=[], options=dict(
            host=dict(type='str', required=True),
            port=dict(type='int'),
            protocol=dict(type='str', choices=['smtp', 'smtps'], default='smtp'),
            tls=dict(type='str', choices=['none', 'opportunistic', 'required'], default='opportunistic'),
            name=dict(type='str'),
        )),
        mx_of=dict(type='list', elements='str', default=[]),
        mx_port=dict(type='int', default=25),
        check_credentials=dict(type='bool', default=False),
        timeout=dict(type='float'),
        deadline=dict(type='float'),
        ca_path=dict(type='path'),
        token_ca_path=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        **truststore_argument_spec(),
        fail_on=dict(type='str', choices=['fail', 'warn', 'never'], default='fail'),
        expiry_warning_days=dict(type='int', default=30),
    )
    module: AnsibleModule = new_module(argument_spec=argument_spec, supports_check_mode=True)
    effective = load_module_settings(module)  # first: it registers the secrets before any failure
    require_lib(module, 'cryptography')
    if module.params['mx_of']:
        require_lib(module, 'dnspython')

    from ansible_collections.mailwright.smtp.plugins.module_utils._reach.probe import run
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import secret_values

    obtained: list[str] = []  # the access token's spellings, once the credential check has one
    run_backend(module, run, module.params, effective, secrets=secret_values(module.params['settings']),
                obtained=obtained, register_after=obtained)


if __name__ == '__main__':
    main()
