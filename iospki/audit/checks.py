"""The audit's rules, each its frozen data (`@rule`: id, severity, title, rationale, remedy) bound to its pure
check function: (context, host state) -> hits. Adding a rule is one decorated function here (and its test).

A hit names the target (trustpoint or server), the evidence, the date of impact and the concrete remedy;
`engine.run_audit` adds the rule's data and the host. Configuration in a remedy is rendered from the deploy
templates' macros (`remedies`, imported as `ios`), so it is what `iospki deploy` would configure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from iospki.audit import remedies as ios
from iospki.audit.rules import Rule, Severity
from iospki.models import Certificate, CertKind, normalize_fingerprint
from iospki.pki import timers as tm
from iospki.pki.inputs import CAIndex, CAInput, client_trustpoints, timer_time
from iospki.state.loader import SKEW_TOLERANCE, HostState, clock_difference


@dataclass
class Hit:
    target: str | None
    message: str
    evidence: dict[str, str] = field(default_factory=dict)
    impact_at: datetime | None = None
    remedy: str | None = None


@dataclass
class Context:
    states: dict[str, HostState]
    cas: dict[tuple[str, str], CAInput]
    index: CAIndex
    at: datetime | None = None  # --at; None: each device's own clock
    threshold: timedelta = timedelta(days=30)
    skew_tolerance: timedelta = SKEW_TOLERANCE  # clock-skew: differences up to this are not reported
    fallback_now: datetime | None = None

    # CA key -> (host, client trustpoint) linked to it, in host order: built once by `clients_of`
    _clients: dict[tuple[str, str] | None, list[tuple[HostState, str]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _cas_by_host: dict[str, list[CAInput]] | None = field(default=None, init=False, repr=False, compare=False)

    def now(self, state: HostState) -> datetime | None:
        return self.at or state.now or self.fallback_now

    def clients_of(self, key: tuple[str, str]) -> list[tuple[HostState, str]]:
        """Every (host, client trustpoint) the index links to the CA `key`, in host order. One pass over
        the hosts for all CAs: asking each CA's question of every host made the audit quadratic (a
        CA per 50 hosts: 100,000 hosts meant 200 million trustpoint lookups)."""
        if self._clients is None:
            self._clients = {}
            for st in self.states.values():
                for name in client_trustpoints(st):
                    self._clients.setdefault(self.index.find(st, name), []).append((st, name))
        return self._clients.get(key, [])

    def cas_of(self, host: str) -> list[CAInput]:
        """The CAs `host` serves, in `cas` order (grouped once: a scan of every CA per host was quadratic)."""
        if self._cas_by_host is None:
            self._cas_by_host = {}
            for ca in self.cas.values():
                self._cas_by_host.setdefault(ca.host, []).append(ca)
        return self._cas_by_host.get(host, [])


CheckFn = Callable[[Context, HostState], Iterator[Hit]]

_W, _C, _I = Severity.warning, Severity.critical, Severity.info

CHECK_RULES: list[Rule] = []  # every rule with a check, in the order they are written below


def rule(
    id: str, severity: Severity, title: str, rationale: str, remedy: str, into: list[Rule] | None = None
) -> Callable[[CheckFn], CheckFn]:
    """Bind the rule's data to the check function below it (registered in `CHECK_RULES`, or `into`)."""

    def bind(check: CheckFn) -> CheckFn:
        (CHECK_RULES if into is None else into).append(Rule(id, severity, title, rationale, remedy, check))
        return check

    return bind


def _d(t: datetime | None) -> str:
    return t.replace(microsecond=0).isoformat(sep=" ") if t else "-"


def _days(td: timedelta) -> str:
    return f"{round(td.total_seconds() / 86400, 2):g} days"


def _has_pki(st: HostState) -> bool:
    return bool(st.servers or st.certificates or (st.config and (st.config.servers or st.config.trustpoints)))


# --------------------------------------------------------------------------- host-level


@rule(
    "clock-not-authoritative",
    _C,
    "Clock is not authoritative",
    "PKI timers (RENEW, SHADOW, CS timers) do not run until the clock is authoritative (NTP sync, "
    "`clock calendar-valid` or `ntp master`); renewals and rollovers silently stop.",
    f"{ios.ntp_server('<address>')}   (or: {ios.CALENDAR_VALID})",
)
def clock_not_authoritative(ctx: Context, st: HostState) -> Iterator[Hit]:
    if not _has_pki(st):
        return
    ev: dict[str, str] = {}
    bad = False
    if st.clock is not None:
        ev["show clock"] = ("*" if not st.clock.authoritative else "") + _d(st.clock.time)
        if st.clock.source:
            ev["time source"] = st.clock.source
        bad = not st.clock.authoritative
    if st.ntp is not None:
        ev["ntp"] = "synchronized" if st.ntp.synchronized else "unsynchronized"
    if st.config is not None:
        ev["clock calendar-valid"] = "yes" if st.config.clock_calendar_valid else "no"
        ev["ntp servers"] = ", ".join(st.config.ntp_servers) or "none"
        if st.clock is None and st.ntp is not None:
            bad = not st.ntp.synchronized and not st.config.clock_calendar_valid and not st.config.ntp_master
    if bad:
        servers = st.config.ntp_servers if st.config is not None else []
        fix = (
            f"{ios.CALENDAR_VALID}   (NTP {', '.join(servers)} is configured but not synchronized: "
            "check `show ntp associations`)"
            if servers
            else f"{ios.ntp_server('<address>')}   (or: {ios.CALENDAR_VALID})"
        )
        yield Hit(None, "clock is not authoritative: PKI timers do not run", ev, ctx.now(st), fix)


def _span(td: timedelta) -> str:
    """A duration as an engineer reads it.

    >>> _span(timedelta(seconds=95)), _span(timedelta(hours=2, minutes=3)), _span(timedelta(days=3, hours=1))
    ('1 min 35 s', '2 h 3 min', '3 days 1 h')
    """
    s = round(abs(td.total_seconds()))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d} days {h} h" if h else f"{d} days"
    if h:
        return f"{h} h {m} min"
    return f"{m} min {s % 60} s" if m else f"{s} s"


@rule(
    "clock-skew",
    _W,
    "Clock differs from its CA server's clock",
    "PKI times are absolute and each box reads them on its own clock. A client behind its CA sees each "
    "new certificate as not yet valid for the difference and renews that much late; a client ahead "
    "renews early, sees certificates (the CA's too) end early, and can ask for its shadow certificate "
    "before the rollover CA exists. Measured from `show clock` and the times the collector read it.",
    f"{ios.ntp_server('<address>')} on the client and on the CA server (the same source)",
)
def clock_skew(ctx: Context, st: HostState) -> Iterator[Hit]:
    for name, ca in _client_links(ctx, st):
        other_state = ctx.states.get(ca.host)
        if ca.host == st.host or other_state is None:
            continue
        measured = clock_difference(st, other_state)
        if measured is None:
            continue
        skew, error, method = measured
        if abs(skew) - error <= ctx.skew_tolerance:
            continue
        span = _span(skew)
        if skew < timedelta(0):
            effect = (
                f"each certificate {ca.name} issues starts up to {span} in {st.host}'s future (not yet valid "
                f"there) and {st.host} renews {span} late"
            )
        else:
            effect = (
                f"{st.host} renews {span} early, sees its certificates and the CA's end {span} early, and can "
                "ask for its shadow certificate before the rollover CA exists"
            )
        yield Hit(
            name,
            f"{st.host}'s clock is {span} {'behind' if skew < timedelta(0) else 'ahead of'} the clock of its CA "
            f"server {ca.host} ({ca.name}): {effect}",
            {
                "difference": f"{skew.total_seconds():+.1f} s (+/- {error.total_seconds():.1f} s)",
                "measured from": method,
                f"{st.host} time source": (st.clock.source if st.clock else None) or "-",
                f"{ca.host} time source": (other_state.clock.source if other_state.clock else None) or "-",
                "tolerance": f"{ctx.skew_tolerance.total_seconds():g} s",
                **{
                    f"{h.host} NTP clock offset": f"{h.ntp.offset_ms:.1f} ms"
                    for h in (st, other_state)
                    if h.ntp is not None and h.ntp.synchronized and h.ntp.offset_ms
                },
            },
            ctx.now(st),
            f"on {st.host} and {ca.host}: {ios.ntp_server('<address>')} (one source for both)",
        )


def _server_names(st: HostState) -> list[str]:
    names = [s.name for s in st.servers]
    if st.config is not None:
        names += [s.name for s in st.config.servers if s.name not in names]
    return names


@rule(
    "ca-server-not-serving",
    _C,
    "Certificate server not serving",
    "A disabled server, `State: check failed` or no `ip http server` means no SCEP: no enrollment, "
    "renewal or GetNextCACert.",
    f"{ios.HTTP_SERVER}; {ios.server('<name>', 'no shutdown')}",
)
def ca_server_not_serving(ctx: Context, st: HostState) -> Iterator[Hit]:
    for name in _server_names(st):
        srv = next((s for s in st.servers if s.name == name), None)
        cfg = st.server_config(name)
        reasons, ev, fixes = [], {}, []
        if srv is not None:
            ev["status"] = srv.status or "-"
            ev["state"] = srv.state or "-"
            if "disabled" in (srv.status or "").lower():
                reasons.append(f"Status: {srv.status}")
            if "fail" in (srv.state or "").lower():
                reasons.append(f"State: {srv.state}")
        if cfg is not None and cfg.shutdown:
            reasons.append("configured `shutdown`")
            fixes.append(ios.server(name, "no shutdown"))
        serving = srv is not None and "enabled" in (srv.status or "").lower() and not reasons
        if st.config is not None and not (st.config.ip_http_server or st.config.ip_http_secure_server):
            if not st.config_complete:
                # a cut-off config proves nothing about `ip http server`; the server's status decides
                ev["running-config"] = "cut off (no final `end`): `ip http server` not checked"
            elif serving:
                ev["running-config"] = "no `ip http server` line, but the server reports enabled"
            else:
                reasons.append("no `ip http server`")
                fixes.insert(0, ios.HTTP_SERVER)
        if (
            srv is not None and "http" in (srv.status_reason or srv.status or "").lower()
        ) and ios.HTTP_SERVER not in fixes:
            fixes.insert(0, ios.HTTP_SERVER)
        if reasons:
            yield Hit(
                name,
                f"certificate server {name} is not serving: " + "; ".join(reasons),
                ev,
                ctx.now(st),
                "; ".join(fixes) or f"{ios.HTTP_SERVER}; {ios.server(name, 'no shutdown')}",
            )


def _needed_overlap(ctx: Context, ca: CAInput) -> tuple[timedelta, list[str]]:
    """The overlap every client of `ca` needs (days) and who sets it."""
    need = tm.min_overlap_for_shadow(ca.lifetime_ca)
    who = [f"CA shadow at 90% of {_days(ca.lifetime_ca)}"]
    for st, name in ctx.clients_of(ca.key):
        cfg = next((t for t in st.config.trustpoints if t.name == name), None) if st.config else None
        if cfg and cfg.auto_enroll and cfg.auto_enroll_percent is not None:
            n = tm.min_overlap_for_autoenroll(ca.lifetime_certificate, cfg.auto_enroll_percent)
            if n > need:
                need, who = n, [f"{st.host}/{name} auto-enroll {cfg.auto_enroll_percent}"]
    return need, who


@rule(
    "auto-rollover-missing",
    _W,
    "CA server without auto-rollover",
    "Without `auto-rollover` no rollover CA is generated: at the CA's end every certificate it issued "
    "ends and clients no longer trust it.",
    ios.server("<name>", ios.auto_rollover("<days>")),
)
def auto_rollover_missing(ctx: Context, st: HostState) -> Iterator[Hit]:
    for ca in ctx.cas_of(st.host):
        if ca.auto_rollover is None:
            need, _ = _needed_overlap(ctx, ca)
            days = max(30, math.ceil(need.total_seconds() / 86400))
            yield Hit(
                ca.name,
                f"CA server {ca.name} has no auto-rollover: at {_d(ca.ca.end)} its CA certificate ends "
                "with no successor",
                {"CA notAfter": _d(ca.ca.end)},
                ca.ca.end,
                ios.server(ca.name, ios.auto_rollover(days)),
            )


def _client_links(ctx: Context, st: HostState) -> Iterator[tuple[str, CAInput]]:
    for name in client_trustpoints(st):
        key = ctx.index.find(st, name)
        if key is not None and key in ctx.cas:
            yield name, ctx.cas[key]


@rule(
    "rollover-overlap-short-autoenroll",
    _C,
    "Rollover overlap too short for auto-enroll clients",
    "A client with `auto-enroll P` makes its shadow renewal at P% of its capped certificate; it finds "
    "the rollover CA only if the overlap is at least (1 - P/100) x certificate lifetime. The shadow "
    "renewal is not retried.",
    ios.server("<name>", ios.auto_rollover("<days>")),
)
def rollover_overlap_short_autoenroll(ctx: Context, st: HostState) -> Iterator[Hit]:
    if st.config is None:
        return
    for name, ca in _client_links(ctx, st):
        cfg = next((t for t in st.config.trustpoints if t.name == name), None)
        if cfg is None or not cfg.auto_enroll or cfg.auto_enroll_percent is None or ca.auto_rollover is None:
            continue
        need = tm.min_overlap_for_autoenroll(ca.lifetime_certificate, cfg.auto_enroll_percent)
        if ca.auto_rollover < need:
            gen = tm.cs_shadow_generation_at(ca.ca.end, ca.auto_rollover)
            days = math.ceil(need.total_seconds() / 86400)
            yield Hit(
                name,
                f"auto-enroll {cfg.auto_enroll_percent} needs an overlap of at least {_days(need)}; "
                f"{ca.name} on {ca.host} has {_days(ca.auto_rollover)}: a shadow renewal can come before the "
                f"rollover CA exists ({_d(gen)})",
                {
                    "auto-enroll": str(cfg.auto_enroll_percent),
                    "lifetime certificate": _days(ca.lifetime_certificate),
                    "auto-rollover": _days(ca.auto_rollover),
                    "CS SHADOW CERT GENERATION": _d(gen),
                    "CA notAfter": _d(ca.ca.end),
                    "CA server": f"{ca.host}/{ca.name}",
                },
                ca.ca.end,
                f"on {ca.host}: {ios.server(ca.name, ios.auto_rollover(days))}",
            )


@rule(
    "rollover-overlap-short-shadow",
    _W,
    "Rollover overlap too short for the CA shadow timer",
    "Trustpoints ask for the rollover CA (GetNextCACert) at 90% of the CA lifetime; with an overlap "
    "under 10% of the CA lifetime the rollover CA does not exist yet and there is no retry.",
    ios.server("<name>", ios.auto_rollover("<days>")),
)
def rollover_overlap_short_shadow(ctx: Context, st: HostState) -> Iterator[Hit]:
    for ca in ctx.cas_of(st.host):
        if ca.auto_rollover is None:
            continue
        need = tm.min_overlap_for_shadow(ca.ca.length())
        if ca.auto_rollover < need:
            shadow = tm.shadow_at(ca.ca.start, ca.ca.end)
            gen = tm.cs_shadow_generation_at(ca.ca.end, ca.auto_rollover)
            yield Hit(
                ca.name,
                f"overlap {_days(ca.auto_rollover)} is under 10% of the CA lifetime ({_days(need)}): trustpoints ask "
                f"for the rollover CA at {_d(shadow)}, before it exists ({_d(gen)})",
                {
                    "CA lifetime": _days(ca.ca.length()),
                    "auto-rollover": _days(ca.auto_rollover),
                    "SHADOW (90 %, or C9 for a capped certificate)": _d(shadow),
                    "CS SHADOW CERT GENERATION": _d(gen),
                },
                shadow,
                ios.server(ca.name, ios.auto_rollover(math.ceil(need.total_seconds() / 86400))),
            )


@rule(
    "renew-timer-missing",
    _C,
    "Auto-enroll without a RENEW or SHADOW timer",
    "auto-enroll is configured but the device shows neither RENEW nor SHADOW for the trustpoint: the "
    "certificate will not be renewed (a failed or rejected renewal is not retried).",
    "crypto pki enroll <trustpoint>",
)
def renew_timer_missing(ctx: Context, st: HostState) -> Iterator[Hit]:
    if st.config is None or st.timers is None or st.clock_authoritative() is False:
        return
    for cfg in st.config.trustpoints:
        if not cfg.auto_enroll:
            continue
        ident = st.cert(cfg.name, CertKind.identity)
        if ident is None or st.cert(cfg.name, CertKind.identity, rollover=True) is not None:
            continue
        if st.timer("RENEW", cfg.name) is None and st.timer("SHADOW", cfg.name) is None:
            yield Hit(
                cfg.name,
                f"auto-enroll is configured on {cfg.name} but there is no RENEW or SHADOW timer",
                {
                    "identity notAfter": _d(ident.end),
                    "timers": ", ".join(sorted({f"{t.kind} {t.target or ''}".strip() for t in st.timers}))
                    or "none",
                },
                ident.end,
                f"crypto pki enroll {cfg.name}",
            )


@rule(
    "autoenroll-at-expiry",
    _W,
    "auto-enroll without a percentage",
    "`auto-enroll` without P renews only when the certificate has already expired, leaving no margin.",
    ios.trustpoint("<tp>", ios.auto_enroll(80, True)),
)
def autoenroll_at_expiry(ctx: Context, st: HostState) -> Iterator[Hit]:
    if st.config is None:
        return
    for cfg in st.config.trustpoints:
        if cfg.auto_enroll and cfg.auto_enroll_percent is None:
            ident = st.cert(cfg.name, CertKind.identity)
            yield Hit(
                cfg.name,
                f"{cfg.name}: `auto-enroll` without a percentage renews only at expiry",
                {"identity notAfter": _d(ident.end if ident else None)},
                ident.end if ident else None,
                ios.trustpoint(cfg.name, ios.auto_enroll(80, bool(cfg.auto_enroll_regenerate))),
            )


def _cert_checks(ctx: Context, st: HostState) -> Iterator[tuple[bool, Hit]]:
    """(expired?, hit) for certificates ending within the threshold with nothing in place."""
    now = ctx.now(st)
    if now is None:
        return
    servers = set(_server_names(st))
    for c in st.certificates:
        if c.rollover or c.end is None or c.kind not in (CertKind.identity, CertKind.ca):
            continue
        if c.end - now > ctx.threshold:
            continue
        tps = c.trustpoints or [""]
        tp = tps[0]
        kind = "CA" if c.kind == CertKind.ca else "identity"
        in_place = _replacement(ctx, st, c, tp, servers, now)
        if in_place:
            continue
        expired = c.end <= now
        msg = (
            f"{kind} certificate of {tp} (serial {c.serial}) "
            + (f"ended {_d(c.end)}" if expired else f"ends {_d(c.end)} ({_days(c.end - now)} left)")
            + "; no renewal or rollover in place"
        )
        fix = f"crypto pki enroll {tp}" if c.kind == CertKind.identity else f"crypto pki authenticate {tp}"
        if c.kind == CertKind.ca and tp in servers:
            fix = f"{ios.server(tp, ios.auto_rollover(90))}   (or: {ios.server(tp)} rollover)"
        yield (
            expired,
            Hit(
                tp or None,
                msg,
                {
                    "notBefore": _d(c.start),
                    "notAfter": _d(c.end),
                    "now": _d(now),
                    "subject": c.subject or "-",
                },
                c.end,
                fix,
            ),
        )


def _replacement(ctx: Context, st: HostState, c: Certificate, tp: str, servers: set[str], now: datetime) -> bool:
    if st.cert(tp, c.kind, rollover=True) is not None:
        return True
    if c.kind == CertKind.ca:
        if tp in servers:
            ca = ctx.cas.get((st.host, tp))
            return bool(ca and (ca.rollover_ca or ca.auto_rollover))
        # a client fetches its CA's rollover certificate with its SHADOW timer (C5 at 90 % of the CA's life,
        # or C9's shadow renewal of a capped certificate) when that CA server rolls over by itself; a CA
        # certificate that has already ended without its rollover certificate collected stays a finding
        if c.end is not None and c.end <= now:
            return False
        key = ctx.index.find(st, tp)
        issuer = ctx.cas.get(key) if key is not None else None
        shadow = st.timer("SHADOW", tp) if st.timers is not None else None
        return bool(issuer and (issuer.rollover_ca or issuer.auto_rollover) and shadow is not None
                    and (shadow.at is None or c.end is None or shadow.at <= c.end))
    cfg = next((t for t in st.config.trustpoints if t.name == tp), None) if st.config else None
    if cfg is None or not cfg.auto_enroll or st.clock_authoritative() is False:
        return False
    if st.timers is not None:
        renew = st.timer("RENEW", tp)
        ca_cert = st.cert(tp, CertKind.ca)
        if renew is None and c.end is not None and ca_cert is not None and ca_cert.end is not None \
                and c.end >= ca_cert.end:
            # C9: a certificate capped at the CA's end renews by its SHADOW timer (the shadow renewal)
            renew = st.timer("SHADOW", tp)
        # timers print UTC and snapshot converts every device time to UTC; only a zone it could not
        # resolve leaves local times, which are within a day of UTC
        slack = timedelta(days=1) if st.zones is not None and st.zones.unknown else timedelta(minutes=2)
        return renew is not None and (renew.at is None or c.end is None or renew.at <= c.end + slack)
    return True


@rule(
    "cert-expiring",
    _W,
    "Certificate expiring soon",
    "An identity or CA certificate ends within the threshold and no renewal or rollover is in place.",
    "crypto pki enroll <trustpoint>   (or configure auto-enroll / auto-rollover)",
)
def cert_expiring(ctx: Context, st: HostState) -> Iterator[Hit]:
    yield from (h for expired, h in _cert_checks(ctx, st) if not expired)


@rule(
    "cert-expired",
    _C,
    "Certificate expired",
    "An identity or CA certificate has ended and was not replaced.",
    "crypto pki enroll <trustpoint>",
)
def cert_expired(ctx: Context, st: HostState) -> Iterator[Hit]:
    yield from (h for expired, h in _cert_checks(ctx, st) if expired)


def _rollover_ca_due(st: HostState, name: str, ca_start: datetime, ca_end: datetime) -> datetime:
    """When the client asks for the rollover CA: C5's 90 % of the CA's life, but for a certificate capped at
    the CA's end on an auto-enroll trustpoint its shadow renewal does (C9), at its SHADOW timer (else at the
    auto-enroll percentage of the capped certificate)."""
    cfg = next((t for t in st.config.trustpoints if t.name == name), None) if st.config else None
    ident = st.cert(name, CertKind.identity)
    if cfg is None or not cfg.auto_enroll or ident is None or ident.start is None or ident.end is None:
        return tm.shadow_at(ca_start, ca_end)
    if ident.end < ca_end:
        return tm.shadow_at(ca_start, ca_end)
    return timer_time(st, st.timer("SHADOW", name)) or tm.renew_at(ident.start, ident.end, cfg.auto_enroll_percent)


@rule(
    "rollover-ca-missing",
    _C,
    "Rollover CA certificate missing on a client",
    "The server holds a rollover CA certificate and the client's shadow time has passed, but the client "
    "has no `CA Certificate (Rollover)`: from rollover day it does not trust the active CA.",
    "crypto pki authenticate <trustpoint>   (after the rollover: re-authenticate and re-enroll)",
)
def rollover_ca_missing(ctx: Context, st: HostState) -> Iterator[Hit]:
    now = ctx.now(st)
    if now is None:
        return
    for name, ca in _client_links(ctx, st):
        if ca.rollover_ca is None:
            continue
        mine = st.cert(name, CertKind.ca)
        if mine is None or mine.start is None or mine.end is None:
            continue
        shadow = _rollover_ca_due(st, name, mine.start, mine.end)
        if shadow <= now and st.cert(name, CertKind.ca, rollover=True) is None:
            yield Hit(
                name,
                f"{name} has no CA Certificate (Rollover) although {ca.name} generated it and the shadow "
                f"time {_d(shadow)} has passed: from {_d(ca.ca.end)} it will not trust the new CA",
                {
                    "SHADOW (90 %, or C9 for a capped certificate)": _d(shadow),
                    "rollover CA": f"{_d(ca.rollover_ca.start)} - {_d(ca.rollover_ca.end)}",
                    "CA server": f"{ca.host}/{ca.name}",
                },
                ca.ca.end,
                f"crypto pki authenticate {name}",
            )


@rule(
    "ca-fingerprint-mismatch",
    _C,
    "Client CA certificate is not the server's",
    "The CA certificate a trustpoint holds is not the one its CA server uses (re-keyed or replaced CA, "
    "or a different CA of the same name).",
    "no crypto pki trustpoint <tp>; re-create, crypto pki authenticate <tp>, crypto pki enroll <tp>",
)
def ca_fingerprint_mismatch(ctx: Context, st: HostState) -> Iterator[Hit]:
    for name in client_trustpoints(st):
        key = ctx.index.find(st, name)
        if key is None or key[0] not in ctx.states:
            continue
        srv_state = ctx.states[key[0]]
        srv = next((s for s in srv_state.servers if s.name == key[1]), None)
        server_fps = (
            {normalize_fingerprint(srv.ca_fingerprint), normalize_fingerprint(srv.rollover_fingerprint)}
            - {""}
            if srv
            else set()
        )
        own = srv_state.cert(key[1], CertKind.ca)
        if own is not None and normalize_fingerprint(own.fingerprint_md5):
            server_fps.add(normalize_fingerprint(own.fingerprint_md5))
        status = next((s for s in st.trustpoint_status if s.name == name), None)
        mine = st.cert(name, CertKind.ca)
        client_fp = normalize_fingerprint(status.ca_fingerprint_md5 if status else None) or (
            normalize_fingerprint(mine.fingerprint_md5 if mine else None)
        )
        if client_fp and server_fps and client_fp not in server_fps:
            yield Hit(
                name,
                f"CA certificate of {name} (MD5 {client_fp}) is not the one {key[1]} on {key[0]} holds",
                {"client MD5": client_fp, "server MD5": ", ".join(sorted(server_fps))},
                ctx.now(st),
                f"no crypto pki trustpoint {name}; re-create it; crypto pki authenticate {name}; "
                f"crypto pki enroll {name}",
            )


@rule(
    "trustpoint-not-enrolled",
    _W,
    "Trustpoint not enrolled",
    "The trustpoint is not authenticated, has no identity certificate, or has a request pending.",
    "crypto pki authenticate <tp>; crypto pki enroll <tp>",
)
def trustpoint_not_enrolled(ctx: Context, st: HostState) -> Iterator[Hit]:
    for name in client_trustpoints(st):
        cfg = next((t for t in st.config.trustpoints if t.name == name), None) if st.config else None
        status = next((s for s in st.trustpoint_status if s.name == name), None)
        problems = []
        if (
            st.cert(name, CertKind.ca) is None
            and (status is None or not status.ca_configured)
            and (st.certificates_collected or status is not None)
        ):
            problems.append("not authenticated (no CA certificate)")
        wants_id = cfg is not None and (cfg.auto_enroll or cfg.enrollment_url) or status is not None
        if wants_id and st.cert(name, CertKind.identity) is None and st.certificates_collected:
            problems.append("no identity certificate")
        poll = st.timer("POLL", name)
        if st.certs(name, CertKind.request) or poll is not None:
            problems.append("enrollment request pending")
        if problems:
            ev = {"problems": "; ".join(problems)}
            ca = st.cert(name, CertKind.ca)
            if ca is not None:
                ev["CA certificate"] = f"{_d(ca.start)} - {_d(ca.end)}"
            if poll is not None:
                ev["next POLL"] = _d(poll.at) if poll.at else f"in {poll.remaining_seconds:g} s"
            if cfg is not None and cfg.enrollment_url:
                ev["enrollment url"] = cfg.enrollment_url
            fix = (
                f"crypto pki enroll {name}"
                if "not authenticated (no CA certificate)" not in problems
                else f"crypto pki authenticate {name}; crypto pki enroll {name}"
            )
            if problems == ["enrollment request pending"]:
                key = ctx.index.find(st, name)
                fix = (
                    f"on {key[0]}: {ios.server(key[1])} grant all   "
                    f"(or: {ios.server(key[1], ios.grant('auto'))})"
                    if key is not None
                    else "grant the request on the CA server"
                )
            yield Hit(name, f"trustpoint {name}: " + "; ".join(problems), ev, ctx.now(st), fix)


@rule(
    "requests-pending",
    _W,
    "Enrollment requests waiting for a manual grant",
    "A manual-grant server holds pending requests; they expire after `lifetime enrollment-request`.",
    f"{ios.server('<name>')} grant <id|all>   (or: {ios.server('<name>', ios.grant('auto'))})",
)
def requests_pending(ctx: Context, st: HostState) -> Iterator[Hit]:
    for name, reqs in st.requests.items():
        pending = [r for r in reqs if r.state.lower().startswith("pend")]
        if pending:
            ids = ", ".join(str(r.req_id) for r in pending)
            yield Hit(
                name or None,
                f"{len(pending)} enrollment request(s) pending on {name}: {ids}",
                {"requests": "; ".join(f"{r.req_id} {r.subject or ''}".strip() for r in pending)},
                ctx.now(st),
                f"{ios.server(name)} grant {'all' if len(pending) > 1 else pending[0].req_id}",
            )


@rule(
    "lifetime-exceeds-ca",
    _W,
    "Certificate lifetime longer than the CA lifetime",
    "Every certificate is capped at the CA's end, so all clients land on shadow renewals.",
    ios.server("<name>", ios.lifetime("certificate", "<days>")),
)
def lifetime_exceeds_ca(ctx: Context, st: HostState) -> Iterator[Hit]:
    if st.config is None:
        return
    for s in st.config.servers:
        cert = s.lifetime_certificate or tm.DEFAULT_CERT_LIFETIME
        ca = s.lifetime_ca_certificate or tm.DEFAULT_CA_LIFETIME
        if cert > ca:
            yield Hit(
                s.name,
                f"lifetime certificate {_days(cert)} exceeds lifetime ca-certificate {_days(ca)}",
                {"lifetime certificate": _days(cert), "lifetime ca-certificate": _days(ca)},
                None,
                ios.server(s.name, ios.lifetime("certificate", int(ca.total_seconds() // 86400) // 2)),
            )


@rule(
    "crl-stale",
    _W,
    "CRL past its next update",
    "A CRL whose next update is in the past fails revocation checks (`revocation-check crl`).",
    "crypto pki crl request <tp>   (server: check `lifetime crl` and that the server runs)",
)
def crl_stale(ctx: Context, st: HostState) -> Iterator[Hit]:
    now = ctx.now(st)
    if now is None:
        return
    for crl in st.crls:
        if crl.next_update is not None and crl.next_update < now:
            tp = _trustpoint_of_issuer(st, crl.issuer)
            yield Hit(
                tp or crl.issuer,
                f"CRL of {crl.issuer} was due {_d(crl.next_update)}",
                {"issuer": crl.issuer or "-", "next update": _d(crl.next_update), "now": _d(now)},
                crl.next_update,
                f"crypto pki crl request {tp or '<trustpoint>'}",
            )
    for srv in st.servers:
        if (
            srv.crl_next_update is not None
            and srv.crl_next_update < now
            and "enabled" in (srv.status or "").lower()
        ):
            yield Hit(
                srv.name,
                f"server {srv.name}: CRL NextUpdate {_d(srv.crl_next_update)} has passed",
                {"CRL NextUpdate": _d(srv.crl_next_update), "now": _d(now)},
                srv.crl_next_update,
                f"{ios.server(srv.name, ios.lifetime('crl', '<hours>'))}; check the server runs",
            )


def _norm_dn(dn: str | None) -> str:
    return " ".join((dn or "").lower().replace(",", " ").split())


def _trustpoint_of_issuer(st: HostState, issuer: str | None) -> str | None:
    """The trustpoint whose CA certificate has this subject (a CRL's issuer)."""
    want = _norm_dn(issuer)
    for c in st.certificates:
        if c.kind == CertKind.ca and c.trustpoints and want and _norm_dn(c.subject) == want:
            return c.trustpoints[0]
    return None


_WEAK_SIG = re.compile(r"md5|sha-?1(?!\d)", re.IGNORECASE)


@rule(
    "weak-crypto",
    _W,
    "Weak signature or key",
    "MD5 or SHA-1 signatures and RSA keys under 2048 bits are rejected by current peers.",
    f"{ios.server('<name>', ios.hash_('sha256'))}; crypto key generate rsa modulus 2048 label <label>",
)
def weak_crypto(ctx: Context, st: HostState) -> Iterator[Hit]:
    for c in st.certificates:
        tp: str | None = c.trustpoints[0] if c.trustpoints else None
        if c.signature_algorithm and _WEAK_SIG.search(c.signature_algorithm):
            yield Hit(
                tp,
                f"{c.section} of {tp} (serial {c.serial}) is signed with {c.signature_algorithm}",
                {"signature": c.signature_algorithm, "issuer": c.issuer or "-", "notAfter": _d(c.end)},
                None,
                _weak_signature_fix(ctx, st, tp, c),
            )
        if c.key_size is not None and c.key_size < 2048 and (c.key_type or "RSA").upper().startswith("RSA"):
            cfg = next((t for t in st.config.trustpoints if t.name == tp), None) if st.config else None
            label = c.key_label or (cfg.rsakeypair if cfg is not None else None) or tp or "<label>"
            yield Hit(
                tp,
                f"{c.section} of {tp} (serial {c.serial}) has a {c.key_size}-bit RSA key",
                {"key size": str(c.key_size), "key pair": label},
                None,
                f"crypto key generate rsa general-keys label {label} modulus 2048; crypto pki enroll {tp}",
            )
    for k in st.keys:
        if k.key_size is not None and k.key_size < 2048 and k.key_type.upper().startswith("RSA"):
            yield Hit(
                k.name,
                f"RSA key pair {k.name} has {k.key_size} bits",
                {"key size": str(k.key_size)},
                None,
                f"crypto key generate rsa general-keys label {k.name} modulus 2048",
            )
    if st.config is not None:
        for s in st.config.servers:
            if s.hash and _WEAK_SIG.search(s.hash):
                yield Hit(
                    s.name,
                    f"server {s.name} signs with {s.hash}",
                    {"hash": s.hash},
                    None,
                    ios.server(s.name, ios.hash_("sha256")),
                )
        for t in st.config.trustpoints:
            if t.rsakeypair_size is not None and t.rsakeypair_size < 2048:
                yield Hit(
                    t.name,
                    f"trustpoint {t.name} requests {t.rsakeypair_size}-bit keys",
                    {"rsakeypair": f"{t.rsakeypair} {t.rsakeypair_size}"},
                    None,
                    ios.trustpoint(t.name, ios.rsakeypair(t.rsakeypair or t.name, 2048)),
                )


def _weak_signature_fix(ctx: Context, st: HostState, tp: str | None, c: Certificate) -> str:
    """The CA server that signs with the weak hash, when it is in the collection."""
    if tp is None:
        return f"{ios.server('<name>', ios.hash_('sha256'))}; then re-enroll"
    if tp in _server_names(st):  # the server's own CA certificate
        return (
            f"{ios.server(tp, ios.hash_('sha256'))}   (the CA certificate keeps its signature until rollover)"
        )
    key = ctx.index.find(st, tp)
    if key is not None:
        return f"on {key[0]}: {ios.server(key[1], ios.hash_('sha256'))}; then on {st.host}: crypto pki enroll {tp}"
    return f"crypto pki enroll {tp}   (after the issuing CA signs with SHA-256)"


# --------------------------------------------------------------------------- software

MIN_SOFTWARE = {"isr_g1": "15.1(4)M", "isr_g2": "15.4(3)M", "iosxe": "3.15"}


def platform_family(st: HostState) -> str | None:
    """The host's software family (isr_g1 / isr_g2 / iosxe), reconciled by the loader from the
    platforms table (`iospki.state.platforms`)."""
    return st.software_family


def version_key(v: str) -> tuple[int, ...]:
    """Numeric sort key of an IOS / IOS-XE version.

    >>> version_key("15.4(3)M2") > version_key("15.4(3)M") > version_key("15.1(4)M10")
    True
    >>> version_key("03.16.05.S") > version_key("3.15") and version_key("17.3.1a") > version_key("15.5(2)S")
    True
    """
    nums = [int(n) for n in re.findall(r"\d+", v)]
    return tuple(nums) or (0,)


def _older(version: str, family: str) -> bool:
    key = version_key(version)
    if family == "iosxe":
        # IOS-XE 3.x numbering; the IOS equivalent 15.5(2)S; 16.x and later are all newer
        if key[0] >= 16:
            return False
        if key[0] == 15:
            return key < version_key("15.5(2)")
        return key < version_key("3.15")
    return key < version_key(MIN_SOFTWARE[family])


@rule(
    "software-unsupported",
    _W,
    "Software older than needed for auto-enroll/auto-rollover",
    "The seed tech note names the first releases with working PKI timers: ISR-G1 15.1(4)M, ISR-G2 "
    "15.4(3)M, IOS-XE 3.15 / 15.5(2)S.",
    "upgrade the software",
)
def software_unsupported(ctx: Context, st: HostState) -> Iterator[Hit]:
    fam = platform_family(st)
    if fam not in MIN_SOFTWARE or not st.software:
        return
    if _older(st.software, fam):
        need = MIN_SOFTWARE[fam] if fam != "iosxe" else "3.15 / 15.5(2)S"
        yield Hit(
            None,
            f"software {st.software} on {st.model or fam} is older than {need}",
            {"platform": fam, "model": st.model or "-", "software": st.software, "minimum": need},
            None,
            f"upgrade to {need} or later",
        )
