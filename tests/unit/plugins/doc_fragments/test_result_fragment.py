"""The shared result keys (doc fragment mailwright.smtp.result) mean the same in every module that
documents them, every module documents `kind`, and `notes` survives only as manual_steps' old name."""

from __future__ import annotations

import ast
import pathlib

import pytest
import yaml

from ansible_collections.mailwright.smtp.plugins.doc_fragments.result import ModuleDocFragment

ROOT = pathlib.Path(__file__).resolve().parents[4]
# Every module, so a new one cannot skip the fragments.
MODULES = sorted(path.stem for path in (ROOT / 'plugins' / 'modules').glob('*.py') if not path.name.startswith('_'))
SHARED = yaml.safe_load(ModuleDocFragment.RETURN)


def _doc(name: str, block: str) -> dict:
    tree = ast.parse((ROOT / 'plugins' / 'modules' / f'{name}.py').read_text(encoding='utf-8'))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == block:
            return yaml.safe_load(ast.literal_eval(node.value)) or {}
    raise AssertionError(f'{name} has no {block}')


@pytest.mark.parametrize('name', MODULES)
def test_shared_keys_mean_the_same(name):
    returned = _doc(name, 'RETURN')
    assert 'kind' in returned, f'{name}: document kind (mailwright.smtp.result)'
    for key, entry in returned.items():
        if key in SHARED:
            assert entry['type'] == SHARED[key]['type'], (name, key)
    # one name per thing: durations in elapsed_ms, the kind as kind, steps for a person as manual_steps
    assert not {'error_kind', 'elapsed', 'notes'} & set(returned), name


@pytest.mark.parametrize('name', MODULES)
def test_modules_use_the_shared_fragments(name):
    doc = _doc(name, 'DOCUMENTATION')
    fragments = doc.get('extends_documentation_fragment') or []
    assert {'mailwright.smtp.attributes', 'mailwright.smtp.result'} <= set(fragments)
    for attribute in doc['attributes'].values():
        assert 'description' not in attribute, f'{name}: the generic description comes from the fragment'
        assert attribute['support'] in ('full', 'partial', 'none')
