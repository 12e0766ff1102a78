"""The config facts the loader reads beside the parsed config (`parsers.config_facts`) give what the plain
definitions give: `config_complete` is "some line, right-stripped, is `end`" and `clock_zones` is the first
MULTILINE match of its patterns searched from the start. The module finds both without trying a pattern at
every position of the text (issue 13 §1); these tests hold it to the plain definitions on the lab's configs,
the real captures and hypothesis-generated texts built from the characters that matter."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.parsers import config_facts
from iospki.parsers.noise import split_lines
from tests.lab_outputs import lab_outputs
from tests.parse_support import REAL


def _complete_plain(text: str) -> bool:
    return any(ln.rstrip() == "end" for ln in split_lines(text))


def _zones_plain(text: str) -> dict[str, timedelta]:
    m = config_facts._TZ.search(text)  # noqa: SLF001 - the module's own patterns, searched the plain way
    return {} if m is None else config_facts.zones_of(m, config_facts._SUMMER.search(text))  # noqa: SLF001


def _texts() -> list[str]:
    texts = [t for (_h, c), t in lab_outputs().items() if "running-config" in c]
    if REAL.is_dir():
        texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(REAL.glob("*/*/*.txt"))]
    return texts


def test_lab_and_real_texts() -> None:
    texts = _texts()
    assert texts
    for text in texts:
        assert config_facts.config_complete(text) == _complete_plain(text)
        assert config_facts.clock_zones(text) == _zones_plain(text)
    # not vacuous: the lab's configs end with `end`
    assert any(config_facts.config_complete(t) for t in texts)


_PIECES = st.sampled_from(
    [
        "end",
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "\xa0",
        "\x0b",
        " --More-- \x08\x08",
        "endx",
        "hostname r1",
        "clock timezone CET 1 0",
        "clock timezone IST 5 30",
        "clock timezone PST -8",
        " clock timezone X 2",
        "clock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00",
        "clock summer-time PDT date Mar 10 2024 2:00 Nov 3 2024 2:00 30",
        "clock summer-time",
        "!",
    ]
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_generated_texts(text: str) -> None:
    assert config_facts.config_complete(text) == _complete_plain(text)
    assert config_facts.clock_zones(text) == _zones_plain(text)


def test_examples() -> None:
    assert config_facts.config_complete("end")
    assert config_facts.config_complete("end  \nx")
    assert config_facts.config_complete("x\r\nend \r\n")
    assert not config_facts.config_complete("x\nendpoint\n end\n")
    assert config_facts.clock_zones("x\n  \n clock timezone CET 1 0\n") == {"CET": timedelta(hours=1)}
    assert config_facts.clock_zones("no clock timezone CET 1 0\nclock timezone EET 2\n") == {
        "EET": timedelta(hours=2)
    }
