"""THE lifecycle test of issue 4, over SSH and real SCEP on the lab clock.

ca1: `lifetime ca-certificate 730`, `lifetime certificate 365`, `auto-rollover 90`; clients r1 (day 0),
r2 (day 73), r3 (day 100) with `auto-enroll 80 regenerate`. ca2: the same with `auto-rollover 30`; r5 enrolled on
day 0 just makes it, r4 enrolled on day 73 asks for its shadow certificate on day 657, before ca2 has a rollover
CA (day 700), and is left without a valid certificate after rollover day. The clock is advanced through rollover
day; every expected time is computed here from the certificates' own dates (rules.md C2-C6, S2-S5).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from netmiko import ConnectHandler

from iospki.parsers import parse

pytestmark = [pytest.mark.lab, pytest.mark.slow]

HOSTS = [("ca1", "csr1k"), ("ca2", "isr4k"), ("r1", "isr_g2"), ("r2", "isr_g1"), ("r3", "csr1k"),
         ("r4", "asr1k"), ("r5", "isr_g2")]
FAMILY = {"csr1k": "iosxe", "isr4k": "iosxe", "asr1k": "iosxe", "isr_g1": "ios", "isr_g2": "ios"}
START = "2026-01-01T00:00:00Z"
DAY = timedelta(days=1)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def fam(name: str) -> str:
    return FAMILY[dict(HOSTS)[name]]


class Run:
    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.conns: dict[str, Any] = {}

    def c(self, name: str) -> Any:
        if name not in self.conns:
            conn = ConnectHandler(**self.lab.hosts[name].netmiko())
            conn.enable()
            self.conns[name] = conn
        return self.conns[name]

    def show(self, name: str, cmd: str) -> str:
        out: str = self.c(name).send_command(cmd, read_timeout=120)
        return out

    def parsed(self, name: str, cmd: str) -> Any:
        return parse(cmd, self.show(name, cmd), fam(name))

    def now(self) -> datetime:
        return datetime.fromisoformat(self.lab.clock_now().replace("Z", "+00:00"))

    def advance_to(self, when: datetime) -> None:
        # round up (+1 s): a client enrolled "on day 73" must not enroll a fraction of a second early
        delta = when - self.now()
        if delta.total_seconds() > 0:
            self.lab.clock_advance(f"{math.ceil(delta.total_seconds()) + 1}s")

    def chain(self, name: str, tp: str) -> dict[str, x509.Certificate]:
        """Certificates of `crypto pki certificate chain TP` from the running config (hex dump)."""
        text = self.show(name, "show running-config")
        m = re.search(rf"^crypto pki certificate chain {tp}\n((?: .*\n?)*)", text, re.M)
        assert m, f"{name}: no chain for {tp}"
        out: dict[str, x509.Certificate] = {}
        for kind, body in re.findall(r"^ certificate ((?:ca )?(?:rollover )?)?[0-9A-F]+\n((?:  .*\n?)*)", m.group(1), re.M):
            hexs = "".join(line.strip() for line in body.splitlines() if line.strip() != "quit")
            out[kind.strip()] = x509.load_der_x509_certificate(bytes.fromhex(hexs.replace(" ", "")))
        return out


def syslog_stamp(t: datetime) -> str:
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def expected_renew(start: datetime, end: datetime, pct: int = 80) -> datetime:
    return start + timedelta(seconds=int((end - start).total_seconds() * pct / 100))


@pytest.fixture(scope="module")
def run(make_lab_module: Any) -> Iterator[Run]:
    r = Run(make_lab_module(hosts=HOSTS, start=START))
    yield r
    for conn in r.conns.values():
        conn.disconnect()


def setup_ca(r: Run, name: str, cs: str, rollover: int) -> None:
    r.c(name).send_config_set([
        "ntp server 127.0.0.1", "ip http server", f"crypto pki server {cs}", "grant auto",
        "lifetime ca-certificate 730", "lifetime certificate 365", f"auto-rollover {rollover}",
        "database level complete", "database archive pkcs12 password 0 arch-secret-1", "no shutdown",
    ])


def enroll(r: Run, name: str, ca: str) -> None:
    conn = r.c(name)
    conn.send_config_set([
        "ntp server 127.0.0.1", "crypto pki trustpoint TP", f"enrollment url http://{r.lab.hosts[ca].address}:80",
        "serial-number none", "ip-address none", "password 0 chal-secret-1", "rsakeypair TPKEY 1024",
        "auto-enroll 80 regenerate",
    ])
    conn.config_mode()
    out = conn.send_command("crypto pki authenticate TP", expect_string=r"\[yes/no\]: ", read_timeout=60)
    assert "Fingerprint SHA1" in out
    conn.send_command("yes", expect_string=r"\(config\)#", read_timeout=60)
    conn.exit_config_mode()


@dataclass
class Issued:
    start: datetime
    end: datetime


def issued(r: Run, ca: str, cs: str, host: str) -> list[Issued]:
    """A host's certificates from the CA's `show crypto pki server CS certificates`, in serial order."""
    srv = r.parsed(ca, f"show crypto pki server {cs} certificates")
    return [Issued(c.issued, c.expires) for c in srv.certificates
            if f"hostname={host}.lab.iospki.test" in (c.subject or "")]


def test_lifecycle_through_rollover_day(run: Run) -> None:
    r = run
    setup_ca(r, "ca1", "CA1", 90)
    setup_ca(r, "ca2", "CA2", 30)
    ca_certs = {n: r.chain(n, cs)["ca"] for n, cs in (("ca1", "CA1"), ("ca2", "CA2"))}
    t_ca = ca_certs["ca1"].not_valid_before_utc
    ca_end = {n: c.not_valid_after_utc for n, c in ca_certs.items()}
    # S3: CS SHADOW CERT GENERATION at CA end minus the overlap, as the CLI shows it
    t1 = {t.label: t for t in r.parsed("ca1", "show crypto pki timers detail").timers}
    assert t1["CS SHADOW CERT GENERATION"].at == (ca_end["ca1"] - 90 * DAY).replace(tzinfo=None)
    assert t1["CS CERT EXPIRE"].at == ca_end["ca1"].replace(tzinfo=None)
    t2 = {t.label: t for t in r.parsed("ca2", "show crypto pki timers detail").timers}
    assert t2["CS SHADOW CERT GENERATION"].at == (ca_end["ca2"] - 30 * DAY).replace(tzinfo=None)

    enroll(r, "r1", "ca1")
    enroll(r, "r5", "ca2")
    r.advance_to(t_ca + 73 * DAY)
    enroll(r, "r2", "ca1")
    enroll(r, "r4", "ca2")
    r.advance_to(t_ca + 100 * DAY)
    enroll(r, "r3", "ca1")

    # before the shadow requests: every client holds a certificate capped at the CA's end, so (C9) the
    # renew date of C2 is carried by a SHADOW timer, and no RENEW timer is left
    r.advance_to(t_ca + 650 * DAY)
    for host in ("r1", "r2", "r3"):
        certs = r.parsed(host, "show crypto pki certificates")
        ident = next(c for c in certs.certificates if c.section == "Certificate")
        timers = {t.label: t for t in r.parsed(host, "show crypto pki timers").timers}
        assert ident.renew is not None and ident.end == ca_end["ca1"].replace(tzinfo=None), host
        left = (ident.renew.replace(tzinfo=timezone.utc) - r.now()).total_seconds()
        assert abs(timers["SHADOW TP"].remaining_seconds - left) < 5, host
        assert "RENEW TP" not in timers, host
        assert ident.renew == expected_renew(ident.start, ident.end), host
    srv = r.show("ca1", "show crypto pki server")
    assert "Rollover status: available for rollover" in srv  # generated on day 640
    assert "Rollover status" not in r.show("ca2", "show crypto pki server")  # not before day 700
    gen = [ln for ln in r.show("ca1", "show logging").splitlines() if "CS_ROLLOVER_AVAILABLE" in ln]
    assert gen and gen[0].lstrip("*").startswith(syslog_stamp(ca_end["ca1"] - 90 * DAY)), gen  # S3, to the second

    # C9: r3's SHADOW (day 662.4, the auto-enroll point of its capped certificate) is the shadow renewal:
    # GetNextCACert and PKCSReq against the rollover CA, both certificates installed on the second
    r3_cert = next(c for c in r.parsed("r3", "show crypto pki certificates").certificates if c.section == "Certificate")
    shadow = expected_renew(r3_cert.start, r3_cert.end).replace(tzinfo=timezone.utc)
    r.lab.clock_advance(f"{int((shadow - r.now()).total_seconds()) - 2}s")  # just before
    before = r.show("r3", "show crypto pki certificates")
    assert "CA Certificate (Rollover)" not in before
    assert not re.search(r"^Certificate \(Rollover\)\s*$", before, re.M)
    r.lab.clock_advance("4s")  # just after
    after_shadow = r.show("r3", "show crypto pki certificates")
    assert "CA Certificate (Rollover)" in after_shadow
    assert re.search(r"^Certificate \(Rollover\)\s*$", after_shadow, re.M)
    assert "SHADOW TP" not in r.show("r3", "show crypto pki timers")  # fired, nothing re-armed until rollover day

    r.advance_to(ca_end["ca1"] - DAY)  # day 729: every client holds its rollover certificates
    for host in ("r1", "r2", "r3", "r5"):
        sections = [c.section for c in r.parsed(host, "show crypto pki certificates").certificates]
        assert "Certificate (Rollover)" in sections and "CA Certificate (Rollover)" in sections, (host, sections)
        assert "TPKEY#" in r.show(host, "show crypto key mypubkey rsa"), host
    sections4 = [c.section for c in r.parsed("r4", "show crypto pki certificates").certificates]
    assert "Certificate (Rollover)" not in sections4

    # C6/S4 at the exact second: rollover certificates become the active ones at the old CA's end
    r.lab.clock_advance(f"{int((ca_end['ca1'] - r.now()).total_seconds()) - 2}s")
    assert "Rollover status: available" in r.show("ca1", "show crypto pki server")
    assert re.search(r"^Certificate \(Rollover\)\s*$", r.show("r1", "show crypto pki certificates"), re.M)
    r.lab.clock_advance("4s")
    after = r.show("r1", "show crypto pki certificates")
    assert "(Rollover)" not in after and "Rollover status" not in r.show("ca1", "show crypto pki server")
    assert "%PKI-6-CS_ROLLOVER_ACTIVE" in r.show("ca1", "show logging")

    r.advance_to(t_ca + 800 * DAY)
    now = r.now()
    for ca, cs, hosts in (("ca1", "CA1", ("r1", "r2", "r3")), ("ca2", "CA2", ("r5",))):
        new_ca = r.chain(ca, cs)["ca"]
        assert new_ca.not_valid_before_utc == ca_end[ca]  # S3/S4: the rollover CA became the active CA
        for host in hosts:
            hist = issued(r, ca, cs, host)
            pre_rollover = [c for c in hist if c.start < ca_end[ca].replace(tzinfo=None)]
            # C2/C3: each ordinary renewal was issued at T0 + 80 % of the validity left at install (T0 = notBefore)
            for prev, nxt in zip(pre_rollover, pre_rollover[1:], strict=False):
                want = expected_renew(prev.start, prev.end)
                assert abs((nxt.start - want).total_seconds()) <= 1, (host, prev, nxt)
                assert nxt.end <= ca_end[ca].replace(tzinfo=None)  # S2
            capped = pre_rollover[-1]
            assert capped.end == ca_end[ca].replace(tzinfo=None)
            # C4: the shadow request went out at the capped certificate's RENEW time (syslog on the client)
            shadow_at = expected_renew(capped.start, capped.end).replace(tzinfo=timezone.utc)
            log = r.show(host, "show logging")
            assert syslog_stamp(shadow_at) in log and "CERT_SHADOW_INSTALL" in log, (host, syslog_stamp(shadow_at))
            # S5: rollover identity certificate from the old CA end for the balance (>= 10 %)
            roll = next(c for c in hist if c.start == ca_end[ca].replace(tzinfo=None))
            balance = max(365 * DAY - (capped.end - capped.start), 36.5 * DAY)
            assert roll.end - roll.start == balance, host
            # C6: after rollover day: a valid identity certificate chained to the new CA, old CA gone
            ch = r.chain(host, "TP")
            assert set(ch) == {"", "ca"}, (host, set(ch))
            assert ch["ca"] == new_ca
            ch[""].verify_directly_issued_by(new_ca)
            assert ch[""].not_valid_before_utc <= now < ch[""].not_valid_after_utc, host
            keys = r.show(host, "show crypto key mypubkey rsa")
            assert "Key name: TPKEY\n" in keys + "\n" and "TPKEY#" not in keys, host
            # RENEW re-armed from the activation moment (C2 with T0 = rollover notBefore)
            ident = next(c for c in r.parsed(host, "show crypto pki certificates").certificates if c.section == "Certificate")
            if ident.start == ca_end[ca].replace(tzinfo=None):
                assert ident.renew == expected_renew(ident.start, ident.end)

    # auto-rollover 30, client enrolled on day 73: the shadow renewal on day 657 fails (no rollover CA yet)
    hist4 = issued(r, "ca2", "CA2", "r4")
    capped4 = [c for c in hist4 if c.end == ca_end["ca2"].replace(tzinfo=None)][-1]
    fail_at = expected_renew(capped4.start, capped4.end).replace(tzinfo=timezone.utc)
    assert fail_at < ca_end["ca2"] - 30 * DAY  # asked before CS SHADOW CERT GENERATION
    log4 = r.show("r4", "show logging")
    fail_lines = [ln for ln in log4.splitlines() if "GETNEXTCACERT_FAIL" in ln]
    assert fail_lines and fail_lines[0].lstrip("*").startswith(syslog_stamp(fail_at)), (fail_lines, syslog_stamp(fail_at))
    assert not [c for c in hist4 if c.start >= ca_end["ca2"].replace(tzinfo=None)]  # no rollover certificate
    ch4 = r.chain("r4", "TP")
    assert ch4[""].not_valid_after_utc <= now  # left without a valid identity certificate
    r4_timers = r.show("r4", "show crypto pki timers detail")
    assert "RENEW TP" not in r4_timers and "SHADOW TP" not in r4_timers  # C4: no retry
    assert r.lab.status().get("timer_errors") == 0  # no timer callback raised during 800 days
    for host in ("ca1", "ca2", "r1", "r2", "r3", "r4", "r5"):
        assert "TIMER_ERROR" not in r.show(host, "show logging"), host
