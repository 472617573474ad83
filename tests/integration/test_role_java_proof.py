"""The role proves with the application's JVM when it finds one: a sandbox Jira whose lib/ holds
JavaMail 1.6.5, java on PATH, mail_test_send_client left at auto. The test send then runs with
those jars, the rendered session properties and the truststore the trust step filled, and a
second run reports the proof as current.
"""
from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml

# the peers fixture and the role runner, reused
from test_package import RELAY_PASSWORD, peers  # noqa: F401  pylint: disable=unused-import
from test_role_summary import SCENARIO, run_role, sandbox, summary_lines

pytestmark = pytest.mark.integration

JARS = ['/usr/share/java/javax.mail.jar', '/usr/share/java/javax.activation.jar']
if not all(os.path.exists(jar) for jar in JARS) or shutil.which('java') is None:
    pytestmark = [pytestmark, pytest.mark.skip(reason='needs java and JavaMail 1.6 (Debian libmail-java)')]


def test_auto_proves_with_the_applications_jvm(tmp_path, peers):  # noqa: F811
    box = sandbox(tmp_path)
    lib = box / 'app' / 'jira' / 'lib'
    lib.mkdir(parents=True, exist_ok=True)
    for jar in JARS:
        shutil.copyfile(jar, lib / os.path.basename(jar).replace('.jar', '-1.6.5.jar'))
    settings = yaml.safe_load(SCENARIO.read_text())['mail_settings']
    settings['server']['host'] = 'localhost'   # the name in the relay's certificate (JavaMail checks it)
    # DNS is not what this test is about (the zone knows the relay by its other name)
    extra = {'mail_settings': settings, 'mail_test_send_ca_path': None, 'mail_dns_enabled': False}

    first = run_role(tmp_path, peers, extra=extra, args=('-v',))
    out = first.stdout + first.stderr
    (tmp_path / 'first.log').write_text(out)
    assert first.returncode == 0, out[-6000:]
    [line] = summary_lines(out)
    assert re.search(r'proof sent <[^>]+>', line), line
    assert '"implementation": "javax.mail"' in out and '"version": "1.6.5"' in out, out[-6000:]
    assert re.search(r'"jar": "[^"]*/app/jira/lib/javax\.mail-1\.6\.5\.jar"', out), out[-6000:]
    assert '"tls_protocol": "TLSv1.' in out
    assert RELAY_PASSWORD not in out

    second = run_role(tmp_path, peers, extra=extra)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out[-6000:]
    [line] = summary_lines(out)
    assert re.search(r'already proven at \d{4}-\d\d-\d\dT', line), line
