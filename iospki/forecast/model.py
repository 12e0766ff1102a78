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


@dataclass
class Forecast:
    start: datetime
    until: datetime
    events: list[Event] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "iospki.forecast/1",
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "events": [e.to_json() for e in self.events],
            "outages": [o.to_json() for o in self.outages],
            "notes": list(self.notes),
        }

    def events_for(self, host: str, event: str | None = None) -> list[Event]:
        return [e for e in self.events if e.host == host and (event is None or e.event == event)]
