"""truststore_cert against real peers: aiosmtpd over STARTTLS and SMTPS on loopback, and the
JDK's keytool writing real JKS and PKCS12 stores.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import socket
import subprocess

import pytest

from tests.integration.conftest_truststore import (
    CANARY,
    keytool_list,
    private_ca,
    self_signed_identity,
)
from tests.support.modrun import ROOT, run_module

pytest_plugins = ['tests.integration.conftest_truststore']
pytestmark = pytest.mark.integration

MODES = ['starttls', 'smtps']
STORE_TYPES = ['jks', 'pkcs12']


def fp(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ':'.join(digest[i:i + 2] for i in range(0, 64, 2))


def sha(path) -> str:
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def run(args: dict, *, default_seed: bool = False, **kwargs) -> tuple[int, dict]:
    # Most tests reason about a store of their own entries: seed none, unless the seed is the subject.
    if not default_seed and 'create_from_cacerts' not in args:
        args = dict({'seed': 'none'}, **args)
    rc, result = run_module('truststore_cert', args, **kwargs)
    # The store password and the SMTP password must never come back, in any field or on stderr.
    text = json.dumps(result)
    assert CANARY not in text, f'canary secret leaked into the result: {text}'
    return rc, result


def base_args(server, store, store_type, keytool_path, **extra) -> dict:
    return dict({'settings': server.settings(), 'path': str(store), 'store_type': store_type,
                 'store_password': CANARY, 'keytool': keytool_path, 'seed': 'none'}, **extra)


@pytest.mark.parametrize('store_type', STORE_TYPES)
@pytest.mark.parametrize('mode', MODES)
def test_self_signed_lifecycle(mode, store_type, tls_smtp_server, keytool_path, tmp_path):
    """fetch -> import -> unchanged -> rotate -> replaced -> pin mismatch -> wrong password -> absent."""
    server = tls_smtp_server(mode, self_signed_identity())
    store = tmp_path / f'trust.{store_type}'
    args = base_args(server, store, store_type, keytool_path)
    alias = 'mailwright-127.0.0.1'

    rc, res = run(args, diff=True)
    assert rc == 0, res
    assert res['changed'] is True
    assert res['alias'] == alias and res['store_type'] == store_type
    assert res['source']['method'] == ('smtps' if mode == 'smtps' else 'starttls')
    leaf = server.identity.leaf_der
    assert res['certificate']['sha256'] == fp(leaf)
    assert 'localhost' in ' '.join(res['certificate']['sans'])
    assert 85 <= res['certificate']['days_left'] <= 90
    assert 'expire' not in json.dumps(res.get('warnings', []))
    assert (res['entries_before'], res['entries_after']) == (0, 1)
    assert res['diff']['before'] == '' and res['diff']['after'] == f'{alias}: {fp(leaf)}\n'
    assert keytool_list(str(store), CANARY) == {alias: fp(leaf)}
    magic = store.read_bytes()[:4]
    assert (magic == b'\xfe\xed\xfe\xed') == (store_type == 'jks')
    assert oct(store.stat().st_mode & 0o777) == '0o644'

    # Same certificate: unchanged, not even rewritten.
    before, mtime = sha(store), store.stat().st_mtime_ns
    rc, res = run(args)
    assert rc == 0 and res['changed'] is False and res['actions'] == []
    assert sha(store) == before and store.stat().st_mtime_ns == mtime

    # The relay gets a new self-signed certificate: no CA in the store vouches for it, so it is refused
    # (a man in the middle looks just like this), with both fingerprints, and the store is untouched.
    server.rotate(self_signed_identity())
    new_leaf = server.identity.leaf_der
    before = sha(store)
    rc, res = run(args, diff=True)
    assert rc != 0 and res['failed'], res
    assert fp(leaf) in res['msg'] and fp(new_leaf) in res['msg'] and 'allow_replace' in res['msg']
    assert sha(store) == before
    # allow_replace accepts it: replaced under the same alias, old one gone, reported and warned.
    rc, res = run(dict(args, allow_replace=True), diff=True)
    assert rc == 0 and res['changed'] is True, res
    assert res['rotated'] == [{'alias': alias, 'old_sha256': fp(leaf), 'new_sha256': fp(new_leaf),
                               'reason': 'allow_replace is true'}]
    assert fp(new_leaf) in json.dumps(res.get('warnings')), res.get('warnings')
    assert res['actions'] == [{'action': 'replace', 'alias': alias, 'sha256_before': fp(leaf),
                               'sha256_after': fp(new_leaf)}]
    assert res['diff']['before'] == f'{alias}: {fp(leaf)}\n'
    assert res['diff']['after'] == f'{alias}: {fp(new_leaf)}\n'
    assert keytool_list(str(store), CANARY) == {alias: fp(new_leaf)}

    # Pinned fingerprint of the old certificate: refused, nothing written.
    server.rotate(self_signed_identity())
    before = sha(store)
    rc, res = run(dict(args, fingerprint=fp(new_leaf).replace(':', '').lower()))
    assert rc != 0 and res['failed']
    assert 'does not match' in res['msg'] and 'nothing imported' in res['msg']
    assert res['presented_sha256'] == [fp(server.identity.leaf_der)]
    assert sha(store) == before

    # The right pin is accepted.
    rc, res = run(dict(args, fingerprint=fp(server.identity.leaf_der)))
    assert rc == 0 and res['changed'] is True
    current = sha(store)

    # Wrong store password: keytool's reason, store intact.
    rc, res = run(dict(args, store_password='Wrong-' + CANARY + '-x'))
    assert rc != 0
    assert 'password was incorrect' in res['msg']
    assert 'store_password' in res['msg']
    assert sha(store) == current

    # Check mode for absent: reports the change, writes nothing.
    rc, res = run(dict(args, state='absent'), check_mode=True, diff=True)
    assert rc == 0 and res['changed'] is True and res['entries_after'] == 0
    assert res['diff']['after'] == ''
    assert sha(store) == current

    rc, res = run(dict(args, state='absent'))
    assert rc == 0 and res['changed'] is True and (res['entries_before'], res['entries_after']) == (1, 0)
    assert keytool_list(str(store), CANARY) == {}
    rc, res = run(dict(args, state='absent'))
    assert rc == 0 and res['changed'] is False


@pytest.mark.parametrize('store_type', STORE_TYPES)
@pytest.mark.parametrize('mode', MODES)
def test_private_ca_chain(mode, store_type, tls_smtp_server, keytool_path, tmp_path):
    """Trusting the root of a private CA survives the relay's certificate renewal; chain imports all."""
    ca = private_ca()
    server = tls_smtp_server(mode, ca.issue())
    store = tmp_path / f'trust.{store_type}'
    args = base_args(server, store, store_type, keytool_path, certificate='root', alias='Corp-Mail-CA')

    rc, res = run(args)
    assert rc == 0 and res['changed'] is True, res
    assert res['alias'] == 'corp-mail-ca'  # keytool's lower case, reported as such
    assert res['certificate']['sha256'] == fp(ca.der)
    assert [c['sha256'] for c in res['presented_chain']] == [fp(d) for d in server.identity.chain_der]
    assert res['certificate']['subject'] != res['presented_chain'][0]['subject']
    assert keytool_list(str(store), CANARY) == {'corp-mail-ca': fp(ca.der)}

    # Renewal by the same CA: the trusted root did not change, nothing to do.
    server.rotate(ca.issue())
    before = sha(store)
    rc, res = run(args)
    assert rc == 0 and res['changed'] is False
    assert sha(store) == before

    # The whole chain: leaf under the alias, CA under alias-1; the root entry stays untouched.
    rc, res = run(dict(args, certificate='chain', alias='relay'))
    assert rc == 0 and res['changed'] is True
    assert res['aliases'] == ['relay', 'relay-1']
    assert keytool_list(str(store), CANARY) == {'corp-mail-ca': fp(ca.der),
                                                'relay': fp(server.identity.leaf_der),
                                                'relay-1': fp(ca.der)}
    # Pin on the CA while importing the chain: matches one certificate of the chain.
    rc, res = run(dict(args, certificate='chain', alias='relay', fingerprint=fp(ca.der)))
    assert rc == 0 and res['changed'] is False

    rc, res = run(dict(args, certificate='chain', alias='relay', state='absent'))
    assert rc == 0 and [a['alias'] for a in res['actions']] == ['relay', 'relay-1']
    assert keytool_list(str(store), CANARY) == {'corp-mail-ca': fp(ca.der)}


def test_leaf_rotation_by_a_ca_the_store_trusts_is_accepted_with_a_warning(tls_smtp_server, keytool_path, tmp_path):
    ca = private_ca()
    server = tls_smtp_server('starttls', ca.issue())
    store = tmp_path / 'trust.p12'
    args = base_args(server, store, 'auto', keytool_path)
    assert run(dict(args, certificate='root', alias='corp-ca'))[1]['changed'] is True
    old_leaf = server.identity.leaf_der
    assert run(args)[1]['changed'] is True
    server.rotate(ca.issue())
    rc, res = run(args)
    assert rc == 0 and res['changed'] is True and res['actions'][0]['action'] == 'replace', res
    assert res['rotated'] == [{'alias': 'mailwright-127.0.0.1', 'old_sha256': fp(old_leaf),
                               'new_sha256': fp(server.identity.leaf_der),
                               'reason': 'it verifies against the CA certificate the store trusts under alias corp-ca'}]
    assert 'mailwright-127.0.0.1' in json.dumps(res.get('warnings')), res.get('warnings')
    assert res['store_type'] == 'pkcs12'  # detected from the file
    assert keytool_list(str(store), CANARY) == {'corp-ca': fp(ca.der), 'mailwright-127.0.0.1': fp(server.identity.leaf_der)}


@pytest.mark.parametrize('mode', MODES)
def test_leaf_from_another_ca_is_refused_and_the_store_untouched(mode, tls_smtp_server, keytool_path, tmp_path):
    """The relay suddenly presents a chain of a CA the store does not trust: fail, in check mode too."""
    ca = private_ca()
    server = tls_smtp_server(mode, ca.issue())
    store = tmp_path / 'trust.jks'
    args = base_args(server, store, 'jks', keytool_path)
    assert run(dict(args, certificate='root', alias='corp-ca'))[0] == 0
    assert run(args)[0] == 0
    old_leaf = server.identity.leaf_der
    server.rotate(private_ca('mailwright Test Root CA').issue())  # same CA name, another key
    new_leaf = server.identity.leaf_der
    before = sha(store)
    for check_mode in (True, False):
        rc, res = run(args, check_mode=check_mode)
        assert rc != 0 and res['failed'], res
        assert 'does not verify against a CA certificate the store already trusts' in res['msg']
        assert fp(old_leaf) in res['msg'] and fp(new_leaf) in res['msg'] and 'not after' in res['msg']
        assert 'allow_replace' in res['msg'] and 'alias mailwright-127.0.0.1' in res['msg']
        assert res['refused'][0]['new']['sha256'] == fp(new_leaf)
        assert sha(store) == before
    rc, res = run(dict(args, allow_replace=True))
    assert rc == 0 and res['changed'] is True and res['rotated'][0]['reason'] == 'allow_replace is true', res
    assert keytool_list(str(store), CANARY)['mailwright-127.0.0.1'] == fp(new_leaf)


def test_other_entries_are_never_touched_and_backup(tls_smtp_server, keytool_path, tmp_path):
    server = tls_smtp_server('smtps', self_signed_identity())
    other = self_signed_identity('other.example.test')
    store = tmp_path / 'trust.jks'
    pem = tmp_path / 'other.pem'
    pem.write_text(other.chain_pem())
    rc, res = run({'pem_path': str(pem), 'alias': 'other', 'path': str(store), 'store_type': 'jks',
                   'store_password': CANARY, 'keytool': keytool_path})
    assert rc == 0 and res['changed'] is True and res['source'] == {'pem_path': str(pem)}
    original = sha(store)

    rc, res = run(base_args(server, store, 'auto', keytool_path, backup=True, mode='0640'))
    assert rc == 0 and res['changed'] is True, res
    assert res['store_type'] == 'jks'
    assert keytool_list(str(store), CANARY) == {'other': fp(other.leaf_der),
                                                'mailwright-127.0.0.1': fp(server.identity.leaf_der)}
    assert sha(res['backup_file']) == original
    assert oct(store.stat().st_mode & 0o777) == '0o640'
    # No work files left next to the store.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith('.')) == []


def test_check_mode_creates_nothing(tls_smtp_server, keytool_path, tmp_path):
    server = tls_smtp_server('starttls', self_signed_identity())
    store = tmp_path / 'new.p12'
    rc, res = run(base_args(server, store, 'auto', keytool_path), check_mode=True, diff=True)
    assert rc == 0 and res['changed'] is True and res['entries_after'] == 1
    assert not store.exists()
    assert list(tmp_path.iterdir()) == [p for p in tmp_path.iterdir() if not p.name.startswith('.')]


def _cacerts_count() -> tuple[str, int]:
    """The JRE's cacerts the module seeds from by default, and its entry count read by keytool itself."""
    from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import find_cacerts

    cacerts = find_cacerts(shutil.which('keytool'))
    assert cacerts, 'no cacerts for the keytool on PATH'
    return cacerts, len(keytool_list(cacerts, 'changeit'))


@pytest.mark.parametrize('seed', ['default', 'cacerts', 'legacy'])
def test_new_store_starts_from_cacerts(seed, tls_smtp_server, keytool_path, tmp_path):
    """The default: a new store keeps every public CA of the JRE's cacerts, plus the relay (count + 1)."""
    server = tls_smtp_server('starttls', self_signed_identity())
    store = tmp_path / 'from-cacerts.p12'
    option = {'default': {}, 'cacerts': {'seed': 'cacerts'}, 'legacy': {'create_from_cacerts': True}}[seed]
    args = dict(base_args(server, store, 'pkcs12', keytool_path), **option)
    if seed != 'cacerts':
        args.pop('seed')
    cacerts, count = _cacerts_count()
    assert count > 50

    rc, res = run(args, check_mode=True, diff=True, default_seed=True)
    assert rc == 0 and res['changed'] is True, res
    assert not store.exists() and sorted(p.name for p in tmp_path.iterdir()) == [], 'check mode wrote something'
    assert res['entries_after'] == count + 1

    rc, res = run(args, diff=True, default_seed=True)
    assert rc == 0 and res['changed'] is True, res
    assert res['entries_before'] == 0
    listed = keytool_list(str(store), CANARY)  # opens with OUR password, not changeit
    assert res['entries_after'] == len(listed) == count + 1
    assert listed['mailwright-127.0.0.1'] == fp(server.identity.leaf_der)
    assert os.path.realpath(res['cacerts']) == os.path.realpath(cacerts)
    assert res['seeded'] == {'source': res['cacerts'], 'entries': count} and res['other_trusted_entries'] == count
    # One summary line for the copied CAs, one line for the relay; not 145 lines to scroll through.
    assert res['diff']['after'] == (f'+{count} entries from {res["cacerts"]}\n'
                                    f'mailwright-127.0.0.1: {fp(server.identity.leaf_der)}\n'), res['diff']
    assert 'Marketplace' not in json.dumps(res.get('warnings', []))

    before = sha(store)
    rc, res = run(args, diff=True, default_seed=True)
    assert rc == 0 and res['changed'] is False, res
    assert 'seeded' not in res and sha(store) == before


def test_existing_store_is_never_reseeded(tls_smtp_server, keytool_path, tmp_path):
    server = tls_smtp_server('starttls', self_signed_identity())
    store = tmp_path / 'relay-only.p12'
    rc, res = run(base_args(server, store, 'pkcs12', keytool_path))
    assert rc == 0 and res['entries_after'] == 1
    rc, res = run(dict(base_args(server, store, 'pkcs12', keytool_path), seed='cacerts'))
    assert rc == 0 and res['changed'] is False and res['entries_after'] == 1, res
    assert len(keytool_list(str(store), CANARY)) == 1


def test_seed_none_gives_the_relay_alone_and_warns(tls_smtp_server, keytool_path, tmp_path):
    server = tls_smtp_server('starttls', self_signed_identity())
    store = tmp_path / 'relay-only.p12'
    rc, res = run(base_args(server, store, 'pkcs12', keytool_path), diff=True)
    assert rc == 0 and res['changed'] is True, res
    assert keytool_list(str(store), CANARY) == {'mailwright-127.0.0.1': fp(server.identity.leaf_der)}
    assert res['seeded'] == {'source': 'none', 'entries': 0} and res['other_trusted_entries'] == 0
    warned = json.dumps(res.get('warnings'))
    assert 'holds only the relay' in warned and 'Marketplace, licensing, integrations' in warned, warned
    assert res['diff']['after'] == f'mailwright-127.0.0.1: {fp(server.identity.leaf_der)}\n'


def test_seed_from_a_given_keystore(tls_smtp_server, keytool_path, tmp_path):
    """seed=<path>: a company base store (JKS, its own password) is the starting point."""
    corp = private_ca('Corp Base CA')
    base = tmp_path / 'base.jks'
    rc, res = run({'pem_content': corp.authority.pem.decode('ascii'), 'alias': 'corp-base', 'path': str(base), 'store_type': 'jks',
                   'store_password': 'base-pass', 'keytool': keytool_path, 'seed': 'none'})
    assert rc == 0, res
    server = tls_smtp_server('starttls', self_signed_identity())
    store = tmp_path / 'app.p12'
    rc, res = run(dict(base_args(server, store, 'pkcs12', keytool_path), seed=str(base), seed_password='base-pass'),
                  diff=True)
    assert rc == 0 and res['changed'] is True, res
    assert sorted(keytool_list(str(store), CANARY)) == ['corp-base', 'mailwright-127.0.0.1']
    assert res['diff']['after'].startswith(f'+1 entries from {base}\n')
    rc, res = run(dict(base_args(server, tmp_path / 'other.p12', 'pkcs12', keytool_path),
                       seed=str(tmp_path / 'missing.jks')))
    assert rc != 0 and 'seed' in res['msg'] and 'no such file' in res['msg'], res
    assert not (tmp_path / 'other.p12').exists()


def test_wrong_password_on_jks_leaves_bytes_identical_with_backup_requested(tls_smtp_server, keytool_path,
                                                                            tmp_path):
    server = tls_smtp_server('smtps', self_signed_identity())
    store = tmp_path / 'trust.jks'
    assert run(base_args(server, store, 'jks', keytool_path))[0] == 0
    server.rotate(self_signed_identity())
    before = sha(store)
    rc, res = run(base_args(server, store, 'jks', keytool_path, store_password='another-password',
                            backup=True))
    assert rc != 0
    assert 'Keystore was tampered with, or password was incorrect' in res['msg']
    assert sha(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['trust.jks']


def test_store_type_contradicting_the_file_is_refused(tls_smtp_server, keytool_path, tmp_path):
    server = tls_smtp_server('smtps', self_signed_identity())
    store = tmp_path / 'trust.jks'
    assert run(base_args(server, store, 'jks', keytool_path))[0] == 0
    rc, res = run(base_args(server, store, 'pkcs12', keytool_path))
    assert rc != 0 and 'is a JKS keystore' in res['msg'] and 'store_type' in res['msg']


def test_pem_content_requires_an_alias_and_expiry_warns(keytool_path, tmp_path):
    soon = self_signed_identity('soon.example.test', days=5)
    args = {'pem_content': soon.chain_pem(), 'path': str(tmp_path / 't.p12'), 'store_password': CANARY,
            'keytool': keytool_path}
    rc, res = run(args)
    assert rc != 0 and 'alias is required' in res['msg']
    rc, res = run(dict(args, alias='soon'))
    assert rc == 0 and res['changed'] is True
    # ansible-core 2.19 returns warnings as structured events; match on their text.
    assert 'expires in 4 days' in json.dumps(res.get('warnings')), res.get('warnings')


def test_unreachable_server_is_a_clear_error(keytool_path, tmp_path):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    settings = {'product': 'generic', 'server': {'host': '127.0.0.1', 'port': port, 'protocol': 'smtp',
                                                 'tls': 'required'},
                'sender': {'from_address': 'app@example.test'}}
    rc, res = run({'settings': settings, 'path': str(tmp_path / 't.p12'), 'store_password': CANARY,
                   'keytool': keytool_path, 'timeout': 3})
    assert rc != 0 and 'cannot fetch the certificate of 127.0.0.1' in res['msg'] and 'STARTTLS' in res['msg']
    assert not (tmp_path / 't.p12').exists()


def test_missing_keytool_is_a_clear_error(tmp_path):
    rc, res = run({'pem_content': self_signed_identity().chain_pem(), 'alias': 'x',
                   'path': str(tmp_path / 't.p12'), 'store_password': CANARY,
                   'keytool': str(tmp_path / 'jre' / 'bin' / 'keytool')})
    assert rc != 0 and 'keytool not found' in res['msg']


def test_store_password_is_not_on_the_keytool_command_line(keytool_path, tmp_path):
    """While keytool runs, its argv (what `ps` shows) holds no password: run a wrapper that records it."""
    log = tmp_path / 'argv.log'
    wrapper = tmp_path / 'bin' / 'keytool'
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {keytool_path} "$@"\n')
    wrapper.chmod(0o755)
    rc, res = run({'pem_content': self_signed_identity().chain_pem(), 'alias': 'x',
                   'path': str(tmp_path / 't.p12'), 'store_password': CANARY, 'keytool': str(wrapper)})
    assert rc == 0, res
    argv = log.read_text()
    assert '-importcert' in argv and '-storepass:env' in argv
    assert CANARY not in argv


def test_keytool_in_a_german_locale_still_parses(keytool_path, tmp_path):
    """keytool translates its listing ('Aliasname:', 'Eintragstyp:'); we pin English per call."""
    ident = self_signed_identity()
    args = {'pem_content': ident.chain_pem(), 'alias': 'relay', 'path': str(tmp_path / 't.jks'),
            'store_type': 'jks', 'store_password': CANARY, 'keytool': keytool_path}
    german = {'JAVA_TOOL_OPTIONS': '-Duser.language=de -Duser.country=DE', 'LANG': 'de_DE.UTF-8'}
    rc, res = run(args, env=german)
    assert rc == 0 and res['changed'] is True, res
    rc, res = run(args, env=german)
    assert rc == 0 and res['changed'] is False and res['entries_before'] == 1, res


def test_keytool_failure_while_applying_leaves_no_store_and_no_work_files(keytool_path, tmp_path):
    """keytool refuses a 5-character password for a new store: its reason, no store, no leftovers."""
    store_dir = tmp_path / 'stores'
    store_dir.mkdir()
    rc, res = run({'pem_content': self_signed_identity().chain_pem(), 'alias': 'relay',
                   'path': str(store_dir / 't.p12'), 'store_password': 'short', 'keytool': keytool_path})
    assert rc != 0
    assert 'at least 6 characters' in res['msg'] and 'was not changed' in res['msg']
    assert list(store_dir.iterdir()) == []


def test_symlinked_store_updates_the_target_and_keeps_the_link(keytool_path, tmp_path):
    """Like Debian's <jre>/lib/security/cacerts -> /etc/ssl/certs/java/cacerts."""
    target_dir = tmp_path / 'etc-ssl'
    target_dir.mkdir()
    target = target_dir / 'cacerts'
    link = tmp_path / 'cacerts'
    args = {'pem_content': self_signed_identity('first.example.test').chain_pem(), 'alias': 'first',
            'path': str(target), 'store_type': 'jks', 'store_password': CANARY, 'keytool': keytool_path}
    assert run(args)[0] == 0
    link.symlink_to(target)
    second = self_signed_identity('second.example.test')
    rc, res = run(dict(args, path=str(link), pem_content=second.chain_pem(), alias='second', backup=True))
    assert rc == 0 and res['changed'] is True, res
    assert res['path'] == str(target) and res['link'] == str(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert set(keytool_list(str(target), CANARY)) == {'first', 'second'}
    assert os.path.dirname(res['backup_file']) == str(target_dir)


def test_server_without_starttls_fails_with_the_conversation(keytool_path, tmp_path):
    """A relay that does not offer STARTTLS: the error names the step and shows the transcript."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname='127.0.0.1', port=port)  # plain SMTP only
    controller.start()
    try:
        settings = {'product': 'generic', 'server': {'host': '127.0.0.1', 'port': port, 'protocol': 'smtp',
                                                     'tls': 'required'},
                    'auth': {'method': 'basic', 'username': 'app', 'password': CANARY},
                    'sender': {'from_address': 'app@example.test'}}
        rc, res = run({'settings': settings, 'path': str(tmp_path / 't.p12'), 'store_password': CANARY,
                       'keytool': keytool_path})
    finally:
        controller.stop()
    assert rc != 0 and 'STARTTLS' in res['msg']
    assert res['smtp_error']['step'] == 'policy'
    assert any(line.startswith('C: EHLO') for line in res['transcript'])
    assert not (tmp_path / 't.p12').exists()


def test_concurrent_runs_on_one_store_lose_no_update(keytool_path, tmp_path):
    """Four runs at once, each adding its own alias to the same store: all four entries survive."""
    from concurrent.futures import ThreadPoolExecutor

    store = tmp_path / 'shared.p12'
    first = self_signed_identity('seed.example.test')
    assert run({'pem_content': first.chain_pem(), 'alias': 'seed', 'path': str(store),
                'store_password': CANARY, 'keytool': keytool_path})[0] == 0
    identities = {f'app{i}': self_signed_identity(f'app{i}.example.test') for i in range(4)}

    def add(alias):
        return run({'pem_content': identities[alias].chain_pem(), 'alias': alias, 'path': str(store),
                    'store_password': CANARY, 'keytool': keytool_path})

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(add, identities))
    assert all(rc == 0 and res['changed'] for rc, res in outcomes), outcomes
    listed = keytool_list(str(store), CANARY)
    assert listed == dict({'seed': fp(first.leaf_der)}, **{a: fp(i.leaf_der) for a, i in identities.items()})


# --- jvm_options_file: the setenv.sh block --------------------------------------------------------

JIRA_SETENV = ROOT / 'demo' / 'sandbox' / 'jira' / 'bin' / 'setenv.sh'
HOSTILE_PASSWORD = CANARY + '-p"a$b`c\\d\'e'  # the canary, then every character a "..." string must escape
BEGIN = '# BEGIN mailwright mail truststore (managed by Ansible)\n'
END = '# END mailwright mail truststore (managed by Ansible)\n'


def jvm_words(setenv, variable='JVM_SUPPORT_RECOMMENDED_ARGS') -> list[str]:
    """The JVM's arguments from the variable: sourced, then read again through eval as catalina.sh does."""
    proc = subprocess.run(['sh', '-c', f'. "$1"; eval "set -- ${variable}"; printf "%s\\n" "$@"', 'sh', str(setenv)],
                          capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout.splitlines()


def jvm_value(setenv, variable='JVM_SUPPORT_RECOMMENDED_ARGS') -> str:
    """The variable after sh sourced the file, as Tomcat's catalina.sh does."""
    assert subprocess.run(['sh', '-n', str(setenv)], capture_output=True, check=False).returncode == 0
    proc = subprocess.run(['sh', '-c', f'. "$1"; printf %s "${variable}"', 'sh', str(setenv)],
                          capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout


@pytest.mark.parametrize('store_type', STORE_TYPES)
def test_jvm_options_file_points_the_jvm_at_the_store(store_type, tls_smtp_server, keytool_path, tmp_path):
    server = tls_smtp_server('starttls', self_signed_identity())
    store = tmp_path / f'trust.{store_type}'
    setenv = tmp_path / 'bin' / 'setenv.sh'
    setenv.parent.mkdir()
    shutil.copyfile(JIRA_SETENV, setenv)
    setenv.chmod(0o750)
    original = setenv.read_bytes()
    args = base_args(server, store, store_type, keytool_path, store_password=HOSTILE_PASSWORD,
                     jvm_options_file=str(setenv), jvm_options_insert_after='^JVM_SUPPORT_RECOMMENDED_ARGS=')
    expected_value = (f' -Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword={HOSTILE_PASSWORD} '
                      f'-Djavax.net.ssl.trustStoreType={store_type.upper()}')

    # Check mode: both changes reported, nothing written; the diff shows the block without the password.
    rc, res = run(args, check_mode=True, diff=True)
    assert rc == 0 and res['changed'] is True, res
    assert res['jvm_options'] == {'path': str(setenv), 'changed': True}
    assert setenv.read_bytes() == original and not store.exists()
    store_diff, setenv_diff = res['diff']
    assert store_diff['after'].startswith('mailwright-127.0.0.1: ')
    assert setenv_diff['before'] == original.decode() and BEGIN in setenv_diff['after']
    assert '-Djavax.net.ssl.trustStorePassword=******** -Djavax.net.ssl.trustStoreType=' in setenv_diff['after']
    # Quoted for catalina.sh's eval as well (tests/integration/test_catalina_eval.py): nothing to warn about.
    assert 'catalina.sh' not in json.dumps(res.get('warnings')), res.get('warnings')

    # For real: the block lands after the variable's line, everything else is kept byte for byte.
    rc, res = run(args, diff=True)
    assert rc == 0 and res['changed'] is True and res['jvm_options']['changed'] is True, res
    text = setenv.read_text()
    anchor = 'JVM_SUPPORT_RECOMMENDED_ARGS=""\n'
    assert text.startswith(original.decode().split(anchor)[0] + anchor + BEGIN)
    assert text.replace(text[text.index(BEGIN):text.index(END) + len(END)], '') == original.decode()
    assert text.count(BEGIN) == 1
    assert oct(setenv.stat().st_mode & 0o777) == '0o750'  # an existing file keeps its mode
    assert jvm_words(setenv) == expected_value.split(' ')[1:]
    assert HOSTILE_PASSWORD not in json.dumps(res['diff'])
    assert keytool_list(str(store), HOSTILE_PASSWORD) == {'mailwright-127.0.0.1': fp(server.identity.leaf_der)}

    # Same values again: nothing changes, the file is not even rewritten.
    written, mtime = setenv.read_bytes(), setenv.stat().st_mtime_ns
    rc, res = run(args, diff=True)
    assert rc == 0 and res['changed'] is False and res['jvm_options'] == {'path': str(setenv), 'changed': False}
    assert setenv.read_bytes() == written and setenv.stat().st_mtime_ns == mtime

    # Someone changed the block by hand: only the file changes, back to the block; a backup is kept.
    setenv.write_text(text.replace('-Djavax.net.ssl.trustStoreType=', '-Dhand.edit=1 -Djavax.net.ssl.trustStoreType='))
    edited = setenv.read_bytes()
    rc, res = run(dict(args, backup=True))
    assert rc == 0 and res['changed'] is True and res['actions'] == [] and 'backup_file' not in res, res
    assert setenv.read_bytes() == written
    assert pathlib.Path(res['jvm_options']['backup_file']).read_bytes() == edited

    # state=absent leaves the file alone (and reports nothing about it).
    rc, res = run(dict(args, state='absent'))
    assert rc == 0 and res['changed'] is True and 'jvm_options' not in res
    assert setenv.read_bytes() == written


def test_jvm_options_file_missing_is_created_0640(keytool_path, tmp_path):
    ident = self_signed_identity()
    store = tmp_path / 'trust.p12'
    setenv = tmp_path / 'setenv.sh'
    args = {'pem_content': ident.chain_pem(), 'alias': 'relay', 'path': str(store), 'store_password': CANARY,
            'keytool': keytool_path, 'jvm_options_file': str(setenv), 'jvm_options_variable': 'CATALINA_OPTS'}

    rc, res = run(args, check_mode=True, diff=True)
    assert rc == 0 and res['changed'] is True and res['jvm_options']['changed'] is True, res
    assert not setenv.exists() and not store.exists()
    assert res['diff'][1]['before'] == '' and '-Djavax.net.ssl.trustStorePassword=********' in res['diff'][1]['after']

    rc, res = run(args)
    assert rc == 0 and res['changed'] is True, res
    assert oct(setenv.stat().st_mode & 0o777) == '0o640'
    assert setenv.read_text() == (BEGIN + f'CATALINA_OPTS="${{CATALINA_OPTS}} -Djavax.net.ssl.trustStore={store} '
                                  f'-Djavax.net.ssl.trustStorePassword={CANARY} '
                                  '-Djavax.net.ssl.trustStoreType=PKCS12"\n' + END)
    assert jvm_value(setenv, 'CATALINA_OPTS').endswith(f'trustStorePassword={CANARY} -Djavax.net.ssl.trustStoreType=PKCS12')
    assert 'warnings' not in res or 'catalina.sh' not in json.dumps(res['warnings'])

    rc, res = run(args, check_mode=True)
    assert rc == 0 and res['changed'] is False and res['jvm_options']['changed'] is False
    # With no file options given, a file of another mode is left as it is.
    setenv.chmod(0o600)
    rc, res = run(args)
    assert rc == 0 and res['changed'] is False and oct(setenv.stat().st_mode & 0o777) == '0o600'


@pytest.mark.parametrize('extra, message', [
    ({'store_password': CANARY + '\nsecond-line'}, 'store_password contains a line break or NUL'),
    ({'jvm_options_variable': 'JVM ARGS'}, 'is not a shell variable name'),
    ({'jvm_options_insert_after': '^JVM_('}, 'not a valid Python regular expression'),
])
def test_jvm_options_refused_before_anything_is_written(extra, message, keytool_path, tmp_path):
    store = tmp_path / 'trust.p12'
    setenv = tmp_path / 'setenv.sh'
    shutil.copyfile(JIRA_SETENV, setenv)
    original = setenv.read_bytes()
    rc, res = run(dict({'pem_content': self_signed_identity().chain_pem(), 'alias': 'relay', 'path': str(store),
                        'store_password': CANARY, 'keytool': keytool_path, 'jvm_options_file': str(setenv)},
                       **extra))
    assert rc != 0 and message in res['msg'] and 'nothing was written' in res['msg'], res
    assert not store.exists() and setenv.read_bytes() == original


def test_jvm_options_file_with_a_broken_block_leaves_the_store_alone(keytool_path, tmp_path):
    store = tmp_path / 'trust.p12'
    setenv = tmp_path / 'setenv.sh'
    setenv.write_text('JVM_SUPPORT_RECOMMENDED_ARGS=""\n' + BEGIN + 'JVM_SUPPORT_RECOMMENDED_ARGS="-Dx"\n')
    rc, res = run({'pem_content': self_signed_identity().chain_pem(), 'alias': 'relay', 'path': str(store),
                   'store_password': CANARY, 'keytool': keytool_path, 'jvm_options_file': str(setenv)})
    assert rc != 0 and f'{setenv}: line 2' in res['msg'] and 'without an END marker' in res['msg'], res
    assert not store.exists()
