"""Device-output lines for the parsers: clean-up beyond `clean_input` and the
"every line placed" check that keeps TTP from silently dropping unknown lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .base import ParseError, clean_input
from .noise import is_noise

# `terminal exec prompt timestamp` prints these two lines after every command echo
_EXEC_TIMESTAMP = (
    re.compile(r"^\s*Load for five secs: .*$"),
    re.compile(
        r"^\s*(?:Time source is [\w ]+|No time source), [*.]?\d{1,2}:\d\d:\d\d(?:\.\d+)? \S+ .*\d{4}\s*$"
    ),
)
# a prompt that lost its '#' at the end of a capture (e.g. "iosv-1")
_BARE_HOSTNAME = re.compile(r"^(?=.*[^0-9A-Fa-f])[A-Za-z][\w.\-]*$")  # not a hex word of key data


def device_lines(text: str) -> list[str]:
    """Lines of device output ready for parsing: `clean_input`, non-breaking spaces made
    plain, the exec-timestamp banner removed. Leading whitespace is kept."""
    if "\xa0" in text:
        text = text.replace("\xa0", " ")
    lines = [ln.rstrip() for ln in clean_input(text)]
    out = [ln for ln in lines[:6] if not any(p.match(ln) for p in _EXEC_TIMESTAMP)] + lines[6:]
    # syslog/debug lines and repeated prompts interleaved with the output (shared with part A's scanner)
    out = [ln for ln in out if not ((s := ln.strip()) and is_noise(s, False))]
    while out and not out[0].strip():
        out.pop(0)
    if len(out) > 1 and _BARE_HOSTNAME.match(out[-1]):
        out.pop()
    return out


def stripped_text(lines: Iterable[str]) -> str:
    """The lines with their indentation removed, joined for TTP (indentation differs between
    images, e.g. IE-3100 prints none, and a pasted capture may be indented as a whole)."""
    return "\n".join(ln.strip() for ln in lines) + "\n"


def is_empty(lines: Sequence[str]) -> bool:
    """True when nothing but echo/prompt was captured. For the list commands (servers,
    trustpoints, keys, CRLs, timers, requests) that is how IOS says "none"; the parsers of
    commands that always print something (clock, NTP, a CRL) reject it."""
    return not any(ln.strip() for ln in lines)


def require_content(command: str, lines: Sequence[str]) -> None:
    if is_empty(lines):
        raise ParseError(command, "empty output")


def check_placed(command: str, lines: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> None:
    """Raise ParseError at the first non-blank line that no pattern of this command's
    grammar matches (patterns are matched against the stripped line)."""
    require_content(command, lines)
    for no, ln in enumerate(lines, 1):
        s = ln.strip()
        if s and not any(p.fullmatch(s) for p in patterns):
            raise ParseError(command, "unexpected line", ln, no)


def compile_all(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


Rules = Sequence[tuple[re.Pattern[str], tuple[str, ...]]]


def compile_rules(*rules: tuple[str, tuple[str, ...]]) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """(line regex, TTP variables that line fills) pairs: the grammar and its capture map."""
    return tuple((re.compile(p), keys) for p, keys in rules)


def verify_landed(
    command: str, lines: Iterable[str], rules: Rules, record: Mapping[str, object], first_lineno: int = 1
) -> None:
    """Raise ParseError at the first line whose rule's variables TTP left empty in `record`:
    a line the grammar accepts but the template did not capture is never dropped silently."""
    for no, ln in enumerate(lines, first_lineno):
        s = ln.strip()
        for rx, keys in rules:
            if rx.fullmatch(s):
                missing = [k for k in keys if record.get(k) in (None, "")]
                if missing:
                    raise ParseError(command, f"line not captured ({', '.join(missing)})", ln, no)
                break
