# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile corpus, file side: what settings_validate's path/paths may be pointed at.

Each case runs the real module process under an address-space limit and a short timeout, and
must end in a clean `failed` whose message names the option (or the field) and the file: a
directory, a FIFO nobody writes to, /dev/zero, a 2 GB sparse file, a NUL byte, a symlink loop,
YAML bombs, documents nested 500 deep, and globs too wide to walk.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._settings import validate as _validate
from tests.support.modrun import module_process

GOOD = ('product: jira\nserver: {host: smtp.example.com, port: 587, tls: required}\n'
        'sender: {from_address: jira@example.com}\n')
MEMORY = 1024 * 1024 * 1024  # the module process may not map more than 1 GiB
SECONDS = 15                 # nor run longer (process start-up included)


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run(args: dict) -> tuple[int, dict, float]:
    started = time.monotonic()
    proc = module_process('settings_validate', args, timeout=SECONDS, preexec_fn=_limit_memory)
    elapsed = time.monotonic() - started
    assert 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    return proc.returncode, json.loads(proc.stdout), elapsed


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip('abcdefgh', 'bcdefghi'):
        lines.append(f'{name}: &{name} [' + ','.join([f'*{prev}'] * 10) + ']')
    return '\n'.join(lines) + '\n'


def doubling_chain(levels: int = 40) -> str:
    # few aliases, exponential expansion: an alias count alone would not catch it
    lines = ['x0: &x0 [lol]']
    lines += [f'x{i}: &x{i} [*x{i - 1}, *x{i - 1}]' for i in range(1, levels)]
    return '\n'.join(lines) + '\n'


def nested_yaml(depth: int) -> str:
    return GOOD + 'x:\n' + ''.join('  ' * (level + 1) + 'a:\n' for level in range(depth)) + '  ' * (depth + 1) + 'a: 1\n'


def nested_json(depth: int) -> str:
    return ('{"product": "jira", "server": {"host": "h.example"}, "sender": {"from_address": "a@example.com"}, "x": '
            + '{"a": ' * depth + '1' + '}' * depth + '}')


@pytest.fixture
def cases(tmp_path):
    """name -> (path, words the failure message must contain)."""
    made = {}
    (tmp_path / 'dir').mkdir()
    made['directory'] = (tmp_path / 'dir', ['path', 'is a directory'])
    os.mkfifo(tmp_path / 'fifo.yml')
    made['fifo'] = (tmp_path / 'fifo.yml', ['path', 'FIFO'])
    made['dev_zero'] = ('/dev/zero', ['path', '/dev/zero', 'character device'])
    with open(tmp_path / 'sparse.yml', 'wb') as handle:
        handle.truncate(2 * 1024 ** 3)  # sparse: costs no disk
    made['sparse_2g'] = (tmp_path / 'sparse.yml', ['path', 'sparse.yml', 'bytes'])
    (tmp_path / 'loop1.yml').symlink_to(tmp_path / 'loop2.yml')
    (tmp_path / 'loop2.yml').symlink_to(tmp_path / 'loop1.yml')
    made['symlink_loop'] = (tmp_path / 'loop1.yml', ['path', 'loop1.yml', 'symbolic links'])
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / 'sock.yml'))
    made['socket'] = (tmp_path / 'sock.yml', ['path', 'sock.yml', 'socket'])
    (tmp_path / 'laughs.yml').write_text(billion_laughs())
    made['billion_laughs'] = (tmp_path / 'laughs.yml', ['laughs.yml', 'aliases expand'])
    (tmp_path / 'chain.yml').write_text(doubling_chain())
    made['doubling_chain'] = (tmp_path / 'chain.yml', ['chain.yml', 'aliases expand'])
    (tmp_path / 'deep.yml').write_text(nested_yaml(500))
    made['deep_yaml'] = (tmp_path / 'deep.yml', ['$.x.a.a', 'nested 502 levels deep'])
    (tmp_path / 'deep.json').write_text(nested_json(500))
    made['deep_json'] = (tmp_path / 'deep.json', ['$.x.a.a', 'nested 501 levels deep'])
    (tmp_path / 'deeper.json').write_text(nested_json(100_000))
    made['deeper_json'] = (tmp_path / 'deeper.json', ['deeper.json', 'nested too deeply'])
    (tmp_path / 'deeper.yml').write_text('[' * 100_000 + ']' * 100_000)
    made['deeper_flow_yaml'] = (tmp_path / 'deeper.yml', ['deeper.yml', 'not valid YAML'])
    (tmp_path / 'big.yml').write_text(GOOD + '#' * (2 * 1024 * 1024) + '\n')
    made['big_real'] = (tmp_path / 'big.yml', ['path', 'big.yml', 'bytes'])
    yield made
    sock.close()


CASES = ['directory', 'fifo', 'dev_zero', 'sparse_2g', 'symlink_loop', 'socket', 'billion_laughs',
         'doubling_chain', 'deep_yaml', 'deep_json', 'deeper_json', 'deeper_flow_yaml', 'big_real']


@pytest.mark.parametrize('case', CASES)
def test_path_case_fails_cleanly_fast_and_bounded(cases, case):
    path, words = cases[case]
    rc, result, elapsed = run({'path': str(path)})
    assert rc == 1 and result['failed'], result
    if 'path' in words:  # a refusal of the file itself names the option and the file
        assert f'path {path}:' in result['msg'], result['msg']
    for word in words:
        assert word in result['msg'], (word, result['msg'])
    assert elapsed < SECONDS


@pytest.mark.parametrize('case', CASES)
def test_paths_case_fails_cleanly_naming_the_file(cases, case):
    path, words = cases[case]
    rc, result, _output = run({'paths': [str(path)]})
    assert rc == 1 and result['summary']['invalid'] == 1, result
    shown = json.dumps(result['results'])
    if 'path' in words:
        assert f'paths {path}:' in shown, shown
    for word in words:
        assert word in shown, (word, shown)


def test_nul_byte_in_path_and_paths(tmp_path):
    rc, result, _output = run({'path': str(tmp_path) + '/a\x00b.yml'})
    assert rc == 1 and 'path' in result['msg'] and 'NUL byte' in result['msg']
    for pattern in (str(tmp_path) + '/a\x00b.yml', str(tmp_path) + '/*\x00.yml'):
        rc, result, _output = run({'paths': [pattern]})
        assert rc == 1 and result['msg'].startswith('paths ') and 'NUL byte' in result['msg'], result['msg']


def test_symlink_to_a_regular_file_is_fine(tmp_path):
    (tmp_path / 'real.yml').write_text(GOOD)
    (tmp_path / 'link.yml').symlink_to(tmp_path / 'real.yml')
    rc, result, _output = run({'path': str(tmp_path / 'link.yml')})
    assert rc == 0, result['msg']


def test_glob_over_directories_skips_them_and_reads_the_files(tmp_path):
    (tmp_path / 'sub.yml').mkdir()  # a directory matched by the glob is skipped, not an error
    (tmp_path / 'ok.yml').write_text(GOOD)
    rc, result, _output = run({'paths': [str(tmp_path / '*.yml')]})
    assert rc == 0 and result['summary']['total'] == 1, result


def test_glob_matching_too_many_files_fails_saying_how_to_narrow(tmp_path):
    for index in range(_validate.MAX_GLOB_FILES + 1):
        (tmp_path / f'{index}.yml').touch()
    rc, result, elapsed = run({'paths': [str(tmp_path / '**' / '*.yml')]})
    assert rc == 1 and f'more than {_validate.MAX_GLOB_FILES} files' in result['msg']
    assert 'narrow the patterns' in result['msg'] and elapsed < SECONDS


def test_glob_time_budget(tmp_path):
    for index in range(3):
        (tmp_path / f'{index}.yml').touch()
    with pytest.raises(_validate.PathsError, match=r'still matching after 0 s; narrow'):
        _validate.expand_paths([str(tmp_path / '*.yml')], seconds=0)
    with pytest.raises(_validate.PathsError, match='more than 2 files'):
        _validate.expand_paths([str(tmp_path / '*.yml')], max_files=2)
    assert len(_validate.expand_paths([str(tmp_path / '*.yml')])[0]) == 3


def test_read_bounded_reads_at_most_limit_plus_one(tmp_path):
    path = tmp_path / 'x.yml'
    path.write_bytes(b'a' * 100)
    assert _validate.read_bounded(str(path), limit=100) == b'a' * 100
    with pytest.raises(_validate.DocumentError, match='100 bytes, more than the 99'):
        _validate.read_bounded(str(path), limit=99)
    # /proc files claim size 0 and hold more: the read itself is bounded
    with pytest.raises(_validate.DocumentError, match='holds more than the 10 bytes'):
        _validate.read_bounded('/proc/self/status', limit=10)


def test_aliases_within_the_limit_still_load(tmp_path):
    path = tmp_path / 'anchors.yml'
    path.write_text(GOOD + 'test:\n  recipients: &r [a@example.com]\ndns: {expect: []}\nextra: *r\n')
    assert _validate.load_document(str(path))['extra'] == ['a@example.com']
    started = time.monotonic()
    path.write_text(billion_laughs())
    with pytest.raises(_validate.DocumentError, match='aliases expand to more than'):
        _validate.load_document(str(path))
    assert time.monotonic() - started < 1
