"""A real DNS server for tests and the demo: dnsmasq serving test zones on a loopback high port.

    python -m tests.support.dns_server --port 5353 --zone demo

Two dnsmasq processes run:

* the *zone server* (the one clients ask) answers every name under ``test.`` from its
  configuration (``host-record``, ``mx-host``, ``txt-record``, ``ptr-record``, ``cname``);
  ``local=/test/`` makes unknown names NXDOMAIN rather than REFUSED, and names that exist
  with another type answer NOERROR with no records (NODATA).
* an *unsigned upstream* for ``servfail.test``: the zone server validates DNSSEC with a made-up
  trust anchor for ``servfail.test`` and forwards that domain to the upstream, whose answers
  carry no signatures, so validation fails (BOGUS) and the zone server answers **SERVFAIL** at
  once, deterministically.

How SERVFAIL was found (dnsmasq 2.90, Debian bookworm): forwarding a domain to a closed port
(``server=/x/127.0.0.1#1``), a multicast or an unroutable address makes dnsmasq stay silent, so
the client *times out*; forwarding to an upstream that answers REFUSED (or a broadcast address)
gives REFUSED. Only a DNSSEC validation failure produced a SERVFAIL answer.

``slow.test`` is forwarded to a UDP socket this process holds open and never reads: queries
for it time out at the client, while the server itself stays responsive. ``silent_port`` is
that socket's port, a "nameserver" where nothing ever answers.
"""
from __future__ import annotations

import argparse
import pwd
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from tests.support.ports import free_port

__all__ = [
    "DNSMASQ",
    "DnsServer",
    "DnsServerError",
    "ZONES",
    "dnsmasq_available",
    "zone_lines",
]

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

# 11 chained includes: the 11th DNS-querying term breaks RFC 7208's limit of 10.
_DEEP_CHAIN = 11


def _spf_chain() -> list[str]:
    lines = ['txt-record=deepspf.test,"v=spf1 include:l1.deepspf.test -all"']
    for level in range(1, _DEEP_CHAIN):
        lines.append(f'txt-record=l{level}.deepspf.test,"v=spf1 include:l{level + 1}.deepspf.test -all"')
    lines.append(f'txt-record=l{_DEEP_CHAIN}.deepspf.test,"v=spf1 ip4:192.0.2.0/24 -all"')
    return lines


# The test zone. Addresses come from the documentation ranges (RFC 5737 / RFC 3849).
_TEST_ZONE = [
    # --- good sender domain: example.test --------------------------------------------------
    # relay with A, AAAA and (automatic) forward-confirmed PTRs for both
    "host-record=relay.example.test,192.0.2.10,2001:db8::10",
    "host-record=mx1.example.test,192.0.2.25",  # A only: its AAAA is NODATA
    "mx-host=example.test,mx1.example.test,10",
    # SPF with a chain: example.test -> _spf -> _spf2 (ip4), ip6 in _spf
    'txt-record=example.test,"v=spf1 mx include:_spf.example.test -all"',
    'txt-record=example.test,"google-site-verification=not-spf"',
    'txt-record=_spf.example.test,"v=spf1 include:_spf2.example.test ip6:2001:db8::/64 -all"',
    'txt-record=_spf2.example.test,"v=spf1 ip4:192.0.2.0/28 -all"',
    'txt-record=_dmarc.example.test,"v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.test"',
    # a relay whose PTR points at a name that does not resolve back
    "host-record=relay-badptr.example.test,192.0.2.30",
    "ptr-record=30.2.0.192.in-addr.arpa,elsewhere.example.test",
    # a relay with an address but no PTR at all
    "address=/relay-noptr.example.test/192.0.2.20",
    # custom expectations
    'txt-record=_verify.example.test,"token=abc123"',
    # one TXT record of two character-strings: SPF joins them without a space
    'txt-record=split.example.test,"v=spf1 ip4:192.0.2.0/24"," -all"',
    "host-record=v4only.example.test,192.0.2.11",
    "cname=www.example.test,relay.example.test",
    # --- a domain without SPF and DMARC (but with MX) --------------------------------------
    "host-record=mx.nospf.test,192.0.2.50",
    "mx-host=nospf.test,mx.nospf.test,10",
    'txt-record=nospf.test,"some-other-verification=1"',
    # --- SPF problems ------------------------------------------------------------------------
    # include of a name without SPF -> permerror
    'txt-record=brokenspf.test,"v=spf1 include:nospf.test -all"',
    "mx-host=brokenspf.test,mx1.example.test,10",
    'txt-record=_dmarc.brokenspf.test,"v=DMARC1; p=reject"',
    # too deep include chain (> 10 lookups) -> permerror
    *_spf_chain(),
    "mx-host=deepspf.test,mx1.example.test,10",
    # two SPF records -> permerror
    'txt-record=twospf.test,"v=spf1 ip4:192.0.2.0/24 -all"',
    'txt-record=twospf.test,"v=spf1 -all"',
    # three void lookups (NXDOMAIN) -> permerror
    'txt-record=voidspf.test,"v=spf1 a:v1.nowhere.test a:v2.nowhere.test a:v3.nowhere.test ip4:192.0.2.0/24 -all"',
    # syntax error -> permerror
    'txt-record=badsyntax.test,"v=spf1 ip4:192.0.2.300 -all"',
    # redirect to the good chain
    'txt-record=redirect.test,"v=spf1 redirect=_spf.example.test"',
    # --- a "warn" domain: no MX but an A record, softfail SPF, DMARC p=none ------------------
    "host-record=softspf.test,192.0.2.60",
    'txt-record=softspf.test,"v=spf1 ip4:198.51.100.0/24 ~all"',
    'txt-record=_dmarc.softspf.test,"v=DMARC1; p=none"',
    # --- null MX (RFC 7505) and a domain with no mail records at all --------------------------
    "mx-host=nullmx.test,.,0",
    'txt-record=nomail.test,"v=spf1 -all"',
    # --- GHES: good, half and missing reply records -------------------------------------------
    "host-record=ghes.example.test,192.0.2.40",
    "host-record=reply.ghes.example.test,192.0.2.40",
    "mx-host=reply.ghes.example.test,ghes.example.test,10",
    "mx-host=noreply.ghes.example.test,ghes.example.test,10",
    # reply A present, reply MX elsewhere, noreply MX missing
    "host-record=ghes-half.example.test,192.0.2.41",
    "address=/reply.ghes-half.example.test/192.0.2.41",
    "mx-host=reply.ghes-half.example.test,mx1.example.test,10",
    # a wildcard: every name under ghes-wild answers A (dnsmasq's address=/domain/)
    "address=/ghes-wild.example.test/192.0.2.43",
    "mx-host=reply.ghes-wild.example.test,ghes-wild.example.test,10",
    "mx-host=noreply.ghes-wild.example.test,ghes-wild.example.test,10",
    # no reply records at all
    "host-record=ghes-bare.example.test,192.0.2.42",
    # --- reverse zones we own, so missing PTRs are NXDOMAIN, not REFUSED ----------------------
    "local=/2.0.192.in-addr.arpa/",
    "local=/8.b.d.0.1.0.0.2.ip6.arpa/",
]

# The demo zone (`make demo`, molecule): the relay is 127.0.0.1 and the sender domain example.test
# authorises it, so every check passes; the problem domains of the test zone come along so a demo
# can show failures too.
_DEMO_ZONE = [
    "host-record=relay.demo.test,127.0.0.1",
    "mx-host=example.test,relay.demo.test,10",
    'txt-record=example.test,"v=spf1 ip4:127.0.0.0/8 include:_spf.demo.test -all"',
    'txt-record=_spf.demo.test,"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/64 -all"',
    'txt-record=_dmarc.example.test,"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"',
    "host-record=github.example.test,127.0.0.1",
    "host-record=reply.github.example.test,127.0.0.1",
    "mx-host=reply.github.example.test,github.example.test,10",
    "mx-host=noreply.github.example.test,github.example.test,10",
    "local=/127.in-addr.arpa/",
    "ptr-record=1.0.0.127.in-addr.arpa,relay.demo.test",
    *[line for line in _TEST_ZONE if "example.test" not in line],
]

ZONES: dict[str, list[str]] = {"test": _TEST_ZONE, "demo": _DEMO_ZONE}

# A DNSSEC trust anchor nobody can satisfy: unsigned upstream answers are BOGUS -> SERVFAIL.
_FAKE_DS = "0" * 64
_SERVFAIL_UPSTREAM = [
    "local=/servfail.test/",
    "host-record=servfail.test,192.0.2.70",
    "host-record=x.servfail.test,192.0.2.71",
    "mx-host=servfail.test,x.servfail.test,10",
    'txt-record=servfail.test,"v=spf1 -all"',
]


class DnsServerError(RuntimeError):
    pass


def dnsmasq_available() -> bool:
    return os.access(DNSMASQ, os.X_OK)


def _base_lines(port: int, log_file: pathlib.Path) -> list[str]:
    lines = [
        f"port={port}",
        "listen-address=127.0.0.1",
        "bind-interfaces",
        "no-resolv",
        "no-hosts",
        "no-negcache",
        f"log-facility={log_file}",
        "log-queries",
    ]
    if os.geteuid() == 0:
        lines.append(f"user={pwd.getpwuid(os.geteuid()).pw_name}")  # keep file access simple; never drop to nobody
    return lines


def zone_lines(zone: str, *, servfail_port: int | None, silent_port: int | None) -> list[str]:
    """The dnsmasq configuration lines for a zone (without port/listen lines)."""
    if zone not in ZONES:
        raise DnsServerError(f"unknown zone {zone!r}; choose from {', '.join(ZONES)}")
    lines = ["local=/test/", *ZONES[zone]]
    if servfail_port:
        lines += [
            "dnssec",
            "dnssec-no-timecheck",
            f"trust-anchor=.,12345,8,2,{_FAKE_DS}",
            f"trust-anchor=servfail.test,12345,8,2,{_FAKE_DS}",
            f"server=/servfail.test/127.0.0.1#{servfail_port}",
        ]
    if silent_port:
        lines.append(f"server=/slow.test/127.0.0.1#{silent_port}")
    return lines


class DnsServer:
    """dnsmasq serving a test zone on 127.0.0.1:<port>; use as a context manager."""

    def __init__(self, zone: str = "test", *, port: int | None = None, workdir: str | None = None,
                 also_listen: str | None = None) -> None:
        if zone not in ZONES:
            raise DnsServerError(f"unknown zone {zone!r}; choose from {', '.join(ZONES)}")
        self.zone = zone
        self.ip = "127.0.0.1"
        self.also_listen = also_listen  # one more address (the bridge of ssh_hosts.SSHFleet), same port
        self.requested_port = port
        self.port: int | None = None
        self._own_workdir = workdir is None
        self.workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="mailwright-dns-"))
        self._procs: list[subprocess.Popen] = []
        self._silent: socket.socket | None = None
        self.silent_port: int | None = None
        self.upstream_port: int | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self.port is not None, "server not started"
        return self.ip, self.port

    @property
    def log_file(self) -> pathlib.Path:
        return self.workdir / "dnsmasq.log"

    def _spawn(self, name: str, lines: list[str], port: int) -> subprocess.Popen:
        conf = self.workdir / f"{name}.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with open(self.workdir / f"{name}.stderr", "wb") as stderr:  # the child keeps its own copy
            proc = subprocess.Popen(
                [DNSMASQ, "--keep-in-foreground", "--pid-file=", f"--conf-file={conf}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self._procs.append(proc)
        self._wait_ready(proc, name, port)
        return proc

    def _wait_ready(self, proc: subprocess.Popen, name: str, port: int, deadline: float = 10.0) -> None:
        # A minimal DNS query (id 0x4d57, "probe.test A") over UDP until anything answers.
        query = bytes.fromhex("4d57010000010000000000000570726f626504746573740000010001")
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if proc.poll() is not None:
                err = (self.workdir / f"{name}.stderr").read_text(errors="replace")
                raise DnsServerError(f"dnsmasq ({name}) exited with {proc.returncode}: {err.strip()}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(0.2)
                try:
                    sock.sendto(query, ("127.0.0.1", port))
                    data = sock.recv(512)
                    if data[:2] == query[:2]:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise DnsServerError(f"dnsmasq ({name}) did not answer on 127.0.0.1:{port} within {deadline}s")

    def start(self) -> DnsServer:
        if not dnsmasq_available():
            raise DnsServerError(f"{DNSMASQ} not found: install the Debian package dnsmasq-base")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._silent.bind(("127.0.0.1", 0))
        self.silent_port = self._silent.getsockname()[1]
        try:
            self.upstream_port = free_port(kind="both")
            self._spawn("upstream", _base_lines(self.upstream_port, self.workdir / "upstream.log")
                        + _SERVFAIL_UPSTREAM, self.upstream_port)
            for attempt in range(5):
                port = self.requested_port or free_port(kind="both")
                extra = [f"listen-address={self.also_listen}"] if self.also_listen else []
                lines = _base_lines(port, self.log_file) + extra + zone_lines(
                    self.zone, servfail_port=self.upstream_port, silent_port=self.silent_port)
                try:
                    self._spawn("zone", lines, port)
                except DnsServerError:
                    if self.requested_port or attempt == 4:
                        raise
                    self._procs.pop()  # the port was taken in between: pick another
                    continue
                self.port = port
                break
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._procs.clear()
        if self._silent is not None:
            self._silent.close()
            self._silent = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a mailwright test DNS zone with dnsmasq on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=None, help="UDP/TCP port (default: a free high port)")
    parser.add_argument("--zone", choices=sorted(ZONES), default="demo")
    parser.add_argument("--workdir", default=None, help="keep configuration and logs here")
    parser.add_argument("--print-config", action="store_true", help="print the zone configuration and exit")
    args = parser.parse_args(argv)
    if args.print_config:
        print("\n".join(zone_lines(args.zone, servfail_port=None, silent_port=None)))
        return 0
    server = DnsServer(args.zone, port=args.port, workdir=args.workdir)
    try:
        server.start()
    except DnsServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dns server ready on {server.ip} port {server.port} (zone {args.zone})", flush=True)
    stop = False

    def _stop(_signum, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop and all(p.poll() is None for p in server._procs):
            time.sleep(0.2)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
