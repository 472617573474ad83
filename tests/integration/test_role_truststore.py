"""The role on a fake Jira home with only mail_truststore_path set (no CA options for the probe or the
test send): the store it creates keeps the JRE's public CAs plus the relay, and the probe and the
test send verify the relay against that store. Run through ansible-playbook like a user would
(test_role_summary.run_role: the molecule jira scenario's variables, the local peers).
"""
from __future__ import annotations

import re
import shutil

import pytest

from test_package import peers  # noqa: F401  pylint: disable=unused-import
from test_role_summary import run_role, summary_lines
from tests.support.keytool import keytool_aliases

from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import find_cacerts

pytestmark = pytest.mark.integration

STORE_PASSWORD = 'role-summary-store-password'  # what run_role gives the scenario
# Only the truststore: the probe and the test send must trust the relay through it.
ONLY_TRUSTSTORE = {'mail_probe_ca_path': None, 'mail_test_send_ca_path': None}


def _warnings(out: str) -> str:
    return ' '.join(re.findall(r'\[WARNING\]: .*(?:\n(?!\S).*)*', out))


def test_role_keeps_the_public_cas_and_trusts_once(tmp_path, peers):  # noqa: F811
    cacerts = find_cacerts(shutil.which('keytool'))
    count = len(keytool_aliases(cacerts, 'changeit'))
    completed = run_role(tmp_path, peers, extra=ONLY_TRUSTSTORE, args=('--diff',))
    out = completed.stdout + completed.stderr
    assert completed.returncode == 0, out[-6000:]
    store = tmp_path / 'sandbox' / 'home' / 'mail-truststore.p12'
    listed = keytool_aliases(str(store), STORE_PASSWORD)
    assert len(listed) == count + 1 and 'mailwright-127.0.0.1' in listed, sorted(listed)[:5]
    assert f'+{count} entries from ' in out, out[-6000:]
    [line] = summary_lines(out)
    assert re.search(r'truststore imported', line) and re.search(r'probe pass TLSv1\.[23]', line), line
    assert re.search(r'proof sent <[^>]+>', line), line
    assert 'Marketplace' not in _warnings(out)
    setenv = (tmp_path / 'sandbox' / 'app' / 'jira' / 'bin' / 'setenv.sh').read_text()
    assert f'-Djavax.net.ssl.trustStore={store}' in setenv

    second = run_role(tmp_path, peers, extra=ONLY_TRUSTSTORE)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-6000:]
    [line] = summary_lines(out)
    assert 'truststore unchanged' in line and 'probe pass' in line, line
    assert len(keytool_aliases(str(store), STORE_PASSWORD)) == count + 1


def test_role_without_public_cas_needs_the_variable_and_warns(tmp_path, peers):  # noqa: F811
    refused = run_role(tmp_path, peers, extra=dict(ONLY_TRUSTSTORE, mail_truststore_seed='none'))
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0 and 'mail_truststore_public_cas: false' in out, out[-4000:]
    store = tmp_path / 'sandbox' / 'home' / 'mail-truststore.p12'
    assert not store.exists()

    completed = run_role(tmp_path, peers, extra=dict(ONLY_TRUSTSTORE, mail_truststore_public_cas=False))
    out = completed.stdout + completed.stderr
    assert completed.returncode == 0, out[-6000:]
    assert keytool_aliases(str(store), STORE_PASSWORD).keys() == {'mailwright-127.0.0.1'}
    warned = _warnings(out)
    assert 'holds only the relay' in warned and 'Marketplace, licensing, integrations' in warned, warned


def test_probe_failure_names_the_role_variable(tmp_path, peers):  # noqa: F811
    """No trust step ran (skipped by tag) and no CA option: the probe fails at TLS, and the role's error
    names the module option and the role variable that would trust the relay."""
    completed = run_role(tmp_path, peers, extra=ONLY_TRUSTSTORE, args=('--skip-tags', 'trust'))
    out = completed.stdout + completed.stderr
    assert completed.returncode != 0, out[-4000:]
    assert 'Probe the relay' in out and 'set truststore_path' in out, out[-4000:]
    assert 'truststore_path is mail_truststore_path' in out and 'ca_path is mail_probe_ca_path' in out, out[-4000:]
