"""drift: the host's reading against the desired settings rendered and read back."""
from __future__ import annotations

from ansible_collections.mailwright.smtp.plugins.module_utils._info.drift import compare, flatten
from ansible_collections.mailwright.smtp.plugins.module_utils._info.readback import Reading


def test_flatten_gives_every_leaf_a_json_path():
    assert sorted(flatten({'server': {'port': 25, 'properties': {'mail.smtp.x': '1'}}})) == [
        "$.server.port", "$.server.properties['mail.smtp.x']"]


def test_equal_readings_have_no_drift_and_unknown_paths_are_skipped():
    have = Reading({'server': {'host': 'a', 'port': 25}}, unknown=['$.auth'])
    want = Reading({'server': {'host': 'a', 'port': 25}, 'auth': {'method': 'none'}})
    assert compare(have, want, {}) == []


def test_a_changed_value_names_its_path_and_shows_the_settings_value():
    have = Reading({'server': {'timeout_ms': 2000}})
    want = Reading({'server': {'timeout_ms': 2000 + 1000}})
    assert compare(have, want, {'server': {'timeout_ms': 2500}}) == [
        {'path': '$.server.timeout_ms', 'current': 2000, 'desired': 2500}]


def test_secrets_are_compared_but_never_shown():
    have = Reading({'auth': {'password': '********'}}, secrets={'$.auth.password': 'old-Canary'})
    want = Reading({'auth': {'password': '********'}}, secrets={'$.auth.password': 'new-Canary'})
    drift = compare(have, want, {'auth': {'password': 'new-Canary'}})
    assert drift == [{'path': '$.auth.password', 'current': '********', 'desired': '********', 'masked': True}]
    same = Reading({}, secrets={'$.auth.password': 'new-Canary'})
    assert compare(same, want, {}) == []
    # a password the host cannot show is no drift
    assert compare(Reading({}, unknown=['$.auth.password']), want, {}) == []
