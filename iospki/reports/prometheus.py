"""Prometheus textfile: x509-certificate-exporter metric names plus PKI timers and finding counts.

Times are UTC: `iospki.state.loader` converts every device time with the device's own zone.

The per-certificate label set is the exporter's (https://github.com/enix/x509-certificate-exporter,
docs/metrics.md): `serial_number` in decimal, `subject_C/ST/L/O/OU/CN`, `issuer_C/ST/L/O/OU/CN` (empty
string when absent), `filename`/`filepath` (here the section and `host/trustpoint/section`, so alert
templates that print `filepath` name the device), plus `host`, `trustpoint` and `section`. CRLs
use the exporter's `x509_crl_next_update`, `x509_crl_this_update` and `x509_crl_stale`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone

from iospki.audit.engine import AuditResult
from iospki.audit.rules import Severity
from iospki.reports.common import certificate_rows
from iospki.reports.registry import writer


def _ts(t: datetime) -> str:
    return f"{t.replace(tzinfo=timezone.utc).timestamp():.0f}"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _cn(dn: str) -> str:
    m = re.search(r"(?:^|[\s,+])cn=([^,+]+?)(?=\s+\w+=|,|\+|$)", dn, re.IGNORECASE)
    return m.group(1).strip() if m else ""


_DN_KEYS = ("C", "ST", "L", "O", "OU", "CN")


def _dn(prefix: str, fields: dict[str, str], dn: str) -> dict[str, str]:
    """`subject_C` ... `subject_CN` from the parsed DN fields (keys are case-insensitive on IOS)."""
    low = {k.lower(): v for k, v in fields.items()}
    out = {f"{prefix}_{k}": low.get(k.lower(), "") for k in _DN_KEYS}
    if not out[f"{prefix}_CN"]:
        out[f"{prefix}_CN"] = _cn(dn)
    return out


def _decimal(serial: str) -> str:
    try:
        return str(int(serial, 16)) if serial else ""
    except ValueError:
        return serial


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kw.items()) + "}"


def _crl_metrics(result: AuditResult) -> list[str]:
    """CRLs a device holds (`show crypto pki crls`) and the CRL each certificate server publishes."""
    series: list[tuple[str, str, datetime | None, datetime | None, datetime | None]] = []
    for st in result.hosts:
        now = result.at or st.now
        for crl in st.crls:
            series.append((st.host, crl.issuer or "", crl.this_update, crl.next_update, now))
        for srv in st.servers:
            if srv.crl_next_update is not None:
                series.append((st.host, srv.issuer or f"cn={srv.name}", None, srv.crl_next_update, now))
    out: list[str] = []
    for name, help_, pick in (
        ("x509_crl_next_update", "Unix timestamp of the CRL's nextUpdate.", 3),
        ("x509_crl_this_update", "Unix timestamp of the CRL's thisUpdate.", 2),
        ("x509_crl_stale", "1 if the current time is past the CRL's nextUpdate.", 0),
    ):
        out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
        for host, issuer, this_u, next_u, now in series:
            lab = _labels(host=host, **_dn("issuer", {}, issuer), filepath=f"{host}/crl")
            if pick == 0:
                if next_u is not None and now is not None:
                    out.append(f"{name}{lab} {1 if next_u < now else 0}")
            else:
                t = this_u if pick == 2 else next_u
                if t is not None:
                    out.append(f"{name}{lab} {_ts(t)}")
    return out


@writer("audit", "prometheus")
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
                serial_number=_decimal(r.serial),
                **_dn("subject", r.subject_fields, r.subject),
                **_dn("issuer", r.issuer_fields, r.issuer),
                filename=r.section,
                filepath=f"{r.host}/{r.trustpoint}/{r.section}",
            )
            if name == "x509_cert_not_after":
                out.append(f"{name}{lab} {_ts(r.not_after)}")  # type: ignore[arg-type]
            elif name == "x509_cert_not_before" and r.not_before is not None:
                out.append(f"{name}{lab} {_ts(r.not_before)}")
            elif name == "x509_cert_expired":
                out.append(f"{name}{lab} {1 if r.expired else 0}")
    out += _crl_metrics(result)
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
    out += [
        "# HELP iospki_forecast_unpredictable A host the forecast could not predict (failed or incomplete collection).",
        "# TYPE iospki_forecast_unpredictable gauge",
    ]
    if result.forecast is not None:
        out += [
            f"iospki_forecast_unpredictable{_labels(host=u.host)} 1" for u in result.forecast.unpredictable
        ]
    out += _collection_metrics(result)
    return "\n".join(out) + "\n"


def _collection_metrics(result: AuditResult) -> list[str]:
    """When each host's outputs were last answered, on the collector's clock (`read_times.json`).

    This, not the textfile's mtime, is what the staleness alert needs: an offline audit of an old
    collection writes a fresh file about old data. A host whose read times were not recorded (a folder
    gathered by other means) gets no sample rather than a guessed one.
    """
    out = [
        "# HELP iospki_collection_timestamp_seconds When the host's collected outputs were last answered (UTC).",
        "# TYPE iospki_collection_timestamp_seconds gauge",
    ]
    for st in result.hosts:
        answered = [done for _sent, done in st.read_times.values()]
        if answered:
            out.append(f"iospki_collection_timestamp_seconds{_labels(host=st.host)} {_ts(max(answered))}")
    return out
