"""The store's faster write path gives what its plain definitions give: `redact` (one search of the whole text
for the lines that can hold a secret) equals the line-by-line redaction it replaced, `pretty_json` equals
`json.dumps(indent=2, sort_keys=True)`, and the temporary files keep the store's own name pattern, mode and
clean-up on a failed write."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.state import store
from iospki.state.store import REDACTED


def plain_redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The definition: every line tested on its own (the store's redaction before it searched the whole text)."""
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, REDACTED)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        low = line.lower()
        if any(k in low for k in store._SECRET_WORDS) or ("key" in low and store._KEY_LINE.match(line)):
            lines[i] = store._SECRET_LINE.sub(store._redact_match, line)
    return "\n".join(lines)


# the words the redaction looks for, in several cases, with what surrounds them in configs, and characters whose
# lower case differs in length or depends on the context (İ, Σ), or is ASCII only in lower case (Kelvin sign)
PIECES = [
    "password", "PASSWORD", "Secret", "secret", "passphrase", "community", "key", "KEY", "Key-String",
    "key-string", "pre-shared-key", "pre-shared-key address 10.0.0.1", "authentication-key 1 md5",
    "crypto isakmp key", "username admin", "enable", " ", "  ", "\t", "\n", "\r\n", "\r", "0 ", "7 ", "9 ",
    "x", "cisco123", "$9$abc", REDACTED, "İ", "\u212a", "Σ", "ς", "é", "%", ":", '"',
]  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.lists(st.sampled_from(["cisco123", "x", "ey", "İ"])))
def test_redact_equals_the_line_by_line_definition(pieces: list[str], secrets: list[str]) -> None:
    text = "".join(pieces)
    assert store.redact(text, secrets) == plain_redact(text, secrets)


@settings(max_examples=500, deadline=None)
@given(st.text(), st.lists(st.text(max_size=4)))
def test_redact_equals_the_definition_on_any_text(text: str, secrets: list[str]) -> None:
    assert store.redact(text, secrets) == plain_redact(text, secrets)


def test_redact_equals_the_definition_on_real_outputs(shared_dir: Path) -> None:
    files = sorted(f for f in (shared_dir / "fixtures" / "real").rglob("*") if f.is_file())
    assert len(files) > 100  # outputs (.txt), genie's parsed JSON, ntc's YAML
    changed = 0
    for f in files:
        text = f.read_text(errors="replace")
        got = store.redact(text, ["cisco", "Cisco123"])
        assert got == plain_redact(text, ["cisco", "Cisco123"]), f
        changed += got != text
    assert changed > 10  # the outputs hold secrets and secret lines: the comparison is not of untouched texts


def test_a_secret_line_after_many_plain_lines_is_redacted() -> None:
    text = "\n".join(["interface Gi0/0", " description uplink"] * 500 + [" password 7 0822455D0A16", "end"])
    assert store.redact(text).splitlines()[-2:] == [f" password 7 {REDACTED}", "end"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    | st.dictionaries(st.integers(), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_pretty_json_equals_json_dumps(obj: Any) -> None:
    assert store.pretty_json(obj) == json.dumps(obj, indent=2, sort_keys=True, default=store._json_default)


def test_pretty_json_equals_json_dumps_on_odd_values() -> None:
    from datetime import datetime, timezone
    from enum import IntEnum

    class Level(IntEnum):
        HIGH = 3

    odd: list[Any] = [
        {},
        [],
        (),
        "top-level string é",
        {"a": (1, 2), "b": {"c": []}, "d": [{}]},
        {1.5: "float keys", -0.25: "", math.inf: "x"},
        {True: "bool keys", False: ""},
        {None: "a None key"},
        [math.nan, math.inf, -math.inf, -0.0, 1e300, Level.HIGH],
        {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "set": {3, 1}, "path": Path("/x")},
    ]
    for obj in odd:
        assert store.pretty_json(obj) == json.dumps(obj, indent=2, sort_keys=True, default=store._json_default)
    for bad in ({"a": 1, 2: 3}, {(1, 2): "tuple key"}, {"x": object()}):
        with pytest.raises(TypeError):
            json.dumps(bad, indent=2, sort_keys=True, default=store._json_default)
        with pytest.raises(TypeError):
            store.pretty_json(bad)


def test_pretty_json_equals_json_dumps_on_golden_models() -> None:
    golden = sorted((Path(__file__).parent / "golden").rglob("*.json"))
    assert len(golden) > 20
    for f in golden:
        obj = json.loads(f.read_text())
        assert store.pretty_json(obj) == json.dumps(obj, indent=2, sort_keys=True), f


def test_written_files_and_their_temporary_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    store.write_output(tmp_path, "r1", "show clock", "10:00")
    with store.durable_batch():
        store.write_json(tmp_path, "r1", "facts", {"os_version": "17.3"})
    store.atomic_write_text(tmp_path / "report.txt", "shared", mode=0o644)
    monkeypatch.undo()
    assert len(seen) == 3 and all(store._TEMP_NAME.fullmatch(n) for n in seen), seen
    assert (tmp_path / "r1" / "facts.json").read_text() == '{\n  "os_version": "17.3"\n}\n'
    assert os.stat(tmp_path / "r1" / "show_clock.txt").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "report.txt").st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.rglob(".*")] == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "show_clock.txt").mkdir()  # a folder where the file goes: the rename fails
    with pytest.raises(store.WriteFailed, match=re.escape(str(tmp_path / "r1" / "show_clock.txt"))):
        store.write_output(tmp_path, "r1", "show clock", "10:00")
    assert [p.name for p in (tmp_path / "r1").iterdir()] == ["show_clock.txt"]


def test_a_taken_temporary_name_is_drawn_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([b"\x00\x00\x00\x01", b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"])
    monkeypatch.setattr(os, "urandom", lambda n: next(draws))
    fd, first = store._create_temp(str(tmp_path))
    os.close(fd)
    fd, second = store._create_temp(str(tmp_path))  # the first draw names an existing file: drawn again
    os.close(fd)
    assert (os.path.basename(first), os.path.basename(second)) == (".tmp-00000001.part", ".tmp-00000002.part")
