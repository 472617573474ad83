"""Validation at scale: N settings files through one settings_validate call vs check-jsonschema.

Both read the same generated files (mixed valid and invalid, YAML) and the same published
schema. check-jsonschema checks the schema only; settings_validate also runs the semantic rules
and computes effective settings, inside a real module process (as AnsiballZ runs it).
Prints one table row: wall times and the ratio. Usage: python benchmarks/bench_validate.py [N]
"""
from __future__ import annotations

import pathlib
import random
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.modrun import run_module  # noqa: E402

SCHEMA = ROOT / 'schemas' / 'mail-settings.schema.json'


def generate(directory: pathlib.Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    products = ['jira', 'confluence', 'bitbucket', 'ghes', 'generic']
    for index in range(count):
        product = products[index % len(products)]
        doc = {
            'product': product,
            'server': {'host': f'smtp{index}.example.com', 'port': rng.choice([25, 587, 2525]),
                       'tls': rng.choice(['none', 'opportunistic', 'required'])},
            'auth': {'method': 'basic', 'username': f'user{index}', 'password': f'pw-{index}'},
            'sender': {'from_address': f'app{index}@example.com', 'subject_prefix': f'[{product}]'},
            'test': {'recipients': [f'ops{index}@example.com']},
        }
        if product == 'ghes':
            doc['sender']['noreply_address'] = f'noreply{index}@example.com'
            doc['ghes'] = {'hostname': f'github{index}.example.com'}
        if index % 4 == 3:  # a quarter invalid, in ways the schema sees
            doc['server']['port'] = rng.choice([0, 70000, 'twenty-five'])
        (directory / f'settings-{index:05d}.yml').write_text(yaml.safe_dump(doc), encoding='utf-8')


def timed(func):
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(tmp)
        generate(directory, count)
        files = sorted(str(p) for p in directory.glob('*.yml'))
        ours, (rc, result) = timed(lambda: run_module('settings_validate', {'paths': [f'{tmp}/*.yml']}, timeout=600))
        summary = result.get('summary', {})
        assert summary.get('total') == count, result.get('msg')
        theirs, proc = timed(lambda: subprocess.run(
            [str(pathlib.Path(sys.executable).parent / 'check-jsonschema'), '--schemafile', str(SCHEMA), *files],
            capture_output=True, text=True, check=False))
        assert proc.returncode == 1, 'check-jsonschema should report the invalid quarter'
    ratio = ours / theirs
    print(f'| validation, {count} files | settings_validate {ours:.2f} s '
          f'({summary["invalid"]} invalid) | check-jsonschema {theirs:.2f} s | ratio {ratio:.2f} (target <= 0.15) |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
