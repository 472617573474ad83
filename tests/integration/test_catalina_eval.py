"""The setenv.sh block truststore_cert writes, read by Debian's real Tomcat 10 catalina.sh.

catalina.sh sources $CATALINA_BASE/bin/setenv.sh, then starts the JVM with
`eval exec "$_RUNJAVA" ... "$JAVA_OPTS" "$CATALINA_OPTS" ...`: every value in the block is read
twice. A stand-in `java` prints the argv it gets, so the test sees exactly what the JVM would:
each hostile store password and path must arrive intact as one argument, and nothing may run.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from tests.integration.conftest_truststore import keytool_list, self_signed_identity
from tests.support.modrun import ROOT, run_module

pytest_plugins = ['tests.integration.conftest_truststore']
pytestmark = pytest.mark.integration

CATALINA_HOME = pathlib.Path('/usr/share/tomcat10')
CATALINA_SH = CATALINA_HOME / 'bin' / 'catalina.sh'
JIRA_SETENV = ROOT / 'demo' / 'sandbox' / 'jira' / 'bin' / 'setenv.sh'
PASSWORD_OPTION = '-Djavax.net.ssl.trustStorePassword='
STORE_OPTION = '-Djavax.net.ssl.trustStore='

# Each with {ran}: a file that exists afterwards only if the shell ran something.
HOSTILE_PASSWORDS = [
    'pw$(touch {ran})x',
    'pw`touch {ran}`x',
    'pass word  with   spaces',
    "it's-a-pass'",
    'say "hi" now"',
    'back\\slash\\',
    '-Dinjected=1 x',
    'x -Djavax.net.ssl.trustStore=/tmp/evil.p12 y',
    '$HOME-and-${PATH}',
    'semi;touch {ran}&&touch {ran}|cat>{ran}',
    'glob*?[a]{b,c}~',
    "mix'\"$`\\ (x)",  # (PKCS12 takes printable ASCII only: a tab is covered by the unit tests)
]


def _words(value: str) -> list[str]:
    return value.split('\0')[:-1]


@pytest.fixture
def catalina(tmp_path):
    """run(base) -> the JVM's argv after `catalina.sh run` with CATALINA_BASE=base."""
    if not CATALINA_SH.is_file():
        pytest.skip(f'{CATALINA_SH} not installed (Debian package tomcat10, see tools/install-system-deps.sh)')
    java = tmp_path / 'jdk' / 'bin' / 'java'
    java.parent.mkdir(parents=True)
    # NUL-separated, so an argument holding a line break or a tab would still show as one.
    java.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done\n')
    java.chmod(0o755)

    def run(base: pathlib.Path) -> list[str]:
        env = {'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path), 'LANG': 'C.UTF-8',
               'CATALINA_HOME': str(CATALINA_HOME), 'CATALINA_BASE': str(base), 'JAVA_HOME': str(java.parent.parent)}
        proc = subprocess.run(['sh', str(CATALINA_SH), 'run'], env=env, cwd=base, capture_output=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr.decode(errors='replace')
        argv = _words(proc.stdout.decode('utf-8', 'surrogateescape'))
        assert 'org.apache.catalina.startup.Bootstrap' in argv, argv  # it really went through to the JVM
        return argv

    return run


def _module(keytool_path, store, setenv, password, *, pem: str | None = None, **extra):
    return run_module('truststore_cert', dict({
        'pem_content': pem or self_signed_identity().chain_pem(), 'alias': 'relay', 'path': str(store),
        'store_password': password, 'keytool': keytool_path, 'jvm_options_file': str(setenv),
        'jvm_options_insert_after': '^JVM_SUPPORT_RECOMMENDED_ARGS=', 'seed': 'none'}, **extra))


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize('template, variable', [
    *((password, 'JVM_SUPPORT_RECOMMENDED_ARGS') for password in HOSTILE_PASSWORDS),  # Jira, Confluence
    *((password, 'CATALINA_OPTS') for password in HOSTILE_PASSWORDS[:2] + HOSTILE_PASSWORDS[-1:]),  # plain Tomcat
])
def test_hostile_password_reaches_the_jvm_intact(template, variable, catalina, keytool_path, tmp_path):
    ran = tmp_path / 'ran'
    password = template.replace('{ran}', str(ran))
    # catalina.sh runs in base (cwd): a command in the directory name would create base/ran. (No $VAR:
    # Ansible expands variables in a path option itself.)
    store_dir = tmp_path / "stores $(touch ran) it's `touch ran` back\\slash \"q\" ;|&"
    store_dir.mkdir()
    store = store_dir / 'trust.p12'
    base = tmp_path / 'base'
    (base / 'bin').mkdir(parents=True)
    setenv = base / 'bin' / 'setenv.sh'
    shutil.copyfile(JIRA_SETENV, setenv)

    pem = self_signed_identity().chain_pem()
    rc, res = _module(keytool_path, store, setenv, password, pem=pem, jvm_options_variable=variable)
    assert rc == 0 and res['changed'] is True, res
    assert 'catalina.sh' not in str(res.get('warnings'))
    # The password in none of its spellings (raw, quoted for eval, escaped for the assignment).
    text = setenv.read_text()
    line = next(x for x in text.splitlines() if PASSWORD_OPTION in x)
    written = line.split(PASSWORD_OPTION, 1)[1].rsplit(' -Djavax.net.ssl.trustStoreType=', 1)[0]
    assert all(written not in s for s in _strings(res)), res
    assert keytool_list(str(store), password) == {'relay': res['certificate']['sha256']}

    argv = catalina(base)
    assert not ran.exists() and not (base / 'ran').exists(), 'a command in the password or path ran when catalina.sh started the JVM'
    assert [a for a in argv if a.startswith(PASSWORD_OPTION)] == [PASSWORD_OPTION + password]
    assert [a for a in argv if a.startswith(STORE_OPTION)] == [STORE_OPTION + str(store)]
    assert '-Dinjected=1' not in argv

    if variable != 'CATALINA_OPTS':
        return
    # Run again: the same block, nothing changes.
    written = setenv.read_bytes()
    rc, res = _module(keytool_path, store, setenv, password, pem=pem, jvm_options_variable=variable)
    assert rc == 0 and res['changed'] is False, res
    assert setenv.read_bytes() == written


def test_plain_password_keeps_the_role_block_byte_for_byte(catalina, keytool_path, tmp_path):
    """A plain value is written as it always was (no quotes), so configured hosts see no change."""
    base = tmp_path / 'base'
    (base / 'bin').mkdir(parents=True)
    setenv = base / 'bin' / 'setenv.sh'
    shutil.copyfile(JIRA_SETENV, setenv)
    store = tmp_path / 'trust.jks'
    rc, res = _module(keytool_path, store, setenv, 'Plain.Pass_word-1+2=3@4%5/6:7,8', store_type='jks')
    assert rc == 0, res
    assert ('\nJVM_SUPPORT_RECOMMENDED_ARGS="${JVM_SUPPORT_RECOMMENDED_ARGS} '
            f'-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=Plain.Pass_word-1+2=3@4%5/6:7,8 '
            '-Djavax.net.ssl.trustStoreType=JKS"\n') in setenv.read_text()
    argv = catalina(base)
    assert PASSWORD_OPTION + 'Plain.Pass_word-1+2=3@4%5/6:7,8' in argv


@pytest.mark.parametrize('extra, message', [
    # Bitbucket's start script expands $JAVA_OPTS unquoted, without eval: no quoting survives there.
    ({'jvm_options_file': '_start-webapp.sh'}, 'jvm_options_file {dir}/_start-webapp.sh is not a setenv.sh'),
    ({'jvm_options_variable': 'MY_JVM_ARGS'}, 'jvm_options_variable MY_JVM_ARGS is not one that'),
])
def test_a_value_no_quoting_survives_is_refused(extra, message, keytool_path, tmp_path):
    setenv = tmp_path / 'setenv.sh'
    shutil.copyfile(JIRA_SETENV, setenv)
    original = setenv.read_bytes()
    if 'jvm_options_file' in extra:
        extra = dict(extra, jvm_options_file=str(tmp_path / extra['jvm_options_file']))
    store = tmp_path / 'trust.p12'
    rc, res = _module(keytool_path, store, setenv, 'Secret-pw $(id)', **extra)
    assert rc != 0 and message.format(dir=tmp_path) in res['msg'], res
    assert 'store_password contains whitespace' in res['msg'] and 'nothing was written' in res['msg']
    assert 'Secret-pw' not in res['msg']
    assert not store.exists() and setenv.read_bytes() == original
    assert not (tmp_path / '_start-webapp.sh').exists()
    # A plain password is fine there.
    rc, res = _module(keytool_path, store, setenv, 'Secret-pw-plain', **extra)
    assert rc == 0, res


def test_newline_in_the_password_is_refused(keytool_path, tmp_path):
    setenv = tmp_path / 'setenv.sh'
    rc, res = _module(keytool_path, tmp_path / 'trust.p12', setenv, 'Secret-pw\n-Dinjected=1')
    assert rc != 0 and 'store_password contains a line break or NUL' in res['msg'], res
    assert 'injected' not in res['msg'] and not setenv.exists() and not os.path.exists(tmp_path / 'trust.p12')
