#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ghes_smtp
short_description: Configure outgoing mail of GitHub Enterprise Server (API or ghe-config commands)
version_added: 0.1.0
description:
  - With O(mode=api), reads the C(smtp) settings object from the instance, compares it with the
    effective mail settings and writes only what differs; optionally starts a configuration run
    (C(ghe-config-apply)) and waits for it, bounded by O(apply_timeout).
  - With O(mode=render), talks to nothing and returns the equivalent C(ghe-config smtp.<key> <value>)
    commands plus C(ghe-config-apply), for sites that configure over SSH (administrative shell,
    port 122). The password never appears in them; the command reads it from the shell variable
    named by O(password_env), which the task running the commands sets with C(no_log).
  - Mapping to the C(smtp) object - C(enabled) from C(ghes.email_enabled) (false for O(state=absent)),
    C(address) from C(server.host), C(port) from C(server.port) (sent as a string, as the published
    schema types it), C(domain) (the HELO name) from C(server.helo_domain), C(authentication) from
    C(auth.mechanism) (C(plain), C(login), C(cram_md5); C(login) when C(auth.method=basic) names no
    mechanism; null for an anonymous relay), C(username) and C(user_name) from C(auth.username),
    C(password) from C(auth.password), C(enable_starttls_auto) true unless C(server.tls=none),
    C(noreply_address) from C(sender.noreply_address), C(discard-to-noreply-address) from
    C(sender.discard_to_noreply), C(support_address) from C(sender.support) with
    C(support_address_type) C(url) for an http(s) link and C(email) otherwise.
  - GHES has no way to require STARTTLS, no implicit TLS (SMTPS), no from name and no subject prefix;
    such settings are listed in RV(manual_steps). Notification mail is sent From C(sender.noreply_address).
  - The password is write-only unless the instance returns it (then it is compared in memory, never
    shown). When it cannot be compared, O(update_password) decides whether a run writes.
author:
  - mailwright maintainers (@mailwright)
requirements:
  - Python standard library only on the managed host for a valid settings document (jsonschema, below, only explains an invalid one)
extends_documentation_fragment:
  - mailwright.smtp.settings
  - mailwright.smtp.api
  - mailwright.smtp.attributes
  - mailwright.smtp.result
options:
  mode:
    description:
      - V(api) applies the settings through O(api). V(render) only returns the commands.
    type: str
    choices: [api, render]
    default: api
  api:
    description:
      - V(manage) is the Manage GHES API (C(/manage/v1/config/settings), C(/manage/v1/config/apply)),
        complete since GHES 3.12 and the only one from 3.15.
      - V(management_console) is the Management Console API (C(/setup/api/settings),
        C(/setup/api/configure), C(/setup/api/configcheck)) of GHES 3.14 and earlier; it was removed
        in 3.15.
    type: str
    choices: [manage, management_console]
    default: manage
  state:
    description:
      - V(present) writes the whole C(smtp) object. V(absent) sets only C(enabled=false), keeping the
        other values (GHES has no way to delete them).
    type: str
    choices: [present, absent]
    default: present
  update_password:
    description:
      - Only used when the instance does not return the stored password.
      - V(on_create) sends the password when email is configured for the first time (no server
        address yet) and whenever another value changes.
      - V(always) writes on every run (and reports C(changed)); use it after rotating the password.
    type: str
    choices: [always, on_create]
    default: on_create
  url:
    description:
      - Administration URL of the instance, C(https://HOSTNAME:8443) (or C(http://HOSTNAME:8080)
        without TLS). Required for O(mode=api).
    type: str
  url_username:
    description:
      - C(api_key) (the root site administrator for the Manage API, the Management Console password
        holder for the Management Console API) or a Management Console user (Manage API only).
    type: str
    default: api_key
  url_password:
    description: The root site administrator password, Management Console password or user password.
    type: str
  validate_certs:
    description:
      - Verify the instance's TLS certificate. A fresh instance uses a self-signed certificate;
        pass its CA with O(ca_path) rather than turning this off.
    type: bool
    default: true
  ca_path:
    description: PEM file with the CA certificate(s) that signed the instance's certificate.
  apply:
    description:
      - After writing changed settings, start a configuration run and wait for it to finish.
        Nothing is started when nothing changed. A configuration run restarts services
        (visible downtime).
      - If a run fails, the settings stay written; the next run of this module finds nothing to
        change and starts no new run. Fix the cause, then run C(ghe-config-apply) (or
        C(POST /manage/v1/config/apply)) once by hand or from a handler.
      - Ignored by O(mode=render), whose command list always ends with C(ghe-config-apply).
    type: bool
    default: false
  apply_timeout:
    description:
      - Seconds to wait for the configuration run. When they pass the task fails (the run goes on
        on the instance) and the message says how to follow it.
    type: float
    default: 900
  apply_poll_interval:
    description: Seconds between status checks of the configuration run.
    type: float
    default: 10
  password_env:
    description:
      - O(mode=render) - the shell variable the C(ghe-config smtp.password) command reads.
    type: str
    default: GHE_SMTP_PASSWORD
attributes:
  check_mode:
    support: full
    details: Reads the settings and reports what would change; writes nothing and starts no run.
  diff_mode:
    support: full
    details: The password is shown as C(********), never its value.
notes:
  - The published settings schema spells the discard flag C(discard-to-noreply-address) (hyphens) and
    types C(port) as a string; both are followed. Reading also accepts C(discard_to_noreply_address).
  - The C(ghe-config) keys C(smtp.noreply-address) and C(smtp.support-address) are documented by use;
    the other keys follow the same pattern (API name with C(-) for C(_)). Unset values are cleared
    with C(ghe-config --unset KEY || true).
seealso:
  - module: mailwright.smtp.settings_validate
  - module: mailwright.smtp.dns_check
"""

EXAMPLES = r"""
- name: Configure GHES mail and apply
  mailwright.smtp.ghes_smtp:
    settings: "{{ mail_settings }}"
    url: https://github.example.com:8443
    url_password: "{{ vault_ghes_root_admin_password }}"
    ca_path: /etc/pki/tls/certs/internal-ca.pem
    apply: true
    apply_timeout: 1200

- name: GHES 3.11 and older
  mailwright.smtp.ghes_smtp:
    settings: "{{ mail_settings }}"
    api: management_console
    url: https://github.example.com:8443
    url_password: "{{ vault_ghes_management_console_password }}"

- name: Render the ghe-config commands
  mailwright.smtp.ghes_smtp:
    settings: "{{ mail_settings }}"
    mode: render
  register: ghes_mail

- name: Run them in the administrative shell, password from the environment
  ansible.builtin.shell: "{{ ghes_mail.script }}"
  environment:
    GHE_SMTP_PASSWORD: "{{ mail_settings.auth.password }}"
  no_log: true
  delegate_to: ghes-admin-shell
"""

RETURN = r"""
smtp:
  description: The C(smtp) object after the run (render - the object the commands set), password as C(********).
  returned: success
  type: dict
before:
  description: The C(smtp) object the instance reported before the run (without password).
  returned: mode=api
  type: dict
differences:
  description: Keys that differed (and caused a write).
  returned: mode=api
  type: list
  elements: str
  sample: [address, port]
created:
  description: Whether email was configured for the first time (no server address before).
  returned: mode=api
  type: bool
password_written:
  description: Whether the password was sent (or would be, in check mode).
  returned: mode=api
  type: bool
apply:
  description:
    - The configuration run - C(run_id) (Manage API), C(successful), C(seconds), C(polls), C(detail)
      (nodes or progress steps). C(null) when no run was started; C({would_run}) in check mode.
  returned: mode=api
  type: dict
requests:
  description: The requests made, as C(METHOD path).
  returned: mode=api
  type: list
  elements: str
commands:
  description: C(ghe-config) commands (render). The password command reads C($password_env).
  returned: mode=render
  type: list
  elements: str
  sample: ["ghe-config smtp.enabled true", "ghe-config smtp.address smtp.example.com",
           "ghe-config smtp.password \"$GHE_SMTP_PASSWORD\"", "ghe-config-apply"]
script:
  description: The commands as a C(sh) script that stops at the first error and checks the password variable is set.
  returned: mode=render
  type: str
password_env:
  description: The variable the script expects the password in, or null when no password is needed.
  returned: mode=render
  type: str
manual_steps:
  description: Settings GHES cannot apply, and why (for a person to know or do).
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
    run_backend,
    settings_argument_spec,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render.api import api_argument_spec
from ansible_collections.mailwright.smtp.plugins.module_utils._render.ghes import ensure_smtp


def argument_spec() -> ArgumentSpec:
    # GHES admin APIs take basic authentication only: no token option.
    return ArgumentSpec(settings_argument_spec(), required_if=[('mode', 'api', ['url', 'url_password'])]).merge(
        api_argument_spec(token=False, default_username='api_key'),
        mode={'type': 'str', 'choices': ['api', 'render'], 'default': 'api'},
        api={'type': 'str', 'choices': ['manage', 'management_console'], 'default': 'manage'},
        state={'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'},
        update_password={'type': 'str', 'choices': ['always', 'on_create'], 'default': 'on_create',
                         'no_log': False},
        apply={'type': 'bool', 'default': False},
        apply_timeout={'type': 'float', 'default': 900},
        apply_poll_interval={'type': 'float', 'default': 10},
        password_env={'type': 'str', 'default': 'GHE_SMTP_PASSWORD', 'no_log': False},
    )


def main() -> None:
    module: AnsibleModule = new_module(supports_check_mode=True, **argument_spec().module_kwargs())
    effective = load_module_settings(module)
    # Ansible masks these too: every form a credential took on the wire, not only the raw value.
    wire_secrets: set[str] = set()
    run_backend(module, ensure_smtp, module.params, effective, check_mode=module.check_mode,
                diff=module._diff, wire_secrets=wire_secrets, register_after=wire_secrets)


if __name__ == '__main__':
    main()
