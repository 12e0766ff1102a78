"""Generic evaluation: every rule's check over every host, into `Finding`s."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from iospki.audit.checks import CHECK_RULES, Context
from iospki.audit.rules import (
    COLLECTION_INCOMPLETE,
    FAILURE_KINDS,
    FAILURE_RULES,
    HOST_UNREACHABLE,
    PARSE_ERROR,
    Rule,
    Severity,
)
from iospki.forecast import Forecast, forecast_states
from iospki.pki.inputs import CAIndex, ca_inputs
from iospki.state.loader import SKEW_TOLERANCE, HostState

# every rule: those bound to a check (iospki.audit.checks), then the three the engine raises itself
RULES: tuple[Rule, ...] = (*CHECK_RULES, *FAILURE_RULES)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}

# runs the forecast of the hosts audited: (states, at=, horizon=) -> Forecast, as `forecast_states`
Forecaster = Callable[..., Forecast]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    host: str
    target: str | None
    title: str
    message: str
    evidence: dict[str, str] = field(default_factory=dict)
    impact_at: datetime | None = None
    remedy: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "host": self.host,
            "target": self.target,
            "title": self.title,
            "message": self.message,
            "evidence": dict(self.evidence),
            "impact_at": self.impact_at.isoformat() if self.impact_at else None,
            "remedy": self.remedy,
        }


@dataclass
class AuditResult:
    hosts: list[HostState]
    findings: list[Finding]
    rules: Sequence[Rule]
    forecast: Forecast | None
    at: datetime | None
    generated: datetime

    @property
    def failed_hosts(self) -> list[str]:
        return sorted({f.host for f in self.findings if f.rule in FAILURE_KINDS})

    def at_or_above(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.rank >= severity.rank]


_FORECAST_RULES = frozenset({"rollover-overlap-short-autoenroll", "renew-timer-missing", "cert-expiring"})


def _forecast_evidence(findings: list[Finding], fc: Forecast) -> None:
    """Add what the forecast predicts for this trustpoint: the rule states a configuration risk,
    the forecast says whether (and when) it bites this client in the coming cycle."""
    from iospki.forecast import SHADOW_RENEWAL, SHADOW_RENEWAL_FAILED

    unpredictable = {u.host: u.reason for u in fc.unpredictable}
    for f in findings:
        if f.rule not in _FORECAST_RULES or f.target is None:
            continue
        if f.host in unpredictable:
            f.evidence["forecast"] = f"not predicted: {unpredictable[f.host]}"
            continue
        key = (f.host, f.target)
        shadow = next(
            (
                e
                for e in fc.events
                if (e.host, e.trustpoint or e.subject) == key
                and e.event in (SHADOW_RENEWAL, SHADOW_RENEWAL_FAILED)
            ),
            None,
        )
        if shadow is not None:
            f.evidence["forecast shadow renewal"] = f"{shadow.event} {shadow.at.isoformat(sep=' ')}"
        outage = next((o for o in fc.outages if (o.host, o.trustpoint) == key), None)
        f.evidence["forecast outage"] = (
            f"{outage.reason} from {outage.start.isoformat(sep=' ')}"
            + (f" to {outage.end.isoformat(sep=' ')}" if outage.end else " (no recovery predicted)")
            if outage is not None
            else f"none predicted until {fc.until.isoformat(sep=' ')}"
        )


def run_audit(
    states: Iterable[HostState],
    at: datetime | None = None,
    threshold: timedelta = timedelta(days=30),
    rules: Sequence[Rule] = RULES,
    horizon: timedelta | None = timedelta(days=3 * 365),
    only: Collection[str] | None = None,
    skew_tolerance: timedelta = SKEW_TOLERANCE,
    forecaster: Forecaster = forecast_states,
) -> AuditResult:
    """Audit hosts. `at` replaces every device's own clock as "now". With `only`, every host is
    context (a client needs its CA server's state) but only those hosts are reported. Clock
    differences between a client and its CA server up to `skew_tolerance` are not reported.
    `forecaster`: what runs the forecast (`forecast_states`'s signature and result; the cluster's
    `iospki.cluster.analysis` runs the same simulation per CA group on its workers)."""
    states = list(states)
    ok = [s for s in states if not s.failed]
    cas = {c.key: c for s in ok for c in ca_inputs(s)}
    clocks = [s.now for s in ok if s.now is not None]
    ctx = Context(
        states={s.host: s for s in ok},
        cas=cas,
        index=CAIndex.build(ok),
        at=at,
        threshold=threshold,
        skew_tolerance=skew_tolerance,
        fallback_now=max(clocks) if clocks else None,
    )
    findings: list[Finding] = []
    for st in states:
        if only is not None and st.host not in only:
            continue
        if st.failed:
            r = HOST_UNREACHABLE
            findings.append(
                Finding(
                    r.id,
                    r.severity,
                    st.host,
                    None,
                    r.title,
                    st.unreachable or "failed",
                    {"error": (st.unreachable or "")[:500]},
                    None,
                    r.remedy,
                )
            )
            continue
        if st.gaps:
            # a host with required outputs missing would otherwise pass every check that needs them
            r = COLLECTION_INCOMPLETE
            evidence = {"interrupted": st.interrupted} if st.interrupted else {}
            evidence.update({cmd: why[:500] for cmd, why in st.incomplete.items()})
            findings.append(
                Finding(r.id, r.severity, st.host, None, r.title, st.gaps, evidence, None, r.remedy)
            )
        for err in st.errors:
            r = PARSE_ERROR
            findings.append(
                Finding(
                    r.id,
                    r.severity,
                    st.host,
                    err.split(":", 1)[0],
                    r.title,
                    err,
                    {"error": err[:500]},
                    None,
                    r.remedy,
                )
            )
        for rule in rules:
            if rule.check is None:
                continue
            for hit in rule.check(ctx, st):
                findings.append(
                    Finding(
                        rule.id,
                        rule.severity,
                        st.host,
                        hit.target,
                        rule.title,
                        hit.message,
                        hit.evidence,
                        hit.impact_at,
                        hit.remedy or rule.remedy,
                    )
                )
    findings.sort(key=lambda f: (-f.severity.rank, f.host, f.rule, f.target or ""))
    fc = forecaster(ok, at=at, horizon=horizon) if horizon is not None and ok else None
    if fc is not None:
        fc.leave_out({s.host: why for s in states if (why := s.unpredictable)})
        _forecast_evidence(findings, fc)
    if only is not None:
        states = [s for s in states if s.host in only]
        if fc is not None:
            fc.events = [e for e in fc.events if e.host in only]
            fc.outages = [o for o in fc.outages if o.host in only]
            fc.unpredictable = [u for u in fc.unpredictable if u.host in only]
    return AuditResult(states, findings, rules, fc, at, datetime.utcnow().replace(microsecond=0))
