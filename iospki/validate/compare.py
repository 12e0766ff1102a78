"""Expected versus observed: what each client trustpoint holds (validities), the forecast replayed event by
event, and the checks that compare them (`compare`: the events; `health`: identity and trust)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from iospki import forecast as fcm
from iospki.forecast import Event
from iospki.pki.inputs import Validity, inputs_from_states
from iospki.state.loader import HostState
from iospki.validate.model import Problem, iso

# Device and forecast agree on a time when they are this close (enrollment round trips, second rounding).
TOLERANCE = timedelta(minutes=3)


@dataclass
class TPView:
    """What one client trustpoint holds (validities), as observed or as expected."""

    identity: Validity | None = None
    roll_identity: Validity | None = None
    ca: Validity | None = None
    roll_ca: Validity | None = None
    ca_key: tuple[str, str] | None = None


@dataclass
class CAView:
    ca: Validity
    roll: Validity | None = None


@dataclass
class World:
    tps: dict[tuple[str, str], TPView]
    cas: dict[tuple[str, str], CAView]


def observe(states: Iterable[HostState]) -> World:
    cas, tps = inputs_from_states(states)
    return World(
        tps={
            (t.host, t.trustpoint): TPView(
                t.identity, t.rollover_identity, t.ca_cert, t.rollover_ca_cert, t.ca_key
            )
            for t in tps
        },
        cas={c.key: CAView(c.ca, c.rollover_ca) for c in cas},
    )


def same(a: Validity | None, b: Validity | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a.start - b.start) <= TOLERANCE and abs(a.end - b.end) <= TOLERANCE


def _live(v: Validity | None, now: datetime) -> Validity | None:
    """A certificate that has ended counts as absent (IOS may still list it)."""
    return v if v is not None and v.end > now else None


def _fmt(v: Validity | None) -> str:
    return f"{iso(v.start)} - {iso(v.end)}" if v else "none"


@dataclass
class Expected:
    """The forecast's view, replayed event by event from the observation it started from."""

    world: World
    cause: dict[tuple[str, str, str], Event] = field(default_factory=dict)  # (host, tp, slot) -> event

    def apply(self, e: Event) -> None:
        w = self.world
        if e.trustpoint is None:  # a CA server event
            ca = w.cas.get((e.host, e.subject))
            if ca is None:
                return
            if e.event == fcm.CS_SHADOW_CERT_GENERATION and e.valid_from and e.valid_to:
                ca.roll = Validity(e.valid_from, e.valid_to)
            elif e.event == fcm.CS_CERT_EXPIRE and ca.roll is not None:
                ca.ca, ca.roll = ca.roll, None
            return
        tp = w.tps.get((e.host, e.trustpoint))
        if tp is None:
            return
        key = (e.host, e.trustpoint)
        ca = w.cas.get(tp.ca_key) if tp.ca_key else None
        if e.event == fcm.RENEW and e.valid_from and e.valid_to:
            tp.identity = Validity(e.valid_from, e.valid_to)
            self.cause[(*key, "identity")] = e
        elif e.event == fcm.SHADOW_RENEWAL and e.valid_from and e.valid_to:
            tp.roll_identity = Validity(e.valid_from, e.valid_to)
            self.cause[(*key, "roll_identity")] = e
            if ca is not None and ca.roll is not None:
                tp.roll_ca = Validity(ca.roll.start, ca.roll.end)
                self.cause[(*key, "roll_ca")] = e
        elif e.event == fcm.SHADOW and "installed" in e.detail and ca is not None and ca.roll is not None:
            tp.roll_ca = Validity(ca.roll.start, ca.roll.end)
            self.cause[(*key, "roll_ca")] = e
        elif e.event == fcm.ROLLOVER_ACTIVATION:
            if tp.roll_ca is not None:
                tp.ca, tp.roll_ca = tp.roll_ca, None
                self.cause[(*key, "ca")] = e
            if e.valid_from and e.valid_to:
                tp.identity = Validity(e.valid_from, e.valid_to)
                tp.roll_identity = None
                self.cause[(*key, "identity")] = e


SLOTS = (
    ("identity", "identity certificate"),
    ("roll_identity", "rollover identity certificate"),
    ("ca", "CA certificate"),
    ("roll_ca", "rollover CA certificate"),
)


def compare(
    expected: Expected, observed: World, now: datetime, deployed: set[str]
) -> tuple[list[Problem], list[Event]]:
    """Predicted-but-missing and unpredicted changes, plus the forecast events confirmed so far."""
    problems: list[Problem] = []
    confirmed: list[Event] = []
    for key, exp in expected.world.tps.items():
        host, tp = key
        if host not in deployed:
            continue
        obs = observed.tps.get(key)
        if obs is None:
            continue  # the host failed to collect: reported by the `collect` check
        for slot, label in SLOTS:
            want = _live(getattr(exp, slot), now)
            got = _live(getattr(obs, slot), now)
            ev = expected.cause.get((host, tp, slot))
            if same(want, got):
                if ev is not None and ev not in confirmed:
                    confirmed.append(ev)
                continue
            if ev is not None:
                cause = (
                    f"predicted {ev.event} at {iso(ev.at)} did not happen as forecast: expected {label} "
                    f"{_fmt(want)}, the device holds {_fmt(got)}"
                )
                problems.append(Problem(host, tp, "events", ev.at, cause))
            else:
                cause = (
                    f"unpredicted change of the {label}: forecast {_fmt(want)}, the device holds {_fmt(got)}"
                )
                problems.append(Problem(host, tp, "events", now, cause))
    for key in observed.tps:
        if key not in expected.world.tps and key[0] in deployed:
            problems.append(
                Problem(key[0], key[1], "events", now, "unpredicted trustpoint appeared on the device")
            )
    return problems, confirmed


def health(observed: World, now: datetime, deployed: set[str]) -> list[Problem]:
    """Clients without a valid identity certificate or without trust in their CA's active certificate."""
    out: list[Problem] = []
    for (host, tp), v in sorted(observed.tps.items()):
        if host not in deployed:
            continue
        ident = v.identity
        if ident is None or not (ident.start <= now < ident.end):
            why = f"ended {iso(ident.end)}" if ident and ident.end <= now else "none installed"
            if ident and ident.start > now:
                why = f"not valid before {iso(ident.start)}"
            out.append(Problem(host, tp, "identity", now, f"no valid identity certificate ({why})"))
        ca = observed.cas.get(v.ca_key) if v.ca_key else None
        if v.ca is None or v.ca.end <= now:
            why = "none installed" if v.ca is None else f"its CA certificate ended {iso(v.ca.end)}"
            out.append(Problem(host, tp, "trust", now, f"does not trust the active CA ({why})"))
        elif ca is not None and v.ca_key is not None and not same(_live(ca.ca, now), v.ca):
            out.append(
                Problem(
                    host,
                    tp,
                    "trust",
                    now,
                    f"does not trust the active CA of {v.ca_key[0]}/{v.ca_key[1]} ({_fmt(_live(ca.ca, now))}); "
                    f"it holds CA certificate {_fmt(v.ca)}",
                )
            )
    return out
