"""`iospki rollover SERVER [--cancel] [--yes]`: CA rollover on demand, with pre-checks and verification.

Pre-checks (on the CA over SSH and from the jump host): clock authoritative, server enabled, HTTP (SCEP) up,
no rollover present (or, for --cancel, one present). Then `crypto pki server NAME rollover [cancel]`, then
verification: the `NAME#` key and the rollover CA certificate exist, `show crypto pki server` reports the rollover,
and SCEP GetNextCACert fetched from the jump host returns that same certificate, signed by the current CA.

The SCEP checks are a Nornir task on the CA server's host like the show commands, so with `--cluster` they
run from a jump host of the CA's site (the machine running iospki may not reach the CA's HTTP at all). Only
`ca_rollover` changes the device: a worker lost while it runs leaves the CA "outcome unknown", never re-sent.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from nornir.core.task import Result, Task

from iospki.cli.kit import (
    CLUSTER_OPT,
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    YES_OPT,
    closing,
    console,
    err_console,
    fail_usage,
    open_inventory,
    status_cell,
    table,
)
from iospki.cluster import OutcomeUnknown, read_only
from iospki.operations import scep_probe
from iospki.operations.intent import enrollment_url_for
from iospki.operations.runner import Context, failure, run
from iospki.tasks import ca_rollover
from iospki.tasks.connection import show
from iospki.tasks.state import rollover_key, server_state

Check = tuple[str, bool, str]  # check, ok, detail


@read_only
def _shows(task: Task, commands: list[str]) -> Result:
    return Result(host=task.host, result={c: show(task, c) for c in commands})


def resolve_server(ctx: Context, server: str) -> tuple[str, str]:
    """(inventory host, CA server name) for SERVER given as either."""
    for h, intent in ctx.intents.items():
        if intent.ca_server and (h == server or intent.ca_server.name == server):
            return h, intent.ca_server.name
    fail_usage(f"{server!r} is neither a CA server host nor a CA server name in the inventory")


def _clock_ok(text: str) -> tuple[bool, str]:
    from iospki.parsers import ParseError, parse

    try:
        c = parse("show clock detail", text)
    except ParseError as exc:
        return False, f"cannot read the clock: {exc}"
    return (
        c.authoritative,
        f"{c.time:%Y-%m-%d %H:%M:%S} {c.tz or ''} ({c.source or 'authoritative' if c.authoritative else 'not authoritative'})",
    )


def state_of(ctx: Context, host: str, name: str) -> dict[str, Any]:
    """CA server facts over SSH: clock, server state, rollover key."""
    one = ctx.full.filter(filter_func=lambda h: h.name == host)
    agg = run(
        one,
        _shows,
        "read CA",
        commands=["show clock detail", f"show crypto pki server {name}", "show crypto key mypubkey rsa"],
    )
    mr = agg[host]
    if mr.failed:
        reason, _ = failure(mr, ctx.full.inventory.hosts[host])
        err_console.print(f"[red]{host}:[/red] {ctx.redact(reason)}")
        raise typer.Exit(EXIT_HOSTS)
    out = mr[0].result
    st = server_state(out[f"show crypto pki server {name}"], name)
    key = rollover_key(out["show crypto key mypubkey rsa"], name)
    return {"clock": _clock_ok(out["show clock detail"]), "server": st, "rollover_key": key}


@closing
def rollover(
    server: str = typer.Argument(..., help="CA server host (inventory name) or CA server name"),
    cancel: bool = typer.Option(False, "--cancel", help="delete a pending rollover certificate and key"),
    yes: bool = YES_OPT,
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    as_json: bool = JSON_OPT,
    cluster: str = CLUSTER_OPT,
) -> None:
    """Trigger (or cancel) a CA rollover now, after pre-checks, and verify it (incl. GetNextCACert).

    With --cluster every step, the SCEP checks too, runs on a worker of the CA's site; a worker lost during
    the rollover command leaves it "outcome unknown" (exit 3), never sent twice."""
    ctx = open_inventory(inventory, limit, cluster=cluster)
    host, name = resolve_server(ctx, server)
    ca_intent = ctx.intents[host].ca_server
    assert ca_intent is not None
    url = enrollment_url_for(ctx.addr(host), ca_intent.http_port)

    pre = state_of(ctx, host, name)
    st = pre["server"]
    checks: list[tuple[str, bool, str]] = []
    checks.append(("clock authoritative", pre["clock"][0], pre["clock"][1]))
    checks.append(
        ("server enabled", bool(st and st.enabled), (st.status if st else None) or "server not found")
    )
    checks += scep_checks_of(ctx, host, url, "pre", None, cancel)
    present = bool(st and st.rollover_fingerprint) or pre["rollover_key"]
    if cancel:
        checks.append(
            ("rollover present", present, (st.rollover_status if st else None) or "no rollover certificate")
        )
    else:
        checks.append(("no rollover yet", not present, (st.rollover_status if st else None) or "none"))
    if not all(ok for _, ok, _ in checks):
        _report(checks, [], as_json, f"Rollover pre-checks on {host} ({name}) failed; nothing changed")
        raise typer.Exit(EXIT_FINDINGS)

    if cancel:
        err_console.print(
            "[yellow]warning:[/yellow] cancelling deletes the rollover CA certificate and key; clients that already "
            "hold the rollover CA certificate or a rollover identity certificate may have to re-enroll."
        )
    if not yes and not typer.confirm(
        f"{'Cancel the rollover of' if cancel else 'Roll over'} CA {name} on {host}?", default=False
    ):
        err_console.print("aborted: nothing changed")
        raise typer.Exit(EXIT_FINDINGS)

    one = ctx.full.filter(filter_func=lambda h: h.name == host)
    agg = run(one, ca_rollover, "rollover", server=name, cancel=cancel)
    if agg[host].failed:
        reason, unreachable = failure(agg[host], ctx.full.inventory.hosts[host])
        verify = [("rollover command", False, ctx.redact(reason))]
        _report(checks, verify, as_json, f"Rollover on {host} ({name})")
        unknown = isinstance(agg[host][0].exception, OutcomeUnknown)  # a lost cluster worker: check the CA
        raise typer.Exit(EXIT_HOSTS if unreachable or unknown else EXIT_FINDINGS)

    post = state_of(ctx, host, name)
    pst = post["server"]
    fp = pst.rollover_fingerprint if pst else None
    verify_checks = rollover_checks(pst, post["rollover_key"], name, cancel)
    verify_checks += scep_checks_of(ctx, host, url, "post", fp, cancel)
    _report(checks, verify_checks, as_json, f"Rollover{' cancel' if cancel else ''} on {host} ({name})")
    raise typer.Exit(EXIT_OK if all(ok for _, ok, _ in verify_checks) else EXIT_FINDINGS)


def rollover_checks(st: Any, key: bool, name: str, cancel: bool) -> list[Check]:
    """Checks after a rollover (or its cancel) on the CA's own output: its key and `show crypto pki server`."""
    fp = st.rollover_fingerprint if st else None
    if cancel:
        return [
            (f"key {name}# removed", not key, "present" if key else "gone"),
            ("rollover certificate removed", not fp, fp or "gone"),
        ]
    return [
        (f"key {name}# exists", key, "present" if key else "missing"),
        (
            "server reports rollover",
            bool(fp),
            f"{(st.rollover_status if st else None) or '-'} {fp or ''}".strip(),
        ),
    ]


def scep_checks_of(
    ctx: Context, host: str, url: str, phase: str, fp: str | None, cancel: bool
) -> list[Check]:
    """The SCEP checks of `phase` run on the CA server's host (from its site's jump host on a cluster); a host
    that could not run them is one failed check naming the cause."""
    one = ctx.full.filter(filter_func=lambda h: h.name == host)
    mr = run(one, _scep_task, "SCEP checks", url=url, phase=phase, fingerprint=fp, cancel=cancel)[host]
    if mr.failed:
        reason, _ = failure(mr, ctx.full.inventory.hosts[host])
        return [("SCEP checks", False, ctx.redact(reason))]
    return [(c, ok, d) for c, ok, d in mr[0].result]


@read_only
def _scep_task(task: Task, url: str, phase: str, fingerprint: str | None, cancel: bool) -> Result:
    """SCEP over HTTP from where the host's task runs; no session to the device."""
    checks = _caps_check(url) if phase == "pre" else scep_checks(url, fingerprint, cancel)
    return Result(host=task.host, result=checks)


def _caps_check(url: str) -> list[Check]:
    try:
        caps = scep_probe.get_ca_caps(url)
        return [("HTTP/SCEP reachable", True, f"{url}: {' '.join(caps)}")]
    except scep_probe.ScepProbeError as exc:
        return [("HTTP/SCEP reachable", False, str(exc))]


def scep_checks(url: str, fp: str | None, cancel: bool) -> list[Check]:
    """GetNextCACert after a rollover (the rollover CA with fingerprint `fp`, signed by the current CA) or
    after its cancel (nothing)."""
    out: list[Check] = []
    if cancel:
        try:
            nxt, _ = scep_probe.get_next_ca_cert(url, None)
            out.append(("GetNextCACert empty", False, f"still returns {scep_probe.CertInfo.of(nxt[0]).md5}"))
        except scep_probe.ScepProbeError as exc:
            out.append(("GetNextCACert empty", True, str(exc)))
        return out
    try:
        current = scep_probe.get_ca_certs(url)
        nxt, signed = scep_probe.get_next_ca_cert(url, current[0] if current else None)
        info = scep_probe.CertInfo.of(nxt[0])
        same = fp is not None and info.md5 == fp
        out.append(
            (
                "GetNextCACert = rollover CA",
                same,
                f"{info.md5} {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}",
            )
        )
        out.append(
            (
                "GetNextCACert signed by current CA",
                bool(signed),
                "verified" if signed else "signature does not verify",
            )
        )
    except scep_probe.ScepProbeError as exc:
        out.append(("GetNextCACert = rollover CA", False, str(exc)))
    return out


def _report(
    pre: list[tuple[str, bool, str]], post: list[tuple[str, bool, str]], as_json: bool, title: str
) -> None:
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "title": title,
                    "prechecks": [dict(check=c, ok=o, detail=d) for c, o, d in pre],
                    "verification": [dict(check=c, ok=o, detail=d) for c, o, d in post],
                }
            )
        )
        return
    rows = [["pre-check", c, status_cell(o), d] for c, o, d in pre] + [
        ["verify", c, status_cell(o), d] for c, o, d in post
    ]
    console.print(table(title, ["phase", "check", "result", "detail"], rows))
