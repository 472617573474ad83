"""GHES smtp mapping, comparison, ghe-config rendering and the bounded apply wait (no network)."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render import ghes as gh
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import HttpClient, HttpError
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective

CANARY = 'Canary-5ecret-Pa55'


def settings(*, auth=None, sender=None, **server) -> dict:
    doc = {
        'product': 'ghes',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required', 'helo_domain': 'github.example.com',
                   **server},
        'auth': auth or {'method': 'basic', 'username': 'ghes-notify', 'password': CANARY},
        'sender': {'from_address': 'noreply@github.example.com', 'noreply_address': 'noreply@github.example.com',
                   **(sender or {})},
        'ghes': {'hostname': 'github.example.com'},
    }
    return load_effective(doc)


def test_smtp_object_uses_published_keys():
    smtp = gh.desired_smtp(settings(sender={'support': 'https://help.example.com', 'discard_to_noreply': True}))
    assert smtp == {
        'enabled': True, 'address': 'smtp.example.com', 'port': '587', 'domain': 'github.example.com',
        'authentication': 'login', 'username': 'ghes-notify', 'user_name': 'ghes-notify', 'password': CANARY,
        'enable_starttls_auto': True, 'noreply_address': 'noreply@github.example.com',
        'discard-to-noreply-address': True, 'support_address': 'https://help.example.com',
        'support_address_type': 'url',
    }
    assert set(smtp) <= {'enabled', 'address', 'authentication', 'port', 'domain', 'username', 'user_name',
                         'enable_starttls_auto', 'password', 'discard-to-noreply-address', 'support_address',
                         'support_address_type', 'noreply_address'}


@pytest.mark.parametrize('mechanism', ['plain', 'login', 'cram_md5'])
def test_authentication_follows_mechanism(mechanism):
    smtp = gh.desired_smtp(settings(auth={'method': 'basic', 'username': 'u', 'password': 'p', 'mechanism': mechanism}))
    assert smtp['authentication'] == mechanism


def test_xoauth2_and_oauth2_are_refused():
    # The settings layer already refuses xoauth2 with basic; the mapping must not rely on that.
    eff = copy.deepcopy(settings())
    eff['auth']['mechanism'] = 'xoauth2'
    with pytest.raises(gh.GhesError, match='plain, login or cram_md5'):
        gh.desired_smtp(eff)
    eff = copy.deepcopy(settings())
    eff['auth']['method'] = 'oauth2'
    with pytest.raises(gh.GhesError, match='OAuth 2.0'):
        gh.desired_smtp(eff)


def test_anonymous_relay_and_no_tls():
    smtp = gh.desired_smtp(settings(auth={'method': 'none'}, tls='none', port=25))
    assert smtp['authentication'] is None and smtp['username'] is None and smtp['password'] is None
    assert smtp['enable_starttls_auto'] is False
    assert smtp['port'] == '25'


def test_support_email_type_and_absent_state():
    assert gh.desired_smtp(settings(sender={'support': 'help@example.com'}))['support_address_type'] == 'email'
    assert gh.desired_smtp(settings())['support_address_type'] is None
    assert gh.desired_smtp(settings(), state='absent') == {'enabled': False}


def test_comparison_normalises_types_spellings_and_empties():
    desired = gh.desired_smtp(settings())
    current = {k: v for k, v in desired.items() if k not in ('password', 'discard-to-noreply-address', 'username')}
    current.update(port=587, discard_to_noreply_address=False, support_address='', support_address_type=None,
                   address='SMTP.example.com', enabled='true')
    assert gh.differences(desired, current) == []
    assert gh.differences(desired, dict(current, port='25')) == ['port']
    assert gh.differences(desired, dict(current, user_name='other')) == ['username']
    assert gh.differences(desired, None)[:2] == ['enabled', 'address']


def test_absent_compares_only_enabled():
    assert gh.differences({'enabled': False}, {'enabled': True, 'address': 'x'}) == ['enabled']
    assert gh.differences({'enabled': False}, {'enabled': False, 'address': 'x'}) == []


@pytest.mark.parametrize('value, readable', [(None, None), ('', None), ('********', None), ('*', None),
                                             (CANARY, CANARY)])
def test_password_is_compared_only_when_disclosed(value, readable):
    assert gh.readable_password({'password': value}) == readable


def test_ghe_config_commands_never_contain_the_password():
    commands = gh.ghe_config_commands(settings(sender={'support': 'https://help.example.com/?a=1&b=2'}))
    text = '\n'.join(commands)
    assert CANARY not in text
    assert 'ghe-config smtp.password "$GHE_SMTP_PASSWORD"' in commands
    assert commands[0] == 'ghe-config smtp.enabled true'
    assert commands[-1] == 'ghe-config-apply'
    assert "ghe-config smtp.support-address 'https://help.example.com/?a=1&b=2'" in commands
    assert 'ghe-config smtp.noreply-address noreply@github.example.com' in commands
    assert 'ghe-config smtp.enable-starttls-auto true' in commands
    assert 'ghe-config smtp.discard-to-noreply-address false' in commands
    keys = [c.split()[1] for c in commands if c.startswith('ghe-config smtp.')]
    assert keys == [k for k in gh.GHE_CONFIG_KEYS.values() if k in keys]


def test_unset_values_and_custom_password_variable():
    commands = gh.ghe_config_commands(settings(auth={'method': 'none'}, tls='none', helo_domain=None),
                                      password_env='SMTP_PW', apply=False)
    assert 'ghe-config --unset smtp.domain || true' in commands
    assert 'ghe-config --unset smtp.password || true' in commands
    assert 'ghe-config-apply' not in commands
    assert not any('$SMTP_PW' in c for c in commands)


@pytest.mark.parametrize('name', ['', '1ABC', 'A-B', 'X;rm -rf /', '$X'])
def test_password_variable_must_be_a_shell_name(name):
    with pytest.raises(gh.GhesError, match='shell variable name'):
        gh.ghe_config_commands(settings(), password_env=name)


def test_render_result():
    result = gh.render(settings())
    assert result['changed'] is False and result['mode'] == 'render'
    assert result['script'].startswith('#!/bin/sh\nset -eu\n: "${GHE_SMTP_PASSWORD:?')
    assert result['password_env'] == 'GHE_SMTP_PASSWORD'
    assert result['smtp']['password'] == '********'
    assert CANARY not in json.dumps(result)
    assert any('cannot refuse' in note for note in result['manual_steps'])
    absent = gh.render(settings(), state='absent')
    assert absent['commands'] == ['ghe-config smtp.enabled false', 'ghe-config-apply']
    assert absent['password_env'] is None


def test_manual_steps_for_what_ghes_cannot_do():
    notes = gh._manual_steps(settings(protocol='smtps', port=465, sender={'from_address': 'other@example.com'}))
    assert any('implicit-TLS' in n for n in notes)
    assert any('from_address is not used' in n for n in notes)


# -- bounded wait for a configuration run (clock and sleep are injected, the API is a stand-in) -----

class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class StatusSequence:
    """Stands in for GhesApi.apply_status only; HTTP behaviour is covered by the integration tests."""

    api = 'manage'

    def __init__(self, answers):
        self.answers = list(answers)
        self.client = HttpClient('https://ghes.example.com', username='api_key', password='R00t-Canary-Pa55')

    def apply_status(self, run_id):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_wait_returns_when_run_succeeds():
    clock = FakeClock()
    api = StatusSequence([(True, False, None), (True, False, None), (False, True, [{'hostname': 'a'}])])
    outcome = gh.wait_for_apply(api, 'r1', timeout=60, interval=5, clock=clock, sleep=clock.sleep)
    assert outcome['successful'] is True and outcome['polls'] == 3 and outcome['run_id'] == 'r1'
    assert outcome['seconds'] == 15


def test_wait_is_bounded_by_timeout():
    clock = FakeClock()
    api = StatusSequence([(True, False, None)])
    with pytest.raises(gh.GhesError, match=r'still running after 30 s .*run_id=r2'):
        gh.wait_for_apply(api, 'r2', timeout=30, interval=7, clock=clock, sleep=clock.sleep)
    assert clock.now <= 30


def test_wait_rides_out_restarting_services_but_not_auth_errors():
    clock = FakeClock()
    refused = HttpError('refused', cause='refused')
    busy = HttpError('503', status=503, cause='http')
    api = StatusSequence([refused, busy, (False, True, None)])
    assert gh.wait_for_apply(api, 'r3', timeout=60, interval=1, clock=clock, sleep=clock.sleep)['successful']
    with pytest.raises(HttpError):
        gh.wait_for_apply(StatusSequence([HttpError('401', status=401)]), 'r4', timeout=60, interval=1,
                          clock=clock, sleep=clock.sleep)


def test_wait_reports_failed_run():
    clock = FakeClock()
    with pytest.raises(gh.GhesError, match='failed on the instance'):
        gh.wait_for_apply(StatusSequence([(False, False, [{'hostname': 'a', 'successful': False}])]), 'r5',
                          timeout=60, interval=1, clock=clock, sleep=clock.sleep)


def test_unknown_api_is_refused():
    with pytest.raises(gh.GhesError, match='api must be one of'):
        gh.GhesApi(None, 'setup')  # type: ignore[arg-type]


def test_failed_run_detail_quoted_from_the_server_is_redacted():
    """The configuration run's detail comes from a reply: a server echoing our credentials there is cleaned."""
    import base64

    clock = FakeClock()
    header = 'Basic ' + base64.b64encode(b'api_key:R00t-Canary-Pa55').decode()
    with pytest.raises(gh.GhesError) as exc:
        gh.wait_for_apply(StatusSequence([(False, False, [{'hostname': 'a', 'log': f'Authorization: {header}'}])]),
                          'r5', timeout=60, interval=1, clock=clock, sleep=clock.sleep)
    assert header.split()[1] not in str(exc.value) and 'Authorization: ********' in str(exc.value)
