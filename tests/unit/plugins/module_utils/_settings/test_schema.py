"""The schema that ships inside module_utils (and so reaches managed hosts) is the published one."""
from __future__ import annotations

import json
import pathlib

from ansible_collections.mailwright.smtp.plugins.module_utils._settings.schema import schema

ROOT = pathlib.Path(__file__).resolve().parents[5]


def test_shipped_schema_equals_published_schema():
    published = json.loads((ROOT / 'schemas' / 'mail-settings.schema.json').read_text(encoding='utf-8'))
    assert schema() == published, 'run `make schema` after editing schemas/mail-settings.schema.json'


def test_every_property_is_described():
    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in node.get('properties', {}).items():
                assert prop.get('description'), f'{where}.{name} has no description'
                walk(prop, f'{where}.{name}')
            if isinstance(node.get('items'), dict):
                walk(node['items'], f'{where}[]')
            if node.get('type') == 'object' and 'properties' in node:
                assert node.get('additionalProperties') is False, f'{where} allows unknown fields'
    walk(schema(), '$')
    assert schema()['$id'].startswith('https://')
