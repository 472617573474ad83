"""smtp_probe's rules without a network: what is an error, what is a warning, how a run is judged."""
from __future__ import annotations

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._reach import probe as _probe
from ansible_collections.mailwright.smtp.plugins.module_utils._net.smtp import Transcript
from ansible_collections.mailwright.smtp.plugins.module_utils._reach.probe import (
    Target,
    assess_certificate,
    assess_policy,
    classify,
    empty_result,
    error_kind,
    failure_message,
    hostname_matches,
    load_ca_bundle,
    probe_timeout,
    should_fail,
    summarize,
    target_from_settings,
    targets_from_params,
)

CANARY = 'Canary-5ecret-Pa55'


def _cert(**overrides):
    cert = {'subject': 'CN=mail.test', 'issuer': 'CN=Test CA', 'sans': ['mail.test'],
            'not_before': '2026-01-01T00:00:00Z', 'not_after': '2027-01-01T00:00:00Z',
            'days_left': 200, 'sha256': 'AA', 'serial': '1', 'is_ca': False, 'self_signed': False}
    cert.update(overrides)
    return cert


def _result(status_errors=(), status_warnings=()):
    result = empty_result(Target('mail.test', 25))
    result['errors'] = [{'step': 'banner', 'message': e} for e in status_errors]
    result['warnings'] = [{'step': 'policy', 'message': w} for w in status_warnings]
    result['status'] = classify(result)
    return result


# --- classification ----------------------------------------------------------------------------

def test_classify_fail_beats_warn_beats_pass():
    assert _result(['no reply'], ['plaintext'])['status'] == 'fail'
    assert _result((), ['plaintext'])['status'] == 'warn'
    assert _result()['status'] == 'pass'


@pytest.mark.parametrize('step,text,code,kind', [
    ('banner', 'no reply within 2s', None, 'timeout'),
    ('connect', 'no TCP connection to x:25 within 2s', None, 'timeout'),
    ('tls', 'TLS handshake not finished within 2s', None, 'timeout'),
    ('connect', 'cannot connect to 127.0.0.1:1: Connection refused', None, 'refused'),
    ('connect', "cannot resolve 'nowhere.invalid': Name or service not known", None, 'unreachable'),
    ('policy', 'the server does not offer STARTTLS and tls is required: nothing was sent', None, 'policy'),
    ('tls', "certificate verification failed: certificate has expired (server name 'x')", None, 'certificate'),
    ('tls', 'TLS handshake failed: WRONG_VERSION_NUMBER', None, 'tls'),
    ('auth', 'PLAIN rejected: 5.7.8 Authentication credentials invalid', 535, 'auth'),
    ('ehlo', 'Syntax error', 501, 'smtp'),
    ('banner', 'Service not available within this hour', 421, 'smtp'),  # a server text, not our timeout
])
def test_error_kind(step, text, code, kind):
    assert error_kind(step, text, code) == kind


def test_summarize_counts_and_worst_status():
    results = [_result(), _result((), ['w']), _result(['e'])]
    results[2]['timed_out'] = True
    counts = summarize(results)
    assert counts == {'total': 3, 'timed_out': 1, 'pass': 1, 'warn': 1, 'fail': 1}
    assert summarize([]) == {'total': 0, 'timed_out': 0, 'pass': 0, 'warn': 0, 'fail': 0}


@pytest.mark.parametrize('statuses,fail_on,expected', [
    (['pass', 'warn'], 'fail', False),
    (['pass', 'fail'], 'fail', True),
    (['pass', 'warn'], 'warn', True),
    (['pass', 'pass'], 'warn', False),
    (['fail', 'fail'], 'never', False),
])
def test_should_fail(statuses, fail_on, expected):
    results = [dict(_result(), status=s) for s in statuses]
    assert should_fail(results, fail_on) is expected


def test_failure_message_names_target_step_and_reason():
    bad = _result(['no reply within 2s'])
    bad['step'] = 'banner'
    text = failure_message([_result(), bad], 'fail')
    assert text == 'mail.test:25 (mail.test:25) fail at banner: no reply within 2s'


# --- TLS policy ---------------------------------------------------------------------------------

def test_required_without_tls_is_an_error():
    errors, warnings = assess_policy(tls_policy='required', protocol='smtp', starttls_offered=False,
                                     tls_established=False)
    assert [e['kind'] for e in errors] == ['policy'] and not warnings


def test_opportunistic_without_starttls_is_a_warning():
    errors, warnings = assess_policy(tls_policy='opportunistic', protocol='smtp', starttls_offered=False,
                                     tls_established=False)
    assert not errors and 'plaintext' in warnings[0]['message']


@pytest.mark.parametrize('offered', [False, True], ids=['not-offered', 'refused'])
def test_opportunistic_without_tls_but_with_credentials_is_a_policy_error_at_tls(offered):
    errors, warnings = assess_policy(tls_policy='opportunistic', protocol='smtp', starttls_offered=offered,
                                     tls_established=False, has_credentials=True)
    assert [(e['step'], e['kind']) for e in errors] == [('tls', 'policy')] and not warnings
    assert 'would send the password in clear' in errors[0]['message']
    assert 'server.tls: required' in errors[0]['message']


def test_opportunistic_with_starttls_offered_but_not_established_warns_without_credentials():
    errors, warnings = assess_policy(tls_policy='opportunistic', protocol='smtp', starttls_offered=True,
                                     tls_established=False)
    assert not errors and 'plaintext' in warnings[0]['message']


def test_none_while_server_offers_starttls_is_a_warning_and_password_in_clear_too():
    errors, warnings = assess_policy(tls_policy='none', protocol='smtp', starttls_offered=True,
                                     tls_established=False, has_credentials=True)
    assert not errors
    texts = ' '.join(w['message'] for w in warnings)
    assert 'offers STARTTLS' in texts and 'password' in texts


@pytest.mark.parametrize('policy', ['none', 'opportunistic', 'required'])
def test_established_tls_or_smtps_raises_nothing(policy):
    assert assess_policy(tls_policy=policy, protocol='smtp', starttls_offered=True,
                         tls_established=True) == ([], [])
    assert assess_policy(tls_policy=policy, protocol='smtps', starttls_offered=False,
                         tls_established=True) == ([], [])


# --- certificates -------------------------------------------------------------------------------

def _assess(cert, **kw):
    args = dict(hostname='mail.test', validate_certs=True, verified=True, verify_error=None,
                expiry_warning_days=30)
    args.update(kw)
    return assess_certificate(cert, **args)


def test_good_certificate_passes():
    assert _assess(_cert()) == ([], [])


def test_expiring_soon_warns_with_days():
    errors, warnings = _assess(_cert(days_left=12))
    assert not errors and 'expires in 12 days' in warnings[0]['message']


def test_expiry_threshold_is_inclusive_and_configurable():
    assert _assess(_cert(days_left=30))[1]
    assert _assess(_cert(days_left=31)) == ([], [])
    assert _assess(_cert(days_left=12), expiry_warning_days=0) == ([], [])


def test_expired_is_an_error_when_validating_and_a_warning_when_not():
    errors = _assess(_cert(days_left=-3, not_after='2026-11-20T00:00:00Z'), verified=False)[0]
    assert any('expired on 2026-11-20T00:00:00Z (3 days ago)' in e['message'] for e in errors)
    errors, warnings = _assess(_cert(days_left=-3), validate_certs=False, verified=False)
    assert not errors and any('expired' in w['message'] for w in warnings)
    assert any('validation is disabled' in w['message'] for w in warnings)


def test_wrong_name_says_which_names_the_certificate_has():
    errors = _assess(_cert(sans=['other.test', 'www.other.test']), verified=False)[0]
    assert errors[0]['message'] == "the certificate does not name 'mail.test': it is for other.test, www.other.test"
    assert errors[0]['kind'] == 'certificate'


def test_verification_error_is_reported():
    errors = _assess(_cert(), verified=False, verify_error='unable to get local issuer certificate')[0]
    assert errors[0]['message'] == 'certificate verification failed: unable to get local issuer certificate'


def test_self_signed_is_mentioned_only_when_not_validating():
    warnings = _assess(_cert(self_signed=True), validate_certs=False, verified=False)[1]
    assert any('self-signed' in w['message'] for w in warnings)


def test_no_certificate_only_reports_the_verify_error():
    assert _assess(None, verified=False, verify_error='boom')[0][0]['message'].endswith('boom')
    assert _assess(None) == ([], [])


@pytest.mark.parametrize('host,sans,expected', [
    ('mail.test', ['mail.test'], True),
    ('MAIL.test.', ['mail.TEST'], True),
    ('mail.test', ['DNS:mail.test'], True),
    ('a.mail.test', ['*.mail.test'], True),
    ('a.b.mail.test', ['*.mail.test'], False),     # a wildcard covers one label only
    ('mail.test', ['*.mail.test'], False),
    ('mail.test', ['*.test'], False),              # not below a public-suffix-like single label
    ('mail.test', ['other.test'], False),
    ('127.0.0.1', ['IP:127.0.0.1'], True),
    ('127.0.0.1', ['IP Address:127.0.0.1'], True),
    ('127.0.0.1', ['127.0.0.1'], True),
    ('127.0.0.1', ['DNS:127.0.0.1.example'], False),
    ('::1', ['IP:0:0:0:0:0:0:0:1'], True),
    ('mail.test', [], False),
])
def test_hostname_matches(host, sans, expected):
    assert hostname_matches(host, sans) is expected


# --- targets ------------------------------------------------------------------------------------

def _effective(**auth):
    return {'name': None, 'server': {'host': 'relay.test', 'port': 587, 'protocol': 'smtp', 'tls': 'required',
                                     'timeout_ms': 2500, 'helo_domain': 'app.test'},
            'auth': {'method': 'none', 'username': None, 'password': None, 'mechanism': None, 'oauth2': None,
                     **auth}}


def test_relay_target_carries_policy_helo_and_credentials_without_showing_them():
    target = target_from_settings(_effective(method='basic', username='u', password=CANARY))
    assert (target.host, target.port, target.tls, target.helo, target.source) == \
        ('relay.test', 587, 'required', 'app.test', 'settings')
    assert target.credentials.secret == CANARY
    assert CANARY not in repr(target) and CANARY not in repr(target.credentials)
    assert target_from_settings(_effective()).credentials is None


def test_oauth2_relay_target_uses_the_token():
    target = target_from_settings(_effective(method='oauth2', username='u', oauth2={'token': CANARY}))
    assert (target.credentials.method, target.credentials.secret) == ('oauth2', CANARY)


def test_extra_targets_get_protocol_defaults():
    smtps, plain = targets_from_params([{'host': 'a.test', 'protocol': 'smtps', 'tls': 'none'},
                                        {'host': 'b.test', 'name': 'backup'}], helo='app.test')
    assert (smtps.port, smtps.tls, smtps.label) == (465, 'required', 'a.test:465')
    assert (plain.port, plain.tls, plain.label, plain.helo) == (25, 'opportunistic', 'backup', 'app.test')
    assert plain.credentials is None  # only the relay is ever given credentials


def test_probe_timeout_prefers_option_then_settings_then_default():
    assert probe_timeout(_effective(), 4) == 4.0
    assert probe_timeout(_effective(), None) == 2.5
    unbounded = _effective()
    unbounded['server']['timeout_ms'] = 0
    assert probe_timeout(unbounded, None) == _probe.DEFAULT_TIMEOUT


def test_empty_result_has_every_documented_key():
    result = empty_result(Target('mail.test', 465, protocol='smtps', tls='none'))
    assert result['tls_policy'] == 'required'
    for key in ('target', 'host', 'port', 'protocol', 'status', 'step', 'connect_ms', 'banner', 'extensions',
                'auth_mechanisms', 'tls', 'certificate', 'errors', 'warnings', 'transcript', 'timed_out'):
        assert key in result


# --- CA bundle ----------------------------------------------------------------------------------

PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'


def test_ca_bundle_from_file_and_directory(tmp_path):
    one = tmp_path / 'one.pem'
    one.write_text(PEM)
    assert load_ca_bundle(str(one)) == (str(one), None)
    directory = tmp_path / 'cas'
    directory.mkdir()
    (directory / 'a.crt').write_text(PEM)
    (directory / 'notes.txt').write_text('not a certificate')
    cafile, cadata = load_ca_bundle(str(directory))
    assert cafile is None and cadata.count('BEGIN CERTIFICATE') == 1
    assert load_ca_bundle(None) == (None, None)


def test_ca_bundle_errors_name_the_path(tmp_path):
    with pytest.raises(ValueError, match='no such file'):
        load_ca_bundle(str(tmp_path / 'missing.pem'))
    with pytest.raises(ValueError, match='no PEM certificates'):
        load_ca_bundle(str(tmp_path))


# --- where a probe is when the deadline passes ---------------------------------------------------

class _ClientState:
    """Only the attributes Progress reads from an SMTPClient."""

    def __init__(self, *, sock=None, protocol='smtp', tls_active=False, lines=()):
        self.sock, self.protocol, self.tls_active = sock, protocol, tls_active
        self.transcript = Transcript()
        self.transcript.lines = list(lines)


@pytest.mark.parametrize('coarse,state,expected', [
    ('queued', None, 'queued'),
    ('connect', _ClientState(), 'connect'),
    ('connect', _ClientState(sock=object()), 'banner'),
    ('connect', _ClientState(sock=object(), protocol='smtps'), 'tls'),
    ('connect', _ClientState(sock=object(), protocol='smtps', tls_active=True), 'banner'),
    ('starttls', _ClientState(sock=object(), lines=['C: STARTTLS']), 'starttls'),
    ('starttls', _ClientState(sock=object(), lines=['C: STARTTLS', 'S: 220 go ahead']), 'tls'),
    ('starttls', _ClientState(sock=object(), tls_active=True), 'ehlo'),
    ('auth', _ClientState(sock=object(), tls_active=True), 'auth'),
])
def test_progress_names_the_step_in_progress(coarse, state, expected):
    progress = _probe.Progress(Target('mail.test', 25), Transcript())
    progress.client = state
    progress.at(coarse)
    assert progress.current_step() == expected


def test_progress_result_is_written_once():
    progress = _probe.Progress(Target('mail.test', 25), Transcript())
    assert progress.close_once() is True
    assert progress.close_once() is False


# --- the chain as the JVM meets it ---------------------------------------------------------------

@pytest.fixture(scope='module')
def chain_pki(tmp_path_factory):
    from tests.support.chain_pki import ChainPKI

    return ChainPKI(tmp_path_factory.mktemp('probe-chain'))


def test_assess_chain_complete(chain_pki):
    keys, errors, warnings = _probe.assess_chain([chain_pki.der('leaf'), chain_pki.der('inter')],
                                                 {chain_pki.der('root'): ''}, validate_certs=True)
    assert keys == {'chain_complete': True, 'anchor': 'CN=mailwright Chain Root CA', 'missing_issuer': None}
    assert errors == [] and warnings == []


@pytest.mark.parametrize('validate_certs', [True, False])
def test_assess_chain_incomplete_is_an_error_unless_validation_is_off(chain_pki, validate_certs):
    keys, errors, warnings = _probe.assess_chain([chain_pki.der('leaf')], {chain_pki.der('root'): ''},
                                                 validate_certs=validate_certs, trust_source='truststore_path /t.p12')
    assert keys['chain_complete'] is False and keys['missing_issuer'] == 'CN=mailwright Issuing CA 1'
    found = (errors if validate_certs else warnings)
    assert [f['kind'] for f in found] == ['incomplete_chain'] and (warnings if validate_certs else errors) == []
    assert 'Java does not fetch missing intermediates' in found[0]['message']
    assert 'in truststore_path /t.p12' in found[0]['message']


def test_assess_chain_without_anchors_or_chain_is_not_judged(chain_pki):
    assert _probe.assess_chain([chain_pki.der('leaf')], None, validate_certs=True)[0]['chain_complete'] is None
    assert _probe.assess_chain([], {chain_pki.der('root'): ''}, validate_certs=True)[0]['chain_complete'] is None


def test_incomplete_chain_fails_the_task_as_tls():
    assert _probe._CAUSE_KIND['incomplete_chain'] == 'tls'
