"""Device times to UTC.

IOS prints `show clock`, certificate and server dates in the device's zone (`clock timezone NAME H
[M]`, and `clock summer-time NAME ...` in summer), each with its zone abbreviation, while `show crypto
pki timers detail` prints UTC. Abbreviations are not unique world-wide, but on one device they are:
the configured standard and summer names. So every time is converted with the offset of the zone
name printed beside it, and a host's times (and hosts in different zones) compare exactly.

When the running config is missing, the offset of the zone `show clock` prints is measured: a
timer line gives UTC now (its absolute time minus its countdown), `show clock` gives local now;
the difference rounded to 15 minutes is the offset (outputs of one collection are seconds apart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

_TZ = re.compile(r"^\s*clock timezone (\S+)\s+(-?\d+)(?:\s+(\d+))?", re.MULTILINE)
_SUMMER = re.compile(r"^\s*clock summer-time (\S+)\s+(recurring|date)\b(.*)$", re.MULTILINE)
_QUARTER = 15 * 60


@dataclass
class Zones:
    """Zone abbreviation -> offset east of UTC, for one device."""

    offsets: dict[str, timedelta] = field(default_factory=lambda: {"UTC": timedelta(0), "GMT": timedelta(0)})
    source: str = "default"
    unknown: set[str] = field(default_factory=set)

    def to_utc(self, t: datetime | None, tz: str | None) -> datetime | None:
        if t is None or tz is None:
            return t
        off = self.offsets.get(tz)
        if off is None:
            self.unknown.add(tz)
            return t
        return t - off


def from_config(text: str) -> Zones:
    """The zones a running config names.

    >>> z = from_config("clock timezone CET 1 0\\nclock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00\\n")
    >>> z.offsets["CET"], z.offsets["CEST"]
    (datetime.timedelta(seconds=3600), datetime.timedelta(seconds=7200))
    >>> from_config("clock timezone IST 5 30").offsets["IST"]
    datetime.timedelta(seconds=19800)
    >>> from_config("clock timezone PST -8 0\\nclock summer-time PDT recurring").offsets["PDT"]
    datetime.timedelta(days=-1, seconds=61200)
    """
    z = Zones()
    m = _TZ.search(text)
    if m is None:
        return z
    hours, minutes = int(m[2]), int(m[3] or 0)
    std = timedelta(hours=hours, minutes=-minutes if hours < 0 else minutes)
    z.offsets[m[1]] = std
    z.source = "clock timezone"
    s = _SUMMER.search(text)
    if s is not None:
        args = s[3].split()
        # recurring: 8 words then [offset]; date: 10 words then [offset]; default 60 minutes
        n = 8 if s[2] == "recurring" else 10
        extra = int(args[n]) if len(args) > n and args[n].isdigit() else 60
        z.offsets[s[1]] = std + timedelta(minutes=extra)
    return z


def measure(local_now: datetime, utc_now: datetime) -> timedelta | None:
    """The offset between a local and a UTC reading of the same moment, rounded to 15 minutes.

    >>> measure(datetime(2026, 6, 1, 14, 0, 3), datetime(2026, 6, 1, 12, 0, 0))
    datetime.timedelta(seconds=7200)
    """
    secs = (local_now - utc_now).total_seconds()
    q = round(secs / _QUARTER) * _QUARTER
    if abs(secs - q) > 180 or abs(q) > 14 * 3600:  # too far apart to be one moment
        return None
    return timedelta(seconds=q)


_DATED: dict[str, tuple[str, ...]] = {
    "Certificate": ("start", "end", "renew", "install_time"),
    "CAServer": ("ca_expires", "crl_next_update", "autorollover_at", "rollover_expires"),
    "IssuedCertificate": ("issued", "expires"),
    "Crl": ("this_update", "next_update", "downloaded_at"),
    "KeyPair": ("generated_at",),
    "NtpStatus": ("reference_time",),
    "Clock": ("time",),
}


def convert(obj: Any, zones: Zones) -> None:
    """Convert the dated fields of one parsed model in place (tz becomes 'UTC' when known)."""
    names = _DATED.get(type(obj).__name__)
    tz = getattr(obj, "tz", None)
    if names is None or tz is None or tz not in zones.offsets:
        if tz is not None and names is not None:
            zones.unknown.add(tz)
        return
    if zones.offsets[tz]:
        for n in names:
            setattr(obj, n, zones.to_utc(getattr(obj, n), tz))
        for r in getattr(obj, "revoked", None) or []:  # CRL entries carry no zone of their own
            if getattr(r, "revoked_at", None) is not None:
                r.revoked_at = r.revoked_at - zones.offsets[tz]
    obj.tz = "UTC"
