"""ensure_truststore, the whole truststore_cert run without Ansible: a stand-in host (file attributes)
and an in-memory keytool, so the flow (plan, check mode, diff, warnings, the rotation refusal, the
JVM options file's secret rule) is tested in milliseconds; real keytool runs are integration tests."""

from __future__ import annotations

import json
import os
import ssl

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._trust import truststore as ts
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import Entry
from ansible_collections.mailwright.smtp.plugins.module_utils._net.tls import sha256_fingerprint
from tests.support.certs import self_signed

PASSWORD = 'Store-Canary-7731'


class FakeKeytool:
    """keytool over a file that is b'0' (a DER SEQUENCE byte, so it is detected as PKCS12) + JSON."""

    path = '/fake/bin/keytool'
    java_home = '/fake'

    def __init__(self, executable: str = 'keytool', *, timeout: float = 120.0):
        self.timeout = timeout

    @staticmethod
    def _read(store: str) -> dict[str, str]:
        with open(store, 'rb') as handle:
            return json.loads(handle.read()[1:] or b'{}')

    @staticmethod
    def _write(store: str, entries: dict[str, str]) -> None:
        with open(store, 'wb') as handle:
            handle.write(b'0' + json.dumps(entries).encode())

    def list_entries(self, store, password, store_type=None, *, fast=False):
        return [Entry(alias, 'trustedCertEntry', (bytes.fromhex(der),)) for alias, der in sorted(self._read(store).items())]

    def import_certificate(self, store, password, store_type, alias, der):
        entries = self._read(store) if os.path.exists(store) else {}
        entries[alias] = der.hex()
        self._write(store, entries)

    def delete_entry(self, store, password, store_type, alias):
        entries = self._read(store)
        entries.pop(alias)
        self._write(store, entries)

    def find_cacerts(self, *, app_home=None):
        return None


class Host:
    """The TaskFileHost part of AnsibleModule: file attributes are recorded, never changed."""

    def __init__(self):
        self.attribute_calls: list[dict] = []
        self.warned: list[str] = []

    def load_file_common_arguments(self, params, path=None):
        return {'path': path or params['path'], 'mode': params.get('mode'), 'owner': None, 'group': None,
                'seuser': None, 'serole': None, 'setype': None, 'selevel': None, 'secontext': [None] * 4,
                'attributes': None}

    def set_fs_attributes_if_different(self, file_args, changed, diff=None, expand=True):
        self.attribute_calls.append(file_args)
        return changed

    @staticmethod
    def _symbolic_mode_to_octal(path_stat, symbolic_mode):
        from ansible.module_utils.basic import AnsibleModule

        return AnsibleModule._symbolic_mode_to_octal(path_stat, symbolic_mode)

    def warn(self, warning):  # the backend collects warnings in its result instead
        self.warned.append(warning)


@pytest.fixture(autouse=True)
def fake_keytool(monkeypatch):
    monkeypatch.setattr(ts, 'Keytool', FakeKeytool)


def params(tmp_path, pem: str, **extra) -> dict:
    base = {
        'settings': None, 'host': None, 'port': None, 'timeout': 10.0, 'pem_path': None, 'pem_content': pem,
        'certificate': 'leaf', 'alias': 'relay', 'fingerprint': None, 'allow_replace': False,
        'path': str(tmp_path / 'trust.p12'), 'store_type': 'auto', 'store_password': PASSWORD,
        'keytool': 'keytool', 'keytool_timeout': 5.0, 'seed': 'none', 'create_from_cacerts': None, 'cacerts_path': None, 'app_home': None,
        'seed_password': 'changeit', 'state': 'present', 'backup': False, 'expiry_warning_days': 30,
        'jvm_options_file': None, 'jvm_options_variable': 'CATALINA_OPTS', 'jvm_options_insert_after': None,
        'allow_world_readable': False, 'mode': None,
    }
    base.update(extra)
    return base


def _pem(files) -> str:
    return ssl.DER_cert_to_PEM_cert(files.der)


@pytest.fixture
def cert(tmp_path):
    files = self_signed(tmp_path, 'relay')
    return _pem(files), files.der


def test_add_then_nothing_to_do(tmp_path, cert):
    pem, der = cert
    host = Host()
    result = ts.ensure_truststore(params(tmp_path, pem), None, host=host)
    assert result['changed'] is True and result['actions'] == [
        {'action': 'add', 'alias': 'relay', 'sha256_before': None, 'sha256_after': sha256_fingerprint(der)}]
    assert (result['entries_before'], result['entries_after'], result['store_type']) == (0, 1, 'pkcs12')
    assert result['seeded'] == {'source': 'none', 'entries': 0} and result['other_trusted_entries'] == 0
    # seed=none: the store holds the relay alone, which a JVM pointed at it would be left with.
    assert len(result['warnings']) == 1 and 'Marketplace, licensing' in result['warnings'][0]
    assert 'diff' not in result
    assert oct(os.stat(tmp_path / 'trust.p12').st_mode & 0o777) == oct(ts.DEFAULT_NEW_STORE_MODE)

    again = ts.ensure_truststore(params(tmp_path, pem), None, host=host)
    assert again['changed'] is False and again['actions'] == [] and again['entries_after'] == 1
    assert again['warnings'] == [] and 'seeded' not in again  # existing, and the JVM is not pointed at it here
    assert host.attribute_calls[-1]['path'] == str(tmp_path / 'trust.p12')  # owner/mode still applied
    assert host.warned == []  # nothing goes to the module directly


def test_check_mode_writes_nothing_and_diff_only_when_asked(tmp_path, cert):
    pem, der = cert
    result = ts.ensure_truststore(params(tmp_path, pem), None, host=Host(), check_mode=True, diff=True)
    assert result['changed'] is True and not (tmp_path / 'trust.p12').exists()
    assert result['pending'] is True  # nothing may verify against a store that does not hold this yet
    assert ts.ensure_truststore(params(tmp_path, pem), None, host=Host())['pending'] is False
    assert result['diff']['after'] == f'relay: {sha256_fingerprint(der)}\n' and result['diff']['before'] == ''


def test_expiry_is_a_warning_in_the_result(tmp_path, cert):
    pem, _der = cert
    result = ts.ensure_truststore(params(tmp_path, pem, expiry_warning_days=100000), None, host=Host())
    assert len(result['warnings']) == 2 and 'expires in' in result['warnings'][0]


def test_a_refused_rotation_is_a_conflict_and_keeps_the_warnings(tmp_path, cert):
    pem, _der = cert
    ts.ensure_truststore(params(tmp_path, pem), None, host=Host())
    other_pem = _pem(self_signed(tmp_path, 'other'))
    before = (tmp_path / 'trust.p12').read_bytes()
    with pytest.raises(ts.TruststoreError) as info:
        ts.ensure_truststore(params(tmp_path, other_pem, expiry_warning_days=100000), None, host=Host())
    assert info.value.kind == 'conflict' and info.value.details['refused'][0]['alias'] == 'relay'
    assert len(info.value.warnings) == 1 and 'expires in' in info.value.warnings[0]
    assert info.value.to_result()['kind'] == 'conflict'
    assert (tmp_path / 'trust.p12').read_bytes() == before
    replaced = ts.ensure_truststore(params(tmp_path, other_pem, allow_replace=True), None, host=Host())
    assert replaced['rotated'][0]['reason'] == 'allow_replace is true'
    assert any('changed; the new one is accepted' in w for w in replaced['warnings'])


def test_absent_removes_only_our_alias(tmp_path, cert):
    pem, _der = cert
    ts.ensure_truststore(params(tmp_path, pem), None, host=Host())
    result = ts.ensure_truststore(params(tmp_path, None, state='absent'), None, host=Host())
    assert result['changed'] is True and [a['action'] for a in result['actions']] == ['remove']
    assert result['entries_after'] == 0


def test_option_errors_have_kinds(tmp_path, cert):
    pem, _der = cert
    with pytest.raises(ts.TruststoreError) as info:
        ts.ensure_truststore(params(tmp_path, None, alias=None), None, host=Host())
    assert info.value.kind == 'invalid' and 'alias is required' in info.value.message
    with pytest.raises(ts.TruststoreError) as info:
        ts.ensure_truststore(params(tmp_path, None, pem_content=None, pem_path=str(tmp_path / 'none.pem')), None,
                             host=Host())
    assert info.value.kind == 'file'
    with pytest.raises(ts.TruststoreError) as info:
        ts.ensure_truststore(params(tmp_path, pem, fingerprint='AA' * 32), None, host=Host())
    assert info.value.kind == 'tls' and info.value.details['expected_sha256']


def test_jvm_options_file_secret_rule(tmp_path, cert):
    pem, _der = cert
    setenv = tmp_path / 'setenv.sh'
    setenv.write_text('#!/bin/sh\n')
    setenv.chmod(0o644)
    with pytest.raises(ts.TruststoreError) as info:
        ts.ensure_truststore(params(tmp_path, pem, jvm_options_file=str(setenv)), None, host=Host())
    assert info.value.kind == 'file' and 'readable by every user' in info.value.message
    assert not (tmp_path / 'trust.p12').exists()  # refused before the store was touched

    host = Host()
    result = ts.ensure_truststore(params(tmp_path, pem, jvm_options_file=str(setenv), allow_world_readable=True),
                                  None, host=host, diff=True)
    assert result['jvm_options'] == {'path': str(setenv), 'changed': True}
    assert any('readable by every user' in w for w in result['warnings']) and host.warned == []
    assert PASSWORD in setenv.read_text() and PASSWORD not in json.dumps(result['diff'])


def test_jvm_options_secrets_only_when_the_file_is_written():
    base = {'state': 'present', 'jvm_options_file': '/opt/app/bin/setenv.sh', 'store_password': 'a"b$c'}
    assert 'a\\"b\\$c' in ts.jvm_options_secrets(base)  # the password as the shell-quoted block holds it
    assert ts.jvm_options_secrets(dict(base, state='absent')) == []
    assert ts.jvm_options_secrets(dict(base, jvm_options_file=None)) == []


@pytest.mark.parametrize(('seed', 'legacy', 'cacerts_path', 'expected'), [
    (None, None, None, 'cacerts'),
    (None, True, None, 'cacerts'),
    (None, False, None, 'none'),
    ('none', None, None, 'none'),
    ('/srv/base.jks', None, None, '/srv/base.jks'),
    (None, None, '/srv/cacerts', '/srv/cacerts'),
    ('cacerts', True, '/srv/cacerts', '/srv/cacerts'),
])
def test_seed_of(seed, legacy, cacerts_path, expected):
    assert ts.seed_of({'seed': seed, 'create_from_cacerts': legacy, 'cacerts_path': cacerts_path}) == expected


@pytest.mark.parametrize(('seed', 'legacy'), [('cacerts', False), ('none', True), ('', None)])
def test_seed_contradictions_are_refused(seed, legacy):
    with pytest.raises(ts.TruststoreError, match='seed'):
        ts.seed_of({'seed': seed, 'create_from_cacerts': legacy, 'cacerts_path': None})


def test_seed_cacerts_not_found_names_the_places_and_writes_nothing(tmp_path, cert):
    pem, _der = cert
    with pytest.raises(ts.TruststoreError, match=r'seed=cacerts: no cacerts found .*seed=none') as info:
        ts.ensure_truststore(params(tmp_path, pem, seed='cacerts', app_home=str(tmp_path / 'jira')), None, host=Host())
    assert str(tmp_path / 'jira' / 'jre' / 'lib' / 'security' / 'cacerts') in info.value.message
    assert info.value.kind == 'file' and not (tmp_path / 'trust.p12').exists()
