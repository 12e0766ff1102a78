"""`clock set` on an emulated router: the router's own clock moves, the lab clock does not.

What IOS shows (behaviour doc §1.7, [V]): `%SYS-6-CLOCKUPDATE ... configured from console by ...`, then
`%PKI-6-AUTHORITATIVE_CLOCK: The system clock has been set.`, and the leading `*` disappears; `show clock detail`
says `Time source is user configuration`. The router's PKI timers run on its own clock, so a router set past its
RENEW time renews at once, while the CA and the lab clock stay where they were. NTP takes a synchronised router
back to its source at the next poll; a reload keeps the hardware clock's error but not the authority."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from iospki.cli import app
from iospki.models import Clock
from iospki.parsers import parse
from tests.lab_pki_support import enroll_trustpoint, start_ca
from tests.netmiko_text import reload_router
from tests.test_forecast_lab import Lab, iso

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k"), ("r2", "isr_g2")]
START = datetime(2027, 6, 1, 0, 0, 0)


@pytest.fixture(scope="module")
def lab(make_lab_module: Any) -> Iterator[Lab]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    start_ca(lab, "lifetime certificate 4", "grant auto")
    assert "Status: enabled" in lab.show("ca1", "show crypto pki server CA")
    enroll_trustpoint(lab, "r1", "TP", "rsakeypair TP 2048", "auto-enroll 70 regenerate")
    yield lab
    lab.close()


def wait_for(cond: Any, seconds: float = 20.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return bool(cond())


def identity_serial(lab: Lab, host: str) -> str | None:
    c = lab.cert(host, "Certificate")
    return c.serial if c else None


def clock(lab: Lab, host: str) -> Clock:
    out = parse("show clock detail", lab.show(host, "show clock detail"), "ios")
    assert isinstance(out, Clock)
    return out


def test_clock_set_moves_only_this_router_and_makes_it_authoritative(lab: Lab) -> None:
    before = clock(lab, "r2")
    assert before.authoritative is False and (before.source or "").lower() == "no time source"
    r2 = lab.conn("r2")
    # a trustpoint waits for an authoritative clock (its PKI timers are not armed yet)
    r2.send_config_set(
        [
            "clock timezone CET 1 0",
            "crypto pki trustpoint WAIT",
            f"enrollment url http://{lab.h.hosts['ca1'].address}:80",
        ]
    )
    # IOS takes DAY MONTH or MONTH DAY, and a month by a unique prefix
    out = lab.ask("r2", "clock set 12:30:15 5 sept 2027", r"#")
    assert "%" not in out.replace("clock set", ""), out
    after = clock(lab, "r2")
    assert after.authoritative is True and after.source == "user configuration", after
    assert (after.time, after.tz) == (datetime(2027, 9, 5, 12, 30, 15), "CET")
    log = lab.show("r2", "show logging")
    assert re.search(r"%SYS-6-CLOCKUPDATE: System clock has been updated from .* to 12:30:15 CET Sun Sep 5 2027, "
                     r"configured from console by \S+ on vty\d \(127\.", log), log  # fmt: skip
    assert log.count("%PKI-6-AUTHORITATIVE_CLOCK: The system clock has been set.") == 1, log
    # the lab clock and the other routers did not move
    assert lab.h.clock_now().startswith(iso(START)[:16])
    assert clock(lab, "r1").time.date() == START.date()
    lab.ask("r2", "clock set 9:00:00 Feb 29 2027", r"#")  # no such day
    assert clock(lab, "r2").time == datetime(2027, 9, 5, 12, 30, 15)
    for bad in (
        "clock set 25:00:00 1 Jan 2027",
        "clock set 10:00:00 1 Ju 2027",
        "clock set 10:00:00 1 Jan 2099",
    ):
        assert "% Invalid input" in lab.show("r2", bad), bad


def test_a_router_set_past_its_renew_time_renews_on_its_own_clock(lab: Lab) -> None:
    old = identity_serial(lab, "r1")
    timers = lab.timers("r1")
    renew = timers[("RENEW", "TP")]
    assert renew is not None
    ca_before = clock(lab, "ca1").time
    target = renew + timedelta(minutes=5)
    lab.ask("r1", f"clock set {target:%H:%M:%S} {target.day} {target:%b} {target.year}", r"#")
    # the RENEW timer fires on r1's clock: a new certificate while the lab clock stands still
    assert wait_for(lambda: identity_serial(lab, "r1") not in (None, old)), lab.show(
        "r1", "show crypto pki timers"
    )
    assert clock(lab, "ca1").time - ca_before < timedelta(minutes=1)
    new = lab.cert("r1", "Certificate")
    assert new is not None and new.start is not None
    # issued on the CA's clock, which is days behind r1's
    assert target - new.start.replace(tzinfo=None) > timedelta(days=2)
    # the next RENEW is in r1's time, ahead of r1's clock
    nxt = lab.timers("r1")[("RENEW", "TP")]
    assert nxt is not None and nxt > clock(lab, "r1").time


def test_ntp_steps_a_synchronised_router_back_at_its_next_poll(lab: Lab) -> None:
    assert clock(lab, "r1").time - clock(lab, "ca1").time > timedelta(days=2)  # from the test above
    lab.h.clock_advance("65s")
    assert abs(clock(lab, "r1").time - clock(lab, "ca1").time) < timedelta(seconds=5)
    assert "configured from NTP" in lab.show("r1", "show logging")
    assert clock(lab, "r1").source == "NTP"


def collect_and_audit(lab: Lab, out: Path) -> list[dict[str, Any]]:
    """`iospki collect` (netmiko over SSH, as against routers) then `iospki audit --offline`: clock-skew hits."""
    inv = ["--inventory", str(lab.h.inventory_dir)]
    r = CliRunner().invoke(app, ["collect", *inv, "--limit", "ca1,r1", "--no-facts", "--output", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["audit", "--offline", str(out), "--format", "json", "--fail-on", "critical"])
    assert r.exit_code in (0, 1), r.output
    return [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "clock-skew"]


def test_the_audit_sees_a_client_behind_its_ca_until_ntp_corrects_it(lab: Lab, tmp_path: Path) -> None:
    assert collect_and_audit(lab, tmp_path / "synced") == []
    ca_now = clock(lab, "ca1").time
    behind = ca_now - timedelta(hours=2)
    lab.ask("r1", f"clock set {behind:%H:%M:%S} {behind:%b} {behind.day} {behind.year}", r"#")
    hits = collect_and_audit(lab, tmp_path / "skewed")
    assert [(h["host"], h["target"]) for h in hits] == [("r1", "TP")], hits
    assert "r1's clock is 2 h 0 min behind the clock of its CA server ca1 (CA)" in hits[0]["message"]
    assert hits[0]["evidence"]["r1 time source"] == "user configuration"
    assert hits[0]["evidence"]["measured from"] == "NTP offsets (both synchronised to 127.0.0.1)"
    # NTP sees it too (source minus local clock), until its next poll steps the clock
    assert abs(float(hits[0]["evidence"]["r1 NTP clock offset"].split()[0]) - 7_200_000) < 2_000
    lab.h.clock_advance("65s")  # NTP's next poll steps r1 back
    assert collect_and_audit(lab, tmp_path / "corrected") == []


def test_reload_keeps_the_clock_error_but_not_the_authority(lab: Lab) -> None:
    skew = clock(lab, "r2").time - clock(lab, "ca1").time
    assert skew > timedelta(days=90)
    conn = lab.conn("r2")
    conn.send_command("write memory")
    reload_router(conn)
    lab.conns.pop("r2").disconnect()
    assert wait_for(lambda: _reachable(lab, "r2"), 30)
    c = clock(lab, "r2")
    assert c.authoritative is False
    assert abs((c.time - clock(lab, "ca1").time) - skew) < timedelta(seconds=5)


def _reachable(lab: Lab, host: str) -> bool:
    try:
        lab.show(host, "show clock")
        return True
    except Exception:
        lab.conns.pop(host, None)
        return False
