# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The settings option every mailwright module takes.
    DOCUMENTATION = r"""
options:
  settings:
    description:
      - One application instance's mail settings, as described by the published JSON Schema
        C(schemas/mail-settings.schema.json) (product, server, auth, sender, provider, test, dns).
      - Either the original document or the C(effective) settings returned by
        M(mailwright.smtp.settings_validate); both are normalised by the same code, so defaults,
        presets and derived ports are the same in every module.
      - Secrets inside it (C(auth.password), C(auth.oauth2.token), C(auth.oauth2.client_secret),
        C(auth.oauth2.refresh_token)) are registered with Ansible's
        no_log handling and never shown. Pass the original document with the vaulted secret, not
        the redacted copy that settings_validate returns.
      - So are the values under any key whose name looks like a secret (C(password), C(passwd),
        C(pwd), C(secret), C(token), C(credential), C(private_key), C(api_key), ...), at any depth and
        whether the schema knows the key or not (a typo such as C(passwrd) is an error, never echoed).
        They are registered first, before anything can fail.
      - A document nested deeper than 16 levels is an error naming the depth and the JSON path.
      - "One timeout rule for every network step mailwright takes itself (probe, test send,
        certificate fetch), unless the module's own C(timeout) option is given: C(server.timeout_ms)
        / 1000 seconds; when C(timeout_ms) is 0 or less (the products then wait forever) 60 seconds,
        because a check that can hang is no check."
      - TLS-weakening C(server.properties) accepted through C(server.allow_insecure_properties=true)
        are reported as a warning on every run (see M(mailwright.smtp.settings_validate)).
    type: dict
    required: true
requirements:
  - jsonschema >= 4.18 (on the managed host)
"""
