"""SPF (RFC 7208) parsing and check_host() evaluation over an in-memory record source."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mailwright.smtp.plugins.module_utils._reach.spf import (
    DnsAnswer,
    SpfSyntaxError,
    check_host,
    parse_spf,
    select_spf_records,
)


class Zone:
    """Records by (name, type); names that exist with other types answer NODATA, others NXDOMAIN.

    ``failures`` maps (name, type) to a DNS failure kind (servfail, timeout, ...).
    """

    def __init__(self, records: dict[tuple[str, str], list[str]], failures: dict[tuple[str, str], str] | None = None):
        self.records = {(n.lower(), t): v for (n, t), v in records.items()}
        self.failures = failures or {}
        self.asked: list[tuple[str, str]] = []

    def __call__(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append((name, rdtype))
        if (name, rdtype) in self.failures:
            return DnsAnswer(name, rdtype, self.failures[(name, rdtype)], message="injected")
        values = self.records.get((name.lower(), rdtype))
        if values:
            return DnsAnswer(name, rdtype, "answer", tuple(values))
        if any(n == name.lower() for n, _t in self.records):
            return DnsAnswer(name, rdtype, "nodata")
        return DnsAnswer(name, rdtype, "nxdomain")


GOOD = Zone({
    ("example.test", "TXT"): ["v=spf1 mx include:_spf.example.test -all", "other=text"],
    ("example.test", "MX"): ["10 mx1.example.test", "20 mx2.example.test"],
    ("mx1.example.test", "A"): ["198.51.100.1"],
    ("mx2.example.test", "A"): ["198.51.100.2"],
    ("_spf.example.test", "TXT"): ["v=spf1 include:_spf2.example.test ip6:2001:db8::/64 ~all"],
    ("_spf2.example.test", "TXT"): ["v=spf1 ip4:192.0.2.0/28 -all"],
})


# -- parsing ---------------------------------------------------------------------------------

def test_parse_terms_qualifiers_and_cidrs():
    record = parse_spf("v=spf1 +a -mx:mail.example.test/24//64 ~ip4:192.0.2.1 ?ip6:2001:db8::/32 "
                       "include:_spf.example.test exists:%{i}.x.test ptr redirect=_r.example.test exp=e.example.test "
                       "unknown-mod=whatever -all")
    names = [(t.qualifier, t.name, t.value, t.cidr4, t.cidr6) for t in record.mechanisms]
    assert names == [
        ("+", "a", None, None, None),
        ("-", "mx", "mail.example.test", 24, 64),
        ("~", "ip4", "192.0.2.1", None, None),
        ("?", "ip6", "2001:db8::", None, 32),
        ("+", "include", "_spf.example.test", None, None),
        ("+", "exists", "%{i}.x.test", None, None),
        ("+", "ptr", None, None, None),
        ("-", "all", None, None, None),
    ]
    assert record.redirect == "_r.example.test"
    assert record.exp == "e.example.test"


def test_parse_ip6_only_cidr_on_a():
    term = parse_spf("v=spf1 a//64").mechanisms[0]
    assert (term.value, term.cidr4, term.cidr6) == (None, None, 64)


def test_parse_tolerates_runs_of_spaces_and_case():
    record = parse_spf("V=SPF1   IP4:192.0.2.1    -ALL")
    assert [t.name for t in record.mechanisms] == ["ip4", "all"]


@pytest.mark.parametrize("text, fragment", [
    ("v=spf1 foo:bar -all", "unknown mechanism"),
    ("v=spf1 ip4:192.0.2.300", "not an IPv4 address"),
    ("v=spf1 ip4:2001:db8::1", "not an IPv4 address"),
    ("v=spf1 ip6:192.0.2.1", "not an IPv6 address"),
    ("v=spf1 ip4:192.0.2.0/33", "prefix length"),
    ("v=spf1 ip4:192.0.2.0/024", "prefix length"),
    ("v=spf1 ip6:2001:db8::/129", "prefix length"),
    ("v=spf1 a/40", "prefix length"),
    ("v=spf1 include", "needs a domain"),
    ("v=spf1 include:", "needs a domain"),
    ("v=spf1 exists", "needs a domain"),
    ("v=spf1 all:foo", "takes no argument"),
    ("v=spf1 redirect=a.test redirect=b.test", "more than one redirect"),
    ("v=spf1 exp=a.test exp=b.test", "more than one exp"),
    ("v=spf1 include:%{x}.test", "invalid macro"),
    ("v=spf1 include:%{d", "invalid macro"),
    ("v=spf1 include:50%.test", "invalid macro"),
    ("v=spf1 include:%{c}.test", "only allowed in exp"),
    ("v=spf2 -all", "does not start"),
])
def test_parse_rejects(text, fragment):
    with pytest.raises(SpfSyntaxError, match=fragment):
        parse_spf(text)


def test_select_spf_records():
    assert select_spf_records(["v=spf1 -all", "V=SPF1", "v=spf10 -all", "v=spf1-all", "x v=spf1"]) == [
        "v=spf1 -all", "V=SPF1"]


# -- evaluation ------------------------------------------------------------------------------

def test_pass_through_include_chain_with_path_and_lookup_count():
    result = check_host(GOOD, "192.0.2.10", "example.test")
    assert result.result == "pass"
    assert result.record == "v=spf1 mx include:_spf.example.test -all"
    # mx (1) + include _spf (2) + include _spf2 (3)
    assert result.lookups == 3
    assert result.void_lookups == 0
    assert any("ip4:192.0.2.0/28 matches 192.0.2.10 -> pass" in line for line in result.path)
    assert result.path[0] == 'example.test: "v=spf1 mx include:_spf.example.test -all"'


def test_mx_mechanism_matches_exchange_address():
    result = check_host(GOOD, "198.51.100.2", "example.test")
    assert (result.result, result.lookups) == ("pass", 1)


def test_ip6_in_included_record():
    assert check_host(GOOD, "2001:db8::25", "example.test").result == "pass"


def test_not_listed_is_fail_from_outer_all():
    # inner ~all gives softfail = "no match" for the include; the outer -all decides
    result = check_host(GOOD, "203.0.113.9", "example.test")
    assert result.result == "fail"
    assert any("gave softfail: no match" in line for line in result.path)


@pytest.mark.parametrize("qualifier, expected", [("-", "fail"), ("~", "softfail"), ("?", "neutral"), ("+", "pass"),
                                                 ("", "pass")])
def test_qualifiers(qualifier, expected):
    zone = Zone({("q.test", "TXT"): [f"v=spf1 {qualifier}all"]})
    assert check_host(zone, "192.0.2.1", "q.test").result == expected


def test_no_match_without_all_is_neutral():
    zone = Zone({("n.test", "TXT"): ["v=spf1 ip4:198.51.100.0/24"]})
    assert check_host(zone, "192.0.2.1", "n.test").result == "neutral"


def test_none_when_no_record_or_no_domain():
    zone = Zone({("nospf.test", "TXT"): ["unrelated"], ("nospf.test", "MX"): ["10 mx.nospf.test"]})
    assert (r := check_host(zone, "192.0.2.1", "nospf.test")).result == "none" and r.error_kind is None
    nx = check_host(zone, "192.0.2.1", "missing.test")
    assert (nx.result, nx.error_kind) == ("none", "nxdomain")
    nodata = check_host(Zone({("x.test", "MX"): ["10 m.x.test"]}), "192.0.2.1", "x.test")
    assert (nodata.result, nodata.error_kind) == ("none", "nodata")


def test_two_records_is_permerror():
    zone = Zone({("two.test", "TXT"): ["v=spf1 -all", "v=spf1 +all"]})
    result = check_host(zone, "192.0.2.1", "two.test")
    assert result.result == "permerror" and "2 SPF records" in result.reason


def test_include_of_domain_without_spf_is_permerror():
    zone = Zone({("b.test", "TXT"): ["v=spf1 include:nospf.test -all"], ("nospf.test", "TXT"): ["hello"]})
    result = check_host(zone, "192.0.2.1", "b.test")
    assert result.result == "permerror" and "nospf.test has no SPF record" in result.reason


def _chain(depth: int) -> Zone:
    records = {("d0.test", "TXT"): ["v=spf1 include:d1.test -all"]}
    for level in range(1, depth):
        records[(f"d{level}.test", "TXT")] = [f"v=spf1 include:d{level + 1}.test -all"]
    records[(f"d{depth}.test", "TXT")] = ["v=spf1 ip4:192.0.2.0/24 -all"]
    return Zone(records)


def test_ten_lookups_is_allowed_eleven_is_permerror():
    ok = check_host(_chain(10), "192.0.2.1", "d0.test")
    assert (ok.result, ok.lookups) == ("pass", 10)
    deep = check_host(_chain(11), "192.0.2.1", "d0.test")
    assert deep.result == "permerror" and "more than 10" in deep.reason
    assert deep.lookups == 11


def test_void_lookup_limit():
    two = Zone({("v.test", "TXT"): ["v=spf1 a:n1.test a:n2.test ip4:192.0.2.0/24 -all"]})
    assert check_host(two, "192.0.2.1", "v.test").result == "pass"
    three = Zone({("v.test", "TXT"): ["v=spf1 a:n1.test a:n2.test a:n3.test ip4:192.0.2.0/24 -all"]})
    result = check_host(three, "192.0.2.1", "v.test")
    assert (result.result, result.void_lookups) == ("permerror", 3)


def test_redirect_used_only_without_match_and_counts():
    zone = Zone({("r.test", "TXT"): ["v=spf1 ip4:198.51.100.1 redirect=_spf2.example.test"],
                 ("_spf2.example.test", "TXT"): ["v=spf1 ip4:192.0.2.0/28 -all"]})
    redirected = check_host(zone, "192.0.2.3", "r.test")
    assert (redirected.result, redirected.lookups) == ("pass", 1)
    direct = check_host(zone, "198.51.100.1", "r.test")
    assert (direct.result, direct.lookups) == ("pass", 0)
    assert check_host(zone, "203.0.113.1", "r.test").result == "fail"


def test_redirect_ignored_after_all_and_to_nothing_is_permerror():
    zone = Zone({("r.test", "TXT"): ["v=spf1 ?all redirect=nowhere.test"]})
    assert check_host(zone, "192.0.2.1", "r.test").result == "neutral"
    zone = Zone({("r.test", "TXT"): ["v=spf1 redirect=nowhere.test"]})
    assert check_host(zone, "192.0.2.1", "r.test").result == "permerror"


def test_a_mechanism_with_cidr_and_family():
    zone = Zone({("a.test", "TXT"): ["v=spf1 a/24 -all"], ("a.test", "A"): ["192.0.2.200"],
                 ("a.test", "AAAA"): ["2001:db8::1"]})
    assert check_host(zone, "192.0.2.7", "a.test").result == "pass"
    assert check_host(zone, "198.51.100.7", "a.test").result == "fail"
    assert check_host(zone, "2001:db8::1", "a.test").result == "pass"
    assert check_host(zone, "2001:db8::2", "a.test").result == "fail"  # default /128


def test_ipv4_mapped_ipv6_client_is_treated_as_ipv4():
    zone = Zone({("m.test", "TXT"): ["v=spf1 ip4:192.0.2.0/24 -all"]})
    result = check_host(zone, "::ffff:192.0.2.9", "m.test")
    assert (result.result, result.ip) == ("pass", "192.0.2.9")


def test_temperror_on_servfail_and_timeout():
    zone = Zone({("t.test", "TXT"): ["v=spf1 include:broken.test a:slow.test -all"]},
                failures={("broken.test", "TXT"): "servfail"})
    result = check_host(zone, "192.0.2.1", "t.test")
    assert (result.result, result.error_kind) == ("temperror", "servfail")
    zone = Zone({("t.test", "TXT"): ["v=spf1 a:slow.test -all"]}, failures={("slow.test", "A"): "timeout"})
    assert (check_host(zone, "192.0.2.1", "t.test").error_kind) == "timeout"
    top = check_host(Zone({}, failures={("t.test", "TXT"): "timeout"}), "192.0.2.1", "t.test")
    assert (top.result, top.error_kind) == ("temperror", "timeout")


def test_exists_with_macros():
    zone = Zone({("e.test", "TXT"): ["v=spf1 exists:%{ir}.%{l1r-}.in.%{d} -all"],
                 ("10.2.0.192.user.in.e.test", "A"): ["127.0.0.2"]})
    # %{ir}: reversed address; %{l1r-}: local part split on '-', reversed, keep one -> "user"
    result = check_host(zone, "192.0.2.10", "e.test", sender="user-name@e.test")
    assert result.result == "pass"
    assert ("10.2.0.192.user.in.e.test", "A") in zone.asked


def test_macro_ip6_nibbles_and_v():
    zone = Zone({("e6.test", "TXT"): ["v=spf1 exists:%{i}.%{v}.e6.test -all"]})
    check_host(zone, "2001:db8::1", "e6.test")
    expected = ".".join("20010db8000000000000000000000001") + ".ip6.e6.test"
    assert (expected, "A") in zone.asked


def test_mx_with_more_than_ten_names_is_permerror():
    zone = Zone({("mx.test", "TXT"): ["v=spf1 mx -all"],
                 ("mx.test", "MX"): [f"{i} mx{i}.mx.test" for i in range(11)]})
    assert check_host(zone, "192.0.2.1", "mx.test").result == "permerror"


def test_ptr_forward_confirmed_and_dns_errors_do_not_temperror():
    reverse = ipaddress.ip_address("192.0.2.10").reverse_pointer
    zone = Zone({("p.test", "TXT"): ["v=spf1 ptr -all"], (reverse, "PTR"): ["relay.p.test"],
                 ("relay.p.test", "A"): ["192.0.2.10"]})
    assert check_host(zone, "192.0.2.10", "p.test").result == "pass"
    # the PTR name does not resolve back: no match
    zone = Zone({("p.test", "TXT"): ["v=spf1 ptr -all"], (reverse, "PTR"): ["relay.p.test"],
                 ("relay.p.test", "A"): ["192.0.2.99"]})
    assert check_host(zone, "192.0.2.10", "p.test").result == "fail"
    # a SERVFAIL on the PTR lookup makes ptr not match (RFC 7208 5.5), it is not a temperror
    zone = Zone({("p.test", "TXT"): ["v=spf1 ptr ?all"]}, failures={(reverse, "PTR"): "servfail"})
    assert check_host(zone, "192.0.2.10", "p.test").result == "neutral"


def test_invalid_target_domain_is_permerror_and_invalid_domain_is_none():
    zone = Zone({("i.test", "TXT"): ["v=spf1 include:localhost -all"]})
    assert check_host(zone, "192.0.2.1", "i.test").result == "permerror"
    assert check_host(zone, "192.0.2.1", "nodots").result == "none"


def test_syntax_error_in_included_record_is_permerror():
    zone = Zone({("s.test", "TXT"): ["v=spf1 include:bad.test -all"], ("bad.test", "TXT"): ["v=spf1 ip4:1.2.3 -all"]})
    result = check_host(zone, "192.0.2.1", "s.test")
    assert result.result == "permerror" and "bad.test" in result.reason


@given(st.ip_addresses(v=4), st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_ip4_matches_exactly_the_network(client, network, prefix):
    zone = Zone({("h.test", "TXT"): [f"v=spf1 ip4:{network}/{prefix} -all"]})
    expected = client in ipaddress.ip_network(f"{network}/{prefix}", strict=False)
    assert (check_host(zone, str(client), "h.test").result == "pass") is expected


_RESULTS = {"pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"}
_TERMS = st.sampled_from([
    "all", "-all", "~all", "?all", "a", "a/24", "a//64", "a:x.test", "mx", "mx:x.test/16", "ptr", "ptr:x.test",
    "ip4:192.0.2.0/24", "ip6:2001:db8::/32", "include:x.test", "include:y.test", "exists:%{i}.x.test",
    "redirect=x.test", "exp=x.test", "foo=bar", "include:%{d}", "ip4:300.1.1.1", "bogus", "%", "a:",
    "include:%{l}.x.test", "exists:%{ir}.%{v}.x.test",
])


@given(st.text(max_size=80))
def test_parse_never_raises_anything_but_syntax_errors(text):
    try:
        parse_spf("v=spf1 " + text)
    except SpfSyntaxError:
        pass


@given(st.lists(_TERMS, max_size=8), st.lists(_TERMS, max_size=8), st.ip_addresses())
def test_check_host_always_returns_a_result(top_terms, other_terms, ip):
    # records that include each other: loops end at the lookup limit, never in a crash
    zone = Zone({("x.test", "TXT"): ["v=spf1 " + " ".join(top_terms)],
                 ("y.test", "TXT"): ["v=spf1 " + " ".join(other_terms)],
                 ("x.test", "A"): ["192.0.2.1"], ("x.test", "MX"): ["10 x.test"]})
    result = check_host(zone, str(ip), "x.test", sender="user@x.test")
    assert result.result in _RESULTS
    assert result.lookups <= 11 and result.void_lookups <= 3
