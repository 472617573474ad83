"""The audit report reads only keys the modules document, and mail_report's backend writes its files
through _core.files with a stand-in host (no Ansible)."""

from __future__ import annotations

import json
import os

from ansible_collections.mailwright.smtp.plugins.module_utils._report import report
from ansible_collections.mailwright.smtp.plugins.module_utils._report.publish import publish_reports


class Host:
    def __init__(self):
        self.attribute_calls: list[dict] = []

    def load_file_common_arguments(self, params, path=None):
        return {'path': path or params['path'], 'mode': params.get('mode')}

    def set_fs_attributes_if_different(self, file_args, changed, diff=None, expand=True):
        self.attribute_calls.append(file_args)
        return changed

    @staticmethod
    def _symbolic_mode_to_octal(path_stat, symbolic_mode):
        raise AssertionError('no symbolic mode in these tests')

    def warn(self, warning):
        raise AssertionError(f'the backend warned through the host: {warning}')


def facts(**steps) -> dict:
    return {'host': 'jira01', 'product': 'jira', 'steps': steps, 'paths': {}}


def test_dns_checks_are_read_from_the_documented_keys():
    summary = report.summarise(facts(dns={'changed': False, 'status': 'warn', 'checks': [
        {'name': 'dmarc', 'status': 'warn', 'summary': 'policy none', 'records': ['v=DMARC1; p=none']},
        {'name': 'spf', 'status': 'fail', 'error_kind': 'nxdomain', 'records': []},
    ]}))
    assert summary['dns']['checks'] == [
        {'check': 'dmarc', 'status': 'warn', 'records': ['v=DMARC1; p=none'], 'message': 'policy none'},
        {'check': 'spf', 'status': 'fail', 'records': [], 'message': 'nxdomain'},
    ]


def test_keys_no_module_produces_are_not_read():
    # dns_check never returned `results`, checks never had `check`, `values` or `message`.
    summary = report.summarise(facts(dns={'changed': False, 'status': 'pass', 'results': [
        {'check': 'spf', 'status': 'pass', 'values': ['x'], 'message': 'y'}]}))
    assert summary['dns']['checks'] == []
    assert report._message({'check': 'spf', 'msg': 'not a documented finding'}) == json.dumps(
        {'check': 'spf', 'msg': 'not a documented finding'}, sort_keys=True)
    assert report._message({'path': '$.server.port', 'message': 'STARTTLS on 465'}) == '$.server.port: STARTTLS on 465'
    assert report._message({'step': 'tls', 'text': 'handshake failed', 'kind': 'tls'}) == 'tls: handshake failed'


def test_the_api_modules_manual_steps_and_a_failed_step():
    summary = report.summarise(facts(
        bitbucket_api={'changed': True, 'differences': ['port'], 'requests': ['GET /x'], 'manual_steps': ['a']},
        probe={'failed': True, 'msg': 'relay refused', 'kind': 'server'}))
    assert summary['rendered'][0]['detail'] == {'differences': ['port'], 'requests': ['GET /x']}
    assert summary['failed'] == {'step': 'probe', 'msg': 'relay refused'}


def test_publish_writes_once_and_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / 'reports'
    params = {'reports': {'jira01': facts()}, 'dest': str(dest), 'title': 'Audit', 'secrets': [], 'mode': '0644'}
    planned = publish_reports(params, host=Host(), check_mode=True, generated='2026-12-01T00:00:00Z')
    assert planned['changed'] is True and not dest.exists()
    assert planned['html'] == str(dest / 'index.html') and str(dest / 'jira01.md') in planned['files']

    host = Host()
    written = publish_reports(params, host=host, generated='2026-12-01T00:00:00Z')
    assert written['changed'] is True and sorted(os.listdir(dest)) == sorted(os.path.basename(f) for f in written['files'])
    assert {call['mode'] for call in host.attribute_calls} == {'0644'}
    again = publish_reports(params, host=Host(), generated='2026-12-01T00:00:00Z')
    assert again['changed'] is False and again['hosts']['jira01']['drift'] == []
