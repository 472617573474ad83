# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not import
# this file; its interface may change without notice.

"""SPF (RFC 7208) parsing and evaluation over an injected DNS lookup.

Nothing here talks to the network or imports dnspython: the caller passes a
``lookup(name, rdtype) -> DnsAnswer`` function (``_dns.py`` builds one on top of
dnspython; unit tests pass a dictionary-backed one). That keeps the RFC logic
testable on its own and lets the DNS layer decide timeouts and nameservers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError

__all__ = [
    "DNS_FAILURE_KINDS",
    "DnsAnswer",
    "Lookup",
    "MAX_DNS_MECHANISMS",
    "MAX_VOID_LOOKUPS",
    "SpfRecord",
    "SpfResult",
    "SpfSyntaxError",
    "SpfTerm",
    "check_host",
    "parse_spf",
    "select_spf_records",
]

# RFC 7208 4.6.4: at most 10 terms that query DNS, at most 2 "void" lookups.
MAX_DNS_MECHANISMS = 10
MAX_VOID_LOOKUPS = 2
# RFC 7208 4.6.4: an "mx" or "ptr" term looks at no more than 10 names.
_MAX_NAMES_PER_TERM = 10

# DNS outcomes that are neither an answer nor a definite "no such data".
DNS_FAILURE_KINDS = frozenset({"servfail", "refused", "unreachable", "timeout", "error"})


@dataclass(frozen=True)
class DnsAnswer:
    """One DNS lookup's outcome, independent of the resolver library.

    ``kind`` is ``answer`` (records present), ``nxdomain`` (the name does not
    exist), ``nodata`` (the name exists, no records of this type), ``servfail``,
    ``refused``, ``unreachable`` (nameserver port closed / network error),
    ``timeout`` or ``error`` (anything else, e.g. a malformed name).
    ``records`` are presentation strings: addresses for A/AAAA, names without
    the trailing dot for PTR/CNAME, ``"<preference> <exchange>"`` for MX and the
    concatenated character-strings of each TXT record.
    """

    name: str
    rdtype: str
    kind: str
    records: tuple[str, ...] = ()
    message: str | None = None

    @property
    def found(self) -> bool:
        return self.kind == "answer"

    @property
    def void(self) -> bool:
        return self.kind in ("nxdomain", "nodata")

    @property
    def failed(self) -> bool:
        return self.kind in DNS_FAILURE_KINDS


Lookup = Callable[[str, str], DnsAnswer]


class SpfSyntaxError(MailwrightError, ValueError):
    """The record does not follow the RFC 7208 grammar (result: permerror); a ValueError too."""

    kind = "invalid"


@dataclass(frozen=True)
class SpfTerm:
    text: str
    name: str  # mechanism or modifier name, lower case
    qualifier: str = "+"  # '' for modifiers
    value: str | None = None  # domain-spec, network, or modifier value
    cidr4: int | None = None
    cidr6: int | None = None
    modifier: bool = False


@dataclass(frozen=True)
class SpfRecord:
    text: str
    mechanisms: tuple[SpfTerm, ...]
    redirect: str | None = None
    exp: str | None = None


@dataclass
class SpfResult:
    """The outcome of check_host() for one address, with the path taken."""

    result: str  # pass | fail | softfail | neutral | none | permerror | temperror
    reason: str
    ip: str
    domain: str
    record: str | None = None
    path: list[str] = field(default_factory=list)
    lookups: int = 0
    void_lookups: int = 0
    error_kind: str | None = None  # DNS kind behind none/temperror

    def as_dict(self) -> dict:
        return {
            "result": self.result,
            "reason": self.reason,
            "ip": self.ip,
            "domain": self.domain,
            "record": self.record,
            "path": list(self.path),
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
            "kind": self.error_kind,
        }


_QUALIFIER_RESULT = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_MODIFIER_RE = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$")
_DIRECTIVE_RE = re.compile(r"^([+\-~?]?)([A-Za-z][A-Za-z0-9\-_.]*)(.*)$")
_DUAL_CIDR_RE = re.compile(r"^(?::([^/]*))?(?:/(\d+))?(?://(\d+))?$")
_MACRO_RE = re.compile(r"%(?:\{([slodiphcrtvSLODIPHCRTV])(\d*)(r?)([.\-+,/_=]*)\}|%|_|-)")
_MACRO_TOKEN_RE = re.compile(r"%\{[^}]*\}|%.|%$")
# Macro letters allowed in domain-specs (c, r, t are for "exp" texts only).
_DOMAIN_MACRO_LETTERS = frozenset("slodiphv")


def select_spf_records(texts: list[str] | tuple[str, ...]) -> list[str]:
    """The TXT strings that are SPF records (version section exactly ``v=spf1``)."""
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def _check_macro_string(text: str, *, what: str, allow_exp_letters: bool = False) -> None:
    for token in _MACRO_TOKEN_RE.findall(text):
        match = _MACRO_RE.fullmatch(token)
        if not match:
            raise SpfSyntaxError(f"{what}: invalid macro {token!r}")
        letter = match.group(1)
        if letter and not allow_exp_letters and letter.lower() not in _DOMAIN_MACRO_LETTERS:
            raise SpfSyntaxError(f"{what}: macro %{{{letter}}} is only allowed in exp= texts")


def _cidr(raw: str | None, *, maximum: int, what: str) -> int | None:
    if raw is None:
        return None
    # RFC 7208 5.6: no leading zeros in prefix lengths
    if (len(raw) > 1 and raw.startswith("0")) or int(raw) > maximum:
        raise SpfSyntaxError(f"{what}: invalid prefix length /{raw}")
    return int(raw)


def _parse_directive(term: str) -> SpfTerm:
    match = _DIRECTIVE_RE.match(term)
    if not match:
        raise SpfSyntaxError(f"unparseable term {term!r}")
    qualifier, name, rest = match.group(1) or "+", match.group(2).lower(), match.group(3)
    if name not in _MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {match.group(2)!r} in {term!r}")
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {term!r}")
        return SpfTerm(term, name, qualifier)
    if name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) == 1:
            raise SpfSyntaxError(f"{name} needs a domain: {term!r}")
        _check_macro_string(rest[1:], what=term)
        return SpfTerm(term, name, qualifier, rest[1:])
    if name == "ptr":
        if rest and (not rest.startswith(":") or len(rest) == 1):
            raise SpfSyntaxError(f"invalid ptr argument: {term!r}")
        value = rest[1:] or None
        if value:
            _check_macro_string(value, what=term)
        return SpfTerm(term, name, qualifier, value)
    if name in ("a", "mx"):
        cidr = _DUAL_CIDR_RE.match(rest)
        if not cidr or cidr.group(1) == "":
            raise SpfSyntaxError(f"invalid {name} argument: {term!r}")
        value = cidr.group(1)
        if value:
            _check_macro_string(value, what=term)
        return SpfTerm(
            term,
            name,
            qualifier,
            value,
            _cidr(cidr.group(2), maximum=32, what=term),
            _cidr(cidr.group(3), maximum=128, what=term),
        )
    # ip4 / ip6
    if not rest.startswith(":"):
        raise SpfSyntaxError(f"{name} needs a network: {term!r}")
    network, _slash, prefix = rest[1:].partition("/")
    version = 4 if name == "ip4" else 6
    try:
        address = ipaddress.ip_address(network)
    except ValueError:
        raise SpfSyntaxError(f"{term!r}: {network!r} is not an IPv{version} address") from None
    if address.version != version:
        raise SpfSyntaxError(f"{term!r}: {network!r} is not an IPv{version} address")
    if prefix:
        if not prefix.isdigit():
            raise SpfSyntaxError(f"{term!r}: invalid prefix length /{prefix}")
        length = _cidr(prefix, maximum=32 if version == 4 else 128, what=term)
    else:
        length = None
    return SpfTerm(
        term,
        name,
        qualifier,
        network,
        length if version == 4 else None,
        length if version == 6 else None,
    )


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record; raises SpfSyntaxError on anything RFC 7208 rejects."""
    parts = text.split(" ")
    if parts[0].lower() != "v=spf1":
        raise SpfSyntaxError("the record does not start with 'v=spf1'")
    mechanisms: list[SpfTerm] = []
    redirect = exp = None
    for term in parts[1:]:
        if not term:
            continue  # runs of spaces are allowed
        modifier = _MODIFIER_RE.match(term)
        if modifier:
            name, value = modifier.group(1).lower(), modifier.group(2)
            if name in ("redirect", "exp"):
                if (redirect if name == "redirect" else exp) is not None:
                    raise SpfSyntaxError(f"more than one {name}= modifier")
                if not value:
                    raise SpfSyntaxError(f"{name}= needs a domain")
                _check_macro_string(value, what=term)
                if name == "redirect":
                    redirect = value
                else:
                    exp = value
            else:
                # unknown modifiers are ignored, but must still be well formed
                _check_macro_string(value, what=term, allow_exp_letters=True)
            continue
        mechanisms.append(_parse_directive(term))
    return SpfRecord(text, tuple(mechanisms), redirect, exp)


def _ip_dotted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", ""))  # RFC 7208 7.3: nibbles


class _PermError(Exception):
    pass


class _TempError(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _valid_domain(domain: str) -> bool:
    name = domain[:-1] if domain.endswith(".") else domain
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if len(labels) < 2 or any(not label or len(label) > 63 for label in labels):
        return False
    return not labels[-1].isdigit()


class _Evaluator:
    def __init__(self, lookup: Lookup, ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
                 sender: str, helo: str | None) -> None:
        self.lookup = lookup
        self.ip = ip
        self.sender = sender
        self.helo = helo or "unknown"
        self.lookups = 0
        self.voids = 0
        self.path: list[str] = []
        self.top_record: str | None = None
        self.top_kind: str | None = None  # DNS outcome of the first TXT query
        self.depth = 0

    # -- bookkeeping -------------------------------------------------------
    def note(self, text: str) -> None:
        self.path.append("  " * self.depth + text)

    def count_term(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > MAX_DNS_MECHANISMS:
            self.note(f"{term}: DNS lookup {self.lookups} exceeds the limit of {MAX_DNS_MECHANISMS}")
            raise _PermError(
                f"more than {MAX_DNS_MECHANISMS} DNS-querying terms (include, a, mx, ptr, exists, redirect)"
            )

    def query(self, name: str, rdtype: str, *, term: str, count_void: bool = True) -> DnsAnswer:
        answer = self.lookup(name, rdtype)
        if answer.failed:
            self.note(f"{term}: {name} {rdtype} -> {answer.kind.upper()}")
            raise _TempError(
                f"DNS {answer.kind} looking up {name} {rdtype}" + (f": {answer.message}" if answer.message else ""),
                answer.kind,
            )
        if answer.void and count_void:
            self.voids += 1
            if self.voids > MAX_VOID_LOOKUPS:
                self.note(f"{term}: {name} {rdtype} -> {answer.kind.upper()} (void lookup {self.voids})")
                raise _PermError(f"more than {MAX_VOID_LOOKUPS} void lookups (NXDOMAIN or no records)")
        return answer

    # -- macros (RFC 7208 7) -----------------------------------------------
    def expand(self, spec: str, domain: str) -> str:
        local, _at, sender_domain = self.sender.rpartition("@")

        def letter_value(letter: str) -> str:
            return {
                "s": self.sender,
                "l": local or "postmaster",
                "o": sender_domain,
                "d": domain,
                "i": _ip_dotted(self.ip),
                # the validated name would cost extra lookups; RFC 7208 7.3 allows "unknown"
                "p": "unknown",
                "v": "in-addr" if self.ip.version == 4 else "ip6",
                "h": self.helo,
            }[letter]

        def replace(match: re.Match) -> str:
            token = match.group(0)
            if token == "%%":
                return "%"
            if token == "%_":
                return " "
            if token == "%-":
                return "%20"
            letter, digits, reverse, delimiters = match.groups()
            value = letter_value(letter.lower())
            parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
            if reverse:
                parts.reverse()
            if digits:
                if int(digits) == 0:
                    raise _PermError(f"macro {token} keeps zero labels")
                parts = parts[-int(digits):]
            expanded = ".".join(parts)
            return quote(expanded, safe="") if letter.isupper() else expanded

        expanded = _MACRO_RE.sub(replace, spec)
        # RFC 7208 7.3: drop left-hand labels until the name fits
        while len(expanded.rstrip(".")) > 253 and "." in expanded:
            expanded = expanded.split(".", 1)[1]
        return expanded.rstrip(".").lower()

    def target(self, term: SpfTerm, domain: str) -> str:
        if term.value is None:
            return domain
        name = self.expand(term.value, domain)
        if not _valid_domain(name):
            raise _PermError(f"{term.text}: {name!r} is not a valid domain name")
        return name

    # -- matching helpers ------------------------------------------------------
    def in_network(self, address: str, cidr4: int | None, cidr6: int | None) -> bool:
        try:
            candidate = ipaddress.ip_address(address)
        except ValueError:
            return False
        if candidate.version != self.ip.version:
            return False
        prefix = (cidr4 if cidr4 is not None else 32) if candidate.version == 4 else (
            cidr6 if cidr6 is not None else 128)
        return self.ip in ipaddress.ip_network(f"{candidate}/{prefix}", strict=False)

    def address_type(self) -> str:
        return "A" if self.ip.version == 4 else "AAAA"

    # -- check_host (RFC 7208 4) ---------------------------------------------
    def fetch_record(self, domain: str) -> SpfRecord | None:
        answer = self.lookup(domain, "TXT")
        if self.depth == 0 and self.top_kind is None:
            self.top_kind = answer.kind
        if answer.failed:
            self.note(f"{domain}: TXT -> {answer.kind.upper()}")
            raise _TempError(f"DNS {answer.kind} looking up {domain} TXT", answer.kind)
        records = select_spf_records(answer.records) if answer.found else []
        if not records:
            self.note(f"{domain}: no SPF record ({answer.kind if answer.void else 'no v=spf1 TXT'})")
            return None
        if len(records) > 1:
            self.note(f"{domain}: {len(records)} SPF records")
            raise _PermError(f"{domain} publishes {len(records)} SPF records; exactly one is allowed")
        self.note(f'{domain}: "{records[0]}"')
        if self.top_record is None:
            self.top_record = records[0]
        try:
            return parse_spf(records[0])
        except SpfSyntaxError as exc:
            raise _PermError(f"{domain}: {exc}") from None

    def check_host(self, domain: str) -> tuple[str, str]:
        record = self.fetch_record(domain)
        if record is None:
            return "none", f"{domain} has no SPF record"
        for term in record.mechanisms:
            if self.matches(term, domain):
                result = _QUALIFIER_RESULT[term.qualifier]
                self.note(f"{term.text} matches {self.ip} -> {result}")
                return result, f"{domain}: {term.text} matched"
        if record.redirect is not None:
            self.count_term(f"redirect={record.redirect}")
            target = self.expand(record.redirect, domain)
            if not _valid_domain(target):
                raise _PermError(f"redirect={record.redirect}: {target!r} is not a valid domain name")
            self.note(f"redirect={target}")
            self.depth += 1
            try:
                result, reason = self.check_host(target)
            finally:
                self.depth -= 1
            if result == "none":
                raise _PermError(f"redirect target {target} has no SPF record")
            return result, reason
        self.note(f"no term matches {self.ip} -> neutral")
        return "neutral", f"{domain}: no mechanism matched and there is no redirect"

    def matches(self, term: SpfTerm, domain: str) -> bool:
        name = term.name
        if name == "all":
            return True
        if name == "ip4" or name == "ip6":
            return term.value is not None and self.in_network(term.value, term.cidr4, term.cidr6)
        self.count_term(term.text)
        if name == "include":
            target = self.target(term, domain)
            self.note(f"{term.text} (lookup {self.lookups})")
            self.depth += 1
            try:
                result, _reason = self.check_host(target)
            finally:
                self.depth -= 1
            if result == "none":
                raise _PermError(f"{term.text}: {target} has no SPF record")
            if result != "pass":
                self.note(f"{term.text} gave {result}: no match, continue")
            return result == "pass"
        if name == "a":
            target = self.target(term, domain)
            answer = self.query(target, self.address_type(), term=term.text)
            return any(self.in_network(a, term.cidr4, term.cidr6) for a in answer.records)
        if name == "mx":
            target = self.target(term, domain)
            answer = self.query(target, "MX", term=term.text)
            exchanges = []
            for record in answer.records:
                _pref, _sep, exchange = record.partition(" ")
                exchange = exchange.rstrip(".")
                if exchange:  # a null MX ("0 .") names no host
                    exchanges.append(exchange)
            if len(exchanges) > _MAX_NAMES_PER_TERM:
                raise _PermError(f"{term.text}: {target} has more than {_MAX_NAMES_PER_TERM} MX records")
            for exchange in exchanges:
                addresses = self.query(exchange, self.address_type(), term=term.text, count_void=False)
                if any(self.in_network(a, term.cidr4, term.cidr6) for a in addresses.records):
                    return True
            return False
        if name == "exists":
            target = self.target(term, domain)
            # RFC 7208 5.7: always an A query, whatever the client's address family
            return self.query(target, "A", term=term.text).found
        if name == "ptr":
            return self.match_ptr(term, domain)
        raise _PermError(f"unknown mechanism {name}")  # parse_spf prevents this

    def match_ptr(self, term: SpfTerm, domain: str) -> bool:
        # RFC 7208 5.5: DNS errors make ptr not match rather than temperror.
        target = self.target(term, domain)
        reverse = ipaddress.ip_address(self.ip).reverse_pointer
        answer = self.lookup(reverse, "PTR")
        if answer.void:
            self.voids += 1
            if self.voids > MAX_VOID_LOOKUPS:
                raise _PermError(f"more than {MAX_VOID_LOOKUPS} void lookups (NXDOMAIN or no records)")
        if not answer.found:
            self.note(f"{term.text}: PTR {reverse} -> {answer.kind.upper()}")
            return False
        for name in answer.records[:_MAX_NAMES_PER_TERM]:
            name = name.rstrip(".").lower()
            if name != target and not name.endswith("." + target):
                continue
            forward = self.lookup(name, self.address_type())
            if forward.found and any(self.in_network(a, None, None) for a in forward.records):
                return True
        return False


def check_host(lookup: Lookup, ip: str, domain: str, *, sender: str | None = None,
               helo: str | None = None) -> SpfResult:
    """Evaluate ``domain``'s SPF policy for mail from ``ip`` (RFC 7208 check_host()).

    Returns the result with the path taken, the number of DNS-querying terms
    used and the number of void lookups.
    """
    address = ipaddress.ip_address(ip)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # RFC 7208 5: IPv4-mapped addresses are IPv4
    domain = domain.rstrip(".").lower()
    evaluator = _Evaluator(lookup, address, sender or f"postmaster@{domain}", helo)
    error_kind = None
    if not _valid_domain(domain):
        result, reason = "none", f"{domain!r} is not a valid domain name"
    else:
        try:
            result, reason = evaluator.check_host(domain)
        except _PermError as exc:
            result, reason = "permerror", str(exc)
        except _TempError as exc:
            result, reason, error_kind = "temperror", str(exc), exc.kind
    if result == "none" and evaluator.top_kind in ("nxdomain", "nodata"):
        error_kind = evaluator.top_kind
    return SpfResult(
        result=result,
        reason=reason,
        ip=str(address),
        domain=domain,
        record=evaluator.top_record,
        path=evaluator.path,
        lookups=evaluator.lookups,
        void_lookups=evaluator.voids,
        error_kind=error_kind,
    )
