#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tomcat_mail_resource
short_description: Ensure a JNDI mail session Resource in a Tomcat server.xml or context file
version_added: 0.1.0
description:
  - Adds, updates or removes one C(<Resource name="mail/..." auth="Container" type="javax.mail.Session|jakarta.mail.Session" .../>)
    in a C(<Context>) of a Tomcat C(server.xml) (Jira, Confluence) or in a context file
    (C(conf/Catalina/localhost/<app>.xml), C(META-INF/context.xml)).
  - Minimal diff. Only the Resource element changes, and nothing else in the file, byte for byte;
    comments, attribute order, indentation and line endings stay as they are. On an update,
    attributes keep their place and quoting, changed values are replaced in place, and new
    attributes go after the last one.
  - "The Resource name and type come from C(server.jndi) (C(name), C(session_type)). The attributes
    come from the effective settings: C(mail.transport.protocol), C(mail.smtp.host), C(mail.smtp.port),
    C(mail.smtp.starttls.enable) (tls V(opportunistic)) plus C(mail.smtp.starttls.required) (tls V(required)),
    C(mail.smtp.ssl.enable) (protocol V(smtps)), C(mail.smtp.auth), C(mail.smtp.user), C(password),
    C(mail.smtp.auth.mechanisms), C(mail.smtp.connectiontimeout), C(mail.smtp.timeout) and C(mail.smtp.writetimeout)
    (from C(server.timeout_ms); left out when it is 0, which is JavaMail's wait-forever default),
    C(mail.smtp.localhost) (C(server.helo_domain)), C(mail.smtp.from) (envelope sender), C(mail.from)
    (the From header of messages that do not set one), C(mail.debug) (C(server.jndi.debug)) and every
    C(server.properties) entry."
  - SMTPS is written as protocol C(smtp) with C(mail.smtp.ssl.enable=true) for both session types.
    Tomcat's mail session factory reads only C(mail.smtp.user) (or C(mail.user)) for the password login,
    and C(Transport.send) uses the C(smtp) transport for e-mail addresses whatever C(mail.transport.protocol)
    says, so C(mail.smtps.*) keys would be ignored there. JavaMail 1.4.3 and later and Jakarta Mail all
    read C(mail.smtp.ssl.enable).
  - Tomcat passes the C(password) attribute to an Authenticator and does not keep it as a session
    property. It is used only together with C(mail.smtp.user).
  - A file that is not well-formed XML, or has no C(<Context>) matching O(context_path) / O(doc_base),
    makes the task fail with the file and line, and is not touched.
  - What the product only takes through its admin pages (JNDI location, from address, from name,
    subject prefix) comes back in RV(manual_steps).
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
    description:
      - The C(server.xml) or context file. With O(state=present), a file that does not exist is
        created as a context file holding only this Resource. Its parent directory must exist.
    type: path
    required: true
  state:
    description: Whether the Resource should exist.
    type: str
    choices: [present, absent]
    default: present
  context_path:
    description:
      - Selects the C(<Context>) by its C(path) attribute (V("") and V(/) both mean the root context).
      - Needed when C(server.xml) has more than one Context. In a context file, the root Context is used,
        and this option only guards against editing the wrong file.
    type: str
  doc_base:
    description: Selects the C(<Context>) by its C(docBase) attribute, compared literally (for example V(${catalina.home}/atlassian-jira)).
    type: str
  extra_attributes:
    description:
      - More attributes for the Resource, for example C(description) or JavaMail keys that are not
        part of the settings. They cannot override an attribute that comes from the settings.
    type: dict
    default: {}
  allow_world_readable:
    description:
      - When the Resource has a password (C(auth.method=basic)) and the file is, or with O(mode) would be,
        readable by every user, the task fails before anything is written, naming the file.
        V(true) writes it anyway and warns on every run.
      - Readable by the group stays allowed (Tomcat's group must read C(server.xml)).
    type: bool
    default: false
  mode:
    description:
      - Permissions of the file. A new file gets V('0640') (it holds a password). An existing file
        keeps its permissions unless this option is given.
attributes:
  check_mode:
    support: full
    details: Computes the new content and reports it. Nothing is written.
  diff_mode:
    support: full
    details: Before and after text of the file, with the password shown as C(********).
notes:
  - Tomcat 9 and earlier (Jira, Confluence) use C(javax.mail.Session). Tomcat 10 and later use
    C(jakarta.mail.Session). The mail and activation jars must be in Tomcat's C(lib/), and only once.
  - OAuth 2.0 cannot go into a JNDI Resource, so the module fails for C(auth.method=oauth2).
seealso:
  - module: mailwright.smtp.mail_properties
  - module: mailwright.smtp.settings_validate
"""

EXAMPLES = r"""
- name: Jira's mail session in server.xml
  mailwright.smtp.tomcat_mail_resource:
    path: /opt/atlassian/jira/conf/server.xml
    context_path: ""
    settings: "{{ mail_settings }}"
    backup: true

- name: A Jakarta Mail session for an application on Tomcat 10
  mailwright.smtp.tomcat_mail_resource:
    path: /var/lib/tomcat10/conf/Catalina/localhost/app.xml
    settings:
      product: generic
      server:
        host: smtp.example.com
        port: 587
        tls: required
        jndi: {name: mail/Session, session_type: jakarta.mail.Session}
      auth: {method: basic, username: app, password: "{{ vault_smtp_password }}"}
      sender: {from_address: app@example.com, from_name: Example App}
    owner: root
    group: tomcat

- name: Remove the session again
  mailwright.smtp.tomcat_mail_resource:
    path: /opt/atlassian/jira/conf/server.xml
    settings: "{{ mail_settings }}"
    state: absent
"""

RETURN = r"""
action:
  description: What happened to the Resource.
  returned: always
  type: str
  sample: updated
  choices: [added, updated, removed, unchanged, absent]
context:
  description: The Context the Resource lives in.
  returned: success
  type: str
  sample: <Context path="" docBase="${catalina.home}/atlassian-jira">
line:
  description: Line of the Resource's start tag in the new file (in the old file for a removal).
  returned: when the Resource exists or existed
  type: int
  sample: 166
resource:
  description: The Resource's attributes as wanted, with the password as C(********).
  returned: state=present
  type: dict
  sample: {name: mail/JiraMailServer, auth: Container, type: javax.mail.Session, mail.smtp.host: smtp.example.com,
           mail.smtp.port: "587", mail.smtp.user: jira, password: "********"}
backup_file:
  description: The backup copy, when O(backup) made one.
  returned: changed and backup
  type: str
  sample: /opt/atlassian/jira/conf/server.xml.12345.2026-11-23@10:00:00~
manual_steps:
  description: What a person still has to do in the product or on the host.
  returned: always
  type: list
  elements: str
  sample:
    - "Restart Tomcat: /opt/atlassian/jira/conf/server.xml is read only at start-up"
    - >-
      In Jira: Administration → System → Outgoing Mail → Configure new SMTP mail server:
      From address jira@example.com, Email prefix [JIRA], and JNDI Location java:comp/env/mail/JiraMailServer
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
from ansible_collections.mailwright.smtp.plugins.module_utils._render.files_backend import ensure_tomcat_resource


def main() -> None:
    argument_spec = settings_argument_spec()
    argument_spec.update(
        path=dict(type='path', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        context_path=dict(type='str'),
        doc_base=dict(type='str'),
        extra_attributes=dict(type='dict', default={}),
        backup=dict(type='bool', default=False),
        allow_world_readable=dict(type='bool', default=False),
    )
    module: AnsibleModule = new_module(argument_spec=argument_spec, supports_check_mode=True, add_file_common_args=True)
    effective = load_module_settings(module)
    password = effective['auth'].get('password')
    register_secrets(module, [password] if password else [])
    run_backend(module, ensure_tomcat_resource, module.params, effective, host=module, check_mode=module.check_mode,
                diff=module._diff)


if __name__ == '__main__':
    main()
