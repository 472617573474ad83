#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mail_properties
short_description: Manage the mail keys of a Java .properties file (JavaMail, Spring Boot, bitbucket.properties)
version_added: 0.1.0
description:
  - Sets the keys that the effective mail settings give for one O(flavour), and removes keys of that
    flavour that the settings no longer give. Every other line stays byte for byte, including
    other keys, comments, blank lines, continuation lines and their order.
  - The file is read the way C(java.util.Properties.load) reads it (comments C(#) and C(!),
    separators C(=), C(:) or whitespace, backslash escapes including C(\\uXXXX), line continuations).
    Values are written so that it reads them back unchanged. Characters outside printable ASCII
    are written as C(\\uXXXX), which works for ISO-8859-1 and UTF-8 readers alike.
  - A key that appears more than once keeps its first place, and the later copies are removed.
    New keys are added at the end, under one comment line that says mailwright manages them.
  - "V(javamail): C(mail.transport.protocol), C(mail.smtp.host), C(mail.smtp.port), C(mail.smtp.ssl.enable)
    (protocol V(smtps)), C(mail.smtp.starttls.enable) and C(mail.smtp.starttls.required), C(mail.smtp.auth),
    C(mail.smtp.user), C(mail.smtp.auth.mechanisms), C(mail.smtp.connectiontimeout), C(mail.smtp.timeout) and
    C(mail.smtp.writetimeout) (C(server.timeout_ms)), C(mail.smtp.localhost), C(mail.smtp.from), C(mail.from),
    C(mail.debug) and every C(server.properties) entry. JavaMail reads no password from such a file, so the
    password is not written (see RV(manual_steps))."
  - "V(spring): C(spring.mail.host), C(spring.mail.port), C(spring.mail.protocol), C(spring.mail.username),
    C(spring.mail.password), and the other JavaMail keys above as C(spring.mail.properties.<key>)."
  - "V(bitbucket): the C(bitbucket.properties) mail tuning keys C(mail.timeout.connect) and
    C(mail.timeout.send), in seconds, rounded up from C(server.timeout_ms). Bitbucket's own defaults apply
    when C(timeout_ms) is 0. Host, port, credentials and sender go through the REST API
    (M(mailwright.smtp.bitbucket_mail_server)) or the admin page."
  - With O(state=absent), every key the flavour can write is removed, plus the keys named in O(extra_keys).
author:
  - mailwright maintainers (@mailwright)
requirements:
  - Python standard library only on the managed host for a valid settings document (jsonschema, below, only explains an invalid one)
extends_documentation_fragment:
  - mailwright.smtp.settings
  - mailwright.smtp.files
  - mailwright.smtp.files.backup
  - mailwright.smtp.attributes
  - mailwright.smtp.result
  - ansible.builtin.files
options:
  path:
    description: The .properties file. It is created when it is missing. Its directory must exist.
    type: path
    required: true
  flavour:
    description: Which application reads the file, which decides the key names.
    type: str
    choices: [javamail, spring, bitbucket]
    required: true
  state:
    description: V(present) sets the keys. V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  extra_keys:
    description:
      - More keys to set (O(state=present)) or remove (O(state=absent)), for example
        C(mail.crypto.protocols) in C(bitbucket.properties). Their values are written as given.
    type: dict
    default: {}
  allow_world_readable:
    description:
      - When the file gets a password (C(spring.mail.password), O(flavour=spring)) and it is, or with O(mode)
        would be, readable by every user, the task fails before anything is written, naming the file.
        V(true) writes it anyway and warns on every run.
      - Readable by the group stays allowed (the application's group must read its configuration).
    type: bool
    default: false
  mode:
    description:
      - Permissions of the file. A new file gets V('0640'). An existing file keeps its permissions
        unless this option is given.
attributes:
  check_mode:
    support: full
    details: Computes the new content and reports it. Nothing is written.
  diff_mode:
    support: full
    details: Before and after text, with secrets (C(spring.mail.password)) shown as C(********).
seealso:
  - module: mailwright.smtp.tomcat_mail_resource
  - module: mailwright.smtp.bitbucket_mail_server
"""

EXAMPLES = r"""
- name: Spring Boot application.properties
  mailwright.smtp.mail_properties:
    path: /opt/app/config/application.properties
    flavour: spring
    settings: "{{ mail_settings }}"
    owner: app
    group: app
    mode: '0600'

- name: Bitbucket mail timeouts
  mailwright.smtp.mail_properties:
    path: /var/atlassian/application-data/bitbucket/shared/bitbucket.properties
    flavour: bitbucket
    settings: "{{ mail_settings }}"
    extra_keys:
      mail.crypto.protocols: TLSv1.2 TLSv1.3

- name: Take the JavaMail keys out again
  mailwright.smtp.mail_properties:
    path: /etc/app/mail.properties
    flavour: javamail
    settings: "{{ mail_settings }}"
    state: absent
"""

RETURN = r"""
set_keys:
  description: Keys written or changed by this run.
  returned: always
  type: list
  elements: str
  sample: [mail.smtp.host, mail.smtp.port]
removed_keys:
  description: Keys removed by this run.
  returned: always
  type: list
  elements: str
  sample: [mail.smtp.starttls.required]
properties:
  description: The keys and values the flavour wants, with secrets as C(********).
  returned: state=present
  type: dict
  sample: {spring.mail.host: smtp.example.com, spring.mail.port: "587", spring.mail.password: "********"}
backup_file:
  description: The backup copy, when O(backup) made one.
  returned: changed and backup
  type: str
manual_steps:
  description: What a person still has to do (restart, what the application has to do itself).
  returned: always
  type: list
  elements: str
  sample: ["Restart Bitbucket: it reads bitbucket.properties only at start-up"]
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
  returned: failure
  type: str
  sample: file
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    load_module_settings,
    new_module,
    register_secrets,
    run_backend,
    settings_argument_spec,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._render.files_backend import ensure_properties
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import FLAVOURS


def main() -> None:
    argument_spec = settings_argument_spec()
    argument_spec.update(
        path=dict(type='path', required=True),
        flavour=dict(type='str', choices=list(FLAVOURS), required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        extra_keys=dict(type='dict', default={}, no_log=False),
        backup=dict(type='bool', default=False),
        allow_world_readable=dict(type='bool', default=False),
    )
    module: AnsibleModule = new_module(argument_spec=argument_spec, supports_check_mode=True, add_file_common_args=True)
    effective = load_module_settings(module)
    password = effective['auth'].get('password')
    register_secrets(module, [password] if password else [])
    run_backend(module, ensure_properties, module.params, effective, host=module, check_mode=module.check_mode,
                diff=module._diff)


if __name__ == '__main__':
    main()
