"""Golden files for the parsers' JSON contract (issue 10 §6).

Every real output under ../shared/fixtures/real whose command has a registered parser is parsed
with `iospki.parsers.parse`, dumped as other tools read it (`model_dump(mode="json")`, sorted keys,
2-space indent, one trailing newline) and compared byte for byte with
`tests/golden/<fixture folder>/<source>__<fixture name>.json`. A fixture the parsers reject is not
a golden: it is listed in `tests/golden/rejected.json` with the exact ParseError line, and must keep
failing with that line.

The one switch that rewrites the goldens and the rejection list from the current code:

    IOSPKI_REGEN_GOLDEN=1 .venv/bin/pytest -q tests/test_golden.py

Review the diff before committing it: a changed golden is a changed contract. Without ../shared
every test here skips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from iospki.parsers import ParseError, parse
from iospki.parsers.base import lookup
from tests.parse_support import REAL, read
from tests.test_parse_acceptance import COMMANDS

GOLDEN = Path(__file__).resolve().parent / "golden"
REJECTED = GOLDEN / "rejected.json"
REGEN = os.environ.get("IOSPKI_REGEN_GOLDEN") == "1"

# Fixture folders outside the acceptance test's list whose command takes a name argument
# (genie's `.arguments.json` beside them): the name does not change the parse, only the form.
_NAMED = {"show_crypto_key_mypubkey_ec_keyname": "show crypto key mypubkey ec K"}


def command_for(folder: str) -> str | None:
    """The command whose output a fixture folder holds, if a parser is registered for it."""
    command = COMMANDS.get(folder) or _NAMED.get(folder) or folder.replace("_", " ")
    try:
        lookup(command)
    except ParseError:
        return None  # no parser reads this command (yet): no golden
    return command


def _cases() -> list[tuple[str, str, Path]]:
    """(fixture id, command, path) for every real fixture a parser reads."""
    if not REAL.is_dir():
        return []
    out = []
    for path in sorted(REAL.glob("*/*/*.txt")):
        command = command_for(path.parent.name)
        if command is not None:
            source = path.parent.parent.name
            out.append((f"{path.parent.name}/{source}__{path.stem}", command, path))
    return out


CASES = _cases()


def golden_text(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def _rejections() -> dict[str, str]:
    return json.loads(REJECTED.read_text(encoding="utf-8")) if REJECTED.is_file() else {}


def _outcome(command: str, path: Path) -> tuple[str | None, str | None]:
    """(golden text, None) when the fixture parses, (None, ParseError line) when it is rejected."""
    try:
        return golden_text(parse(command, read(path))), None
    except ParseError as exc:
        return None, str(exc)


def _require_real() -> None:
    if not REAL.is_dir():
        pytest.skip(f"real fixtures not found under {REAL}")


@pytest.fixture(scope="module", autouse=True)
def _regenerate() -> None:
    """With IOSPKI_REGEN_GOLDEN=1: rewrite every golden and the rejection list, drop stale ones."""
    if not REGEN or not REAL.is_dir():
        return
    rejected: dict[str, str] = {}
    keep = set()
    for case_id, command, path in CASES:
        text, error = _outcome(command, path)
        target = GOLDEN / f"{case_id}.json"
        if text is None:
            assert error is not None
            rejected[case_id] = error
            continue
        keep.add(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for stale in set(GOLDEN.glob("*/*.json")) - keep:
        stale.unlink()
    REJECTED.write_text(json.dumps(rejected, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("case_id", "command", "path"), CASES, ids=[c[0] for c in CASES])
def test_parse_output_matches_golden(case_id: str, command: str, path: Path) -> None:
    if REGEN:
        pytest.skip("IOSPKI_REGEN_GOLDEN=1: goldens rewritten, not compared")
    text, error = _outcome(command, path)
    rejected = _rejections()
    if case_id in rejected:
        assert error == rejected[case_id], f"{case_id}: expected rejection changed (now {error or 'parses'})"
        return
    assert error is None, f"{case_id}: the parser now rejects a fixture it read before: {error}"
    golden = GOLDEN / f"{case_id}.json"
    assert golden.is_file(), f"no golden for {case_id}; regenerate: IOSPKI_REGEN_GOLDEN=1 pytest {__file__}"
    # byte for byte, so a changed key order, indent or float format is a contract change too
    assert text == golden.read_text(encoding="utf-8"), f"{case_id}: output differs from {golden}"


def test_every_golden_belongs_to_a_fixture() -> None:
    """No stale goldens or rejections: each names a real fixture that a parser reads."""
    _require_real()
    ids = {c[0] for c in CASES}
    goldens = {str(p.relative_to(GOLDEN).with_suffix("")) for p in GOLDEN.glob("*/*.json")}
    assert goldens <= ids, sorted(goldens - ids)
    assert set(_rejections()) <= ids, sorted(set(_rejections()) - ids)
    assert not goldens & set(_rejections()), "a fixture is both a golden and a rejection"


def test_the_goldens_cover_every_command_the_acceptance_test_parses() -> None:
    """Guards the discovery above: every fixture folder of the acceptance test has goldens."""
    _require_real()
    folders = {c[0].split("/")[0] for c in CASES}
    assert set(COMMANDS) <= folders, set(COMMANDS) - folders
