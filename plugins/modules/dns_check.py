#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_check
short_description: Check the DNS records outgoing mail depends on (relay, MX, PTR, SPF, DMARC, GHES replies)
version_added: 0.1.0
description:
  - Looks up, from the host the task runs on, the DNS records that decide whether mail sent with
    the given settings is delivered and trusted, and returns one result per check with status
    C(pass), C(warn) or C(fail), a one-line message, the records seen and the kind of DNS error.
  - "C(relay_address): the relay C(server.host) has A and/or AAAA records (an IP address passes as is)."
  - "C(sender_mx): the domain of C(sender.from_address) has an MX whose hosts resolve, so bounces and
    replies come back. No MX but an A/AAAA record is a warning (RFC 5321 implicit MX); a null MX
    (RFC 7505) or no record at all is a failure."
  - "C(relay_ptr) (when C(dns.check_ptr)): every relay address has a PTR record whose name resolves
    back to the address (forward-confirmed reverse DNS); a PTR that does not resolve back is a warning."
  - "C(spf): the sender domain publishes exactly one C(v=spf1) TXT record, and RFC 7208 evaluation of
    it (C(include), C(a), C(mx), C(ptr), C(ip4), C(ip6), C(exists), C(redirect), macros) authorizes
    every address in C(dns.sending_ips), or the relay's addresses when that list is empty. More than
    10 DNS-querying terms or more than 2 void lookups is a C(permerror). The result and the path
    taken are returned for each address. C(pass) passes; C(softfail) and C(neutral) warn; C(fail),
    C(none), C(permerror) and C(temperror) fail."
  - "C(dmarc): C(_dmarc.<domain>) (or, as in the DMARCbis tree walk, a parent domain) has one
    C(v=DMARC1) record. C(p=reject) or C(p=quarantine) passes (C(sp=) when inherited), C(p=none) warns
    (monitoring only), a missing or invalid policy fails."
  - "C(ghes_reply) (product C(ghes) with C(dns.check_ghes_reply)): C(reply.<ghes.hostname>) has an A
    record (a wildcard counts), and C(reply.<hostname>) and C(noreply.<hostname>) have MX records
    pointing at C(<hostname>). Reported as three results: C(ghes_reply_a), C(ghes_reply_mx),
    C(ghes_noreply_mx)."
  - "C(expect): each entry of C(dns.expect) (name, type, optional text an answer must contain)."
  - Every lookup tells apart NXDOMAIN (the name does not exist), NODATA (the name exists without
    records of that type), SERVFAIL, REFUSED, an unreachable nameserver and a timeout; the result's
    C(kind) says which.
  - Read-only. C(changed) is always false.
author:
  - mailwright maintainers (@mailwright)
extends_documentation_fragment:
  - mailwright.smtp.settings
  - mailwright.smtp.attributes
  - mailwright.smtp.result
attributes:
  check_mode:
    support: full
    details: Lookups only read, so check mode runs them exactly the same.
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to diff.
options:
  nameservers:
    description:
      - IP addresses of the nameservers to ask. Overrides C(dns.nameservers) of the settings.
      - When neither is set, the host's own resolver configuration (C(/etc/resolv.conf)) is used.
    type: list
    elements: str
  port:
    description:
      - Port of the nameservers. Overrides C(dns.port) of the settings (default 53).
    type: int
  timeout:
    description:
      - Seconds to wait for one answer from one nameserver.
    type: float
    default: 3.0
  retries:
    description:
      - How many more times to ask each nameserver after a timeout. One lookup gives up after
        O(timeout) x (number of nameservers) x (O(retries) + 1) seconds, plus dnspython's short pause
        between rounds (0.1 s, doubling each round).
      - NXDOMAIN, NODATA, SERVFAIL and REFUSED are answers and are not retried.
    type: int
    default: 1
  checks:
    description:
      - The checks to run. When omitted, the settings decide - C(relay_address) always,
        C(sender_mx) with C(dns.check_mx), C(relay_ptr) with C(dns.check_ptr), C(spf) with
        C(dns.check_spf), C(dmarc) with C(dns.check_dmarc), C(ghes_reply) for product C(ghes) with
        C(dns.check_ghes_reply), C(expect) when C(dns.expect) has entries.
      - Listed checks run whatever the settings' C(check_*) flags say.
    type: list
    elements: str
    choices: [relay_address, sender_mx, relay_ptr, spf, dmarc, ghes_reply, expect]
  fail_on:
    description:
      - C(fail) fails the task when any check failed; C(warn) also when any check warned;
        C(never) only reports.
    type: str
    choices: [fail, warn, never]
    default: fail
requirements:
  - dnspython >= 2.4 on the managed host
notes:
  - Runs on the application host, because that is where mail leaves from and whose resolver the
    application uses.
  - The C(p) SPF macro (validated domain name of the client) expands to C(unknown), as RFC 7208 7.3
    allows, to keep within the lookup budget.
seealso:
  - module: mailwright.smtp.smtp_probe
  - module: mailwright.smtp.settings_validate
  - name: RFC 7208 (SPF)
    description: Sender Policy Framework, including the 10-lookup and 2-void-lookup limits.
    link: https://www.rfc-editor.org/rfc/rfc7208
  - name: RFC 7489 (DMARC)
    description: Domain-based Message Authentication, Reporting, and Conformance.
    link: https://www.rfc-editor.org/rfc/rfc7489
"""

EXAMPLES = r"""
- name: Check the DNS records of this application's mail settings
  mailwright.smtp.dns_check:
    settings: "{{ mail_settings }}"
  register: mail_dns

- name: Show the result table
  ansible.builtin.debug:
    var: mail_dns.report

- name: Ask a specific nameserver, quickly, and only report
  mailwright.smtp.dns_check:
    settings: "{{ mail_settings }}"
    nameservers: [192.0.2.53]
    timeout: 1
    retries: 0
    fail_on: never

- name: Only SPF and DMARC, failing on warnings too
  mailwright.smtp.dns_check:
    settings: "{{ mail_settings }}"
    checks: [spf, dmarc]
    fail_on: warn
"""

RETURN = r"""
changed:
  description: Always false; the module only reads DNS.
  returned: always
  type: bool
  sample: false
status:
  description: The worst status of all checks.
  returned: always
  type: str
  choices: [pass, warn, fail]
  sample: warn
counts:
  description: How many checks ended with each status.
  returned: always
  type: dict
  sample: {"pass": 4, "warn": 1, "fail": 0}
checks:
  description:
    - One entry per check, in the order they ran; the finding shape smtp_probe's
      M(mailwright.smtp.smtp_probe)'s C(results[].errors) share, with C(check) where those have C(step).
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: >-
        The check - relay_address, sender_mx, relay_ptr, spf, dmarc, ghes_reply_a, ghes_reply_mx,
        ghes_noreply_mx, or C(expect <name> <type> ...) for custom expectations.
      type: str
      sample: spf
    status:
      description: pass, warn or fail.
      type: str
      sample: pass
    message:
      description: What was found, in one line.
      type: str
      sample: "SPF of example.com (relay smtp.example.com): 192.0.2.10 pass"
    records:
      description: The records seen, zone-file style (C(<name> <type> <data>)).
      type: list
      elements: str
      sample: ['example.com TXT "v=spf1 include:_spf.example.com -all"']
    kind:
      description: >-
        The DNS outcome behind a warn or fail - nxdomain, nodata, servfail, refused, unreachable,
        timeout, error - or null.
      type: str
      sample: nxdomain
    addresses:
      description: relay_address only - the relay's addresses.
      type: list
      elements: str
      returned: for relay_address
      sample: [192.0.2.10, "2001:db8::10"]
    spf:
      description: >-
        spf only - one evaluation per address - result, reason, ip, domain, record, path (the terms
        followed, indented by include depth), lookups (DNS-querying terms used, limit 10),
        void_lookups (limit 2), kind.
      type: list
      elements: dict
      returned: for spf when there was an address to check
      sample:
        - result: pass
          reason: "example.com: include:_spf.example.com matched"
          ip: 192.0.2.10
          domain: example.com
          record: "v=spf1 include:_spf.example.com -all"
          path:
            - 'example.com: "v=spf1 include:_spf.example.com -all"'
            - "include:_spf.example.com (lookup 1)"
            - '  _spf.example.com: "v=spf1 ip4:192.0.2.0/24 -all"'
            - "  ip4:192.0.2.0/24 matches 192.0.2.10 -> pass"
            - "include:_spf.example.com matches 192.0.2.10 -> pass"
          lookups: 1
          void_lookups: 0
          kind: null
    dmarc:
      description: dmarc only - record_name, policy, inherited (found at a parent domain), tags.
      type: dict
      returned: for dmarc when a record was found
      sample: {"record_name": "_dmarc.example.com", "policy": "reject", "inherited": false,
               "tags": {"v": "DMARC1", "p": "reject"}}
report:
  description: One line per check (STATUS, check, message), for printing.
  returned: always
  type: list
  elements: str
  sample: ["PASS  relay_address  smtp.example.com resolves to 192.0.2.10"]
sender_domain:
  description: The domain of C(sender.from_address).
  returned: always
  type: str
  sample: example.com
relay:
  description: The relay host checked (C(server.host)).
  returned: always
  type: str
  sample: smtp.example.com
nameservers:
  description: The nameservers asked.
  returned: always
  type: list
  elements: str
  sample: [192.0.2.53]
port:
  description: The nameserver port.
  returned: always
  type: int
  sample: 53
queries:
  description: DNS queries sent (each name and type is asked once per run).
  returned: always
  type: int
  sample: 14
elapsed_ms:
  description: Milliseconds the checks took.
  returned: always
  type: int
  sample: 41
msg:
  description: What failed the task, or a one-line summary.
  returned: always
  type: str
  sample: "DNS checks: 5 pass, 1 warn, 0 fail"
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
    - When checks trip O(fail_on), V(network) if the first failing check could not get an answer
      (timeout, unreachable, refused, servfail or another resolver error), otherwise V(server) (the
      answer itself fails the check); V(invalid) for options that cannot work.
  returned: failure
  type: str
  sample: server
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.deps import require_lib
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    load_module_settings,
    new_module,
    run_backend,
    settings_argument_spec,
)

_CHECKS = ['relay_address', 'sender_mx', 'relay_ptr', 'spf', 'dmarc', 'ghes_reply', 'expect']


def main() -> None:
    argument_spec = settings_argument_spec()
    argument_spec.update(
        nameservers=dict(type='list', elements='str'),
        port=dict(type='int'),
        timeout=dict(type='float', default=3.0),
        retries=dict(type='int', default=1),
        checks=dict(type='list', elements='str', choices=_CHECKS),
        fail_on=dict(type='str', choices=['fail', 'warn', 'never'], default='fail'),
    )
    module: AnsibleModule = new_module(argument_spec=argument_spec, supports_check_mode=True)
    effective = load_module_settings(module)  # first: it registers the secrets before any failure
    require_lib(module, 'dnspython')

    from ansible_collections.mailwright.smtp.plugins.module_utils._reach.dns import run

    run_backend(module, run, module.params, effective)


if __name__ == '__main__':
    main()
