"""Device-output lines for the TTP-based parsers (`device_lines`, from `noise`) and the
"every line placed" checks that keep TTP from silently dropping unknown lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .base import ParseError
from .noise import device_lines as device_lines  # re-exported: the parsers import it from here


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
