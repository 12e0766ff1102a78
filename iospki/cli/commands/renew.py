"""`iospki renew [--limit] [--yes] [--cluster]`: re-enroll identity certificates now, then verify the new ones.

On a cluster (`--cluster`) the re-enrollment (`_send`) and the CA's grant are changing tasks: a worker lost
while running one leaves its host "outcome unknown", never re-enrolled; the waits and the read-back only read
(`read_only`), so Dask may run them again on another worker of the host's site.
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
    open_inventory,
    status_cell,
    table,
)
from iospki.cluster import read_only
from iospki.operations.inventory import pki_secrets
from iospki.operations.resilience import ca_slot
from iospki.operations.runner import Context, failure, run
from iospki.tasks import enroll_trustpoint, grant_requests, wait_certificate
from iospki.tasks.connection import show


def _send(task: Task, ctx: Context, only: str | None, timeout: float = 60.0) -> Result:
    secrets = pki_secrets(task.host)
    sent: dict[str, list[str]] = {}
    for tp in ctx.intents[task.host.name].trustpoints:
        if only and tp.name != only:
            continue
        with ca_slot(tp.ca_server):  # a whole fleet renewing must not flood one CA: at most M at a time
            r = task.run(
                task=enroll_trustpoint,
                trustpoint=tp.name,
                challenge_password=secrets.challenge_password,
                serial_number=tp.serial_number,
                reenroll=True,
            )
            ca_intent = ctx.intents[tp.ca_server].ca_server if tp.ca_server in ctx.intents else None
            if ca_intent is not None and ca_intent.grant == "auto":
                # the SCEP exchange runs on the router after the dialog: keep the slot until it is done
                task.run(
                    task=wait_certificate,
                    trustpoint=tp.name,
                    not_serials=r.result["serials_before"],
                    timeout=timeout,
                )
        sent[tp.name] = r.result["serials_before"]
    return Result(host=task.host, result=sent, changed=bool(sent))


@read_only
def _wait(task: Task, sent: dict[str, dict[str, list[str]]], timeout: float) -> Result:
    got = {}
    for tp, before in sent[task.host.name].items():
        after = task.run(task=wait_certificate, trustpoint=tp, not_serials=before, timeout=timeout).result[
            "serials"
        ]
        got[tp] = {"before": before, "after": after}
    return Result(host=task.host, result=got)


@read_only
def _issuer_check(task: Task, got: dict[str, dict[str, dict[str, Any]]]) -> Result:
    """Read back each renewed trustpoint: the new serial is installed and the old one is gone."""
    from iospki.tasks.state import identity_serials

    out = {}
    for tp, v in got[task.host.name].items():
        now = identity_serials(show(task, f"show crypto pki certificates {tp}"))
        out[tp] = {
            "installed": now,
            "new_present": any(s in now for s in v["after"]),
            "old_gone": not any(s in now for s in v["before"]),
        }
    return Result(host=task.host, result=out)


@closing
def renew(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    trustpoint: str = typer.Option(None, "--trustpoint", "-t", help="only this trustpoint"),
    yes: bool = YES_OPT,
    wait: float = typer.Option(60.0, "--wait", help="seconds to wait for each new certificate"),
    as_json: bool = JSON_OPT,
    cluster: str = CLUSTER_OPT,
) -> None:
    """Re-enroll identity certificates now (answering the re-enrollment question) and verify the new ones.

    With --cluster a host whose worker is lost mid-enrollment is reported "outcome unknown" and not
    re-enrolled (check the device, then renew it again)."""
    ctx = open_inventory(inventory, limit, cluster=cluster)
    clients = ctx.nr.filter(
        filter_func=lambda h: any(
            not trustpoint or t.name == trustpoint for t in ctx.intents[h.name].trustpoints
        )
    )
    n = sum(
        1
        for h in clients.inventory.hosts
        for t in ctx.intents[h].trustpoints
        if not trustpoint or t.name == trustpoint
    )
    if n == 0:
        err_console.print("no trustpoints selected")
        raise typer.Exit(EXIT_OK)
    if not yes and not typer.confirm(
        f"Re-enroll {n} trustpoint(s) on {len(clients.inventory.hosts)} host(s) now?", default=False
    ):
        err_console.print("aborted: nothing changed")
        raise typer.Exit(EXIT_FINDINGS)
    rows: dict[str, dict[str, Any]] = {}
    sres = run(clients, _send, "re-enroll", ctx=ctx, only=trustpoint, timeout=wait)
    for h, mr in sres.items():
        if mr.failed:
            rows[h] = {"ok": False, "note": ctx.redact(failure(mr, clients.inventory.hosts[h])[0])}
    sent = {h: mr[0].result for h, mr in sres.items() if not mr.failed}
    granting = {
        t.ca_server
        for h in sent
        for t in ctx.intents[h].trustpoints
        if (ca := ctx.intents[t.ca_server].ca_server) is not None
        and ca.grant == "manual"
        and ca.grant_pending
    }
    if granting:
        ca_nr = ctx.full.filter(filter_func=lambda h: h.name in granting)
        for h in granting:
            name = ctx.intents[h].ca_server.name  # type: ignore[union-attr]
            run(ca_nr.filter(filter_func=lambda x, h=h: x.name == h), grant_requests, "grant", server=name)
    waiting = clients.filter(filter_func=lambda h: h.name in sent)
    wres = run(waiting, _wait, "new certificates", sent=sent, timeout=wait)
    got = {h: mr[0].result for h, mr in wres.items() if not mr.failed}
    for h, mr in wres.items():
        if mr.failed:
            rows[h] = {"ok": False, "note": ctx.redact(failure(mr, clients.inventory.hosts[h])[0])}
    vres = run(waiting.filter(filter_func=lambda h: h.name in got), _issuer_check, "verify", got=got)
    findings = False
    for h, mr in vres.items():
        if mr.failed:
            rows[h] = {"ok": False, "note": ctx.redact(failure(mr, clients.inventory.hosts[h])[0])}
            continue
        for tp, v in mr[0].result.items():
            ok = v["new_present"] and v["old_gone"]
            findings = findings or not ok
            rows[f"{h} {tp}"] = {
                "ok": ok,
                "note": f"{'/'.join(got[h][tp]['before']) or '-'} -> {'/'.join(got[h][tp]['after'])}"
                + (
                    ""
                    if ok
                    else " (old certificate still installed)"
                    if v["new_present"]
                    else " (new certificate not installed)"
                ),
            }
    if as_json:
        console.print_json(json.dumps(rows))
    else:
        console.print(
            table(
                "Renew",
                ["host / trustpoint", "result", "serial before -> after"],
                [[k, status_cell(v["ok"]), v["note"]] for k, v in rows.items()],
            )
        )
    failed_hosts = any(not v["ok"] and " " not in k for k, v in rows.items())
    raise typer.Exit(EXIT_HOSTS if failed_hosts else EXIT_FINDINGS if findings else EXIT_OK)
