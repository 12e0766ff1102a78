"""`show crypto pki crls download` on the real IOS-XE capture (genie's, with its JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iospki.models import CrlDownloadOutput, CrlStaticDownload
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read

COMMAND = "show crypto pki crls download"
FILES = fixtures("show_crypto_pki_crls_download")


def test_the_fixtures_are_there() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    assert len(FILES) == 1


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_crl_download_agrees_with_genie(path: Path) -> None:
    out = parse(COMMAND, read(path))
    assert isinstance(out, CrlDownloadOutput)
    exp = json.loads(path.with_name(path.name.replace(".txt", ".genie.json")).read_text())["trustpoints"]
    assert out.trustpoints == list(exp) == ["root"]
    (g,) = exp.values()
    assert f"{out.prepublish_minutes} minutes" == g["crl_prepublish_time"]
    assert out.max_retry_attempts == g["crl_maximum_retry_attempts"]
    assert f"{out.retry_interval_minutes} minutes" == g["crl_retry_time_interval"]
    # genie drops the static times; these are the capture's three lines
    assert out.static_times == [
        CrlStaticDownload(weekday="Thursday", time=t) for t in ("12:30", "13:52", "14:24")
    ]


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_every_mutated_line_is_a_parse_error_naming_it(path: Path) -> None:
    lines = read(path).split("\n")
    for i, ln in enumerate(lines):
        bad = [*lines[:i], "Xq " + ln.strip(), *lines[i + 1 :]]
        with pytest.raises(ParseError) as exc:
            parse(COMMAND, "\n".join(bad))
        assert exc.value.lineno == i + 1, (i, str(exc.value))


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("Thursday 12:30", "Thursday 25:30", "unexpected line"),
        ("Thursday 12:30", "Thorsday 12:30", "unexpected line"),
        ("CRL maximum retry attempts  : 5\n", "", "'CRL maximum retry attempts' line"),
        ("CRL prepublish time         : 0 minutes", "CRL prepublish time : 0 hours", "unexpected line"),
        ("CRL download for trustpoints :\n", "", "unexpected line"),
    ],
)
def test_bad_values_and_lost_lines(old: str, new: str, error: str) -> None:
    if not FILES:
        pytest.skip("reference material not found")
    text = read(FILES[0])
    assert old in text
    with pytest.raises(ParseError, match=error):
        parse(COMMAND, text.replace(old, new, 1))


def test_session_noise() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    text = read(FILES[0])
    noisy = "R1#show crypto pki crls download\r\n" + text.replace("\n", "  \r\n") + "\r\nR1#"
    assert parse(COMMAND, noisy) == parse(COMMAND, text)
