"""Prometheus textfile: x509-certificate-exporter metric names plus PKI timers and finding counts.

Device times are naive on each device's clock; they are written as if UTC (the lab and
most PKI deployments run their clocks in UTC; IOS zone names are not resolvable).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone

from iospki.audit.engine import AuditResult
from iospki.audit.rules import Severity
from iospki.reports.common import certificate_rows


def _ts(t: datetime) -> str:
    return f"{t.replace(tzinfo=timezone.utc).timestamp():.0f}"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _cn(dn: str) -> str:
    m = re.search(r"(?:^|[\s,+])cn=([^,+]+?)(?=\s+\w+=|,|\+|$)", dn, re.IGNORECASE)
    return m.group(1).strip() if m else ""


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kw.items()) + "}"


def to_prometheus(result: AuditResult) -> str:
    out: list[str] = []
    rows = [r for r in certificate_rows(result) if r.not_after is not None]
    metrics = (
        (
            "x509_cert_not_after",
            "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
        ),
        (
            "x509_cert_not_before",
            "The date before which the certificate is not yet valid. Expressed as a Unix Epoch Time.",
        ),
        ("x509_cert_expired", "Indicates if the certificate is currently expired."),
    )
    for name, help_ in metrics:
        out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
        for r in rows:
            lab = _labels(
                host=r.host,
                trustpoint=r.trustpoint,
                section=r.section,
                serial_number=r.serial,
                subject=r.subject,
                subject_CN=_cn(r.subject),
                issuer=r.issuer,
                issuer_CN=_cn(r.issuer),
            )
            if name == "x509_cert_not_after":
                out.append(f"{name}{lab} {_ts(r.not_after)}")  # type: ignore[arg-type]
            elif name == "x509_cert_not_before" and r.not_before is not None:
                out.append(f"{name}{lab} {_ts(r.not_before)}")
            elif name == "x509_cert_expired":
                out.append(f"{name}{lab} {1 if r.expired else 0}")
    out += [
        "# HELP iospki_timer_fire_timestamp_seconds When a PKI timer fires (show crypto pki timers detail).",
        "# TYPE iospki_timer_fire_timestamp_seconds gauge",
    ]
    for st in result.hosts:
        for t in st.timers or []:
            if t.at is not None:
                lab = _labels(host=st.host, kind=t.kind, target=t.target or "")
                out.append(f"iospki_timer_fire_timestamp_seconds{lab} {_ts(t.at)}")
    out += [
        "# HELP iospki_audit_findings Audit findings by severity and rule.",
        "# TYPE iospki_audit_findings gauge",
    ]
    counts = Counter((f.severity.value, f.rule) for f in result.findings)
    for rule in result.rules:
        sev = rule.severity.value
        out.append(
            f"iospki_audit_findings{_labels(severity=sev, rule=rule.id)} {counts.get((sev, rule.id), 0)}"
        )
    for (sev, rid), n in sorted(counts.items()):
        if sev != next((r.severity.value for r in result.rules if r.id == rid), Severity.info.value):
            out.append(f"iospki_audit_findings{_labels(severity=sev, rule=rid)} {n}")
    out += [
        "# HELP iospki_forecast_outage_start_timestamp_seconds Predicted start of an outage window.",
        "# TYPE iospki_forecast_outage_start_timestamp_seconds gauge",
    ]
    if result.forecast is not None:
        for o in result.forecast.outages:
            lab = _labels(host=o.host, trustpoint=o.trustpoint, reason=o.reason)
            out.append(f"iospki_forecast_outage_start_timestamp_seconds{lab} {_ts(o.start)}")
    return "\n".join(out) + "\n"
