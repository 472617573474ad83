"""Unit tests for the keytool driver: listing parser, store type detection, redaction."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import stat
import textwrap

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._trust import keytool as kt
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import sha256_fingerprint

CANARY = 'Canary-5ecret-Pa55'


def _make_cert_der(common_name: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def _pem_lines(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    return '-----BEGIN CERTIFICATE-----\n' + '\n'.join(body[i:i + 64] for i in range(0, len(body), 64)) \
        + '\n-----END CERTIFICATE-----\n'


@pytest.fixture(scope='module')
def certs():
    return [_make_cert_der(f'unit-{i}.example.test') for i in range(3)]


def _listing(certs) -> str:
    """Output in the shape JDK 17 `keytool -list -rfc` prints (captured from a real run)."""
    return (
        'Keystore type: PKCS12\nKeystore provider: SUN\n\nYour keystore contains 3 entries\n\n'
        'Alias name: mailwright-smtp.example.com\nCreation date: Nov 23, 2026\nEntry type: trustedCertEntry\n\n'
        + _pem_lines(certs[0]) +
        '\n\n*******************************************\n*******************************************\n\n\n'
        'Alias name: server, with comma\nCreation date: Nov 23, 2026\nEntry type: PrivateKeyEntry\n'
        'Certificate chain length: 2\nCertificate[1]:\n' + _pem_lines(certs[1]) + 'Certificate[2]:\n'
        + _pem_lines(certs[2]) +
        '\n\n*******************************************\n*******************************************\n\n\n'
        'Alias name: secret\nCreation date: Nov 23, 2026\nEntry type: SecretKeyEntry\n\n\n'
        '*******************************************\n*******************************************\n'
    )


def test_parse_list_output_reads_aliases_types_and_fingerprints(certs):
    entries = kt.parse_list_output(_listing(certs))
    assert [e.alias for e in entries] == ['mailwright-smtp.example.com', 'server, with comma', 'secret']
    assert [e.entry_type for e in entries] == ['trustedCertEntry', 'PrivateKeyEntry', 'SecretKeyEntry']
    assert entries[0].trusted and not entries[1].trusted
    assert entries[0].der == certs[0]
    assert entries[1].certificates == (certs[1], certs[2])
    expected = hashlib.sha256(certs[0]).hexdigest().upper()
    assert entries[0].sha256.replace(':', '') == expected
    assert entries[2].sha256 == '' and entries[2].der is None


def test_parse_list_output_of_an_empty_store():
    text = 'Keystore type: JKS\nKeystore provider: SUN\n\nYour keystore contains 0 entries\n\n'
    assert kt.parse_list_output(text) == []


def test_parse_list_output_rejects_broken_base64():
    text = ('Alias name: bad\nEntry type: trustedCertEntry\n\n'
            '-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n')
    with pytest.raises(ValueError, match="alias 'bad'"):
        kt.parse_list_output(text)


def test_sha256_fingerprint_format():
    fp = sha256_fingerprint(b'abc')
    assert fp == ':'.join(hashlib.sha256(b'abc').hexdigest().upper()[i:i + 2] for i in range(0, 64, 2))
    assert len(fp) == 95


@pytest.mark.parametrize('head, expected', [
    (b'\xfe\xed\xfe\xed\x00\x00\x00\x02', 'jks'),
    (b'\xce\xce\xce\xce\x00\x00\x00\x02', 'jceks'),
    (b'\x30\x82\x03\xc8\x02\x01\x03', 'pkcs12'),
    (b'', None),
])
def test_detect_store_type_from_bytes(head, expected):
    assert kt.detect_store_type(head) == expected


def test_detect_store_type_from_files(tmp_path):
    jks = tmp_path / 'a.jks'
    jks.write_bytes(b'\xfe\xed\xfe\xed' + b'\x00' * 20)
    assert kt.detect_store_type(str(jks)) == 'jks'
    assert kt.detect_store_type(tmp_path / 'missing') is None
    empty = tmp_path / 'empty'
    empty.write_bytes(b'')
    assert kt.detect_store_type(empty) is None
    text = tmp_path / 'notes.txt'
    text.write_text('hello')
    with pytest.raises(ValueError, match='not a Java keystore.*68656c6c'):
        kt.detect_store_type(text)


def test_redact_text_replaces_every_secret_longest_first():
    text = f'pw={CANARY} short=Canary rest'
    assert kt.redact_text(text, [CANARY, 'Canary', None, '']) == 'pw=******** short=******** rest'
    assert kt.redact_text('nothing here', []) == 'nothing here'


@pytest.mark.parametrize('output, reason', [
    ('keytool error: java.io.IOException: keystore password was incorrect', 'keystore password was incorrect'),
    ('keytool error: java.lang.Exception: Alias <x> does not exist', 'Alias <x> does not exist'),
    ('Warning: something\nkeytool error: java.lang.Exception: Input not an X.509 certificate',
     'Input not an X.509 certificate'),
    ('plain last line\n', 'plain last line'),
])
def test_keytool_reason(output, reason):
    assert kt._keytool_reason(output) == reason


def _fake_keytool(tmp_path, body: str) -> str:
    """A stand-in executable for error paths a real keytool cannot be made to take on demand."""
    path = tmp_path / 'bin' / 'keytool'
    path.parent.mkdir(exist_ok=True)
    path.write_text('#!/bin/sh\n' + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_password_travels_by_environment_and_is_redacted_from_errors(tmp_path):
    # This keytool echoes its arguments and the password it received, then fails: the password
    # must not be among the arguments, and must not survive into the error.
    exe = _fake_keytool(tmp_path, '''\
        echo "args: $*"
        echo "keytool error: java.io.IOException: bad store, pass=$MAILWRIGHT_KEYTOOL_STOREPASS" >&2
        exit 1
    ''')
    tool = kt.Keytool(exe)
    with pytest.raises(kt.KeytoolError) as info:
        tool.list_entries(str(tmp_path / 'store.p12'), CANARY, 'pkcs12')
    err = info.value
    assert 'bad store, pass=********' in err.reason
    assert '-storepass:env' in err.output
    for text in (str(err), err.reason, err.output, repr(err.to_dict())):
        assert CANARY not in text
    assert (err.cause, err.kind) == ('keytool', 'tool') and err.returncode == 1


def test_wrong_password_is_classified(tmp_path):
    exe = _fake_keytool(tmp_path, '''\
        echo "keytool error: java.io.IOException: Keystore was tampered with, or password was incorrect"
        exit 1
    ''')
    with pytest.raises(kt.KeytoolError) as info:
        kt.Keytool(exe).list_entries('/nonexistent.jks', 'x', 'jks')
    assert (info.value.cause, info.value.kind) == ('password', 'invalid')
    assert 'store_password' in str(info.value)
    assert 'Keystore was tampered with, or password was incorrect' in str(info.value)


def test_timeout_is_bounded(tmp_path):
    exe = _fake_keytool(tmp_path, 'sleep 5\n')
    with pytest.raises(kt.KeytoolError, match='within 0.3 s') as info:
        kt.Keytool(exe, timeout=0.3).list_entries('/x', 'y')
    assert (info.value.cause, info.value.kind) == ('timeout', 'tool')


def test_missing_keytool_is_a_clear_error(tmp_path):
    with pytest.raises(kt.KeytoolError, match='keytool not found') as info:
        kt.Keytool(str(tmp_path / 'nope' / 'keytool'))
    assert (info.value.cause, info.value.kind) == ('missing', 'missing')


def test_find_cacerts_from_a_bundled_jre_layout(tmp_path):
    # Atlassian layout: <install>/jre/bin/keytool and <install>/jre/lib/security/cacerts.
    jre = tmp_path / 'atlassian' / 'jira' / 'jre'
    (jre / 'bin').mkdir(parents=True)
    (jre / 'lib' / 'security').mkdir(parents=True)
    keytool = jre / 'bin' / 'keytool'
    keytool.write_text('')
    cacerts = jre / 'lib' / 'security' / 'cacerts'
    cacerts.write_bytes(b'\xfe\xed\xfe\xed')
    assert kt.java_home_from_keytool(str(keytool)) == str(jre)
    assert kt.find_cacerts(str(keytool)) == str(cacerts)
    # Through a symlink (Debian's /usr/bin/keytool -> alternatives -> JDK) the real home counts.
    link = tmp_path / 'usr-bin-keytool'
    os.symlink(keytool, link)
    assert kt.find_cacerts(str(link)) == str(cacerts)


def test_find_cacerts_java8_layout(tmp_path):
    jdk = tmp_path / 'jdk8'
    (jdk / 'bin').mkdir(parents=True)
    (jdk / 'jre' / 'lib' / 'security').mkdir(parents=True)
    (jdk / 'jre' / 'lib' / 'security' / 'cacerts').write_bytes(b'x')
    assert kt.find_cacerts(str(jdk / 'bin' / 'keytool')) == str(jdk / 'jre' / 'lib' / 'security' / 'cacerts')


# --- the module backend's planning (pure functions over keytool listings) -------------------

from ansible_collections.mailwright.smtp.plugins.module_utils._trust import truststore as ts  # noqa: E402


def _trusted(alias, der):
    return kt.Entry(alias=alias, entry_type='trustedCertEntry', certificates=(der,))


def test_default_alias_and_chain_aliases():
    assert ts.default_alias('SMTP.Example.com.') == 'mailwright-smtp.example.com'
    assert ts.chain_aliases('relay', 3) == ['relay', 'relay-1', 'relay-2']
    assert ts.chain_aliases('relay', 1) == ['relay']


def test_select_certificates(certs):
    assert ts.select_certificates(certs, 'leaf') == [certs[0]]
    assert ts.select_certificates(certs, 'root') == [certs[2]]
    assert ts.select_certificates(certs, 'chain') == certs
    with pytest.raises(ts.TruststoreError, match='empty chain'):
        ts.select_certificates([], 'leaf')


def test_plan_is_idempotent_by_fingerprint_and_ignores_other_aliases(certs):
    other = _trusted('someone-else', certs[1])
    mine = _trusted('relay', certs[0])
    # Same certificate under the alias (alias case does not matter): nothing to do.
    assert ts.plan_actions([other, _trusted('RELAY', certs[0])], state='present', alias='relay',
                           wanted=[certs[0]]) == []
    # Missing: add. Different: replace, naming both fingerprints.
    (add,) = ts.plan_actions([other], state='present', alias='relay', wanted=[certs[0]])
    assert (add.action, add.alias, add.sha256_before, add.der) == ('add', 'relay', None, certs[0])
    # A different certificate nobody vouches for is refused (rotation policy) unless allowed.
    with pytest.raises(ts.TruststoreError, match='differs from the stored one'):
        ts.plan_actions([other, mine], state='present', alias='relay', wanted=[certs[2]])
    (rep,) = ts.plan_actions([other, mine], state='present', alias='relay', wanted=[certs[2]], allow_replace=True)
    assert (rep.action, rep.sha256_before, rep.sha256_after) == ('replace', mine.sha256, sha256_fingerprint(certs[2]))
    # Absent removes only our alias; absent twice is a no-op.
    (rem,) = ts.plan_actions([other, mine], state='absent', alias='relay')
    assert (rem.action, rem.alias) == ('remove', 'relay')
    assert ts.plan_actions([other], state='absent', alias='relay') == []


def test_plan_chain_mode_removes_stale_numbered_aliases(certs):
    entries = [_trusted('relay', certs[0]), _trusted('relay-1', certs[1]), _trusted('relay-2', certs[2]),
               _trusted('relay-backup', certs[2]), _trusted('relay-10x', certs[2])]
    actions = ts.plan_actions(entries, state='present', alias='relay', wanted=certs[:2], chain_mode=True)
    assert [(a.action, a.alias) for a in actions] == [('remove', 'relay-2')]
    actions = ts.plan_actions(entries, state='absent', alias='relay', chain_mode=True)
    assert [(a.action, a.alias) for a in actions] == [('remove', 'relay'), ('remove', 'relay-1'),
                                                      ('remove', 'relay-2')]


def test_plan_refuses_to_touch_a_private_key_entry(certs):
    key_entry = kt.Entry(alias='relay', entry_type='PrivateKeyEntry', certificates=(certs[0],))
    with pytest.raises(ts.TruststoreError, match='PrivateKeyEntry'):
        ts.plan_actions([key_entry], state='present', alias='relay', wanted=[certs[1]])
    with pytest.raises(ts.TruststoreError, match='refusing to remove'):
        ts.plan_actions([key_entry], state='absent', alias='relay')


def test_predicted_entries_and_summary(certs):
    entries = [_trusted('b-other', certs[1]), _trusted('relay', certs[0])]
    actions = ts.plan_actions(entries, state='present', alias='relay', wanted=[certs[2]], allow_replace=True)
    after = ts.apply_plan_to_entries(entries, actions)
    summary = ts.entries_summary(after)
    assert summary == f'b-other: {sha256_fingerprint(certs[1])}\nrelay: {sha256_fingerprint(certs[2])}\n'
    assert ts.entries_summary([]) == ''
    key_entry = kt.Entry(alias='tomcat', entry_type='PrivateKeyEntry', certificates=(certs[0],))
    assert ts.entries_summary([key_entry]).endswith('(PrivateKeyEntry)\n')


def test_certificates_from_pem_bundle_der_and_garbage(certs):
    bundle = _pem_lines(certs[0]) + 'comment between\n' + _pem_lines(certs[1])
    assert ts.certificates_from_pem(bundle, where='x') == certs[:2]
    assert ts.certificates_from_pem(certs[2], where='x') == [certs[2]]
    with pytest.raises(ts.TruststoreError, match='relay.txt: no "-----BEGIN CERTIFICATE-----"'):
        ts.certificates_from_pem(b'hello', where='relay.txt')


def test_store_type_for_new_existing_and_contradicting(tmp_path):
    missing = str(tmp_path / 'new.p12')
    assert ts._store_type_for(missing, 'auto') == ('pkcs12', False)
    assert ts._store_type_for(missing, 'jks') == ('jks', False)
    jks = tmp_path / 'a.jks'
    jks.write_bytes(b'\xfe\xed\xfe\xed\x00\x00\x00\x02')
    assert ts._store_type_for(str(jks), 'auto') == ('jks', True)
    with pytest.raises(ts.TruststoreError, match='store_type is pkcs12 but .* is a JKS keystore'):
        ts._store_type_for(str(jks), 'pkcs12')
    empty = tmp_path / 'empty.p12'
    empty.write_bytes(b'')
    with pytest.raises(ts.TruststoreError, match='exists but is empty'):
        ts._store_type_for(str(empty), 'auto')
    with pytest.raises(ts.TruststoreError, match='cannot read'):
        ts._store_type_for(str(tmp_path), 'auto')


# --- where cacerts is, and a truststore as a CA bundle -----------------------------------------

def test_cacerts_candidates_most_specific_first(tmp_path):
    jdk = tmp_path / 'jdk'
    (jdk / 'bin').mkdir(parents=True)
    java = jdk / 'bin' / 'java'
    java.write_text('#!/bin/sh\n')
    java.chmod(0o755)
    found = kt.cacerts_candidates('/opt/jre17/bin/keytool', app_home='/opt/atlassian/jira',
                                  environ={'JAVA_HOME': '/usr/lib/jvm/home', 'PATH': str(jdk / 'bin')})
    assert found == ['/opt/atlassian/jira/jre/lib/security/cacerts', '/opt/atlassian/jira/jre/jre/lib/security/cacerts',
                     '/opt/jre17/lib/security/cacerts', '/opt/jre17/jre/lib/security/cacerts',
                     '/usr/lib/jvm/home/lib/security/cacerts', '/usr/lib/jvm/home/jre/lib/security/cacerts',
                     f'{jdk}/lib/security/cacerts', f'{jdk}/jre/lib/security/cacerts', kt.DEBIAN_CACERTS]


def test_find_cacerts_prefers_the_application_jre(tmp_path):
    bundled = tmp_path / 'jira' / 'jre' / 'lib' / 'security' / 'cacerts'
    bundled.parent.mkdir(parents=True)
    bundled.write_bytes(b'\xfe\xed\xfe\xed')
    assert kt.find_cacerts(None, app_home=str(tmp_path / 'jira'), environ={'PATH': ''}) == str(bundled)


def test_store_ca_bundle_names_the_option(tmp_path):
    from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError

    with pytest.raises(MailwrightError, match=r'truststore_path .*missing\.p12: no such file') as info:
        kt.store_ca_bundle(str(tmp_path / 'missing.p12'), 'changeit')
    assert info.value.kind == 'file'
    junk = tmp_path / 'junk.p12'
    junk.write_bytes(b'0\x82garbage')
    with pytest.raises(MailwrightError, match='cannot read it with the given truststore_password'):
        kt.store_ca_bundle(str(junk), 'changeit', 'auto')


def test_verification_hint_names_the_options():
    assert 'truststore_path /t.p12 (3 certificates)' in kt.verification_hint('/t.p12', 3)
    hint = kt.verification_hint(None)
    assert 'set truststore_path' in hint and 'ca_path' in hint
