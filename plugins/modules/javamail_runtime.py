#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: javamail_runtime
short_description: Check and fix the JavaMail jars and the mail JVM options of a Jira, Confluence or Tomcat install
version_added: 0.2.0
description:
  - Finds every mail and activation jar (C(javax) and C(jakarta)) in Tomcat's C(<app_home>/lib) and in the
    webapp's C(WEB-INF/lib) (Jira C(atlassian-jira), Confluence C(confluence), Bitbucket C(app)), reads the jars
    as zip files (no JVM needed) and reports them in RV(jars). The classes a jar holds decide its API
    (Jakarta Mail 1.6 is named C(jakarta.mail) but holds C(javax.mail) classes); the manifest gives the version.
  - "Reports RV(conflicts), as the products document them: the mail and activation jars belong in Tomcat's
    C(lib/) exactly once and not also in C(<app>/WEB-INF/lib/). V(duplicate): a second copy (the webapp loads its
    own, and Jira says I(Mail server at location [java:comp/env/mail/JiraMailServer] is not of required type
    javax.mail.Session)). V(missing): a JNDI session whose API has no mail (or activation) jar in C(lib/)
    (I(java.lang.NoClassDefFoundError: javax/mail/Authenticator)). V(wrong_api): a C(javax) jar for a
    C(jakarta.mail.Session) Resource or the other way round, or a Resource type the Tomcat in C(lib/catalina.jar)
    does not build (Tomcat 10 and later: C(jakarta.mail.Session))."
  - With O(state=present), moves the jars into place. A duplicate copy goes into O(backup_dir) (the copy in
    C(lib/), else the newest, stays); for a JNDI session (C(server.jndi), or O(session_type)) a jar found only in
    C(WEB-INF/lib) moves into C(lib/), the step Jira, Confluence and Tomcat document for a JNDI mail session.
    Bitbucket runs its own embedded server and has no JNDI session; it is reported, never rearranged.
  - Reads the JVM options the application starts with (C(bin/setenv.sh), for Bitbucket also
    C(bin/_start-webapp.sh)) as the shell and Tomcat's C(catalina.sh) read them, in the variables the products
    use (C(JVM_SUPPORT_RECOMMENDED_ARGS), C(JVM_REQUIRED_ARGS), C(CATALINA_OPTS), C(JAVA_OPTS),
    C(JAVA_TOOL_OPTIONS), C(JDK_JAVA_OPTIONS)), the mailwright truststore block included, and reports
    RV(system_property_overrides) with the file and line of each. C(-Dmail.smtp.host) and C(-Dmail.smtp.port)
    override the product's mail server form (Jira documents this); with O(settings), every key the settings
    render is compared too; a C(-Dmail.*) option that weakens TLS is always reported.
  - Which findings fail the task and which are warnings is O(fail_on). A failing finding stops the task
    before anything is moved.
author:
  - mailwright maintainers (@mailwright)
requirements:
  - Python standard library only on the managed host for a valid settings document (jsonschema only explains an invalid one)
extends_documentation_fragment:
  - mailwright.smtp.attributes
  - mailwright.smtp.result
options:
  app_home:
    description:
      - The application's install directory, the one with C(bin/), C(lib/) and the webapp
        (for example C(/opt/atlassian/jira)), or C(CATALINA_HOME) of a Tomcat.
    type: path
    required: true
  settings:
    description:
      - The mail settings document (see the mailwright.smtp.settings doc fragment and
        M(mailwright.smtp.settings_validate)). Gives the product and, from C(server.jndi.session_type), the
        JNDI session type; its rendered JavaMail properties are compared with the JVM options.
      - Secrets in it are registered with no_log, as in every module.
      - Either this or O(product); both may be given when they agree (for example with module_defaults).
    type: dict
  product:
    description:
      - The product, when there are no O(settings). Without either, it is found from the webapp directory
        in O(app_home), else V(generic).
      - V(ghes) is refused (GitHub Enterprise Server has no JVM to check); it is a choice so that the settings'
        products and this option have one list.
    type: str
    choices: [jira, confluence, bitbucket, ghes, generic]
  session_type:
    description:
      - The type of the JNDI mail Resource, when there are no O(settings) that say it. Given, a jar of the other
        API in C(lib/) is a V(wrong_api) conflict, and a jar only in C(WEB-INF/lib) is moved into C(lib/).
      - Not given and no settings, the install is treated as using the product's own mail server form.
    type: str
    choices: [javax.mail.Session, jakarta.mail.Session]
  state:
    description:
      - V(check) reports and changes nothing. V(present) also moves the jars into place.
    type: str
    choices: [check, present]
    default: check
  fail_on:
    description:
      - The findings that fail the task; every other finding is a warning.
      - V(conflicts) stands for V(duplicate), V(missing) and V(wrong_api). V(overrides) is any entry of
        RV(system_property_overrides).
      - With O(state=present), a conflict the moves fix does not fail the task; with O(state=check) every
        conflict found counts.
      - An empty list only warns.
    type: list
    elements: str
    choices: [conflicts, duplicate, missing, wrong_api, overrides]
    default: [missing, wrong_api]
  backup_dir:
    description:
      - Where moved-out copies go, under C(lib/) and C(WEB-INF-lib/) subdirectories so two copies of one name
        never clash. Relative to O(app_home), or absolute.
      - Must not be inside C(lib/) or the webapp (the jar would still be loaded, or served). Must be on the same
        file system as the jars (a jar is moved, never copied), and not writable by every user.
      - Created with mode 0750 when needed.
    type: path
    default: mailwright-jar-backup
  webapp:
    description:
      - The webapp directory, relative to O(app_home) or absolute, when it is not the product's
        (for example C(webapps/ROOT) for a generic Tomcat application).
    type: path
  jvm_options_files:
    description:
      - The shell files with the JVM options, relative to O(app_home) or absolute. Missing files are skipped.
      - Default C(bin/setenv.sh); for Bitbucket also C(bin/_start-webapp.sh).
    type: list
    elements: path
attributes:
  check_mode:
    support: full
    details: With O(state=present), reports the moves it would make in RV(moves) and C(changed); nothing is moved or created.
  diff_mode:
    support: full
    details: The jar paths (relative to O(app_home)) before and after the moves.
notes:
  - A symlinked jar or directory that leads outside O(app_home) (a jar another package provides, a C(lib/) that is
    a link elsewhere) is reported but never moved; a move it would need fails the task naming the path. So does a
    move into or out of a directory every user may write, and onto a name that exists.
  - The application reads its class path at start-up; RV(manual_steps) says to restart it after a move.
seealso:
  - module: mailwright.smtp.tomcat_mail_resource
  - module: mailwright.smtp.truststore_cert
  - module: mailwright.smtp.test_send
"""

EXAMPLES = r"""
- name: Report the mail jars and JVM options of Jira
  mailwright.smtp.javamail_runtime:
    app_home: /opt/atlassian/jira
    settings: "{{ mail_settings }}"
  register: runtime

- name: Move duplicate mail jars out of the webapp, fail on anything left or on a -Dmail.smtp.host
  mailwright.smtp.javamail_runtime:
    app_home: /opt/atlassian/jira
    product: jira
    session_type: javax.mail.Session
    state: present
    fail_on: [conflicts, overrides]
    backup_dir: /opt/atlassian/jira-jar-backup

- name: A Tomcat 10 application with a Jakarta Mail JNDI session, warnings only
  mailwright.smtp.javamail_runtime:
    app_home: /opt/tomcat
    product: generic
    session_type: jakarta.mail.Session
    webapp: webapps/ROOT
    fail_on: []
"""

RETURN = r"""
jars:
  description: Every mail and activation jar found, C(lib/) first.
  returned: always
  type: list
  elements: dict
  sample:
    - {path: /opt/atlassian/jira/lib/javax.mail-1.6.2.jar, name: javax.mail-1.6.2.jar, api: javax, kind: mail,
       version: 1.6.2, location: lib, evidence: classes, parts: [api, provider], class_path: []}
  contains:
    path:
      description: "The jar."
      type: str
    name:
      description: "Its file name."
      type: str
    api:
      description: "V(javax) or V(jakarta), from the package of its classes."
      type: str
    kind:
      description: "V(mail) or V(activation)."
      type: str
    version:
      description: "From the manifest, else the file name; null when neither says."
      type: str
    location:
      description: "V(lib) (Tomcat's lib/) or V(webapp) (WEB-INF/lib)."
      type: str
    evidence:
      description: "What decided the API - V(classes), V(manifest) or V(name) (an unreadable jar)."
      type: str
    parts:
      description: "What it holds - V(api), V(provider) (the SMTP implementation) or both."
      type: list
      elements: str
    class_path:
      description:
        - "The jars its manifest's C(Class-Path) names, which the JVM loads with it (Debian's C(javax.mail.jar)
          names C(/usr/share/java/javax.activation.jar)); an activation jar reached this way counts as present."
      type: list
      elements: str
conflicts:
  description: What is wrong with where the jars are, and what to do.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: duplicate
      paths: [/opt/atlassian/jira/lib/javax.mail-1.6.2.jar, /opt/atlassian/jira/atlassian-jira/WEB-INF/lib/javax.mail-1.6.2.jar]
      message: javax.mail is both in lib/ and in atlassian-jira/WEB-INF/lib/ ...
      fixed: true
  contains:
    kind:
      description: "V(duplicate), V(missing) or V(wrong_api)."
      type: str
    paths:
      description: "The jars (or directories) involved."
      type: list
      elements: str
    message:
      description: "What is wrong, the error users see, and what to do."
      type: str
    fixed:
      description: "With O(state=present), whether the moves fix it."
      type: bool
system_property_overrides:
  description: The C(-Dmail.*) JVM options that take the place of what the settings (or the product's form) say.
  returned: always
  type: list
  elements: dict
  sample:
    - {property: mail.smtp.host, value: old-relay.example.com, source: /opt/atlassian/jira/bin/setenv.sh:12,
       sources: [/opt/atlassian/jira/bin/setenv.sh:12], variable: JVM_SUPPORT_RECOMMENDED_ARGS,
       rendered: smtp.example.com, same: false, weakens_tls: false,
       message: "-Dmail.smtp.host=old-relay.example.com (/opt/atlassian/jira/bin/setenv.sh:12) overrides ..."}
  contains:
    property:
      description: "The system property."
      type: str
    value:
      description: "Its value (C(********) for a secret)."
      type: str
    source:
      description: "File and line of the occurrence the JVM keeps (the last)."
      type: str
    sources:
      description: "Every occurrence."
      type: list
      elements: str
    variable:
      description: "The shell variable that carries it."
      type: str
    rendered:
      description: "What the settings render for it; null without settings or when they render nothing."
      type: str
    same:
      description: "Whether it equals what the settings render."
      type: bool
    weakens_tls:
      description: "Whether it weakens TLS (ssl.trust, socket factories, old protocols, no host-name check)."
      type: bool
    message:
      description: "What it does and what to do."
      type: str
moves:
  description: The moves made (in check mode, that would be made); empty with O(state=check).
  returned: always
  type: list
  elements: dict
  sample:
    - {from: /opt/atlassian/jira/atlassian-jira/WEB-INF/lib/javax.mail-1.6.2.jar,
       to: /opt/atlassian/jira/mailwright-jar-backup/WEB-INF-lib/javax.mail-1.6.2.jar, reason: duplicate}
planned_moves:
  description: The moves O(state=present) makes; with O(state=check), what it would do.
  returned: always
  type: list
  elements: dict
product:
  description: The product the install was read as.
  returned: success
  type: str
  sample: jira
session_type:
  description: The JNDI session type checked against, null for the product's own form.
  returned: success
  type: str
  sample: javax.mail.Session
lib_dir:
  description: Tomcat's lib/.
  returned: success
  type: str
webapp_lib_dir:
  description: The webapp's WEB-INF/lib; null when the product has none here.
  returned: success
  type: str
backup_dir:
  description: Where moved-out copies go.
  returned: success
  type: str
tomcat_version:
  description: The version of lib/catalina.jar; null when there is none.
  returned: success
  type: str
  sample: 9.0.98
jre_version:
  description: JAVA_VERSION of <app_home>/jre/release; null without a shipped JRE.
  returned: success
  type: str
  sample: 17.0.13
jvm_options_files:
  description: The JVM options files that were read.
  returned: success
  type: list
  elements: str
changed:
  description: Whether jars were moved (or would be, in check mode).
  returned: always
  type: bool
diff:
  description: The jar paths before and after, with C(--diff).
  returned: when running with C(--diff)
  type: dict
manual_steps:
  description: What a person still has to do (restart after a move).
  returned: success
  type: list
  elements: str
msg:
  description: Why the task failed - what, where, and what would be right.
  returned: failure
  type: str
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
    - V(conflict) for a finding in O(fail_on), V(file) for an unsafe move, V(invalid) for options that disagree.
  returned: failure
  type: str
  sample: conflict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    load_module_settings,
    new_module,
    run_backend,
    settings_argument_spec,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.backend import (
    DEFAULT_BACKUP_DIR,
    DEFAULT_FAIL_ON,
    FAIL_ON,
    javamail_runtime,
)


def main() -> None:
    argument_spec = settings_argument_spec()
    argument_spec['settings']['required'] = False
    argument_spec.update(
        app_home=dict(type='path', required=True),
        product=dict(type='str', choices=['jira', 'confluence', 'bitbucket', 'ghes', 'generic']),
        session_type=dict(type='str', choices=['javax.mail.Session', 'jakarta.mail.Session']),
        state=dict(type='str', choices=['check', 'present'], default='check'),
        fail_on=dict(type='list', elements='str', choices=list(FAIL_ON), default=list(DEFAULT_FAIL_ON)),
        backup_dir=dict(type='path', default=DEFAULT_BACKUP_DIR),
        webapp=dict(type='path'),
        jvm_options_files=dict(type='list', elements='path'),
    )
    module: AnsibleModule = new_module(argument_spec=argument_spec, supports_check_mode=True)
    effective = load_module_settings(module) if module.params['settings'] is not None else None
    secrets: list[str] = []
    run_backend(module, javamail_runtime, module.params, effective, check_mode=module.check_mode, diff=module._diff,
                secrets=secrets, register_after=secrets)


if __name__ == '__main__':
    main()
