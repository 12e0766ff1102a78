"""`show crypto pki certificates pem [TP]` on the real IOS-XE capture (genie's, with its JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iospki.models import PemOutput
from iospki.parsers import ParseError, parse
from iospki.parsers.base import lookup
from tests.parse_support import fixture_ids, fixtures, read

COMMAND = "show crypto pki certificates pem server"
FILES = fixtures("show_crypto_pki_certificates_pem_server")


def test_the_fixtures_are_there() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    assert len(FILES) == 1


def test_pem_is_its_own_command_not_a_trustpoint_named_pem() -> None:
    assert lookup("show crypto pki certificates pem").__name__ == "parse_pem"
    assert lookup("show crypto pki certificates pem TP").__name__ == "parse_pem"
    assert lookup("show crypto pki certificates pemtp").__name__ == "parse_certificates"


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_real_pem_agrees_with_genie(path: Path) -> None:
    out = parse(COMMAND, read(path))
    assert isinstance(out, PemOutput)
    (tp,) = out.trustpoints
    assert tp.name == "server"
    assert [c.label for c in tp.certificates] == ["Self-signed CA certificate", "General Purpose Certificate"]
    exp = json.loads(path.with_name(path.name.replace(".txt", ".genie.json")).read_text())
    assert {c.label.lower().replace(" ", "_").replace("-", "_"): c.pem for c in tp.certificates} == exp
    # the same output for all trustpoints (no TP argument) reads the same
    assert parse("show crypto pki certificates pem", read(path)) == out


@pytest.mark.parametrize("path", FILES, ids=fixture_ids(FILES))
def test_every_mutated_line_is_a_parse_error_naming_it(path: Path) -> None:
    lines = read(path).split("\n")
    checked = 0
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        bad = [*lines[:i], "Xq " + ln, *lines[i + 1 :]]
        with pytest.raises(ParseError) as exc:
            parse(COMMAND, "\n".join(bad))
        assert exc.value.lineno == i + 1 and exc.value.line == "Xq " + ln, (i, str(exc.value))
        checked += 1
    assert checked == len([ln for ln in lines if ln.strip()])


def test_two_trustpoints_with_noise_and_cut_output() -> None:
    if not FILES:
        pytest.skip("reference material not found")
    one = read(FILES[0])
    two = one + "\n\n" + one.replace("Trustpoint: server", "Trustpoint: client.tp")
    noisy = "R1#show crypto pki certificates pem\r\n" + two.replace("\n", "\r\n") + "\r\nR1#"
    out = parse("show crypto pki certificates pem", noisy)
    assert [tp.name for tp in out.trustpoints] == ["server", "client.tp"]
    cut = one[: one.rindex("-----END")]
    with pytest.raises(ParseError, match="ends inside a certificate"):
        parse(COMMAND, cut)
    with pytest.raises(ParseError, match="before any"):
        parse(COMMAND, one[one.index("% Self") :])
    assert parse(COMMAND, "R1#show crypto pki certificates pem server\nR1#") == PemOutput()
