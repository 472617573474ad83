# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_net.tls: the CA bundle reader, the validity-date shim for cryptography 41, fingerprints, PEM."""
from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import (
    CaBundleError,
    describe_certificate,
    get_not_valid_after,
    get_not_valid_before,
    load_ca_bundle,
    make_context,
    normalize_fingerprint,
    pem_to_der_list,
    sha256_fingerprint,
)
from tests.support.certs import TestPKI


@pytest.fixture(scope='module')
def pki(tmp_path_factory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp('tls-pki'))


class _OldCert:
    """What cryptography 41 offers: naive UTC datetimes, no *_utc attributes."""

    not_valid_before = dt.datetime(2026, 1, 1)
    not_valid_after = dt.datetime(2027, 1, 1)


def test_validity_dates_are_aware_utc_on_old_cryptography():
    assert get_not_valid_after(_OldCert()) == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    assert get_not_valid_before(_OldCert()) == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_validity_dates_on_current_cryptography(pki):
    from cryptography import x509

    cert = x509.load_der_x509_certificate(pki.good.der)
    assert get_not_valid_after(cert) == cert.not_valid_after_utc
    assert get_not_valid_before(cert).tzinfo is not None


def test_describe_certificate(pki):
    described = describe_certificate(pki.good.der)
    assert described['sha256'] == pki.good.sha256 == sha256_fingerprint(pki.good.der)
    assert not described['expired'] and described['days_left'] > 0 and not described['self_signed']
    expired = describe_certificate(pki.expired.der)
    assert expired['expired'] and expired['days_left'] < 0
    assert describe_certificate(pki.self_signed.der)['self_signed']


def test_ca_bundle_file_directory_and_errors(pki, tmp_path):
    assert load_ca_bundle(None) == (None, None)
    assert load_ca_bundle(pki.ca_file) == (pki.ca_file, None)
    (tmp_path / 'ca.crt').write_bytes(open(pki.ca_file, 'rb').read())
    (tmp_path / 'readme.txt').write_text('not a certificate')
    cafile, cadata = load_ca_bundle(str(tmp_path))
    assert cafile is None and cadata.count('BEGIN CERTIFICATE') == 1
    make_context(cadata=cadata)  # the bundle is usable as it is
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(CaBundleError, match='no PEM certificates') as caught:
        load_ca_bundle(str(empty))
    assert isinstance(caught.value, MailwrightError) and caught.value.kind == 'file'
    with pytest.raises(ValueError, match='option_x .*no such file'):
        load_ca_bundle(str(tmp_path / 'missing'), option='option_x')


def test_fingerprints_and_pem(pki):
    fp = pki.good.sha256
    assert normalize_fingerprint('sha256:' + fp.replace(':', '').lower()) == fp
    with pytest.raises(ValueError):
        normalize_fingerprint('AB:CD')
    chain = pem_to_der_list(open(pki.good.cert_file).read())
    assert chain[0] == pki.good.der and len(chain) == 2
    with pytest.raises(ValueError, match='no PEM'):
        pem_to_der_list('nothing here')


def test_context_without_verification_checks_nothing():
    import ssl

    context = make_context(verify=False)
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


# --- walk_chain: the path a JVM builds, nothing fetched ----------------------------------------

@pytest.fixture(scope='module')
def chain_pki(tmp_path_factory):
    from tests.support.chain_pki import ChainPKI

    return ChainPKI(tmp_path_factory.mktemp('chain-pki'))


def test_walk_chain_through_the_sent_intermediate(chain_pki):
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import walk_chain

    walked = walk_chain(chain_pki.der('leaf'), [chain_pki.der('inter')], {chain_pki.der('root'): 'root'})
    assert walked['anchor'] == 'root' and walked['anchor_subject'] == 'CN=mailwright Chain Root CA'
    assert walked['missing'] is None and walked['path'] == [chain_pki.der('leaf'), chain_pki.der('inter')]


def test_walk_chain_leaf_alone_names_the_missing_issuer(chain_pki):
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import walk_chain

    walked = walk_chain(chain_pki.der('leaf'), [], {chain_pki.der('root'): 'root'})
    assert walked['anchor'] is None and walked['missing'] == 'CN=mailwright Issuing CA 1'


def test_walk_chain_anchors_are_any_trusted_certificate(chain_pki):
    """A Java truststore trusts an intermediate or the leaf itself when it holds it."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import walk_chain

    assert walk_chain(chain_pki.der('leaf'), [], {chain_pki.der('inter'): 'inter'})['anchor'] == 'inter'
    assert walk_chain(chain_pki.der('leaf'), [], {chain_pki.der('leaf'): 'leaf'})['anchor'] == 'leaf'


def test_walk_chain_refuses_a_certificate_out_of_its_validity(chain_pki):
    from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import walk_chain

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=40)  # the leaf has 20 days
    walked = walk_chain(chain_pki.der('leaf'), [chain_pki.der('inter')], {chain_pki.der('root'): 'root'}, now=later)
    assert walked['anchor'] is None and walked['expired'] == 'CN=127.0.0.1'


def test_make_context_with_given_anchors_accepts_a_partial_chain(pki):
    import ssl

    context = make_context(cafile=pki.ca_file)
    assert context.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert not make_context().verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN  # the system CAs: as OpenSSL says
