# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The Java truststore a client verifies the relay with (smtp_probe, test_send), said once;
    # the argument spec beside it is _trust.keytool.truststore_argument_spec().
    DOCUMENTATION = r"""
options:
  truststore_path:
    description:
      - Verify the relay against the trusted certificates of this Java truststore (JKS or PKCS12), the one the
        application's JVM is started with (C(-Djavax.net.ssl.trustStore)) and M(mailwright.smtp.truststore_cert)
        manages, instead of the system CAs. A private-CA relay is then trusted in one place.
      - Read without a JVM. A PKCS12 store that also holds private keys cannot be read this way.
      - With O(ca_path) as well, both are trusted.
      - "Role variable: C(mail_truststore_path) (the mail role passes it after its trust step)."
    type: path
  truststore_password:
    description:
      - Password of O(truststore_path) (it checks the store's integrity; the certificates are not secret).
    type: str
  truststore_type:
    description:
      - Format of O(truststore_path); V(auto) reads it from the file.
    type: str
    choices: [auto, jks, pkcs12]
    default: auto
"""
