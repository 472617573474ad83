"""test_send's pure parts: what is fingerprinted, the send decision, the message and its From header."""
from __future__ import annotations

import email
import email.policy

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import SMTPStepError
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.marker import fingerprint
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import (
    SendFailure,
    SendOptions,
    build_message,
    decide,
    fingerprint_material,
    from_header,
    recipients_of,
    render_from_name,
    send_with_retries,
)

CANARY = 'Canary-5ecret-Pa55'
KEY = b'k' * 32


def effective(product='jira', **changes) -> dict:
    doc = {'product': product,
           'server': {'host': 'smtp.example.test', 'port': 587, 'tls': 'required', 'helo_domain': 'jira01.example.test'},
           'auth': {'method': 'basic', 'username': 'jira', 'password': CANARY},
           'sender': {'from_address': 'jira@example.test', 'subject_prefix': '[JIRA]'},
           'test': {'recipients': ['team@example.test'], 'user': {'fullname': 'Ada Tester', 'email': 'ada@corp.example.test'}}}
    for section, values in changes.items():
        doc[section] = {k: v for k, v in dict(doc.get(section, {}), **values).items() if v is not None}
    return load_effective(doc)


def material(eff, recipients=('team@example.test',), **options):
    return fingerprint_material(eff, list(recipients), SendOptions(**options))


def test_recipients_are_merged_once_in_order():
    eff = effective(test={'recipients': ['team@example.test', 'ops@example.test']})
    assert recipients_of(eff, ['OPS@example.test', 'extra@example.test']) == \
        ['team@example.test', 'ops@example.test', 'extra@example.test']


def test_password_and_token_count_through_the_fingerprint_only():
    base = fingerprint(KEY, material(effective()))
    assert fingerprint(KEY, material(effective(auth={'password': CANARY + 'x'}))) != base
    oauth = effective(server={'tls': 'required'},
                      auth={'method': 'oauth2', 'password': None, 'oauth2': {'provider': 'google', 'token': 'tok-1'}})
    with_token = fingerprint(KEY, material(oauth))
    # the token option replaces the settings' token in what is proven
    assert fingerprint(KEY, material(oauth, token='tok-2')) != with_token
    assert fingerprint(KEY, material(oauth, token='tok-1')) == with_token


@pytest.mark.parametrize('changes', [
    {'test': {'max_age': '2d'}},                 # how long a proof lasts is not what it proves
    {'dns': {'check_spf': False}},               # DNS checks do not take part in sending
])
def test_what_does_not_shape_the_message_does_not_change_the_fingerprint(changes):
    assert fingerprint(KEY, material(effective(**changes))) == fingerprint(KEY, material(effective()))


@pytest.mark.parametrize('changes', [
    {'server': {'helo_domain': 'jira02.example.test'}},
    {'server': {'tls': 'opportunistic'}},
    {'sender': {'subject_prefix': '[Jira]'}},
    {'sender': {'from_name': '${fullname} via Jira'}},
    {'test': {'user': {'fullname': 'Bob'}}},
])
def test_what_shapes_the_conversation_or_the_message_changes_the_fingerprint(changes):
    assert fingerprint(KEY, material(effective(**changes))) != fingerprint(KEY, material(effective()))


def test_recipient_order_and_case_do_not_matter_but_the_set_does():
    eff = effective()
    one = fingerprint(KEY, material(eff, ['a@example.test', 'B@example.test']))
    assert one == fingerprint(KEY, material(eff, ['b@example.test', 'a@example.test']))
    assert one != fingerprint(KEY, material(eff, ['a@example.test']))


def test_trust_options_count():
    eff = effective()
    assert fingerprint(KEY, material(eff, ca_path='/etc/ca.pem')) != fingerprint(KEY, material(eff))


def test_decide_reasons():
    mat = material(effective())
    value = fingerprint(KEY, mat)
    proof = {'fingerprint': value, 'epoch': 1000.0}
    assert decide(KEY, mat, proof, max_age=100, force=False, now=1050.0).send is False
    assert decide(KEY, mat, proof, max_age=100, force=True, now=1050.0).reason == 'force'
    assert decide(KEY, mat, None, max_age=100, force=False, now=1050.0).reason == 'no previous proof'
    assert decide(KEY, mat, dict(proof, fingerprint='hmac-sha256:00'), max_age=100, force=False,
                  now=1050.0).reason == 'settings changed'
    assert decide(KEY, mat, proof, max_age=100, force=False, now=1101.0).reason == \
        'previous proof is older than test.max_age'
    assert decide(None, mat, proof, max_age=100, force=False, now=1050.0).reason == 'settings changed'  # key lost
    assert decide(KEY, mat, {'fingerprint': value}, max_age=100, force=False, now=1050.0).send  # no time: unproven


@pytest.mark.parametrize('product,from_name,expected', [
    ('jira', None, '"Ada Tester (Jira)" <jira@example.test>'),
    ('confluence', None, '"Ada Tester (Confluence)" <jira@example.test>'),
    ('bitbucket', None, 'jira@example.test'),
    ('generic', '${email} at ${email.hostname}', '"ada@corp.example.test at corp.example.test" <jira@example.test>'),
])
def test_from_header_per_product(product, from_name, expected):
    assert from_header(effective(product, sender={'from_name': from_name})) == expected


def test_non_ascii_from_name_is_encoded_and_reads_back():
    header = from_header(effective('generic', sender={'from_name': 'Jörg Ümlaut'}))
    assert header.isascii() and header.startswith('=?utf-8?')
    parsed = email.message_from_string(f'From: {header}\n\n', policy=email.policy.default)
    assert parsed['From'].addresses[0].display_name == 'Jörg Ümlaut'


def test_ghes_sends_from_the_noreply_address():
    eff = effective()
    eff['product'] = 'ghes'
    eff['sender']['noreply_address'] = 'noreply@github.example.test'
    assert from_header(eff) == 'noreply@github.example.test'


def test_from_name_without_a_test_user_uses_the_from_address():
    eff = effective(test={'user': {}})
    assert render_from_name('${fullname} <${email}>', eff) == 'Mailwright Test <jira@example.test>'


def test_the_message_carries_what_finds_it_and_ties_it_to_the_run():
    eff = effective()
    message = build_message(eff, ['team@example.test', 'ops@example.test'], 'hmac-sha256:abc', now=0.0,
                            sending_host='jira01')
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed['Subject'] == '[JIRA] mailwright test message'
    assert parsed['X-Mailwright-Fingerprint'] == 'hmac-sha256:abc'
    assert parsed['Message-ID'] == message.message_id and message.message_id.endswith('@example.test>')
    assert message.header('Date') == 'Thu, 01 Jan 1970 00:00:00 GMT'
    assert parsed['To'] == 'team@example.test, ops@example.test'
    body = parsed.get_content()
    for line in ('Product:     jira', 'Host:        jira01', 'Relay:       smtp.example.test:587 (SMTP, tls required)',
                 'Sent at:     1970-01-01T00:00:00Z'):
        assert line in body
    assert CANARY not in message.as_bytes().decode()
    assert b'\r\n' in message.as_bytes() and b'\n\n' not in message.as_bytes().replace(b'\r\n', b'')


def test_non_ascii_body_is_quoted_printable():
    eff = effective(server={'host': 'smtp.example.test'})
    eff['name'] = 'Jira Süd'
    raw = build_message(eff, ['a@example.test'], 'fp', now=0.0, sending_host='h').as_bytes()
    assert raw.isascii() and b'quoted-printable' in raw
    assert 'Jira Süd' in email.message_from_bytes(raw, policy=email.policy.default).get_content()


class FlakyConverse:
    """Replaces converse(): fails with the given errors, then succeeds."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {'reply': {'code': 250, 'text': 'ok'}}


def test_retries_transient_failures_with_doubling_backoff(monkeypatch):
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove import test_send as _test_send

    flaky = FlakyConverse([SMTPStepError('rcpt', 'greylisted', code=451), SMTPStepError('banner', 'busy', code=421)])
    monkeypatch.setattr(_test_send, 'converse', flaky)
    slept = []
    outcome, attempts = send_with_retries({}, None, SendOptions(retries=3, retry_delay=0.5), _test_send.Transcript(),
                                          sleep=slept.append)
    assert outcome['reply']['code'] == 250 and flaky.calls == 3
    assert slept == [0.5, 1.0]
    assert [(a['ok'], a.get('step')) for a in attempts] == [(False, 'rcpt'), (False, 'connect'), (True, None)]


def test_permanent_failures_are_not_retried(monkeypatch):
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove import test_send as _test_send

    flaky = FlakyConverse([SMTPStepError('rcpt', 'no such user', code=550)])
    monkeypatch.setattr(_test_send, 'converse', flaky)
    with pytest.raises(SendFailure) as caught:
        send_with_retries({}, None, SendOptions(retries=3), _test_send.Transcript(), sleep=lambda s: None)
    assert flaky.calls == 1
    assert caught.value.message == 'test send failed at step rcpt: 550 no such user'
    assert caught.value.to_dict()['transient'] is False


def test_retries_run_out(monkeypatch):
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove import test_send as _test_send

    flaky = FlakyConverse([SMTPStepError('starttls', 'later', code=454)] * 3)
    monkeypatch.setattr(_test_send, 'converse', flaky)
    with pytest.raises(SendFailure) as caught:
        send_with_retries({}, None, SendOptions(retries=2, retry_delay=100), _test_send.Transcript(), sleep=lambda s: None)
    assert flaky.calls == 3 and caught.value.step == 'tls'
    assert caught.value.message.endswith('(after 3 attempts)')
    assert caught.value.attempts[1]['retry_in'] == 30.0  # the backoff is capped


# --- OAuth 2.0 grants ---------------------------------------------------------------------------

def granted(**oauth2) -> dict:
    given = {'provider': 'microsoft', 'grant_type': 'client_credentials', 'tenant': 'contoso.onmicrosoft.com',
             'client_id': 'app', 'client_secret': CANARY}
    given.update(oauth2)
    return effective(auth={'method': 'oauth2', 'username': 'jira@example.test', 'password': None, 'oauth2': given})


def test_a_grant_is_proven_by_its_settings_without_asking_for_a_token():
    options = SendOptions(token='ignored-with-a-grant')
    first = fingerprint_material(granted(), ['team@example.test'], options)
    assert options.access_token is None and options.obtained_secrets == []  # no token endpoint was asked
    assert first['settings']['auth']['oauth2']['token'] is None
    assert fingerprint(KEY, first) != fingerprint(KEY, material(granted(client_secret='rotated-secret')))
    assert fingerprint(KEY, first) != fingerprint(KEY, material(granted(client_id='other-app')))


def test_check_inputs_want_no_static_token_with_a_grant():
    from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import _check_inputs

    assert _check_inputs(granted(), SendOptions()) == ['team@example.test']
    static = effective(auth={'method': 'oauth2', 'username': 'u@example.test', 'password': None,
                             'oauth2': {'provider': 'google'}})
    with pytest.raises(Exception, match='no token'):
        _check_inputs(static, SendOptions())
