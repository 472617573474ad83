# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of the product-API modules (plugins/module_utils/_net/http.py
    # connection_argument_spec, with its constraints in _render/api.py api_argument_spec). A module
    # keeps only what is specific to its product (what the URL looks like, which account to use).
    DOCUMENTATION = r"""
options:
  url:
    description: Base URL of the product's administration API.
    type: str
  url_username:
    description: User for HTTP basic authentication.
    type: str
  url_password:
    description: Password for O(url_username).
    type: str
  validate_certs:
    description: Verify the server's TLS certificate. Turn off only for a test instance; prefer O(ca_path).
    type: bool
    default: true
  ca_path:
    description: PEM file with the CA certificate(s) that signed the server's certificate.
    type: path
  timeout:
    description:
      - Seconds to wait for each request (connect and each read). A server that accepts the
        connection but never answers fails the task after this long.
    type: float
    default: 30
notes:
  - "A failed request fails the task with RV(kind) (V(server) for an HTTP error status, V(network) for
    DNS, refused connections and timeouts, V(tls) for certificate verification) and C(http)
    (C(status), C(method), C(url), C(kind) as above, and C(cause), the reason as the HTTP client saw it:
    V(http), V(timeout), V(refused), V(dns), V(tls), V(network) or V(protocol)). Every form of a credential sent
    (raw, Base64 in the C(Authorization) header, JSON-escaped) is masked in the result."
"""

    # For APIs that also take a bearer token; a token excludes url_username/url_password.
    TOKEN = r"""
options:
  token:
    description:
      - An access token sent as an C(Authorization) header with the C(Bearer) scheme.
      - Mutually exclusive with O(url_username) and O(url_password); one of O(token) and O(url_username) is required.
    type: str
"""
