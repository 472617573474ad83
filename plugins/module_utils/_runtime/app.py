# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""What an application's install directory (``app_home``) says about how it will send mail.

Jira, Confluence and Tomcat applications load JavaMail from two places: Tomcat's ``<app_home>/lib``
(the container's class loader, which builds a JNDI mail Resource) and the webapp's
``WEB-INF/lib``. The jars are read here without a JVM: a jar is a zip file, and the classes it
holds say which API it implements. The package decides, not the name or the manifest: Jakarta Mail
1.6 is called ``jakarta.mail`` everywhere but its classes are ``javax.mail.*``, and that is what a
``javax.mail.Session`` Resource needs. The manifest gives the version, the file name the rest.

Only jars whose file name mentions mail, activation or smtp are opened: a Jira webapp holds some
hundreds of jars, and the mail jars of every known distribution (javax.mail, jakarta.mail,
jakarta.mail-api, angus-mail, mailapi, smtp, activation, angus-activation, geronimo-javamail) are
named so.

The JVM options are read from ``bin/setenv.sh`` (Bitbucket: also ``bin/_start-webapp.sh``) the way
the shell and then Tomcat's ``catalina.sh`` read them: the assignment is parsed once as the shell
does, and a variable catalina.sh evaluates (see _trust.jvm_options) is split as ``eval`` does, so
the managed truststore block written by _trust.jvm_options reads back to exactly its values.
Nothing here writes a file, imports Ansible or starts a JVM.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import stat
import typing as t
import zipfile
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import _read_regular, resolve_target
from ansible_collections.mailwright.smtp.plugins.module_utils._core.redact import is_secret_name
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.jvm_options import (
    JvmOptionsError,
    _blocks,
    _lines,
    evaluated_by_catalina,
)

__all__ = [
    'PRODUCTS',
    'WEBAPP_DIRS',
    'JVM_VARIABLES',
    'MailJar',
    'Truststore',
    'SystemProperty',
    'JvmOptions',
    'detect_product',
    'lib_dir',
    'webapp_dir',
    'webapp_lib_dir',
    'classify_jar',
    'linked_jars',
    'find_mail_jars',
    'proof_classpath',
    'jvm_options_files',
    'read_jvm_options',
    'parse_jvm_options',
    'default_java',
    'tomcat_version',
    'jre_version',
]

Api = t.Literal['javax', 'jakarta']
Kind = t.Literal['mail', 'activation']
Location = t.Literal['lib', 'webapp']

PRODUCTS = ('jira', 'confluence', 'bitbucket', 'ghes', 'generic')
# The webapp directory inside the install directory, first match wins. Bitbucket 5 and later run
# an embedded server from <install>/app; Bitbucket 4 had atlassian-bitbucket like Jira.
WEBAPP_DIRS: dict[str, tuple[str, ...]] = {
    'jira': ('atlassian-jira',),
    'confluence': ('confluence',),
    'bitbucket': ('app', 'atlassian-bitbucket'),
}
# Variables whose -D options reach the JVM: catalina.sh's two, the two Atlassian's setenv.sh folds
# into JAVA_OPTS (and Bitbucket's _start-webapp.sh passes on), and the two the JVM reads itself.
JVM_VARIABLES = ('JVM_SUPPORT_RECOMMENDED_ARGS', 'JVM_REQUIRED_ARGS', 'CATALINA_OPTS', 'JAVA_OPTS',
                 'JAVA_TOOL_OPTIONS', 'JDK_JAVA_OPTIONS')
_JVM_OPTIONS_FILES = {'bitbucket': ('bin/setenv.sh', 'bin/_start-webapp.sh')}
_DEFAULT_JVM_OPTIONS_FILES = ('bin/setenv.sh',)

_CANDIDATE_NAME = re.compile(r'mail|activation|smtp', re.IGNORECASE)
_NAME_VERSION = re.compile(r'[-_](\d+(?:\.\d+)*(?:[-.][A-Za-z0-9]+)*)\.jar\Z', re.IGNORECASE)
# Classes that say what a jar is: (prefix or exact entry, kind, api or None when the version
# decides, part). A full jar (javax.mail.jar) holds the API and the provider; jakarta.mail-api and
# angus-mail split them, and two jars that hold the same part are a duplicate, an API jar beside
# its provider is not.
_MARKERS: tuple[tuple[str, Kind, Api | None, str], ...] = (
    ('jakarta/mail/Session.class', 'mail', 'jakarta', 'api'),
    ('javax/mail/Session.class', 'mail', 'javax', 'api'),
    ('org/eclipse/angus/mail/smtp/', 'mail', 'jakarta', 'provider'),
    ('com/sun/mail/smtp/', 'mail', None, 'provider'),  # smtp-1.6.x.jar, or the provider inside a full jar
    ('jakarta/activation/DataHandler.class', 'activation', 'jakarta', 'api'),
    ('javax/activation/DataHandler.class', 'activation', 'javax', 'api'),
    ('org/eclipse/angus/activation/', 'activation', 'jakarta', 'provider'),
    ('com/sun/activation/registries/', 'activation', None, 'provider'),
)
_MANIFEST_VERSION_KEYS = ('Implementation-Version', 'Bundle-Version', 'Specification-Version')
_MAX_MANIFEST = 1 << 20


@dataclass(frozen=True)
class MailJar:
    """One mail or activation jar and what it holds."""

    path: str
    api: Api
    kind: Kind
    version: str | None
    location: Location
    # How api was decided: 'classes' (the jar's packages), 'manifest' or 'name' (an unreadable jar).
    evidence: str = 'classes'
    name: str = field(default='', compare=False)
    # What the jar holds: 'api' (javax.mail.Session, ...), 'provider' (the SMTP implementation) or both.
    parts: tuple[str, ...] = field(default=('api', 'provider'), compare=False)
    # The manifest's Class-Path, resolved: jars the JVM loads with this one (Debian's javax.mail.jar
    # names /usr/share/java/javax.activation.jar), whether or not they exist.
    class_path: tuple[str, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, t.Any]:
        return {'path': self.path, 'name': self.name or os.path.basename(self.path), 'api': self.api,
                'kind': self.kind, 'version': self.version, 'location': self.location, 'evidence': self.evidence,
                'parts': list(self.parts), 'class_path': list(self.class_path)}


@dataclass(frozen=True)
class Truststore:
    """The truststore the JVM options name; the password never shows in a repr."""

    path: str
    password: str | None = field(default=None, repr=False)
    type: str | None = None


@dataclass(frozen=True)
class SystemProperty:
    """One -D option: its value and where it was set."""

    name: str
    value: str
    file: str
    line: int
    variable: str
    managed: bool  # inside the mailwright truststore block

    @property
    def source(self) -> str:
        return f'{self.file}:{self.line}'


@dataclass(frozen=True)
class JvmOptions:
    """The -D options of the JVM options files. A property set twice keeps the last value, as the
    JVM does with the last -D on its command line; `all` keeps every occurrence in file order."""

    system_properties: dict[str, str]
    truststore: Truststore | None
    sources: dict[str, str]
    all: tuple[SystemProperty, ...] = ()
    files: tuple[str, ...] = ()

    def secret_values(self) -> list[str]:
        """Values that must never be printed (passwords of stores and of mail sessions)."""
        return sorted({prop.value for prop in self.all if prop.value and is_secret_name(prop.name)})


def _join(app_home: str, relative: str) -> str:
    return os.path.join(app_home, *relative.split('/'))


def detect_product(app_home: str) -> str | None:
    """The Atlassian product whose webapp directory the install holds, None when none does."""
    for product, names in WEBAPP_DIRS.items():
        if any(os.path.isdir(os.path.join(app_home, name, 'WEB-INF')) for name in names):
            return product
    return None


def lib_dir(app_home: str) -> str:
    """Tomcat's lib/ in the install: the class loader that builds a JNDI mail Resource."""
    return os.path.join(app_home, 'lib')


def webapp_dir(app_home: str, product: str | None = None) -> str | None:
    """The product's webapp directory (the first that exists, else the documented name); None for
    a product without one here (generic, ghes). product None: the first known webapp present."""
    if product is None:
        product = detect_product(app_home)
        if product is None:
            return None
    names = WEBAPP_DIRS.get(product)
    if not names:
        return None
    for name in names:
        path = os.path.join(app_home, name)
        if os.path.isdir(path):
            return path
    return os.path.join(app_home, names[0])


def webapp_lib_dir(app_home: str, product: str | None = None, *, webapp: str | None = None) -> str | None:
    """WEB-INF/lib of the webapp; `webapp` (a path, relative to app_home or absolute) overrides the product's."""
    base = os.path.join(app_home, webapp) if webapp else webapp_dir(app_home, product)
    return None if base is None else os.path.join(base, 'WEB-INF', 'lib')


def _manifest(archive: zipfile.ZipFile) -> dict[str, str]:
    try:
        info = archive.getinfo('META-INF/MANIFEST.MF')
    except KeyError:
        return {}
    if info.file_size > _MAX_MANIFEST:
        return {}
    text = archive.read(info).decode('utf-8', 'replace').replace('\r\n', '\n').replace('\r', '\n')
    text = text.replace('\n ', '')  # a manifest continues a long line on the next one, after a space
    main = text.split('\n\n', 1)[0]  # the main section; per-entry sections follow a blank line
    fields: dict[str, str] = {}
    for line in main.split('\n'):
        key, sep, value = line.partition(':')
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _api_from_version(version: str | None, name: str) -> Api:
    """javax before 2.0 (Jakarta Mail 1.6 and Jakarta Activation 1.2 kept the javax package)."""
    source = version or ''
    match = re.match(r'(\d+)', source)
    if match is None:
        found = _NAME_VERSION.search(name)
        match = re.match(r'(\d+)', found.group(1)) if found else None
    if match is not None:
        return 'jakarta' if int(match.group(1)) >= 2 else 'javax'
    return 'jakarta' if 'jakarta' in name.lower() or 'angus' in name.lower() else 'javax'


def _name_version(name: str) -> str | None:
    found = _NAME_VERSION.search(name)
    return found.group(1) if found else None


def _open_regular(path: str) -> t.BinaryIO:
    """`path` opened for reading only when it is a regular file: O_NONBLOCK, so a FIFO swapped in
    for a jar cannot hang the run, and fstat after the open, so what was checked is what is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f'{path} is not a regular file')
        return os.fdopen(fd, 'rb')
    except BaseException:
        os.close(fd)
        raise


def classify_jar(path: str, location: Location) -> MailJar | None:
    """The MailJar for `path`, None when it holds no mail or activation classes.

    An archive that cannot be read is judged by its name (evidence 'name'): it is still on the
    class path, so it still counts.
    """
    name = os.path.basename(path)
    try:
        with _open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
            manifest = _manifest(archive)
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, EOFError):
        lowered = name.lower()
        kind: Kind = 'activation' if 'activation' in lowered else 'mail'
        version = _name_version(name)
        return MailJar(path=path, api=_api_from_version(version, name), kind=kind, version=version,
                       location=location, evidence='name', name=name)
    version = next((manifest[key] for key in _MANIFEST_VERSION_KEYS if manifest.get(key)), None) or _name_version(name)
    entries = set(names)
    hits = []
    for marker, kind, api, part in _MARKERS:
        if marker in entries if marker.endswith('.class') else any(entry.startswith(marker) for entry in names):
            hits.append((kind, api, part))
    if not hits:
        return None
    kind = hits[0][0]  # a jar with both mail and activation classes counts as mail
    same = [hit for hit in hits if hit[0] == kind]
    api = next((hit[1] for hit in same if hit[1] is not None), None)
    evidence = 'classes' if api is not None else ('manifest' if version else 'name')
    parts = tuple(sorted({hit[2] for hit in same}))
    return MailJar(path=path, api=api or _api_from_version(version, name), kind=kind, version=version,
                   location=location, evidence=evidence, name=name, parts=parts,
                   class_path=_class_path(manifest.get('Class-Path', ''), os.path.dirname(path)))


def _class_path(value: str, directory: str) -> tuple[str, ...]:
    """Class-Path entries as file paths: space-separated URLs, relative ones to the jar's directory."""
    from urllib.parse import unquote, urlsplit

    paths = []
    for entry in value.split():
        parts = urlsplit(entry)
        if parts.scheme not in ('', 'file'):
            continue
        path = unquote(parts.path)
        paths.append(os.path.normpath(path if os.path.isabs(path) else os.path.join(directory, path)))
    return tuple(paths)


def linked_jars(jars: t.Iterable[MailJar]) -> list[MailJar]:
    """The mail and activation jars that `jars` bring along through their manifest's Class-Path
    (those that exist), with the location of the jar that names them."""
    seen = {jar.path for jar in jars}
    found = []
    for jar in jars:
        for path in jar.class_path:
            if path in seen or not os.path.isfile(path):
                continue
            seen.add(path)
            linked = classify_jar(path, jar.location)
            if linked is not None:
                found.append(linked)
    return found


def _jars_in(directory: str | None, location: Location) -> list[MailJar]:
    if directory is None or not os.path.isdir(directory):
        return []
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise MailwrightError(f'app_home: cannot list {directory}: {exc.strerror}', kind='file', step='runtime') from None
    jars = []
    for name in names:
        path = os.path.join(directory, name)
        if not name.lower().endswith('.jar') or not _CANDIDATE_NAME.search(name) or not os.path.isfile(path):
            continue
        jar = classify_jar(path, location)
        if jar is not None:
            jars.append(jar)
    return jars


def find_mail_jars(app_home: str, product: str | None = None, *, webapp: str | None = None) -> list[MailJar]:
    """Every mail and activation jar (javax and jakarta) in <app_home>/lib, then in WEB-INF/lib."""
    return _jars_in(lib_dir(app_home), 'lib') + _jars_in(webapp_lib_dir(app_home, product, webapp=webapp), 'webapp')


def proof_classpath(app_home: str, product: str | None = None, api: Api | None = None, *,
                    webapp: str | None = None, option: str = 'app_home') -> list[str]:
    """The jars the application's mail session loads: those of lib/ when it has a mail jar (of `api`
    when given), else those of WEB-INF/lib; mail and activation jars of that place, sorted by name.

    No mail jar anywhere: MailwrightError(kind='missing') naming app_home and the classpath option.
    """
    jars = find_mail_jars(app_home, product, webapp=webapp)
    wanted = [jar for jar in jars if api is None or jar.api == api]
    for location in ('lib', 'webapp'):
        here = [jar for jar in wanted if jar.location == location]
        if any(jar.kind == 'mail' for jar in here):
            return [jar.path for jar in here]
    webinf = webapp_lib_dir(app_home, product, webapp=webapp)
    places = lib_dir(app_home) + (f' or {webinf}' if webinf else '')
    which = f'{api} ' if api else ''
    others = sorted({jar.api for jar in jars if jar.kind == 'mail'} - {api} if api else set())
    hint = f' (there is a {" and ".join(others)} mail jar, not the API the session needs)' if others else ''
    raise MailwrightError(
        f'{option} {app_home}: no {which}mail jar in {places}{hint}; point {option} at the application\'s '
        'install directory, or list the mail and activation jars in classpath',
        kind='missing', step='runtime')


def jvm_options_files(app_home: str, product: str | None = None) -> list[str]:
    """The files whose JVM options the product's start-up reads, in the order they are read."""
    relative = _JVM_OPTIONS_FILES.get(product or '', _DEFAULT_JVM_OPTIONS_FILES)
    return [_join(app_home, name) for name in relative]


_ASSIGNMENT = re.compile(r'\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z', re.DOTALL)


def _closed(statement: str) -> bool:
    try:
        shlex.split(statement, comments=True)
        return True
    except ValueError:
        return False


def _statements(text: str) -> t.Iterator[tuple[int, str]]:
    """(first line number, statement) for each shell statement: a line, joined with the next while
    it ends in a backslash or leaves a quote open (a value may span lines). A quote still open at
    the end of the file is a stray one: that line is taken alone, so it hides no later option."""
    lines = [line.rstrip('\n').rstrip('\r') for line in _lines(text)]
    index = 0
    while index < len(lines):
        start = index
        statement = lines[index]
        index += 1
        while index < len(lines) and (statement.endswith('\\') or not _closed(statement)):
            statement = statement[:-1] + lines[index] if statement.endswith('\\') else statement + '\n' + lines[index]
            index += 1
        if index >= len(lines) and not _closed(statement) and index > start + 1:
            statement, index = lines[start], start + 1
        yield start + 1, statement


def _shell_word(text: str) -> str | None:
    """The first word of `text` after the shell's quote removal (the value of an assignment), None
    when a quote is left open. Expansions stay as written: only the -D options spelled out count."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in ' \t\n;&|' or (char == '#' and not out):
            break
        if char == "'":
            end = text.find("'", index + 1)
            if end < 0:
                return None
            out.append(text[index + 1:end])
            index = end + 1
        elif char == '"':
            index += 1
            while index < len(text) and text[index] != '"':
                if text[index] == '\\' and index + 1 < len(text) and text[index + 1] in '\\"$`\n':
                    if text[index + 1] != '\n':
                        out.append(text[index + 1])
                    index += 2
                else:
                    out.append(text[index])
                    index += 1
            if index >= len(text):
                return None
            index += 1
        elif char == '\\' and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return ''.join(out)


def _words(value: str, evaluated: bool) -> list[str]:
    if not evaluated:
        return value.split()  # an unquoted expansion: split on whitespace, no quote removal
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def parse_jvm_options(text: str, file: str, *, variables: t.Collection[str] = JVM_VARIABLES) -> list[SystemProperty]:
    """Every -D option assigned to one of `variables` in the shell text of `file`, in file order."""
    try:
        spans = _blocks(_lines(text))
    except JvmOptionsError:
        spans = []  # a broken block is the trust step's to report; its lines are still read
    managed = {line + 1 for begin, end in spans for line in range(begin + 1, end)}
    found: list[SystemProperty] = []
    for number, statement in _statements(text):
        match = _ASSIGNMENT.match(statement)
        if match is None or match.group(1) not in variables:
            continue
        variable, rhs = match.groups()
        if not rhs or rhs[0].isspace():
            continue  # VAR= command: an empty value for one command
        value = _shell_word(rhs)
        if value is None:
            continue
        for word in _words(value, evaluated_by_catalina(variable, file)):
            if not word.startswith('-D') or len(word) < 3:
                continue
            name, _sep, value = word[2:].partition('=')
            if '$' in name:
                continue
            found.append(SystemProperty(name=name, value=value, file=file, line=number, variable=variable,
                                        managed=number in managed))
    return found


def read_jvm_options(app_home: str, product: str | None = None, *, files: t.Sequence[str] | None = None,
                     option: str = 'app_home') -> JvmOptions:
    """The -D options of the JVM options files (default: jvm_options_files), missing files skipped."""
    paths = list(files) if files is not None else jvm_options_files(app_home, product)
    everything: list[SystemProperty] = []
    read: list[str] = []
    for path in paths:
        # the collection's symlink policy (a link only from root or the file's owner), never a FIFO
        data, _info = _read_regular(resolve_target(path, option=option), path, option)
        if data is None:
            continue
        read.append(path)
        everything.extend(parse_jvm_options(data.decode('utf-8', 'surrogateescape'), path))
    properties: dict[str, str] = {}
    sources: dict[str, str] = {}
    for prop in everything:
        properties[prop.name] = prop.value
        sources[prop.name] = prop.source
    store = None
    if properties.get('javax.net.ssl.trustStore'):
        store = Truststore(path=properties['javax.net.ssl.trustStore'],
                           password=properties.get('javax.net.ssl.trustStorePassword'),
                           type=properties.get('javax.net.ssl.trustStoreType'))
    return JvmOptions(system_properties=properties, truststore=store, sources=sources, all=tuple(everything),
                      files=tuple(read))


def default_java(app_home: str | None) -> str:
    """The JRE the install ships (<app_home>/jre/bin/java) when it is there, else 'java' from PATH."""
    if app_home:
        candidate = os.path.join(app_home, 'jre', 'bin', 'java')
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return 'java'


def tomcat_version(app_home: str) -> str | None:
    """The Tomcat version of lib/catalina.jar's manifest (Tomcat 10 and later: jakarta.mail.Session)."""
    try:
        with zipfile.ZipFile(os.path.join(app_home, 'lib', 'catalina.jar')) as archive:
            manifest = _manifest(archive)
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, EOFError):
        return None
    return manifest.get('Bundle-Version') or manifest.get('Implementation-Version') or None


def jre_version(app_home: str) -> str | None:
    """JAVA_VERSION of the shipped JRE's ``release`` file (<app_home>/jre/release), None without one."""
    try:
        with open(os.path.join(app_home, 'jre', 'release'), encoding='utf-8', errors='replace') as handle:
            for line in handle:
                key, sep, value = line.partition('=')
                if sep and key.strip() == 'JAVA_VERSION':
                    return value.strip().strip('"') or None
    except OSError:
        return None
    return None
