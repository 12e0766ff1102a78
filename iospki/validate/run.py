"""Topology validation: prove on the lab twin that an inventory survives its PKI lifecycle.

`run_validation(inventory, output, through=..., as_deployed=False, fail_on="critical")`:
0. unless `as_deployed`, adds a probe client per trustpoint design that joins on the design's worst day
   (rule V1, `probe`): a design that holds only for clients enrolled on day 0 must fail;
1. brings the inventory up as a lab (`python -m iospki.lab up`, a child process: the toolkit never imports
   the lab);
2. deploys it with the toolkit's deploy (`iospki.operations.deploy`; hosts with `validate_deploy_day: N` in their
   data are deployed N days later: a client added to a running PKI);
3. collects, forecasts, then moves the lab clock from checkpoint to checkpoint (`schedule`): just after every
   forecast event and every certificate end, up to the end of the next CA rollover (or the span given);
4. at each checkpoint collects again and checks every client trustpoint (`compare`):
   - `identity`: it holds a valid identity certificate;
   - `trust`: its CA certificate is the active CA certificate of its CA server;
   - `events`: what changed on the devices is what the forecast predicted (a predicted event that did not
     happen, or a change nobody predicted, fails; the forecast then restarts from what the devices hold);
   - `renewal`: a renewal the forecast said fails (a shadow renewal finding no rollover CA) failed on the
     devices as well;
   and runs the audit: its findings at or above `fail_on` fail the run too (`none`: outcomes only).
`write_outputs` writes every "validation" report of `iospki.reports` into `output` (`junit.xml`,
`summary.md`, `result.json`, `timeline.png`); the collections (`collections/NNN-<time>/`) and the deploy
backups are there too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from iospki import forecast as fcm
from iospki.audit.engine import run_audit
from iospki.forecast import Event, forecast_states
from iospki.operations import deploy as deployment
from iospki.operations.collection import collect_into
from iospki.operations.inventory import ENV_KNOWN_HOSTS, InventoryError
from iospki.operations.runner import Context, open_context
from iospki.pki.timers import parse_duration
from iospki.reports import write, writers
from iospki.state.loader import HostState, load_collection
from iospki.validate.compare import Expected, compare, health, observe, same
from iospki.validate.model import (
    DEPLOY_DAY_KEY,
    FAIL_ON,
    AuditFinding,
    Checkpoint,
    Problem,
    ProblemTracker,
    ValidateError,
    ValidationResult,
    iso,
)
from iospki.validate.probe import plan_probes, write_probed_inventory
from iospki.validate.schedule import CHECKPOINT_MARGIN, checkpoints
from iospki.validate.twin import LabProcess

# forecast events that say a renewal failed for good (no retry: C4, C5, C8); confirmed, they are `renewal`
# problems
FAILED_RENEWALS = (fcm.SHADOW_RENEWAL_FAILED, fcm.SHADOW_FAILED, fcm.RENEW_FAILED)
# what a checkpoint reads (a CA server also `show crypto pki server`): a few seconds, not a full collection
LIGHT_COMMANDS = (
    "show clock detail",
    "show running-config",
    "show crypto pki certificates",
    "show crypto pki timers",
)


def _open(inventory: Path, known_hosts: Path | None = None) -> Context:
    """The inventory, with SSH host keys checked against `known_hosts` (the file the lab wrote) when given."""
    saved = os.environ.get(ENV_KNOWN_HOSTS)
    if known_hosts is not None:  # load_nornir reads it from the environment, like a user's setting
        os.environ[ENV_KNOWN_HOSTS] = str(known_hosts)
    try:
        return open_context(str(inventory), None)
    except InventoryError as exc:
        raise ValidateError(f"invalid inventory {inventory}: {exc}") from None
    finally:
        if saved is None:
            os.environ.pop(ENV_KNOWN_HOSTS, None)
        else:
            os.environ[ENV_KNOWN_HOSTS] = saved


def _deploy(ctx: Context, backup_dir: Path) -> dict[str, str]:
    """Deploy the hosts of `ctx.nr`; returns failed host -> reason."""
    try:
        rows = deployment.apply(ctx, backup_dir)
    except Exception as exc:  # a deploy that breaks fails its hosts, the validation reports them
        why = ctx.redact(f"{type(exc).__name__}: {exc}")
        return {h: f"deploy failed: {why}" for h in ctx.nr.inventory.hosts}
    return {
        h: ctx.redact(f"deploy failed: {r.get('note') or 'unknown cause'}")
        for h, r in rows.items()
        if not r["ok"]
    }


def _waves(ctx: Context) -> dict[float, list[str]]:
    """Join day -> hosts (`validate_deploy_day`, default 0); every host must be a lab host."""
    waves: dict[float, list[str]] = {}
    for name, h in ctx.full.inventory.hosts.items():
        if not h.get("lab", False):
            raise ValidateError(
                f"{name}: not a lab host (data lab: true); validate runs on the lab twin only"
            )
        day = h.get(DEPLOY_DAY_KEY, 0) or 0
        try:
            waves.setdefault(float(day), []).append(name)
        except (TypeError, ValueError):
            raise ValidateError(f"{name}: {DEPLOY_DAY_KEY} must be a number of days, got {day!r}") from None
    return waves


def run_validation(
    inventory: Path,
    output: Path,
    through: str = "rollover",
    start: str | None = None,
    audit: bool = True,
    as_deployed: bool = False,
    fail_on: str = "critical",
) -> ValidationResult:
    """Run the whole validation; never raises for device trouble (it becomes a problem in the result)."""
    t0 = time.monotonic()
    if fail_on not in FAIL_ON:
        raise ValidateError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    inventory = inventory.resolve()
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    span: timedelta | None = None
    if through != "rollover":
        try:
            span = parse_duration(through)
        except ValueError as exc:
            raise ValidateError(f"--through must be 'rollover' or a duration such as 800d: {exc}") from None
    res = ValidationResult(inventory, output, fail_on=fail_on)
    ctx = _open(inventory)
    waves = _waves(ctx)
    state = Path(tempfile.mkdtemp(prefix="iospki-validate-lab-"))
    lab_inventory = inventory
    if not as_deployed:
        try:
            res.probes, res.probe_notes = plan_probes(ctx)
            if res.probes:
                # the copy with the probes stays in the temporary folder: it holds the lab's credentials
                lab_inventory = write_probed_inventory(ctx, inventory, state / "inventory", res.probes)
                ctx.close()
                ctx = _open(lab_inventory)
                waves = _waves(ctx)
        except BaseException:
            shutil.rmtree(state, ignore_errors=True)
            raise
    probe_of = {p.host: p for p in res.probes}
    res.hosts = sorted(ctx.full.inventory.hosts)
    (state / "lab").mkdir()
    lab = LabProcess(state / "lab", res.phases)

    def timed(phase: str, t0: float) -> None:
        res.phases[phase] = res.phases.get(phase, 0.0) + time.monotonic() - t0

    tracker = ProblemTracker()
    counter = 0
    seen_findings: set[tuple[str, str | None, str]] = set()

    def failed_renewals(events: list[Event], diffs: list[Problem], now: datetime) -> None:
        """The forecast's failed renewals up to `now` that the devices confirmed (no mismatch on that
        trustpoint): a `renewal` problem each; a probe's failed shadow renewal is also the probe's verdict."""
        wrong = {(p.host, p.trustpoint) for p in diffs}
        for ev in events:
            if ev.event not in FAILED_RENEWALS or ev.trustpoint is None or (ev.host, ev.trustpoint) in wrong:
                continue
            day = f" (day {(ev.at - res.day0).total_seconds() / 86400:.1f})" if res.day0 else ""
            what = "shadow renewal" if ev.event == fcm.SHADOW_RENEWAL_FAILED else ev.event
            cause = f"{what} at {iso(ev.at)}{day} failed on the device as forecast: {ev.detail}"
            tracker.update([Problem(ev.host, ev.trustpoint, "renewal", ev.at, cause)], set(), now)
            probe = probe_of.get(ev.host)
            if probe is not None and ev.event == fcm.SHADOW_RENEWAL_FAILED and probe.shadow_failed_at is None:
                probe.shadow_failed_at = ev.at
    try:
        lab.up(lab_inventory, start)
        # trust exactly the keys the lab wrote: every SSH session of the run checks the router's host key
        known = lab.state / "known_hosts"
        if known.is_file():
            res.host_keys_checked = True
            ctx.close()
            ctx = _open(lab_inventory, known)
        begin = lab.now()
        res.start = begin
        deployed: set[str] = set()
        wave_times = sorted(waves)
        # wave 0 now; later waves N days after the CA's notBefore ("day 0" of ios-pki-behaviour.md §1.8)
        pending: list[tuple[datetime, list[str]]] = [(begin, waves[d]) for d in wave_times[:1]]
        later = [(d, waves[d]) for d in wave_times[1:]]
        until: datetime | None = begin + span if span else None

        def light(host: str) -> list[str]:
            intent = ctx.intents.get(host)
            extra = ["show crypto pki server"] if intent is not None and intent.ca_server is not None else []
            return [*LIGHT_COMMANDS, *extra]

        def collect(
            reason: str, full: bool = False, at: datetime | None = None
        ) -> tuple[list[HostState], datetime]:
            nonlocal counter
            now = at or lab.now()
            counter += 1
            out = output / "collections" / f"{counter:03d}-{now:%Y%m%dT%H%M%SZ}"
            t1 = time.monotonic()
            # full: every PKI command (audit input); else what the checks and the forecast read, fast enough
            # for many checkpoints
            outcome = collect_into(
                ctx.only(deployed),
                out,
                facts=False,
                description=f"collect {reason}",
                commands=None if full else light,
            )
            timed("collect", t1)
            t1 = time.monotonic()
            states = load_collection(out)
            timed("parse", t1)
            cur = [
                Problem(h, None, "collect", now, f"collection failed: {why}")
                for h, why in outcome.failed.items()
            ]
            for st in states:
                for err in st.errors:
                    cur.append(Problem(st.host, None, "collect", now, f"unreadable output: {err}"))
            tracker.update(cur, {"collect"}, now)
            nfind = 0
            t1 = time.monotonic()
            if audit:
                try:
                    ar = run_audit(states, horizon=None)
                    nfind = len(ar.findings)
                    for f in ar.findings:
                        key = (f.host, f.target, f.rule)
                        if key not in seen_findings:
                            seen_findings.add(key)
                            res.audit_findings.append(
                                AuditFinding(f.host, f.target, f.rule, f.severity.value, f.message, now)
                            )
                except Exception as exc:  # the audit is a report here; its failure must not stop the run
                    res.audit_errors.append(f"{iso(now)} audit failed: {type(exc).__name__}: {exc}")
            timed("audit", t1)
            ok = [s for s in states if not s.failed]
            res.checkpoints.append(Checkpoint(now, out, reason, len(ok), len(outcome.failed), nfind))
            for (host, tp), v in observe(ok).tps.items():
                hist = res.history.setdefault((host, tp), [])
                for label, c in (("identity", v.identity), ("rollover", v.roll_identity), ("ca", v.ca)):
                    if c is not None and not any(lb == label and same(c, x) for lb, x in hist):
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
                failed = _deploy(ctx.only(hosts), output / "backups" / f"day{(at - begin).days}")
                timed("deploy", t1)
                for hn in hosts:
                    if hn in failed:
                        tracker.update([Problem(hn, None, "deploy", now, failed[hn])], set(), now)
                deployed |= set(hosts)
                states, now = collect(f"after deploy of {', '.join(sorted(hosts))}", full=True)
                if res.day0 is None:  # day 0 of the join days and of the report's days
                    res.day0 = min((c.ca.start for c in observe(states).cas.values()), default=None)
                if later:
                    ca_start = res.day0 or begin
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
            fc = forecast_states(states, at=now, horizon=stop_at - now + timedelta(days=1))
            exp = Expected(observe(states))
            applied = 0
            judged = 0  # forecast events whose failed renewals were already judged
            resync = False
            for cp in checkpoints(fc, world, now, stop_at, include_end=stop_at >= until):
                if cp > now:
                    now = lab.set_clock(cp)
                states, now = collect(f"checkpoint {iso(cp)}", at=now)
                obs = observe(states)
                while applied < len(fc.events) and fc.events[applied].at <= now - CHECKPOINT_MARGIN / 2:
                    exp.apply(fc.events[applied])
                    applied += 1
                tracker.update(health(obs, now, deployed), {"identity", "trust"}, now)
                diffs, confirmed = compare(exp, obs, now, deployed)
                for ev in confirmed:
                    if ev not in res.events_seen:
                        res.events_seen.append(ev)
                failed_renewals(list(fc.events[judged:applied]), diffs, now)
                judged = applied
                if diffs:
                    tracker.update(diffs, set(), now)
                    resync = True  # forecast again from what the devices hold now
                    break
            if not resync:
                if pending:
                    wave_due = True
                else:
                    break
        for probe in res.probes:
            if probe.host not in deployed:  # its join day lies beyond --through: it proved nothing
                probe.joined = False
                res.probe_notes.append(
                    f"{probe.host}: not deployed, its join day {probe.join_day:g} is after the span validated"
                )
    except ValidateError as exc:
        res.error = str(exc)
    finally:
        try:
            lab.down()
        except ValidateError as exc:
            res.error = res.error or str(exc)
        shutil.rmtree(state, ignore_errors=True)
        ctx.close()
    res.problems = tracker.all()
    res.trustpoints = {}
    for host, tp in res.history:
        res.trustpoints.setdefault(host, []).append(tp)
    res.seconds = time.monotonic() - t0
    return res


def write_outputs(res: ValidationResult, junit: Path | None = None) -> dict[str, Path]:
    """Every "validation" report of the registry into `res.output` (JUnit XML at `junit` when given)."""
    paths: dict[str, Path] = {}
    for w in writers("validation"):
        path = junit if (w.name == "junit" and junit is not None) else res.output / w.filename
        paths[w.name] = write(res, w.name, path, "validation")
    return paths
