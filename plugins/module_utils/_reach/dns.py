# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to the mailwright.smtp collection: other collections must not import
# this file; its interface may change without notice.

"""DNS checks for outgoing mail: relay addresses, sender MX, PTR, SPF, DMARC, GHES replies.

dnspython is imported only when a resolver is built, so this file imports on a
host without it (the module reports ``missing_required_lib`` instead). Every
lookup becomes a :class:`DnsAnswer` that tells NXDOMAIN, NODATA, SERVFAIL,
REFUSED, an unreachable nameserver and a timeout apart; every check returns
``{check, status, message, records, kind}`` with status pass, warn or fail: the finding shape
smtp_probe's errors and warnings share (there ``step`` where here ``check``).
"""

from __future__ import annotations

import ipaddress
import re
import time
import typing as t

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._reach.findings import (
    STATUS_ORDER,
    count_statuses,
    trips,
    worst_status,
)
from ansible_collections.mailwright.smtp.plugins.module_utils._reach.spf import (
    DnsAnswer,
    check_host,
)

__all__ = [
    "CHECK_NAMES",
    "DnsAnswer",
    "DnsClient",
    "DnsSetupError",
    "STATUS_ORDER",
    "default_checks",
    "make_resolver",
    "run",
    "run_checks",
    "worst_status",
]

# The checks a caller can ask for, in the order they run.
CHECK_NAMES = ("relay_address", "sender_mx", "relay_ptr", "spf", "dmarc", "ghes_reply", "expect")
# RFC 7489 bis "tree walk": at most this many _dmarc queries per domain.
_DMARC_MAX_QUERIES = 8
_DMARC_VERSION_RE = re.compile(r"^\s*v\s*=\s*DMARC1\s*(;|$)")
_MX_HOSTS_TO_RESOLVE = 5


class DnsSetupError(MailwrightError, ValueError):
    """The resolver cannot be built (bad nameserver address, no resolv.conf); a ValueError too."""

    kind = "invalid"


class DnsChecksFailed(MailwrightError):
    """Checks tripped fail_on; the details are the whole result, so nothing is lost.

    Its kind is network when the first failing lookup got no answer, else server (the DNS
    answered, with records that do not do).
    """


_NETWORK_KINDS = ("servfail", "refused", "unreachable", "timeout", "error")


def _dnspython():
    # Imported here, not at the top: the module checks for dnspython first and
    # fails with missing_required_lib, which needs this file importable.
    import dns.exception
    import dns.name
    import dns.rdatatype
    import dns.resolver

    return dns


def make_resolver(*, nameservers: t.Sequence[str] | None = None, port: int | None = None,
                  timeout: float = 3.0, retries: int = 1):
    """A dnspython Resolver asking ``nameservers`` (default: the host's) on ``port``.

    ``timeout`` bounds one try at one nameserver; a lookup gives up after every
    nameserver had ``retries + 1`` tries, so its duration is bounded by
    ``timeout * len(nameservers) * (retries + 1)`` plus dnspython's back-off between rounds
    (0.1 s, doubling; measured: 0.5 s timeout, 2 retries -> 1.9 s).
    """
    dns = _dnspython()
    if timeout <= 0:
        raise DnsSetupError(f"timeout must be positive, got {timeout}")
    if retries < 0:
        raise DnsSetupError(f"retries must be 0 or more, got {retries}")
    if nameservers:
        for server in nameservers:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise DnsSetupError(f"nameserver {server!r} is not an IP address") from None
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(nameservers)
    else:
        try:
            resolver = dns.resolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration as exc:
            raise DnsSetupError(f"no nameservers given and the host has no resolver configuration: {exc}") from None
    resolver.port = int(port or 53)
    resolver.timeout = float(timeout)
    resolver.lifetime = float(timeout) * max(1, len(resolver.nameservers)) * (retries + 1)
    # One SERVFAIL is an answer worth reporting, not a reason to keep asking.
    resolver.retry_servfail = False
    resolver.cache = None
    return resolver


def _record_text(dns, rdata) -> str:
    rdtype = rdata.rdtype
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return rdata.address
    if rdtype == dns.rdatatype.MX:
        exchange = "." if rdata.exchange == dns.name.root else rdata.exchange.to_text(omit_final_dot=True)
        return f"{rdata.preference} {exchange}"
    if rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME):
        return rdata.target.to_text(omit_final_dot=True)
    return rdata.to_text()


def _classify_no_nameservers(exc) -> tuple[str, str]:
    """(kind, message) for dnspython's NoNameservers: which failure it really was."""
    errors = (getattr(exc, "kwargs", None) or {}).get("errors") or []
    texts, kinds = [], []
    for entry in errors:
        server, error = entry[0], entry[3]
        texts.append(f"{server}: {error}")  # dnspython's server text already names the port
        if isinstance(error, str):
            kinds.append({"SERVFAIL": "servfail", "REFUSED": "refused"}.get(error, "error"))
        elif isinstance(error, OSError):
            kinds.append("unreachable")
        elif type(error).__name__ == "Timeout":
            kinds.append("timeout")
        else:
            kinds.append("error")
    for kind in ("servfail", "refused", "timeout", "unreachable", "error"):
        if kind in kinds:
            return kind, "; ".join(texts)
    return "error", str(exc)


class DnsClient:
    """Lookups as :class:`DnsAnswer` values, cached for one run of checks."""

    def __init__(self, *, nameservers: t.Sequence[str] | None = None, port: int | None = None,
                 timeout: float = 3.0, retries: int = 1, resolver=None) -> None:
        self.resolver = resolver or make_resolver(nameservers=nameservers, port=port,
                                                  timeout=timeout, retries=retries)
        self._cache: dict[tuple[str, str], DnsAnswer] = {}
        self.queries = 0

    @property
    def nameservers(self) -> list[str]:
        return [str(ns) for ns in self.resolver.nameservers]

    @property
    def port(self) -> int:
        return self.resolver.port

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        name = name.rstrip(".").lower()
        rdtype = rdtype.upper()
        key = (name, rdtype)
        if key not in self._cache:
            self._cache[key] = self._query(name, rdtype)
        return self._cache[key]

    def reverse(self, address: str) -> DnsAnswer:
        return self.lookup(ipaddress.ip_address(address).reverse_pointer, "PTR")

    def _query(self, name: str, rdtype: str) -> DnsAnswer:
        dns = _dnspython()
        self.queries += 1
        try:
            qname = dns.name.from_text(name)
            answer = self.resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=True)
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(name, rdtype, "nxdomain", message=f"{name} does not exist (NXDOMAIN)")
        except dns.resolver.NoAnswer:
            return DnsAnswer(name, rdtype, "nodata", message=f"{name} has no {rdtype} records (NODATA)")
        except dns.resolver.NoNameservers as exc:
            kind, message = _classify_no_nameservers(exc)
            return DnsAnswer(name, rdtype, kind, message=message)
        except dns.resolver.LifetimeTimeout as exc:
            waited = (getattr(exc, "kwargs", None) or {}).get("timeout")
            detail = f" after {waited:.1f}s" if isinstance(waited, (int, float)) else ""
            return DnsAnswer(name, rdtype, "timeout", message=f"no answer for {name} {rdtype}{detail}")
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, rdtype, "error", message=f"{type(exc).__name__}: {exc}")
        records = tuple(_record_text(dns, rdata) for rdata in answer)
        return DnsAnswer(name, rdtype, "answer", records)


# -- results -----------------------------------------------------------------

def _check(name: str, status: str, message: str, records: t.Iterable[str] = (),
           kind: str | None = None, **details: t.Any) -> dict[str, t.Any]:
    result = {"check": name, "status": status, "message": message, "records": list(records), "kind": kind}
    result.update(details)
    return result


def _zone_lines(answer: DnsAnswer) -> list[str]:
    if answer.rdtype == "TXT":
        return [f'{answer.name} TXT "{record}"' for record in answer.records]
    return [f"{answer.name} {answer.rdtype} {record}" for record in answer.records]


def _outcome(answer: DnsAnswer) -> str:
    """NXDOMAIN / NODATA / SERVFAIL / ... in words, for summaries."""
    return {
        "nxdomain": "does not exist (NXDOMAIN)",
        "nodata": f"has no {answer.rdtype} records (NODATA)",
        "servfail": "could not be resolved: the nameserver answered SERVFAIL",
        "refused": "could not be resolved: the nameserver REFUSED the query",
        "unreachable": "could not be resolved: the nameserver is unreachable",
        "timeout": "could not be resolved: the lookup TIMED OUT",
        "error": "could not be resolved",
    }.get(answer.kind, answer.kind) + (f" [{answer.message}]" if answer.failed and answer.message else "")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].rstrip(".").lower() or None


def _first_failure(*answers: DnsAnswer) -> DnsAnswer | None:
    return next((a for a in answers if a.failed), None)


# -- individual checks -------------------------------------------------------

class _Checks:
    def __init__(self, settings: dict[str, t.Any], client: DnsClient) -> None:
        self.settings = settings
        self.client = client
        self.host = (settings.get("server") or {}).get("host") or ""
        sender = settings.get("sender") or {}
        self.from_address = sender.get("from_address")
        self.sender_domain = _domain_of(self.from_address)
        self.dns = settings.get("dns") or {}
        self._relay: tuple[list[str], list[DnsAnswer]] | None = None

    def relay_addresses(self) -> tuple[list[str], list[DnsAnswer]]:
        if self._relay is None:
            if _is_ip(self.host):
                self._relay = ([str(ipaddress.ip_address(self.host))], [])
            else:
                answers = [self.client.lookup(self.host, "A"), self.client.lookup(self.host, "AAAA")]
                self._relay = ([r for a in answers for r in a.records], answers)
        return self._relay

    def relay_address(self) -> list[dict]:
        if not self.host:
            return [_check("relay_address", "fail", "server.host is not set")]
        addresses, answers = self.relay_addresses()
        if not answers:
            return [_check("relay_address", "pass", f"server.host {self.host} is an IP address",
                           [self.host], addresses=addresses)]
        records = [line for a in answers for line in _zone_lines(a)]
        failure = _first_failure(*answers)
        if addresses:
            if failure is not None:
                return [_check("relay_address", "warn",
                               f"{self.host} resolves to {', '.join(addresses)}, but its {failure.rdtype} "
                               f"lookup {_outcome(failure)}", records, failure.kind, addresses=addresses)]
            return [_check("relay_address", "pass", f"{self.host} resolves to {', '.join(addresses)}",
                           records, addresses=addresses)]
        if failure is not None:
            return [_check("relay_address", "fail", f"{self.host} {_outcome(failure)}", records,
                           failure.kind, addresses=[])]
        a_answer = answers[0]
        if a_answer.kind == "nxdomain":
            return [_check("relay_address", "fail", f"relay {self.host} does not exist (NXDOMAIN)", records,
                           "nxdomain", addresses=[])]
        return [_check("relay_address", "fail",
                       f"relay {self.host} exists but has no A or AAAA records (NODATA)", records, "nodata",
                       addresses=[])]

    def sender_mx(self) -> list[dict]:
        domain = self.sender_domain
        if not domain:
            return [_check("sender_mx", "fail", "sender.from_address has no domain")]
        mx = self.client.lookup(domain, "MX")
        records = _zone_lines(mx)
        if mx.found:
            exchanges = sorted((int(p), h) for p, _sep, h in (r.partition(" ") for r in mx.records))
            if [h for _p, h in exchanges] == ["."]:
                return [_check("sender_mx", "fail",
                               f"{domain} publishes a null MX (RFC 7505): it accepts no mail, so bounces "
                               "and replies to the from address are lost", records)]
            resolving = []
            for _pref, exchange in exchanges[:_MX_HOSTS_TO_RESOLVE]:
                if exchange == ".":
                    continue
                answers = [self.client.lookup(exchange, "A"), self.client.lookup(exchange, "AAAA")]
                records.extend(line for a in answers for line in _zone_lines(a))
                if any(a.found for a in answers):
                    resolving.append(exchange)
            names = ", ".join(f"{h} ({p})" for p, h in exchanges)
            if not resolving:
                return [_check("sender_mx", "warn",
                               f"{domain} has MX {names}, but none of the mail hosts resolves to an address",
                               records)]
            return [_check("sender_mx", "pass", f"{domain} has MX {names}", records)]
        if mx.kind == "nodata":
            answers = [self.client.lookup(domain, "A"), self.client.lookup(domain, "AAAA")]
            records.extend(line for a in answers for line in _zone_lines(a))
            if any(a.found for a in answers):
                return [_check("sender_mx", "warn",
                               f"{domain} has no MX record (NODATA); mail to it falls back to its A/AAAA "
                               "address (RFC 5321 5.1 implicit MX) - publish an MX", records, "nodata")]
            failure = _first_failure(*answers)
            if failure is not None:
                return [_check("sender_mx", "fail", f"{domain} has no MX and its {failure.rdtype} lookup "
                               f"{_outcome(failure)}", records, failure.kind)]
            return [_check("sender_mx", "fail",
                           f"{domain} has no MX and no A/AAAA record (NODATA): bounces to the from address "
                           "cannot be delivered", records, "nodata")]
        return [_check("sender_mx", "fail", f"sender domain {domain} {_outcome(mx)}", records, mx.kind)]

    def relay_ptr(self) -> list[dict]:
        addresses, answers = self.relay_addresses()
        if not addresses:
            failure = _first_failure(*answers) or (answers[0] if answers else None)
            return [_check("relay_ptr", "fail", f"relay {self.host} has no addresses to look up",
                           kind=failure.kind if failure is not None else None)]
        records, statuses, notes, kinds = [], [], [], []
        for address in addresses:
            reverse = self.client.reverse(address)
            records.extend(_zone_lines(reverse))
            if not reverse.found:
                statuses.append("fail")
                kinds.append(reverse.kind)
                notes.append(f"{address}: no PTR - {reverse.name} {_outcome(reverse)}")
                continue
            family = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
            confirmed = []
            for name in reverse.records[:10]:
                forward = self.client.lookup(name, family)
                records.extend(_zone_lines(forward))
                if any(ipaddress.ip_address(a) == ipaddress.ip_address(address) for a in forward.records):
                    confirmed.append(name)
            if confirmed:
                statuses.append("pass")
                notes.append(f"{address}: PTR {', '.join(confirmed)} (forward-confirmed)")
            else:
                statuses.append("warn")
                notes.append(f"{address}: PTR {', '.join(reverse.records)}, but that name does not resolve back "
                             f"to {address}")
        return [_check("relay_ptr", worst_status(statuses), "; ".join(notes), records,
                       next((k for k in kinds), None))]

    def spf(self) -> list[dict]:
        domain = self.sender_domain
        if not domain:
            return [_check("spf", "fail", "sender.from_address has no domain")]
        sending_ips = list(self.dns.get("sending_ips") or [])
        source = "dns.sending_ips"
        if not sending_ips:
            sending_ips, answers = self.relay_addresses()
            source = f"relay {self.host}"
            if not sending_ips:
                failure = _first_failure(*answers) or (answers[0] if answers else None)
                return [_check("spf", "fail",
                               f"no address to check: {source} has no addresses and dns.sending_ips is empty",
                               kind=failure.kind if failure is not None else None)]
        results = []
        for ip in sending_ips:
            try:
                results.append(check_host(self.client.lookup, ip, domain, sender=self.from_address,
                                          helo=(self.settings.get("server") or {}).get("helo_domain")))
            except ValueError:
                return [_check("spf", "fail", f"{source}: {ip!r} is not an IP address")]
        first = results[0]
        records = [f'{domain} TXT "{first.record}"'] if first.record else []
        statuses = [{"pass": "pass", "softfail": "warn", "neutral": "warn"}.get(r.result, "fail") for r in results]
        error_kind = next((r.error_kind for r in results if r.error_kind), None)
        if all(r.result == "none" for r in results):
            summary = f"{domain} publishes no SPF record (no v=spf1 TXT record)"
        elif len({(r.result, r.reason) for r in results}) == 1 and first.result == "permerror":
            summary = f"SPF of {domain}: permerror - {first.reason}"
        else:
            summary = f"SPF of {domain} ({source}): " + "; ".join(
                f"{r.ip} {r.result}" + ("" if r.result == "pass" else f" ({r.reason})") for r in results)
        return [_check("spf", worst_status(statuses), summary, records, error_kind,
                       spf=[r.as_dict() for r in results])]

    def dmarc(self) -> list[dict]:
        domain = self.sender_domain
        if not domain:
            return [_check("dmarc", "fail", "sender.from_address has no domain")]
        labels = domain.split(".")
        candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)] or [domain]
        if len(candidates) > _DMARC_MAX_QUERIES:
            # keep the sender domain and the shortest names, as the DMARCbis tree walk does
            candidates = [candidates[0]] + candidates[-(_DMARC_MAX_QUERIES - 1):]
        records: list[str] = []
        first_answer = None
        for candidate in candidates:
            answer = self.client.lookup(f"_dmarc.{candidate}", "TXT")
            first_answer = first_answer or answer
            records.extend(_zone_lines(answer))
            if answer.failed:
                return [_check("dmarc", "fail", f"_dmarc.{candidate} {_outcome(answer)}", records, answer.kind)]
            dmarc = [r for r in answer.records if _DMARC_VERSION_RE.match(r)]
            if len(dmarc) > 1:
                return [_check("dmarc", "fail", f"_dmarc.{candidate} has {len(dmarc)} DMARC records; receivers "
                               "ignore DMARC when there is more than one", records)]
            if dmarc:
                return [self._dmarc_policy(domain, candidate, dmarc[0], records)]
        where = f"_dmarc.{domain}" + (" or a parent domain" if len(candidates) > 1 else "")
        kind = first_answer.kind if first_answer is not None and first_answer.void else None
        return [_check("dmarc", "fail", f"no DMARC record at {where} (no v=DMARC1 TXT record)", records, kind)]

    @staticmethod
    def _dmarc_policy(domain: str, found_at: str, record: str, records: list[str]) -> dict:
        tags: dict[str, str] = {}
        for part in record.split(";"):
            key, sep, value = part.partition("=")
            if sep:
                tags[key.strip().lower()] = value.strip()
        inherited = found_at != domain
        policy_tag = "sp" if inherited and "sp" in tags else "p"
        policy = tags.get(policy_tag, "").lower()
        where = f"_dmarc.{found_at}" + (f" (inherited by {domain})" if inherited else "")
        dmarc = {"record_name": f"_dmarc.{found_at}", "policy": policy or None, "inherited": inherited, "tags": tags}
        if policy in ("reject", "quarantine"):
            pct = tags.get("pct")
            if pct is not None and pct != "100":
                return _check("dmarc", "warn", f"{where}: {policy_tag}={policy} but only for pct={pct}% of mail",
                              records, dmarc=dmarc)
            return _check("dmarc", "pass", f"{where}: {policy_tag}={policy}", records, dmarc=dmarc)
        if policy == "none":
            return _check("dmarc", "warn", f"{where}: {policy_tag}=none - monitoring only, receivers do not act "
                          "on failures", records, dmarc=dmarc)
        if not policy:
            return _check("dmarc", "fail", f"{where}: the record has no p= policy tag", records, dmarc=dmarc)
        return _check("dmarc", "fail", f"{where}: {policy_tag}={policy} is not none, quarantine or reject",
                      records, dmarc=dmarc)

    def ghes_reply(self) -> list[dict]:
        hostname = ((self.settings.get("ghes") or {}).get("hostname") or "").rstrip(".").lower()
        if not hostname:
            return [_check("ghes_reply", "fail", "ghes.hostname is not set; the reply records cannot be checked")]
        reply, noreply = f"reply.{hostname}", f"noreply.{hostname}"
        a_answer = self.client.lookup(reply, "A")
        results = []
        if a_answer.found:
            results.append(_check("ghes_reply_a", "pass", f"{reply} resolves to {', '.join(a_answer.records)}",
                                  _zone_lines(a_answer)))
        else:
            results.append(_check("ghes_reply_a", "fail",
                                  f"{reply} {_outcome(a_answer)}: add an A record for {reply} (or a wildcard "
                                  f"*.{hostname}) so replies to notifications reach GHES",
                                  [], a_answer.kind))
        for check_name, name in (("ghes_reply_mx", reply), ("ghes_noreply_mx", noreply)):
            mx = self.client.lookup(name, "MX")
            if not mx.found:
                results.append(_check(check_name, "fail",
                                      f"{name} {_outcome(mx)}: add an MX for {name} pointing at {hostname}",
                                      [], mx.kind))
                continue
            exchanges = [r.partition(" ")[2].lower() for r in mx.records]
            if hostname in exchanges:
                results.append(_check(check_name, "pass", f"{name} MX points at {hostname}", _zone_lines(mx)))
            else:
                results.append(_check(check_name, "warn",
                                      f"{name} MX points at {', '.join(exchanges)}, not at {hostname}; mail reaches "
                                      "GHES only if that host forwards it", _zone_lines(mx)))
        return results

    def expect(self) -> list[dict]:
        results = []
        for entry in self.dns.get("expect") or []:
            name, rdtype, contains = entry["name"], entry["type"].upper(), entry.get("contains")
            query_name = ipaddress.ip_address(name).reverse_pointer if rdtype == "PTR" and _is_ip(name) else name
            label = f"expect {name} {rdtype}"
            answer = self.client.lookup(query_name, rdtype)
            records = _zone_lines(answer)
            if not answer.found:
                results.append(_check(label, "fail", f"{query_name} {_outcome(answer)}", records, answer.kind))
            elif contains is None or any(contains.lower() in r.lower() for r in answer.records):
                results.append(_check(label, "pass", f"{query_name} {rdtype}: {', '.join(answer.records)}", records))
            else:
                results.append(_check(label, "fail", f"none of the {rdtype} records of {query_name} contains "
                                      f"{contains!r}: {', '.join(answer.records)}", records))
        return results


def default_checks(settings: dict[str, t.Any]) -> list[str]:
    """The checks the settings' ``dns`` block asks for."""
    dns = settings.get("dns") or {}
    chosen = ["relay_address"]
    if dns.get("check_mx", True):
        chosen.append("sender_mx")
    if dns.get("check_ptr", False):
        chosen.append("relay_ptr")
    if dns.get("check_spf", True):
        chosen.append("spf")
    if dns.get("check_dmarc", True):
        chosen.append("dmarc")
    ghes_default = settings.get("product") == "ghes"
    check_ghes = dns.get("check_ghes_reply")
    if settings.get("product") == "ghes" and (ghes_default if check_ghes is None else check_ghes):
        chosen.append("ghes_reply")
    if dns.get("expect"):
        chosen.append("expect")
    return chosen


def run_checks(settings: dict[str, t.Any], client: DnsClient,
               checks: t.Sequence[str] | None = None) -> dict[str, t.Any]:
    """Run the chosen checks (default: what the settings ask for) against ``client``.

    Returns ``{checks, counts, status, report, sender_domain, relay, nameservers, port, queries,
    elapsed_ms}``; ``status`` is the worst check status.
    """
    chosen = list(checks) if checks else default_checks(settings)
    unknown = [c for c in chosen if c not in CHECK_NAMES]
    if unknown:
        raise DnsSetupError(f"unknown checks {', '.join(unknown)}; choose from {', '.join(CHECK_NAMES)}")
    runner = _Checks(settings, client)
    started = time.monotonic()
    results: list[dict] = []
    for name in CHECK_NAMES:
        if name in chosen:
            results.extend(getattr(runner, name)())
    width = max((len(r["check"]) for r in results), default=0)
    return {
        "checks": results,
        "counts": count_statuses(r["status"] for r in results),
        "status": worst_status(r["status"] for r in results),
        "report": [f"{r['status'].upper():<4}  {r['check']:<{width}}  {r['message']}" for r in results],
        "sender_domain": runner.sender_domain,
        "relay": runner.host,
        "nameservers": client.nameservers,
        "port": client.port,
        "queries": client.queries,
        "elapsed_ms": int(round((time.monotonic() - started) * 1000)),
    }


def run(params: t.Mapping[str, t.Any], effective: dict[str, t.Any]) -> dict[str, t.Any]:
    """Everything dns_check does after argument parsing: the module result, `warnings` as text.

    The options win over the settings' dns block. Raises DnsSetupError for unusable options and
    DnsChecksFailed when checks trip fail_on.
    """
    dns_settings = effective.get("dns") or {}
    nameservers = params["nameservers"] if params.get("nameservers") is not None else dns_settings.get("nameservers")
    port = params["port"] if params.get("port") is not None else dns_settings.get("port")
    if port is not None and not 1 <= port <= 65535:
        raise DnsSetupError(f"port must be between 1 and 65535, got {port}", changed=False)
    client = DnsClient(nameservers=nameservers or None, port=port, timeout=params.get("timeout", 3.0),
                       retries=params.get("retries", 1))
    result = run_checks(effective, client, params.get("checks"))
    counts = result["counts"]
    fail_on = params.get("fail_on") or "fail"
    result["changed"] = False
    result["msg"] = f'DNS checks: {counts["pass"]} pass, {counts["warn"]} warn, {counts["fail"]} fail'
    # What does not fail the task is still worth a line in the play output.
    result["warnings"] = [f'{c["check"]}: {c["message"]}' for c in result["checks"]
                          if c["status"] == "warn" or (c["status"] == "fail" and fail_on == "never")]
    failing = [c for c in result["checks"] if trips(c["status"], fail_on)]
    if failing:
        message = result.pop("msg") + " - " + "; ".join(
            f'{c["check"]} {c["status"]}: {c["message"]}' for c in failing)
        kind = "network" if failing[0]["kind"] in _NETWORK_KINDS else "server"
        raise DnsChecksFailed(message, kind=kind, **result)
    return result
