"""What a validation found: problems (host, trustpoint, check, time, cause), checkpoints, the result.

Pure data (the report writers in `iospki.reports.validation` read it); no devices, no lab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from iospki.audit.rules import Severity
from iospki.forecast import Event
from iospki.pki.inputs import Validity

# `renewal`: a renewal the forecast said would fail (a shadow renewal that finds no rollover CA, C4/V1), and
# the devices confirmed it; the outage follows later, possibly after the span validated
CHECKS = ("deploy", "collect", "identity", "trust", "events", "renewal")
CLIENT_CHECKS = ("identity", "trust", "events", "renewal")  # only hosts with client trustpoints
DEPLOY_DAY_KEY = "validate_deploy_day"  # host data: join this many days after the CA's notBefore
FAIL_ON = ("none", *(s.value for s in Severity))  # --fail-on: audit findings at or above fail the run


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
class Probe:
    """An extra lab client joining a trustpoint design on its worst day (rule V1)."""

    host: str
    trustpoint: str
    like_host: str  # the inventory client whose platform and trustpoint it copies
    clients: list[str]  # the inventory's clients of this design
    design: str
    address: str
    join_day: float  # days after the CA's notBefore
    shadow_day: float  # V1: the day of its shadow request
    rollover_day: float  # S3: the day the rollover CA is created
    margin_days: float
    shadow_failed_at: datetime | None = None  # the devices confirmed the forecast's failed shadow renewal
    joined: bool = True  # False: its join day lies beyond the span validated (--through)

    def line(self, day0: datetime | None = None) -> str:
        """What the probe is and what happened to it, in one line."""
        head = (
            f"probe {self.host} ({self.design}; like {', '.join(self.clients)}) joined on day {self.join_day:g}, "
            f"the worst day (V1): shadow request on day {self.shadow_day:g}, rollover CA from day "
            f"{self.rollover_day:g}, margin {self.margin_days:+g} days"
        )
        if self.shadow_failed_at is not None:
            day = f"day {(self.shadow_failed_at - day0).total_seconds() / 86400:.1f} " if day0 else ""
            head += f"; its shadow renewal on {day}({iso(self.shadow_failed_at)}) found no rollover CA"
        return head

    def to_json(self, day0: datetime | None = None) -> dict[str, Any]:
        return {
            "host": self.host,
            "trustpoint": self.trustpoint,
            "like": self.like_host,
            "clients": self.clients,
            "design": self.design,
            "address": self.address,
            "join_day": self.join_day,
            "shadow_day": self.shadow_day,
            "rollover_day": self.rollover_day,
            "margin_days": self.margin_days,
            "joined": self.joined,
            "shadow_failed_at": iso(self.shadow_failed_at) if self.shadow_failed_at else None,
            "shadow_failed_day": round((self.shadow_failed_at - day0).total_seconds() / 86400, 2)
            if self.shadow_failed_at and day0
            else None,
            "summary": self.line(day0),
        }


@dataclass
class AuditFinding:
    """An audit finding of the run, the first time it was seen (host, target, rule identify it)."""

    host: str
    target: str | None
    rule: str
    severity: str
    message: str
    at: datetime

    def line(self) -> str:
        return f"{iso(self.at)} {self.host} {self.target or ''}: [{self.severity}] {self.rule}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "target": self.target,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "first_seen": iso(self.at),
        }


def at_or_above(severity: str, fail_on: str) -> bool:
    """Whether a finding of `severity` fails a run with `--fail-on fail_on` (`none`: never)."""
    return fail_on != "none" and Severity(severity).rank >= Severity(fail_on).rank


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
    audit_findings: list[AuditFinding] = field(default_factory=list)
    audit_errors: list[str] = field(default_factory=list)  # the audit itself broke at a checkpoint
    fail_on: str = "critical"
    probes: list[Probe] = field(default_factory=list)
    probe_notes: list[str] = field(default_factory=list)  # designs not probed, and why
    day0: datetime | None = None  # the CA's notBefore ("day 0" of the join days)
    history: dict[tuple[str, str], list[tuple[str, Validity]]] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(
        default_factory=dict
    )  # wall seconds per phase (deploy, clock, collect, ...)
    host_keys_checked: bool = False  # SSH host keys checked against the known_hosts file the lab wrote
    error: str | None = None  # the run itself broke (lab, deploy of every host)

    @property
    def failing_findings(self) -> list[AuditFinding]:
        return [f for f in self.audit_findings if at_or_above(f.severity, self.fail_on)]

    @property
    def passed(self) -> bool:
        return self.error is None and not self.problems and not self.failing_findings

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
            "fail_on": self.fail_on,
            "audit_findings": [
                {**f.to_json(), "fails_run": at_or_above(f.severity, self.fail_on)} for f in self.audit_findings
            ],
            "audit_errors": self.audit_errors,
            "day0": iso(self.day0) if self.day0 else None,
            "probes": [p.to_json(self.day0) for p in self.probes],
            "probe_notes": self.probe_notes,
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
