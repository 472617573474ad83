"""Fake application install directories with real jar files, for the runtime tests.

The jars are the Debian packages' own (JavaMail 1.6.5, Jakarta Mail 2.0.0 and their activation
jars) or small zip files with a manifest and the class entries that identify a mail jar.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import zipfile

import pytest

__all__ = ['SYSTEM_JARS', 'system_jar', 'make_jar', 'jira_home', 'tree_state']

SYSTEM_JARS = {
    'javax.mail.jar': ('javax', 'mail', '1.6.5'),
    'jakarta-mail.jar': ('jakarta', 'mail', '2.0.0'),
    'javax.activation.jar': ('javax', 'activation', '1.2.0'),
    'jakarta-activation.jar': ('jakarta', 'activation', '2.0.0'),
}


def system_jar(name: str) -> pathlib.Path:
    path = pathlib.Path('/usr/share/java') / name
    if not path.is_file():
        pytest.skip(f'{path} is not installed (Debian libmail-java / libjakarta-mail-java)')
    return path


def make_jar(path: pathlib.Path, entries: list[str], manifest: dict[str, str] | None = None) -> pathlib.Path:
    """A small real jar: the class entries (empty) and a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, 'w') as archive:
        lines = ['Manifest-Version: 1.0'] + [f'{key}: {value}' for key, value in (manifest or {}).items()]
        archive.writestr('META-INF/MANIFEST.MF', '\r\n'.join(lines) + '\r\n\r\n')
        for entry in entries:
            archive.writestr(entry, b'\xca\xfe\xba\xbe')
    return path


def jira_home(base: pathlib.Path, *, duplicate: bool = True, setenv: str | None = None,
              tomcat: str | None = '9.0.98') -> pathlib.Path:
    """A Jira install: JavaMail 1.6.5 and activation in lib/, and (duplicate) a second JavaMail in
    atlassian-jira/WEB-INF/lib next to an unrelated jar; bin/setenv.sh when `setenv` is given."""
    home = base / 'jira'
    (home / 'lib').mkdir(parents=True)
    webinf = home / 'atlassian-jira' / 'WEB-INF' / 'lib'
    webinf.mkdir(parents=True)
    (home / 'bin').mkdir()
    if tomcat:
        make_jar(home / 'lib' / 'catalina.jar', ['org/apache/catalina/Server.class'], {'Bundle-Version': tomcat})
    shutil.copy(system_jar('javax.mail.jar'), home / 'lib' / 'javax.mail-1.6.5.jar')
    shutil.copy(system_jar('javax.activation.jar'), home / 'lib' / 'javax.activation-1.2.0.jar')
    make_jar(webinf / 'atlassian-core-8.0.jar', ['com/atlassian/core/Core.class'])
    if duplicate:
        shutil.copy(system_jar('javax.mail.jar'), webinf / 'javax.mail-1.6.5.jar')
    if setenv is not None:
        (home / 'bin' / 'setenv.sh').write_text(setenv)
    return home


def tree_state(root: pathlib.Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, content hash and mtime: equal means untouched."""
    state = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            digest = None
            if os.path.isfile(path) and not os.path.islink(path):
                digest = hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
            elif os.path.islink(path):
                digest = os.readlink(path)
            state[os.path.relpath(path, root)] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    state['.'] = (os.lstat(root).st_mode, os.lstat(root).st_mtime_ns)
    return state
