"""`show clock [detail]` into `Clock` and `show ntp status` into `NtpStatus`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from iospki.models import Clock, NtpStatus

from .base import ParseError, register
from .ios_time import IOS_TIME, MONTHS, WEEKDAYS, TimeFormatError, ios_datetime, parse_ios_time
from .lines import check_placed, compile_all, compile_rules, device_lines, stripped_text, verify_landed
from .noise import normalize
from .ttp_runner import run_template

CLOCK = "show clock"
NTP = "show ntp status"

_CLOCK_GRAMMAR = compile_all(
    r"[*.]?\d{1,2}:\d\d:\d\d(?:\.\d+)? [A-Za-z][\w+\-/]* [A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2} \d{4}",
    r"Time source is [\w ]+",
    r"No time source",
)


def _one(raw: dict[str, Any], key: str) -> dict[str, Any]:
    val = raw.get(key, {})
    if isinstance(val, list):  # several groups: the output held the block twice
        val = val[0] if val else {}
    return val if isinstance(val, dict) else {}


# Fast path (as for the other short outputs, see parsers/timers.py): the usual layout, the time
# line then at most one source line, read by one fullmatch without TTP; else the strict path.
_FAST_CLOCK = re.compile(
    r"\s*(?P<flag>[*.]?)(?P<hms>\d{1,2}:\d\d:\d\d(?:\.\d+)?) (?P<tz>[A-Za-z][\w+\-/]*)"
    r" (?P<wd>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2}) (?P<year>\d{4})[ \t]*"
    r"(?:\n[ \t]*(?:Time source is (?P<source>\w+(?: \w+)*)|(?P<none>No time source))[ \t]*)?\s*"
)


def _clock(raw: dict[str, Any]) -> Clock:
    """The model from TTP's record; TimeFormatError, KeyError."""
    when, tz = parse_ios_time(f"{raw['hms']} {raw['tz']} {raw['wd']} {raw['mon']} {raw['day']} {raw['year']}")
    return _clock_model(raw.get("flag") or "", when, tz, raw.get("source"))


def _clock_model(flag: str, when: datetime, tz: str | None, source: str | None) -> Clock:
    return Clock(time=when, tz=tz, authoritative=flag != "*", ntp_unsynced=flag == ".", source=source)


def _fast_clock(text: str) -> Clock | None:
    m = _FAST_CLOCK.fullmatch(normalize(text))
    if m is None:
        return None
    flag, hms, tz, wd, mon, day, year, source, none = m.groups()
    # what `_clock` gets from `parse_ios_time` on these fields, without printing and reading them again: with a
    # weekday printed the zone is the word before it (`IOS_TIME`), a weekday or month IOS does not print is
    # no time (the strict path names the line)
    if wd not in WEEKDAYS or mon not in MONTHS:
        return None
    h, mi, sec = hms.split(":")
    sec, _, frac = sec.partition(".")
    try:
        when = ios_datetime(year, mon, day, h, mi, sec, frac)
    except ValueError:
        return None
    return _clock_model(flag, when, tz, source or none)


@register(r"(?:show|sh) clock(?: detail)?")
def parse_clock(text: str, platform: str | None = None, *, fast: bool = True) -> Clock:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast and (quick := _fast_clock(text)) is not None:
        return quick
    lines = device_lines(text)
    check_placed(CLOCK, lines, _CLOCK_GRAMMAR)
    times = [ln for ln in lines if _CLOCK_GRAMMAR[0].fullmatch(ln.strip())]
    if len(times) != 1:
        raise ParseError(CLOCK, f"expected one time line, found {len(times)}", lines[0], 1)
    sources = [ln for ln in lines if ln.strip() and not _CLOCK_GRAMMAR[0].fullmatch(ln.strip())]
    if len(sources) > 1:
        raise ParseError(CLOCK, "more than one time source line", sources[1])
    raw = _one(run_template("clock", stripped_text(lines)), "clock")
    if "hms" not in raw:
        raise ParseError(CLOCK, "no time found", times[0])
    try:
        return _clock(raw)
    except (TimeFormatError, KeyError) as exc:
        raise ParseError(CLOCK, str(exc), times[0]) from None


_NTP_RULES = compile_rules(
    (
        r"Clock is (?:synchronized|unsynchronized), stratum \d+, (?:reference is \S+|no reference clock)",
        ("status", "stratum", "reference"),
    ),
    (
        r"nominal freq is [\d.]+ Hz, actual freq is [\d.]+ Hz, precision is \S+",
        ("nominal", "actual", "precision"),
    ),
    (r"ntp uptime is \d+ \(1/100 of seconds\), resolution is \d+", ("uptime", "resolution")),
    (r"reference time is [0-9A-Fa-f.]+ \(.+\)", ("reftime",)),
    (r"clock offset is -?[\d.]+ msec, root delay is -?[\d.]+ msec", ("offset", "root_delay")),
    (r"root dispersion is -?[\d.]+ msec, peer dispersion is -?[\d.]+ msec", ("root_disp", "peer_disp")),
    (r"loopfilter state is .+, drift is -?[\d.]+ s/s", ("loopfilter", "drift")),
    (r"system poll interval is \d+, last update was \d+ sec ago\.", ("poll", "last_update")),
    (r"system poll interval is \d+, never updated\.", ("poll",)),
)
_NTP_GRAMMAR = tuple(rx for rx, _ in _NTP_RULES)
_NTP_OFF = re.compile(r"%\s*NTP is not enabled\.?")


class _NotANumber(ValueError):
    """A value the grammar's digits-and-dots pattern let through that is no number, e.g. '0..5' (`value`: as printed)."""

    def __init__(self, value: str) -> None:
        super().__init__(f"not a number: {value!r}")
        self.value = value


def _num(raw: dict[str, Any], key: str, cast: type[float] | type[int] = float) -> Any:
    val = raw.get(key)
    if val is None:
        return None
    try:
        return cast(val)
    except ValueError:
        raise _NotANumber(val) from None


# Fast path: the lines of `_NTP_RULES` in the order IOS prints them (the first required, the rest
# optional), values as TTP captures them, read by one fullmatch; else the strict path.
_N = r"-?[\d.]+"
_FAST_NTP = re.compile(
    r"\s*Clock is (?P<status>synchronized|unsynchronized), stratum (?P<stratum>\d+),"
    r" (?P<reference>reference is \S+|no reference clock)[ \t]*\n"
    r"(?:[ \t]*nominal freq is (?P<nominal>[\d.]+) Hz, actual freq is (?P<actual>[\d.]+) Hz,"
    r" precision is (?P<precision>\S+)[ \t]*\n)?"
    r"(?:[ \t]*ntp uptime is (?P<uptime>\d+) \(1/100 of seconds\), resolution is (?P<resolution>\d+)[ \t]*\n)?"
    r"(?:[ \t]*reference time is [0-9A-Fa-f.]+ \((?P<reftime>[^\n]+)\)[ \t]*\n)?"
    rf"(?:[ \t]*clock offset is (?P<offset>{_N}) msec, root delay is (?P<root_delay>{_N}) msec[ \t]*\n)?"
    rf"(?:[ \t]*root dispersion is (?P<root_disp>{_N}) msec,"
    rf" peer dispersion is (?P<peer_disp>{_N}) msec[ \t]*\n)?"
    rf"(?:[ \t]*loopfilter state is (?P<loopfilter>\S[^\n]*?), drift is (?P<drift>{_N} s/s)[ \t]*\n)?"
    r"(?:[ \t]*system poll interval is (?P<poll>\d+),"
    r" (?:last update was (?P<last_update>\d+) sec ago|never updated)\.[ \t]*\n)?"
    r"\s*"
)


def _fast_ntp(text: str) -> NtpStatus | None:
    m = _FAST_NTP.fullmatch(normalize(text) + "\n")
    if m is None:
        return None
    raw = {k: v for k, v in m.groupdict().items() if v is not None}
    try:
        return _ntp(raw)
    except ValueError:  # TimeFormatError, or a number such as '0..5' (`[\d.]+` lets it through)
        return None  # the strict path names the line


@register(r"(?:show|sh) ntp status")
def parse_ntp_status(text: str, platform: str | None = None, *, fast: bool = True) -> NtpStatus:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast and (quick := _fast_ntp(text)) is not None:
        return quick
    lines = device_lines(text)
    body = [ln.strip() for ln in lines if ln.strip()]
    if len(body) == 1 and _NTP_OFF.fullmatch(body[0]):
        return NtpStatus(synchronized=False, enabled=False)
    check_placed(NTP, lines, _NTP_GRAMMAR)
    heads = [ln for ln in lines if _NTP_GRAMMAR[0].fullmatch(ln.strip())]
    if len(heads) != 1:
        raise ParseError(NTP, f"expected one 'Clock is ...' line, found {len(heads)}", lines[0], 1)
    raw = _one(run_template("ntp_status", stripped_text(lines)), "ntp")
    if "status" not in raw:
        raise ParseError(NTP, "no clock status found", heads[0])
    verify_landed(NTP, lines, _NTP_RULES, raw)
    try:
        return _ntp(raw)
    except TimeFormatError as exc:  # e.g. hour 93: name the line, not a bare ValueError
        line = next(ln for ln in lines if ln.strip().startswith("reference time is"))
        raise ParseError(NTP, str(exc), line, lines.index(line) + 1) from None
    except _NotANumber as exc:
        no, line = next((n, ln) for n, ln in enumerate(lines, 1) if exc.value in ln)
        raise ParseError(NTP, str(exc), line, no) from None


def _ntp(raw: dict[str, Any]) -> NtpStatus:
    """The model from TTP's record or the fast path's groups (the same keys); TimeFormatError."""
    ref_time, tz = None, None
    if raw.get("reftime") and IOS_TIME.fullmatch(raw["reftime"].strip()):
        ref_time, tz = parse_ios_time(raw["reftime"])
    reference = raw.get("reference", "")
    reference = reference[len("reference is ") :] if reference.startswith("reference is ") else None
    uptime = _num(raw, "uptime", int)
    return NtpStatus(
        synchronized=raw["status"] == "synchronized",
        stratum=_num(raw, "stratum", int),
        reference=reference,
        nominal_freq_hz=_num(raw, "nominal"),
        actual_freq_hz=_num(raw, "actual"),
        precision=raw.get("precision"),
        uptime_seconds=uptime / 100 if uptime is not None else None,
        resolution=_num(raw, "resolution", int),
        reference_time=ref_time,
        tz=tz,
        offset_ms=_num(raw, "offset"),
        root_delay_ms=_num(raw, "root_delay"),
        root_dispersion_ms=_num(raw, "root_disp"),
        peer_dispersion_ms=_num(raw, "peer_disp"),
        loopfilter_state=raw.get("loopfilter"),
        drift=raw.get("drift"),
        poll_interval=_num(raw, "poll", int),
        last_update_seconds=_num(raw, "last_update", int),
    )
