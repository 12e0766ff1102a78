"""`show clock [detail]` and `show ntp status` on real outputs and the behaviour notes' samples."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from iospki.models import Clock, NtpStatus
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read

CLOCKS = fixtures("show_clock")
NTPS = fixtures("show_ntp_status")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _expected(path: Path) -> dict[str, str] | None:
    for suffix in (".genie.json", ".expected.json"):
        p = path.with_name(path.name.replace(".txt", suffix))
        if p.is_file():
            return json.loads(p.read_text())  # type: ignore[no-any-return]
    return None


@pytest.mark.parametrize("path", CLOCKS, ids=fixture_ids(CLOCKS))
def test_real_clock_outputs(path: Path) -> None:
    text = read(path)
    out = parse("show clock", text)
    assert isinstance(out, Clock)
    body = [ln.strip() for ln in text.splitlines() if ln.strip()][-1]
    assert out.authoritative is (not body.startswith("*"))
    assert out.ntp_unsynced is body.startswith(".")
    exp = _expected(path)
    if exp:
        assert out.tz == exp["timezone"]
        assert out.time.year == int(exp["year"]) and out.time.day == int(exp["day"])
        assert MONTHS[out.time.month - 1] == exp["month"]
        assert out.time.strftime("%H:%M:%S.%f")[:12] == exp["time"]


def test_clock_detail_sources() -> None:
    out = parse(
        "show clock detail",
        "R1# show clock detail\n20:55:10.207 UTC Fri Nov 15 2019\nTime source is user configuration\n",
    )
    assert out == Clock(
        time=datetime(2019, 11, 15, 20, 55, 10, 207000),
        tz="UTC",
        authoritative=True,
        source="user configuration",
    )
    out = parse("show clock detail", "*15:30:14.148 UTC Sat Jan 31 1970\nNo time source\n")
    assert out.source == "No time source" and not out.authoritative
    out = parse("show clock detail", ".21:01:34.563 UTC Fri Nov 15 2019\nTime source is NTP\n")
    assert out.source == "NTP" and out.authoritative and out.ntp_unsynced
    out = parse("show clock detail", "10:00:00.000 CET Mon Jan 1 2024\nTime source is hardware calendar\n")
    assert out.source == "hardware calendar"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "20:55:10.207 UTC Fri Nov 15 2019\n20:55:11.207 UTC Fri Nov 15 2019",
        "99:99:99 UTC Fri Nov 45 2019",
        "Time source is NTP",
    ],
)
def test_not_clock_output_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse("show clock", text)


@pytest.mark.parametrize("path", NTPS, ids=fixture_ids(NTPS))
def test_real_ntp_status(path: Path) -> None:
    out = parse("show ntp status", read(path))
    assert isinstance(out, NtpStatus)
    exp = json.loads(path.with_name(path.name.replace(".txt", ".genie.json")).read_text())
    st = exp["clock_state"]["system_status"]
    assert out.synchronized is (st["status"] == "synchronized")
    assert out.stratum == st["stratum"]
    assert out.reference == st.get("refid")
    assert out.offset_ms == st["offset"] and out.root_dispersion_ms == st["rootdispersion"]
    assert out.poll_interval == st["poll"] and out.resolution == st["resolution"]
    assert out.last_update_seconds == int(st["last_update"].split()[0])
    assert out.reference_time is not None


def test_ntp_behaviour_doc_sample() -> None:
    text = """C8Kv1#show ntp status
Clock is synchronized, stratum 2, reference is 202.118.1.81
nominal freq is 250.0000 Hz, actual freq is 249.9980 Hz, precision is 2**10
ntp uptime is 162400 (1/100 of seconds), resolution is 4016
reference time is E8E05A76.0F1A9FE8 (10:35:34.059 GMT Mon Oct 23 2023)
clock offset is -0.4780 msec, root delay is 36.00 msec
root dispersion is 19.41 msec, peer dispersion is 3.68 msec
loopfilter state is 'CTRL' (Normal Controlled Loop), drift is 0.000007810 s/s
system poll interval is 256, last update was 555 sec ago.
"""
    out = parse("show ntp status", text)
    assert out.synchronized and out.stratum == 2 and out.reference == "202.118.1.81"
    assert out.offset_ms == -0.478 and out.uptime_seconds == 1624.0
    assert out.reference_time == datetime(2023, 10, 23, 10, 35, 34, 59000) and out.tz == "GMT"


def test_ntp_garbage_raises() -> None:
    with pytest.raises(ParseError):
        parse(
            "show ntp status",
            "Clock is synchronized, stratum 2, reference is 1.2.3.4\n% NTP is not enabled.\n",
        )


def test_ntp_never_updated_and_not_enabled() -> None:
    text = """Clock is unsynchronized, stratum 16, no reference clock
nominal freq is 250.0000 Hz, actual freq is 250.0000 Hz, precision is 2**10
ntp uptime is 0 (1/100 of seconds), resolution is 4000
reference time is 00000000.00000000 (00:00:00.000 UTC Mon Jan 1 1900)
clock offset is 0.0000 msec, root delay is 0.00 msec
root dispersion is 0.00 msec, peer dispersion is 0.00 msec
loopfilter state is 'FSET' (Drift set from file), drift is 0.000000000 s/s
system poll interval is 64, never updated."""
    out = parse("show ntp status", text)
    assert (
        not out.synchronized and out.enabled and out.poll_interval == 64 and out.last_update_seconds is None
    )
    off = parse("show ntp status", "R1#show ntp status\n%NTP is not enabled.\nR1#")
    assert off.enabled is False and off.synchronized is False


@pytest.mark.parametrize(
    ("text", "taken"),
    [
        ("*07:58:35.107 UTC Tue Jul 21 2026\n", True),
        (".7:58:35 CET Mon Mar 4 2024\nTime source is NTP\n", True),
        ("07:58:35 Mon Tue Mar 4 2024\nNo time source\n", True),  # a zone named like a weekday stays the zone
        ("07:58:35 UTC Xyz Jul 21 2026\n", False),  # no weekday IOS prints
        ("07:58:35 UTC Tue Mon 21 2026\n", False),  # no month
        ("07:58:35 UTC Tue Feb 30 2026\n", False),  # no such date
        ("25:00:00 UTC Tue Jul 21 2026\n", False),
    ],
)
def test_clock_fast_path_gives_the_strict_result(text: str, taken: bool) -> None:
    """The fast path builds the time from its own fields (issue 13 §1): the strict path's model or error."""
    from iospki.parsers.clock import _fast_clock, parse_clock

    quick = _fast_clock(text)
    assert (quick is not None) == taken
    if quick is not None:
        assert quick == parse_clock(text, None, fast=False)
    else:
        with pytest.raises(ParseError):
            parse_clock(text, None, fast=False)


@pytest.mark.parametrize("fast", [True, False])
def test_ntp_value_that_is_no_number_names_its_line(fast: bool) -> None:
    """`-?[\\d.]+` lets '0..0000' through; both paths reject it naming the line (was a bare ValueError)."""
    from iospki.parsers.clock import parse_ntp_status

    text = "Clock is synchronized, stratum 4, reference is 10.16.2.2\nclock offset is 0..0000 msec, root delay is 5.61 msec\n"
    with pytest.raises(ParseError) as exc:
        parse_ntp_status(text, None, fast=fast)
    assert exc.value.lineno == 2 and "0..0000" in str(exc.value)
