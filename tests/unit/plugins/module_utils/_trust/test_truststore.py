"""truststore_cert's plan: adds, removals, and the rotation policy for a changed certificate under an
existing alias (accepted only when the store already trusts its CA, the pin vouches for it, or
allow_replace says so; otherwise refused with both certificates described)."""

from __future__ import annotations

import ssl

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import Entry
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import sha256_fingerprint
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.truststore import TruststoreError, plan_actions
from tests.support.certs import CertificateAuthority, self_signed


def der_of(pem: bytes | str) -> bytes:
    text = pem.decode() if isinstance(pem, bytes) else pem
    return ssl.PEM_cert_to_DER_cert(text.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n')


@pytest.fixture
def pki(tmp_path):
    class PKI:
        ca = CertificateAuthority(tmp_path, 'ca', common_name='Corp Mail CA')
        other_ca = CertificateAuthority(tmp_path, 'other-ca', common_name='Corp Mail CA')  # same name, other key
        ca_der = der_of(ca.pem)
        other_ca_der = der_of(other_ca.pem)

        @staticmethod
        def leaf(authority, label):
            return authority.issue(label).der

        @staticmethod
        def self_signed(label):
            return self_signed(tmp_path, label).der

        @staticmethod
        def expired(authority, label):
            return authority.issue(label, expired=True).der
    return PKI


def trusted(alias: str, der: bytes) -> Entry:
    return Entry(alias=alias, entry_type='trustedCertEntry', certificates=(der,))


def test_add_and_unchanged(pki):
    leaf = pki.self_signed('a')
    assert [(a.action, a.alias) for a in plan_actions([], state='present', alias='relay', wanted=[leaf])] == [
        ('add', 'relay')]
    assert plan_actions([trusted('relay', leaf)], state='present', alias='relay', wanted=[leaf]) == []


def test_a_different_self_signed_certificate_is_refused_with_both_described(pki):
    old, new = pki.self_signed('old'), pki.self_signed('new')
    with pytest.raises(TruststoreError) as info:
        plan_actions([trusted('relay', old)], state='present', alias='relay', wanted=[new])
    message = info.value.message
    assert sha256_fingerprint(old) in message and sha256_fingerprint(new) in message
    assert 'alias relay' in message and 'not after' in message and 'CN=localhost' in message
    assert 'allow_replace' in message and 'fingerprint' in message and 'nothing was changed' in message
    refused = info.value.details['refused']
    assert refused[0]['alias'] == 'relay'
    assert (refused[0]['old']['sha256'], refused[0]['new']['sha256']) == (sha256_fingerprint(old), sha256_fingerprint(new))


def test_allow_replace_accepts_and_says_so(pki):
    old, new = pki.self_signed('old'), pki.self_signed('new')
    [action] = plan_actions([trusted('relay', old)], state='present', alias='relay', wanted=[new], allow_replace=True)
    assert (action.action, action.sha256_before, action.sha256_after) == (
        'replace', sha256_fingerprint(old), sha256_fingerprint(new))
    assert action.reason == 'allow_replace is true'
    assert 'reason' not in action.to_dict()  # the actions list keeps its shape; rotations are reported apart


def test_a_new_leaf_from_a_ca_the_store_trusts_is_accepted(pki):
    old, new = pki.leaf(pki.ca, 'old'), pki.leaf(pki.ca, 'new')
    entries = [trusted('corp-ca', pki.ca_der), trusted('relay', old)]
    [action] = plan_actions(entries, state='present', alias='relay', wanted=[new], presented=[new, pki.ca_der])
    assert action.action == 'replace' and 'under alias corp-ca' in action.reason


def test_chain_mode_leaf_renewal_verifies_against_the_kept_ca_entry(pki):
    old, new = pki.leaf(pki.ca, 'old'), pki.leaf(pki.ca, 'new')
    entries = [trusted('relay', old), trusted('relay-1', pki.ca_der)]
    actions = plan_actions(entries, state='present', alias='relay', wanted=[new, pki.ca_der], chain_mode=True,
                           presented=[new, pki.ca_der])
    assert [(a.action, a.alias) for a in actions] == [('replace', 'relay')]
    assert 'under alias relay-1' in actions[0].reason


@pytest.mark.parametrize('case', ['other_ca', 'ca_only_presented', 'expired'])
def test_what_does_not_verify_against_the_store_is_refused(pki, case):
    """A CA of the same name with another key, a CA the relay presents but the store lacks, an expired leaf."""
    old = pki.leaf(pki.ca, 'old')
    entries = [trusted('corp-ca', pki.ca_der), trusted('relay', old)]
    if case == 'other_ca':
        new, presented = pki.leaf(pki.other_ca, 'new'), None
        presented = [new, pki.other_ca_der]
    elif case == 'ca_only_presented':
        entries = [trusted('relay', old)]
        new = pki.leaf(pki.ca, 'new')
        presented = [new, pki.ca_der]  # the presented CA is not trusted by the store: it proves nothing
    else:
        new = pki.expired(pki.ca, 'new')
        presented = [new, pki.ca_der]
    with pytest.raises(TruststoreError, match='does not verify against a CA certificate the store already trusts'):
        plan_actions(entries, state='present', alias='relay', wanted=[new], presented=presented)


def test_a_trusted_leaf_is_no_ca(pki):
    """A self-signed leaf trusted under another alias does not vouch for certificates it 'signs'."""
    old, new = pki.self_signed('old'), pki.self_signed('new')
    with pytest.raises(TruststoreError):
        plan_actions([trusted('other', pki.self_signed('x')), trusted('relay', old)], state='present', alias='relay',
                     wanted=[new])
    # The very same certificate trusted under another alias is already trusted.
    [action] = plan_actions([trusted('other', new), trusted('relay', old)], state='present', alias='relay',
                            wanted=[new])
    assert 'under alias other' in action.reason


def test_the_pin_decides(pki):
    old, new = pki.self_signed('old'), pki.self_signed('new')
    [action] = plan_actions([trusted('relay', old)], state='present', alias='relay', wanted=[new],
                            pinned=sha256_fingerprint(new))
    assert action.reason == 'it is the certificate pinned by fingerprint'


def test_chain_mode_pin_on_the_ca_vouches_for_the_leaf_it_issued(pki):
    old, new = pki.leaf(pki.ca, 'old'), pki.leaf(pki.ca, 'new')
    entries = [trusted('relay', old), trusted('relay-1', pki.other_ca_der)]
    actions = plan_actions(entries, state='present', alias='relay', wanted=[new, pki.ca_der], chain_mode=True,
                           presented=[new, pki.ca_der], pinned=sha256_fingerprint(pki.ca_der))
    assert [(a.alias, a.reason) for a in actions] == [
        ('relay', 'it is issued by the certificate pinned by fingerprint'),
        ('relay-1', 'it is the certificate pinned by fingerprint')]
    # Pinned on the leaf: the new CA issued it, so it is accepted too.
    actions = plan_actions(entries, state='present', alias='relay', wanted=[new, pki.ca_der], chain_mode=True,
                           presented=[new, pki.ca_der], pinned=sha256_fingerprint(new))
    assert [(a.alias, a.reason) for a in actions] == [
        ('relay', 'it is the certificate pinned by fingerprint'),
        ('relay-1', 'it issued the certificate pinned by fingerprint')]


def test_a_key_entry_is_never_replaced_and_absent_and_leftovers(pki):
    leaf = pki.self_signed('a')
    key_entry = Entry(alias='relay', entry_type='PrivateKeyEntry', certificates=(leaf,))
    with pytest.raises(TruststoreError, match='not a trusted certificate'):
        plan_actions([key_entry], state='present', alias='relay', wanted=[pki.self_signed('b')], allow_replace=True)
    entries = [trusted('relay', leaf), trusted('relay-1', pki.ca_der), trusted('relay-2', pki.other_ca_der)]
    assert [(a.action, a.alias) for a in plan_actions(entries, state='absent', alias='relay', chain_mode=True)] == [
        ('remove', 'relay'), ('remove', 'relay-1'), ('remove', 'relay-2')]
    assert [(a.action, a.alias) for a in plan_actions(entries, state='present', alias='relay', wanted=[leaf],
                                                      chain_mode=True)] == [('remove', 'relay-1'), ('remove', 'relay-2')]
