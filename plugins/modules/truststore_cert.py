#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: truststore_cert
short_description: Trust the mail relay's certificate in a Java truststore (JKS or PKCS12)
version_added: 0.1.0
description:
  - Fetches the certificate chain the SMTP relay presents, over STARTTLS (protocol C(smtp)) or
    implicit TLS (protocol C(smtps)), or reads it from a PEM file or PEM text, and imports the
    chosen certificate into a Java keystore with the JDK's C(keytool), so that Jira, Confluence,
    Bitbucket or any JavaMail application trusts a relay with a self-signed or private-CA certificate.
  - Idempotent by SHA-256 fingerprint. The same certificate already under the alias leaves the
    store untouched; O(state=absent) removes the alias. Entries under other aliases are never touched.
  - "Rotation policy: a different certificate for an alias that already holds one (the relay's
    certificate was renewed, or a man in the middle answers) replaces it only when one of these holds:
    O(fingerprint) is set and vouches for it (it is the pinned certificate, or with O(certificate=chain)
    is issued by it or issued it); or it verifies against a CA certificate the store already trusts under
    any alias (signatures, CA flag and validity dates are checked, through the intermediates the relay
    presents) - the JVM trusts such a certificate already, so replacing the entry grants no new trust;
    or O(allow_replace=true). Otherwise the task fails before anything is written (in check mode too),
    naming the alias and both certificates (SHA-256, subject, not-after) and the options that accept the
    change. A renewed self-signed leaf therefore always needs O(fingerprint) or O(allow_replace); trust
    the relay's CA (O(certificate=root), or the CA under its own alias) to let renewals through."
  - Every accepted replacement is reported in RV(rotated) and as a warning, in check mode as well.
  - Safe. keytool works on a private copy of the store in the store's own directory; the store
    is replaced by one atomic rename only after every keytool step succeeded. A wrong store
    password, a rejected certificate or a timeout leaves the store byte-identical and reports
    keytool's reason (with the password redacted).
  - The store password reaches keytool through an environment variable
    (C(-storepass:env)), never on the command line where other users could see it in the process list.
  - The certificate is fetched B(without) verification (that is how one learns what to trust).
    Use O(fingerprint) to pin what you expect, compared with the fingerprint your relay's
    administrator gives you; on a mismatch nothing is imported and the task fails.
  - "How the application uses the store: start the JVM with
    C(-Djavax.net.ssl.trustStore=<path> -Djavax.net.ssl.trustStorePassword=<password>
    -Djavax.net.ssl.trustStoreType=<JKS|PKCS12>). These system properties replace the JRE's own
    C(cacerts) for the whole JVM, so a store this module creates starts from a copy of it (O(seed=cacerts),
    the default) and public CAs (Marketplace, license checks, cloud services) keep working."
  - "Jira: add the properties to C(JVM_SUPPORT_RECOMMENDED_ARGS) in C(<jira-install>/bin/setenv.sh)
    (C(setenv.bat) on Windows; for a Windows service, in the service's Java options).
    O(jvm_options_file) does this for C(setenv.sh) in the same task."
  - "Confluence: add them to C(<confluence-install>/bin/setenv.sh), in C(JVM_SUPPORT_RECOMMENDED_ARGS)
    or as a C(CATALINA_OPTS=\"-D... ${CATALINA_OPTS}\") line, as that file's comments suggest for your version."
  - "Bitbucket: add them to C(JVM_SUPPORT_RECOMMENDED_ARGS) in C(<bitbucket-install>/bin/_start-webapp.sh)
    (the JRE that runs Bitbucket, and so the C(keytool) and C(cacerts) to use, is chosen by
    C(JAVA_HOME)/C(JRE_HOME), e.g. in C(bin/set-jre-home.sh)). Remote Mesh nodes read
    C(_start-mesh.sh) the same way."
  - Restart the application after changing the store or the JVM options; the JVM reads the
    truststore once, when the first TLS connection is made.
author:
  - mailwright maintainers (@mailwright)
attributes:
  check_mode:
    support: full
    details: Fetches and compares, reports what would change, writes nothing.
  diff_mode:
    support: full
    details:
      - "The diff is a summary of the store's entries (one C(alias: SHA256) line each), not keystore bytes."
      - With O(jvm_options_file), the diff is a list of two, the store's summary and the JVM options file's
        text before and after, with the store password replaced by C(********).
extends_documentation_fragment:
  - mailwright.smtp.files
  - mailwright.smtp.attributes
  - mailwright.smtp.result
  - ansible.builtin.files
options:
  settings:
    description:
      - The application's mail settings (raw or effective, see M(mailwright.smtp.settings_validate)).
        The certificate is fetched from C(server.host) and C(server.port), over implicit TLS when
        C(server.protocol) is C(smtps), otherwise with STARTTLS; C(server.helo_domain) is the EHLO name.
      - Required unless O(pem_path) or O(pem_content) is given.
    type: dict
  host:
    description:
      - Connect to this host instead of C(server.host) from O(settings) (for example a relay's
        internal name). Also the base of the default O(alias).
    type: str
  port:
    description:
      - Connect to this port instead of C(server.port) from O(settings).
    type: int
  timeout:
    description:
      - Seconds each network step (connect, banner, EHLO, STARTTLS, handshake) may take.
      - Defaults to C(settings.server.timeout_ms) (10 seconds without O(settings)); when that is 0 or
        less (the products then wait forever) 60 seconds.
    type: float
  pem_path:
    description:
      - Read the certificate(s) from this PEM file (a bundle, leaf first) or DER file on the managed
        host, instead of fetching them. Mutually exclusive with O(pem_content).
    type: path
  pem_content:
    description:
      - PEM text of the certificate(s), leaf first, instead of fetching them.
    type: str
  certificate:
    description:
      - Which certificate of the presented chain to trust.
      - V(leaf) is the server's own certificate (the usual choice for a self-signed relay).
      - V(root) is the top of the presented chain (trust a private CA once, and the relay's
        certificate can be renewed without another import; only the chain the server sends is
        seen, so a server that omits its root yields its top intermediate).
      - V(chain) imports every presented certificate, the leaf under O(alias) and the next ones
        under C(<alias>-1), C(<alias>-2), ...; numbered aliases left over from a longer chain are removed.
    type: str
    choices: [leaf, root, chain]
    default: leaf
  alias:
    description:
      - Alias of the entry. keytool stores aliases in lower case; so does this module.
      - Default C(mailwright-<host>), from O(host) or C(server.host).
    type: str
  fingerprint:
    description:
      - Expected SHA-256 fingerprint of the chosen certificate (with or without colons, any case).
        With O(certificate=chain), one certificate of the chain must match.
      - On a mismatch nothing is imported and the task fails, reporting both fingerprints.
      - With a pin, the pin decides whether a changed certificate replaces the stored one (see the rotation policy).
    type: str
  allow_replace:
    description:
      - Accept a changed certificate for an existing alias even when neither O(fingerprint) nor a CA the store
        already trusts vouches for it (see the rotation policy above). The replacement is still reported in
        RV(rotated) and warned.
      - Set it for one run after checking the new fingerprint out of band, not permanently. Left on, a man in
        the middle on any later run becomes trusted.
    type: bool
    default: false
  path:
    description:
      - The keystore file. Created when missing (its directory must exist).
      - A new store gets mode C(0644), like the JRE's C(cacerts), unless O(mode) is given.
      - A symlink is followed and its target updated (Debian links C(<jre>/lib/security/cacerts) to
        C(/etc/ssl/certs/java/cacerts)); the link itself stays.
    type: path
    required: true
  store_type:
    description:
      - Keystore format. V(auto) reads it from the file (JKS starts with C(0xFEEDFEED), PKCS12 is
        DER) and creates new stores as PKCS12 (the JDK's default since Java 9).
      - A type that contradicts an existing file is an error; this module does not convert stores.
    type: str
    choices: [auto, jks, pkcs12]
    default: auto
  store_password:
    description:
      - Password of the keystore (at least 6 characters for a new store, a keytool rule).
    type: str
    required: true
  keytool:
    description:
      - The keytool to run. Use the one of the JRE the application runs on (Atlassian installers
        bundle one, for example C(/opt/atlassian/jira/jre/bin/keytool)), so the store format and
        the C(cacerts) copied by O(seed) match that JRE.
    type: str
    default: keytool
  keytool_timeout:
    description:
      - Seconds each keytool run may take.
    type: float
    default: 120.0
  seed:
    description:
      - What a store that does not exist yet starts from, before the relay's certificate is added. An existing
        store is never re-seeded.
      - V(cacerts) (the default) copies every entry of the JRE's C(cacerts), re-keyed with O(store_password),
        so the public CAs keep working once the JVM is pointed at the new store
        (C(-Djavax.net.ssl.trustStore) replaces C(cacerts) for the whole JVM). It is the first file found of
        C(<app_home>/jre/lib/security/cacerts) (with O(app_home)), the C(cacerts) of O(keytool)'s JRE,
        C($JAVA_HOME/lib/security/cacerts), that of the C(java) on C(PATH), and Debian's
        C(/etc/ssl/certs/java/cacerts) (the C(jre/lib/security) layout of Java 8 is tried too); O(cacerts_path)
        names it instead.
      - V(none) creates a store holding only the relay's certificate(s). A JVM pointed at such a store trusts
        nothing else, so every other TLS connection of the application (Marketplace, licensing, integrations)
        fails. The task warns when a store it creates, or one O(jvm_options_file) points the JVM at, holds
        nothing but the certificates it manages (RV(other_trusted_entries) is 0).
      - Any other value is the path of a keystore (JKS or PKCS12, opened with O(seed_password)) to copy.
      - The diff shows the copied entries as one line (C(+145 entries from /etc/ssl/certs/java/cacerts)).
      - Default V(cacerts), or what the older O(create_from_cacerts) says when only it is set.
    type: str
  seed_password:
    description:
      - Password of the keystore O(seed) copies (C(changeit) for every JRE's C(cacerts)).
    type: str
    default: changeit
    aliases: [cacerts_password]
  app_home:
    description:
      - The application's install directory (Jira's C(/opt/atlassian/jira)); its bundled JRE's C(cacerts) is
        the first choice of O(seed=cacerts).
    type: path
  cacerts_path:
    description:
      - The C(cacerts) O(seed=cacerts) copies, instead of the one found.
    type: path
  create_from_cacerts:
    description:
      - The older spelling of O(seed) - V(true) is O(seed=cacerts), V(false) is O(seed=none).
        A value that contradicts O(seed) fails the task.
    type: bool
  state:
    description:
      - V(present) makes the alias hold the chosen certificate; V(absent) removes the alias
        (and, with O(certificate=chain), its numbered aliases). V(absent) needs no certificate source.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Keep a timestamped copy of the store before changing it.
    type: bool
    default: false
  expiry_warning_days:
    description:
      - Warn when a chosen certificate has fewer days left than this (and always when it has expired).
    type: int
    default: 30
  jvm_options_file:
    description:
      - A shell file sourced when the JVM starts (Tomcat's, Jira's or Confluence's C(bin/setenv.sh)) in
        which this module keeps one managed block that points the JVM at the store
        (C(-Djavax.net.ssl.trustStore), C(-Djavax.net.ssl.trustStorePassword) and
        C(-Djavax.net.ssl.trustStoreType) with the type of the store managed, C(JKS) or C(PKCS12)), added to
        O(jvm_options_variable). The store path in the block is O(path) as given.
      - The block sits between the lines '# BEGIN mailwright mail truststore (managed by Ansible)' and
        '# END mailwright mail truststore (managed by Ansible)'; it is the same block the mail role wrote
        with M(ansible.builtin.blockinfile), so a file edited by the role is not changed again. An existing
        block is replaced where it is (later copies are removed); every other line stays as it is. A marker
        line without its partner fails the task (repair the file by hand).
      - "Values are read twice before the JVM gets them: by the double-quoted assignment in the file, and again
        by Tomcat's C(catalina.sh), which starts the JVM through C(eval). In a file named C(setenv.sh) (the only
        file C(catalina.sh) sources) with O(jvm_options_variable) one of V(JAVA_OPTS), V(CATALINA_OPTS),
        V(JVM_SUPPORT_RECOMMENDED_ARGS) or V(JVM_REQUIRED_ARGS), a value with whitespace, quotes, C($), C(\\),
        a backtick or other shell metacharacters is single-quoted for the C(eval) and escaped for the assignment,
        so it reaches the JVM as one argument, exactly as written, and nothing in it runs. A plain value (letters,
        digits and C(. , _ - + = @ % / :)) is written as it is, byte for byte what the mail role wrote."
      - Any other file or variable (Bitbucket's C(_start-webapp.sh) expands C($JAVA_OPTS) unquoted, without
        C(eval)) takes plain values only; another value fails the task, naming the option, before anything is
        written. A line break or NUL is refused everywhere, as is a O(jvm_options_variable) that is not a shell
        variable name.
      - A missing file is created with mode C(0640) (it holds the store password); give O(group) (or
        O(owner)) so the application's user can read it, or the start script silently skips it. An existing
        file keeps its mode. O(owner) and O(group) apply to this file as to the store; O(mode) and the
        SELinux options apply to the store only. A symlink is followed and its target updated.
      - O(backup=true) also keeps a timestamped copy of this file before changing it.
      - Only with O(state=present). With O(state=absent) the file is left alone (the JVM may still need the
        store for other entries); remove the block yourself when the store goes.
      - Restart the application after a change; the file is read when the JVM starts.
    type: path
  jvm_options_variable:
    description:
      - The shell variable the block extends, C(VAR="${VAR} -D...").
      - V(JVM_SUPPORT_RECOMMENDED_ARGS) for Jira and Confluence, V(CATALINA_OPTS) for a plain Tomcat.
    type: str
    default: JVM_SUPPORT_RECOMMENDED_ARGS
  jvm_options_insert_after:
    description:
      - A Python regular expression. When O(jvm_options_file) holds no block yet, the block is inserted after
        the last line that matches (for example V(^JVM_SUPPORT_RECOMMENDED_ARGS=), so the block extends the
        value that line sets); without a match, unset or V(EOF), it is appended at the end of the file.
        The same rules as O(ansible.builtin.blockinfile#module:insertafter).
      - An existing block stays where it is.
    type: str
  allow_world_readable:
    description:
      - O(jvm_options_file) holds the store password. When it exists and is readable by every user, the
        task fails before anything (store or file) is written, naming the file. V(true) writes it anyway
        and warns on every run. A file the module creates gets V('0640'); readable by the group stays
        allowed (the application's group must read it).
    type: bool
    default: false
requirements:
  - cryptography >= 41 on the managed host, to read certificates (O(state=present))
  - the keytool of a JRE or JDK on the managed host (O(keytool))
  - jsonschema >= 4.18 on the managed host only to explain an O(settings) document that fails the standard-library check
notes:
  - Aliases are compared case-insensitively, fingerprints are SHA-256 over the certificate's DER.
  - An alias that holds a private key entry is never replaced or removed.
  - Tomcat's C(catalina.sh) (which Jira and Confluence use) starts the JVM through C(eval), which reads
    C(JAVA_OPTS) and C(CATALINA_OPTS) a second time; O(jvm_options_file) quotes for both reads (see there).
    A store password of letters, digits and C(. , _ - + = @ % / :) works in every start script.
  - This module has no CA bundle option of its own; the CAs that let a rotation through are the ones in the store.
seealso:
  - module: mailwright.smtp.settings_validate
"""

EXAMPLES = r"""
- name: Trust the relay's self-signed certificate in a new store that starts as a copy of the JRE's cacerts
  mailwright.smtp.truststore_cert:
    settings: "{{ mail_settings }}"
    path: /var/atlassian/application-data/jira/mail-truststore.p12
    store_password: "{{ vault_truststore_password }}"
    keytool: /opt/atlassian/jira/jre/bin/keytool
    fingerprint: "9C:0B:5E:...:41"
    owner: jira
    group: jira
    mode: "0640"
  register: trust

- name: Trust the relay and point Jira's JVM at the store in setenv.sh (restart Jira when changed)
  mailwright.smtp.truststore_cert:
    settings: "{{ mail_settings }}"
    path: /var/atlassian/application-data/jira/mail-truststore.p12
    store_password: "{{ vault_truststore_password }}"
    keytool: /opt/atlassian/jira/jre/bin/keytool
    app_home: /opt/atlassian/jira
    group: jira
    jvm_options_file: /opt/atlassian/jira/bin/setenv.sh
    jvm_options_variable: JVM_SUPPORT_RECOMMENDED_ARGS
    jvm_options_insert_after: '^JVM_SUPPORT_RECOMMENDED_ARGS='
    backup: true
  notify: Restart Jira

- name: Trust the private CA at the top of the relay's chain, in an existing JKS store
  mailwright.smtp.truststore_cert:
    settings: "{{ mail_settings }}"
    certificate: root
    alias: corp-mail-ca
    path: /opt/atlassian/bitbucket/truststore.jks
    store_type: jks
    store_password: "{{ vault_truststore_password }}"
    backup: true

- name: Import a certificate handed over as a file, into a store for the mail client only (no public CAs)
  mailwright.smtp.truststore_cert:
    pem_path: /etc/pki/mail/relay.pem
    alias: mail-relay
    seed: none
    path: /opt/app/truststore.p12
    store_password: "{{ vault_truststore_password }}"

- name: Remove the relay's certificate again
  mailwright.smtp.truststore_cert:
    settings: "{{ mail_settings }}"
    path: /opt/app/truststore.p12
    store_password: "{{ vault_truststore_password }}"
    state: absent
"""

RETURN = r"""
path:
  description: The keystore file (the target when O(path) is a symlink).
  returned: always
  type: str
  sample: /var/atlassian/application-data/jira/mail-truststore.p12
link:
  description: O(path) as given, when it is a symlink to RV(path).
  returned: when O(path) is a symlink
  type: str
  sample: /usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts
alias:
  description: The alias managed (lower case).
  returned: always
  type: str
  sample: mailwright-smtp.example.com
aliases:
  description: Every alias written, in chain order (more than one only with O(certificate=chain)).
  returned: when state is present
  type: list
  elements: str
  sample: [mailwright-smtp.example.com]
store_type:
  description: The keystore format used (detected, requested, or C(pkcs12) for a new store).
  returned: always
  type: str
  sample: pkcs12
source:
  description: Where the certificate came from.
  returned: when state is present
  type: dict
  sample: {host: smtp.example.com, port: 587, protocol: smtp, method: starttls}
certificate:
  description: The certificate imported under O(alias).
  returned: when state is present
  type: dict
  contains:
    subject:
      description: Subject distinguished name.
      type: str
      returned: always
    issuer:
      description: Issuer distinguished name.
      type: str
      returned: always
    sans:
      description: Subject alternative names.
      type: list
      elements: str
      returned: always
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      returned: always
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      returned: always
    days_left:
      description: Whole days until RV(certificate.not_after); negative when expired.
      type: int
      returned: always
    sha256:
      description: SHA-256 fingerprint over the DER, upper-case hex pairs joined by colons.
      type: str
      returned: always
    alias:
      description: The alias it is stored under.
      type: str
      returned: always
  sample:
    subject: CN=smtp.example.com
    issuer: CN=Example Mail CA
    sans: [smtp.example.com]
    not_before: "2026-01-01T00:00:00Z"
    not_after: "2027-01-01T00:00:00Z"
    days_left: 300
    sha256: "9C:0B:5E:...:41"
    alias: mailwright-smtp.example.com
certificates:
  description: Details of every certificate written (one per alias in RV(aliases)), same keys as RV(certificate).
  returned: when state is present
  type: list
  elements: dict
presented_chain:
  description: Details of every certificate in the source's chain, leaf first.
  returned: when state is present
  type: list
  elements: dict
rotated:
  description:
    - Each accepted replacement of a certificate under an existing alias (also warned), with the rule of the
      rotation policy that accepted it. Empty when nothing was replaced.
  returned: always
  type: list
  elements: dict
  sample: [{alias: mailwright-smtp.example.com, old_sha256: "AA:...", new_sha256: "9C:...",
            reason: "it verifies against the CA certificate the store trusts under alias corp-mail-ca"}]
actions:
  description: What changed (or would change in check mode), one item per alias.
  returned: always
  type: list
  elements: dict
  sample: [{action: replace, alias: mailwright-smtp.example.com, sha256_before: "AA:...", sha256_after: "9C:..."}]
entries_before:
  description: Number of entries in the store before the task.
  returned: always
  type: int
  sample: 144
entries_after:
  description: Number of entries after the task (predicted in check mode).
  returned: always
  type: int
  sample: 145
backup_file:
  description: The backup made with O(backup=true).
  returned: when a backup was made
  type: str
  sample: /opt/app/truststore.p12.12345.2026-11-23@08:30:00~
transcript:
  description: The SMTP conversation up to the failure (no secrets), when fetching the certificate failed.
  returned: on failure to fetch
  type: list
  elements: str
  sample: ["* connecting to smtp.example.com port 587 (smtp)", "S: 220 smtp.example.com ESMTP", "C: EHLO app01"]
smtp_error:
  description: The failed SMTP step (C(connect), C(banner), C(ehlo), C(starttls), C(tls), C(policy)), reply code and text.
  returned: on failure to fetch
  type: dict
  sample: {step: policy, code: null, text: server does not offer STARTTLS, transient: false}
jvm_options:
  description: The JVM options file of O(jvm_options_file).
  returned: when O(jvm_options_file) is set and O(state=present)
  type: dict
  contains:
    path:
      description: The file written (the target when O(jvm_options_file) is a symlink).
      type: str
      returned: always
    changed:
      description: Whether the file's block, owner or group changed (or would change, in check mode).
      type: bool
      returned: always
    backup_file:
      description: The copy made with O(backup=true) before the file was changed.
      type: str
      returned: when a backup was made
  sample: {path: /opt/atlassian/jira/bin/setenv.sh, changed: true}
cacerts:
  description: The keystore a new store was copied from (see O(seed)).
  returned: when the task created the store from O(seed)
  type: str
  sample: /etc/ssl/certs/java/cacerts
seeded:
  description: What a new store started from - C(source) is the keystore copied or C(none), C(entries) how many it held.
  returned: when the task created the store (or would, in check mode)
  type: dict
  sample: {source: /etc/ssl/certs/java/cacerts, entries: 145}
pending:
  description:
    - True in check mode when the store's planned change was not written, so the store on disk does not hold
      RV(aliases) yet (the mail role then does not verify the relay against it).
  returned: always
  type: bool
  sample: false
other_trusted_entries:
  description:
    - Trusted certificates in the store (after the task) besides the ones under RV(aliases). Zero means the JVM
      pointed at the store trusts only the relay; the task then warns.
  returned: when state is present
  type: int
  sample: 145
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
  returned: failure
  type: str
  sample: conflict
"""

import typing as t

# _core.module raises the recursion limit when imported, before AnsibleModule() deep-copies the
# arguments: a settings document nested 500 levels deep then fails cleanly, naming the depth.
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import (
    load_module_settings,
    new_module,
    register_secrets,
    run_backend,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._core.deps import require_lib
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.truststore import (
    CERTIFICATE_CHOICES,
    DEFAULT_JVM_OPTIONS_VARIABLE,
    ensure_truststore,
    jvm_options_secrets,
)

from ansible.module_utils.basic import AnsibleModule


def argument_spec() -> dict[str, t.Any]:
    """A fresh dict on every call (AnsibleModule may keep it)."""
    return {
        'settings': {'type': 'dict'},
        'host': {'type': 'str'},
        'port': {'type': 'int'},
        'timeout': {'type': 'float'},
        'pem_path': {'type': 'path'},
        'pem_content': {'type': 'str'},
        'certificate': {'type': 'str', 'default': 'leaf', 'choices': list(CERTIFICATE_CHOICES)},
        'alias': {'type': 'str'},
        'fingerprint': {'type': 'str'},
        'allow_replace': {'type': 'bool', 'default': False},
        'path': {'type': 'path', 'required': True},
        'store_type': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'jks', 'pkcs12']},
        'store_password': {'type': 'str', 'required': True, 'no_log': True},
        'keytool': {'type': 'str', 'default': 'keytool', 'no_log': False},
        'keytool_timeout': {'type': 'float', 'default': 120.0},
        'seed': {'type': 'str'},
        'seed_password': {'type': 'str', 'default': 'changeit', 'no_log': True, 'aliases': ['cacerts_password']},
        'app_home': {'type': 'path'},
        'cacerts_path': {'type': 'path'},
        'create_from_cacerts': {'type': 'bool'},
        'state': {'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        'backup': {'type': 'bool', 'default': False},
        'expiry_warning_days': {'type': 'int', 'default': 30},
        'jvm_options_file': {'type': 'path'},
        'jvm_options_variable': {'type': 'str', 'default': DEFAULT_JVM_OPTIONS_VARIABLE},
        'jvm_options_insert_after': {'type': 'str'},
        'allow_world_readable': {'type': 'bool', 'default': False},
    }


def main() -> None:
    module: AnsibleModule = new_module(
        argument_spec=argument_spec(),
        mutually_exclusive=[('pem_path', 'pem_content')],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    # Secrets first, before anything can fail: the settings', then the shell-quoted forms of the
    # store password that the JVM options file will hold.
    effective = load_module_settings(module) if params['settings'] is not None else None
    register_secrets(module, jvm_options_secrets(params))
    if params['state'] == 'present':
        require_lib(module, 'cryptography')
    run_backend(module, ensure_truststore, params, effective, host=module, check_mode=module.check_mode,
                diff=module._diff, secrets=sorted(module.no_log_values))


if __name__ == '__main__':
    main()
