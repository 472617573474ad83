"""mail_info as a module process: its option rules, check mode, and invalid settings."""
from __future__ import annotations

import json

from tests.support.modrun import run_module

CANARY = 'Canary-5ecret-Pa55'


def test_product_or_settings_is_required():
    rc, result = run_module('mail_info', {})
    assert rc == 1 and 'product' in result['msg'] and 'settings' in result['msg']


def test_a_token_excludes_basic_authentication():
    rc, result = run_module('mail_info', {'product': 'bitbucket', 'url': 'http://127.0.0.1:9', 'token': CANARY,
                                          'url_username': 'admin'})
    assert rc == 1 and 'mutually exclusive' in result['msg']
    assert CANARY not in json.dumps(result)


def test_reads_nothing_and_reports_the_mode_it_ran_in(tmp_path):
    for check_mode in (False, True):
        rc, result = run_module('mail_info', {'product': 'generic'}, check_mode=check_mode)
        assert rc == 0 and result['changed'] is False and result['check_mode'] is check_mode
        assert result['sources'] == [] and '$.server' in result['unknown']
    assert list(tmp_path.iterdir()) == []


def test_invalid_settings_fail_by_json_path_without_the_secret():
    settings = {'product': 'jira', 'server': {'host': 'smtp.example.com', 'port': 465, 'tls': 'required',
                                              'protocol': 'smtp'},
                'auth': {'method': 'basic', 'username': 'u', 'password': CANARY},
                'sender': {'from_address': 'jira@example.com'}}
    rc, result = run_module('mail_info', {'settings': settings})
    assert rc == 1 and result['kind'] == 'invalid' and '$.server.port' in result['msg']
    assert CANARY not in json.dumps(result)
