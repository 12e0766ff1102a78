"""Every registered parser (both parts, found through `parsers.registered()`) fed random
garbage, truncated real outputs, shuffled sections and other commands' outputs: it returns a
model or raises ParseError, never anything else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from iospki import parsers
from iospki.parsers import ParseError
from iospki.parsers import base as parser_base
from tests.parse_support import REAL

PATTERNS = parsers.registered()
FUNCS: list[tuple[str, Callable[[str, str | None], BaseModel]]] = [
    (p, parser_base._REGISTRY[p]) for p in PATTERNS
]
CORPUS: list[str] = (
    [p.read_text(encoding="utf-8", errors="replace") for p in sorted(REAL.glob("*/*/*.txt"))]
    if REAL.is_dir()
    else []
)
# derandomized: CI runs the same examples every time (a failure is reproducible, never flaky)
SETTINGS = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _check(
    pattern: str, func: Callable[[str, str | None], BaseModel], text: str, platform: str | None = None
) -> None:
    try:
        out = func(text, platform)
    except ParseError as exc:
        assert str(exc).startswith("cannot parse"), (pattern, exc)
        return
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{pattern}: {type(exc).__name__}: {exc} on {text[:300]!r}")
    assert isinstance(out, BaseModel), pattern


def test_registry_covers_part_b() -> None:
    for cmd in [
        "show crypto pki timers",
        "show crypto pki timer detail",
        "show crypto pki server",
        "show crypto pki server CA requests",
        "show crypto pki server CA certificates",
        "show crypto pki server CA crl",
        "show crypto pki crls",
        "show crypto pki trustpoints",
        "show crypto pki trustpoints TP status",
        "show crypto pki trustpoints status",
        "show crypto key mypubkey rsa",
        "show crypto key mypubkey rsa K",
        "show clock detail",
        "show ntp status",
    ]:
        parser_base.lookup(cmd)
    assert parser_base.lookup("show crypto pki trustpoints status") is not parser_base.lookup(
        "show crypto pki trustpoints"
    )


_LINEISH = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from(
            [
                "PKI Timers",
                "|  48.241  (2022-01-15T08:54:35Z) RENEW tp",
                "Certificate Server CA:",
                "Status: enabled",
                "Trustpoint TP:",
                "    Subject Name:",
                "cn=x",
                "Key name: k",
                " Key Data:",
                "  30820122 300D0609",
                "CRL Issuer Name:",
                "Clock is synchronized, stratum 2, reference is 1.2.3.4",
                "*10:15:00.123 UTC Mon Mar 4 2024",
                "Certificate",
                "  Status: Available",
                "ReqID  State      Fingerprint                      SubjectName",
                "Router certificates requests:",
                "1      pending    744566E755B84AEE18A86DF715D8EE33 cn=a",
                "R1#",
            ]
        ),
    ),
    max_size=25,
).map("\n".join)


@SETTINGS
@given(
    idx=st.integers(0, max(len(FUNCS) - 1, 0)),
    text=st.one_of(st.text(max_size=400), _LINEISH),
    platform=st.sampled_from([None, "ios", "iosxe"]),
)
def test_garbage(idx: int, text: str, platform: str | None) -> None:
    _check(*FUNCS[idx], text, platform)


def _need_corpus() -> None:
    if not CORPUS:
        pytest.skip(f"real fixtures not found under {REAL}")


@SETTINGS
@given(idx=st.integers(0, max(len(FUNCS) - 1, 0)), doc=st.integers(0, 10_000), cut=st.floats(0, 1))
def test_truncated_real_outputs(idx: int, doc: int, cut: float) -> None:
    _need_corpus()
    text = CORPUS[doc % len(CORPUS)]
    _check(*FUNCS[idx], text[: int(len(text) * cut)])


@SETTINGS
@given(idx=st.integers(0, max(len(FUNCS) - 1, 0)), doc=st.integers(0, 10_000), data=st.data())
def test_shuffled_sections(idx: int, doc: int, data: st.DataObject) -> None:
    _need_corpus()
    text = CORPUS[doc % len(CORPUS)]
    # sections = runs of lines separated by unindented lines (headers) or blank lines
    blocks: list[list[str]] = []
    for ln in text.splitlines():
        if not blocks or not ln.strip() or not ln[:1].isspace():
            blocks.append([])
        blocks[-1].append(ln)
    shuffled = data.draw(st.permutations(blocks))
    dropped = data.draw(st.sets(st.integers(0, max(len(blocks) - 1, 0)), max_size=3))
    _check(*FUNCS[idx], "\n".join(ln for i, b in enumerate(shuffled) if i not in dropped for ln in b))


def test_every_real_output_to_every_parser() -> None:
    _need_corpus()
    for text in CORPUS:
        for pattern, func in FUNCS:
            _check(pattern, func, text)


def _command_for(folder: str) -> str:
    """'show_crypto_pki_server_requests' -> 'show crypto pki server CA requests' (a NAME where one is needed)."""
    words = folder.split("_")
    if words[:4] == ["show", "crypto", "pki", "server"] and len(words) == 5:
        words.insert(4, "CA")
    if words[-1] == "keyname":
        words[-1] = "K"
    return " ".join(words)


def test_real_outputs_truncated_at_every_line() -> None:
    """Each real output cut after every line, fed to its own command's parser."""
    _need_corpus()
    for path in sorted(REAL.glob("*/*/*.txt")):
        try:
            func = parser_base.lookup(_command_for(path.parent.name))
        except ParseError:
            continue  # a command no parser claims (e.g. show crypto pki counters)
        lines = path.read_text(encoding="utf-8").splitlines()
        for n in range(len(lines)):
            _check(path.parent.name, func, "\n".join(lines[:n]))


def test_corpus_is_real() -> None:
    _need_corpus()
    assert len(CORPUS) > 50


# inputs that once crashed a parser (found by the fuzzing above), kept as fixed examples
FOUND = [
    "Status",
    "  Status: Available\nCertificate",
    "Key name: a",
    "Trustpoint A:\n    Subject Name:",
    "|  48.241",
]


@pytest.mark.parametrize("text", FOUND)
def test_inputs_found_by_fuzzing(text: str) -> None:
    for pattern, func in FUNCS:
        _check(pattern, func, text)
