"""Round trips: random timer tables and certificate servers written in the IOS formats of the
behaviour notes (classic countdown-only and IOS-XE with ISO times), parsed back unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.parsers import parse

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)
NOW = datetime(2026, 3, 1, 12, 0, 0)
NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def countdown(ms: int) -> str:
    d, rem = divmod(ms, 86_400_000)
    h, rem = divmod(rem, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, frac = divmod(rem, 1000)
    if d:
        return f"{d}d{h:2d}:{m:02d}:{s:02d}.{frac:03d}"
    if h:
        return f"{h}:{m:02d}:{s:02d}.{frac:03d}"
    if m:
        return f"{m}:{s:02d}.{frac:03d}"
    return f"{s}.{frac:03d}"


# (section, label format, kind, target format or None)
KINDS = [
    ("PKI Timers", "RENEW {t}", "RENEW", "{t}"),
    ("PKI Timers", "SHADOW {t}", "SHADOW", "{t}"),
    ("PKI Timers", "POLL {t}", "POLL", "{t}"),
    ("PKI Timers", "SESSION CLEANUP", "SESSION CLEANUP", None),
    ("Expiry Alert Timers", "ID({t})", "ID", "{t}"),
    ("Expiry Alert Timers", "CA({t})", "CA", "{t}"),
    ("Expiry Alert Timers", "CS({t})", "CS", "{t}"),
    ("CRL Timers", "CRL EXPIRE cn={t}", "CRL EXPIRE", "cn={t}"),
    ("CRL Timers", "CRL UPDATE *cn={t}", "CRL UPDATE", "cn={t}"),
    ("Trustpool Timers", "TRUSTPOOL", "TRUSTPOOL", None),
    ("CS Timers", "CS CRL UPDATE", "CS CRL UPDATE", None),
    ("CS Timers", "CS SHADOW CERT GENERATION", "CS SHADOW CERT GENERATION", None),
    ("CS Timers", "CS CERT EXPIRE", "CS CERT EXPIRE", None),
    ("CS Timers", "ER EXPIRE {t}", "ER EXPIRE", "{t}"),
]
TIMER = st.tuples(st.integers(0, len(KINDS) - 1), NAME, st.integers(0, 3000 * 86_400_000))


@SETTINGS
@given(timers=st.lists(TIMER, min_size=1, max_size=12), xe=st.booleans())
def test_timers_round_trip(timers: list[tuple[int, str, int]], xe: bool) -> None:
    sections: dict[str, list[tuple[int, str, str, str | None]]] = {}
    for k, target, ms in timers:
        section, fmt, kind, tfmt = KINDS[k]
        sections.setdefault(section, []).append(
            (ms, fmt.format(t=target), kind, tfmt.format(t=target) if tfmt else None)
        )
    lines = ["R1#show crypto pki timers" + (" detail" if xe else "")]
    expected = []
    for section, items in sections.items():
        items.sort()
        lines.append(section)

        def line(ms: int, label: str | None) -> str:
            at = NOW + timedelta(milliseconds=ms)
            iso = f"  ({at:%Y-%m-%dT%H:%M:%SZ})" if xe else ""
            return f"|{countdown(ms):>16}{iso}" + (f"{' ' if xe else '  '}{label}" if label else "")

        lines.append(line(items[0][0], None))  # the header's summary line
        for ms, label, kind, tgt in items:
            lines.append("  " + line(ms, label))
            at = (NOW + timedelta(milliseconds=ms)).replace(microsecond=0) if xe else None
            expected.append((section, kind, tgt, ms / 1000, at))
    out = parse("show crypto pki timers", "\r\n".join(lines) + "\r\nR1#")
    got = [(t.section, t.kind, t.target, t.remaining_seconds, t.at) for t in out.timers]
    assert got == expected


def ios_time(dt: datetime, tz: str) -> str:
    return f"{dt:%H:%M:%S} {tz} {MONTHS[dt.month - 1]} {dt.day} {dt.year}"


DT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
FP = st.binary(min_size=16, max_size=16).map(lambda b: b.hex().upper())


@SETTINGS
@given(
    servers=st.lists(
        st.fixed_dictionaries(
            {
                "name": NAME,
                "fp": FP,
                "exp": DT,
                "crl": DT,
                "serial": st.integers(1, 2**32),
                "grant": st.sampled_from(["auto", "manual", "none"]),
                "tz": st.sampled_from(["UTC", "GMT", "CET", "MSK"]),
                "rollover": st.one_of(st.none(), st.tuples(st.integers(1, 365), FP, DT)),
                "http_off": st.booleans(),
            }
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda s: s["name"],
    )
)
def test_server_round_trip(servers: list[dict[str, Any]]) -> None:
    lines = []
    for s in servers:
        fp = " ".join(s["fp"][i : i + 8] for i in range(0, 32, 8))
        lines += [
            f"Certificate Server {s['name']}:",
            "    Status: disabled, HTTP Server is disabled" if s["http_off"] else "    Status: enabled",
            "    State: check failed" if s["http_off"] else "    State: enabled",
            '    Server\'s configuration is locked  (enter "shut" to unlock it)',
            f"    Issuer name: CN={s['name']}",
            f"    CA cert fingerprint: {fp} ",
            f"    Granting mode is: {s['grant']}",
            f"    Last certificate issued serial number (hex): {s['serial']:X}",
            f"    CA certificate expiration timer: {ios_time(s['exp'], s['tz'])}",
            f"    CRL NextUpdate timer: {ios_time(s['crl'], s['tz'])}",
            "    Current primary storage dir: nvram:",
            "    Database Level: Complete - all issued certs written as <serialnum>.cer",
        ]
        if s["rollover"]:
            days, rfp, rexp = s["rollover"]
            lines += [
                "    Rollover status: available for rollover",
                f"        Rollover CA cert fingerprint: {rfp}",
                f"        Rollover CA certificate expiration time: {ios_time(rexp, s['tz'])}",
                f"    Auto-Rollover configured, overlap period {days} days",
            ]
    out = parse("show crypto pki server", "\n".join(lines))
    assert len(out.servers) == len(servers)
    for s, srv in zip(servers, out.servers, strict=True):
        assert (srv.name, srv.ca_fingerprint, srv.grant_mode, srv.last_serial) == (
            s["name"],
            s["fp"],
            s["grant"],
            f"{s['serial']:X}",
        )
        assert (srv.ca_expires, srv.crl_next_update, srv.tz) == (s["exp"], s["crl"], s["tz"])
        assert (srv.status, srv.status_reason) == (
            ("disabled", "HTTP Server is disabled") if s["http_off"] else ("enabled", None)
        )
        if s["rollover"]:
            days, rfp, rexp = s["rollover"]
            assert (srv.auto_rollover_days, srv.rollover_fingerprint, srv.rollover_expires) == (
                days,
                rfp,
                rexp,
            )
            assert srv.rollover_status == "available for rollover"
        else:
            assert srv.rollover_status is None and srv.auto_rollover_days is None
