"""The lab clock: rate, set, advance with timers in time order; authority (`*`) through NTP and calendar-valid."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import pytest
from netmiko import ConnectHandler

from iospki.lab.clock import LabClock, parse_duration, parse_time
from tests.lab_fixture import MakeLab
from tests.netmiko_text import send_text

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_parse_duration_and_time() -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("1d12h30m") == timedelta(days=1, hours=12, minutes=30)
    assert parse_duration("3600") == timedelta(hours=1)
    with pytest.raises(ValueError):
        parse_duration("90 parsecs")
    assert parse_time("2027-01-01T00:00:00Z") == datetime(2027, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_advance_runs_timers_in_order_at_their_own_time() -> None:
    async def scenario() -> list[tuple[str, datetime]]:
        clock = LabClock(T0, rate=0.0)  # frozen: only jumps move it
        clock.start()
        seen: list[tuple[str, datetime]] = []

        def make(name: str):  # type: ignore[no-untyped-def]
            async def cb() -> None:
                await asyncio.sleep(0.01)
                seen.append((name, clock.now()))
                if name == "first":
                    clock.schedule(clock.now() + timedelta(hours=1), make("spawned"), "spawned")

            return cb

        clock.schedule(T0 + timedelta(days=3), make("third"), "third")
        clock.schedule(T0 + timedelta(days=1), make("first"), "first")
        clock.schedule(T0 + timedelta(days=2), make("second"), "second")
        cancelled = clock.schedule(T0 + timedelta(days=1, hours=2), make("cancelled"), "cancelled")
        cancelled.cancel()
        clock.schedule(T0 + timedelta(days=9), make("later"), "later")
        fired = await clock.advance(timedelta(days=5))
        assert fired == 4
        assert clock.now() == T0 + timedelta(days=5)
        assert [t.name for t in clock.pending()] == ["later"]
        fired = await clock.set(T0 + timedelta(days=10))
        assert fired == 1
        # a failing callback does not stop the next one
        clock.schedule(T0 + timedelta(days=11), lambda: 1 / 0, "boom")
        clock.schedule(T0 + timedelta(days=12), make("after-boom"), "after")
        await clock.advance(timedelta(days=3))
        assert clock.errors == 1
        await clock.stop()
        return seen

    seen = asyncio.run(scenario())
    assert [n for n, _ in seen] == ["first", "spawned", "second", "third", "later", "after-boom"]
    assert [t for _, t in seen][:5] == [
        T0 + timedelta(days=1),
        T0 + timedelta(days=1, hours=1),
        T0 + timedelta(days=2),
        T0 + timedelta(days=3),
        T0 + timedelta(days=9),
    ]


def test_rate_makes_time_run_faster_and_fires_timers_in_real_time() -> None:
    async def scenario() -> tuple[timedelta, list[datetime]]:
        clock = LabClock(T0, rate=3600.0)  # one lab hour per real second
        clock.start()
        hits: list[datetime] = []
        clock.schedule(T0 + timedelta(minutes=30), lambda: hits.append(clock.now()), "half-hour")
        await asyncio.sleep(0.8)
        elapsed = clock.now() - T0
        await clock.stop()
        return elapsed, hits

    elapsed, hits = asyncio.run(scenario())
    assert timedelta(minutes=40) < elapsed < timedelta(hours=2)
    assert len(hits) == 1 and hits[0] >= T0 + timedelta(minutes=30)


@pytest.mark.lab
def test_lab_clock_controls_and_authority(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=[("k1", "isr_g1"), ("k2", "csr1k")], start="2027-03-01T12:00:00Z", plugins="")
    k1, k2 = lab.hosts["k1"], lab.hosts["k2"]
    with ConnectHandler(**k1.netmiko()) as c1, ConnectHandler(**k2.netmiko()) as c2:
        first = send_text(c1, "show clock")
        assert first.startswith("*12:0") and first.endswith("UTC Mon Mar 1 2027")
        assert "No time source" in send_text(c1, "show clock detail")
        # the CLI front end: python -m iospki.lab clock advance 90d
        out = lab.lab_cli("clock", "advance", "90d").stdout
        assert out.startswith("2027-05-30T12:0")
        assert send_text(c1, "show clock").endswith("UTC Sun May 30 2027")
        lab.clock_set("2028-01-01T08:00:00Z")
        assert send_text(c2, "show clock").startswith("*08:00:")
        # NTP: the lab clock is the source; the star goes away and ntp status says synchronized
        c1.send_config_set(["ntp server 127.0.0.1"])
        assert not send_text(c1, "show clock").startswith("*")
        assert send_text(c1, "show ntp status").startswith("Clock is synchronized, stratum 2")
        assert "Time source is NTP" in send_text(c1, "show clock detail")
        # the ntp-unreachable fault takes the sync away
        lab.fault("k1", "ntp-unreachable", True)
        assert send_text(c1, "show clock").startswith("*")
        assert send_text(c1, "show ntp status").startswith("Clock is unsynchronized")
        lab.fault("k1", "ntp-unreachable", False)
        assert not send_text(c1, "show clock").startswith("*")
        # calendar-valid makes the clock authoritative without NTP, and timezone shifts the display
        c2.send_config_set(["clock calendar-valid", "clock timezone CET 1 0"])
        shown = send_text(c2, "show clock")
        assert shown.startswith("09:00:") and " CET " in shown
        assert "Time source is hardware calendar" in send_text(c2, "show clock detail")
        log = send_text(c2, "show logging | include CONFIG_I")
        # lab time in the syslog timestamp: UTC under `service timestamps log datetime msec`, as on IOS
        assert "Jan  1 08:0" in log and "Jan  1 09:0" not in log
        c2.send_config_set(["service timestamps log datetime msec localtime show-timezone year"])
        run = send_text(c2, "show running-config | include service timestamps log")
        assert run.strip() == "service timestamps log datetime msec localtime show-timezone year"
        last = send_text(c2, "show logging | include CONFIG_I").splitlines()[-1]
        assert re.match(r"Jan  1 2028 09:0\d:\d\d\.\d{3} CET: %SYS-5-CONFIG_I", last), last
    st = lab.status()
    assert [h["authoritative"] for h in st["hosts"]] == [True, True]
    lab.clock_rate(3600)
    assert lab.status()["rate"] == 3600


@pytest.mark.lab
def test_ntp_sync_lost_keeps_authority_with_a_dot(make_lab: MakeLab) -> None:
    """IOS: '.' = authoritative but NTP not synchronised (synced once, then lost); '*' = never authoritative."""
    lab = make_lab(hosts=[("n1", "isr4k")], start="2027-03-01T12:00:00Z", plugins="")
    with ConnectHandler(**lab.hosts["n1"].netmiko()) as c:
        # never synced: ntp-sync-lost cannot make a clock authoritative
        lab.fault("n1", "ntp-sync-lost", True)
        c.send_config_set(["ntp server 127.0.0.1"])
        assert send_text(c, "show clock").startswith("*")
        lab.fault("n1", "ntp-sync-lost", False)
        assert send_text(c, "show clock")[0].isdigit()
        status = send_text(c, "show ntp status")
        assert status.startswith("Clock is synchronized, stratum 2, reference is 127.0.0.1")
        m = re.search(r"reference time is ([0-9A-F]{8})\.[0-9A-F]{8} \((\d\d:\d\d:\d\d\.\d{3}) UTC", status)
        assert m is not None, status
        # the NTP seconds (era 0, from 1900) are the lab time shown beside them
        ref = datetime(1900, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(m.group(1), 16))
        assert ref.date() == datetime(2027, 3, 1).date() and f"{ref:%H:%M:%S}" == m.group(2)[:8]
        assoc = send_text(c, "show ntp associations")
        assert re.search(r"^\*~127\.0\.0\.1\s+\.GPS\.\s+1\s", assoc, re.M), assoc
        # synced, then lost: '.', still NTP as the source, still authoritative
        lab.clock_advance("1h")
        lab.fault("n1", "ntp-sync-lost", True)
        assert send_text(c, "show clock").startswith(".13:0")
        detail = send_text(c, "show clock detail")
        assert detail.splitlines()[-1] == "Time source is NTP"
        lost = send_text(c, "show ntp status")
        assert lost.startswith("Clock is unsynchronized, stratum 16, no reference clock")
        assert "reference time is 00000000" not in lost and "never updated" not in lost
        assert re.search(r"^ ~127\.0\.0\.1\s+\.INIT\.\s+16\s", send_text(c, "show ntp associations"), re.M)
        assert [h["clock_mark"] for h in lab.status()["hosts"]] == ["."]
        assert lab.status()["hosts"][0]["authoritative"] is True
        logs = send_text(c, "show logging | include NTP")
        assert "%NTP-5-PEERSYNC: NTP synced to peer 127.0.0.1" in logs
        assert re.search(r"^\.Mar  1 13:0\d:\d\d\.\d{3}: %NTP-4-UNSYNC: NTP sync is lost$", logs, re.M), logs
        # ntp-unreachable takes the authority away ('*'); both off: synchronised again and logged
        lab.fault("n1", "ntp-unreachable", True)
        assert send_text(c, "show clock").startswith("*")
        lab.fault("n1", "ntp-unreachable", False)
        lab.fault("n1", "ntp-sync-lost", False)
        assert send_text(c, "show clock")[0].isdigit()
        assert send_text(c, "show logging | count PEERSYNC").strip().endswith("= 2")
        human = lab.lab_cli("status").stdout
        assert "n1" in human and "ntp" in human and "1 router;" in human
