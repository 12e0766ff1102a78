"""`show crypto pki timers [detail]`: classic IOS (countdown only) and IOS-XE detail
(countdown plus ISO time) into `TimersOutput`."""

from __future__ import annotations

import functools
import re
from typing import Any

from iospki.models import TimersOutput

from .base import ParseError, register
from .ios_time import TimeFormatError, countdown_seconds, parse_countdown, parse_iso_utc
from .lines import check_placed, compile_all, device_lines, is_empty, stripped_text
from .noise import normalize
from .ttp_runner import as_list, run_template

COMMAND = "show crypto pki timers"
_CD = r"(?:\d+d\s*)?(?:\d+:)*\d+(?:\.\d+)?"
_ISO = r"\([0-9T:.+\-]+Z?\)"
_TIMER = re.compile(rf"\|\s*{_CD}\s+(?:{_ISO}\s+)?[A-Za-z*].*")
GRAMMAR = compile_all(
    r"[A-Z][A-Za-z ]*Timers:?",  # section header
    rf"\|\s*{_CD}(?:\s+{_ISO})?",  # the header's summary line (repeats the soonest child)
    _TIMER.pattern,
)

# multi-word kinds first; the rest of the label is the target
_KINDS = (
    "CS SHADOW CERT GENERATION",
    "CS CERT EXPIRE",
    "CS CRL UPDATE",
    "SESSION CLEANUP",
    "CONNECT RETRY",
    "CRL EXPIRE",
    "CRL UPDATE",
    "ER EXPIRE",
    "TRUSTPOOL",
    "RENEW",
    "SHADOW",
    "POLL",
)
_ALERT = re.compile(r"(?P<kind>[A-Z]+)\((?P<target>.*)\)")


# the same few labels ('RENEW TP', 'SESSION CLEANUP') recur on every host of a collection: each is split once
@functools.lru_cache(maxsize=4096)
def split_label(label: str) -> tuple[str, str | None]:
    """'RENEW client' -> ('RENEW', 'client'); 'ID(client)' -> ('ID', 'client');
    'CRL UPDATE *cn=root' -> ('CRL UPDATE', 'cn=root'); unknown labels are kinds of their own."""
    label = " ".join(label.split())
    m = _ALERT.fullmatch(label)
    if m:
        return m["kind"], m["target"] or None
    for kind in _KINDS:
        if label == kind:
            return kind, None
        if label.startswith(kind + " "):
            target = label[len(kind) + 1 :].strip()
            if kind.startswith("CRL "):
                target = target.lstrip("*")  # '*' marks the issuer whose CRL is fetched by the timer
            return kind, target or None
    return label, None


# Fast path: the usual layout (a header, its optional summary line, its timer lines; no blank
# line, prompt or log line inside) is proved by ONE fullmatch of `_FAST` and read by one
# `findall` of `_FAST_LINE`, without TTP (about 1 ms of Python work per parse). Token gaps are
# spaces only, as in the template; anything else (tabs, noise, a section without timers, a
# summary line out of place, a countdown `COUNTDOWN` does not read) goes to the strict path, which
# names the line it cannot place.
# possessive quantifiers: each token is read once, no backtracking (a third of the regex time)
_FCD = r"(?:\d++d[ \t]*+)?+(?:\d++:){0,2}+\d++(?:\.\d++)?+"  # `_CD` kept on its line, as `COUNTDOWN` reads it
_FISO = r"\([0-9T:.+\-]++Z?+\)"
# before the first header only blank lines: `_FAST_LINE` must find the header at a line start (a leading
# vertical tab or NBSP-like blank would hide it, and its timers would get no section)
_FAST = re.compile(
    r"(?:[ \t]*+\n)*+(?:"
    r"[ \t]*+[A-Z][A-Za-z ]*Timers:?+[ \t]*+\n"
    rf"(?:[ \t]*+\|[ \t]*+{_FCD}(?: ++{_FISO})?+[ \t]*+\n)?+"
    rf"(?:[ \t]*+\|[ \t]*+{_FCD} ++(?:{_FISO} ++)?+[A-Za-z*][^\n]*+\n)++"
    r")++\s*+"
)
# on "\n" + the text: a section header, or a timer line (`COUNTDOWN`'s groups d, h, m, s, the ISO time, the
# label) as `_FAST` reads it; a summary line has no label and is not matched. `_FAST` proved that every line
# is one of these, so this finds every header and timer line.
_FAST_LINE = re.compile(
    r"\n[ \t]*+(?:([A-Z][A-Za-z ]*Timers:?+)"
    r"|\|[ \t]*+(?:(\d++)d[ \t]*+)?+(?:(\d++):)?+(?:(\d++):)?+(\d++(?:\.\d++)?+)"
    r" ++(?:\(([0-9T:.+\-]++Z?+)\) ++)?+([A-Za-z*][^\n]*+))"
)


def _timer(section: str, label: str, seconds: float, at: str | None) -> dict[str, Any]:
    """One timer's fields (`TimersOutput` validates them all at once: one call, not one a timer)."""
    kind, target = split_label(label)
    return {
        "section": section.rstrip(":"),
        "kind": kind,
        "target": target,
        "label": " ".join(label.split()),
        "remaining_seconds": seconds,
        "at": parse_iso_utc(at) if at else None,
    }


def _fast(text: str) -> TimersOutput | None:
    """The usual layout read in C (see `_FAST`), or None: the strict path decides."""
    norm = normalize(text) + "\n"
    if _FAST.fullmatch(norm) is None:
        return None
    timers: list[dict[str, Any]] = []
    section = ""
    try:
        for head, d, h, m, s, at, label in _FAST_LINE.findall("\n" + norm):
            if head:
                section = head.rstrip()
            else:
                timers.append(
                    _timer(section, label.rstrip(), countdown_seconds(d or None, h or None, m or None, s), at)
                )
    except TimeFormatError:
        return None  # the strict path names the line
    return TimersOutput.model_validate({"timers": timers})


@register(r"(?:show|sh) crypto pki timers?(?: detail)?")
def parse_timers(text: str, platform: str | None = None, *, fast: bool = True) -> TimersOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    if is_empty(lines):
        return TimersOutput()
    check_placed(COMMAND, lines, GRAMMAR)
    expected = sum(1 for ln in lines if _TIMER.fullmatch(ln.strip()))
    first = next(ln for ln in lines if ln.strip())
    if not GRAMMAR[0].fullmatch(first.strip()):
        raise ParseError(COMMAND, "output does not start with a timer section header", first, 1)
    raw: dict[str, Any] = run_template("timers", stripped_text(lines))
    sections = as_list(raw.get("sections"))
    timers: list[dict[str, Any]] = []
    for sec in sections:
        items = as_list(sec.get("timers"))
        if not items:  # IOS prints a section only when it holds a timer
            no, head = next(
                ((n, ln) for n, ln in enumerate(lines, 1) if ln.strip() == sec["section"]), (None, None)
            )
            raise ParseError(
                COMMAND, f"section {sec['section']!r} without timers (truncated output?)", head, no
            )
        for it in items:
            try:
                timers.append(
                    _timer(sec["section"], it["label"], parse_countdown(it["countdown"]), it.get("at"))
                )
            except TimeFormatError as exc:
                raise ParseError(COMMAND, str(exc), it["label"]) from None
    if len(timers) != expected:
        raise ParseError(COMMAND, f"placed {len(timers)} of {expected} timer lines")
    return TimersOutput.model_validate({"timers": timers})
