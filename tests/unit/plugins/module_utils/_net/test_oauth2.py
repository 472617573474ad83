"""_net.oauth2 without a network: SASL strings, secret spellings, challenge and error explanations.

Token acquisition against a real authorization server is tests/integration/test_oauth2.py.
"""
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._net.oauth2 import (
    OAuth2Error,
    _hint,
    explain_challenge,
    oauthbearer_string,
    obtain_token,
    sasl_secret_forms,
    secret_forms,
    xoauth2_string,
)

TOKEN = 'eyJ.Canary-Access-T0ken/+='


def test_xoauth2_string():
    assert xoauth2_string('a@example.com', 'T') == 'user=a@example.com\x01auth=Bearer T\x01\x01'


def test_oauthbearer_string_is_rfc7628_with_an_escaped_authzid():
    assert oauthbearer_string('a,b=c@example.com', 'T', 'smtp.example.com', 587) == (
        'n,a=a=2Cb=3Dc@example.com,\x01host=smtp.example.com\x01port=587\x01auth=Bearer T\x01\x01')


def test_sasl_forms_cover_every_spelling_on_the_wire():
    forms = set(sasl_secret_forms('a@example.com', TOKEN, 'smtp.example.com', 587))
    assert TOKEN in forms and f'Bearer {TOKEN}' in forms
    assert base64.b64encode(xoauth2_string('a@example.com', TOKEN).encode()).decode() in forms
    assert base64.b64encode(oauthbearer_string('a@example.com', TOKEN, 'smtp.example.com', 587).encode()).decode() in forms
    assert json.dumps(TOKEN)[1:-1].replace('/', '\\/') in forms
    assert 'eyJ.Canary-Access-T0ken%2F%2B%3D' in forms


def test_secret_forms_of_nothing():
    assert secret_forms(None) == [] and secret_forms('') == []


def challenge(data) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_challenges_are_explained():
    assert 'did not accept the token' in explain_challenge(challenge({'status': '401', 'schemes': 'Bearer'}))
    text = explain_challenge(challenge({'status': '403', 'scope': 'https://mail.google.com/'}))
    assert 'lacks the permission' in text and 'needs scope https://mail.google.com/' in text
    assert explain_challenge('not base64!') == '' and explain_challenge(challenge(['x'])) == ''


@pytest.mark.parametrize('error, description, grant, words', [
    ('invalid_grant', 'AADSTS65001: The user or administrator has not consented', 'client_credentials', 'admin consent'),
    ('invalid_client', 'AADSTS7000215: Invalid client secret provided.', 'client_credentials', 'secret is wrong'),
    ('invalid_client', 'AADSTS7000222: The provided client secret keys are expired.', 'client_credentials', 'has expired'),
    ('invalid_grant', 'AADSTS700082: The refresh token has expired due to inactivity.', 'refresh_token', '90 days'),
    ('invalid_grant', 'AADSTS50173: The provided grant has expired due to it being revoked', 'refresh_token', 'revoked'),
    ('invalid_grant', 'Token has been expired or revoked.', 'refresh_token', 'expired, revoked'),
    ('invalid_client', 'Unauthorized', 'refresh_token', 'bound to the client'),
    ('invalid_scope', '', 'client_credentials', 'refused the scopes a b'),
    ('unauthorized_client', '', 'refresh_token', 'grant_type refresh_token'),
    ('temporarily_unavailable', '', 'refresh_token', "provider's description"),
])
def test_endpoint_errors_name_what_to_fix(error, description, grant, words):
    assert words in _hint(error, description, grant, ['a', 'b'])


@pytest.mark.parametrize('oauth, words', [
    ({'grant_type': 'password', 'token_url': 'https://x.example/t'}, 'grant_type must be'),
    ({'grant_type': 'client_credentials'}, 'token_url is unknown'),
    ({'grant_type': 'client_credentials', 'token_url': 'http://x.example/t'}, 'must be an https URL'),
    ({'grant_type': 'client_credentials', 'token_url': 'https://u:p@x.example/t'}, 'user-info'),
])
def test_unusable_settings_fail_before_any_request(oauth, words):
    seen = []
    with pytest.raises(OAuth2Error) as caught:
        obtain_token(oauth, timeout=1, register=seen.extend)
    assert words in str(caught.value) and caught.value.kind == 'invalid' and caught.value.step == 'token'


def test_secrets_are_registered_before_the_request(monkeypatch):
    seen: list[str] = []
    with pytest.raises(OAuth2Error):
        obtain_token({'grant_type': 'refresh_token', 'token_url': 'http://x.example/t', 'client_secret': 'Canary-S',
                      'refresh_token': 'Canary-R'}, timeout=1, register=seen.extend)
    assert 'Canary-S' in seen and 'Canary-R' in seen and base64.b64encode(b'Canary-R').decode() in seen
