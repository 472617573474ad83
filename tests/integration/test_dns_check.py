"""dns_check against a real DNS server: dnsmasq on loopback serving tests/support/dns_server.py's zone.

No resolver is patched: dnspython talks UDP to dnsmasq. SERVFAIL comes from dnsmasq's DNSSEC
validation of an unsigned upstream, timeouts from a zone forwarded to a socket that never answers
and from a nameserver port where nothing answers.
"""
from __future__ import annotations

import copy
import json
import socket
import time

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._reach.dns import DnsClient, run_checks
from ansible_collections.mailwright.smtp.plugins.module_utils._settings.model import load_effective
from tests.support.modrun import run_module

pytest_plugins = ["tests.support.fixtures_dns"]
pytestmark = pytest.mark.integration


def _settings(dns_server, *, host="relay.example.test", sender="jira@example.test", product="jira",
              ghes_hostname=None, **dns) -> dict:
    ip, port = dns_server
    document = {
        "product": product,
        "server": {"host": host, "port": 25},
        "sender": {"from_address": sender},
        "dns": {"nameservers": [ip], "port": port, **dns},
    }
    if product == "ghes":
        document["sender"]["noreply_address"] = f"noreply@{ghes_hostname or 'example.test'}"
        document["ghes"] = {"hostname": ghes_hostname}
    return document


def _client(dns_server, *, timeout=1.0, retries=0, port=None) -> DnsClient:
    ip, server_port = dns_server
    return DnsClient(nameservers=[ip], port=port or server_port, timeout=timeout, retries=retries)


def _run(dns_server, checks, **kwargs) -> dict[str, dict]:
    effective = load_effective(_settings(dns_server, **kwargs))
    result = run_checks(effective, _client(dns_server), checks)
    return {c["check"]: c for c in result["checks"]}


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- lookups: every outcome told apart -------------------------------------------------------

def test_answers_are_presented_as_text(dns_server):
    client = _client(dns_server)
    assert client.lookup("relay.example.test", "A").records == ("192.0.2.10",)
    assert client.lookup("relay.example.test", "AAAA").records == ("2001:db8::10",)
    assert client.lookup("example.test", "MX").records == ("10 mx1.example.test",)
    assert client.lookup("nullmx.test", "MX").records == ("0 .",)
    assert client.reverse("192.0.2.10").records == ("relay.example.test",)
    assert client.reverse("2001:db8::10").records == ("relay.example.test",)
    # character-strings of one TXT record are joined without a separator
    assert client.lookup("split.example.test", "TXT").records == ("v=spf1 ip4:192.0.2.0/24 -all",)
    # a CNAME is followed to the address
    assert client.lookup("www.example.test", "A").records == ("192.0.2.10",)


@pytest.mark.parametrize("name, rdtype, kind", [
    ("relay.example.test", "A", "answer"),
    ("missing.example.test", "A", "nxdomain"),
    ("v4only.example.test", "AAAA", "nodata"),
    ("_verify.example.test", "MX", "nodata"),
    ("servfail.test", "MX", "servfail"),
    ("x.servfail.test", "A", "servfail"),
    ("example.com", "A", "refused"),  # outside the served zone, no upstream
])
def test_outcome_kinds(dns_server, name, rdtype, kind):
    started = time.monotonic()
    answer = _client(dns_server).lookup(name, rdtype)
    assert answer.kind == kind, answer
    assert time.monotonic() - started < 1.0, "answers, even SERVFAIL, come back at once"


def test_timeout_when_the_server_never_answers_for_a_zone(dns_server):
    client = _client(dns_server, timeout=0.3, retries=0)
    started = time.monotonic()
    answer = client.lookup("x.slow.test", "A")
    elapsed = time.monotonic() - started
    assert answer.kind == "timeout", answer
    assert 0.25 <= elapsed < 1.5
    # the server itself stays fine
    assert client.lookup("relay.example.test", "A").found


@pytest.mark.parametrize("retries", [0, 2])
def test_timeout_when_nothing_answers_on_the_port_is_bounded_by_retries(dns_server, dns_silent_port, retries):
    client = _client(dns_server, timeout=0.25, retries=retries, port=dns_silent_port)
    started = time.monotonic()
    answer = client.lookup("relay.example.test", "A")
    elapsed = time.monotonic() - started
    assert answer.kind == "timeout", answer
    bound = 0.25 * (retries + 1)
    assert bound * 0.8 <= elapsed < bound + 1.0


def test_closed_port_times_out_within_the_bound(dns_server):
    # dnspython's UDP socket is unconnected, so the ICMP "port unreachable" never reaches it:
    # a closed port looks exactly like a silent one, and the bound still holds.
    client = _client(dns_server, timeout=0.3, retries=1, port=_closed_udp_port())
    started = time.monotonic()
    answer = client.lookup("relay.example.test", "A")
    assert answer.kind == "timeout", answer
    assert time.monotonic() - started < 0.6 + 1.0


def test_each_name_and_type_is_asked_once(dns_server):
    effective = load_effective(_settings(dns_server))
    client = _client(dns_server)
    run_checks(effective, client, ["relay_address", "relay_ptr", "spf"])
    first = client.queries
    run_checks(effective, client, ["relay_address", "relay_ptr", "spf"])
    assert client.queries == first


# -- checks: pass / warn / fail ----------------------------------------------------------------

@pytest.mark.parametrize("host, status, error_kind, fragment", [
    ("relay.example.test", "pass", None, "192.0.2.10, 2001:db8::10"),
    ("v4only.example.test", "pass", None, "192.0.2.11"),
    ("192.0.2.99", "pass", None, "is an IP address"),
    ("missing.example.test", "fail", "nxdomain", "NXDOMAIN"),
    ("_verify.example.test", "fail", "nodata", "NODATA"),
    ("x.servfail.test", "fail", "servfail", "SERVFAIL"),
])
def test_relay_address(dns_server, host, status, error_kind, fragment):
    check = _run(dns_server, ["relay_address"], host=host)["relay_address"]
    assert (check["status"], check["kind"]) == (status, error_kind), check
    assert fragment in check["message"]


@pytest.mark.parametrize("domain, status, error_kind, fragment", [
    ("example.test", "pass", None, "mx1.example.test (10)"),
    ("softspf.test", "warn", "nodata", "implicit MX"),
    ("nullmx.test", "fail", None, "null MX"),
    ("nomail.test", "fail", "nodata", "no MX and no A/AAAA"),
    ("missing.test", "fail", "nxdomain", "NXDOMAIN"),
    ("servfail.test", "fail", "servfail", "SERVFAIL"),
])
def test_sender_mx(dns_server, domain, status, error_kind, fragment):
    check = _run(dns_server, ["sender_mx"], sender=f"jira@{domain}")["sender_mx"]
    assert (check["status"], check["kind"]) == (status, error_kind), check
    assert fragment in check["message"]
    if status == "pass":
        assert "example.test MX 10 mx1.example.test" in check["records"]
        assert "mx1.example.test A 192.0.2.25" in check["records"]


@pytest.mark.parametrize("host, status, error_kind, fragment", [
    ("relay.example.test", "pass", None, "forward-confirmed"),
    ("relay-badptr.example.test", "warn", None, "does not resolve back"),
    ("relay-noptr.example.test", "fail", "nxdomain", "no PTR"),
    ("missing.example.test", "fail", "nxdomain", "no addresses"),
])
def test_relay_ptr(dns_server, host, status, error_kind, fragment):
    check = _run(dns_server, ["relay_ptr"], host=host)["relay_ptr"]
    assert (check["status"], check["kind"]) == (status, error_kind), check
    assert fragment in check["message"]


@pytest.mark.parametrize("domain, sending_ips, status, results, error_kind", [
    ("example.test", [], "pass", {"pass"}, None),
    ("example.test", ["192.0.2.5", "2001:db8::99"], "pass", {"pass"}, None),
    ("example.test", ["203.0.113.5"], "fail", {"fail"}, None),
    ("redirect.test", [], "pass", {"pass"}, None),
    ("split.example.test", ["192.0.2.200"], "pass", {"pass"}, None),
    ("softspf.test", [], "warn", {"softfail"}, None),
    ("nospf.test", [], "fail", {"none"}, None),
    ("missing.test", [], "fail", {"none"}, "nxdomain"),
    ("brokenspf.test", [], "fail", {"permerror"}, None),
    ("deepspf.test", [], "fail", {"permerror"}, None),
    ("twospf.test", [], "fail", {"permerror"}, None),
    ("voidspf.test", [], "fail", {"permerror"}, None),
    ("badsyntax.test", [], "fail", {"permerror"}, None),
    ("servfail.test", [], "fail", {"temperror"}, "servfail"),
])
def test_spf(dns_server, domain, sending_ips, status, results, error_kind):
    check = _run(dns_server, ["spf"], sender=f"jira@{domain}", sending_ips=sending_ips)["spf"]
    assert check["status"] == status, check
    assert {r["result"] for r in check["spf"]} == results, check["spf"]
    assert check["kind"] == error_kind
    checked = sending_ips or ["192.0.2.10", "2001:db8::10"]
    assert [r["ip"] for r in check["spf"]] == checked


def test_spf_reports_the_path_through_the_include_chain(dns_server):
    check = _run(dns_server, ["spf"])["spf"]
    v4 = check["spf"][0]
    assert v4["record"] == "v=spf1 mx include:_spf.example.test -all"
    assert v4["lookups"] == 3  # mx, include:_spf, include:_spf2
    assert any("ip4:192.0.2.0/28 matches 192.0.2.10 -> pass" in line for line in v4["path"])
    assert check["records"] == ['example.test TXT "v=spf1 mx include:_spf.example.test -all"']


def test_spf_too_deep_chain_stops_at_the_eleventh_lookup(dns_server):
    check = _run(dns_server, ["spf"], sender="jira@deepspf.test")["spf"]
    first = check["spf"][0]
    assert first["lookups"] == 11 and "more than 10" in first["reason"]
    assert "exceeds the limit of 10" in first["path"][-1]


def test_spf_broken_chain_names_the_include(dns_server):
    check = _run(dns_server, ["spf"], sender="jira@brokenspf.test")["spf"]
    assert "include:nospf.test" in check["message"]


def test_spf_timeout_is_temperror(dns_server):
    effective = load_effective(_settings(dns_server, sender="jira@x.slow.test"))
    started = time.monotonic()
    result = run_checks(effective, _client(dns_server, timeout=0.3), ["spf"])
    check = result["checks"][0]
    assert (check["status"], check["kind"]) == ("fail", "timeout")
    assert {r["result"] for r in check["spf"]} == {"temperror"}
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("domain, status, policy, inherited, error_kind", [
    ("example.test", "pass", "reject", False, None),
    ("sub.example.test", "pass", "quarantine", True, None),  # sp= of the parent applies
    ("softspf.test", "warn", "none", False, None),
    ("nospf.test", "fail", None, None, "nxdomain"),
    ("servfail.test", "fail", None, None, "servfail"),
])
def test_dmarc(dns_server, domain, status, policy, inherited, error_kind):
    check = _run(dns_server, ["dmarc"], sender=f"jira@{domain}")["dmarc"]
    assert (check["status"], check["kind"]) == (status, error_kind), check
    if policy:
        assert (check["dmarc"]["policy"], check["dmarc"]["inherited"]) == (policy, inherited)
    else:
        assert "dmarc" not in check


@pytest.mark.parametrize("hostname, expected", [
    ("ghes.example.test", {"ghes_reply_a": "pass", "ghes_reply_mx": "pass", "ghes_noreply_mx": "pass"}),
    ("ghes-half.example.test", {"ghes_reply_a": "pass", "ghes_reply_mx": "warn", "ghes_noreply_mx": "fail"}),
    ("ghes-wild.example.test", {"ghes_reply_a": "pass", "ghes_reply_mx": "pass", "ghes_noreply_mx": "pass"}),
    ("ghes-bare.example.test", {"ghes_reply_a": "fail", "ghes_reply_mx": "fail", "ghes_noreply_mx": "fail"}),
])
def test_ghes_reply_records(dns_server, hostname, expected):
    checks = _run(dns_server, ["ghes_reply"], product="ghes", ghes_hostname=hostname)
    assert {name: c["status"] for name, c in checks.items()} == expected
    if hostname == "ghes-bare.example.test":
        assert checks["ghes_reply_a"]["kind"] == "nxdomain"
        assert "wildcard" in checks["ghes_reply_a"]["message"]


def test_custom_expectations(dns_server):
    expect = [
        {"name": "_verify.example.test", "type": "TXT", "contains": "abc123"},
        {"name": "_verify.example.test", "type": "TXT", "contains": "other"},
        {"name": "www.example.test", "type": "CNAME", "contains": "RELAY.example.test"},
        {"name": "192.0.2.10", "type": "PTR"},
        {"name": "nothing.example.test", "type": "A"},
        {"name": "x.servfail.test", "type": "A"},
    ]
    effective = load_effective(_settings(dns_server, expect=expect))
    results = run_checks(effective, _client(dns_server), ["expect"])["checks"]
    assert [(c["status"], c["kind"]) for c in results] == [
        ("pass", None), ("fail", None), ("pass", None), ("pass", None), ("fail", "nxdomain"), ("fail", "servfail")]
    assert results[3]["records"] == ["10.2.0.192.in-addr.arpa PTR relay.example.test"]


def test_default_checks_follow_the_settings(dns_server):
    effective = load_effective(_settings(dns_server, check_ptr=True, check_dmarc=False))
    names = [c["check"] for c in run_checks(effective, _client(dns_server))["checks"]]
    assert names == ["relay_address", "sender_mx", "relay_ptr", "spf"]
    ghes = load_effective(_settings(dns_server, product="ghes", ghes_hostname="ghes.example.test"))
    names = [c["check"] for c in run_checks(ghes, _client(dns_server))["checks"]]
    assert names[-3:] == ["ghes_reply_a", "ghes_reply_mx", "ghes_noreply_mx"]


# -- the module ---------------------------------------------------------------------------------

def test_module_all_good_is_unchanged_and_passes(dns_server):
    rc, result = run_module("dns_check", {"settings": _settings(dns_server, check_ptr=True)})
    assert rc == 0, result
    assert result["changed"] is False
    assert result["status"] == "pass"
    assert result["counts"] == {"pass": 5, "warn": 0, "fail": 0}
    assert [line.split()[0] for line in result["report"]] == ["PASS"] * 5
    assert result["nameservers"] == [dns_server[0]] and result["port"] == dns_server[1]


def test_module_check_mode_is_identical(dns_server):
    args = {"settings": _settings(dns_server, sender="jira@softspf.test"), "fail_on": "never"}
    _rc, normal = run_module("dns_check", args)
    _rc, checked = run_module("dns_check", args, check_mode=True)
    assert normal["checks"] == checked["checks"]
    assert checked["changed"] is False


@pytest.mark.parametrize("sender, fail_on, failed", [
    ("example.test", "warn", False),
    ("softspf.test", "fail", False),  # only warnings
    ("softspf.test", "warn", True),
    ("softspf.test", "never", False),
    ("nospf.test", "fail", True),
    ("nospf.test", "never", False),
])
def test_module_fail_on(dns_server, sender, fail_on, failed):
    rc, result = run_module("dns_check", {"settings": _settings(dns_server, sender=f"jira@{sender}"),
                                          "fail_on": fail_on})
    assert bool(result.get("failed")) is failed, result
    assert (rc != 0) is failed
    assert result["changed"] is False
    assert result["checks"], "the checks come back even when the task fails"
    if failed:
        bad = [c["check"] for c in result["checks"]
               if c["status"] == "fail" or (fail_on == "warn" and c["status"] == "warn")]
        assert all(name in result["msg"] for name in bad)
    if sender == "nospf.test" and fail_on == "never":
        assert "spf: nospf.test publishes no SPF record" in json.dumps(result.get("warnings", []))
    if sender == "softspf.test":
        # ansible-core 2.19 returns warnings as structured events; their text is what matters
        warnings = json.dumps(result.get("warnings", []))
        assert "spf: SPF of softspf.test" in warnings and "dmarc: _dmarc.softspf.test" in warnings, warnings


def test_module_overrides_nameserver_port_and_bounds_timeouts(dns_server, dns_silent_port):
    silent = _settings(dns_server)
    silent["dns"]["port"] = dns_silent_port
    started = time.monotonic()
    rc, result = run_module("dns_check", {"settings": silent, "checks": ["relay_address"], "timeout": 0.3,
                                          "retries": 0})
    assert rc != 0 and time.monotonic() - started < 10
    assert result["checks"][0]["kind"] == "timeout"
    rc, result = run_module("dns_check", {"settings": silent, "checks": ["relay_address"], "port": dns_server[1]})
    assert rc == 0 and result["checks"][0]["status"] == "pass"


def test_module_clear_errors(dns_server):
    rc, result = run_module("dns_check", {"settings": _settings(dns_server), "nameservers": ["ns.example.test"]})
    assert rc != 0 and "not an IP address" in result["msg"]
    assert "Traceback" not in result.get("_stderr", "") and "exception" not in result
    broken = copy.deepcopy(_settings(dns_server))
    broken["dns"]["port"] = 70000
    rc, result = run_module("dns_check", {"settings": broken})
    assert rc != 0 and "port" in result["msg"]
    rc, result = run_module("dns_check", {"settings": _settings(dns_server), "checks": ["bogus"]})
    assert rc != 0 and "bogus" in result["msg"]
