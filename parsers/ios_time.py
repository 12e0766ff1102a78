"""Time formats IOS prints: `HH:MM:SS[.mmm] TZ Mon D YYYY` (optionally with a weekday),
countdowns such as `1094d 5:21:45.573`, and ISO-8601 `...Z` stamps."""

from __future__ import annotations

import re
from datetime import datetime

MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}

# [*.]HH:MM:SS[.fff] TZ [Wkd] Mon D YYYY ; TZ may be a word such as 'Moscow' or absent
IOS_TIME = re.compile(
    r"(?P<flag>[*.])?(?P<h>\d{1,2}):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d+))?"
    r"(?:\s+(?P<tz>[A-Za-z][\w+\-/]*))??"
    r"(?:\s+(?P<wd>Mon|Tue|Wed|Thu|Fri|Sat|Sun))?"
    r"\s+(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(?P<d>\d{1,2})\s+(?P<y>\d{4})"
)

# The usual layout, one blank between the fields and the zone always printed: the same fields as `IOS_TIME`
# reads, in one pass without its lazy zone group (which tries each string twice). `IOS_TIME` reads a weekday
# in the zone's place as a weekday and no zone ('12:00:00 Mon Mar 4 2024'), so `parse_ios_time` does too.
_USUAL = re.compile(
    r"[*.]?+(\d{1,2}+):(\d\d):(\d\d)(?:\.(\d++))?+ ([A-Za-z][\w+\-/]*+)(?: (Mon|Tue|Wed|Thu|Fri|Sat|Sun))?+"
    r" (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2}+) (\d{4})"
)
WEEKDAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))

COUNTDOWN = re.compile(r"(?:(?P<d>\d+)d\s*)?(?:(?P<h>\d+):)?(?:(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)")


class TimeFormatError(ValueError):
    """A time the device printed in a form this module does not know (parsers turn it
    into a ParseError naming the line)."""


def parse_ios_time(text: str) -> tuple[datetime, str | None]:
    """An IOS time stamp -> (naive datetime on the device's clock, zone name or None).

    >>> parse_ios_time("12:58:34 UTC Jan 4 2025")
    (datetime.datetime(2025, 1, 4, 12, 58, 34), 'UTC')
    >>> parse_ios_time("*10:15:00.123 CET Mon Mar 4 2024")  # show clock: flag and weekday
    (datetime.datetime(2024, 3, 4, 10, 15, 0, 123000), 'CET')
    >>> parse_ios_time("13:14:16 Moscow Oct 8 2017")[1]
    'Moscow'
    >>> parse_ios_time("13:14:16 Sun Oct 8 2017")[1], parse_ios_time("13:14:16  UTC Oct 8 2017")[1]
    (None, 'UTC')
    >>> parse_ios_time("25:00:00 UTC Jan 4 2025")
    Traceback (most recent call last):
    ...
    iospki.parsers.ios_time.TimeFormatError: not a valid date: '25:00:00 UTC Jan 4 2025'
    """
    stamp = text.strip()
    usual = _USUAL.fullmatch(stamp)
    if usual is not None:
        h, mi, s, frac, tz, wd, mon, d, y = usual.groups()
        if wd is None and tz in WEEKDAYS:
            tz = None
    else:
        m = IOS_TIME.fullmatch(stamp)
        if not m:
            raise TimeFormatError(f"not an IOS time: {stamp!r}")
        h, mi, s, frac, tz, mon, d, y = m.group("h", "m", "s", "frac", "tz", "mon", "d", "y")
    try:
        return ios_datetime(y, mon, d, h, mi, s, frac), tz
    except ValueError as exc:
        raise TimeFormatError(f"not a valid date: {stamp!r}") from exc


def ios_datetime(y: str, mon: str, d: str, h: str, mi: str, s: str, frac: str | None) -> datetime:
    """The datetime of an IOS time's fields (`mon` a key of MONTHS, the rest digits); ValueError for a date
    that does not exist. `show clock`'s fast path gives its own fields here.

    >>> ios_datetime("2024", "Mar", "4", "10", "15", "00", "123")
    datetime.datetime(2024, 3, 4, 10, 15, 0, 123000)
    """
    return datetime(int(y), MONTHS[mon], int(d), int(h), int(mi), int(s), int(((frac or "0") + "000000")[:6]))


def parse_countdown(text: str) -> float:
    """A `show crypto pki timers` countdown -> seconds. With one colon the fields are
    minutes:seconds.

    >>> parse_countdown("1094d 5:21:45.573")
    94540905.573
    >>> parse_countdown("291d23:54:53.214"), parse_countdown("4:37.977"), parse_countdown("48.241")
    (25228493.214, 277.977, 48.241)
    """
    m = COUNTDOWN.fullmatch(text.strip())
    if not m:
        raise TimeFormatError(f"not a countdown: {text.strip()!r}")
    return countdown_seconds(m["d"], m["h"], m["m"], m["s"])


def countdown_seconds(d: str | None, h: str | None, m: str | None, s: str) -> float:
    """Seconds from the groups of `COUNTDOWN` (the timers fast path captures the same groups in its line regex).

    >>> countdown_seconds("1094", "5", "21", "45.573"), countdown_seconds(None, "4", None, "37.977")
    (94540905.573, 277.977)
    """
    # the regex fills h before m; with a single colon the value is minutes
    if m is None:
        hours, minutes = 0, int(h or 0)
    else:
        hours, minutes = int(h or 0), int(m)
    whole = int(d or 0) * 86400 + hours * 3600 + minutes * 60
    sec, _, frac = s.partition(".")
    total = whole + int(sec)
    if len(frac) <= 3 and total < 10**11:
        # whole milliseconds / 1000 (int division rounds correctly) is the float `round(..., 3)` below gives:
        # below 10**11 s the float sum is off by far less than half a millisecond; saves a decimal round trip
        return (total * 1000 + int(frac.ljust(3, "0"))) / 1000
    return round(whole + float(s), 3)


def parse_iso_utc(text: str) -> datetime:
    """An ISO 8601 stamp (`show crypto pki timers detail`) -> naive datetime in UTC.

    >>> parse_iso_utc("2022-01-15T08:54:35Z")
    datetime.datetime(2022, 1, 15, 8, 54, 35)
    >>> parse_iso_utc("2022-01-15T10:54:35+02:00")
    datetime.datetime(2022, 1, 15, 8, 54, 35)
    """
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TimeFormatError(f"not an ISO time: {text.strip()!r}") from exc
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None) - (dt.utcoffset() or (dt - dt))
    return dt
