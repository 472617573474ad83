#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mail_info
short_description: Read a host's outgoing mail configuration back into the settings model, with its drift
version_added: 0.2.0
description:
  - Reads what an application host sends mail through now, without changing anything, and returns it as a
    settings document in the shape of the published schema (C(schemas/mail-settings.schema.json)), so it
    can be the starting point of a settings file for a host configured by hand.
  - Each source is read by the same parser its render module uses - the JNDI mail C(<Resource>) of a
    Tomcat C(server.xml) or context file (as M(mailwright.smtp.tomcat_mail_resource) selects the
    C(<Context>)), a properties file (as M(mailwright.smtp.mail_properties)), the Bitbucket mail server
    resource (as M(mailwright.smtp.bitbucket_mail_server), GET only) and the GHES C(smtp) settings (as
    M(mailwright.smtp.ghes_smtp), GET only).
  - With O(settings), RV(drift) lists every field where the host differs from what render would write
    for the effective settings (defaults applied), by JSON path. A field left at its default is not
    drift; a field the host cannot hold (listed in RV(unknown)) is never drift. Secrets are compared,
    never shown.
  - Also returns the truststore's entries (RV(truststore)), the last proof of delivery (RV(proof)) and
    what is wrong whatever the settings say (RV(findings)).
author:
  - mailwright maintainers (@mailwright)
requirements:
  - cryptography (41 or later) on the managed host when O(truststore_path) or O(jvm_options_file) is given;
    otherwise the Python standard library only for a valid settings document
extends_documentation_fragment:
  - mailwright.smtp.api
  - mailwright.smtp.api.token
  - mailwright.smtp.attributes
  - mailwright.smtp.result
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode and out of it; RV(check_mode) says which mode the task ran in.
  diff_mode:
    support: none
    details: Nothing changes, so there is no diff; RV(drift) is the comparison.
options:
  product:
    description:
      - The application. Taken from O(settings) when they are given (and must then agree with them).
      - Required without O(settings).
    type: str
    choices: [jira, confluence, bitbucket, ghes, generic]
  settings:
    description:
      - The desired settings document (or the C(effective) settings of M(mailwright.smtp.settings_validate)).
        With it, RV(drift) is returned and RV(proof) says whether the last proof is a proof of these settings.
      - Secrets in it are never shown.
    type: dict
  server_xml:
    description: Tomcat C(server.xml) or context file holding the JNDI mail C(<Resource>) (Jira, Confluence, generic).
    type: path
  context_path:
    description: The C(path) of the C(<Context>) to read, as for M(mailwright.smtp.tomcat_mail_resource).
    type: str
  doc_base:
    description: The C(docBase) of the C(<Context>) to read, as for M(mailwright.smtp.tomcat_mail_resource).
    type: str
  properties_path:
    description: A properties file with mail keys (C(bitbucket.properties), or an application's JavaMail or Spring Boot file).
    type: path
  flavour:
    description: How O(properties_path) spells mail settings; V(bitbucket) for Bitbucket, else V(javamail).
    type: str
    choices: [javamail, spring, bitbucket]
  truststore_path:
    description:
      - The Java truststore the application uses (JKS or PKCS12). Defaults to the C(-Djavax.net.ssl.trustStore)
        of O(jvm_options_file) when that is given.
    type: path
  store_password:
    description:
      - Password of O(truststore_path). A JKS store is read without it (its certificates are stored in the
        clear; the integrity check is then skipped); a PKCS12 store whose certificates are encrypted needs it.
      - Defaults to the C(-Djavax.net.ssl.trustStorePassword) of O(jvm_options_file).
    type: str
  keytool:
    description: The keytool used when the store cannot be read without a JVM.
    type: str
    default: keytool
  jvm_options_file:
    description:
      - The JVM options file (C(setenv.sh)); its truststore options and every C(-Dmail.*) override are read.
    type: path
  marker_path:
    description:
      - The proof marker M(mailwright.smtp.test_send) writes; by default the one test_send would use for
        the relay (under C(/var/lib/mailwright/test_send)).
    type: path
  test_send_ca_path:
    description: The O(mailwright.smtp.test_send#module:ca_path) the proof was made with (it is part of what a proof proves).
    type: path
  test_send_validate_certs:
    description: The O(mailwright.smtp.test_send#module:validate_certs) the proof was made with.
    type: bool
    default: true
  api:
    description: For GHES, which HTTP API to read (as for M(mailwright.smtp.ghes_smtp)).
    type: str
    choices: [manage, management_console]
    default: manage
  url:
    description:
      - Base URL of the Bitbucket instance or of the GHES Manage API; only C(GET) requests are made.
  url_username:
    description:
      - User for HTTP basic authentication. For GHES, C(api_key) when not given.
notes:
  - Fields no source on the host can hold (the Jira and Confluence subject prefix, which live in the
    product's database; a Bitbucket password, which is write-only; a from name with C(${fullname}), which
    a mail session cannot carry) are left out of RV(current) and listed in RV(unknown).
  - C(mail.smtp.ssl.checkserveridentity) is derived by render on TLS sessions; it is neither drift nor a property.
seealso:
  - module: mailwright.smtp.settings_validate
  - module: mailwright.smtp.tomcat_mail_resource
  - module: mailwright.smtp.mail_properties
"""

EXAMPLES = r"""
- name: What does Jira send through, and is it what git says?
  mailwright.smtp.mail_info:
    settings: "{{ mail_settings }}"
    server_xml: /opt/atlassian/jira/conf/server.xml
    jvm_options_file: /opt/atlassian/jira/bin/setenv.sh
  register: jira_mail

- name: Fail when the host drifted
  ansible.builtin.assert:
    that: jira_mail.drift == []
    fail_msg: "{{ jira_mail.drift | map(attribute='path') | join(', ') }} differ"

- name: Read a hand-configured Bitbucket (REST and bitbucket.properties)
  mailwright.smtp.mail_info:
    product: bitbucket
    url: https://bitbucket.example.com
    token: "{{ vault_bitbucket_admin_token }}"
    properties_path: /var/atlassian/application-data/bitbucket/shared/bitbucket.properties
"""

RETURN = r"""
current:
  description:
    - What the host has, as a settings document (secrets as C(********)); fields the host cannot hold are
      left out and listed in RV(unknown).
  returned: success
  type: dict
  sample: {product: jira, server: {host: smtp.example.com, port: 587, protocol: smtp, tls: required,
           timeout_ms: 10000, jndi: {name: mail/JiraMailServer, session_type: javax.mail.Session}},
           auth: {method: basic, username: jira-notify, password: "********"},
           sender: {from_address: jira@example.com}}
unknown:
  description: JSON paths of the fields that cannot be recovered from the host.
  returned: success
  type: list
  elements: str
  sample: ["$.sender.subject_prefix", "$.name", "$.test"]
sources:
  description: What was read (C(server_xml), C(properties), C(api)).
  returned: success
  type: list
  elements: str
drift:
  description:
    - With O(settings), one entry per field where the host differs, C([]) when it matches. C(path) is the
      JSON path, C(current) and C(desired) the values (C(********) for a secret, with C(masked=true)).
  returned: when O(settings) is given
  type: list
  elements: dict
  sample: [{path: "$.server.timeout_ms", current: 20000, desired: 10000}]
truststore:
  description: The truststore read, with one entry per certificate (alias, type, subject, issuer, sha256, not_after, days_left).
  returned: when a truststore was read
  type: dict
  sample: {path: /var/atlassian/jira/mail-truststore.p12, store_type: pkcs12, entries: [
           {alias: mailwright-smtp.example.com, type: trustedCertEntry, subject: CN=smtp.example.com,
            issuer: CN=Corp CA, sha256: "AA:BB:...", not_after: "2027-01-01T00:00:00Z", days_left: 39}]}
jvm_options:
  description: What O(jvm_options_file) sets (truststore path and type, the password as C(********), C(-Dmail.*) overrides).
  returned: when O(jvm_options_file) is given
  type: dict
proof:
  description:
    - The last proof of delivery (C(marker_path), C(found), C(time), C(age_seconds), C(message_id)), whether it
      proves the desired settings (C(proves_settings); null without O(settings)) and whether it is C(current)
      (it proves them and is not older than C(test.max_age)).
  returned: when a marker path is known
  type: dict
  sample: {marker_path: /var/lib/mailwright/test_send/jira-1f0c.json, found: true, time: "2026-11-20T09:30:00Z",
           age_seconds: 259200, message_id: "<1@example.com>", proves_settings: true, current: true}
findings:
  description:
    - What is wrong whatever the settings say, each with C(kind), C(message) and C(where) - for example
      C(duplicate_resource), C(world_readable_secret), C(expired_certificate), C(jvm_override), C(debug), C(tls).
  returned: success
  type: list
  elements: dict
check_mode:
  description: Whether the task ran in check mode (a play's C(check_mode) included, which C(ansible_check_mode) does not show).
  returned: success
  type: bool
product:
  description: The product read.
  returned: success
  type: str
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
  returned: failure
  type: str
  sample: file
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.deps import require_lib
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    ArgumentSpec,
    load_module_settings,
    new_module,
    register_secrets,
    run_backend,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._info.info import read_info
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import connection_argument_spec
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import FLAVOURS


def argument_spec() -> ArgumentSpec:
    return ArgumentSpec(
        {
            'product': {'type': 'str', 'choices': ['jira', 'confluence', 'bitbucket', 'ghes', 'generic']},
            'settings': {'type': 'dict'},
            'server_xml': {'type': 'path'},
            'context_path': {'type': 'str'},
            'doc_base': {'type': 'str'},
            'properties_path': {'type': 'path'},
            'flavour': {'type': 'str', 'choices': list(FLAVOURS)},
            'truststore_path': {'type': 'path'},
            'store_password': {'type': 'str', 'no_log': True},
            'keytool': {'type': 'str', 'default': 'keytool', 'no_log': False},
            'jvm_options_file': {'type': 'path'},
            'marker_path': {'type': 'path'},
            'test_send_ca_path': {'type': 'path'},
            'test_send_validate_certs': {'type': 'bool', 'default': True},
            'api': {'type': 'str', 'choices': ['manage', 'management_console'], 'default': 'manage'},
        },
        required_one_of=[('product', 'settings')],
        mutually_exclusive=[('token', 'url_username'), ('token', 'url_password')],
    ).merge(ArgumentSpec(connection_argument_spec()))


def main() -> None:
    module: AnsibleModule = new_module(supports_check_mode=True, **argument_spec().module_kwargs())
    if module.params['truststore_path'] or module.params['jvm_options_file']:
        require_lib(module, 'cryptography')  # certificates are read with it
    effective = load_module_settings(module) if module.params['settings'] is not None else None
    # Secrets found on the host (an old password, the store password) are masked as well.
    wire_secrets: set[str] = set()
    register_secrets(module, [module.params['store_password'] or ''])
    run_backend(module, read_info, module.params, effective, check_mode=module.check_mode,
                wire_secrets=wire_secrets, register_after=wire_secrets)


if __name__ == '__main__':
    main()
