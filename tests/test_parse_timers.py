"""`show crypto pki timers [detail]`: real IOS-XE outputs, the seed's classic IOS output and
synthetic lines in the formats of the behaviour notes."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.models import TimersOutput
from iospki.parsers import ParseError, parse
from iospki.parsers.ios_time import parse_countdown
from tests.parse_support import fixture_ids, fixtures, parse_as, read, seed_block

FILES = fixtures("show_crypto_pki_timer_detail", "show_crypto_pki_timers_detail")
LABELLED = re.compile(r"^\s*\|\s*[\dd:. ]+?(?:\s+\([^)]*\))?\s+([A-Za-z*].*?)\s*$")

# genie's flat keys -> (kind, our label) for the "nothing genie found is missing" check
GENIE = {
    "session_cleanup": "SESSION CLEANUP",
    "renew_timer": "RENEW",
    "shadow_timer": "SHADOW",
    "poll_timer": "POLL",
    "expiry_alert_id": "ID",
    "expiry_alert_ca": "CS",
    "crl_expire": "CRL EXPIRE",
    "crl_update": "CRL UPDATE",
    "crl_dwnld_retry": "CRL auto-download retry timer",
    "trustpool_timer": "TRUSTPOOL",
    "est_connect_retry": "CONNECT RETRY",
    "cs_crl_update": "CS CRL UPDATE",
    "cs_shadow_gen": "CS SHADOW CERT GENERATION",
    "cs_cert_expiry": "CS CERT EXPIRE",
}


def test_countdown_formats() -> None:
    assert parse_countdown("1094d 5:21:45.573") == 1094 * 86400 + 5 * 3600 + 21 * 60 + 45.573
    assert parse_countdown("291d23:54:53.214") == 291 * 86400 + 23 * 3600 + 54 * 60 + 53.214
    assert parse_countdown("4:37.977") == 277.977
    assert parse_countdown("48.241") == 48.241


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_outputs_recover_every_timer(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki timers detail", text)
    assert isinstance(out, TimersOutput)
    labels = [m[1] for ln in text.splitlines() if (m := LABELLED.match(ln))]
    assert [t.label for t in out.timers] == labels
    assert all(t.at is not None and t.remaining_seconds >= 0 for t in out.timers)
    genie = path.with_name(path.name.replace(".txt", ".genie.json"))
    if genie.is_file():
        import json

        data = json.loads(genie.read_text())["timer"]
        for key, kind in GENIE.items():
            if key in data:
                want_at = datetime.fromisoformat(data[key + "_iso"].replace("Z", ""))
                assert any(
                    t.kind == kind and t.at == want_at and t.remaining_seconds == parse_countdown(data[key])
                    for t in out.timers
                ), (key, data[key])


def test_csr8kv_values_and_targets() -> None:
    path = next((p for p in FILES if p.name == "iosxe__golden_output_csr8kv.txt"), None)
    if path is None:
        pytest.skip("fixture absent")
    out = parse_as(TimersOutput, "show crypto pki timer detail", read(path))
    by = {(t.kind, t.target): t for t in out.timers}
    assert len(out.timers) == 14
    shadow = by[("SHADOW", "client")]
    assert shadow.section == "PKI Timers"
    assert shadow.at == datetime(2024, 9, 26, 20, 48, 17)
    assert shadow.remaining_seconds == 985 * 86400 + 11 * 3600 + 54 * 60 + 30.614
    assert by[("CS", "root")].section == "Expiry Alert Timers"
    assert by[("ID", "client")].remaining_seconds == 304 * 86400 + 23 * 3600 + 58 * 60 + 41.613
    assert by[("CRL UPDATE", "cn=root")].label == "CRL UPDATE *cn=root"
    assert by[("CONNECT RETRY", "estclient")].remaining_seconds == 6.908
    assert by[("CS CERT EXPIRE", None)].section == "CS Timers"
    # the section headers' summary lines are not timers of their own
    assert sum(1 for t in out.timers if t.kind == "SESSION CLEANUP") == 1


def test_seed_classic_ios_countdown_only() -> None:
    text = seed_block("Root-CA#show crypto pki timers", "Let op")
    out = parse("show crypto pki timers", text)
    got = [(t.section, t.kind, t.remaining_seconds, t.at) for t in out.timers]
    assert got == [
        ("PKI Timers", "SESSION CLEANUP", 469.003, None),
        ("PKI Timers", "TRUSTPOOL", 3 * 86400 + 7 * 3600 + 5 * 60 + 24.003, None),
        ("CS Timers", "CS CRL UPDATE", 5 * 3600 + 54 * 60 + 17.977, None),
        ("CS Timers", "CS SHADOW CERT GENERATION", 639 * 86400 + 23 * 3600 + 54 * 60 + 17.977, None),
        ("CS Timers", "CS CERT EXPIRE", 729 * 86400 + 23 * 3600 + 54 * 60 + 17.971, None),
    ]


SYNTHETIC = """\
R1#show crypto pki timers detail\r
PKI Timers\r
|        3:26.037  (2025-10-19T19:40:06Z)\r
  |        3:26.037  (2025-10-19T19:40:06Z) SESSION CLEANUP\r
  |1094d 5:21:45.573  (2028-10-18T01:01:51Z) RENEW tp.one\r
  |1094d 5:21:45.573  (2028-10-18T01:01:51Z) RENEW tp-two\r
  |  6d23:59:57.701  (2025-01-14T08:48:18Z) ER EXPIRE 1\r
  |     5:58:01.690  (2022-01-16T19:51:22Z) CRL EXPIRE c=US,o=Let's Encrypt,cn=R3\r
R1#"""


def test_synthetic_two_trustpoints_never_collide() -> None:
    out = parse("show crypto pki timers detail", SYNTHETIC)
    renew = [t.target for t in out.timers if t.kind == "RENEW"]
    assert renew == ["tp.one", "tp-two"]
    er = next(t for t in out.timers if t.kind == "ER EXPIRE")
    assert er.target == "1" and er.remaining_seconds == 6 * 86400 + 23 * 3600 + 59 * 60 + 57.701
    crl = next(t for t in out.timers if t.kind == "CRL EXPIRE")
    assert crl.target == "c=US,o=Let's Encrypt,cn=R3"


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "PKI Timers\n|  48.241  SESSION CLEANUP\nsomething else",
        "|  48.241  SESSION CLEANUP",
    ],
)
def test_not_timers_output_raises(text: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse("show crypto pki timers", text)
    assert "show crypto pki timers" in str(exc.value)


def test_unknown_line_is_named() -> None:
    with pytest.raises(ParseError) as exc:
        parse("show crypto pki timers", "PKI Timers\n|  48.241  SESSION CLEANUP\n% Invalid input detected\n")
    assert exc.value.line is not None and "Invalid input" in exc.value.line


def _ios_countdown(ms_total: int, spaced: bool) -> str:
    # formats as IOS prints them: '1094d 5:21:45.573' / '291d23:54:53.214' / '5:54:30.889' / '4:37.977' / '48.241'
    d, rem = divmod(ms_total, 86_400_000)
    h, rem = divmod(rem, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    if d:
        return f"{d}d{h:2d}:{m:02d}:{s:02d}.{ms:03d}" if spaced else f"{d}d{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
    if h:
        return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
    if m:
        return f"{m}:{s:02d}.{ms:03d}"
    return f"{s}.{ms:03d}"


@given(ms=st.integers(0, 4000 * 86_400_000), spaced=st.booleans())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_countdown_round_trip(ms: int, spaced: bool) -> None:
    assert parse_countdown(_ios_countdown(ms, spaced)) == ms / 1000


@pytest.mark.parametrize(
    "text",
    [
        "PKI Timers\n|  1:00  RENEW TP\n",
        "\n  \n  PKI Timers\n|  1:00  RENEW TP\n",
        "\x0bPKI Timers\n|  1:00  RENEW TP\n",  # a blank before the header the line regex would not see
        "\u2003PKI Timers\n|  1:00  RENEW TP\n",
        "PKI Timers\n|  1:2:3:4  RENEW TP\n",  # more fields than a countdown has
        "PKI Timers\n|  5d  RENEW TP\n",
        "PKI Timers\n|  1:00  (2026-07-21T08:13:34Z)\n|  1:00  (2026-07-21T08:13:34Z) RENEW TP\n",
        "PKI Timers\n|  1:00  (2026-07-21T08:13:34Z)\n|  1:00  (2026-07-2108:13:34Z) RENEW TP\n",
    ],
)
def test_fast_path_gives_the_strict_result(text: str) -> None:
    """Every header and timer line the fast path accepts is read with its section (issue 13 §1's leaner regex)."""
    from iospki.parsers.timers import parse_timers

    def outcome(fast: bool) -> object:
        try:
            return parse_timers(text, None, fast=fast)
        except ParseError:
            return "ParseError"

    assert outcome(True) == outcome(False)
    if not isinstance(outcome(False), str):
        assert all(t.section == "PKI Timers" for t in parse_timers(text).timers)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(
    st.one_of(st.none(), st.integers(0, 10**7).map(str)),
    st.one_of(st.none(), st.integers(0, 99).map(str)),
    st.one_of(st.none(), st.integers(0, 99).map(str)),
    st.integers(0, 10**12).map(str),
    st.text("0123456789", max_size=5),
)
def test_countdown_seconds_is_the_rounded_sum(
    d: str | None, h: str | None, m: str | None, s: str, frac: str
) -> None:
    """The millisecond shortcut of `countdown_seconds` gives the float `round(sum, 3)` gives (issue 13 §1)."""
    from iospki.parsers.ios_time import countdown_seconds

    if m is not None and h is None:
        h = "0"
    sec = s + ("." + frac if frac else "")
    hours, minutes = (0, int(h or 0)) if m is None else (int(h or 0), int(m))
    assert countdown_seconds(d, h, m, sec) == round(
        int(d or 0) * 86400 + hours * 3600 + minutes * 60 + float(sec), 3
    )
