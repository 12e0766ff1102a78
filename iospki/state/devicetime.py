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

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel

from iospki.models import (
    CAServer,
    Certificate,
    Clock,
    Crl,
    IssuedCertificate,
    KeyPair,
    NtpStatus,
    RevokedEntry,
    Timer,
)

# at import, not per call (a second per million hosts): the loader, this module's one user, imports the parsers
from iospki.parsers.config_facts import clock_zones

M = TypeVar("M", bound=BaseModel)

_QUARTER = 15 * 60


# copied for each device: building it anew (two timedeltas) cost 2 us a host
_UNIVERSAL = {"UTC": timedelta(0), "GMT": timedelta(0)}


@dataclass
class Zones:
    """Zone abbreviation -> offset east of UTC, for one device."""

    offsets: dict[str, timedelta] = field(default_factory=_UNIVERSAL.copy)
    source: str = "default"
    unknown: set[str] = field(default_factory=set)


def from_config(text: str) -> Zones:
    """The zones a running config names (`clock timezone`, `clock summer-time`: read by `iospki.parsers`).

    >>> z = from_config("clock timezone CET 1 0\\nclock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00\\n")
    >>> z.offsets["CET"], z.offsets["CEST"], z.source
    (datetime.timedelta(seconds=3600), datetime.timedelta(seconds=7200), 'clock timezone')
    """
    z = Zones()
    configured = clock_zones(text)
    if configured:
        z.offsets.update(configured)
        z.source = "clock timezone"
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


# The dated fields of every model the device prints in its own zone (the zone name is in the model's `tz`),
# keyed by type: a subclass is converted as its base. `tests/test_state_loader.py` checks that every model
# of `iospki.models` with a datetime field is here, in PRINTED_IN_UTC or NESTED, so none can be forgotten.
DATED: dict[type[BaseModel], tuple[str, ...]] = {
    Certificate: ("start", "end", "renew", "install_time"),
    CAServer: ("ca_expires", "crl_next_update", "autorollover_at", "rollover_expires"),
    IssuedCertificate: ("issued", "expires"),
    Crl: ("this_update", "next_update", "downloaded_at"),
    KeyPair: ("generated_at",),
    NtpStatus: ("reference_time",),
    Clock: ("time",),
}
# IOS prints these in UTC whatever the device's zone (`show crypto pki timers detail`)
PRINTED_IN_UTC: tuple[type[BaseModel], ...] = (Timer,)
# models without a zone of their own, converted (in `to_utc`) with the model that holds them
NESTED: dict[type[BaseModel], type[BaseModel]] = {RevokedEntry: Crl}


def dated_fields(model: type[BaseModel]) -> tuple[str, ...] | None:
    """The fields `to_utc` converts for `model` (None: it has no device-local times)."""
    try:
        return _FIELDS[model]
    except KeyError:
        pass
    found = next((DATED[cls] for cls in model.__mro__ if cls in DATED), None)
    _FIELDS[model] = found
    return found


_FIELDS: dict[type[BaseModel], tuple[str, ...] | None] = {}  # `dated_fields` by type: one MRO walk per type


def to_utc(obj: M, zones: Zones) -> M:
    """`obj` (one parsed model) with its device-local times in UTC (tz becomes 'UTC' when known).

    A model whose times change is copied: the object itself stays as parsed. One that is UTC already (tz
    'UTC', offset 0) is returned as it is, as one without a zone or in a zone this device does not define
    (recorded in `zones.unknown`, its times left as printed): parsed models are never changed in place, so
    the state and its printed view may share them. A model with datetime fields that has no rule here is a
    programming error (TypeError), never a silently unconverted time.
    """
    names = dated_fields(type(obj))
    if names is None:
        if isinstance(obj, PRINTED_IN_UTC):
            return obj
        raise TypeError(f"no time-zone rule for {type(obj).__name__}: add it to devicetime.DATED")
    tz = getattr(obj, "tz", None)
    if tz is None:
        return obj
    off = zones.offsets.get(tz)
    if off is None:
        zones.unknown.add(tz)
        return obj
    if not off and tz == "UTC":  # nothing would change: the copy would equal the model
        return obj
    update: dict[str, object] = {"tz": "UTC"}
    if off:
        update.update({n: getattr(obj, n) - off for n in names if getattr(obj, n) is not None})
        if isinstance(obj, Crl):  # revoked entries carry no zone of their own: they are in the CRL's
            update["revoked"] = [
                e.model_copy(update={"revoked_at": e.revoked_at - off}) if e.revoked_at is not None else e
                for e in obj.revoked
            ]
    return obj.model_copy(update=update)
