"""CSV of every certificate."""

from __future__ import annotations

import csv
import io

from iospki.audit.engine import AuditResult
from iospki.reports.common import certificate_rows, iso
from iospki.reports.registry import writer

COLUMNS = [
    "host",
    "trustpoint",
    "section",
    "kind",
    "rollover",
    "serial",
    "subject",
    "issuer",
    "not_before",
    "not_after",
    "renew",
    "tz",
    "days_left",
    "expired",
]


@writer("audit", "csv")
def to_csv(result: AuditResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in certificate_rows(result):
        w.writerow(
            [
                r.host,
                r.trustpoint,
                r.section,
                r.kind,
                str(r.rollover).lower(),
                r.serial,
                r.subject,
                r.issuer,
                iso(r.not_before),
                iso(r.not_after),
                iso(r.renew),
                r.tz,
                "" if r.days_left is None else r.days_left,
                str(r.expired).lower(),
            ]
        )
    return buf.getvalue()
