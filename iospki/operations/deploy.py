"""Deploy the inventory's PKI intent: prerequisites, then CA servers, then clients (authenticate + enroll).

Order: (1) every host: back up the running config, push prerequisites; (2) CA servers: the `crypto pki server`
block, `no shutdown` with the passphrase dialog; (3) read each CA's fingerprint from the CA server itself;
(4) clients: trustpoint blocks, `crypto pki authenticate` (accepting only the pinned or the CA-read fingerprint),
`crypto pki enroll`, wait for the certificate (granting pending requests on the CA when the intent says so).
Idempotent: what is configured, enabled, authenticated or enrolled already is left alone.

`plan(ctx)` is the dry run, `apply(ctx, backup_dir)` the deploy; both return one row per host (the JSON rows of
`iospki deploy --json`): {'host', 'ok', 'changes', 'note', ['unreachable'], ['plan'], ['certificates']}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nornir.core.task import AggregatedResult, Result, Task

from iospki.cluster.relay import ClientStore
from iospki.operations import interrupt
from iospki.operations.configdiff import missing_lines
from iospki.operations.intent import HostIntent, trustpoint_url
from iospki.operations.inventory import pki_secrets
from iospki.operations.resilience import ca_slot
from iospki.operations.runner import Context, failure, run, was_interrupted
from iospki.parsers import ParseError, parse
from iospki.state.store import REDACTED
from iospki.tasks import (
    TaskFailed,
    authenticate_trustpoint,
    backup_config,
    enable_ca_server,
    enroll_trustpoint,
    grant_requests,
    napalm_compare,
    push_config,
    wait_certificate,
)
from iospki.tasks.connection import show
from iospki.tasks.state import has_ca, has_identity, identity_serials, server_state
from iospki.templates import render_ca_server, render_prerequisites, render_trustpoint

Rows = dict[str, dict[str, Any]]  # host -> its row


def host_lines(ctx: Context, name: str, archive_password: str | None = None) -> dict[str, list[str]]:
    """The intended config of `name`, by part: prerequisites, ca_server, trustpoints."""
    intent = ctx.intents[name]
    parts: dict[str, list[str]] = {"prerequisites": render_prerequisites(intent)}
    if intent.ca_server:
        parts["ca_server"] = render_ca_server(intent.ca_server, archive_password)
    tps: list[str] = []
    for tp in intent.trustpoints:
        ca = ctx.intents[tp.ca_server].ca_server
        assert ca is not None  # validated
        tps += render_trustpoint(tp, trustpoint_url(tp, ctx.addr(tp.ca_server), ca))
    if tps:
        parts["trustpoints"] = tps
    return parts


def _plan(task: Task, ctx: Context, napalm: bool = False) -> Result:
    """Dry run: the diff per part plus the interactive steps that would run; changes nothing."""
    name = task.host.name
    intent = ctx.intents[name]
    running = show(task, "show running-config", read_timeout=60)
    diff: dict[str, list[str]] = {}
    # the lines deploy pushes, the archive password as a placeholder (the secret never enters a plan): the
    # diff compares `database archive ... password` by its prefix, as IOS never shows the password as typed
    archive = REDACTED if intent.ca_server and intent.ca_server.database_archive else None
    parts = host_lines(ctx, name, archive)
    for part, lines in parts.items():
        missing = missing_lines(running, lines)
        if missing:
            diff[part] = missing
    napalm_diff = None
    if napalm:  # NAPALM's compare_config of the same lines, for comparison with our parent-aware diff
        napalm_diff = task.run(task=napalm_compare, lines=[ln for p in parts.values() for ln in p]).result
    steps: list[str] = []
    if intent.ca_server:
        st = server_state(
            show(task, f"show crypto pki server {intent.ca_server.name}"), intent.ca_server.name
        )
        if st is None or not st.enabled:
            steps.append(f"crypto pki server {intent.ca_server.name} / no shutdown")
    for tp in intent.trustpoints:
        certs = show(task, f"show crypto pki certificates {tp.name}")
        if not has_ca(certs):
            steps.append(f"crypto pki authenticate {tp.name}")
        if not has_identity(certs):
            # with auto-enroll IOS sends the request itself right after authenticate; deploy then only waits
            auto = " (or IOS auto-enrolls after authenticate)" if tp.auto_enroll else ""
            steps.append(f"crypto pki enroll {tp.name}{auto}")
    return Result(
        host=task.host, result={"diff": diff, "steps": steps, "napalm_diff": napalm_diff}, changed=False
    )


def _prepare(task: Task, ctx: Context, backup_dir: Path) -> Result:
    task.run(task=backup_config, backup_dir=backup_dir, secrets=ctx.secrets)
    r = task.run(task=push_config, lines=host_lines(ctx, task.host.name)["prerequisites"])
    return Result(host=task.host, result={"pushed": r.result}, changed=bool(r.result))


def _ca(task: Task, ctx: Context) -> Result:
    intent = ctx.intents[task.host.name]
    assert intent.ca_server is not None
    secrets = pki_secrets(task.host)
    archive = secrets.ca_passphrase if intent.ca_server.database_archive else None
    if intent.ca_server.database_archive and not archive:
        raise TaskFailed(f"{task.host.name}: database_archive needs a password: set IOSPKI_CA_PASSPHRASE")
    pushed = task.run(task=push_config, lines=host_lines(ctx, task.host.name, archive)["ca_server"]).result
    en = task.run(task=enable_ca_server, server=intent.ca_server.name, passphrase=secrets.ca_passphrase)
    st = server_state(show(task, f"show crypto pki server {intent.ca_server.name}"), intent.ca_server.name)
    return Result(
        host=task.host,
        result={"pushed": pushed, "enabled": en.changed, "fingerprint": st.ca_fingerprint if st else None},
        changed=bool(pushed) or en.changed,
    )


def _client(
    task: Task,
    ctx: Context,
    ca_fps: dict[str, str],
    failed_cas: set[str],
    ca_blocked: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Result:
    intent: HostIntent = ctx.intents[task.host.name]
    secrets = pki_secrets(task.host)
    pushed = task.run(task=push_config, lines=host_lines(ctx, task.host.name)["trustpoints"]).result
    out: dict[str, Any] = {"pushed": pushed, "trustpoints": {}}
    changed = bool(pushed)
    for tp in intent.trustpoints:
        if (
            ca_blocked and tp.ca_server in ca_blocked
        ):  # e.g. the CA's clock is not authoritative: enroll nothing
            raise TaskFailed(
                f"{task.host.name}: trustpoint {tp.name}: not enrolled: {ca_blocked[tp.ca_server]}"
            )
        expected = tp.expected_ca_fingerprint or ca_fps.get(tp.ca_server)
        if not expected:
            if tp.ca_server in failed_cas:
                raise TaskFailed(
                    f"{task.host.name}: trustpoint {tp.name}: CA server {tp.ca_server} failed in this run"
                )
            raise TaskFailed(
                f"{task.host.name}: trustpoint {tp.name}: no fingerprint of CA {tp.ca_server} (pin it or deploy the CA first)"
            )
        a = task.run(task=authenticate_trustpoint, trustpoint=tp.name, expected_fingerprint=expected)
        with ca_slot(tp.ca_server):  # at most M enrollments against one CA server at a time
            e = task.run(
                task=enroll_trustpoint,
                trustpoint=tp.name,
                challenge_password=secrets.challenge_password,
                serial_number=tp.serial_number,
            )
            ca_intent = ctx.intents[tp.ca_server].ca_server
            if e.result["sent"] and ca_intent is not None and ca_intent.grant == "auto":
                # the SCEP exchange runs on the router after the dialog: keep the slot until it is done
                task.run(
                    task=wait_certificate,
                    trustpoint=tp.name,
                    not_serials=e.result["serials_before"],
                    timeout=timeout,
                )
        out["trustpoints"][tp.name] = {
            "authenticated": a.changed,
            "enroll_sent": e.result["sent"],
            "serials_before": e.result["serials_before"],
        }
        changed = changed or a.changed or e.changed
    return Result(host=task.host, result=out, changed=changed)


def _wait(task: Task, ctx: Context, sent: dict[str, dict[str, Any]], timeout: float) -> Result:
    got: dict[str, list[str]] = {}
    for tp in ctx.intents[task.host.name].trustpoints:
        info = sent[task.host.name].get(tp.name)
        if info and info["enroll_sent"]:
            got[tp.name] = task.run(
                task=wait_certificate, trustpoint=tp.name, not_serials=info["serials_before"], timeout=timeout
            ).result["serials"]
        else:
            got[tp.name] = identity_serials(show(task, f"show crypto pki certificates {tp.name}"))
    return Result(host=task.host, result=got)


def _grant(task: Task, ctx: Context) -> Result:
    ca = ctx.intents[task.host.name].ca_server
    assert ca is not None
    return task.run(task=grant_requests, server=ca.name)[0]


def _rows(ctx: Context) -> Rows:
    return {h: {"host": h, "ok": True, "changes": [], "note": ""} for h in ctx.nr.inventory.hosts}


def _record(ctx: Context, rows: Rows, agg: AggregatedResult, what: str) -> None:
    for h, mr in agg.items():
        if mr.failed:
            reason, unreachable = failure(mr, ctx.nr.inventory.hosts.get(h))
            rows[h].update(ok=False, note=ctx.redact(reason), unreachable=unreachable)
            if was_interrupted(mr):
                rows[h]["interrupted"] = True
        elif mr.changed:
            rows[h]["changes"].append(what)


def plan(ctx: Context, napalm: bool = False) -> Rows:
    """Dry run: per host the missing config lines by part and the interactive steps (row 'plan'); changes nothing."""
    rows = _rows(ctx)
    agg = run(ctx.nr, _plan, "plan", ctx=ctx, napalm=napalm)
    _record(ctx, rows, agg, "plan")
    for h, mr in agg.items():
        if mr.failed:
            continue
        p = mr[0].result
        rows[h]["plan"] = p
        n = sum(len(v) for v in p["diff"].values())
        rows[h]["note"] = (
            f"{n} line{'s'[: n != 1]} to add, {len(p['steps'])} step{'s'[: len(p['steps']) != 1]}"
            if n or p["steps"]
            else "in sync"
        )
    return rows


def _stopped(rows: Rows) -> Rows:
    """Ctrl-C: no step after the exchanges in flight ran. Every row says so and lists the config exchanges that
    reached its device ('sent'); a config exchange is never cut (it ends, or fails part-way and says so)."""
    for h, row in rows.items():
        row["interrupted"] = True
        row["sent"] = interrupt.changes(h)
        if row["ok"]:
            row.update(ok=False, note="interrupted (Ctrl-C) before the remaining steps")
    return rows


def apply(ctx: Context, backup_dir: Path, wait: float = 60.0) -> Rows:
    """Deploy every host of `ctx.nr` (running configs backed up into `backup_dir` first).

    Ctrl-C stops it between device exchanges: the rows then carry 'interrupted' and 'sent' (`_stopped`)."""
    with interrupt.cooperative():
        rows = _apply(ctx, backup_dir, wait)
        return _stopped(rows) if interrupt.stopped() else rows


def _apply(ctx: Context, backup_dir: Path, wait: float) -> Rows:
    nr = ctx.nr
    rows = _rows(ctx)
    _record(
        ctx,
        rows,
        # ClientStore: on a cluster the backups come back to this directory (iospki.cluster)
        run(nr, _prepare, "backup + prerequisites", ctx=ctx, backup_dir=ClientStore(str(backup_dir))),
        "prerequisites",
    )
    if interrupt.stopped():
        return rows

    cas = nr.filter(filter_func=lambda h: h.name in ctx.intents and ctx.intents[h.name].ca_server is not None)
    ca_res = run(cas, _ca, "CA servers", ctx=ctx)
    _record(ctx, rows, ca_res, "ca-server")
    if interrupt.stopped():
        return rows
    for h, mr in ca_res.items():  # the fingerprint a person pins as expected_ca_fingerprint
        if rows[h]["ok"] and not mr.failed and mr[0].result.get("fingerprint"):
            rows[h]["note"] = f"CA fingerprint MD5 {mr[0].result['fingerprint']}"

    # CA fingerprints read over SSH from the CA servers themselves (all of them, even outside --limit)
    ca_fps: dict[str, str] = {}
    ca_blocked: dict[str, str] = {}  # CA server -> why no client may enroll with it now
    needed = {tp.ca_server for h in nr.inventory.hosts for tp in ctx.intents[h].trustpoints}
    if needed:
        ca_nr = ctx.full.filter(filter_func=lambda h: h.name in needed)
        fp_res = run(ca_nr, _read_fingerprint, "CA fingerprints", ctx=ctx)
        for h, mr in fp_res.items():
            if not mr.failed and mr[0].result:
                ca_fps[h] = mr[0].result
            elif mr.failed:
                ca_blocked[h] = ctx.redact(failure(mr, ca_nr.inventory.hosts.get(h))[0])
    clients = nr.filter(filter_func=lambda h: bool(ctx.intents[h.name].trustpoints) and rows[h.name]["ok"])
    failed_cas = {h for h, r in rows.items() if not r["ok"]}
    cres = run(
        clients,
        _client,
        "clients",
        ctx=ctx,
        ca_fps=ca_fps,
        failed_cas=failed_cas,
        ca_blocked=ca_blocked,
        timeout=wait,
    )
    _record(ctx, rows, cres, "trustpoints")
    if interrupt.stopped():
        return rows
    sent = {h: mr[0].result["trustpoints"] for h, mr in cres.items() if not mr.failed}
    # manual grant: the toolkit grants on the CA when the intent allows it
    granting: set[str] = set()
    for h, tps in sent.items():
        for tp in ctx.intents[h].trustpoints:
            ca = ctx.intents[tp.ca_server].ca_server
            if tps.get(tp.name, {}).get("enroll_sent") and ca and ca.grant == "manual" and ca.grant_pending:
                granting.add(tp.ca_server)
    if granting and not interrupt.stopped():
        run(ctx.full.filter(filter_func=lambda h: h.name in granting), _grant, "grant pending", ctx=ctx)
    waiting = clients.filter(filter_func=lambda h: h.name in sent)
    wres = run(waiting, _wait, "certificates", ctx=ctx, sent=sent, timeout=wait)
    _record(ctx, rows, wres, "enrolled")
    for h, mr in wres.items():
        if not mr.failed:
            rows[h]["certificates"] = mr[0].result
    return rows


def _read_fingerprint(task: Task, ctx: Context) -> Result:
    ca = ctx.intents[task.host.name].ca_server
    if ca is None:
        raise TaskFailed(f"{task.host.name}: not a CA server")
    try:  # certificates granted on a clock nobody vouches for carry wrong dates: stop before enrolling
        clock = parse("show clock detail", show(task, "show clock detail"))
    except ParseError as exc:
        raise TaskFailed(f"{task.host.name}: cannot read the CA server's clock: {exc}") from None
    if not clock.authoritative:
        raise TaskFailed(
            f"CA server {task.host.name}: clock not authoritative ({clock.source or 'no time source'}); "
            "enrollment stopped: sync NTP or set `clock calendar-valid`"
        )
    st = server_state(show(task, f"show crypto pki server {ca.name}"), ca.name)
    if st is None or not st.ca_fingerprint:
        raise TaskFailed(
            f"{task.host.name}: certificate server {ca.name} shows no CA fingerprint (not enabled?)"
        )
    return Result(host=task.host, result=st.ca_fingerprint)
