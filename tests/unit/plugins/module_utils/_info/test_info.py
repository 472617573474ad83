"""info: the proof (marker + key), the JVM options file and the run without settings."""
from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._info import info
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.marker import fingerprint, key_path_for
from ansible_collections.mailwright.smtp.plugins.module_utils._prove.test_send import (
    SendOptions,
    fingerprint_material,
    recipients_of,
    settings_fingerprint,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective

DOC = {'product': 'generic', 'server': {'host': 'smtp.example.com', 'port': 587},
       'auth': {'method': 'basic', 'username': 'u', 'password': 'Canary-1'},
       'sender': {'from_address': 'app@example.com'}, 'test': {'recipients': ['ops@example.com'], 'max_age': '1d'}}


def prove(tmp_path, effective, *, epoch: float, ca_path=None) -> str:
    marker = tmp_path / 'state' / 'proof.json'
    marker.parent.mkdir(exist_ok=True)
    key = b'k' * 32
    with open(key_path_for(str(marker)), 'wb') as handle:
        handle.write(key)
    material = fingerprint_material(effective, recipients_of(effective), SendOptions(ca_path=ca_path))
    import json

    marker.write_text(json.dumps({'fingerprint': fingerprint(key, material), 'epoch': epoch,
                                  'time': '2026-12-01T00:00:00Z', 'message_id': '<1@x>'}))
    return str(marker)


def test_the_proof_proves_these_settings_and_is_current(tmp_path):
    effective = load_effective(DOC)
    marker = prove(tmp_path, effective, epoch=1000.0, ca_path='/ca.pem')
    params = {'marker_path': marker, 'test_send_ca_path': '/ca.pem', 'test_send_validate_certs': True}
    proof = info.read_info(params, effective, now=1000.0 + 3600)['proof']
    assert proof['found'] and proof['proves_settings'] and proof['current'] and proof['age_seconds'] == 3600
    assert info.read_info(params, effective, now=1000.0 + 2 * 86400)['proof']['current'] is False  # older than 1d
    other = copy.deepcopy(DOC)
    other['auth']['password'] = 'Canary-2'
    proof = info.read_info(params, load_effective(other), now=1000.0 + 60)['proof']
    assert proof['proves_settings'] is False and proof['current'] is False
    # made with another CA file: a proof of something else
    assert info.read_info(dict(params, test_send_ca_path=None), effective, now=1060.0)['proof']['proves_settings'] is False
    # without settings: when, not what
    assert info.read_info(dict(params, product='generic'), None, now=1060.0)['proof']['proves_settings'] is None


def test_a_proof_made_with_another_client_and_truststore_proves_the_same_settings(tmp_path):
    # the role's test send may run client java against the managed truststore; the audit knows neither
    effective = load_effective(DOC)
    marker = tmp_path / 'proof.json'
    key = b'k' * 32
    with open(key_path_for(str(marker)), 'wb') as handle:
        handle.write(key)
    options = SendOptions(truststore_path='/opt/jira/mail-truststore.p12', client='java', app_home='/opt/jira')
    material = fingerprint_material(effective, recipients_of(effective), options)
    import json

    marker.write_text(json.dumps({'fingerprint': fingerprint(key, material), 'epoch': 1000.0,
                                  'settings_fingerprint': settings_fingerprint(key, material),
                                  'time': '2026-12-01T00:00:00Z', 'message_id': '<1@x>'}))
    params = {'marker_path': str(marker), 'test_send_ca_path': None, 'test_send_validate_certs': True}
    proof = info.read_info(params, effective, now=1060.0)['proof']
    assert proof['proves_settings'] is True and proof['current'] is True
    other = copy.deepcopy(DOC)
    other['server']['port'] = 2525
    assert info.read_info(params, load_effective(other), now=1060.0)['proof']['proves_settings'] is False


def test_no_marker_is_no_proof(tmp_path):
    proof = info.read_info({'marker_path': str(tmp_path / 'none.json')}, load_effective(DOC))['proof']
    assert proof['found'] is False and proof['current'] is False


def test_jvm_options_file(tmp_path):
    setenv = tmp_path / 'setenv.sh'
    setenv.write_text('# -Dmail.smtp.host=commented.example.com\n'
                      'JAVA_OPTS="$JAVA_OPTS -Djavax.net.ssl.trustStore=/opt/ts.p12 '
                      "-Djavax.net.ssl.trustStorePassword='pa ss' -Djavax.net.ssl.trustStoreType=PKCS12 "
                      '-Dmail.smtp.port=2525"\n')
    os.chmod(setenv, 0o600)
    findings: list = []
    read = info.read_jvm_options(str(setenv), findings)
    assert read['truststore_path'] == '/opt/ts.p12' and read['truststore_type'] == 'pkcs12'
    assert read['store_password'] == 'pa ss' and read['mail_overrides'] == ['mail.smtp.port']
    assert [f['kind'] for f in findings] == ['jvm_override']
    missing: list = []
    assert info.read_jvm_options(str(tmp_path / 'nope.sh'), missing)['truststore_path'] is None
    assert missing[0]['kind'] == 'missing'


def test_product_is_needed_and_must_agree():
    with pytest.raises(MailwrightError) as caught:
        info.read_info({}, None)
    assert caught.value.kind == 'invalid'
    with pytest.raises(MailwrightError, match='product jira but the settings are for generic'):
        info.read_info({'product': 'jira'}, load_effective(DOC))


def test_a_missing_server_xml_is_a_file_error(tmp_path):
    with pytest.raises(MailwrightError) as caught:
        info.read_info({'server_xml': str(tmp_path / 'server.xml')}, load_effective(DOC))
    assert caught.value.kind == 'file' and 'server_xml' in caught.value.message
