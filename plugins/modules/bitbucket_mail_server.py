#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: bitbucket_mail_server
short_description: Configure the Bitbucket Server / Data Center mail server through its REST API
version_added: 0.1.0
description:
  - Reads the mail server configuration from C(GET /rest/api/latest/admin/mail-server), compares it
    with the effective mail settings and sends C(PUT) only when something differs.
  - Maps C(server.host) to C(hostname), C(server.port) to C(port), C(server.protocol) to C(protocol)
    (C(SMTP) or C(SMTPS)), C(server.tls=opportunistic) to C(useStartTls) ("use SSL/TLS if
    available"), C(server.tls=required) to C(requireStartTls) plus C(useStartTls) ("always use
    SSL/TLS"; the API documentation does not say whether C(requireStartTls) alone enables STARTTLS,
    so both are written), C(auth.username) and C(auth.password) to C(username) and C(password), and
    C(sender.from_address) to C(senderAddress) ("Email from"). An anonymous relay (C(auth.method=none))
    is written with C(username) and C(password) set to null.
  - The password is write-only on the server, so it is never compared. It is sent with every write;
    O(update_password) decides whether a run writes when nothing else differs.
  - C(sender.from_name), C(sender.subject_prefix), C(server.helo_domain) and C(server.timeout_ms) have
    no place in this resource; the result lists them under RV(manual_steps). Bitbucket reads its mail timeouts
    from C(bitbucket.properties) (see M(mailwright.smtp.mail_properties)).
  - OAuth 2.0 (Bitbucket 10) is not part of the documented REST resource; O(settings) with
    C(auth.method=oauth2) fails with a message naming the manual step.
author:
  - mailwright maintainers (@mailwright)
requirements:
  - Python standard library only on the managed host for a valid settings document (jsonschema, below, only explains an invalid one)
extends_documentation_fragment:
  - mailwright.smtp.settings
  - mailwright.smtp.api
  - mailwright.smtp.api.token
  - mailwright.smtp.attributes
  - mailwright.smtp.result
options:
  settings:
    required: false
    description:
      - One application instance's mail settings, as described by the published JSON Schema
        C(schemas/mail-settings.schema.json), either the original document or the C(effective)
        settings returned by M(mailwright.smtp.settings_validate). Secrets in it are never shown.
      - Required when O(state=present); not used for O(state=absent).
  state:
    description:
      - V(present) creates or updates the mail server; V(absent) deletes the mail server
        configuration and the sender address (C(DELETE) on both resources).
    type: str
    choices: [present, absent]
    default: present
  update_password:
    description:
      - V(on_create) sends the password when the mail server is created and whenever another field
        changes; a run where only the password could differ changes nothing (idempotent).
      - V(always) writes the configuration with the password on every run and reports C(changed),
        because the server cannot tell whether its stored password differs. Use it once after
        rotating the password.
    type: str
    choices: [always, on_create]
    default: on_create
  url:
    description:
      - Base URL of the Bitbucket instance including any context path, for example
        C(https://bitbucket.example.com) or C(https://example.com/bitbucket).
    type: str
    required: true
  url_username:
    description:
      - User for HTTP basic authentication. The account needs the C(SYS_ADMIN) permission.
      - Mutually exclusive with O(token).
    type: str
  token:
    description:
      - A Bitbucket HTTP access token (personal access token) with admin scope, sent as
        an C(Authorization) header with the C(Bearer) scheme.
      - Mutually exclusive with O(url_username) and O(url_password); one of O(token) and O(url_username) is required.
attributes:
  check_mode:
    support: full
    details: Reads the configuration and reports what would change; sends no PUT or DELETE.
  diff_mode:
    support: full
    details: The password is shown as C(********), never its value.
notes:
  - Contract from the Bitbucket Data Center REST API reference (System Maintenance group,
    C(RestMailConfiguration)) - GET answers 404 when no mail server is configured; PUT answers 400 on
    a validation error; both answer 401 for bad credentials or a missing SYS_ADMIN permission.
seealso:
  - module: mailwright.smtp.mail_properties
  - module: mailwright.smtp.settings_validate
"""

EXAMPLES = r"""
- name: Point Bitbucket at the relay
  mailwright.smtp.bitbucket_mail_server:
    settings: "{{ mail_settings }}"
    url: https://bitbucket.example.com
    token: "{{ vault_bitbucket_admin_token }}"
    ca_path: /etc/pki/tls/certs/internal-ca.pem

- name: Rotate the relay password
  mailwright.smtp.bitbucket_mail_server:
    settings: "{{ mail_settings }}"
    url: https://bitbucket.example.com
    url_username: admin
    url_password: "{{ vault_bitbucket_admin_password }}"
    update_password: always

- name: Remove the mail server
  mailwright.smtp.bitbucket_mail_server:
    state: absent
    url: https://bitbucket.example.com
    token: "{{ vault_bitbucket_admin_token }}"
"""

RETURN = r"""
mail_server:
  description: The configuration after the run (the password as C(********) when one is set).
  returned: success
  type: dict
  sample: {hostname: smtp.example.com, port: 587, protocol: SMTP, useStartTls: true,
           requireStartTls: true, username: bitbucket, password: "********",
           senderAddress: bitbucket@example.com}
before:
  description: The configuration the server reported before the run (the server never returns the password).
  returned: success
  type: dict
differences:
  description: Fields that differed (and caused a write).
  returned: success
  type: list
  elements: str
  sample: [port, tls]
created:
  description: Whether the mail server was configured for the first time.
  returned: state=present
  type: bool
password_written:
  description: Whether this run sent the password (or would have, in check mode).
  returned: success
  type: bool
requests:
  description: The requests made, as C(METHOD path).
  returned: success
  type: list
  elements: str
manual_steps:
  description: Settings this API cannot apply, with where they belong instead (for a person to do).
  returned: success
  type: list
  elements: str
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
  returned: failure
  type: str
  sample: server
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    ArgumentSpec,
    load_module_settings,
    new_module,
    register_settings_secrets,
    run_backend,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render.api import api_argument_spec
from ansible_collections.mailwright.smtp.plugins.module_utils._render.bitbucket import ensure_mail_server


def argument_spec() -> ArgumentSpec:
    return ArgumentSpec({'settings': {'type': 'dict'}}, required_if=[('state', 'present', ['settings'])]).merge(
        api_argument_spec(token=True, url_required=True),
        state={'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'},
        update_password={'type': 'str', 'choices': ['always', 'on_create'], 'default': 'on_create',
                         'no_log': False},
    )


def main() -> None:
    module: AnsibleModule = new_module(supports_check_mode=True, **argument_spec().module_kwargs())
    if module.params['state'] == 'present':
        effective = load_module_settings(module)
    else:  # the settings are not needed to remove, but their secrets must stay hidden
        register_settings_secrets(module)
        effective = None
    # Ansible masks these too: every form a credential took on the wire, not only the raw value.
    wire_secrets: set[str] = set()
    run_backend(module, ensure_mail_server, module.params, effective, check_mode=module.check_mode,
                diff=module._diff, wire_secrets=wire_secrets, register_after=wire_secrets)


if __name__ == '__main__':
    main()
