"""_dns.py without a network: resolver settings, error classification, check selection, DMARC policy."""
from __future__ import annotations

import dns.exception
import dns.message
import dns.resolver
import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._reach import dns as _dns
from ansible_collections.mailwright.smtp.plugins.module_utils._reach.dns import (
    DnsSetupError,
    default_checks,
    make_resolver,
    run_checks,
    worst_status,
)


def test_resolver_uses_given_nameservers_port_and_bounds():
    resolver = make_resolver(nameservers=["127.0.0.1", "::1"], port=5353, timeout=0.5, retries=2)
    assert [str(ns) for ns in resolver.nameservers] == ["127.0.0.1", "::1"]
    assert resolver.port == 5353
    assert resolver.timeout == 0.5
    assert resolver.lifetime == pytest.approx(0.5 * 2 * 3)
    assert resolver.retry_servfail is False


@pytest.mark.parametrize("kwargs, fragment", [
    ({"nameservers": ["ns1.example.test"]}, "not an IP address"),
    ({"nameservers": ["127.0.0.1"], "timeout": 0}, "timeout must be positive"),
    ({"nameservers": ["127.0.0.1"], "retries": -1}, "retries must be 0 or more"),
])
def test_resolver_rejects_bad_settings(kwargs, fragment):
    with pytest.raises(DnsSetupError, match=fragment):
        make_resolver(**kwargs)


def _no_nameservers(*errors):
    request = dns.message.make_query("a.example.test", "A")
    return dns.resolver.NoNameservers(request=request,
                                      errors=[("127.0.0.1", False, 53, error, None) for error in errors])


@pytest.mark.parametrize("errors, kind", [
    (["SERVFAIL"], "servfail"),
    (["REFUSED"], "refused"),
    (["REFUSED", "SERVFAIL"], "servfail"),
    ([ConnectionRefusedError(111, "Connection refused")], "unreachable"),
    ([dns.exception.Timeout()], "timeout"),
    (["NOTIMP"], "error"),
])
def test_no_nameservers_is_classified(errors, kind):
    found, message = _dns._classify_no_nameservers(_no_nameservers(*errors))
    assert found == kind
    assert "127.0.0.1" in message


def _effective(**overrides):
    settings = {"product": "jira", "server": {"host": "relay.example.test"},
                "sender": {"from_address": "a@example.test"}, "ghes": {"hostname": None},
                "dns": {"check_mx": True, "check_spf": True, "check_dmarc": True, "check_ptr": False,
                        "check_ghes_reply": None, "sending_ips": [], "nameservers": [], "port": 53, "expect": []}}
    for key, value in overrides.items():
        if key in settings["dns"]:
            settings["dns"][key] = value
        else:
            settings[key] = value
    return settings


@pytest.mark.parametrize("overrides, expected", [
    ({}, ["relay_address", "sender_mx", "spf", "dmarc"]),
    ({"check_mx": False, "check_spf": False, "check_dmarc": False}, ["relay_address"]),
    ({"check_ptr": True}, ["relay_address", "sender_mx", "relay_ptr", "spf", "dmarc"]),
    ({"product": "ghes"}, ["relay_address", "sender_mx", "spf", "dmarc", "ghes_reply"]),
    ({"product": "ghes", "check_ghes_reply": False}, ["relay_address", "sender_mx", "spf", "dmarc"]),
    ({"product": "jira", "check_ghes_reply": True}, ["relay_address", "sender_mx", "spf", "dmarc"]),
    ({"expect": [{"name": "x.test", "type": "A"}]}, ["relay_address", "sender_mx", "spf", "dmarc", "expect"]),
])
def test_default_checks(overrides, expected):
    assert default_checks(_effective(**overrides)) == expected


def test_unknown_check_is_an_error_before_any_lookup():
    class NoLookups:
        def lookup(self, name, rdtype):
            raise AssertionError("no lookup expected")

    with pytest.raises(ValueError, match="unknown checks bogus"):
        run_checks(_effective(), NoLookups(), ["spf", "bogus"])


def test_worst_status():
    assert worst_status([]) == "pass"
    assert worst_status(["pass", "warn"]) == "warn"
    assert worst_status(["warn", "fail", "pass"]) == "fail"


@pytest.mark.parametrize("record, found_at, status, fragment", [
    ("v=DMARC1; p=reject", "example.test", "pass", "p=reject"),
    ("v=DMARC1;p=quarantine;pct=100", "example.test", "pass", "p=quarantine"),
    ("v=DMARC1; p=quarantine; pct=50", "example.test", "warn", "pct=50"),
    ("v=DMARC1; p=none; rua=mailto:x@example.test", "example.test", "warn", "monitoring only"),
    ("v=DMARC1; rua=mailto:x@example.test", "example.test", "fail", "no p= policy"),
    ("v=DMARC1; p=block", "example.test", "fail", "not none, quarantine or reject"),
    # inherited from the parent: sp= wins over p=
    ("v=DMARC1; p=reject; sp=none", "parent.test", "warn", "sp=none"),
    ("v=DMARC1; p=reject", "parent.test", "pass", "inherited by example.test"),
])
def test_dmarc_policy(record, found_at, status, fragment):
    check = _dns._Checks._dmarc_policy("example.test", found_at, record, [])
    assert check["status"] == status, check
    assert fragment in check["message"]
