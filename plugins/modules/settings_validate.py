#!/usr/bin/python
# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: settings_validate
short_description: Validate outgoing mail settings and return the effective settings
version_added: 0.1.0
description:
  - Checks one application instance's mail settings against the published JSON Schema
    (C(schemas/mail-settings.schema.json)) and against the rules a schema cannot express
    (STARTTLS on port 465, OAuth 2.0 over plain SMTP, variables in the from address, GHES without
    a no-reply address, line breaks in header fields, ...).
  - Returns the I(effective) settings every other module of this collection works from, with
    defaults filled, provider preset applied and port derived from protocol and preset.
  - Every error and warning names the field by its JSON path (for example C($.server.port)),
    says what is wrong and what would be right.
  - Validates many files in one call for CI (O(paths) takes globs); the schema is compiled once
    and YAML is parsed with libyaml's C loader where present.
  - "OAuth 2.0 (C(auth.method: oauth2)): impossible combinations are errors naming the field - client
    credentials with Google, a refresh grant without C(auth.oauth2.refresh_token), a grant without
    C(client_id), client credentials without C(client_secret), provider microsoft without C(tenant) (or
    C(token_url)), a C(token_url) that is not https, Microsoft client credentials with scopes other than a
    C(/.default) one, OAuth 2.0 without a secure connection. The effective settings carry the derived
    C(token_url) and the default scopes of the provider and grant."
  - "Basic authentication to Exchange Online (C(provider: microsoft365), or a C(*.office365.com) host) is
    warned about: Microsoft turns basic SMTP AUTH off by default for existing tenants at the end of
    December 2026; the warning says how to move to C(auth.method: oauth2) with C(grant_type:
    client_credentials), the scope C(https://outlook.office365.com/.default) and the Exchange application
    permission C(SMTP.SendAsApp)."
  - Fails when any document has errors. Secrets (C(auth.password), C(auth.oauth2.token),
    C(auth.oauth2.client_secret), C(auth.oauth2.refresh_token)) are
    never echoed; the returned effective settings carry C(********) in their place. So are values under
    any key whose name looks like a secret (C(password), C(passwd), C(pwd), C(secret), C(token),
    C(credential), C(private_key), C(api_key), ...), known to the schema or not, such as a typo C(passwrd).
  - JavaMail properties in C(server.properties) that a settings field derives (C(mail.smtp.ssl.enable),
    C(mail.smtp.starttls.*), C(mail.smtp.ssl.checkserveridentity), the timeouts, C(mail.debug), and every
    C(mail.smtps.*) twin) are errors. Properties that weaken TLS (C(mail.smtp.ssl.trust),
    C(mail.smtp.ssl.socketFactory*), C(mail.smtp.socketFactory*), C(mail.smtp.ssl.protocols) allowing
    SSLv3, TLSv1 or TLSv1.1, and their C(mail.smtps.*) twins) are errors unless
    C(server.allow_insecure_properties=true); then they are accepted and every module that loads the
    settings warns on every run.
author:
  - mailwright maintainers (@mailwright)
extends_documentation_fragment:
  - mailwright.smtp.attributes
  - mailwright.smtp.result
attributes:
  check_mode:
    support: full
    details: Validation reads only; it runs the same in check mode.
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to diff.
options:
  settings:
    description:
      - One settings document as a mapping (usually a variable from group_vars, with the password
        from Ansible Vault).
      - Exactly one of O(settings), O(path) and O(paths) is required.
    type: dict
  path:
    description:
      - A YAML or JSON file holding one settings document, on the host the module runs on.
      - "Input limits, for O(path) and every file of O(paths): regular files only (a symlink to one is
        fine; a directory, FIFO, device or socket is an error naming the option and the file), at most
        1 MiB per file (never read further), YAML aliases may add at most 10,000 nodes by expansion,
        and a document may nest at most 16 levels. A NUL byte in a path is an error."
    type: path
  paths:
    description:
      - Files and glob patterns (C(**) recurses) of settings documents, for validating a whole
        repository in one call. Patterns that match nothing are errors.
      - Directories matched by a glob are skipped; a path given without a glob must be a regular file.
        The same per-file limits as O(path) hold.
      - The patterns may match at most 10,000 files and may take at most 30 seconds to walk; beyond
        either the task fails, asking to narrow the patterns.
    type: list
    elements: str
  return_effective:
    description:
      - With O(paths), also return the (redacted) effective settings of every file. Off by default
        because thousands of files make a large result. With O(settings) and O(path) the effective
        settings are always returned.
    type: bool
    default: false
  fail_on_warnings:
    description:
      - Treat warnings as errors (for strict CI pipelines).
    type: bool
    default: false
  libraries:
    description:
      - Python libraries the later steps need on this host, as import name mapped to the pip
        requirement that provides it (for example C(dns) to C(dnspython>=2.4,<3)). Checked first, with
        the interpreter that runs the modules, by looking them up without importing them.
      - Missing ones are listed in RV(missing_libraries) and fail the task, naming the pip command,
        unless O(on_missing_libraries=report).
      - This makes one task the host's check before anything changes, as the C(mailwright.smtp.mail)
        role uses it.
    type: dict
  on_missing_libraries:
    description:
      - V(fail) fails the task when a library of O(libraries) is missing, before validating.
      - V(report) only lists them in RV(missing_libraries) and validates, so that a following task can
        install them (the role does this with C(mail_install_python_deps=true)).
    type: str
    choices: [fail, report]
    default: fail
requirements:
  - jsonschema >= 4.18 on the managed host; with O(settings) or O(path) only to explain a document the standard-library check refuses
  - PyYAML >= 6 on the managed host with O(path) or O(paths) (the C loader is used when libyaml is present)
seealso:
  - name: The published settings schema
    description: schemas/mail-settings.schema.json in the collection; works with any JSON Schema 2020-12 validator.
    link: https://json-schema.org/draft/2020-12/schema
notes:
  - The secrets in a document are registered with Ansible's no_log handling, so they are masked in
    every result, warning and log line. Other modules need the real secret, so give them the original
    document, not the redacted RV(effective).
  - A failure carries C(kind) like every module's (C(invalid) settings, C(file) for O(path)/O(paths)
    problems, C(missing) libraries); RV(errors) (or RV(results) with O(paths), RV(missing_libraries)
    with O(libraries)) say what exactly is wrong.
"""

EXAMPLES = r"""
- name: Validate the mail settings of this host
  mailwright.smtp.settings_validate:
    settings: "{{ mail_settings }}"
  register: mail

- name: Show the relay the application will use
  ansible.builtin.debug:
    msg: "{{ mail.effective.server.host }}:{{ mail.effective.server.port }} ({{ mail.effective.server.protocol }}, TLS {{ mail.effective.server.tls }})"

- name: Validate every settings file in the repository (CI)
  mailwright.smtp.settings_validate:
    paths:
      - "{{ playbook_dir }}/settings/**/*.yml"
  delegate_to: localhost
  run_once: true

- name: Validate, and check that this host has the libraries the later steps need
  mailwright.smtp.settings_validate:
    settings: "{{ mail_settings }}"
    libraries:
      dns: dnspython>=2.4,<3
      cryptography: cryptography>=41,<51

- name: Strict mode, warnings fail too
  mailwright.smtp.settings_validate:
    path: /etc/mailwright/jira.yml
    fail_on_warnings: true
"""

RETURN = r"""
kind:
  description:
    - What kind of failure, for code to branch on (never guessed from C(msg)); see the mailwright.smtp.result notes.
  returned: failure
  type: str
  sample: invalid
effective:
  description:
    - The effective settings of one document, with every field present, defaults filled, preset applied,
      port derived. Secrets are replaced by C(********).
  returned: success with O(settings) or O(path)
  type: dict
  sample:
    product: jira
    server: {host: smtp.example.com, port: 587, protocol: smtp, tls: required, timeout_ms: 10000,
             helo_domain: null, jndi: {name: mail/JiraMailServer, session_type: javax.mail.Session, debug: false},
             properties: {}, allow_insecure_properties: false}
    auth: {method: basic, username: jira-notify, password: "********", mechanism: null, oauth2: null}
    sender: {from_address: jira@example.com, from_name: null, subject_prefix: "[JIRA]",
             noreply_address: null, discard_to_noreply: false, support: null}
errors:
  description: Problems that make the document unusable, each with C(path), C(message) and C(hint).
  returned: always with O(settings) or O(path)
  type: list
  elements: dict
  sample:
    - path: $.server.port
      message: "STARTTLS on port 465 is a contradiction: 465 expects TLS from the first byte"
      hint: use protocol smtps on 465, or port 587 for STARTTLS
warning_details:
  description:
    - Findings that do not stop the settings from working but deserve a look, in the same form as
      RV(errors). Each is also shown as an Ansible warning.
  returned: always with O(settings) or O(path)
  type: list
  elements: dict
  sample:
    - path: $.server.tls
      message: with basic authentication and tls 'none' on port 25 the password is sent in clear
      hint: "set tls: required (or protocol smtps)"
results:
  description: One entry per file with O(paths) (C(file), C(valid), C(errors), C(warnings), and C(effective) when asked).
  returned: with O(paths)
  type: list
  elements: dict
  sample:
    - file: settings/jira.yml
      valid: false
      errors:
        - path: $.sender.from_address
          message: must be a plain address without variables
          hint: put ${fullname} and friends into sender.from_name
      warnings: []
manual_steps:
  description:
    - With C(auth.method=oauth2), what a person enters in the product so that it obtains its own OAuth 2.0
      login (Jira, Confluence - an outgoing application link; Bitbucket 10 - its mail server page; a generic
      JavaMail application - its own token code). No file or admin API that mailwright writes can hold
      such a login, so the render modules refuse C(oauth2) and the mail role shows these steps instead.
    - Empty for other methods and for GHES.
  returned: success with O(settings) or O(path)
  type: list
  elements: str
  sample:
    - "Administration > Applications > Application links > Create link > External application, direction Outgoing: provider Microsoft; ..."
    - "Administration > System > Outgoing Mail > the SMTP mail server: relay smtp.office365.com:587 (SMTP with TLS), authentication OAuth 2.0 ..."
missing_libraries:
  description: The pip requirements of O(libraries) that are not installed for RV(python).
  returned: when O(libraries) is given
  type: list
  elements: str
  sample: ["dnspython>=2.4,<3"]
python:
  description: The interpreter the modules run with on this host (the one to install missing libraries for).
  returned: when O(libraries) is given
  type: str
  sample: /usr/bin/python3
summary:
  description: Counts of files checked, valid, invalid, and with warnings.
  returned: with O(paths)
  type: dict
  sample: {total: 3, valid: 2, invalid: 1, with_warnings: 1}
"""

import sys
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailwright.smtp.plugins.module_utils._core.deps import missing_libraries, require_lib
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import new_module, register_secrets


def _oauth2_steps(effective: t.Any) -> list[str]:
    """The product's own OAuth 2.0 setup, which no rendered file can hold (the wording is _render.oauth2's)."""
    if not effective or effective['auth']['method'] != 'oauth2' or effective['product'] == 'ghes':
        return []
    from ansible_collections.mailwright.smtp.plugins.module_utils._render.oauth2 import product_steps

    return product_steps(effective)


def _summarise(reports, limit: int = 5) -> str:
    lines = []
    for report in reports:
        for error in report.errors:
            lines.append(f'{report.file}: {error}' if report.file else str(error))
    more = f' (and {len(lines) - limit} more)' if len(lines) > limit else ''
    return '; '.join(lines[:limit]) + more


def _install_hint(missing: list[str]) -> str:
    return (f"Python libraries missing on this host for {sys.executable}: {', '.join(missing)}. "
            f"Install them with: {sys.executable} -m pip install {' '.join(repr(item) for item in missing)}")


def main() -> None:
    module: AnsibleModule = new_module(
        argument_spec={
            'settings': {'type': 'dict'},
            'path': {'type': 'path'},
            'paths': {'type': 'list', 'elements': 'str'},
            'return_effective': {'type': 'bool', 'default': False},
            'fail_on_warnings': {'type': 'bool', 'default': False},
            'libraries': {'type': 'dict'},
            'on_missing_libraries': {'type': 'str', 'choices': ['fail', 'report'], 'default': 'fail'},
        },
        mutually_exclusive=[('settings', 'path', 'paths')],
        required_one_of=[('settings', 'path', 'paths')],
        supports_check_mode=True,
    )
    from ansible_collections.mailwright.smtp.plugins.module_utils._settings import validate as _validate

    if module.params['settings'] is not None:
        # Before anything can fail: Ansible's failure result echoes the module arguments.
        register_secrets(module, _validate.secret_values(module.params['settings']))
    host: dict[str, t.Any] = {}
    if module.params['libraries']:
        host = {'missing_libraries': missing_libraries(module.params['libraries']), 'python': sys.executable}
        if host['missing_libraries'] and module.params['on_missing_libraries'] == 'fail':
            module.fail_json(msg=_install_hint(host['missing_libraries']), kind='missing', **host)

    strict = module.params['fail_on_warnings']
    if module.params['paths'] is not None:
        require_lib(module, 'jsonschema')
        require_lib(module, 'yaml')
        try:
            files, unmatched = _validate.expand_paths(module.params['paths'])
        except _validate.PathsError as exc:
            module.fail_json(msg=str(exc), kind='file', **host)
        # Secrets are not registered with no_log here: the results carry none by construction
        # (findings never echo a secret field, effective settings come redacted), and Ansible's
        # scrubbing costs (strings x secrets), which is quadratic over thousands of files.
        reports = _validate.validate_files(files, with_secrets=False)
        with_effective = module.params['return_effective']
        results = [r.to_dict(with_effective=with_effective) for r in reports]
        invalid = [r for r in reports if r.errors or (strict and r.warnings)]
        summary = {
            'total': len(reports),
            'valid': len(reports) - sum(1 for r in reports if r.errors),
            'invalid': sum(1 for r in reports if r.errors),
            'with_warnings': sum(1 for r in reports if r.warnings),
        }
        if unmatched or invalid:
            problems = [f'no file matches {p}' for p in unmatched]
            if invalid:
                problems.append(f'{len(invalid)} of {len(reports)} settings files are invalid: ' + _summarise(invalid))
            module.fail_json(msg='; '.join(problems), kind='invalid', results=results, summary=summary, unmatched=unmatched, **host)
        module.exit_json(changed=False, results=results, summary=summary, **host)

    if module.params['path'] is not None:
        require_lib(module, 'yaml')
    try:
        # jsonschema is imported only when a document needs explaining (valid ones pass the fast
        # check in _settings); it may also be among the missing libraries, installed after this task.
        if module.params['path'] is not None:
            report = _validate.validate_files([module.params['path']], option='path')[0]
        else:
            report = _validate.validate_document(module.params['settings'])
    except ImportError:
        require_lib(module, 'jsonschema')
        raise
    register_secrets(module, report.secrets)
    for warning in report.warnings:
        module.warn(str(warning))
    result = report.to_dict(with_effective=True)
    # `warnings` is Ansible's own result key (strings it displays): the findings go there as
    # text through module.warn, and in full under warning_details.
    result['warning_details'] = result.pop('warnings')
    del result['file'], result['valid']
    result.update(host)
    # from the redacted settings: the steps name no secret by construction, and cannot by accident
    result['manual_steps'] = [] if report.errors else _oauth2_steps(result.get('effective'))
    if report.errors:
        module.fail_json(msg='invalid mail settings: ' + _summarise([report]), kind='invalid', **result)
    if strict and report.warnings:
        module.fail_json(kind='invalid', msg='mail settings have warnings (fail_on_warnings): '
                         + '; '.join(str(w) for w in report.warnings), **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
