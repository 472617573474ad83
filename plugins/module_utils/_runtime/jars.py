# Copyright (c) mailwright contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not build on it.

"""Where the mail jars should be, what is wrong with where they are, and the moves that fix it.

The rule is the products' own: the mail and activation jars sit in Tomcat's ``lib/`` exactly
once and not also in the webapp's ``WEB-INF/lib``. Tomcat's webapp class loader looks in
``WEB-INF/lib`` first, so a second copy there gives the webapp its own ``javax.mail.Session``
class, and the session Tomcat built from ``lib/`` is "not of required type javax.mail.Session";
a JNDI Resource with no mail jar in ``lib/`` fails with ``java.lang.NoClassDefFoundError:
javax/mail/Authenticator``. Without a JNDI session the product builds its own from the jars it
ships, so a jar only in ``WEB-INF/lib`` stays there; moving it into ``lib/`` is planned only for a
JNDI session (Jira's, Confluence's and Tomcat's documented step for one).

Two jars of one API and kind are duplicates when they hold the same part: an API jar
(jakarta.mail-api) beside its provider (angus-mail) is one library, not two. The copy kept is the
one in ``lib/``, then the newest. Bitbucket runs its own embedded server with no JNDI session: it
is reported, never rearranged. Planning reads nothing and writes nothing: the caller applies it.
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailwright.smtp.plugins.module_utils._runtime.app import Api, MailJar

__all__ = ['BACKUP_SUBDIRS', 'Conflict', 'Move', 'Plan', 'plan_layout', 'session_api', 'version_key', 'CONFLICT_KINDS']

CONFLICT_KINDS = ('duplicate', 'missing', 'wrong_api')
_NO_MOVES = frozenset({'bitbucket'})
# backup_dir's subdirectories for copies from lib/ and from WEB-INF/lib
BACKUP_SUBDIRS = {'lib': 'lib', 'webapp': 'WEB-INF-lib'}


@dataclass
class Conflict:
    """One finding about the jars, with what to do about it."""

    kind: str           # duplicate | missing | wrong_api
    paths: list[str]
    message: str
    fixed: bool = False  # the planned moves resolve it (state=present applies them)

    def as_dict(self) -> dict[str, t.Any]:
        return {'kind': self.kind, 'paths': list(self.paths), 'message': self.message, 'fixed': self.fixed}


@dataclass(frozen=True)
class Move:
    source: str
    destination: str
    reason: str         # duplicate | lib

    def as_dict(self) -> dict[str, str]:
        return {'from': self.source, 'to': self.destination, 'reason': self.reason}


@dataclass
class Plan:
    jars: list[MailJar]
    conflicts: list[Conflict] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)

    def after(self) -> list[str]:
        """Every jar path once the moves are done."""
        moved = {move.source: move.destination for move in self.moves}
        return sorted(moved.get(jar.path, jar.path) for jar in self.jars)


def session_api(session_type: str | None) -> Api | None:
    if not session_type:
        return None
    return 'jakarta' if session_type.startswith('jakarta') else 'javax'


def version_key(version: str | None) -> tuple[int, ...]:
    return tuple(int(number) for number in re.findall(r'\d+', version or ''))[:6]


def _label(api: str, kind: str) -> str:
    return f'{api}.{kind}'


def _major(version: str | None) -> int | None:
    key = version_key(version)
    return key[0] if key else None


def _java8(java_version: str | None) -> bool:
    return bool(java_version) and (java_version or '').startswith('1.8')


def plan_layout(jars: list[MailJar], *, app_home: str, product: str, session_type: str | None,
                lib: str, webinf: str | None, backup_dir: str, tomcat: str | None = None,
                java_version: str | None = None, linked: t.Sequence[MailJar] = ()) -> Plan:
    """The conflicts of `jars` and the moves that fix what can be fixed (see the module docstring).

    `lib` and `webinf` are the two class path directories, `backup_dir` where moved-out copies go
    (``<backup_dir>/lib`` and ``<backup_dir>/WEB-INF-lib``, so two copies of one name never clash).
    `linked` are the jars the manifests' Class-Path brings along (_runtime.app.linked_jars): they
    count for what lib/ provides, and are never moved.
    """
    plan = Plan(jars=list(jars))
    api = session_api(session_type)
    movable = product not in _NO_MOVES

    def rel(path: str) -> str:
        return os.path.relpath(path, app_home)

    webinf_rel = rel(webinf) + '/' if webinf else 'WEB-INF/lib/'
    taken = {jar.path for jar in jars}
    destinations: set[str] = set()

    def backup_path(jar: MailJar) -> str:
        return os.path.join(backup_dir, BACKUP_SUBDIRS[jar.location], jar.name)

    groups: dict[tuple[str, str], list[MailJar]] = {}
    for jar in jars:
        groups.setdefault((jar.api, jar.kind), []).append(jar)
    in_lib_after: dict[tuple[str, str], set[str]] = {}
    for (group_api, kind), members in sorted(groups.items()):
        ordered = sorted(members, key=lambda jar: (jar.location != 'lib', [-n for n in version_key(jar.version)], jar.name))
        keepers: list[MailJar] = []
        extras: list[MailJar] = []
        for jar in ordered:
            held = {part for keeper in keepers for part in keeper.parts}
            (extras if held & set(jar.parts) else keepers).append(jar)
        label = _label(group_api, kind)
        if extras:
            moves = []
            for jar in extras:
                destination = backup_path(jar)
                if destination in destinations or os.path.lexists(destination):
                    stem, ext = os.path.splitext(destination)
                    destination = f'{stem}.{len(destinations) + 1}{ext}'
                moves.append(Move(jar.path, destination, 'duplicate'))
            shown = ', '.join(rel(jar.path) for jar in members)
            where = ('both in lib/ and in ' + webinf_rel) if {j.location for j in members} == {'lib', 'webapp'} else 'twice'
            session = f'{group_api}.mail.Session'
            if where == 'twice':
                reason = ('two copies of one class on one class path: which one loads is up to the order the '
                          'directory lists them in')
            else:
                reason = (f'the webapp loads its own copy first, so the session Tomcat builds from lib/ is not the '
                          f'webapp\'s {session} class ("Mail server at location [java:comp/env/mail/JiraMailServer] '
                          f'is not of required type {session}")')
            keep = ', '.join(rel(jar.path) for jar in keepers)
            plan.conflicts.append(Conflict(
                kind='duplicate', paths=[jar.path for jar in ordered],
                message=(f'{label} is {where} ({shown}): {reason}. Keep {keep} and move the other copies out of the '
                         f'class path' + (' (state=present moves them into backup_dir)' if movable else
                                          '; Bitbucket is not rearranged automatically, remove them by hand')),
                fixed=movable))
            if movable:
                plan.moves.extend(moves)
                destinations.update(move.destination for move in moves)
        after_lib = {part for jar in keepers if jar.location == 'lib' for part in jar.parts}
        if movable and api == group_api:  # a JNDI session of this API: Tomcat's lib/ must hold it
            for jar in keepers:
                if jar.location == 'webapp':
                    destination = os.path.join(lib, jar.name)
                    if destination in taken or destination in destinations or os.path.lexists(destination):
                        continue  # a file of that name is in lib/ already: left to the person (reported below)
                    plan.moves.append(Move(jar.path, destination, 'lib'))
                    destinations.add(destination)
                    after_lib |= set(jar.parts)
        in_lib_after[(group_api, kind)] = after_lib
    for jar in linked:
        if jar.location == 'lib':
            in_lib_after.setdefault((jar.api, jar.kind), set()).update(jar.parts)
    if api is not None:
        _session_conflicts(plan, api=api, session_type=session_type or '', app_home=app_home, groups=groups,
                           in_lib_after=in_lib_after, webinf_rel=webinf_rel, tomcat=tomcat,
                           java_version=java_version, rel=rel)
    elif product in ('jira', 'confluence') and not any(jar.kind == 'mail' for jar in jars):
        plan.conflicts.append(Conflict(
            kind='missing', paths=[lib] + ([webinf] if webinf else []),
            message=(f'no mail jar in lib/ nor in {webinf_rel}: {product} cannot send mail. Is app_home {app_home} '
                     'the install directory? Restore the mail jars the product ships')))
    return plan


def _session_conflicts(plan: Plan, *, api: Api, session_type: str, app_home: str,
                       groups: dict[tuple[str, str], list[MailJar]], in_lib_after: dict[tuple[str, str], set[str]],
                       webinf_rel: str, tomcat: str | None, java_version: str | None,
                       rel: t.Callable[[str], str]) -> None:
    """A JNDI session of `session_type`: lib/ must hold that API's mail jar (and activation)."""
    other: Api = 'javax' if api == 'jakarta' else 'jakarta'
    major = _major(tomcat)
    if major is not None and (major >= 10) != (api == 'jakarta'):
        wanted = 'jakarta.mail.Session' if major >= 10 else 'javax.mail.Session'
        plan.conflicts.append(Conflict(
            kind='wrong_api', paths=[os.path.join(app_home, 'lib', 'catalina.jar')],
            message=(f'the JNDI Resource is of type {session_type}, but this is Tomcat {tomcat}, which builds '
                     f'{wanted} sessions (Tomcat 10 and later: jakarta.mail.Session, Tomcat 9 and earlier: '
                     f'javax.mail.Session). Set server.jndi.session_type to {wanted} and put the matching mail '
                     'and activation jars into lib/')))
    moved_in = {move.source for move in plan.moves if move.reason == 'lib'}
    for kind in ('mail', 'activation'):
        members = groups.get((api, kind), [])
        if 'api' in in_lib_after.get((api, kind), set()):
            if any(jar.path in moved_in for jar in members):
                plan.conflicts.append(Conflict(
                    kind='missing', paths=sorted(moved_in & {jar.path for jar in members}), fixed=True,
                    message=(f'the {session_type} Resource needs {api}.{kind} in Tomcat\'s lib/, and it is only in '
                             f'{webinf_rel} ({_symptom(api, kind)}); state=present moves it into lib/')))
            continue
        if kind == 'activation' and api == 'javax' and _java8(java_version):
            continue  # Java 8 has javax.activation built in
        others = [jar for jar in groups.get((other, kind), []) if jar.location == 'lib']
        stuck = [jar.path for jar in members]
        if kind == 'mail' and others:
            plan.conflicts.append(Conflict(
                kind='wrong_api', paths=[jar.path for jar in others] + stuck,
                message=(f'the JNDI Resource is of type {session_type}, but lib/ holds {other}.mail only '
                         f'({", ".join(rel(jar.path) for jar in others)}): {_symptom(api, kind)}. Put the {api} '
                         f'mail and activation jars into lib/ (Jakarta Mail 2 or later for jakarta, JavaMail 1.x for '
                         f'javax), or set server.jndi.session_type to {other}.mail.Session if Tomcat is 9 or earlier')))
            continue
        where = f' (there is one in {webinf_rel}, but a file of that name is in lib/ already)' if stuck else ''
        note = ' (Java 8 has it built in; Java 11 and later do not)' if kind == 'activation' and api == 'javax' else ''
        plan.conflicts.append(Conflict(
            kind='missing', paths=[os.path.join(app_home, 'lib')] + stuck,
            message=(f'the {session_type} Resource needs the {api}.{kind} jar in Tomcat\'s lib/, and there is '
                     f'none{where}{note}: {_symptom(api, kind)}. Copy the {api} {kind} jar into lib/ once')))


def _symptom(api: str, kind: str) -> str:
    if kind == 'mail':
        return f'Tomcat fails to build the session with java.lang.NoClassDefFoundError: {api}/mail/Authenticator'
    return f'sending fails with java.lang.NoClassDefFoundError: {api}/activation/DataHandler'
