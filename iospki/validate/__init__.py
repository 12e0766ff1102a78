"""Topology validation: prove on the lab twin that an inventory survives its PKI lifecycle.

`validate(inventory, output, through=...)`:
1. brings the inventory up as a lab (`python -m iospki.lab up`, a subprocess: the toolkit never imports the lab);
2. deploys it with the toolkit's own `iospki deploy` (hosts with `validate_deploy_day: N` in their data are
   deployed N days later: a client added to a running PKI);
3. collects, forecasts, then moves the lab clock from checkpoint to checkpoint: just after every forecast event
   and every certificate end, up to the end of the next CA rollover (or the span given);
4. at each checkpoint collects again and checks every client trustpoint:
   - `identity`: it holds a valid identity certificate;
   - `trust`: its CA certificate is the active CA certificate of its CA server;
   - `events`: what changed on the devices is what the forecast predicted (a predicted event that did not
     happen, or a change nobody predicted, fails; the forecast then restarts from what the devices hold);
   and runs the audit (its findings go into the summary).
Outputs in `output`: `junit.xml` (one case per host and check), `timeline.png`, `summary.md`, `result.json`,
the collections (`collections/NNN-<time>/`) and the deploy backups.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from typer import Exit as ClickExit

from iospki import forecast as fcm
from iospki.forecast import Event, Forecast, Validity
from iospki.operations.inventory import ENV_KNOWN_HOSTS
from iospki.pki.timers import parse_duration
from iospki.state import store
from iospki.state.loader import HostState, load_collection

DEPLOY_DAY_KEY = "validate_deploy_day"
LIGHT_COMMANDS = (
    "show clock detail",
    "show running-config",
    "show crypto pki certificates",
    "show crypto pki timers",
)
CHECKS = ("deploy", "collect", "identity", "trust", "events")
# Device and forecast agree on a time when they are this close (enrollment round trips, second rounding).
TOLERANCE = timedelta(minutes=3)
CHECKPOINT_MARGIN = timedelta(minutes=2)  # look this long after an event (let the SCEP exchange finish)
CLUSTER_GAP = timedelta(minutes=10)  # events closer than this share one checkpoint


class ValidateError(Exception):
    """The validation could not run (bad inventory, lab did not start); the message says why."""


@dataclass
class Problem:
    host: str
    trustpoint: str | None
    check: str
    at: datetime
    cause: str
    until: datetime | None = None  # when the condition ended (outages), None = still at the end

    def line(self) -> str:
        where = f"{self.host}" + (f" trustpoint {self.trustpoint}" if self.trustpoint else "")
        span = f" (until {_iso(self.until)})" if self.until else ""
        return f"{where} at {_iso(self.at)}: {self.check}: {self.cause}{span}"

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "trustpoint": self.trustpoint,
            "check": self.check,
            "at": _iso(self.at),
            "until": _iso(self.until) if self.until else None,
            "cause": self.cause,
        }


@dataclass
class Checkpoint:
    at: datetime
    collection: Path
    reason: str
    hosts_ok: int
    hosts_failed: int
    audit_findings: int = 0


@dataclass
class ValidationResult:
    inventory: Path
    output: Path
    start: datetime | None = None
    until: datetime | None = None
    hosts: list[str] = field(default_factory=list)
    trustpoints: dict[str, list[str]] = field(default_factory=dict)  # host -> client trustpoints
    problems: list[Problem] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    events_seen: list[Event] = field(default_factory=list)  # forecast events confirmed on the devices
    audit_notes: list[str] = field(default_factory=list)
    history: dict[tuple[str, str], list[tuple[str, Validity]]] = field(default_factory=dict)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per phase (deploy, clock, collect, ...)
    host_keys_checked: bool = False  # SSH host keys checked against the known_hosts file the lab wrote
    error: str | None = None  # the run itself broke (lab, deploy of every host)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "iospki.validate/1",
            "inventory": str(self.inventory),
            "passed": self.passed,
            "error": self.error,
            "start": _iso(self.start) if self.start else None,
            "until": _iso(self.until) if self.until else None,
            "seconds": round(self.seconds, 1),
            "host_keys_checked": self.host_keys_checked,
            "phases": {k: round(v, 1) for k, v in self.phases.items()},
            "hosts": self.hosts,
            "problems": [p.to_json() for p in self.problems],
            "checkpoints": [
                {
                    "at": _iso(c.at),
                    "reason": c.reason,
                    "collection": str(c.collection),
                    "hosts_ok": c.hosts_ok,
                    "hosts_failed": c.hosts_failed,
                    "audit_findings": c.audit_findings,
                }
                for c in self.checkpoints
            ],
            "events_confirmed": [e.to_json() for e in self.events_seen],
        }


def _iso(t: datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _naive(t: datetime) -> datetime:
    """Naive UTC, as the parsers and the forecast use."""
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


# ------------------------------------------------------------------------------------------- the lab (subprocess)
class LabProcess:
    """`python -m iospki.lab --state DIR ...` as a child process (never imported)."""

    def __init__(self, state: Path, phases: dict[str, float] | None = None) -> None:
        self.state = state
        self.running = False
        self.phases = phases if phases is not None else {}

    def _run(self, *args: str, timeout: float = 1800) -> str:
        t0 = time.monotonic()
        try:
            return self._run_timed(*args, timeout=timeout)
        finally:
            key = f"lab {args[0]}"
            self.phases[key] = self.phases.get(key, 0.0) + time.monotonic() - t0

    def _run_timed(self, *args: str, timeout: float) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "iospki.lab", "--state", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise ValidateError(f"lab {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-1500:]}")
        return proc.stdout

    def up(self, inventory: Path, start: str | None) -> None:
        args = ["up", "--inventory", str(inventory), "--quiet"]
        if start:
            args += ["--start", start]
        self._run(*args, timeout=300)
        self.running = True

    def down(self) -> None:
        if self.running:
            try:
                self._run("down", timeout=60)
            finally:
                self.running = False

    def now(self) -> datetime:
        return _naive(datetime.fromisoformat(self._run("clock", "show").split()[0]))

    def set_clock(self, at: datetime) -> datetime:
        """Move the lab clock forward to `at` (naive UTC), running every device timer on the way."""
        return _naive(datetime.fromisoformat(self._run("clock", "set", _iso(at)).split()[0]))


# ------------------------------------------------------------------------------------------- observation
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
    cas, tps = fcm.inputs_from_states(states)
    return World(
        tps={
            (t.host, t.trustpoint): TPView(
                t.identity, t.rollover_identity, t.ca_cert, t.rollover_ca_cert, t.ca_key
            )
            for t in tps
        },
        cas={c.key: CAView(c.ca, c.rollover_ca) for c in cas},
    )


def _same(a: Validity | None, b: Validity | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a.start - b.start) <= TOLERANCE and abs(a.end - b.end) <= TOLERANCE


def _live(v: Validity | None, now: datetime) -> Validity | None:
    """A certificate that has ended counts as absent (IOS may still list it)."""
    return v if v is not None and v.end > now else None


def _fmt(v: Validity | None) -> str:
    return f"{_iso(v.start)} - {_iso(v.end)}" if v else "none"


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
            if _same(want, got):
                if ev is not None and ev not in confirmed:
                    confirmed.append(ev)
                continue
            if ev is not None:
                cause = (
                    f"predicted {ev.event} at {_iso(ev.at)} did not happen as forecast: expected {label} "
                    f"{_fmt(want)}, the device holds {_fmt(got)}"
                )
                problems.append(Problem(host, tp, "events", ev.at, cause))
            else:
                cause = f"unpredicted change of the {label}: forecast {_fmt(want)}, the device holds {_fmt(got)}"
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
            why = f"ended {_iso(ident.end)}" if ident and ident.end <= now else "none installed"
            if ident and ident.start > now:
                why = f"not valid before {_iso(ident.start)}"
            out.append(Problem(host, tp, "identity", now, f"no valid identity certificate ({why})"))
        ca = observed.cas.get(v.ca_key) if v.ca_key else None
        if v.ca is None or v.ca.end <= now:
            why = "none installed" if v.ca is None else f"its CA certificate ended {_iso(v.ca.end)}"
            out.append(Problem(host, tp, "trust", now, f"does not trust the active CA ({why})"))
        elif ca is not None and v.ca_key is not None and not _same(_live(ca.ca, now), v.ca):
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


# ------------------------------------------------------------------------------------------- scheduling
def checkpoints(
    fc: Forecast, world: World, now: datetime, until: datetime, include_end: bool = True
) -> list[datetime]:
    """Just after every forecast event and certificate end in (now, until]; close times share one."""
    times = [e.at for e in fc.events if now < e.at <= until]
    for v in world.tps.values():
        for c in (v.identity, v.roll_identity, v.ca, v.roll_ca):
            if c is not None and now < c.end <= until:
                times.append(c.end)
    for cav in world.cas.values():
        for x in (cav.ca, cav.roll):
            if x is not None and now < x.end <= until:
                times.append(x.end)
    times.sort()
    out: list[datetime] = []
    last: datetime | None = None
    for t in times:
        if last is not None and t - last <= CLUSTER_GAP:
            out[-1] = t + CHECKPOINT_MARGIN
        else:
            out.append(t + CHECKPOINT_MARGIN)
        last = t
    out = [min(t, until) for t in out]
    if include_end and (not out or out[-1] < until):
        out.append(until)
    return sorted(set(out))


# ------------------------------------------------------------------------------------------- the run
class _Tracker:
    """Turns per-checkpoint conditions into problems that start (and maybe end) at a time."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str | None, str], Problem] = {}
        self.done: list[Problem] = []

    def update(self, current: list[Problem], checks: set[str], now: datetime) -> None:
        seen = set()
        for p in current:
            if p.check == "events":  # each mismatch is its own finding (the forecast restarts after it)
                self.done.append(p)
                continue
            k = (p.host, p.trustpoint, p.check)
            seen.add(k)
            if k not in self.open:
                self.open[k] = p
        for k in list(self.open):
            if k[2] in checks and k not in seen:
                p = self.open.pop(k)
                p.until = now
                self.done.append(p)

    def all(self) -> list[Problem]:
        return sorted(self.done + list(self.open.values()), key=lambda p: (p.at, p.host, p.trustpoint or ""))


def _deploy(
    inventory: Path, hosts: list[str], backup_dir: Path, secrets: list[str], env: dict[str, str] | None = None
) -> dict[str, str]:
    """`iospki deploy --limit HOSTS` in a child process; returns failed host -> reason."""
    cmd = [
        sys.executable,
        "-c",
        "from iospki.cli import main; main()",
        "deploy",
        "--inventory",
        str(inventory),
        "--limit",
        ",".join(hosts),
        "--backup-dir",
        str(backup_dir),
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=env)
    failed: dict[str, str] = {}
    try:
        start = proc.stdout.index("[")
        rows = json.loads(proc.stdout[start:])
    except ValueError:
        why = store.redact((proc.stderr or proc.stdout).strip()[-500:], secrets) or f"exit {proc.returncode}"
        return {h: f"deploy failed: {why}" for h in hosts}
    for r in rows:
        if not r.get("ok", False):
            failed[str(r["host"])] = store.redact(f"deploy failed: {r.get('note') or 'unknown cause'}", secrets)
    return failed


def _collect_light(ctx: Any, output: Path, description: str) -> Any:
    """Like `collect_into`, with only the commands the checks and the forecast need (clock, running config,
    certificates, timers, certificate server): a checkpoint costs a few seconds, not a full collection."""
    from nornir.core.task import Result, Task

    from iospki.operations.collection import CollectOutcome
    from iospki.operations.runner import failure, run
    from iospki.tasks import collect_pki

    started = datetime.now(timezone.utc)
    output.mkdir(parents=True, exist_ok=True)

    def one(task: Task) -> Result:
        intent = ctx.intents.get(task.host.name)
        cmds = list(LIGHT_COMMANDS)
        if intent is not None and intent.ca_server is not None:
            cmds.append("show crypto pki server")
        return task.run(task=collect_pki, output=output, secrets=ctx.secrets, facts=False, commands=cmds)[0]

    agg = run(ctx.nr, one, description)
    res = CollectOutcome(output=output)
    for h, mr in agg.items():
        if mr.failed:
            reason, unreachable = failure(mr, ctx.nr.inventory.hosts[h])
            res.failed[h] = ctx.redact(reason)
            if unreachable:
                res.unreachable.add(h)
            store.write_error(output, h, res.failed[h], ctx.secrets)
        else:
            res.ok[h] = mr[0].result
    store.write_meta(
        output, res.ok, res.failed, started=started,
        commands=sorted({c for r in res.ok.values() for c in r["commands"]}),
    )
    return res


def validate(
    inventory: Path,
    output: Path,
    through: str = "rollover",
    start: str | None = None,
    audit: bool = True,
) -> ValidationResult:
    """Run the whole validation; never raises for device trouble (it becomes a problem in the result)."""
    from iospki.audit.engine import run_audit
    from iospki.cli.kit import open_inventory
    from iospki.operations.collection import collect_into

    t0 = time.monotonic()
    inventory = inventory.resolve()
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    res = ValidationResult(inventory, output)
    try:
        ctx = open_inventory(str(inventory), None)
    except ClickExit:  # a usage error: open_inventory printed the reason
        raise ValidateError(f"invalid inventory {inventory} (see the messages above)") from None
    span: timedelta | None = None
    if through != "rollover":
        try:
            span = parse_duration(through)
        except ValueError as exc:
            raise ValidateError(f"--through must be 'rollover' or a duration such as 800d: {exc}") from None
    waves: dict[float, list[str]] = {}
    for name, h in ctx.full.inventory.hosts.items():
        if not h.get("lab", False):
            raise ValidateError(f"{name}: not a lab host (data lab: true); validate runs on the lab twin only")
        day = h.get(DEPLOY_DAY_KEY, 0) or 0
        try:
            waves.setdefault(float(day), []).append(name)
        except (TypeError, ValueError):
            raise ValidateError(f"{name}: {DEPLOY_DAY_KEY} must be a number of days, got {day!r}") from None
    res.hosts = sorted(ctx.full.inventory.hosts)
    state = Path(tempfile.mkdtemp(prefix="iospki-validate-lab-"))
    lab = LabProcess(state, res.phases)

    def timed(phase: str, t0: float) -> None:
        res.phases[phase] = res.phases.get(phase, 0.0) + time.monotonic() - t0
    tracker = _Tracker()
    counter = 0
    try:
        lab.up(inventory, start)
        # trust exactly the keys the lab wrote: every SSH session of the run checks the router's host key
        known = state / "known_hosts"
        deploy_env: dict[str, str] | None = None
        if known.is_file():
            deploy_env = {**os.environ, ENV_KNOWN_HOSTS: str(known)}
            res.host_keys_checked = True
            saved = os.environ.get(ENV_KNOWN_HOSTS)
            os.environ[ENV_KNOWN_HOSTS] = str(known)
            try:
                ctx = open_inventory(str(inventory), None)
            finally:
                if saved is None:
                    os.environ.pop(ENV_KNOWN_HOSTS, None)
                else:
                    os.environ[ENV_KNOWN_HOSTS] = saved
        begin = lab.now()
        res.start = begin
        deployed: set[str] = set()
        wave_times = sorted(waves)
        # wave 0 now; later waves N days after the CA's notBefore ("day 0" of ios-pki-behaviour.md §1.8)
        pending: list[tuple[datetime, list[str]]] = [(begin, waves[d]) for d in wave_times[:1]]
        later = [(d, waves[d]) for d in wave_times[1:]]
        until: datetime | None = begin + span if span else None

        def collect(reason: str, full: bool = False, at: datetime | None = None) -> tuple[list[HostState], datetime]:
            nonlocal counter
            now = at or lab.now()
            counter += 1
            out = output / "collections" / f"{counter:03d}-{now:%Y%m%dT%H%M%SZ}"
            sub = dataclasses.replace(ctx, nr=ctx.full.filter(filter_func=lambda h: h.name in deployed))
            t1 = time.monotonic()
            if full:  # every PKI command (audit input)
                outcome = collect_into(sub, out, facts=False, description=f"collect {reason}")
            else:  # what the checks and the forecast read: fast enough for many checkpoints
                outcome = _collect_light(sub, out, f"collect {reason}")
            timed("collect", t1)
            t1 = time.monotonic()
            states = load_collection(out)
            timed("parse", t1)
            cur = [Problem(h, None, "collect", now, f"collection failed: {why}") for h, why in outcome.failed.items()]
            for st in states:
                for err in st.errors:
                    cur.append(Problem(st.host, None, "collect", now, f"unreadable output: {err}"))
            tracker.update(cur, {"collect"}, now)
            nfind = 0
            t1 = time.monotonic()
            if audit:
                try:
                    ar = run_audit(states, horizon=None)
                    crit = [f for f in ar.findings if f.severity.value in ("critical", "error")]
                    nfind = len(ar.findings)
                    for f in crit:
                        note = f"{_iso(now)} {f.host} {f.target or ''}: [{f.severity.value}] {f.rule}: {f.message}"
                        if note.split(" ", 1)[1] not in {n.split(" ", 1)[1] for n in res.audit_notes}:
                            res.audit_notes.append(note)
                except Exception as exc:  # the audit is a report here; its failure must not stop the run
                    res.audit_notes.append(f"{_iso(now)} audit failed: {type(exc).__name__}: {exc}")
            timed("audit", t1)
            ok = [s for s in states if not s.failed]
            res.checkpoints.append(Checkpoint(now, out, reason, len(ok), len(outcome.failed), nfind))
            for (host, tp), v in observe(ok).tps.items():
                hist = res.history.setdefault((host, tp), [])
                for label, c in (("identity", v.identity), ("rollover", v.roll_identity), ("ca", v.ca)):
                    if c is not None and not any(lb == label and _same(c, x) for lb, x in hist):
                        hist.append((label, c))
            return ok, now

        states: list[HostState] = []
        now = begin
        wave_due = True
        while True:
            # deploy the next wave when its time came (no checkpoint left before it)
            while pending and (wave_due or pending[0][0] <= now + CHECKPOINT_MARGIN):
                wave_due = False
                at, hosts = pending.pop(0)
                if at > now:
                    now = lab.set_clock(at)
                t1 = time.monotonic()
                failed = _deploy(
                    inventory, hosts, output / "backups" / f"day{(at - begin).days}", ctx.secrets, deploy_env
                )
                timed("deploy", t1)
                for hn in hosts:
                    if hn in failed:
                        tracker.update([Problem(hn, None, "deploy", now, failed[hn])], set(), now)
                deployed |= set(hosts)
                states, now = collect(f"after deploy of {', '.join(sorted(hosts))}", full=True)
                if later:
                    ca_start = min((c.ca.start for c in observe(states).cas.values()), default=begin)
                    pending += [(ca_start + timedelta(days=d), hs) for d, hs in later]
                    pending.sort(key=lambda p: p[0])
                    later = []
            if until is None:
                ends = [c.ca.end for c in observe(states).cas.values()]
                if not ends:
                    raise ValidateError("no CA server came up after the deploy: nothing to validate")
                until = max(ends) + timedelta(days=1)
            res.until = until
            if now >= until:
                break
            world = observe(states)
            tracker.update(health(world, now, deployed), {"identity", "trust"}, now)
            stop_at = min([until] + [p[0] for p in pending])
            fc = fcm.forecast_states(states, at=now, horizon=stop_at - now + timedelta(days=1))
            exp = Expected(observe(states))
            applied = 0
            resync = False
            for cp in checkpoints(fc, world, now, stop_at, include_end=stop_at >= until):
                if cp > now:
                    now = lab.set_clock(cp)
                states, now = collect(f"checkpoint {_iso(cp)}", at=now)
                obs = observe(states)
                while applied < len(fc.events) and fc.events[applied].at <= now - CHECKPOINT_MARGIN / 2:
                    exp.apply(fc.events[applied])
                    applied += 1
                tracker.update(health(obs, now, deployed), {"identity", "trust"}, now)
                diffs, confirmed = compare(exp, obs, now, deployed)
                for ev in confirmed:
                    if ev not in res.events_seen:
                        res.events_seen.append(ev)
                if diffs:
                    tracker.update(diffs, set(), now)
                    resync = True  # forecast again from what the devices hold now
                    break
            if not resync:
                if pending:
                    wave_due = True
                else:
                    break
    except ValidateError as exc:
        res.error = str(exc)
    finally:
        try:
            lab.down()
        except ValidateError as exc:
            res.error = res.error or str(exc)
        shutil.rmtree(state, ignore_errors=True)
        with contextlib.suppress(Exception):
            ctx.full.close_connections()
    res.problems = tracker.all()
    res.trustpoints = {}
    for host, tp in res.history:
        res.trustpoints.setdefault(host, []).append(tp)
    res.seconds = time.monotonic() - t0
    return res


# ------------------------------------------------------------------------------------------- outputs
def junit_xml(res: ValidationResult) -> str:
    """One test case per host and check; a failure names host, trustpoint, time and cause."""
    suite = ET.Element("testsuite", name="iospki.validate")
    cases = 0
    failures = 0
    errors = 0
    for host in res.hosts:
        for check in CHECKS:
            if check in ("identity", "trust", "events") and host not in res.trustpoints:
                continue  # a CA server or a host without client trustpoints
            case = ET.SubElement(suite, "testcase", classname=host, name=check)
            cases += 1
            found = [p for p in res.problems if p.host == host and p.check == check]
            if found:
                failures += 1
                f = ET.SubElement(case, "failure", message=found[0].line()[:500], type=check)
                f.text = "\n".join(p.line() for p in found)
    if res.error:
        case = ET.SubElement(suite, "testcase", classname="lab", name="run")
        ET.SubElement(case, "error", message=res.error[:500], type="run").text = res.error
        cases += 1
        errors += 1
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("time", f"{res.seconds:.1f}")
    root = ET.Element("testsuites", name="iospki lab validate")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def markdown(res: ValidationResult) -> str:
    verdict = "PASSED" if res.passed else "FAILED"
    lines = [
        f"# iospki lab validate: {verdict}",
        "",
        f"- inventory: `{res.inventory}`",
        f"- lab time: {_iso(res.start) if res.start else '-'} to {_iso(res.until) if res.until else '-'}",
        f"- hosts: {len(res.hosts)}, client trustpoints: {sum(len(v) for v in res.trustpoints.values())}",
        f"- checkpoints: {len(res.checkpoints)}, forecast events confirmed on the devices: {len(res.events_seen)}",
        f"- SSH host keys: {'checked against the known_hosts file the lab wrote' if res.host_keys_checked else 'not checked'}",
        f"- run time: {res.seconds:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(res.phases.items()))
        + ")",
        "",
    ]
    if res.error:
        lines += ["## The run did not complete", "", f"{res.error}", ""]
    lines += ["## Problems", ""]
    if res.problems:
        lines += ["| host | trustpoint | check | time | until | cause |", "|---|---|---|---|---|---|"]
        for p in res.problems:
            cause = p.cause.replace("|", "\\|")
            until = _iso(p.until) if p.until else "end"
            lines.append(f"| {p.host} | {p.trustpoint or '-'} | {p.check} | {_iso(p.at)} | {until} | {cause} |")
    else:
        lines.append("None: every client held a valid identity certificate and trusted the active CA at every "
                     "checkpoint, and the devices did what the forecast predicted.")
    lines += ["", "## Checkpoints", "", "| lab time | reason | hosts ok | failed | audit findings |",
              "|---|---|---|---|---|"]
    for c in res.checkpoints:
        lines.append(f"| {_iso(c.at)} | {c.reason} | {c.hosts_ok} | {c.hosts_failed} | {c.audit_findings} |")
    if res.audit_notes:
        lines += ["", "## Audit (critical and error findings, first time seen)", ""]
        lines += [f"- {n}" for n in res.audit_notes[:200]]
    return "\n".join(lines) + "\n"


def timeline_png(res: ValidationResult, path: Path, max_rows: int = 60) -> Path:
    """Certificates held by each client trustpoint over the run, with the problems marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    keys = sorted(res.history)[:max_rows]
    fig_h = max(2.5, 0.35 * len(keys) + 1.5)
    fig, ax = plt.subplots(figsize=(12, fig_h))
    colours = {"identity": "tab:green", "rollover": "tab:olive", "ca": "tab:blue"}
    offs = {"identity": 0.0, "rollover": 0.25, "ca": -0.25}
    for i, key in enumerate(keys):
        for label, v in res.history[key]:
            ax.barh(
                i + offs[label],
                mdates.date2num(v.end) - mdates.date2num(v.start),
                left=mdates.date2num(v.start),
                height=0.22,
                color=colours[label],
                alpha=0.8,
            )
    for p in res.problems:
        if p.trustpoint is None or (p.host, p.trustpoint) not in keys:
            continue
        i = keys.index((p.host, p.trustpoint))
        ax.plot([mdates.date2num(p.at)], [i], marker="X", color="red", markersize=10)
    if res.start and res.until:
        ax.set_xlim(mdates.date2num(res.start - timedelta(days=5)), mdates.date2num(res.until + timedelta(days=5)))
    ax.set_yticks(range(len(keys)), [f"{h}/{t}" for h, t in keys])
    ax.xaxis_date()
    ax.set_title(f"iospki lab validate: {'passed' if res.passed else 'FAILED'} "
                 "(green identity, olive rollover identity, blue CA certificate, X problem)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def write_outputs(res: ValidationResult, junit: Path | None = None) -> dict[str, Path]:
    out = res.output
    paths = {
        "junit": junit or out / "junit.xml",
        "summary": out / "summary.md",
        "json": out / "result.json",
        "timeline": out / "timeline.png",
    }
    paths["junit"].parent.mkdir(parents=True, exist_ok=True)
    store.atomic_write_text(paths["junit"], junit_xml(res))
    store.atomic_write_text(paths["summary"], markdown(res))
    store.atomic_write_text(paths["json"], json.dumps(res.to_json(), indent=1))
    timeline_png(res, paths["timeline"])
    return paths
