"""`show clock [detail]` into `Clock` and `show ntp status` into `NtpStatus`."""

from __future__ import annotations

import re
from typing import Any

from iospki.models import Clock, NtpStatus

from .base import ParseError, register
from .ios_time import IOS_TIME, TimeFormatError, parse_ios_time
from .lines import check_placed, compile_all, compile_rules, device_lines, stripped_text, verify_landed
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


@register(r"(?:show|sh) clock(?: detail)?")
def parse_clock(text: str, platform: str | None = None) -> Clock:
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
    flag = raw.get("flag", "")
    try:
        when, tz = parse_ios_time(
            f"{raw['hms']} {raw['tz']} {raw['wd']} {raw['mon']} {raw['day']} {raw['year']}"
        )
    except (TimeFormatError, KeyError) as exc:
        raise ParseError(CLOCK, str(exc), times[0]) from None
    return Clock(
        time=when,
        tz=tz,
        authoritative=flag != "*",
        ntp_unsynced=flag == ".",
        source=raw.get("source"),
    )


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


def _num(raw: dict[str, Any], key: str, cast: type[float] | type[int] = float) -> Any:
    val = raw.get(key)
    return cast(val) if val is not None else None


@register(r"(?:show|sh) ntp status")
def parse_ntp_status(text: str, platform: str | None = None) -> NtpStatus:
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
    ref_time, tz = None, None
    if raw.get("reftime"):
        m = IOS_TIME.fullmatch(raw["reftime"].strip())
        if m:
            try:
                ref_time, tz = parse_ios_time(raw["reftime"])
            except TimeFormatError as exc:  # e.g. hour 93: name the line, not a bare ValueError
                line = next(ln for ln in lines if ln.strip().startswith("reference time is"))
                raise ParseError(NTP, str(exc), line, lines.index(line) + 1) from None
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
