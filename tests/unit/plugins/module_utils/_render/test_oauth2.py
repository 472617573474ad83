"""_render.oauth2: what each product needs entered for its own OAuth 2.0 login, from the settings."""
from __future__ import annotations

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render.oauth2 import product_steps, refusal
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective

SECRET = 'Canary-Client-5ecret'


def effective(product: str, provider: str = 'microsoft') -> dict:
    oauth2 = {'provider': provider, 'client_id': 'app-1234', 'grant_type': 'refresh_token', 'refresh_token': 'r',
              'client_secret': SECRET}
    if provider == 'microsoft':
        oauth2['tenant'] = 'contoso.onmicrosoft.com'
    return load_effective({'product': product, 'provider': 'microsoft365' if provider == 'microsoft' else 'gmail',
                           'auth': {'method': 'oauth2', 'username': 'mail@contoso.example', 'oauth2': oauth2},
                           'sender': {'from_address': 'mail@contoso.example'}})


@pytest.mark.parametrize('product, where', [
    ('jira', 'Administration > Applications > Application links'),
    ('confluence', 'Administration > General Configuration > Application links'),
    ('bitbucket', 'Bitbucket 10 or later, Administration > Mail server'),
])
def test_each_product_gets_its_pages_client_id_scopes_redirect_and_account(product, where):
    text = ' '.join(product_steps(effective(product)))
    assert where in text and 'app-1234' in text and 'Redirect URL' in text and 'mail@contoso.example' in text
    assert 'https://outlook.office.com/SMTP.Send offline_access' in text
    assert SECRET not in text


def test_google_scope_and_the_javamail_statement():
    text = ' '.join(product_steps(effective('confluence', 'google')))
    assert 'provider Google' in text and 'https://mail.google.com/' in text
    generic = refusal(effective('generic', 'google'), 'a properties file')
    assert 'cannot hold an OAuth 2.0 token' in generic and 'https://oauth2.googleapis.com/token' in generic
    assert 'XOAUTH2' in generic and SECRET not in generic
