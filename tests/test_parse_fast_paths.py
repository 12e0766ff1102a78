"""The regex fast paths (issue 13 §1) give the strict parsers' models, or step aside.

Every parser with a `fast` switch is run both ways on every real fixture, on the lab's outputs
and on mutations of each (a line deleted, doubled, indented with a tab, two lines swapped):
either both raise ParseError or both give equal models. The fast path must also be taken on
the layouts it exists for (the lab's outputs), or the comparison would prove nothing."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iospki.parsers import ParseError
from iospki.parsers.base import lookup, run_parser
from iospki.parsers.noise import device_lines
from tests.lab_outputs import lab_outputs
from tests.parse_support import REAL, read
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
    assert checked >= 7, checked  # clock, NTP, timers (two forms), server, requests, certificates, config


@pytest.mark.parametrize(
    ("command", "fast_reader"),
    [
        ("show crypto pki timers detail", "iospki.parsers.timers:_fast"),
        ("show crypto pki timers", "iospki.parsers.timers:_fast"),
        ("show crypto pki server", "iospki.parsers.server:_fast_server"),
        ("show crypto pki server CA requests", "iospki.parsers.server:_fast_requests"),
        ("show crypto pki server CA certificates", "iospki.parsers.server:_fast_issued"),
        ("show crypto pki server CA crl", "iospki.parsers.server:_fast_crl"),
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
    # no real capture of a CA's issued-certificates table: the lab's outputs only
    folder = next((d for d, c in COMMANDS.items() if lookup(c) is lookup(command)), None)
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


# ---- the fast paths of issue 13 §1's load: running config, verbose certificates ---------------------


def _configs() -> list[str]:
    """Configs whose layout the running-config fast path is for, and their stored form (no echo line)."""
    from tests.test_parse_running_config import FULL

    texts = [t for (_h, c), t in _lab().items() if c == "show running-config"] + [FULL, _stored(FULL)]
    return texts + [t.replace("\n!\n", "\n!\n\n", 3) for t in texts]  # blank lines between blocks


def test_running_config_fast_path_reads_the_usual_layout() -> None:
    """Not vacuous: the lab's configs (also with blank lines between blocks) are read by the fast path
    itself, which gives the strict model; the test config, which has a banner, a prompt and an echo line
    as captured, steps aside."""
    from iospki.parsers.running_config import _fast, parse_running_config
    from tests.test_parse_running_config import FULL

    read_fast = 0
    for text in _configs():
        got = _fast(text)
        if got is not None:
            read_fast += 1
            assert got == parse_running_config(text, None, fast=False)
        else:
            assert "banner" in text, text[:200]
    assert read_fast >= 4, read_fast
    assert _fast(FULL) is None


def test_running_config_fast_equals_strict_on_configs_and_their_mutations() -> None:
    for text in _configs():
        assert _check("show running-config", text) > 0


def test_verbose_certificates_are_read_by_the_fast_regex() -> None:
    """Every section of the lab's verbose outputs (and of the real verbose captures as stored) is one
    match of the verbose section regex; the parse through it equals the scanner's."""
    from iospki.parsers.certificates import _FAST_V, parse_certificates
    from iospki.parsers.noise import normalize

    texts = [t for (_h, c), t in _lab().items() if c == "show crypto pki certificates verbose"]
    texts += [_stored(read(p)) for p in FAST_FILES if p.parent.name == "show_crypto_pki_certificates_verbose"]
    sections = 0
    for text in texts:
        norm, pos = normalize(text), 0
        while pos < len(norm.rstrip()):
            m = _FAST_V.match(norm, pos)
            if m is None:
                break
            pos, sections = m.end(), sections + 1
        else:
            assert parse_certificates(text) == parse_certificates(text, fast=False)
    assert sections >= 4, sections


# ---- hypothesis: every fast path against its strict path on generated variants of the usual layouts ----

_EDITS = st.sampled_from(
    [
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n",
        "\r\n",
        "\xa0",
        "\x0b",
        ":",
        "#",
        ">",
        "!",
        "=",
        "x",
        "A",
        "0",
        "end",
        "quit",
        "R1#",
        "\nR1#show run\n",
        "\n*Mar  1 00:01:02.123: %SYS-5-CONFIG_I: Configured\n",
        "\n% Invalid input detected\n",
        "\nbanner motd ^C\n",
        "\n certificate 0A\n",
        "\n  AB CD\n",
        "\ncrypto pki trustpoint T2\n",
        "\n Digital Signature\n",
        "\n  Authority Info Access:\n",
        "\n    CA ISSUERS: http://x/y\n",
        "\n  Key Label: k\n",
        "\nCA Certificate\n",
        "\n  Status: Pending\n",
    ]
)


@st.composite
def _variants(draw: st.DrawFn) -> tuple[str, str]:
    """A lab output of a fast-path command with up to four edits: a piece inserted, or a span deleted."""
    keys = sorted(k for k in _lab() if _has_fast(k[1]))
    host, command = draw(st.sampled_from(keys))
    text = _lab()[(host, command)]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(_EDITS) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
    return command, text


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_variants())
def test_fast_equals_strict_on_generated_variants(variant: tuple[str, str]) -> None:
    command, text = variant
    func = lookup(command)
    assert _outcome(func, command, text, True) == _outcome(func, command, text, False), (command, text)


KEY_FILES = sorted(p for p in REAL.glob("*/show_crypto_key_mypubkey_*/*.txt")) if REAL.is_dir() else []


@pytest.mark.parametrize("path", KEY_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_keys_fast_equals_strict_on_every_real_key_output(path: Path, shared_dir: object) -> None:
    """Also the `ec` and `all` captures, which the acceptance table leaves out."""
    command = "show crypto key mypubkey " + path.parent.name.split("_")[4]
    text = read(path)
    assert _check(command, text) > 0
    assert _check(command, _stored(text)) > 0


# ---- issue 13 §1, session 5: the fast paths also read the real IOS-XE layouts as collect stores them ------------

_REAL_FAST = [
    (
        "show crypto pki trustpoints",
        "iospki.parsers.trustpoints:_fast_trustpoints",
        "show_crypto_pki_trustpoints",
    ),
    ("show crypto key mypubkey rsa", "iospki.parsers.keys:_fast", "show_crypto_key_mypubkey_rsa"),
    (
        "show crypto pki trustpoints status",
        "iospki.parsers.trustpoints:_fast_status",
        "show_crypto_pki_trustpoints_status",
    ),
    ("show crypto pki timers detail", "iospki.parsers.timers:_fast", "show_crypto_pki_timer_detail"),
    ("show clock", "iospki.parsers.clock:_fast_clock", "show_clock"),
]


@pytest.mark.parametrize(
    ("command", "fast_reader", "folder"), _REAL_FAST, ids=[c for c, _r, _f in _REAL_FAST]
)
def test_fast_paths_read_the_real_captures_as_stored(
    command: str, fast_reader: str, folder: str, shared_dir: object
) -> None:
    """Every real capture of these commands but the redacted ones and genie's odd timers layout (blank lines
    inside) is read by the fast path once stored: a self-signed trust point, a temporary key and the rest."""
    import importlib

    module, name = fast_reader.split(":")
    reader = getattr(importlib.import_module(module), name)
    strict: Callable[..., Any] = lookup(command)
    paths = sorted(REAL.glob(f"*/{folder}/*.txt"))
    assert paths
    stepped_aside = []
    for path in paths:
        text = _stored(read(path))
        got = reader(text)
        if got is None:
            stepped_aside.append(path.name)
        else:
            assert got == strict(text, None, fast=False), path
    assert all("redacted" in p or p == "iosxe__golden_output_2.txt" for p in stepped_aside), stepped_aside
