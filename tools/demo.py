"""`make demo`: start a local relay, run playbooks/demo.yml on localhost, show what happened."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    env = dict(os.environ)
    env.setdefault('ANSIBLE_COLLECTIONS_PATH', str(ROOT / '.build' / 'collections'))
    env.setdefault('ANSIBLE_STDOUT_CALLBACK', 'default')
    env.setdefault('ANSIBLE_LOCALHOST_WARNING', 'false')
    env.setdefault('ANSIBLE_INVENTORY_UNPARSED_WARNING', 'false')
    command = [
        str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
        '-e', f'ansible_python_interpreter={sys.executable}', str(ROOT / 'playbooks' / 'demo.yml'),
    ]
    print('$ ' + ' '.join(command), flush=True)
    return subprocess.call(command, env=env, cwd=ROOT)


if __name__ == '__main__':
    sys.exit(main())
