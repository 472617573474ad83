"""The audit report: Markdown + one self-contained HTML page, drift between runs, secrets redacted,
and the page rendered by headless Chromium (Debian package `chromium`) into a screenshot.

The screenshot is kept in .build/test-artifacts/audit-report.png for a person to look at.
"""
from __future__ import annotations

import copy
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._report.report import build_reports, drift, summarise
from tests.support.modrun import run_module

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CANARY = 'Canary-5ecret-Pa55'


def jira_facts(port: int = 587) -> dict:
    """A host's mail_report fact shaped as the role sets it (registered results of each step)."""
    return {
        'host': 'jira01', 'product': 'jira', 'check_mode': True,
        'paths': {'server_xml': '/opt/atlassian/jira/conf/server.xml', 'setenv': '/opt/atlassian/jira/bin/setenv.sh',
                  'properties': None, 'truststore': '/var/atlassian/jira/mail-truststore.p12', 'api': None},
        'steps': {
            'validate': {'changed': False, 'errors': [], 'warning_details': [], 'missing_libraries': [],
                         'python': '/usr/bin/python3', 'effective': {
                'product': 'jira', 'name': 'Corporate relay',
                'server': {'host': 'smtp.example.com', 'port': port, 'protocol': 'smtp', 'tls': 'required',
                           'timeout_ms': 10000, 'jndi': {'name': 'mail/JiraMailServer', 'session_type': 'javax.mail.Session'}},
                'auth': {'method': 'basic', 'username': 'jira-notify', 'password': CANARY},
                'sender': {'from_address': 'jira@example.com', 'from_name': '${fullname} (Jira)', 'subject_prefix': '[JIRA]'}}},
            'server_xml': {'changed': False, 'action': 'unchanged', 'context': '<Context path="">', 'line': 16},
            'setenv': {'changed': False, 'censored': 'the output has been hidden due to no_log'},
            'bitbucket_api': {'changed': False, 'skipped': True},
            'properties': {'changed': False, 'skipped': True},
            'ghes': {'changed': False, 'skipped': True},
            'trust': {'changed': False, 'path': '/var/atlassian/jira/mail-truststore.p12', 'store_type': 'pkcs12',
                      'alias': 'mailwright-smtp.example.com', 'entries_after': 1, 'actions': [],
                      'certificate': {'subject': 'CN=smtp.example.com', 'issuer': 'CN=Corp CA', 'sha256': 'AA:BB:CC',
                                      'not_after': '2027-01-01T00:00:00Z', 'days_left': 39, 'self_signed': False}},
            'dns': {'changed': False, 'status': 'pass', 'checks': [
                {'name': 'relay_address', 'status': 'pass', 'summary': 'smtp.example.com resolves to 192.0.2.10',
                 'records': ['smtp.example.com A 192.0.2.10']},
                {'name': 'spf', 'status': 'pass', 'summary': 'authorises 192.0.2.10',
                 'records': ['example.com TXT "v=spf1 ip4:192.0.2.0/24 -all"']},
                {'name': 'dmarc', 'status': 'warn', 'summary': 'policy none', 'records': ['_dmarc.example.com TXT "v=DMARC1; p=none"']}]},
            'probe': {'changed': False, 'msg': '1 target passed', 'results': [{
                'target': 'Corporate relay (smtp.example.com:587)', 'status': 'pass', 'step': 'done', 'connect_ms': 3.2,
                'banner': '220 smtp.example.com ESMTP', 'starttls_offered': True, 'auth_mechanisms': ['PLAIN', 'LOGIN'],
                'tls': {'version': 'TLSv1.3', 'cipher': 'TLS_AES_256_GCM_SHA384', 'verified': True, 'verify_error': None},
                'certificate': {'subject': 'CN=smtp.example.com', 'sha256': 'AA:BB:CC', 'not_after': '2027-01-01T00:00:00Z', 'days_left': 39},
                'credentials': {'checked': True, 'ok': True, 'mechanism': 'PLAIN'}, 'errors': [], 'warnings': [],
                'transcript': ['C: AUTH PLAIN ********']}]},
            'proof': {'changed': False, 'sent': False, 'marker_path': '/var/lib/mailwright/jira.json', 'proof': {
                'time': '2026-11-20T09:30:00Z', 'age_seconds': 259200, 'message_id': '<1@example.com>',
                'relay': 'smtp.example.com:587', 'recipients': ['platform-team@example.com'],
                'reply': {'code': 250, 'text': '2.0.0 Ok: queued as 4F2A'}, 'fingerprint': 'hmac-sha256:5f0c'}},
        },
        'manual_steps': ['In Jira: Administration > System > Outgoing Mail: JNDI Location java:comp/env/mail/JiraMailServer'],
    }


def failed_facts() -> dict:
    return {'host': 'conf01', 'product': 'confluence', 'check_mode': True, 'paths': {},
            'steps': {'validate': {'failed': True, 'msg': '$.server.port: STARTTLS on port 465',
                                   'errors': [{'path': '$.server.port', 'message': 'STARTTLS on port 465 is a contradiction'}]}},
            'manual_steps': []}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', data[16:24])


def png_distinct_rows(data: bytes) -> int:
    """Number of distinct scanlines (filter byte included) - a blank page has very few."""
    width, height = png_size(data)
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack('>I', data[offset:offset + 4])[0]
        kind = data[offset + 4:offset + 8]
        if kind == b'IDAT':
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b''.join(chunks))
    stride = len(raw) // height
    return len({raw[row * stride:(row + 1) * stride] for row in range(height)})


def test_report_files_redaction_and_drift(tmp_path):
    files, hosts = build_reports({'jira01': jira_facts(), 'conf01': failed_facts()}, {}, generated='2026-11-23T10:00:00Z',
                                 secrets=[CANARY])
    assert hosts['conf01']['step'] == 'validate'
    assert '| failing | step validate failed: $.server.port: STARTTLS on port 465 |' in files['index.md']
    assert set(files) == {'jira01.json', 'jira01.md', 'conf01.json', 'conf01.md', 'index.md', 'index.html', 'summary.json'}
    assert hosts['jira01']['status'] == 'ok' and hosts['conf01']['status'] == 'failing'
    for name, text in files.items():
        assert CANARY not in text, name
    assert '| `auth.password` | ******** |' in files['jira01.md']
    assert 'CN=smtp.example.com' in files['jira01.md'] and 'hmac-sha256:5f0c' in files['jira01.md']
    assert 'STARTTLS on port 465' in files['conf01.md']
    # self-contained: no external resource of any kind
    page = files['index.html']
    assert not re.search(r'<(script|link|img|iframe)\b', page)
    assert not re.search(r'(src|href)="(https?:)?//', page)

    # second run: the port changed, the certificate's days left went down (volatile: no drift)
    previous = {'jira01': summarise(jira_facts())}
    later = jira_facts(port=2525)
    later['steps']['trust']['certificate']['days_left'] = 12
    lines = drift(previous['jira01'], summarise(later))
    assert lines == ['settings.server.port: 587 -> 2525']
    files2, hosts2 = build_reports({'jira01': later}, previous, generated='2026-11-24T10:00:00Z')
    # changed since the previous report is not drift from the settings: the host still matches them
    assert hosts2['jira01'] == {'status': 'ok', 'drift': [], 'changes': ['settings.server.port: 587 -> 2525']}
    assert 'settings.server.port: 587 -&gt; 2525' in files2['index.html']
    assert '1 value: settings.server.port: 587 -> 2525' in files2['index.md']


def test_mail_report_module_writes_and_detects_drift(tmp_path):
    dest = tmp_path / 'report'
    rc, result = run_module('mail_report', {'reports': {'jira01': jira_facts()}, 'dest': str(dest), 'secrets': [CANARY]})
    assert rc == 0 and result['changed'], result
    assert (dest / 'index.html').exists() and (dest / 'jira01.json').exists()
    assert result['hosts']['jira01']['status'] == 'ok'
    assert CANARY not in json.dumps(result)  # secrets is no_log: every element is masked
    assert {oct(path.stat().st_mode & 0o777) for path in dest.iterdir()} == {'0o644'}
    rc, result = run_module('mail_report', {'reports': {'jira01': jira_facts(port=465)}, 'dest': str(dest)}, check_mode=True)
    assert rc == 0 and result['hosts']['jira01']['changes'] == ['settings.server.port: 587 -> 465']
    assert '"port": 587' in (dest / 'jira01.json').read_text()  # check mode wrote nothing
    for path in dest.iterdir():
        assert CANARY not in path.read_text()


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason='needs the Debian package chromium (tools/install-system-deps.sh installs it)')
def test_html_renders_in_headless_chromium(tmp_path):
    files, _hosts = build_reports({'jira01': jira_facts(), 'conf01': failed_facts()}, {}, generated='2026-11-23T10:00:00Z')
    page = tmp_path / 'index.html'
    page.write_text(files['index.html'])
    png = tmp_path / 'index.png'
    profile = tmp_path / 'profile'
    completed = subprocess.run(
        [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={profile}',
         f'--screenshot={png}', '--window-size=1280,1600', page.as_uri()],
        capture_output=True, timeout=120, check=False)
    assert png.exists(), completed.stderr.decode(errors='replace')[-2000:]
    data = png.read_bytes()
    assert png_size(data) == (1280, 1600)
    assert len(data) > 20_000, 'the screenshot is suspiciously small (blank page?)'
    assert png_distinct_rows(data) > 200, 'the screenshot has almost no distinct rows (blank page?)'
    artifacts = ROOT / '.build' / 'test-artifacts'
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, artifacts / 'audit-report.png')
    shutil.copy(page, artifacts / 'audit-report.html')


def test_a_blank_page_fails_the_distinct_rows_check(tmp_path):
    """Guards the screenshot check above: it must be able to fail."""
    width, height = 64, 64
    raw = b''.join(b'\x00' + b'\xff\xff\xff' * width for _row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
    blank = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
             + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    assert png_distinct_rows(blank) == 1
    assert copy.deepcopy(png_size(blank)) == (64, 64)


def test_scrub_hides_secret_keys_whatever_the_value():
    from ansible_collections.mailwright.smtp.plugins.module_utils._report.report import scrub

    facts = {'auth': {'password': 12345678, 'store_password': ['old-1', 'old-2'], 'trustStorePassword': 'x-1',
                      'client_secret': {'value': 'x-2'}, 'mail.smtp.password': 'x-3', 'API_TOKEN': 987654,
                      'keystorePass': True, 'token_url': 'https://login.example.com/token', 'password_written': True,
                      'empty_password': None},
             'credentials': {'checked': True, 'ok': True, 'mechanism': 'PLAIN'}}
    scrubbed = scrub(facts)
    text = json.dumps(scrubbed)
    for value in ('12345678', 'old-1', 'x-1', 'x-2', 'x-3', '987654'):
        assert value not in text, value
    auth = scrubbed['auth']
    assert all(auth[key] == '********' for key in ('password', 'store_password', 'trustStorePassword', 'client_secret',
                                                   'mail.smtp.password', 'API_TOKEN', 'keystorePass'))
    assert auth['token_url'] == 'https://login.example.com/token' and auth['password_written'] is True
    assert auth['empty_password'] is None
    assert scrubbed['credentials'] == facts['credentials']  # the outcome of an AUTH check is not a secret


def info_result(drift=(), proof_current=True) -> dict:
    """mail_info's registered result, as the role's report step records it (steps.info)."""
    return {'changed': False, 'check_mode': True, 'product': 'jira', 'sources': ['server_xml'],
            'current': {'product': 'jira'}, 'unknown': ['$.sender.subject_prefix'],
            'drift': list(drift), 'findings': [{'kind': 'debug', 'where': 'server.xml:12',
                                                'message': 'server.xml:12: mail.debug is true'}],
            'proof': {'marker_path': '/var/lib/mailwright/jira.json', 'found': True, 'time': '2026-11-20T09:30:00Z',
                      'age_seconds': 259200, 'message_id': '<1@example.com>', 'proves_settings': proof_current,
                      'current': proof_current}}


def overview_rows(index_md: str) -> dict[str, list[str]]:
    rows = {}
    for line in index_md.splitlines():
        if line.startswith('| ['):
            cells = [c.strip() for c in line.strip('|').split(' | ')]
            rows[cells[0].split(']')[0][1:]] = cells
    return rows


def test_status_ok_only_when_the_host_matches_and_the_proof_is_current():
    matching = jira_facts()
    matching['steps']['info'] = info_result()
    drifted = jira_facts()
    drifted['host'] = 'jira02'
    drifted['steps']['info'] = info_result([{'path': '$.server.timeout_ms', 'current': 20000, 'desired': 10000},
                                            {'path': '$.auth.password', 'current': '********', 'desired': '********',
                                             'masked': True}])
    pending = jira_facts()
    pending['steps']['server_xml'] = {'changed': True, 'action': 'updated', 'context': '<Context path="">', 'line': 16}
    unproven = jira_facts()
    unproven['steps']['info'] = info_result(proof_current=False)
    resend = jira_facts()
    resend['steps']['proof']['changed'] = True  # test_send in check mode: would send
    files, hosts = build_reports({'jira01': matching, 'jira02': drifted, 'jira03': pending, 'jira04': unproven,
                                  'jira05': resend}, {}, generated='2026-11-23T10:00:00Z', secrets=[CANARY])
    assert {h: v['status'] for h, v in hosts.items()} == {
        'jira01': 'ok', 'jira02': 'drift', 'jira03': 'drift', 'jira04': 'unproven', 'jira05': 'unproven'}
    assert hosts['jira02']['drift'] == ['$.server.timeout_ms: 20000 (settings: 10000)',
                                        '$.auth.password: differs (secret, not shown)']
    assert hosts['jira03']['drift'] == ['JNDI mail Resource would change (/opt/atlassian/jira/conf/server.xml)']
    rows = overview_rows(files['index.md'])
    assert rows['jira02'][2] == 'drift' and '$.server.timeout_ms: 20000 (settings: 10000)' in rows['jira02'][3]
    assert rows['jira01'][3] == '-' and rows['jira01'][5] == 'STARTTLS required'
    assert rows['jira01'][6] == '2026-11-20T09:30:00Z (3 days ago)'
    assert rows['jira04'][6].endswith(', of other settings')
    assert rows['jira04'][3].startswith('no current proof of these settings (last: 2026-11-20T09:30:00Z')
    # readable cells: no JSON anywhere in the overview
    for cells in rows.values():
        for cell in cells[1:]:
            assert not re.search(r'[{}\[\]"]', cell), cell
    assert 'mail.debug is true' in files['jira01.md']
    html_page = files['index.html']
    assert '$.server.timeout_ms: 20000 (settings: 10000)' in html_page
    overview = html_page[html_page.index('<h2>Overview</h2>'):]
    overview = overview[:overview.index('</table>')]
    assert not re.search(r'<td>[^<]*[{}][^<]*</td>', overview)
    for text in files.values():
        assert CANARY not in text


def test_the_audit_writes_where_it_is_run_and_names_the_failing_step(tmp_path):
    """No mail_audit_dir: the report goes to ./mail-audit of the directory the playbook is run from,
    never into the installed collection; a host whose settings do not validate is failing."""
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_')}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(ROOT / '.build' / 'collections'), 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_HOME': str(tmp_path / '.ansible'),
                'PWD': str(tmp_path)})  # as the shell sets it for the directory the user is in
    settings = json.dumps({'mail_settings': {'product': 'jira', 'server': {'host': 'smtp.example.com', 'port': 465,
                                                                           'tls': 'required'},
                                             'sender': {'from_address': 'jira@example.com'}},
                           'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable})
    completed = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'jira01,', '-e', settings,
         str(ROOT / 'playbooks' / 'audit.yml')],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:]
    summary = json.loads((tmp_path / 'mail-audit' / 'summary.json').read_text())
    assert summary['hosts']['jira01']['status'] == 'failing' and summary['hosts']['jira01']['step'] == 'validate'
    assert 'jira01: failing - step validate' in completed.stdout
    assert f'Report: {tmp_path}/mail-audit/index.html' in completed.stdout
    assert not (ROOT / 'playbooks' / 'mail-audit').exists()  # not next to the playbook, inside the collection
