"""`iospki rollover SERVER [--cancel] [--yes]`: CA rollover on demand, with pre-checks and verification.

Pre-checks (on the CA over SSH and from the jump host): clock authoritative, server enabled, HTTP (SCEP) up,
no rollover present (or, for --cancel, one present). Then `crypto pki server NAME rollover [cancel]`, then
verification: the `NAME#` key and the rollover CA certificate exist, `show crypto pki server` reports the rollover,
and SCEP GetNextCACert fetched from the jump host returns that same certificate, signed by the current CA.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from nornir.core.task import Result, Task

from iospki.cli.kit import (
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
from iospki.operations import scep_probe
from iospki.operations.intent import enrollment_url_for
from iospki.operations.runner import Context, failure, run
from iospki.tasks import ca_rollover
from iospki.tasks.connection import show
from iospki.tasks.state import rollover_key, server_state


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
) -> None:
    """Trigger (or cancel) a CA rollover now, after pre-checks, and verify it (incl. GetNextCACert)."""
    ctx = open_inventory(inventory, limit)
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
    try:
        caps = scep_probe.get_ca_caps(url)
        checks.append(("HTTP/SCEP reachable", True, f"{url}: {' '.join(caps)}"))
    except scep_probe.ScepProbeError as exc:
        checks.append(("HTTP/SCEP reachable", False, str(exc)))
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
        raise typer.Exit(EXIT_HOSTS if unreachable else EXIT_FINDINGS)

    post = state_of(ctx, host, name)
    pst = post["server"]
    verify_checks = verify_rollover(url, pst, post["rollover_key"], name, cancel)
    _report(checks, verify_checks, as_json, f"Rollover{' cancel' if cancel else ''} on {host} ({name})")
    raise typer.Exit(EXIT_OK if all(ok for _, ok, _ in verify_checks) else EXIT_FINDINGS)


def verify_rollover(url: str, st: Any, key: bool, name: str, cancel: bool) -> list[tuple[str, bool, str]]:
    """Checks after a rollover (or its cancel), the GetNextCACert one from this jump host."""
    out: list[tuple[str, bool, str]] = []
    fp = st.rollover_fingerprint if st else None
    if cancel:
        out.append((f"key {name}# removed", not key, "present" if key else "gone"))
        out.append(("rollover certificate removed", not fp, fp or "gone"))
        try:
            nxt, _ = scep_probe.get_next_ca_cert(url, None)
            out.append(("GetNextCACert empty", False, f"still returns {scep_probe.CertInfo.of(nxt[0]).md5}"))
        except scep_probe.ScepProbeError as exc:
            out.append(("GetNextCACert empty", True, str(exc)))
        return out
    out.append((f"key {name}# exists", key, "present" if key else "missing"))
    out.append(
        (
            "server reports rollover",
            bool(fp),
            f"{(st.rollover_status if st else None) or '-'} {fp or ''}".strip(),
        )
    )
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
