"""The fast paths of the CA server's issued-certificates table and CRL (issue 13 §1: a CA's load no longer
runs TTP) against their strict paths on generated outputs: every text gives the same model, or both
raise ParseError; the usual layout is read by the fast path itself (else the comparison proves nothing)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.parsers import ParseError
from iospki.parsers.server import _fast_crl, _fast_issued, parse_issued, parse_server_crl

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@st.composite
def _time(draw: st.DrawFn) -> str:
    """An IOS time as the server prints it, now and then with a fraction, a weekday or an odd zone."""
    hh, mm, ss = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    frac = draw(st.sampled_from(["", "", "", ".123"]))
    zone = draw(st.sampled_from(["UTC", "UTC", "CET", "IST", "GMT+1", "Mon"]))
    wd = draw(st.sampled_from(["", "", "", "Tue "]))
    day = draw(st.integers(1, 31))
    mon = draw(st.sampled_from(MONTHS))
    year = draw(st.integers(2000, 2040))
    return f"{hh:02d}:{mm:02d}:{ss:02d}{frac} {zone} {wd}{mon} {day} {year}"


_GAP = st.sampled_from([" ", "  ", "       ", "\t"])
_SUBJECT = st.sampled_from(["cn=CA", "hostname=r1.lab.iospki.test", "cn=a b,ou=x  y", "", "serialNumber=FTX1+hostname=r2"])


@st.composite
def _issued(draw: st.DrawFn) -> str:
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        serial = draw(st.sampled_from(["1", "2", "0A", "ff", "1B3C"]))
        subject = draw(_SUBJECT)
        row = f"{serial}{draw(_GAP)}{draw(_time())}{draw(_GAP)}{draw(_time())}"
        rows.append(row + (draw(_GAP) + subject if subject else draw(st.sampled_from(["", " "]))))
    head = draw(st.sampled_from(["Serial Issued date              Expire date               Subject Name", "Serial  Issued date Expire date Subject Name"]))
    lead = draw(st.sampled_from(["", "\n", "  "]))
    return lead + "\n".join([head, *rows]) + draw(st.sampled_from(["", "\n", "\n\n"]))


@st.composite
def _crl(draw: st.DrawFn) -> str:
    n = draw(st.integers(0, 3))
    listed = draw(st.sampled_from([n, n, n, max(0, n - 1), n + 1]))
    ind = draw(st.sampled_from(["    ", "", "  "]))
    lines = [
        "Certificate Revocation List:",
        f"{ind}Issuer: {draw(st.sampled_from(['cn=CA', 'cn=RCA1 C=pki', 'cn=x ']))}",
        f"{ind}This Update: {draw(_time())}",
        f"{ind}Next Update: {draw(_time())}",
        f"{ind}Number of CRL entries: {n}",
        f"{ind}CRL size: {draw(st.integers(100, 9999))} bytes",
    ]
    for i in range(listed):
        lines += [f"{ind}Serial Number (hex): {i + 2:02X}", f"{ind}Revocation Date: {draw(_time())}"]
    if draw(st.booleans()) and len(lines) > 1:  # a line lost, doubled or moved
        i = draw(st.integers(1, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "double", "swap"]))
        if how == "drop":
            del lines[i]
        elif how == "double":
            lines.insert(i, lines[i])
        elif i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


def _outcome(func: Any, text: str, fast: bool) -> Any:
    try:
        return func(text, None, fast=fast)
    except ParseError:
        return "ParseError"


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_issued())
def test_issued_fast_equals_strict(text: str) -> None:
    assert _outcome(parse_issued, text, True) == _outcome(parse_issued, text, False), text


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_crl())
def test_crl_fast_equals_strict(text: str) -> None:
    assert _outcome(parse_server_crl, text, True) == _outcome(parse_server_crl, text, False), text


LAB_ISSUED = """Serial Issued date              Expire date               Subject Name
1       05:44:52 UTC Sep 30 2027  05:44:52 UTC Sep 29 2030   cn=CA
2       05:44:52 UTC Sep 30 2027  05:44:52 UTC Sep 29 2028   hostname=r1.lab.iospki.test
"""
LAB_CRL = """Certificate Revocation List:
    Issuer: cn=CA
    This Update: 05:44:52 UTC Sep 30 2027
    Next Update: 11:44:52 UTC Sep 30 2027
    Number of CRL entries: 1
    CRL size: 375 bytes
    Serial Number (hex): 02
    Revocation Date: 06:00:00 UTC Sep 30 2027
"""


def test_the_usual_layouts_take_the_fast_path() -> None:
    issued = _fast_issued(LAB_ISSUED)
    assert issued is not None and issued == parse_issued(LAB_ISSUED, None, fast=False)
    assert [c.subject for c in issued.certificates] == ["cn=CA", "hostname=r1.lab.iospki.test"]
    crl = _fast_crl(LAB_CRL)
    assert crl is not None and crl == parse_server_crl(LAB_CRL, None, fast=False)
    assert crl.entries == 1 and [e.serial for e in crl.revoked] == ["02"] and crl.tz == "UTC"


def test_what_the_fast_paths_leave_to_the_strict_path() -> None:
    """A row without a subject, a weekday in a time, a listed count that does not add up: the strict path
    decides (and names the line or the count)."""
    assert _fast_issued(LAB_ISSUED.replace("   cn=CA", "")) is None
    assert _fast_issued(LAB_ISSUED.replace("UTC Sep 30", "UTC Thu Sep 30", 1)) is None
    assert _fast_crl(LAB_CRL.replace("entries: 1", "entries: 2")) is None
    try:
        parse_server_crl(LAB_CRL.replace("entries: 1", "entries: 2"))
    except ParseError as exc:
        assert "2 entries but 1 are listed" in str(exc)
    else:
        raise AssertionError("a CRL whose count does not add up parsed")
