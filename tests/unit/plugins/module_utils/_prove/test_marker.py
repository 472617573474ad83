"""Idempotence markers (_prove/marker.py): canonical JSON, keyed fingerprints, the per-host key, marker files."""
from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._prove.marker import (
    KEY_FILE_NAME,
    MarkerError,
    canonical_json,
    default_marker_path,
    fingerprint,
    iso_utc,
    key_path_for,
    load_or_create_key,
    marker_age,
    read_key,
    read_marker,
    write_marker,
)

KEY = b'k' * 32


def test_canonical_json_ignores_key_order_and_keeps_unicode():
    assert canonical_json({'b': 1, 'a': {'y': [1, 2], 'x': 'é'}}) == canonical_json({'a': {'x': 'é', 'y': [1, 2]}, 'b': 1})
    assert canonical_json({'a': 'é', 'b': None}) == '{"a":"é","b":null}'.encode()


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError):
        canonical_json({'a': float('nan')})


def test_fingerprint_is_keyed_hmac_sha256_of_the_canonical_json():
    material = {'settings': {'auth': {'password': 'Canary-5ecret-Pa55'}}, 'recipients': ['a@example.test']}
    value = fingerprint(KEY, material)
    assert value.startswith('hmac-sha256:') and len(value) == len('hmac-sha256:') + 64
    assert value == fingerprint(KEY, json.loads(json.dumps(material)))
    assert value != fingerprint(b'x' * 32, material)  # another host, another fingerprint
    changed = {'settings': {'auth': {'password': 'Canary-5ecret-Pa56'}}, 'recipients': ['a@example.test']}
    assert value != fingerprint(KEY, changed)
    # without the key the plain hash of the material tells nothing
    assert hashlib.sha256(canonical_json(material)).hexdigest() not in value


def test_default_marker_path_is_per_product_and_relay():
    path = default_marker_path('jira', 'SMTP.Example.com', 587)
    relay = hashlib.sha1(b'smtp.example.com:587').hexdigest()
    assert path == f'/var/lib/mailwright/test_send/jira-{relay}.json'
    assert default_marker_path('confluence', 'smtp.example.com', 587) != path
    assert default_marker_path('jira', 'smtp.example.com', 465) != path
    assert default_marker_path('jira', 'h', 25, directory='/tmp/x').startswith('/tmp/x/jira-')


def test_key_lives_next_to_the_marker(tmp_path):
    assert key_path_for(str(tmp_path / 'state' / 'm.json')) == str(tmp_path / 'state' / KEY_FILE_NAME)


def test_key_is_made_once_private_and_kept(tmp_path):
    path = str(tmp_path / 'new-dir' / KEY_FILE_NAME)
    assert read_key(path) is None
    key = load_or_create_key(path)
    assert len(key) == 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert load_or_create_key(path) == key == read_key(path)
    assert os.listdir(os.path.dirname(path)) == [KEY_FILE_NAME]  # no temporary file left


def test_concurrent_runs_agree_on_one_key(tmp_path):
    path = str(tmp_path / KEY_FILE_NAME)
    keys, barrier = [], threading.Barrier(8)

    def make():
        barrier.wait()
        keys.append(load_or_create_key(path))

    threads = [threading.Thread(target=make) for _index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys) == 8


def test_a_damaged_key_is_an_error_that_says_what_to_do(tmp_path):
    path = tmp_path / KEY_FILE_NAME
    path.write_bytes(b'short')
    with pytest.raises(MarkerError, match='32 bytes.*delete it'):
        read_key(str(path))


def test_marker_round_trip_is_private_and_atomic(tmp_path):
    path = tmp_path / 'state' / 'proof.json'
    record = {'fingerprint': 'hmac-sha256:ab', 'epoch': 1000.0, 'time': iso_utc(1000.0), 'message_id': '<x@y>'}
    write_marker(None, str(path), record)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_marker(str(path)) == dict(record, version=1)
    os.chmod(path, 0o644)  # a marker someone loosened is tightened by the next write
    write_marker(None, str(path), dict(record, epoch=2000.0))
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_marker(str(path))['epoch'] == 2000.0
    assert sorted(os.listdir(path.parent)) == ['proof.json']


def test_missing_marker_is_none_and_a_corrupt_one_an_error(tmp_path):
    path = tmp_path / 'proof.json'
    assert read_marker(str(path)) is None
    path.write_text('{broken')
    with pytest.raises(MarkerError, match='not a JSON marker'):
        read_marker(str(path))
    path.write_text('{"time": "2026-01-01T00:00:00Z"}')
    with pytest.raises(MarkerError, match='no fingerprint'):
        read_marker(str(path))
    path.write_text('[1, 2]')
    with pytest.raises(MarkerError):
        read_marker(str(path))


def test_marker_age():
    assert marker_age({'epoch': 100.0}, now=160.0) == 60.0
    assert marker_age({'epoch': 200.0}, now=160.0) == 0.0  # a clock that went back is not a negative age
    assert marker_age({'time': 'yesterday'}, now=1.0) is None


def test_iso_utc():
    assert iso_utc(0) == '1970-01-01T00:00:00Z'
