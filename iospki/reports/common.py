"""Shared views of an audit result: certificate rows, summary counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from iospki.audit.engine import AuditResult
from iospki.audit.rules import Severity


@dataclass(frozen=True)
class CertRow:
    host: str
    trustpoint: str
    section: str
    kind: str
    rollover: bool
    serial: str
    subject: str
    issuer: str
    not_before: datetime | None
    not_after: datetime | None
    renew: datetime | None
    tz: str
    now: datetime | None
    subject_fields: dict[str, str] = field(default_factory=dict, compare=False)
    issuer_fields: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def days_left(self) -> float | None:
        if self.not_after is None or self.now is None:
            return None
        return round((self.not_after - self.now).total_seconds() / 86400, 2)

    @property
    def expired(self) -> bool:
        return self.not_after is not None and self.now is not None and self.not_after <= self.now


def certificate_rows(result: AuditResult) -> list[CertRow]:
    rows: list[CertRow] = []
    for st in result.hosts:
        now = result.at or st.now
        for c in st.certificates:
            if c.kind.value == "request":
                continue
            rows.append(
                CertRow(
                    host=st.host,
                    trustpoint=" ".join(c.trustpoints),
                    section=c.section,
                    kind=c.kind.value,
                    rollover=c.rollover,
                    serial=c.serial or "",
                    subject=" ".join((c.subject or "").split()),
                    issuer=" ".join((c.issuer or "").split()),
                    not_before=c.start,
                    not_after=c.end,
                    renew=c.renew,
                    tz=c.tz or "",
                    now=now,
                    subject_fields=dict(c.subject_fields),
                    issuer_fields=dict(c.issuer_fields),
                )
            )
    return rows


def summary(result: AuditResult) -> dict[str, int]:
    counts = Counter(f.severity.value for f in result.findings)
    return {s.value: counts.get(s.value, 0) for s in Severity}


def iso(t: datetime | None) -> str:
    return t.isoformat() if t else ""
