"""`show crypto pki timers [detail]`: classic IOS (countdown only) and IOS-XE detail
(countdown plus ISO time) into `TimersOutput`."""

from __future__ import annotations

import re
from typing import Any

from iospki.models import Timer, TimersOutput

from .base import ParseError, register
from .ios_time import TimeFormatError, parse_countdown, parse_iso_utc
from .lines import check_placed, compile_all, device_lines, is_empty, stripped_text
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


@register(r"(?:show|sh) crypto pki timers?(?: detail)?")
def parse_timers(text: str, platform: str | None = None) -> TimersOutput:
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
    timers: list[Timer] = []
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
            kind, target = split_label(it["label"])
            try:
                timers.append(
                    Timer(
                        section=sec["section"].rstrip(":"),
                        kind=kind,
                        target=target,
                        label=" ".join(it["label"].split()),
                        remaining_seconds=parse_countdown(it["countdown"]),
                        at=parse_iso_utc(it["at"]) if it.get("at") else None,
                    )
                )
            except TimeFormatError as exc:
                raise ParseError(COMMAND, str(exc), it["label"]) from None
    if len(timers) != expected:
        raise ParseError(COMMAND, f"placed {len(timers)} of {expected} timer lines")
    return TimersOutput(timers=timers)
