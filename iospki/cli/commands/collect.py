"""`iospki collect [--output DIR]`: PKI show commands, running config and NAPALM facts into a collection.

The work is `iospki.operations.collection.collect_into` (status, verify, live audit and validate use it too).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.markup import escape

from iospki.cli.kit import (
    CLUSTER_OPT,
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    LIMIT_OPT,
    RESUME_OPT,
    closing,
    console,
    err_console,
    fail_write,
    open_inventory,
    status_cell,
    table,
)
from iospki.operations.collection import collect_into
from iospki.state import store
from iospki.state.lock import CollectionBusy, collection_lock


def default_output() -> Path:
    return Path("iospki-collections") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


@closing
def collect(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    output: Path = typer.Option(
        None, "--output", "-o", help="collection directory (default ./iospki-collections/<UTC time>)"
    ),
    facts: bool = typer.Option(True, "--facts/--no-facts", help="also NAPALM get_facts"),
    cluster: str = CLUSTER_OPT,
    resume: bool = RESUME_OPT,
) -> None:
    """Store raw PKI outputs (+ parsed JSON, NAPALM facts) as DIR/<host>/<command>.txt; failed hosts are recorded.

    The collection is private to the user (folders 0700, files 0600); an unusable --output is one line and
    exit 2 (a file where the folder must be) or 3 (read-only, refused, full disk)."""
    ctx = open_inventory(inventory, limit, cluster=cluster, resume=resume)
    out = output or default_output()
    try:
        # an unusable --output is one line before any device is read; meta.json says "interrupted" until
        # the finished collection replaces it, so a collection killed half-way never audits as complete
        store.prepare_collection(out)
        with collection_lock(out):  # two runs into one folder would interleave their files
            store.write_meta(
                out, [], [], interrupted=True, extra={"hosts_planned": sorted(ctx.nr.inventory.hosts)}
            )
            res = collect_into(ctx, out, facts)
    except store.WriteFailed as exc:  # read-only, refused, a file in the way, a full disk
        fail_write(exc)
    except CollectionBusy as exc:  # another collect writes there: exit 3, the environment is in the way
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_HOSTS) from None
    rows = []
    for h in ctx.nr.inventory.hosts:
        if h in res.failed:
            rows.append([h, status_cell(False), "", "", res.failed[h]])
        else:
            r = res.ok[h]
            f = r.get("facts") or {}
            pe = r["parse_errors"]
            rows.append(
                [
                    h,
                    status_cell(True),
                    str(len(r["commands"])),
                    f"{f.get('model', '?')} {f.get('os_version', '')[:40]}".strip(),
                    f"{len(pe)} parse errors" if pe else "",
                ]
            )
    console.print(table(f"Collected into {out}", ["host", "result", "outputs", "facts", "note"], rows))
    if res.interrupted:
        err_console.print(f"collect interrupted (Ctrl-C): {out} is marked interrupted in {store.META_FILE}")
    raise typer.Exit(EXIT_HOSTS if res.failed else EXIT_OK)
