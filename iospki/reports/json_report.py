"""The canonical JSON report (schema `iospki.audit/1`)."""

from __future__ import annotations

import json
from typing import Any

from iospki import __version__
from iospki.audit.engine import AuditResult
from iospki.reports.common import certificate_rows, iso, summary
from iospki.reports.registry import writer

SCHEMA = "iospki.audit/1"


def to_dict(result: AuditResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "iospki_version": __version__,
        "generated": iso(result.generated),
        "at": iso(result.at) or None,
        "summary": {**summary(result), "hosts": len(result.hosts), "hosts_failed": len(result.failed_hosts)},
        "hosts": [
            {
                "host": st.host,
                "now": iso(st.now) or None,
                "failed": st.failed,
                "error": st.unreachable,
                "parse_errors": list(st.errors),
                "software": st.software,
            }
            for st in result.hosts
        ],
        "rules": [
            {
                "id": r.id,
                "severity": r.severity.value,
                "title": r.title,
                "rationale": r.rationale,
                "remedy": r.remedy,
            }
            for r in result.rules
        ],
        "findings": [f.to_json() for f in result.findings],
        "certificates": [
            {
                "host": r.host,
                "trustpoint": r.trustpoint,
                "section": r.section,
                "kind": r.kind,
                "rollover": r.rollover,
                "serial": r.serial,
                "subject": r.subject,
                "issuer": r.issuer,
                "not_before": iso(r.not_before) or None,
                "not_after": iso(r.not_after) or None,
                "renew": iso(r.renew) or None,
                "days_left": r.days_left,
            }
            for r in certificate_rows(result)
        ],
        "forecast": result.forecast.to_json() if result.forecast else None,
    }


@writer("audit", "json")
def to_json_text(result: AuditResult) -> str:
    return json.dumps(to_dict(result), indent=2) + "\n"
