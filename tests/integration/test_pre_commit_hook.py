"""The pre-commit hook (.pre-commit-hooks.yaml) passes the examples, names the fields of a bad
document, and the examples carry the yaml-language-server schema comment editors read."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / 'schemas' / 'examples').glob('*.yml'))


def run_hook(*files: pathlib.Path) -> subprocess.CompletedProcess:
    hook = yaml.safe_load((ROOT / '.pre-commit-hooks.yaml').read_text())[0]
    assert hook['language'] == 'script' and os.access(ROOT / hook['entry'], os.X_OK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'PYTHONPATH'))}
    return subprocess.run([sys.executable, str(ROOT / hook['entry']), *map(str, files)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)


def test_examples_pass_and_bad_document_names_fields():
    assert run_hook(*EXAMPLES).returncode == 0
    bad = run_hook(ROOT / 'demo' / 'bad.yml')
    assert bad.returncode == 1 and '$.server.port' in bad.stdout


def test_examples_name_the_schema_for_editors():
    for example in EXAMPLES:
        assert example.read_text().splitlines()[0] == '# yaml-language-server: $schema=../mail-settings.schema.json'
