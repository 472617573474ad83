#!/usr/bin/env python
"""Validate mail settings files with the published schema and the semantic rules (the code the
settings_validate module runs), without Ansible: the pre-commit hook `mailwright-settings`
(.pre-commit-hooks.yaml) and CI jobs call it.

    tools/validate-settings.py FILE...        exit 1 when a file has errors; warnings are printed

Needs jsonschema and PyYAML (requirements.txt) in the Python that runs it.
"""
from __future__ import annotations

import os
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix='mailwright-validate-') as tmp:
        # the module_utils import each other as ansible_collections.mailwright.smtp.*
        namespace = pathlib.Path(tmp) / 'ansible_collections' / 'mailwright'
        namespace.mkdir(parents=True)
        os.symlink(ROOT, namespace / 'smtp')
        sys.path.insert(0, tmp)
        from ansible_collections.mailwright.smtp.plugins.module_utils._settings.validate import _validate_file

        status = 0
        for path in argv:
            report = _validate_file(path).to_dict(with_effective=False)
            for finding in report['errors']:
                print(f"{path}: error: {finding.get('path', '')}: {finding.get('message', '')}")
            for finding in report['warnings']:
                print(f"{path}: warning: {finding.get('path', '')}: {finding.get('message', '')}")
            status |= 0 if report['valid'] else 1
        return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
