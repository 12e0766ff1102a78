"""The forecast's result: events, outage windows and the `Forecast` that holds them (what reports read).

Event names are the IOS timer names where IOS has one; the simulator (`simulator.py`) produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Event names: the IOS timer names where IOS has one.
CS_SHADOW_CERT_GENERATION = "CS SHADOW CERT GENERATION"
CS_CERT_EXPIRE = "CS CERT EXPIRE"
ER_EXPIRE = "ER EXPIRE"
RENEW = "RENEW"
RENEW_FAILED = "RENEW FAILED"
RENEW_PENDING = "RENEW PENDING"
SHADOW_RENEWAL = "SHADOW RENEWAL"
SHADOW_RENEWAL_FAILED = "SHADOW RENEWAL FAILED"
SHADOW = "SHADOW"
SHADOW_FAILED = "SHADOW FAILED"
POLL = "POLL"
POLL_LAST = "POLL LAST"
ROLLOVER_ACTIVATION = "ROLLOVER ACTIVATION"
CERT_END = "CERT END"
CERT_INSTALL = "CERT INSTALL"  # a first certificate fetched by the poll after a manual grant (P1)
CA_CERT_END = "CA CERT END"

NO_IDENTITY = "no-identity-certificate"
CA_UNTRUSTED = "ca-untrusted"


@dataclass(frozen=True, order=True)
class Event:
    at: datetime
    host: str
    subject: str
    event: str
    trustpoint: str | None = None
    detail: str = ""
    valid_from: datetime | None = None  # the certificate this event yields, when it yields one
    valid_to: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "subject": self.subject,
            "event": self.event,
            "at": self.at.isoformat(),
            "trustpoint": self.trustpoint,
            "detail": self.detail,
        }
        if self.valid_from and self.valid_to:
            out["valid_from"] = self.valid_from.isoformat()
            out["valid_to"] = self.valid_to.isoformat()
        return out


@dataclass(frozen=True)
class Outage:
    host: str
    trustpoint: str
    start: datetime
    end: datetime | None  # None: no recovery predicted within the horizon
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "trustpoint": self.trustpoint,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Unpredictable:
    """A host the forecast could not predict (failed, or its collection incomplete), and why."""

    host: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "reason": self.reason}


@dataclass
class Forecast:
    start: datetime
    until: datetime
    events: list[Event] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # hosts left out: "no outage" is a verdict only for the hosts that were predicted
    unpredictable: list[Unpredictable] = field(default_factory=list)

    def leave_out(self, reasons: dict[str, str]) -> None:
        """Drop the events and outages of the hosts in `reasons` (host -> why it cannot be predicted):
        whatever the simulator made of incomplete data is no prediction; list them as unpredictable."""
        if not reasons:
            return
        self.events = [e for e in self.events if e.host not in reasons]
        self.outages = [o for o in self.outages if o.host not in reasons]
        known = {u.host for u in self.unpredictable}
        self.unpredictable += [Unpredictable(h, why) for h, why in sorted(reasons.items()) if h not in known]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "iospki.forecast/1",
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "events": [e.to_json() for e in self.events],
            "outages": [o.to_json() for o in self.outages],
            "notes": list(self.notes),
            "unpredictable": [u.to_json() for u in self.unpredictable],
        }

    def events_for(self, host: str, event: str | None = None) -> list[Event]:
        return [e for e in self.events if e.host == host and (event is None or e.event == event)]
