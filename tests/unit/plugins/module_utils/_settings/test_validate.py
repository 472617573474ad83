"""_settings/validate.py: batches of files, in one process and forked, with and without secrets."""
from __future__ import annotations

import json

from ansible_collections.mailwright.smtp.plugins.module_utils._settings import validate

CANARY = 'Canary-Pa55-\u00e9-%41'


def _files(tmp_path, count: int) -> list[str]:
    paths = []
    for index in range(count):
        doc = {'product': 'jira', 'server': {'host': f'smtp{index}.example.com', 'port': 587, 'tls': 'required'},
               'auth': {'method': 'basic', 'username': 'u', 'password': f'{CANARY}{index}'},
               'sender': {'from_address': 'jira@example.com'}}
        if index % 3 == 2:
            doc['server']['port'] = 70000
        path = tmp_path / f's{index:04d}.json'
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    return paths


def test_secrets_are_collected_only_when_asked(tmp_path):
    files = _files(tmp_path, 3)
    with_secrets = validate.validate_files(files)
    without = validate.validate_files(files, with_secrets=False)
    assert [f'{CANARY}0'] == with_secrets[0].secrets
    assert all(report.secrets == [] for report in without)
    # everything else is the same report
    assert [r._replace(secrets=[]) for r in with_secrets] == without


def test_forked_batches_give_the_same_reports_in_order(tmp_path):
    files = _files(tmp_path, validate._PARALLEL_THRESHOLD + 5)
    serial = validate.validate_files(files, workers=1, with_secrets=False)
    forked = validate.validate_files(files, workers=2, with_secrets=False)
    assert [r.file for r in forked] == files
    assert forked == serial
    assert sum(1 for r in forked if r.errors) == len(files) // 3
    assert all(r.secrets == [] for r in forked)
    assert validate.validate_files(files, workers=2)[7].secrets == [f'{CANARY}7']
