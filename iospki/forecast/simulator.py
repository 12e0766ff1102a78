"""The simulator: a pure, deterministic discrete-event run of rules.md (S1-S5, C1-C10, P1) from `start` up to `until`.

An engineer's prediction written independently of the lab. Its inputs are the plain dataclasses of
`iospki.pki.inputs` (built from collected host states by `inputs_from_states`, or directly by callers and tests).

Conventions:
- timers that were due before `start` already fired: their effect is what was collected
  (C4/C5/C8: a failed RENEW or SHADOW is not retried), so they are not replayed;
- an overdue CS SHADOW CERT GENERATION fires at `start` (it cannot fail on the server);
- a host whose clock is not authoritative fires no timers (C1: nobody can say when it will
  be); its certificates still run out;
- requests to a manual-grant server stay pending (the forecast assumes nobody grants them) unless the CA's
  `grant_delay` says when an operator grants them; then the poll after the grant installs the certificate (P1);
- a certificate capped at the CA's end on an auto-enroll trustpoint renews by its SHADOW timer (C9): the
  "renew" timer of the simulation carries it, and the CA shadow at 90 % (C5) is not armed beside it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from iospki.forecast.model import (
    CA_CERT_END,
    CA_UNTRUSTED,
    CERT_END,
    CERT_INSTALL,
    CS_CERT_EXPIRE,
    CS_SHADOW_CERT_GENERATION,
    ER_EXPIRE,
    NO_IDENTITY,
    POLL,
    POLL_LAST,
    RENEW,
    RENEW_FAILED,
    RENEW_PENDING,
    ROLLOVER_ACTIVATION,
    SHADOW,
    SHADOW_FAILED,
    SHADOW_RENEWAL,
    SHADOW_RENEWAL_FAILED,
    Event,
    Forecast,
    Outage,
)
from iospki.gc_pause import PAUSED
from iospki.pki import timers as tm
from iospki.pki.inputs import CAInput, TrustpointInput, Validity, inputs_from_states
from iospki.state.loader import HostState

# Order of simultaneous events: the server generates before clients ask; clients renew
# before the CA certificate expires; certificate ends are judged after promotions.
_PRIO = {"gen": 0, "renew": 1, "shadow": 2, "poll": 2, "expire": 3, "promote": 3, "certend": 4}


# polls shown one by one; the rest of a long back-off is summed up in its POLL LAST event
_POLLS_SHOWN = 8


def _key_label(tp: _TP) -> str:
    """C7: the shadow key pair is the trustpoint's key label with '#' (`rsakeypair`, else the router's FQDN)."""
    return tp.inp.key_label or tp.inp.host


def _capped(tp: _TP) -> bool:
    """C9: the identity certificate ends with its CA certificate (S2) on an auto-enroll trustpoint: its renewal
    is the shadow renewal, carried by the SHADOW timer that takes the place of the CA shadow at 90 % (C5)."""
    return (
        tp.inp.auto_enroll
        and tp.identity is not None
        and tp.ca_cert is not None
        and tp.identity.end >= tp.ca_cert.end
    )


# --------------------------------------------------------------------------- simulation state


@dataclass
class _CA:
    inp: CAInput
    ca: Validity
    roll: Validity | None
    expired: bool = False
    version: int = 0
    clients: list[_TP] = field(default_factory=list)


@dataclass
class _TP:
    inp: TrustpointInput
    ca: _CA | None
    identity: Validity | None
    ca_cert: Validity | None
    roll_ca: Validity | None
    roll_id: Validity | None
    renew_version: int = 0
    shadow_version: int = 0
    id_version: int = 0
    poll_version: int = 0
    pickup: tuple[str, datetime] | None = None  # (event, grant time) of a granted request the next poll fetches
    outage_open: dict[str, datetime] = field(default_factory=dict)


class _Sim:
    def __init__(self, start: datetime, until: datetime) -> None:
        self.start = start
        self.until = until
        self.heap: list[tuple[datetime, int, int, str, Any, int]] = []
        self.seq = itertools.count()
        self.events: list[Event] = []
        self.outages: list[Outage] = []
        self.notes: list[str] = []

    # -- plumbing
    def schedule(self, at: datetime, kind: str, obj: Any, version: int) -> None:
        if at <= self.until:
            heapq.heappush(self.heap, (at, _PRIO[kind], next(self.seq), kind, obj, version))

    def emit(
        self,
        at: datetime,
        host: str,
        subject: str,
        event: str,
        tp: str | None = None,
        detail: str = "",
        cert: Validity | None = None,
    ) -> None:
        if self.start <= at <= self.until:
            vf, vt = (cert.start, cert.end) if cert else (None, None)
            self.events.append(Event(at, host, subject, event, tp, detail, vf, vt))

    def open_outage(self, tp: _TP, reason: str, at: datetime) -> None:
        tp.outage_open.setdefault(reason, at)

    def close_outage(self, tp: _TP, reason: str, at: datetime) -> None:
        began = tp.outage_open.pop(reason, None)
        if began is not None and at > began:
            self.outages.append(Outage(tp.inp.host, tp.inp.trustpoint, began, at, reason))

    # -- client timers
    def arm_renew(self, tp: _TP, t0: datetime, renew: datetime | None = None) -> None:
        tp.renew_version += 1
        if _capped(tp):
            tp.shadow_version += 1  # C9: the capped certificate's SHADOW replaces the CA shadow at 90 %
        if tp.identity is None or not tp.inp.auto_enroll or not tp.inp.clock_ok:
            return
        # T0 (installation) and the RENEW time are on the client's clock; the simulation runs on the CA's
        skew = tp.inp.clock_skew
        at = (renew or tm.renew_at(t0 + skew, tp.identity.end, tp.inp.auto_enroll_percent)) - skew
        if at >= self.start:
            self.schedule(at, "renew", tp, tp.renew_version)

    def arm_shadow(self, tp: _TP) -> None:
        tp.shadow_version += 1
        if tp.ca_cert is None or tp.roll_ca is not None or not tp.inp.clock_ok or _capped(tp):
            return
        at = tm.shadow_at(tp.ca_cert.start, tp.ca_cert.end) - tp.inp.clock_skew
        if at >= self.start:
            self.schedule(at, "shadow", tp, tp.shadow_version)

    def arm_certend(self, tp: _TP) -> None:
        tp.id_version += 1
        if tp.identity is not None:
            self.schedule(max(tp.identity.end, self.start), "certend", tp, tp.id_version)

    def install_identity(self, tp: _TP, cert: Validity, at: datetime) -> None:
        tp.identity = cert
        self.close_outage(tp, NO_IDENTITY, at)
        self.arm_certend(tp)
        self.arm_renew(tp, at)

    # -- server
    def arm_ca(self, ca: _CA) -> None:
        ca.version += 1
        inp = ca.inp
        if ca.roll is None and inp.auto_rollover is not None and inp.clock_ok:
            self.schedule(
                max(self.start, tm.cs_shadow_generation_at(ca.ca.end, inp.auto_rollover)),
                "gen",
                ca,
                ca.version,
            )
        self.schedule(ca.ca.end, "expire", ca, ca.version)
        for tp in ca.clients:
            if tp.inp.clock_skew:
                # a client activates its rollover certificates when ITS clock reaches the CA's end
                self.schedule(max(self.start, ca.ca.end - tp.inp.clock_skew), "promote", (tp, ca.ca.end), 0)

    # -- handlers
    def on_gen(self, at: datetime, ca: _CA) -> None:
        start, end = tm.rollover_ca_validity(ca.ca.end, ca.inp.lifetime_ca)
        ca.roll = Validity(start, end)
        self.emit(
            at,
            ca.inp.host,
            ca.inp.name,
            CS_SHADOW_CERT_GENERATION,
            None,
            f"rollover CA certificate {start.isoformat()} - {end.isoformat()}",
            ca.roll,
        )

    def on_expire(self, at: datetime, ca: _CA) -> None:
        host, name = ca.inp.host, ca.inp.name
        if ca.roll is None:
            ca.expired = True
            self.emit(
                at, host, name, CS_CERT_EXPIRE, None, "CA certificate expired and no rollover CA exists"
            )
            for tp in ca.clients:
                if tp.ca_cert is not None and tp.ca_cert.end <= at and tp.roll_ca is None:
                    self.emit(
                        at,
                        tp.inp.host,
                        tp.inp.trustpoint,
                        CA_CERT_END,
                        tp.inp.trustpoint,
                        "CA certificate ended, no rollover CA",
                    )
                    self.open_outage(tp, CA_UNTRUSTED, at)
            return
        self.emit(at, host, name, CS_CERT_EXPIRE, None, f"rollover CA active until {ca.roll.end.isoformat()}")
        ca.ca, ca.roll = ca.roll, None
        self.arm_ca(ca)
        for tp in ca.clients:
            if not tp.inp.clock_skew:  # the others promote on their own clocks ("promote" events)
                self.promote(at, tp)

    def on_promote(self, at: datetime, tp: _TP, old_end: datetime) -> None:
        if tp.ca_cert is not None and tp.ca_cert.end == old_end:  # not promoted past this CA yet
            self.promote(at, tp)

    def promote(self, at: datetime, tp: _TP) -> None:
        """C6 at the old CA's notAfter (on the client's clock)."""
        host, name = tp.inp.host, tp.inp.trustpoint
        own = at + tp.inp.clock_skew  # the client's clock
        parts = []
        if tp.roll_ca is not None:
            tp.ca_cert, tp.roll_ca = tp.roll_ca, None
            parts.append("CA Certificate (Rollover) -> CA Certificate")
            self.arm_shadow(tp)
        elif tp.ca_cert is not None and tp.ca_cert.end <= own and CA_UNTRUSTED not in tp.outage_open:
            self.emit(
                at, host, name, CA_CERT_END, name, "no CA Certificate (Rollover): the new CA is not trusted"
            )
            self.open_outage(tp, CA_UNTRUSTED, at)
            tp.shadow_version += 1
        promoted: Validity | None = None
        if tp.roll_id is not None:
            promoted, tp.roll_id = tp.roll_id, None
            parts.append("Certificate (Rollover) -> Certificate")
            if tp.inp.regenerate:
                label = _key_label(tp)
                parts.append(f"key {label}# -> {label}")
        if parts:
            self.emit(at, host, name, ROLLOVER_ACTIVATION, name, "; ".join(parts), promoted)
        if promoted is not None:
            self.install_identity(tp, promoted, at if tp.inp.clock_skew else promoted.start)

    def on_renew(self, at: datetime, tp: _TP) -> None:
        host, name = tp.inp.host, tp.inp.trustpoint
        ident, ca = tp.identity, tp.ca
        if ident is None:
            return
        if ca is None:
            self.emit(at, host, name, RENEW, name, "CA server not in the collection: outcome not predicted")
            return
        if ca.expired:
            self.emit(at, host, name, RENEW_FAILED, name, "the CA certificate has expired")
            return
        if not ca.inp.serving:
            self.emit(
                at, host, name, RENEW_FAILED, name, f"CA server {ca.inp.name} on {ca.inp.host} is not serving"
            )
            return
        if tp.ca_cert is not None and tp.ca_cert.start >= ca.ca.end:
            # the client's clock ran ahead: it activated the rollover CA certificate before its CA did and
            # addresses the request to a CA key the server does not use yet; a rejection stops RENEW (C8)
            tp.renew_version += 1
            self.emit(
                at,
                host,
                name,
                RENEW_FAILED,
                name,
                f"{host} already uses the rollover CA certificate, {ca.inp.name} does not until "
                f"{ca.ca.end.isoformat()}: rejected; RENEW stops",
            )
            return
        if ident.end < ca.ca.end:
            if not ca.inp.grant_auto:
                self.emit(
                    at, host, name, RENEW_PENDING, name, f"manual grant on {ca.inp.name}: request pending"
                )
                self.pending(at, tp, RENEW)
                return
            self.issue(at, tp, ca, RENEW, at)
            return
        # capped at the CA's end: shadow renewal (C4), started by the capped certificate's SHADOW timer (C9)
        if ca.roll is None:
            gen = (
                tm.cs_shadow_generation_at(ca.ca.end, ca.inp.auto_rollover).isoformat()
                if ca.inp.auto_rollover is not None
                else "never (no auto-rollover)"
            )
            self.emit(
                at,
                host,
                name,
                SHADOW_RENEWAL_FAILED,
                name,
                f"no rollover CA yet (CS SHADOW CERT GENERATION at {gen}); no retry",
            )
            return
        if tp.roll_ca is None:
            tp.roll_ca = Validity(ca.roll.start, ca.roll.end)
            tp.shadow_version += 1
        if not ca.inp.grant_auto:
            self.emit(
                at,
                host,
                name,
                RENEW_PENDING,
                name,
                "rollover CA installed; shadow request pending (manual grant)",
            )
            self.pending(at, tp, SHADOW_RENEWAL)
            return
        self.issue_rollover(at, tp, ca)

    def issue(self, at: datetime, tp: _TP, ca: _CA, event: str, granted: datetime) -> None:
        """C3 (or the first enrolment): the certificate the CA issued at `granted` (S2) is installed at `at`."""
        host, name = tp.inp.host, tp.inp.trustpoint
        start, end = tm.issued_validity(granted, ca.inp.lifetime_certificate, ca.ca.end)
        detail = f"new certificate {start.isoformat()} - {end.isoformat()}"
        if end == ca.ca.end:
            detail += " (capped at the CA's end)"
        if tp.inp.regenerate and event == RENEW:
            label = _key_label(tp)
            detail += f"; key {label}# replaces {label}"
        if granted != at:
            detail += f"; granted {granted.isoformat()}, fetched by the poll"
        self.emit(at, host, name, event, name, detail, Validity(start, end))
        self.install_identity(tp, Validity(start, end), at)

    def issue_rollover(self, at: datetime, tp: _TP, ca: _CA) -> None:
        """C4/S5: the rollover identity certificate, installed as Certificate (Rollover)."""
        ident = tp.identity
        if ident is None or ca.roll is None:
            return
        start, end = tm.rollover_validity(
            ca.ca.end, ca.inp.lifetime_certificate, ident.start, ident.end, ca.roll.end
        )
        tp.roll_id = Validity(start, end)
        self.emit(
            at,
            tp.inp.host,
            tp.inp.trustpoint,
            SHADOW_RENEWAL,
            tp.inp.trustpoint,
            f"CA Certificate (Rollover) and Certificate (Rollover) {start.isoformat()} - {end.isoformat()}",
            tp.roll_id,
        )

    def pending(self, requested: datetime, tp: _TP, what: str) -> None:
        """P1: a request answered PENDING at `requested` is polled after the retry period, then at doubling
        periods up to `POLL_CAP`, for `retry_count` polls or until the CA certificate ends. With the CA's
        `grant_delay` the first poll after the grant fetches the certificate (`what`: the event it becomes)."""
        host, name, ca = tp.inp.host, tp.inp.trustpoint, tp.ca
        polls = tm.poll_times(
            requested, tp.inp.retry_period, tp.inp.retry_count, ca.ca.end if ca is not None else None
        )
        dropped = requested + ca.inp.lifetime_enrollment_request if ca is not None else None
        granted = requested + ca.inp.grant_delay if ca is not None and ca.inp.grant_delay is not None else None
        if granted is not None and dropped is not None and granted >= dropped:
            granted = None  # the server dropped the request first (ER EXPIRE)
        pickup = next((p for p in polls if granted is not None and p > granted), None)
        if pickup is None and dropped is not None:
            # the first poll after ER EXPIRE finds no request and ends the polling (inferred: the server no
            # longer knows the transaction)
            polls = [p for p in polls if p < dropped] + [p for p in polls if p >= dropped][:1]
        shown = polls[: polls.index(pickup) + 1] if pickup is not None else polls
        for i, p in enumerate(shown, 1):
            if i <= _POLLS_SHOWN or p == pickup:
                got = "; fetches the certificate granted at " + granted.isoformat() if p == pickup and granted else ""
                self.emit(p, host, name, POLL, name, f"GetCertInitial {i} of at most {tp.inp.retry_count}{got}")
        if pickup is None and shown:
            why = (
                "the request was dropped (ER EXPIRE)"
                if dropped is not None and shown[-1] >= dropped
                else "the CA certificate ends"
                if len(shown) < tp.inp.retry_count
                else "enrollment retry count reached"
            )
            self.emit(shown[-1], host, name, POLL_LAST, name, f"poll {len(shown)}, the last: {why}")
        if ca is not None and dropped is not None and pickup is None:
            self.emit(dropped, ca.inp.host, ca.inp.name, ER_EXPIRE, None, f"request of {host}/{name} dropped")
        tp.poll_version += 1
        if pickup is not None and granted is not None:
            tp.pickup = (what, granted)
            self.schedule(pickup, "poll", tp, tp.poll_version)

    def on_poll(self, at: datetime, tp: _TP) -> None:
        """The poll that fetches a granted certificate (P1)."""
        ca, pick = tp.ca, tp.pickup
        if ca is None or pick is None or ca.expired:
            return
        what, granted = pick
        tp.pickup = None
        if what == SHADOW_RENEWAL:
            self.issue_rollover(at, tp, ca)
        else:
            self.issue(at, tp, ca, what, granted)

    def collected_pending(self, tp: _TP) -> None:
        """A request pending at collection time. Its next POLL is shown; how many polls went before is not, so
        the back-off is placed where its period first holds that countdown (exact right after the PENDING
        answer, a lower bound later: inferred)."""
        t = tp.inp
        if t.poll_at is None or t.poll_at < self.start:
            self.emit(self.start + t.retry_period, t.host, t.trustpoint, POLL, t.trustpoint, "pending request")
            return
        n = 1
        while tm.poll_period(t.retry_period, n) < t.poll_at - self.start and n < 64:
            n += 1
        requested = t.poll_at - sum((tm.poll_period(t.retry_period, k) for k in range(1, n + 1)), timedelta(0))
        what = CERT_INSTALL if tp.identity is None else SHADOW_RENEWAL if _capped(tp) else RENEW
        self.pending(requested, tp, what)

    def on_shadow(self, at: datetime, tp: _TP) -> None:
        host, name = tp.inp.host, tp.inp.trustpoint
        if tp.roll_ca is not None:
            return
        ca = tp.ca
        if ca is not None and ca.roll is not None:
            tp.roll_ca = Validity(ca.roll.start, ca.roll.end)
            self.emit(at, host, name, SHADOW, name, "GetNextCACert: CA Certificate (Rollover) installed")
        elif ca is None:
            self.emit(at, host, name, SHADOW, name, "GetNextCACert: CA server not in the collection")
        else:
            self.emit(at, host, name, SHADOW_FAILED, name, "GetNextCACert: no rollover CA yet; no retry")

    def on_certend(self, at: datetime, tp: _TP) -> None:
        if tp.identity is None:
            return
        self.emit(
            tp.identity.end,
            tp.inp.host,
            tp.inp.trustpoint,
            CERT_END,
            tp.inp.trustpoint,
            "identity certificate ended; no successor",
        )
        tp.identity = None
        tp.renew_version += 1
        if tp.ca is None and tp.inp.auto_enroll and tp.inp.clock_ok:
            return  # its renewal went to a CA we cannot see: no outage claimed
        self.open_outage(tp, NO_IDENTITY, at)

    def run(self) -> None:
        while self.heap:
            at, _, _, kind, obj, version = heapq.heappop(self.heap)
            if isinstance(obj, _CA):
                if version != obj.version:
                    continue
                if kind == "gen":
                    self.on_gen(at, obj)
                else:
                    self.on_expire(at, obj)
            elif kind == "renew" and version == obj.renew_version:
                self.on_renew(at, obj)
            elif kind == "shadow" and version == obj.shadow_version:
                self.on_shadow(at, obj)
            elif kind == "certend" and version == obj.id_version:
                self.on_certend(at, obj)
            elif kind == "poll" and version == obj.poll_version:
                self.on_poll(at, obj)
            elif kind == "promote":
                self.on_promote(at, *obj)


def simulate(
    cas: Iterable[CAInput],
    trustpoints: Iterable[TrustpointInput],
    start: datetime,
    until: datetime,
) -> Forecast:
    """Run the rules from `start` to `until`; return sorted events and outage windows."""
    with PAUSED:  # events, heap entries and states are freed by refcount (the one cycle is cut below)
        return _simulate(cas, trustpoints, start, until)


def _simulate(
    cas: Iterable[CAInput],
    trustpoints: Iterable[TrustpointInput],
    start: datetime,
    until: datetime,
) -> Forecast:
    start, until = tm.floor_second(start), tm.floor_second(until)
    sim = _Sim(start, until)
    by_key: dict[tuple[str, str], _CA] = {}
    for c in sorted(cas, key=lambda c: c.key):
        ca = _CA(c, Validity(c.ca.start, c.ca.end), c.rollover_ca)
        if c.ca.end < start and c.rollover_ca is None:
            ca.expired = True
        by_key[c.key] = ca
    tps: list[_TP] = []
    for t in sorted(trustpoints, key=lambda t: (t.host, t.trustpoint)):
        tca = by_key.get(t.ca_key) if t.ca_key else None
        if t.clock_skew and tca is not None:
            sim.notes.append(
                f"{t.host}/{t.trustpoint}: its clock is {abs(t.clock_skew)} "
                f"{'ahead of' if t.clock_skew > timedelta(0) else 'behind'} {tca.inp.host}'s; its RENEW and "
                f"SHADOW timers are placed on {tca.inp.host}'s clock"
            )
        tp = _TP(t, tca, t.identity, t.ca_cert, t.rollover_ca_cert, t.rollover_identity)
        if tca is not None:
            tca.clients.append(tp)
        elif t.ca_key is None:
            sim.notes.append(
                f"{t.host}/{t.trustpoint}: its CA server is not in the collection; no rollover predicted"
            )
        tps.append(tp)
    for sca in by_key.values():
        if not sca.expired:
            sim.arm_ca(sca)
    for tp in tps:
        t = tp.inp
        if tp.identity is not None:
            if tp.identity.end < start:
                sim.open_outage(tp, NO_IDENTITY, tp.identity.end)
                tp.identity = None
            else:
                sim.arm_certend(tp)
                if tp.roll_id is None and t.renew_armed is not False:
                    t0 = tp.identity.start
                    sim.arm_renew(tp, t0, t.renew_date)
        elif t.auto_enroll or t.pending_request:
            sim.open_outage(tp, NO_IDENTITY, start)
        if t.pending_request and t.clock_ok:
            sim.collected_pending(tp)
        if t.shadow_armed is not False:
            sim.arm_shadow(tp)
        if tp.ca is not None:
            if tp.ca.expired and tp.roll_ca is None:
                sim.open_outage(tp, CA_UNTRUSTED, max(start, tp.ca.ca.end))
        elif tp.ca_cert is not None and tp.ca_cert.end < start:
            sim.open_outage(tp, CA_UNTRUSTED, tp.ca_cert.end)
    sim.run()
    for tp in tps:
        for reason, began in sorted(tp.outage_open.items()):
            sim.outages.append(Outage(tp.inp.host, tp.inp.trustpoint, began, None, reason))
    for sca in by_key.values():
        sca.clients.clear()  # a CA and its clients point at each other: cut, so refcount frees them now
    sim.events.sort(key=lambda e: (e.at, e.host, e.subject, e.event))
    sim.outages.sort(key=lambda o: (o.start, o.host, o.trustpoint, o.reason))
    return Forecast(start, until, sim.events, sim.outages, sim.notes)


def forecast_states(
    states: Iterable[HostState], at: datetime | None = None, horizon: timedelta = timedelta(days=3 * 365)
) -> Forecast:
    """Forecast a collection from `at` (default: the latest device clock) over `horizon`."""
    states = list(states)
    with PAUSED:  # the inputs (half the forecast's time) are trees too; `simulate` pauses itself
        cas, tps = inputs_from_states(states)
    at = at or default_start(states, tps)
    return simulate(cas, tps, at, at + horizon)


def default_start(states: list[HostState], tps: Iterable[TrustpointInput]) -> datetime:
    """Where a forecast without `at` starts: the latest device clock, on the CA servers' clocks (a client
    running ahead must not move "now" past its CA's events); with no clock, the collector's UTC now."""
    skew = {t.host: t.clock_skew for t in tps if t.clock_skew}
    clocks = [s.now - skew.get(s.host, timedelta(0)) for s in states if s.now is not None]
    return max(clocks) if clocks else datetime.utcnow().replace(microsecond=0)
