"""Every module's DOCUMENTATION, EXAMPLES and RETURN parse as YAML and agree with its options."""
from __future__ import annotations

import ast
import pathlib

import pytest
import yaml

MODULES = sorted((pathlib.Path(__file__).resolve().parents[4] / 'plugins' / 'modules').glob('*.py'))


def _blocks(path: pathlib.Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ('DOCUMENTATION', 'EXAMPLES', 'RETURN'):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


@pytest.mark.parametrize('path', MODULES, ids=[m.stem for m in MODULES])
def test_documentation_blocks_parse(path):
    blocks = _blocks(path)
    assert set(blocks) == {'DOCUMENTATION', 'EXAMPLES', 'RETURN'}, f'{path.name} lacks a block'
    doc = yaml.safe_load(blocks['DOCUMENTATION'])
    assert doc['module'] == path.stem
    assert doc.get('short_description')
    assert 'check_mode' in doc.get('attributes', {}), 'declare check_mode support'
    examples = yaml.safe_load(blocks['EXAMPLES'])
    assert isinstance(examples, list) and examples
    for task in examples:
        assert any(key.startswith('mailwright.smtp.') or key.startswith('ansible.builtin.') for key in task), task
    yaml.safe_load(blocks['RETURN'])
