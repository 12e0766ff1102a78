"""IOS PKI timer arithmetic (rules.md, behaviour doc §1.2-1.5), as small pure functions.

All datetimes are naive, on the device clock; results are floored to whole seconds
because X.509 validity and IOS timers work in seconds.

    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2024, 1, 1)
    >>> renew_at(t0, t0 + timedelta(days=365), 80)
    datetime.datetime(2024, 10, 19, 0, 0)
    >>> shadow_at(t0, t0 + timedelta(days=730))
    datetime.datetime(2025, 10, 19, 0, 0)
    >>> cs_shadow_generation_at(t0 + timedelta(days=730), timedelta(days=90))
    datetime.datetime(2025, 10, 2, 0, 0)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

DEFAULT_CERT_LIFETIME = timedelta(days=365)
DEFAULT_CA_LIFETIME = timedelta(days=1095)
DEFAULT_AUTO_ROLLOVER = timedelta(days=30)
DEFAULT_ENROLLMENT_REQUEST_LIFETIME = timedelta(hours=168)
DEFAULT_RETRY_PERIOD = timedelta(minutes=1)
DEFAULT_RETRY_COUNT = 999
# P1: the seed states no ceiling for the doubling POLL period; 60 minutes is inferred (the largest documented
# `enrollment retry period`, IOS XR, behaviour doc §1.4), so that 999 retries do not run for years
POLL_CAP = timedelta(minutes=60)
SHADOW_FRACTION = 0.9
MIN_ROLLOVER_FRACTION = 0.1
MIN_ROLLOVER_LENGTH = timedelta(minutes=3)


def floor_second(t: datetime) -> datetime:
    """Drop sub-second precision.

    >>> floor_second(datetime(2024, 1, 1, 0, 0, 1, 999999))
    datetime.datetime(2024, 1, 1, 0, 0, 1)
    """
    return t.replace(microsecond=0)


def _frac(delta: timedelta, fraction: float) -> timedelta:
    # exact integer arithmetic on microseconds avoids float drift over years
    us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return timedelta(microseconds=round(us * fraction))


def renew_at(t0: datetime, not_after: datetime, percent: int | None) -> datetime:
    """RENEW time (C2): T0 + P/100 × (notAfter − T0); without P the certificate's end.

    >>> renew_at(datetime(2024, 1, 1), datetime(2024, 1, 1, 0, 30), 50)
    datetime.datetime(2024, 1, 1, 0, 15)
    >>> renew_at(datetime(2024, 1, 1), datetime(2025, 1, 1), None)
    datetime.datetime(2025, 1, 1, 0, 0)
    """
    if percent is None:
        return floor_second(not_after)
    us = _micro(not_after - t0) * percent // 100
    return floor_second(t0 + timedelta(microseconds=us))


def _micro(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def install_time_from_renew(renew: datetime, not_after: datetime, percent: int) -> datetime:
    """Recover T0 from a printed `renew date` (renew = T0 + P%(end − T0)).

    >>> install_time_from_renew(datetime(2023, 4, 10, 9, 19, 52), datetime(2023, 6, 22, 9, 17, 52), 80)
    datetime.datetime(2022, 6, 22, 9, 27, 52)
    """
    if percent >= 100:
        raise ValueError("renew date at 100 % does not reveal the install time")
    us = _micro(not_after - renew) * 100 // (100 - percent)
    return floor_second(not_after - timedelta(microseconds=us))


def shadow_at(ca_start: datetime, ca_end: datetime) -> datetime:
    """Client SHADOW / GetNextCACert time (C5): CA notBefore + 90 % of the CA lifetime."""
    return floor_second(ca_start + timedelta(microseconds=_micro(ca_end - ca_start) * 9 // 10))


def poll_period(first: timedelta, n: int) -> timedelta:
    """Period before poll `n` (n >= 1) of a PENDING request (P1): the retry period, again the retry period, then
    doubling (1, 1, 2, 4 ... minutes by default), never over `POLL_CAP` (unless the retry period itself is).

    >>> [int(poll_period(timedelta(minutes=1), n).total_seconds() // 60) for n in range(1, 9)]
    [1, 1, 2, 4, 8, 16, 32, 60]
    """
    factor: int = 2 ** min(max(n - 2, 0), 16)  # int ** int is typed Any (a negative power is a float); >= 0 here
    return min(first * factor, max(first, POLL_CAP))


def poll_times(requested: datetime, first: timedelta, count: int, stop: datetime | None = None) -> list[datetime]:
    """When the polls (GetCertInitial) of a request answered PENDING at `requested` go out (P1): at most
    `count` of them, none at or after `stop` (the CA certificate's end).

    >>> t = datetime(2027, 1, 1)
    >>> [int((p - t).total_seconds() // 60) for p in poll_times(t, timedelta(minutes=1), 999)][:8]
    [1, 2, 4, 8, 16, 32, 64, 124]
    >>> len(poll_times(t, timedelta(minutes=1), 3))
    3
    """
    out: list[datetime] = []
    at = requested
    for n in range(1, count + 1):
        at += poll_period(first, n)
        if stop is not None and at >= stop:
            break
        out.append(at)
    return out


def cs_shadow_generation_at(ca_end: datetime, overlap: timedelta) -> datetime:
    """CS SHADOW CERT GENERATION (S3): CA notAfter − auto-rollover overlap."""
    return floor_second(ca_end - overlap)


def issued_validity(grant: datetime, lifetime: timedelta, ca_end: datetime) -> tuple[datetime, datetime]:
    """Validity of an ordinary certificate (S2): from grant, `lifetime` long, never after the CA."""
    start = floor_second(grant)
    return start, min(start + lifetime, ca_end)


def rollover_validity(
    ca_end: datetime,
    lifetime: timedelta,
    current_start: datetime,
    current_end: datetime,
    rollover_ca_end: datetime,
) -> tuple[datetime, datetime]:
    """Validity of a rollover identity certificate (S5): starts at the current CA's end and runs
    for the balance of the period, at least 10 % of it and at least 3 minutes, capped at the
    rollover CA's end.

    >>> d = datetime(2024, 1, 1)
    >>> rollover_validity(d + timedelta(730), timedelta(365), d + timedelta(584), d + timedelta(730),
    ...                   d + timedelta(1460))[1] - d
    datetime.timedelta(days=949)
    """
    length = max(
        lifetime - (current_end - current_start), _frac(lifetime, MIN_ROLLOVER_FRACTION), MIN_ROLLOVER_LENGTH
    )
    start = floor_second(ca_end)
    return start, min(floor_second(start + length), rollover_ca_end)


def rollover_ca_validity(ca_end: datetime, ca_lifetime: timedelta) -> tuple[datetime, datetime]:
    """The rollover CA certificate (S3): starts at the current CA's end, one CA lifetime long."""
    return ca_end, ca_end + ca_lifetime


def min_overlap_for_autoenroll(cert_lifetime: timedelta, percent: int | None) -> timedelta:
    """Shortest auto-rollover overlap that lets a client with `auto-enroll P` find the rollover CA:
    (1 − P/100) × certificate lifetime (behaviour doc §1.8). Without P RENEW fires at expiry, so
    any overlap works.

    >>> min_overlap_for_autoenroll(timedelta(days=365), 80)
    datetime.timedelta(days=73)
    """
    if percent is None:
        return timedelta(0)
    return timedelta(microseconds=_micro(cert_lifetime) * (100 - percent) // 100)


def min_overlap_for_shadow(ca_lifetime: timedelta) -> timedelta:
    """Shortest overlap for clients that pick the rollover CA up at 90 %: 10 % of the CA lifetime.

    >>> min_overlap_for_shadow(timedelta(days=730))
    datetime.timedelta(days=73)
    """
    return timedelta(microseconds=_micro(ca_lifetime) // 10)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(y|w|d|h|min|m|s)", re.IGNORECASE)
_UNITS = {
    "y": timedelta(days=365),
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "min": timedelta(minutes=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}


def parse_duration(text: str) -> timedelta:
    """'3y', '90d', '1y6w', '12h', '30min'/'30m', '45s' (a year is 365 days).

    >>> parse_duration("3y")
    datetime.timedelta(days=1095)
    >>> parse_duration("1d12h")
    datetime.timedelta(days=1, seconds=43200)
    """
    s = text.strip().replace(" ", "")
    pos = 0
    total = timedelta(0)
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += _UNITS[m.group(2).lower()] * float(m.group(1))
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"not a duration: {text!r} (use e.g. 3y, 90d, 12h, 30m)")
    return total
