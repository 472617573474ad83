"""The README and each module's `requirements` say which modules run on the standard library alone.

Each of those modules runs here as a process in which jsonschema, PyYAML, dnspython and
cryptography cannot be imported (a meta-path finder in a sitecustomize refuses them), against real
peers and files, with a valid settings document: it must succeed. The modules that do need a
library must fail cleanly with missing_required_lib naming its pip package, never a traceback.
"""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from tests.support.bitbucket_api import BitbucketServer
from tests.support.modrun import run_module

pytest_plugins = ['tests.support.fixtures_smtp']

BLOCKED = ('jsonschema', 'yaml', 'dns', 'cryptography')

SITECUSTOMIZE = textwrap.dedent(f'''
    import sys

    class _Refuse:
        """Behave as a host where these libraries were never installed."""
        blocked = {BLOCKED!r}

        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.blocked:
                raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)
            return None

    sys.meta_path.insert(0, _Refuse())
''')


@pytest.fixture
def bare_host(tmp_path: pathlib.Path) -> dict:
    """Environment of a managed host with the standard library only."""
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(SITECUSTOMIZE)
    from tests.support.modrun import module_env
    return {'PYTHONPATH': f'{site}:{module_env()["PYTHONPATH"]}'}


def settings_for(server) -> dict:
    return {
        'product': 'jira',
        'server': {'host': server.host, 'port': server.port, 'tls': 'none', 'timeout_ms': 3000},
        'auth': {'method': 'none'},
        'sender': {'from_address': 'jira@example.test'},
        'test': {'recipients': ['team@example.test']},
    }


def test_the_blocker_really_blocks(bare_host, tmp_path):
    """Guard: without this, every test below would pass on a host that has the libraries."""
    settings = {'product': 'jira', 'server': {'host': '127.0.0.1'}, 'sender': {'from_address': 'a@example.test'}}
    rc, result = run_module('smtp_probe', {'settings': settings}, env=bare_host)
    assert rc == 1 and 'cryptography' in result['msg'] and 'Traceback' not in result.get('_stderr', ''), result


@pytest.mark.parametrize('name', ['tomcat_mail_resource', 'mail_properties'])
def test_render_modules_need_no_third_party_library(name, bare_host, tmp_path, smtp_server):
    server = smtp_server('plain')
    if name == 'tomcat_mail_resource':
        path = tmp_path / 'server.xml'
        path.write_text('<Server><Service><Engine><Host><Context path="" docBase="x"/></Host></Engine></Service></Server>\n')
        args = {'path': str(path)}
    else:
        path = tmp_path / 'application.properties'
        args = {'path': str(path), 'flavour': 'spring'}
    rc, result = run_module(name, dict(args, settings=settings_for(server)), env=bare_host)
    assert rc == 0 and result['changed'], result
    assert path.stat().st_size > 0


def test_test_send_needs_no_third_party_library(bare_host, tmp_path, smtp_server):
    server = smtp_server('plain')
    rc, result = run_module('test_send', {'settings': settings_for(server), 'marker_path': str(tmp_path / 'proof.json')},
                            env=bare_host)
    assert rc == 0 and result['sent'], result
    assert len(server.messages) == 1


def test_bitbucket_mail_server_needs_no_third_party_library(bare_host, smtp_server):
    server = smtp_server('plain')
    with BitbucketServer() as api:
        rc, result = run_module('bitbucket_mail_server', {
            'settings': dict(settings_for(server), product='bitbucket'), 'url': api.url,
            'url_username': api.username, 'url_password': api.password}, env=bare_host)
    assert rc == 0 and result['changed'], result


@pytest.mark.parametrize('name, pip_name', [('dns_check', 'dnspython'), ('truststore_cert', 'cryptography')])
def test_modules_that_need_a_library_say_which(name, pip_name, bare_host, tmp_path, smtp_server):
    server = smtp_server('plain')
    args: dict = {'settings': settings_for(server)}
    if name == 'truststore_cert':
        args.update(path=str(tmp_path / 'trust.p12'), store_password='changeit')
    rc, result = run_module(name, args, env=bare_host)
    assert rc == 1 and pip_name in result['msg'], result
    assert 'Traceback' not in result.get('_stderr', '')
