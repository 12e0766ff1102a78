"""The regex fast paths (issue 13 §1) give the strict parsers' models, or step aside.

Every parser with a `fast` switch is run both ways on every real fixture, on the lab's outputs
and on mutations of each (a line deleted, doubled, indented with a tab, two lines swapped):
either both raise ParseError or both give equal models. The fast path must also be taken on
the layouts it exists for (the lab's outputs), or the comparison would prove nothing."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest

from iospki.parsers import ParseError
from iospki.parsers.base import lookup, run_parser
from iospki.parsers.noise import device_lines
from tests.lab_outputs import lab_outputs
from tests.parse_support import read
from tests.test_parse_acceptance import COMMANDS, FILES


def _has_fast(command: str) -> bool:
    return "fast" in inspect.signature(lookup(command)).parameters


FAST_FILES = [p for p in FILES if _has_fast(COMMANDS[p.parent.name])]


@cache
def _lab() -> dict[tuple[str, str], str]:
    return lab_outputs()


def _outcome(func: Callable[..., Any], command: str, text: str, fast: bool) -> Any:
    """The model, or 'ParseError' (both paths must agree that a text is bad, not on the words)."""
    try:
        return run_parser(lambda t, p: func(t, p, fast=fast), command, text, None)
    except ParseError:
        return "ParseError"


def _stored(text: str) -> str:
    return "\n".join(device_lines(text)) + "\n"


def _mutations(text: str) -> Iterator[str]:
    lines = text.split("\n")
    for i in range(len(lines)):
        yield "\n".join(lines[:i] + lines[i + 1 :])  # deleted
        yield "\n".join(lines[: i + 1] + lines[i:])  # doubled
        yield "\n".join(lines[:i] + ["\t" + lines[i]] + lines[i + 1 :])  # tab-indented
        yield "\n".join(lines[:i] + [lines[i].replace(" ", "\t", 1)] + lines[i + 1 :])  # tab inside
        if i + 1 < len(lines):
            yield "\n".join(lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2 :])  # swapped


def _check(command: str, text: str) -> int:
    """Compare both paths on `text` and its mutations; the number of texts that parsed."""
    func = lookup(command)
    parsed = 0
    for t in (text, *_mutations(text)):
        fast, strict = _outcome(func, command, t, True), _outcome(func, command, t, False)
        assert fast == strict, (command, t)
        parsed += strict != "ParseError"
    return parsed


@pytest.mark.parametrize("path", FAST_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_fast_equals_strict_on_real_outputs_and_their_mutations(path: object, shared_dir: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    command, text = COMMANDS[path.parent.name], read(path)
    assert _check(command, text) > 0
    # as `collect` stores it (no echo, prompt or log line): the layout the fast paths are for
    assert _check(command, _stored(text)) > 0


def test_fast_equals_strict_on_lab_outputs_and_their_mutations() -> None:
    checked = 0
    for (_host, command), text in _lab().items():
        if _has_fast(command):
            assert _check(command, text) > 0
            checked += 1
    assert checked >= 5, checked  # clock, NTP, timers (two forms), server, requests


@pytest.mark.parametrize(
    ("command", "fast_reader"),
    [
        ("show crypto pki timers detail", "iospki.parsers.timers:_fast"),
        ("show crypto pki timers", "iospki.parsers.timers:_fast"),
        ("show crypto pki server", "iospki.parsers.server:_fast_server"),
        ("show crypto pki server CA requests", "iospki.parsers.server:_fast_requests"),
        ("show clock", "iospki.parsers.clock:_fast_clock"),
        ("show clock detail", "iospki.parsers.clock:_fast_clock"),
        ("show ntp status", "iospki.parsers.clock:_fast_ntp"),
    ],
)
def test_the_fast_path_reads_the_usual_layout(command: str, fast_reader: str) -> None:
    """Not vacuous: the usual layout (the lab's outputs, the real captures without noise) is read by
    the fast path itself (it returns a model, not None), and that model is the strict one."""
    import importlib

    module, name = fast_reader.split(":")
    reader = getattr(importlib.import_module(module), name)
    folder = next(d for d, c in COMMANDS.items() if lookup(c) is lookup(command))
    texts = [t for (_h, c), t in _lab().items() if c == command] + [
        _stored(read(p)) for p in FAST_FILES if p.parent.name == folder
    ]
    read_fast = [got for t in texts if (got := reader(t)) is not None]
    assert read_fast, command
    strict: Callable[..., Any] = lookup(command)  # a fast-path command's parser also takes `fast`
    for text in texts:
        got = reader(text)
        if got is not None:
            assert got == strict(text, None, fast=False)
