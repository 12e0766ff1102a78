"""The PKI view that audit and forecast both read: per-CA and per-trustpoint inputs built from host states.

`ca_inputs` and `trustpoint_input` turn a `HostState` (all times UTC, facts reconciled by the loader) into the
plain dataclasses `CAInput` and `TrustpointInput`; `CAIndex` finds the CA server a client trustpoint enrolled
with. Nothing here simulates: the forecast (`iospki.forecast`) runs these inputs forward.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from iospki.models import Certificate, CertKind, Timer, normalize_fingerprint
from iospki.pki import timers as tm
from iospki.state.loader import HostState, significant_clock_difference


@dataclass
class Validity:
    start: datetime
    end: datetime

    def length(self) -> timedelta:
        return self.end - self.start


@dataclass
class CAInput:
    """A certificate server as collected."""

    host: str
    name: str
    ca: Validity
    lifetime_certificate: timedelta = tm.DEFAULT_CERT_LIFETIME
    lifetime_ca: timedelta = tm.DEFAULT_CA_LIFETIME
    auto_rollover: timedelta | None = None
    rollover_ca: Validity | None = None
    grant_auto: bool = True
    serving: bool = True
    clock_ok: bool = True
    lifetime_enrollment_request: timedelta = tm.DEFAULT_ENROLLMENT_REQUEST_LIFETIME
    # manual grant: how long after a request arrives the forecast assumes an operator grants it (None: never)
    grant_delay: timedelta | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.host, self.name)


@dataclass
class TrustpointInput:
    """A client trustpoint as collected. `ca_key` names its CA server (host, name) when known."""

    host: str
    trustpoint: str
    ca_key: tuple[str, str] | None = None
    auto_enroll: bool = False
    auto_enroll_percent: int | None = None
    regenerate: bool = False
    key_label: str | None = None  # `rsakeypair LABEL` (else the router's FQDN, as IOS names the default key)
    identity: Validity | None = None
    identity_subject: str | None = None
    renew_date: datetime | None = None
    ca_cert: Validity | None = None
    rollover_ca_cert: Validity | None = None
    rollover_identity: Validity | None = None
    # False: the device shows no timer that renews (RENEW, or for a capped certificate SHADOW, C9): it will not
    renew_armed: bool | None = None
    shadow_armed: bool | None = None  # the CA-certificate SHADOW at 90 % (C5); never the C9 one
    pending_request: bool = False
    poll_at: datetime | None = None
    retry_period: timedelta = tm.DEFAULT_RETRY_PERIOD
    retry_count: int = tm.DEFAULT_RETRY_COUNT
    clock_ok: bool = True
    # this client's clock minus its CA server's (0 unless the audit would report clock-skew): the client's
    # timers (RENEW, SHADOW) fire on its own clock, that much earlier on the CA's clock, which the forecast uses
    clock_skew: timedelta = timedelta(0)


def norm_dn(dn: str | None) -> tuple[str, ...]:
    """Order- and separator-insensitive form of a DN as IOS prints it in different commands.

    >>> norm_dn("cn=ca.qytang.com, ou=qytang") == norm_dn("OU=qytang CN=ca.qytang.com")
    True
    """
    if not dn:
        return ()
    return tuple(sorted(p for p in re.split(r"[,+\s/]+", dn.lower()) if p))


def _validity(cert: Certificate | None) -> Validity | None:
    if cert is None or cert.start is None or cert.end is None:
        return None
    return Validity(cert.start, cert.end)


def ca_inputs(state: HostState) -> list[CAInput]:
    """The certificate servers of one host (overlap and grant mode as the loader reconciled them)."""
    out: list[CAInput] = []
    for facts in state.ca_servers:
        if not facts.active:
            continue
        name, srv, cfg = facts.name, facts.shown, facts.config
        lt_cert = (cfg.lifetime_certificate if cfg else None) or tm.DEFAULT_CERT_LIFETIME
        lt_ca = (cfg.lifetime_ca_certificate if cfg else None) or tm.DEFAULT_CA_LIFETIME
        ca = _validity(state.cert(name, CertKind.ca))
        if ca is None and srv is not None and srv.ca_expires is not None:
            ca = Validity(srv.ca_expires - lt_ca, srv.ca_expires)
        if ca is None:
            continue
        roll = _validity(state.cert(name, CertKind.ca, rollover=True))
        if roll is None and srv is not None and srv.rollover_expires is not None:
            roll = Validity(ca.end, srv.rollover_expires)
        overlap, grant = facts.auto_rollover, facts.grant
        serving = True
        if srv is not None and ("disabled" in (srv.status or "") or "fail" in (srv.state or "")):
            serving = False
        if state.config is not None and not (
            state.config.ip_http_server or state.config.ip_http_secure_server
        ):
            serving = False
        out.append(
            CAInput(
                host=state.host,
                name=name,
                ca=ca,
                lifetime_certificate=lt_cert,
                lifetime_ca=lt_ca,
                auto_rollover=overlap,
                rollover_ca=roll,
                grant_auto=grant.lower().startswith("auto"),
                serving=serving,
                clock_ok=state.clock_authoritative() is not False,
                lifetime_enrollment_request=(cfg.lifetime_enrollment_request if cfg else None)
                or tm.DEFAULT_ENROLLMENT_REQUEST_LIFETIME,
            )
        )
    return out


@dataclass
class CAIndex:
    """Finds the CA server a client trustpoint enrolled with (fingerprint, then DN)."""

    by_fp: dict[str, tuple[str, str]] = field(default_factory=dict)
    by_dn: dict[tuple[str, ...], list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def build(cls, states: Iterable[HostState]) -> CAIndex:
        idx = cls()
        for st in states:
            # what `show crypto pki server` says wins over the certificates (it names the rollover CA too)
            for ca in st.ca_servers:
                key = (st.host, ca.name)
                for fp in ca.shown_fingerprints:
                    idx.by_fp[fp] = key
                if ca.shown is not None and norm_dn(ca.shown.issuer):
                    idx.by_dn.setdefault(norm_dn(ca.shown.issuer), []).append(key)
            for ca in st.ca_servers:
                key = (st.host, ca.name)
                if ca.certificate_fingerprint:
                    idx.by_fp.setdefault(ca.certificate_fingerprint, key)
                cert = st.cert(ca.name, CertKind.ca)
                if cert is not None:
                    keys = idx.by_dn.setdefault(norm_dn(cert.subject), [])
                    if key not in keys:
                        keys.append(key)
        return idx

    def find(self, state: HostState, trustpoint: str) -> tuple[str, str] | None:
        fps = []
        status = next((s for s in state.trustpoint_status if s.name == trustpoint), None)
        if status is not None:
            fps.append(status.ca_fingerprint_md5)
        ca = state.cert(trustpoint, CertKind.ca)
        if ca is not None:
            fps.append(ca.fingerprint_md5)
        for fp in fps:
            if normalize_fingerprint(fp) in self.by_fp:
                return self.by_fp[normalize_fingerprint(fp)]
        dns = []
        if ca is not None:
            dns.append(ca.subject)
        ident = state.cert(trustpoint, CertKind.identity)
        if ident is not None:
            dns.append(ident.issuer)
        for dn in dns:
            found = [k for k in self.by_dn.get(norm_dn(dn), []) if k != (state.host, trustpoint)]
            if found:
                return found[0]
        return None


def client_trustpoints(state: HostState) -> list[str]:
    """Trustpoints of a host that act as clients (not the CA server's own trustpoint)."""
    servers = {s.name for s in state.servers} | {
        s.name for s in (state.config.servers if state.config else [])
    }
    names: list[str] = []
    if state.config is not None:
        names = [t.name for t in state.config.trustpoints if (t.enrollment_mode or "") != "selfsigned"]
    for c in state.certificates:
        for tp in c.trustpoints:
            if tp not in names and c.kind in (CertKind.identity, CertKind.ca, CertKind.request):
                names.append(tp)
    return [n for n in names if n not in servers]


def timer_time(state: HostState, timer: Timer | None) -> datetime | None:
    """When a timer fires (UTC): as printed (IOS-XE `timers detail`), else the device clock plus the countdown
    (classic IOS prints only the countdown)."""
    if timer is None:
        return None
    if timer.at is not None:
        return timer.at
    now = state.now
    return tm.floor_second(now + timedelta(seconds=timer.remaining_seconds)) if now is not None else None


def _key_label(state: HostState, rsakeypair: str | None) -> str | None:
    """The key pair a trustpoint uses: `rsakeypair LABEL`, else the router's FQDN (hostname.domain), the label of
    IOS's default key pair."""
    if rsakeypair:
        return rsakeypair
    host = state.config.hostname if state.config else None
    domain = state.config.domain_name if state.config else None
    return f"{host}.{domain}" if host and domain else host


def is_capped(state: HostState, trustpoint: str) -> bool:
    """The trustpoint's identity certificate ends with its CA certificate (S2): on an auto-enroll trustpoint
    its renewal is the shadow renewal, started by its SHADOW timer (C9)."""
    ident, ca = state.cert(trustpoint, CertKind.identity), state.cert(trustpoint, CertKind.ca)
    return bool(ident and ca and ident.end and ca.end and ident.end >= ca.end)


def trustpoint_input(
    state: HostState, name: str, idx: CAIndex, states: dict[str, HostState] | None = None
) -> TrustpointInput:
    """The forecast's view of trustpoint `name` of `state`; with `states` (host -> state) a clock that
    differs from its CA server's (as the audit's clock-skew rule measures it) is taken into account."""
    cfg = next((t for t in state.config.trustpoints if t.name == name), None) if state.config else None
    ident = state.cert(name, CertKind.identity)
    pending = bool(state.certs(name, CertKind.request)) or state.timer("POLL", name) is not None
    poll = state.timer("POLL", name)
    renew_armed: bool | None = None
    shadow_armed: bool | None = None
    renew_date = ident.renew if ident else None
    ca = _validity(state.cert(name, CertKind.ca))
    # C9: a certificate capped at the CA's end on an auto-enroll trustpoint renews by its SHADOW timer (the
    # shadow renewal, at the timer's own time); that SHADOW is not the CA shadow at 90 % of C5
    capped = bool(cfg and cfg.auto_enroll) and is_capped(state, name)
    if state.timers is not None:
        renew, shadow = state.timer("RENEW", name), state.timer("SHADOW", name)
        if capped:
            timer = shadow or renew
            renew_armed, shadow_armed = timer is not None, False
            renew_date = timer_time(state, timer) or renew_date
        else:
            renew_armed, shadow_armed = renew is not None, shadow is not None
    ca_key = idx.find(state, name)
    skew: timedelta | None = None
    if states is not None and ca_key is not None and ca_key[0] in states and ca_key[0] != state.host:
        skew = significant_clock_difference(state, states[ca_key[0]])
    return TrustpointInput(
        host=state.host,
        trustpoint=name,
        ca_key=ca_key,
        clock_skew=skew or timedelta(0),
        auto_enroll=bool(cfg and cfg.auto_enroll),
        auto_enroll_percent=cfg.auto_enroll_percent if cfg else None,
        regenerate=bool(cfg and cfg.auto_enroll_regenerate),
        key_label=_key_label(state, cfg.rsakeypair if cfg else None),
        identity=_validity(ident),
        identity_subject=ident.subject if ident else None,
        renew_date=renew_date,
        ca_cert=ca,
        rollover_ca_cert=_validity(state.cert(name, CertKind.ca, rollover=True)),
        rollover_identity=_validity(state.cert(name, CertKind.identity, rollover=True)),
        renew_armed=renew_armed,
        shadow_armed=shadow_armed,
        pending_request=pending,
        poll_at=timer_time(state, poll),
        retry_period=timedelta(minutes=cfg.enrollment_retry_period)
        if cfg and cfg.enrollment_retry_period
        else tm.DEFAULT_RETRY_PERIOD,
        retry_count=cfg.enrollment_retry_count
        if cfg and cfg.enrollment_retry_count
        else tm.DEFAULT_RETRY_COUNT,
        clock_ok=state.clock_authoritative() is not False,
    )


def inputs_from_states(states: Iterable[HostState]) -> tuple[list[CAInput], list[TrustpointInput]]:
    states = [s for s in states if not s.failed]
    idx = CAIndex.build(states)
    cas = [c for s in states for c in ca_inputs(s)]
    by_host = {s.host: s for s in states}
    tps = [trustpoint_input(s, n, idx, by_host) for s in states for n in client_trustpoints(s)]
    return cas, tps
