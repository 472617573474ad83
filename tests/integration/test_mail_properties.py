# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The .properties editor against the real reader: java.util.Properties.load from the JDK.

One small Java program loads many files in one JVM and prints what it read (every character as
a \\uXXXX escape, so nothing is lost on the way back); the tests compare that with what our
parser read and with what the module meant to write.
"""

from __future__ import annotations

import json
import random

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import PropertiesFile
from tests.support.java_properties import JavaPropertiesReader, jdk_missing
from tests.support.modrun import run_module

pytestmark = pytest.mark.integration

CANARY = 'Canary-5ecret-Pa55'


@pytest.fixture(scope='module')
def java_load(tmp_path_factory):
    if jdk_missing():
        pytest.skip(jdk_missing())
    return JavaPropertiesReader(tmp_path_factory.mktemp('dumpprops')).load


TRICKY = [
    'a=b\n', 'a:b\n', 'a b\n', 'a  =  = b\n', 'a\n', '   a=b   \n', '# c=d\n! e=f\n',
    'a=b\\\n    c\n', 'a=b\\\\\nc=d\n', 'a=b\\\\\\\n c\n', '# comment \\\na=b\n', 'a=b\\\n\nc=d\n',
    'a=b\\\n#not a comment\n', 'a=1\r\nb=2\rc=3\n', 'a=b\\\r\n  c\r\n', 'k\\ e\\:y\\=x=v\n',
    'a=\\u00e9\\t\\n\\r\\f\\q\n', 'a=\\uD83D\\uDE00\n', 'a=1\na=2\n', 'a=b\\', '\f a=b\n', 'a=b\\\n',
    'x=\xe9\xff raw latin-1\n', '\\\n a=b\n', 'a\\\n=b\n', ' \\ a=b\n', 'a=b\\\n  \\\n c\n', 'a=\\\\u0041\n',
    'key\\\n  part=value\n', '!\n#\n=\n:x\n', 'a = \\  b\n',
]


def test_our_parser_reads_what_java_reads(tmp_path, java_load):
    rng = random.Random(20261123)
    alphabet = list('ab=:#! \t\\\r\nu0é\f')
    texts = TRICKY + [''.join(rng.choice(alphabet) for _char in range(rng.randint(0, 40))) for _text in range(1500)]
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f'{index}.properties'
        path.write_bytes(text.encode('latin-1'))
        paths.append(path)
    java = java_load(paths)
    mismatches = []
    for text, theirs in zip(texts, java):
        try:
            ours = PropertiesFile(text).as_dict()
        except ValueError:
            ours = {'error': 'malformed'}
        if ours != theirs:
            mismatches.append((text, ours, theirs))
    assert not mismatches, mismatches[:5]


NASTY = {
    'mail.smtp.ehlo.note': 'grüße ☃ 😀 host',
    'mail.smtp.sasl.realm': '  leading spaces and trailing  ',
    'mail.smtp.sendpartial': 'a=b:c#d!e\\f',
    'mail.mime.charset': 'tab\there',
    'mail.smtp.dsn.notify': '\\u0041 not an escape',
}


def test_written_files_read_back_in_java(tmp_path, java_load):
    """The module's output, with nasty values, read by java.util.Properties: exactly what we meant."""
    path = tmp_path / 'application.properties'
    original = ('# An application file with its own comments\n'
                'server.port = 8080\n'
                'app.banner = multi \\\n'
                '             line\n'
                '! more\n')
    path.write_bytes(original.encode('latin-1'))
    settings = {
        'product': 'generic',
        'server': {'host': 'smtp.example.com', 'port': 587, 'tls': 'required', 'properties': NASTY},
        'auth': {'method': 'basic', 'username': 'app', 'password': f' {CANARY}=:#\\'},
        'sender': {'from_address': 'app@example.com', 'from_name': 'Ünïcode, Inc.'},
    }
    rc, result = run_module('mail_properties', {'path': str(path), 'flavour': 'spring', 'settings': settings})
    assert rc == 0 and result['changed'], result
    text = path.read_bytes()
    assert text.startswith(original.encode('latin-1'))
    assert text.isascii()
    (java,) = java_load([path])
    assert java['server.port'] == '8080' and java['app.banner'] == 'multi line'
    assert java['spring.mail.password'] == f' {CANARY}=:#\\'
    assert java['spring.mail.properties.mail.from'] == '"Ünïcode, Inc." <app@example.com>'
    for key, value in NASTY.items():
        assert java[f'spring.mail.properties.{key}'] == value
    rc, again = run_module('mail_properties', {'path': str(path), 'flavour': 'spring', 'settings': settings})
    assert rc == 0 and not again['changed']
    assert CANARY not in json.dumps(result) + json.dumps(again)
