# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input corpus: property-based settings documents that try to break validation or rendering.

Hypothesis generates well over 1,000 malformed, adversarial and edge-case documents (wrong types,
huge strings, RTL / zero-width / astral characters, CR/LF and NUL, XML and .properties
metacharacters, leading spaces, deep nesting, unknown products and fields, non-string keys).
Each one must either

* be rejected by ``effective_settings`` without an exception, every finding located by a JSON
  path that starts with ``$`` (and never echoing the password), or
* be accepted and render safely: the Tomcat ``<Resource>`` parses with ElementTree and every
  attribute value comes back exactly; the ``.properties`` text parses back to the same values;
  a second render changes nothing.

The runs are derandomised and use no example database, so CI sees the same corpus every time.
A sample of hostile documents also goes through the real module processes (settings_validate,
tomcat_mail_resource, mail_properties), in check mode and for real, against a scratch file.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import pathlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import (
    FLAVOURS,
    PropertiesError,
    PropertiesFile,
    apply_properties,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import effective_settings
from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import (
    TomcatError,
    apply_resource,
    new_context_file,
    resource_attributes,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVER_XML = (ROOT / 'tests' / 'fixtures' / 'tomcat' / 'server-with-context.xml').read_bytes()
CANARY = 'Canary-5ecret-Pa55'

# How many documents each generator contributes; the corpus is their sum (>= 1,000).
EXAMPLES = {
    'mutated': 700,
    'structures': 200,
    'top_level': 60,
    'deep': 40,
    'products': 60,
}
CORPUS_SIZE = sum(EXAMPLES.values())
_seen: dict[str, int] = {}


def _profile(name: str):
    return settings(max_examples=EXAMPLES[name], derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example, HealthCheck.filter_too_much])


# --- strategies ---------------------------------------------------------------------------------

# Characters that break things: markup and .properties metacharacters, line breaks, NUL and other
# controls, bidi overrides, zero-width and BOM, combining marks, XML non-characters, astral planes.
NASTY_CHARS = (
    '<>&"\'=:#!\\ \t\r\n\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\xa0'
    '\u2028\u2029\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069'
    '\ufeff\ufffd\ufffe\uffff\u0301\u05d0\u0627\u00e9\u20ac\U0001F600\U0001D518\U0010FFFD'
    '$[{}]%;,@./-_'
)
_ascii = st.characters(min_codepoint=0x20, max_codepoint=0x7e)
_any = st.characters(exclude_categories=('Cs',))  # surrogate-free, astral included
_char = st.one_of(st.sampled_from(NASTY_CHARS), _ascii, _any)
short_text = st.text(_char, max_size=40)
huge_text = st.builds(lambda chunk, times: (chunk * times)[:200_000],
                      st.text(_char, min_size=1, max_size=8), st.integers(200, 40_000))
# Values that look almost right: leading/trailing spaces, metacharacters around a plausible word.
near_miss = st.builds(lambda pre, word, post: pre + word + post,
                      st.sampled_from(['', ' ', '  ', '\t', '=', '#', '!', '\\', '<', '&', '\u202e', '\ufeff']),
                      st.sampled_from(['smtp.example.com', 'jira@example.com', 'mail/Session', 'Jira',
                                       'javax.mail.Session', '587', 'true', 'required', '${fullname}']),
                      st.sampled_from(['', ' ', '\r\n', '\x00', '"', "'", ':', '=x', '>', '\u200b']))
hostile_text = st.one_of(short_text, short_text, near_miss, huge_text)
scalar = st.one_of(
    hostile_text,
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([0, -1, 1, 25, 465, 587, 65535, 65536, 2 ** 31, 2 ** 63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
odd_key = st.one_of(hostile_text, st.integers(-5, 5), st.booleans(), st.none(), st.floats(allow_nan=False),
                    st.tuples(st.integers(0, 3), st.text(max_size=3)))
json_value = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)), max_leaves=12)
any_value = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(odd_key, inner, max_size=4)), max_leaves=12)


def _base_documents() -> list[dict]:
    basic = {'method': 'basic', 'username': 'notify', 'password': CANARY}
    return [
        {'product': 'jira', 'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required'},
         'auth': dict(basic), 'sender': {'from_address': 'jira@example.com', 'subject_prefix': '[JIRA]'}},
        {'product': 'confluence', 'name': 'Mail', 'server': {'host': 'smtp.example.com', 'protocol': 'smtps'},
         'auth': dict(basic), 'sender': {'from_address': 'wiki@example.com'}},
        {'product': 'generic', 'description': 'app',
         'server': {'host': '192.0.2.25', 'port': 25, 'tls': 'opportunistic', 'helo_domain': 'app.example.com',
                    'jndi': {'name': 'mail/Session', 'session_type': 'jakarta.mail.Session', 'debug': True},
                    # a TLS-weakening key through the escape hatch, so the corpus covers that path too
                    'allow_insecure_properties': True,
                    'properties': {'mail.smtp.ssl.trust': 'smtp.example.com'}},
         'auth': dict(basic, mechanism='login'), 'sender': {'from_address': 'app@example.com', 'from_name': 'App'}},
        {'product': 'generic', 'server': {'host': 'relay.example.com', 'tls': 'none'},
         'auth': {'method': 'none'}, 'sender': {'from_address': 'app@example.com'}},
        {'product': 'bitbucket', 'server': {'host': 'smtp.example.com', 'port': 587, 'timeout_ms': 1500},
         'auth': dict(basic), 'sender': {'from_address': 'bitbucket@example.com'}},
        {'product': 'ghes', 'server': {'host': 'smtp.example.com', 'port': 587},
         'auth': dict(basic, mechanism='plain'),
         'sender': {'from_address': 'github@example.com', 'noreply_address': 'noreply@example.com'},
         'ghes': {'hostname': 'github.example.com'}},
        {'product': 'jira', 'provider': 'microsoft365',
         'auth': {'method': 'oauth2', 'username': 'jira@example.com',
                  'oauth2': {'provider': 'microsoft', 'token': CANARY}},
         'sender': {'from_address': 'jira@example.com'}},
    ]


BASES = _base_documents()

# Where hostile values go. The free-text fields that reach rendered output are listed twice.
PATHS = [
    ('product',), ('name',), ('name',), ('description',), ('description',), ('provider',),
    ('server',), ('server', 'host'), ('server', 'port'), ('server', 'protocol'), ('server', 'tls'),
    ('server', 'timeout_ms'), ('server', 'helo_domain'), ('server', 'jndi'), ('server', 'jndi', 'name'),
    ('server', 'jndi', 'session_type'), ('server', 'jndi', 'debug'),
    ('server', 'properties'), ('server', 'properties', 'mail.smtp.ssl.trust'),
    ('server', 'properties', 'mail.smtp.ssl.trust'), ('server', 'properties', 'mail.mime.charset'),
    ('server', 'properties', 'mail.smtp.ehlo'), ('server', 'properties', 'mail.smtp.host'),
    ('auth',), ('auth', 'method'), ('auth', 'username'), ('auth', 'username'), ('auth', 'password'),
    ('auth', 'password'), ('auth', 'mechanism'), ('auth', 'oauth2'), ('auth', 'oauth2', 'token'),
    ('sender',), ('sender', 'from_address'), ('sender', 'from_name'), ('sender', 'from_name'),
    ('sender', 'from_name'), ('sender', 'subject_prefix'), ('sender', 'subject_prefix'),
    ('sender', 'noreply_address'), ('sender', 'support'), ('sender', 'discard_to_noreply'),
    ('ghes', 'hostname'), ('test',), ('test', 'recipients'), ('test', 'max_age'), ('test', 'user', 'fullname'),
    ('dns',), ('dns', 'nameservers'), ('dns', 'expect'), ('dns', 'port'),
    ('unknown_field',), ('server', 'unknown'), ('sender', 'fromaddress'),
]


def _set(doc: dict, path: tuple, value) -> None:
    target = doc
    for part in path[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[path[-1]] = value


@st.composite
def mutated_documents(draw, value=any_value):
    """A valid document with one to four fields replaced by hostile values."""
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for path, chosen in draw(st.lists(st.tuples(st.sampled_from(PATHS),
                                                st.one_of(hostile_text, hostile_text, value)),
                                      min_size=1, max_size=4)):
        _set(doc, path, chosen)
    return doc


@st.composite
def deep_documents(draw):
    depth = draw(st.integers(5, 400))
    inner = draw(scalar)
    for level in range(depth):
        inner = {draw(st.sampled_from(['server', 'jndi', 'x', 'properties'])): inner} if level % 3 else [inner]
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    _set(doc, draw(st.sampled_from([('server', 'properties'), ('server', 'jndi'), ('test',), ('nest',)])), inner)
    return doc


_TOP_KEYS = ['product', 'server', 'auth', 'sender', 'test', 'dns', 'ghes', 'name', 'provider']
structures = st.dictionaries(st.one_of(st.sampled_from(_TOP_KEYS), odd_key), any_value, max_size=8)
top_level = st.one_of(any_value, st.lists(st.builds(dict), max_size=3), st.just({}), st.just([]),
                      st.binary(max_size=20), st.sets(st.integers(), max_size=3))


@st.composite
def product_documents(draw):
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    doc['product'] = draw(st.one_of(st.sampled_from(['JIRA', 'Jira', ' jira', 'jira ', 'jira\n', 'jіra',
                                                     'confluence\u200b', 'bitbucket-server', 'github', 'ghe',
                                                     'GENERIC', '', '*', 'null']), hostile_text, scalar))
    return doc


# --- the property -------------------------------------------------------------------------------

def _password(doc) -> str | None:
    auth = doc.get('auth') if isinstance(doc, dict) else None
    return auth.get('password') if isinstance(auth, dict) else None


def check_tomcat(effective: dict) -> None:
    """The rendered Resource parses, says exactly what was meant, and a second render is a no-op."""
    try:
        attrs = resource_attributes(effective)
    except TomcatError as exc:
        # Only the documented refusals: no JNDI session for the product, or OAuth 2.0.
        assert effective['server']['jndi'] is None or effective['auth']['method'] == 'oauth2', exc
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()), attrs
    # A new context file, and an edit of a real server.xml.
    fresh = new_context_file(attrs).encode('utf-8')
    resource = ET.fromstring(fresh).find('Resource')
    assert resource is not None and resource.attrib == attrs
    outcome = apply_resource(SERVER_XML, 'server.xml', state='present', attrs=attrs, context_path='')
    assert outcome.changed and outcome.content is not None
    found = [r for r in ET.fromstring(outcome.content).iter('Resource') if r.get('name') == attrs['name']]
    assert len(found) == 1 and found[0].attrib == attrs, (found[0].attrib if found else None, attrs)
    again = apply_resource(outcome.content, 'server.xml', state='present', attrs=attrs, context_path='')
    assert not again.changed and again.action == 'unchanged'


def check_properties(effective: dict) -> None:
    """Every flavour's text is ASCII, parses back to the same values, and re-applies as a no-op."""
    for flavour in FLAVOURS:
        try:
            outcome = apply_properties('', effective, flavour)
        except PropertiesError as exc:
            assert effective['auth']['method'] == 'oauth2' and flavour != 'bitbucket', exc
            continue
        text = outcome.after
        assert text.isascii(), repr(text[:200])
        parsed = PropertiesFile(text).as_dict()
        for key, value in outcome.managed.values.items():
            assert parsed.get(key) == value, (flavour, key, value, parsed.get(key))
        assert not apply_properties(text, effective, flavour).changed


def check_document(doc, origin: str) -> None:
    _seen[origin] = _seen.get(origin, 0) + 1
    result = effective_settings(doc)  # must not raise, whatever the input
    if result.errors:
        assert result.effective is None
        password = _password(doc)
        for finding in result.errors + result.warnings:
            assert isinstance(finding.path, str) and finding.path.startswith('$'), finding
            assert finding.message, finding
            if password == CANARY:
                assert CANARY not in str(finding), finding
        return
    effective = result.effective
    assert isinstance(effective, dict)
    check_tomcat(effective)
    check_properties(effective)


@_profile('mutated')
@given(doc=mutated_documents())
def test_mutated_documents(doc):
    check_document(doc, 'mutated')


@_profile('structures')
@given(doc=structures)
def test_random_structures(doc):
    check_document(doc, 'structures')


@_profile('top_level')
@given(doc=top_level)
def test_top_level_garbage(doc):
    check_document(doc, 'top_level')


@_profile('deep')
@given(doc=deep_documents())
def test_deep_nesting(doc):
    check_document(doc, 'deep')


@_profile('products')
@given(doc=product_documents())
def test_unknown_products(doc):
    check_document(doc, 'products')


def test_corpus_is_large_enough():
    """The corpus the tests above ran through holds at least 1,000 documents."""
    assert CORPUS_SIZE >= 1000
    if set(_seen) != set(EXAMPLES):
        pytest.skip('only part of the corpus ran in this session (run the whole file to count it)')
    assert sum(_seen.values()) >= 1000, _seen


# Some fixed documents that must be accepted and survive rendering, so the accepted branch above
# is known to be exercised with the worst characters (not only rejected).
ACCEPTED_NASTY = [
    {'sender__from_name': '<b>"Tom & Jerry\'s"</b> =:#!\\ \u202egnp.exe'},
    {'auth__username': ' \tlead<&>"\'=:#!\\user\u200b'},
    {'auth__password': '  <![CDATA[ ]]> &amp; "\' =:#!\\ \U0001F600 \u202e'},
    {'server__properties': {'mail.smtp.ssl.trust': ' * <>&"\'\t=:#!\\', 'mail.smtp.x': 'é€\U0001D518\ufeff'}},
    {'description': '</Context><Resource name="evil"/>', 'name': '&lt;not an entity&gt;'},
]


@pytest.mark.parametrize('overrides', ACCEPTED_NASTY)
def test_nasty_but_valid_documents_render_exactly(overrides):
    doc = copy.deepcopy(BASES[2])
    for dotted, value in overrides.items():
        _set(doc, tuple(dotted.split('__')), value)
    result = effective_settings(doc)
    assert result.ok, [str(e) for e in result.errors]
    check_tomcat(result.effective)
    check_properties(result.effective)


# --- the module processes -----------------------------------------------------------------------

def _json_safe(doc) -> bool:
    try:
        return json.loads(json.dumps(doc, allow_nan=False)) == doc
    except (TypeError, ValueError):
        return False


module_documents = st.one_of(mutated_documents(value=json_value), mutated_documents(value=json_value),
                             product_documents()).filter(_json_safe)


def _sample(count: int) -> list[dict]:
    """`count` hostile JSON-safe documents, the same every run."""
    drawn: list[dict] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(doc=module_documents)
    def collect(doc):
        drawn.append(doc)

    collect()
    return drawn[:count]


PROPERTIES_BEFORE = b'# the application\'s own\nserver.port = 8080\nmail.smtp.host=old.example.com\n'


def _run_case(index: int, doc: dict, tmp: pathlib.Path) -> list[str]:
    """Run the three modules on one document; a list of problems (empty when all is well)."""
    from tests.support.modrun import run_module

    problems: list[str] = []

    def no_traceback(name, result):
        if 'Traceback' in result['_stderr'] or 'Traceback' in str(result.get('module_stderr', '')) \
                or 'exception' in result:
            problems.append(f'{name}: traceback: {result.get("exception") or result["_stderr"][-2000:]}')
        if CANARY in json.dumps(result):
            problems.append(f'{name}: the password appears in the result')

    rc, result = run_module('settings_validate', {'settings': doc})
    no_traceback('settings_validate', result)
    if rc != 0:
        paths = [e.get('path', '') for e in result.get('errors', [])]
        if not paths or not all(p.startswith('$') for p in paths):
            problems.append(f'settings_validate failed without JSON paths: {result.get("msg")!r}')
    valid = rc == 0

    xml_path = tmp / f'server-{index}.xml'
    props_path = tmp / f'app-{index}.properties'
    for check_mode in (True, False):
        xml_path.write_bytes(SERVER_XML)
        rc, result = run_module('tomcat_mail_resource', {'path': str(xml_path), 'settings': doc, 'context_path': ''},
                                check_mode=check_mode)
        no_traceback('tomcat_mail_resource', result)
        after = xml_path.read_bytes()
        if rc != 0 or check_mode:
            if after != SERVER_XML:
                problems.append(f'tomcat_mail_resource (check={check_mode}, rc={rc}) changed the file')
        if rc != 0:
            if valid and 'jndi' not in result.get('msg', '') and 'OAuth' not in result.get('msg', ''):
                problems.append(f'tomcat_mail_resource refused valid settings: {result.get("msg")!r}')
            if not valid and not all(e['path'].startswith('$') for e in result.get('errors', [{'path': ''}])):
                problems.append(f'tomcat_mail_resource failed without JSON paths: {result.get("msg")!r}')
        else:
            if not valid:
                problems.append('tomcat_mail_resource accepted settings settings_validate rejected')
            tree = ET.fromstring(after)
            names = [r.get('name') for r in tree.iter('Resource')]
            if result['resource']['name'] not in names:
                problems.append('tomcat_mail_resource: the Resource is not in the written file')
        props_path.write_bytes(PROPERTIES_BEFORE)
        rc, result = run_module('mail_properties', {'path': str(props_path), 'settings': doc, 'flavour': 'spring'},
                                check_mode=check_mode)
        no_traceback('mail_properties', result)
        after = props_path.read_bytes()
        if (rc != 0 or check_mode) and after != PROPERTIES_BEFORE:
            problems.append(f'mail_properties (check={check_mode}, rc={rc}) changed the file')
        if rc == 0 and not check_mode:
            parsed = PropertiesFile(after.decode('latin-1')).as_dict()
            for key, value in result['properties'].items():
                if value != '********' and parsed.get(key) != value:
                    problems.append(f'mail_properties: {key} reads back as {parsed.get(key)!r}, not {value!r}')
            if parsed.get('server.port') != '8080':
                problems.append('mail_properties: the application\'s own key was lost')
        if rc != 0 and not valid and not result.get('errors'):
            problems.append(f'mail_properties failed without JSON paths: {result.get("msg")!r}')
    return problems


def test_module_processes_survive_hostile_documents(tmp_path):
    sample = _sample(30)
    assert len(sample) == 30
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda item: (item[1], _run_case(item[0], item[1], tmp_path)), enumerate(sample)))
    failures = [(doc, problems) for doc, problems in outcomes if problems]
    assert not failures, '\n'.join(f'{json.dumps(doc)[:300]}\n  -> {problems}' for doc, problems in failures[:5])


# Characters XML 1.0 cannot carry at all, not even as character references. The settings model
# must either reject them (with the field's path) or the Resource must not be written with them.
XML_ILLEGAL = ['\x01', '\x08', '\x0b', '\x1f', '\ufffe', '\uffff']


@pytest.mark.parametrize('char', XML_ILLEGAL, ids=[f'U+{ord(c):04X}' for c in XML_ILLEGAL])
@pytest.mark.parametrize('field', ['auth__password', 'server__properties__mail.smtp.ssl.trust', 'description'])
def test_xml_illegal_characters_are_rejected_or_render(field, char):
    doc = copy.deepcopy(BASES[2])
    parts = field.split('__')
    _set(doc, tuple(parts), f'a{char}b')
    result = effective_settings(doc)
    if result.errors:
        assert all(f.path.startswith('$') for f in result.errors)
        return
    check_tomcat(result.effective)


def test_module_never_writes_a_context_file_that_does_not_parse(tmp_path):
    """A new context file holding a character XML cannot carry: refused, and nothing written."""
    from tests.support.modrun import run_module

    doc = copy.deepcopy(BASES[2])
    doc['server']['properties'] = {'mail.smtp.ssl.trust': 'a\x1fb'}
    path = tmp_path / 'app.xml'
    rc, result = run_module('tomcat_mail_resource', {'path': str(path), 'settings': doc})
    if rc == 0:
        ET.parse(path)  # whatever was written must parse
    else:
        assert not path.exists() and result['msg']
