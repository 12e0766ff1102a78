"""What a validation found: problems (host, trustpoint, check, time, cause), checkpoints, the result.

Pure data (the report writers in `iospki.reports.validation` read it); no devices, no lab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from iospki.forecast import Event
from iospki.pki.inputs import Validity

CHECKS = ("deploy", "collect", "identity", "trust", "events")


class ValidateError(Exception):
    """The validation could not run (bad inventory, lab did not start); the message says why."""


@dataclass
class Problem:
    host: str
    trustpoint: str | None
    check: str
    at: datetime
    cause: str
    until: datetime | None = None  # when the condition ended (outages), None = still at the end

    def line(self) -> str:
        where = f"{self.host}" + (f" trustpoint {self.trustpoint}" if self.trustpoint else "")
        span = f" (until {iso(self.until)})" if self.until else ""
        return f"{where} at {iso(self.at)}: {self.check}: {self.cause}{span}"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "trustpoint": self.trustpoint,
            "check": self.check,
            "at": iso(self.at),
            "until": iso(self.until) if self.until else None,
            "cause": self.cause,
        }


@dataclass
class Checkpoint:
    at: datetime
    collection: Path
    reason: str
    hosts_ok: int
    hosts_failed: int
    audit_findings: int = 0


@dataclass
class ValidationResult:
    inventory: Path
    output: Path
    start: datetime | None = None
    until: datetime | None = None
    hosts: list[str] = field(default_factory=list)
    trustpoints: dict[str, list[str]] = field(default_factory=dict)  # host -> client trustpoints
    problems: list[Problem] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    events_seen: list[Event] = field(default_factory=list)  # forecast events confirmed on the devices
    audit_notes: list[str] = field(default_factory=list)
    history: dict[tuple[str, str], list[tuple[str, Validity]]] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(
        default_factory=dict
    )  # wall seconds per phase (deploy, clock, collect, ...)
    host_keys_checked: bool = False  # SSH host keys checked against the known_hosts file the lab wrote
    error: str | None = None  # the run itself broke (lab, deploy of every host)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "iospki.validate/1",
            "inventory": str(self.inventory),
            "passed": self.passed,
            "error": self.error,
            "start": iso(self.start) if self.start else None,
            "until": iso(self.until) if self.until else None,
            "seconds": round(self.seconds, 1),
            "host_keys_checked": self.host_keys_checked,
            "phases": {k: round(v, 1) for k, v in self.phases.items()},
            "hosts": self.hosts,
            "problems": [p.to_json() for p in self.problems],
            "checkpoints": [
                {
                    "at": iso(c.at),
                    "reason": c.reason,
                    "collection": str(c.collection),
                    "hosts_ok": c.hosts_ok,
                    "hosts_failed": c.hosts_failed,
                    "audit_findings": c.audit_findings,
                }
                for c in self.checkpoints
            ],
            "events_confirmed": [e.to_json() for e in self.events_seen],
        }


def iso(t: datetime) -> str:
    """UTC, second precision, `Z`: the one time format of the validation's outputs."""
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ProblemTracker:
    """Turns per-checkpoint conditions into problems that start (and maybe end) at a time."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str | None, str], Problem] = {}
        self.done: list[Problem] = []

    def update(self, current: list[Problem], checks: set[str], now: datetime) -> None:
        seen = set()
        for p in current:
            if p.check == "events":  # each mismatch is its own finding (the forecast restarts after it)
                self.done.append(p)
                continue
            k = (p.host, p.trustpoint, p.check)
            seen.add(k)
            if k not in self.open:
                self.open[k] = p
        for k in list(self.open):
            if k[2] in checks and k not in seen:
                p = self.open.pop(k)
                p.until = now
                self.done.append(p)

    def all(self) -> list[Problem]:
        return sorted(self.done + list(self.open.values()), key=lambda p: (p.at, p.host, p.trustpoint or ""))
