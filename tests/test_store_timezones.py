"""Device-local times (clock timezone / summer-time) become UTC, so they compare with the UTC timers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from iospki.audit import run_audit
from iospki.forecast import forecast_states
from iospki.state import devicetime, store
from iospki.state.loader import load_collection
from tests.pki_samples import Client, Server, Site, write_site

D0 = datetime(2025, 1, 1, 8, 0, 0)
_MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_IOS_T = re.compile(
    r"(\d{1,2}):(\d{2}):(\d{2})(\.\d+)? UTC ((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2}) (\d{4})"
)


def localise(text: str, zone: str, off: timedelta, summer: tuple[str, timedelta] | None = None) -> str:
    """Print every IOS time stamp of `text` in a local zone, as a device with that zone does.

    The certificate parser keeps one zone per certificate, so a device printing a certificate's
    dates in different zones (winter start, summer end) is not modelled here."""

    def sub(m: re.Match[str]) -> str:
        utc = datetime(int(m[8]), _MON.index(m[6]) + 1, int(m[7]), int(m[1]), int(m[2]), int(m[3]))
        name, o = zone, off
        if summer is not None:  # collected in summer: every stamp in the summer zone
            name, o = summer
        t = utc + o
        wd = f"{t:%a} " if m[5] else ""
        return f"{t:%H:%M:%S}{m[4] or ''} {name} {wd}{t:%b} {t.day} {t.year}"

    return _IOS_T.sub(sub, text)


def site(root: Path) -> Path:
    s = Site(
        Server("ROOT", D0, D0 + timedelta(days=730), auto_rollover_days=90),
        [
            Client("R1", percent=80, id_start=D0 + timedelta(days=100), id_end=D0 + timedelta(days=465),
                   renew=D0 + timedelta(days=392)),
            Client("R2", percent=80, id_start=D0 + timedelta(days=300), id_end=D0 + timedelta(days=665),
                   renew=D0 + timedelta(days=592)),
        ],
    )  # fmt: skip
    write_site(root, s, D0 + timedelta(days=380, hours=5))
    return root


def rewrite(
    root: Path, config_lines: str, zone: str, off: timedelta, summer: tuple[str, timedelta] | None
) -> None:
    for host in store.hosts(root):
        outs = store.read_outputs(root, host)
        for cmd, text in outs.items():
            if cmd == "show running-config" and config_lines:
                text = text.replace("\nhostname", f"\n{config_lines}\nhostname", 1)
            store.write_output(root, host, cmd, localise(text, zone, off, summer))


def times(root: Path) -> list[tuple[str, str, object, object, object]]:
    out: list[tuple[str, str, object, object, object]] = []
    for st in load_collection(root):
        out.append((st.host, "now", st.now, None, None))
        out += [(st.host, c.section, c.start, c.end, c.renew) for c in st.certificates]
        out += [(st.host, s.name, s.ca_expires, s.autorollover_at, s.crl_next_update) for s in st.servers]
    return out


@pytest.mark.parametrize(
    "config, zone, off, summer",
    [
        ("clock timezone CET 1 0", "CET", timedelta(hours=1), None),
        ("clock timezone IST 5 30", "IST", timedelta(hours=5, minutes=30), None),
        ("clock timezone PST -8 0\nclock summer-time PDT recurring", "PST", timedelta(hours=-8),
         ("PDT", timedelta(hours=-7))),
        ("", "EET", timedelta(hours=2), None),  # no timezone line: the offset is measured
    ],
)  # fmt: skip
def test_local_times_become_utc(tmp_path: Path, config: str, zone: str, off: timedelta, summer: tuple[str, timedelta] | None) -> None:  # fmt: skip
    utc = site(tmp_path / "utc")
    local = site(tmp_path / "local")
    rewrite(local, config, zone, off, summer)
    assert f" {summer[0] if summer else zone} " in store.read_outputs(local, "R1")["show clock"]
    assert times(local) == times(utc)
    # audit and forecast see the same world: same findings (rule, host, impact), same events
    a, b = run_audit(load_collection(utc)), run_audit(load_collection(local))
    assert [(f.rule, f.host, f.impact_at) for f in a.findings] == [
        (f.rule, f.host, f.impact_at) for f in b.findings
    ]
    fa, fb = forecast_states(load_collection(utc)), forecast_states(load_collection(local))
    assert [e.to_json() for e in fa.events] == [e.to_json() for e in fb.events]
    st = next(s for s in load_collection(local) if s.host == "R1")
    assert st.zones is not None and not st.zones.unknown
    assert st.zones.source == (
        "clock timezone" if config else "measured (show clock against the timers' UTC)"
    )


def test_unknown_zone_is_kept_and_named(tmp_path: Path) -> None:
    """A zone neither configured nor measurable stays local and is named (never silently shifted)."""
    root = site(tmp_path)
    for host in store.hosts(root):
        outs = store.read_outputs(root, host)
        store.write_output(root, host, "show crypto pki certificates verbose",
                           localise(outs["show crypto pki certificates verbose"], "XYZ", timedelta(hours=3)))  # fmt: skip
    st = next(s for s in load_collection(root) if s.host == "R1")
    assert st.zones is not None and st.zones.unknown == {"XYZ"}
    ident = next(c for c in st.certificates if c.section == "Certificate")
    assert ident.tz == "XYZ" and ident.start == D0 + timedelta(days=100, hours=3)


def test_summer_time_offset_argument() -> None:
    z = devicetime.from_config(
        "clock timezone AEST 10 0\nclock summer-time AEDT recurring 1 Sun Oct 2:00 1 Sun Apr 3:00 30\n"
    )
    assert z.offsets["AEDT"] == timedelta(hours=10, minutes=30)
    assert (
        devicetime.measure(datetime(2026, 1, 1, 12, 0), datetime(2026, 1, 1, 11, 50)) is None
    )  # 10 min: not one moment
