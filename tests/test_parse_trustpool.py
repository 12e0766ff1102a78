"""`show crypto pki trustpool` and `show crypto pki trustpool | count Downloaded` on the real
IOS-XE captures, cross-checked with genie's JSON beside them."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from iospki.models import TrustpoolCountOutput, TrustpoolOutput
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read

COMMAND = "show crypto pki trustpool"
COUNT = "show crypto pki trustpool | count Downloaded"
FILES = fixtures("show_crypto_pki_trustpool")
COUNT_FILES = fixtures("show_crypto_pki_trustpool_count_downloaded")


def _genie(path: Path) -> Any:
    return json.loads(path.with_name(path.name.replace(".txt", ".genie.json")).read_text())


def _time(genie_value: str) -> tuple[datetime, str]:
    """'19:19:28 UTC May 26 2099' -> (datetime, 'UTC'); genie keeps the device's string."""
    hms, tz, *date = genie_value.split()
    return datetime.strptime(" ".join([hms, *date]), "%H:%M:%S %b %d %Y"), tz


def _without_continuations(value: str) -> str:
    """Our DN value with the ', <rest>' of a comma-broken value removed: genie keeps only the
    first line of such a value ('o=VeriSign' for 'o=VeriSign, Inc.')."""
    return re.sub(r", [^,]*", "", value)


def _as_list(v: str | list[str]) -> list[str]:
    return v if isinstance(v, list) else [v]


def _check_dn(ours: dict[str, str], genie: dict[str, Any]) -> None:
    assert set(ours) == set(genie)
    for attr, gv in genie.items():
        assert _without_continuations(ours[attr]) == ",".join(_as_list(gv)), attr


def test_the_fixtures_are_there() -> None:
    """Guards the parametrisations below against an empty glob (they would pass with no case)."""
    if FILES or COUNT_FILES:
        assert len(FILES) == 2 and len(COUNT_FILES) == 1
    else:
        pytest.skip("reference material not found")


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_trustpool_agrees_with_genie(path: Path) -> None:
    text = read(path)
    out = parse(COMMAND, text)
    assert isinstance(out, TrustpoolOutput)
    exp = _genie(path)["certificates"]
    assert (
        len(out.certificates) == len(exp) == text.count("CA Certificate\n") + text.endswith("CA Certificate")
    )
    for ours, g in zip(out.certificates, exp, strict=True):
        assert ours.section == g["type"]
        assert (ours.serial, ours.status, ours.usage) == (g["serial_number_in_hex"], g["status"], g["usage"])
        _check_dn(ours.issuer_fields, g["issuer"])
        _check_dn(ours.subject_fields, g["subject"])
        start, tz = _time(g["validity_date"]["start_date"])
        end, _ = _time(g["validity_date"]["end_date"])
        assert (ours.start, ours.end, ours.tz) == (start, end, tz)
        assert (
            " ".join([*ours.trustpoints, *(["Trustpool"] if ours.trustpool else [])])
            == g["associated_trustpoints"]
        )
        assert ours.source == g["trustpool"]
        assert ours.crl_distribution_points == g.get("crl_distribution_points", [])
        assert ours.storage == g.get("storage")


def test_comma_in_a_dn_value_is_joined_back() -> None:
    """IOS-XE prints 'o=VeriSign, Inc.' as 'o=VeriSign' and a deeper-indented '     Inc.'."""
    if not FILES:
        pytest.skip("reference material not found")
    out = parse(COMMAND, read(FILES[0]))
    (vs,) = [c for c in out.certificates if c.serial == "18DAD19E267DE8BB4A2158CDCC6B3B4A"]  # type: ignore[attr-defined]
    assert vs.subject_fields["o"] == "VeriSign, Inc."
    assert (
        vs.subject_fields["ou"] == "(c) 2006 VeriSign, Inc. - For authorized use only,VeriSign Trust Network"
    )
    assert vs.subject == vs.issuer and vs.subject.endswith(",o=VeriSign, Inc.,c=US")


def _content_lines(text: str) -> list[int]:
    """Indexes of the lines a mutation must break: every line but DN attribute lines and
    their continuations (a DN line is any 'attr=value', which a prefix keeps a DN line)."""
    out = []
    for i, ln in enumerate(text.split("\n")):
        s = ln.strip()
        if s and "=" not in s.partition(":")[0] and not (ln.startswith("     ") and ":" not in s):
            out.append(i)
    return out


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_every_mutated_line_is_a_parse_error_naming_it(path: Path) -> None:
    text = read(path)
    lines = text.split("\n")
    checked = 0
    for i in _content_lines(text):
        bad = list(lines)
        indent = len(lines[i]) - len(lines[i].lstrip())
        bad[i] = lines[i][:indent] + "Xq " + lines[i][indent:]
        with pytest.raises(ParseError) as exc:
            parse(COMMAND, "\n".join(bad))
        assert exc.value.command == COMMAND
        assert exc.value.lineno == i + 1 and exc.value.line == bad[i], (i, str(exc.value))
        checked += 1
    assert checked >= 11 * text.count("CA Certificate")  # header + ten key lines per section, at least


def test_missing_or_doubled_pool_line_is_an_error() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    text = read(FILES[0])
    first = text.index("  Trustpool: Built-In\n")
    with pytest.raises(ParseError, match="has no 'Trustpool:' line") as exc:
        parse(COMMAND, text[:first] + text[first:].replace("  Trustpool: Built-In\n", "", 1))
    assert exc.value.line == "CA Certificate" and exc.value.lineno == 1
    doubled = text[:first] + "  Trustpool: Downloaded\n" + text[first:]
    with pytest.raises(ParseError, match="second 'Trustpool:' line"):
        parse(COMMAND, doubled)
    with pytest.raises(ParseError, match="outside any certificate section"):
        parse(COMMAND, "Trustpool: Built-In\n" + text)


def test_downloaded_pool_and_session_noise() -> None:
    text = """R1#show crypto pki trustpool
CA Certificate
  Status: Available
  Certificate Serial Number (hex): 01
  Certificate Usage: Signature
  Issuer:
    cn=Example Root
    o=Example
     Ltd.
  Subject:
    cn=Example Root
    o=Example
     Ltd.
  Validity Date:
    start date: 10:00:00 UTC Jan 1 2020
    end   date: 10:00:00 UTC Jan 1 2040
*Dec  2 12:00:00.123: %PKI-6-TRUSTPOOL_DOWNLOAD_SUCCESS: Trustpool Download is successful
  Associated Trustpoints: Trustpool
  Trustpool: Downloaded
R1#"""
    (cert,) = parse(COMMAND, text).certificates  # type: ignore[attr-defined]
    assert cert.source == "Downloaded" and cert.subject_fields["o"] == "Example, Ltd."
    assert cert.trustpool and cert.trustpoints == []
    # trailing blanks (a terminal pads lines) do not end up inside the joined value
    assert parse(COMMAND, text.replace("\n", "   \r\n")).certificates == [cert]  # type: ignore[attr-defined]
    # a continuation must be indented deeper than its DN line: at the same depth it is a foreign line
    flat = text.replace("\n     Ltd.", "\n    Ltd.", 1)
    with pytest.raises(ParseError) as exc:
        parse(COMMAND, flat)
    assert exc.value.lineno == 9 and exc.value.line == "    Ltd."


@pytest.mark.parametrize("path", COUNT_FILES, ids=fixture_ids(COUNT_FILES))
def test_real_count_downloaded(path: Path) -> None:
    out = parse(COUNT, read(path))
    assert isinstance(out, TrustpoolCountOutput)
    assert out.downloaded == _genie(path)["trustpool_downloaded_count"] == 93
    noisy = f"R1#{COUNT}\r\n{read(path)}\r\nR1#"
    assert parse(COUNT, noisy) == out


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Number of lines which match regexp = x",
        "Number of lines which match regexp = 3\nNumber of lines which match regexp = 4",
        "Xq Number of lines which match regexp = 93",
    ],
)
def test_count_garbage_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse(COUNT, text)
