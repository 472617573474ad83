# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""What a person enters in each product to send mail with OAuth 2.0: the one wording of it.

No configuration file or admin API that mailwright writes can hold an OAuth 2.0 login: access
tokens live about an hour, and the products obtain theirs themselves, after an administrator
authorizes the product in a browser (Jira 9.2+ and Confluence through an outgoing application
link, Bitbucket 10 in its mail server page). So the render modules refuse auth.method oauth2 and
say, from the settings, exactly what to enter: provider, client ID, scopes, the redirect URL to
register and the account to sign in as. mailwright's own test send and credential check use
auth.oauth2.grant_type; the product's delegated login is a separate authorization of the same
mailbox.
"""

from __future__ import annotations

import typing as t

__all__ = ['DELEGATED_SCOPES', 'product_steps', 'refusal']

# The scopes a product's own (delegated, browser-authorized) login needs, by provider.
DELEGATED_SCOPES = {
    'microsoft': 'https://outlook.office.com/SMTP.Send offline_access',
    'google': 'https://mail.google.com/',
}
_PROVIDER_NAMES = {'microsoft': 'Microsoft', 'google': 'Google', 'custom': 'Custom'}
_LINKS = {
    'jira': 'Administration > Applications > Application links > Create link > External application, '
            'direction Outgoing',
    'confluence': 'Administration > General Configuration > Application links > Create link > External application, '
                  'direction Outgoing',
}
_MAIL_PAGES = {
    'jira': 'Administration > System > Outgoing Mail > the SMTP mail server',
    'confluence': 'Administration > General Configuration > Mail Servers > the SMTP mail server',
}


def _scopes(oauth: t.Mapping[str, t.Any]) -> str:
    provider = oauth.get('provider') or 'custom'
    if provider in DELEGATED_SCOPES:
        return DELEGATED_SCOPES[provider]
    return ' '.join(oauth.get('scopes') or []) or '(the scopes your provider needs for SMTP)'


def product_steps(effective: t.Mapping[str, t.Any]) -> list[str]:
    """The manual steps that set up the product's own OAuth 2.0 login to the relay."""
    auth = effective['auth']
    oauth = auth.get('oauth2') or {}
    product = effective['product']
    provider = oauth.get('provider') or 'custom'
    client = oauth.get('client_id') or '(the application (client) ID of your app registration)'
    user = auth.get('username') or '(the sending mailbox)'
    server = effective['server']
    relay = f"{server['host']}:{server['port']} ({'SMTPS' if server['protocol'] == 'smtps' else 'SMTP with TLS'})"
    register = ('register the Redirect URL the product shows (built from its base URL, which must be https) as a '
                'web redirect URI of the app registration')
    if product in _LINKS:
        return [
            f'{_LINKS[product]}: provider {_PROVIDER_NAMES[provider]}; {register}; client ID {client}; the client '
            f'secret from your vault; scopes {_scopes(oauth)}',
            f'{_MAIL_PAGES[product]}: relay {relay}, authentication OAuth 2.0 with the link just created, then '
            f'Authorize and sign in as {user}'
            + (' (Jira 9.2 or later)' if product == 'jira' else ''),
        ]
    if product == 'bitbucket':
        return [
            f'Bitbucket 10 or later, Administration > Mail server: relay {relay}, authentication OAuth 2.0 with '
            f'provider {_PROVIDER_NAMES[provider]}; {register}; client ID {client}; scopes {_scopes(oauth)}; then '
            f'authorize and sign in as {user}',
        ]
    return [
        'A properties file or JNDI Resource cannot hold an OAuth 2.0 token (it lives about an hour): the '
        f'application must obtain one itself from {oauth.get("token_url") or "the provider token endpoint"} '
        f'(client ID {client}, scopes {" ".join(oauth.get("scopes") or []) or _scopes(oauth)}) and pass it as '
        'the password of Transport.connect with mail.smtp.auth.mechanisms=XOAUTH2',
    ]


def refusal(effective: t.Mapping[str, t.Any], what: str) -> str:
    """The message of a render module that cannot express auth.method oauth2 in `what`."""
    return (f'auth.method oauth2: {what} cannot hold an OAuth 2.0 login (a token lives about an hour and the '
            'product obtains its own after a browser authorization). Set it up in the product instead: '
            + '. Then: '.join(product_steps(effective)))
