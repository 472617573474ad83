"""The typed effective settings, the one timeout rule and the one list of derived JavaMail keys.

These are contracts other steps rely on: a consumer indexes the effective settings without
re-defaulting, every network step waits by the same rule, and server.properties can never set a
key the renderer writes from the settings.
"""
from __future__ import annotations

import itertools
import re
import typing as t

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._reach import probe as _probe
from ansible_collections.mailwright.smtp.plugins.module_utils._net import smtp as _smtp
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    flavour_keys,
    javamail_properties,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings import model
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import (
    DEFAULT_TIMEOUT_MS,
    DERIVED_PROPERTIES,
    JAVAMAIL_KEYS,
    WAIT_FOREVER_SECONDS,
    EffectiveSettings,
    effective_settings,
    load_effective,
    timeout_seconds,
)
from ansible_collections.mailwright.smtp.plugins.doc_fragments.settings import ModuleDocFragment


def _doc(**server):
    return {'product': 'jira', 'server': {'host': 'smtp.example.com', **server},
            'sender': {'from_address': 'jira@example.com'}}


# A spread of documents: every product, both protocols, every TLS policy and auth method.
_VARIANTS = [
    _doc(),
    _doc(protocol='smtps', timeout_ms=0, helo_domain='app.example.com'),
    dict(_doc(tls='required', jndi={'debug': True}),
         auth={'method': 'basic', 'username': 'u', 'password': 'p', 'mechanism': 'login'}),
    dict(_doc(tls='required'), product='confluence',
         auth={'method': 'oauth2', 'username': 'u@example.com', 'oauth2': {'provider': 'microsoft', 'token': 't'}}),
    dict(_doc(tls='none', port=2525), product='generic'),
    dict(_doc(), product='bitbucket'),
    dict(_doc(), product='ghes', sender={'from_address': 'g@example.com', 'noreply_address': 'noreply@example.com'}),
    {'product': 'jira', 'provider': 'gmail', 'sender': {'from_address': 'jira@example.com'},
     'auth': {'method': 'basic', 'username': 'u', 'password': 'p'}},
]


def _check_typed(value: t.Any, hint: t.Any, where: str) -> None:
    """`value` matches the type hint: TypedDicts key for key (no key missing, none extra)."""
    if t.is_typeddict(hint):
        hints = t.get_type_hints(hint)
        assert isinstance(value, dict), where
        assert set(value) == set(hints), f'{where}: keys {sorted(set(value) ^ set(hints))}'
        for key, sub in hints.items():
            _check_typed(value[key], sub, f'{where}.{key}')
        return
    origin, args = t.get_origin(hint), t.get_args(hint)
    if origin is t.Literal:
        assert value in args, f'{where}: {value!r} not in {args}'
    elif origin in (t.Union, getattr(__import__('types'), 'UnionType', t.Union)):
        errors = []
        for arm in args:
            try:
                _check_typed(value, arm, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError('; '.join(errors))
    elif origin is list:
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            _check_typed(item, args[0], f'{where}[{index}]')
    elif origin is dict:
        assert isinstance(value, dict), where
    elif hint is type(None):
        assert value is None, where
    elif hint is t.Any:
        pass
    else:
        assert isinstance(value, hint) and not (hint is int and isinstance(value, bool)), \
            f'{where}: {value!r} is not {hint}'


@pytest.mark.parametrize('document', _VARIANTS)
def test_effective_settings_match_their_typed_dicts_exactly(document):
    result = effective_settings(document)
    assert result.ok, result.errors
    _check_typed(result.effective, EffectiveSettings, '$')


def test_effective_settings_normalise_to_themselves_with_the_same_shape():
    for document in _VARIANTS:
        effective = load_effective(document)
        assert load_effective(effective) == effective


def test_smtps_always_means_tls_required_so_consumers_need_not_derive_it():
    for document in _VARIANTS:
        server = load_effective(document)['server']
        if server['protocol'] == 'smtps':
            assert server['tls'] == 'required'


# --- the timeout rule ---------------------------------------------------------------------------

@pytest.mark.parametrize(('timeout_ms', 'seconds'), [
    (10000, 10.0), (2500, 2.5), (1, 0.001), (0, WAIT_FOREVER_SECONDS), (-1, WAIT_FOREVER_SECONDS),
])
def test_timeout_seconds_rule(timeout_ms, seconds):
    assert timeout_seconds({'timeout_ms': timeout_ms}) == seconds


def test_timeout_without_settings_is_the_settings_default():
    assert timeout_seconds(None) == DEFAULT_TIMEOUT_MS / 1000 == load_effective(_doc())['server']['timeout_ms'] / 1000


def test_every_network_step_follows_the_one_rule():
    forever = load_effective(_doc(timeout_ms=0))
    assert _smtp.client_from_settings(forever).timeout == WAIT_FOREVER_SECONDS
    assert _probe.probe_timeout(forever, None) == WAIT_FOREVER_SECONDS
    assert _smtp.UNBOUNDED_TIMEOUT == _probe.DEFAULT_TIMEOUT == WAIT_FOREVER_SECONDS
    quick = load_effective(_doc(timeout_ms=1500))
    assert _smtp.client_from_settings(quick).timeout == _probe.probe_timeout(quick, None) == 1.5


def test_the_warning_the_schema_and_the_doc_fragment_promise_the_same_number():
    result = effective_settings(_doc(timeout_ms=0))
    [warning] = [w for w in result.warnings if w.path == '$.server.timeout_ms']
    number = f'{WAIT_FOREVER_SECONDS:g} s'
    assert number in warning.hint
    assert number in model.schema()['properties']['server']['properties']['timeout_ms']['description']
    text = ' '.join(ModuleDocFragment.DOCUMENTATION.split())
    assert f'{WAIT_FOREVER_SECONDS:g} seconds' in text and 'timeout_ms' in text


# --- one list of JavaMail keys -------------------------------------------------------------------

def test_the_renderer_uses_the_settings_key_list():
    assert flavour_keys('javamail') is JAVAMAIL_KEYS
    assert set(JAVAMAIL_KEYS) <= DERIVED_PROPERTIES


def test_every_key_javamail_properties_can_emit_is_derived():
    emitted: set[str] = set()
    auths = [None, {'method': 'basic', 'username': 'u', 'password': 'p'}]
    auths += [{'method': 'basic', 'username': 'u', 'password': 'p', 'mechanism': m} for m in ('plain', 'login', 'cram_md5')]
    servers = [dict(protocol=p, tls=tls, timeout_ms=ms, **extra)
               for p, tls, ms, extra in itertools.product(
                   ('smtp', 'smtps'), ('none', 'opportunistic', 'required'), (0, 5000),
                   ({}, {'helo_domain': 'app.example.com', 'jndi': {'debug': True}}))
               if not (p == 'smtps' and tls == 'none')]
    for server, auth in itertools.product(servers, auths):
        document = _doc(**server)
        if auth:
            document['auth'] = auth
        result = effective_settings(document)
        assert result.ok, (document, result.errors)
        emitted |= set(javamail_properties(result.effective))
    assert emitted <= DERIVED_PROPERTIES, sorted(emitted - DERIVED_PROPERTIES)
    assert emitted == set(JAVAMAIL_KEYS)  # and the list holds nothing the renderer never writes


def test_every_derived_smtp_key_has_its_smtps_twin_refused():
    for key in DERIVED_PROPERTIES:
        match = re.match(r'mail\.smtps?\.(.+)', key)
        if match:
            assert {f'mail.smtp.{match.group(1)}', f'mail.smtps.{match.group(1)}'} <= DERIVED_PROPERTIES
    result = effective_settings(_doc(properties={'mail.smtps.connectiontimeout': '5'}))
    assert [e.path for e in result.errors] == ["$.server.properties['mail.smtps.connectiontimeout']"]
