"""`show crypto pki counters` on the real IOS-XE captures (genie's, with its JSON, and muninn's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iospki.models import PkiCounters
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read

COMMAND = "show crypto pki counters"
FILES = fixtures("show_crypto_pki_counters")


def test_the_fixtures_are_there() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    assert {p.parent.parent.name for p in FILES} == {"genie", "muninn"}


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_counters(path: Path) -> None:
    text = read(path)
    out = parse(COMMAND, text)
    assert isinstance(out, PkiCounters)
    # every printed number lands in a field, in order
    printed = [int(ln.rsplit(":", 1)[1]) for ln in text.splitlines() if ln.strip()]
    assert list(out.model_dump().values()) == printed
    genie = path.with_name(path.name.replace(".txt", ".genie.json"))
    if genie.is_file():
        exp = json.loads(genie.read_text())
        assert {k.removeprefix("pki_"): v for k, v in exp.items()} == out.model_dump()
    else:  # muninn's capture (a C9300): no JSON beside it, the values as printed
        assert (out.sessions_started, out.sessions_ended, out.successful_validations) == (590, 590, 3)


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_every_mutated_line_is_a_parse_error_naming_it(path: Path) -> None:
    lines = read(path).split("\n")
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        for bad_line in ("Xq " + ln, ln.replace(":", " =")):
            bad = [*lines[:i], bad_line, *lines[i + 1 :]]
            with pytest.raises(ParseError) as exc:
                parse(COMMAND, "\n".join(bad))
            assert exc.value.lineno == i + 1 and exc.value.line == bad_line


def test_deleted_and_doubled_lines_are_errors() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    lines = read(FILES[0]).splitlines()
    with pytest.raises(ParseError, match="'Failed Validations' line"):
        parse(COMMAND, "\n".join(ln for ln in lines if not ln.startswith("Failed")))
    with pytest.raises(ParseError, match="a second") as exc:
        parse(COMMAND, "\n".join([*lines, lines[4]]))
    assert exc.value.lineno == len(lines) + 1


def test_session_noise() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    text = read(FILES[0])
    noisy = (
        "R1#terminal length 0\r\nR1#show crypto pki counters\r\n" + text.replace("\n", "   \r\n") + "\r\nR1#"
    )
    assert parse(COMMAND, noisy) == parse(COMMAND, text)
    with pytest.raises(ParseError, match="empty output"):
        parse(COMMAND, "R1#show crypto pki counters\nR1#")
