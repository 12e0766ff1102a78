"""`iospki collect [--output DIR]`: PKI show commands, running config and NAPALM facts into a collection.

`collect_into(ctx, output)` is the reusable form (status, verify, rollover, demo and live audit call it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from iospki.state import store
from iospki.tasks import collect_pki

from .toolkit import (
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    LIMIT_OPT,
    Context,
    closing,
    console,
    failure,
    open_inventory,
    run,
    status_cell,
    table,
)


@dataclass
class CollectOutcome:
    output: Path
    ok: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # host -> {'commands', 'parse_errors', 'facts'}
    failed: dict[str, str] = field(default_factory=dict)  # host -> reason
    unreachable: set[str] = field(default_factory=set)


def default_output() -> Path:
    return Path("iospki-collections") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def collect_into(
    ctx: Context, output: Path, facts: bool = True, description: str = "collect"
) -> CollectOutcome:
    """Collect every host of `ctx.nr` into `output`; failing hosts get `_error.txt`, the others carry on."""
    started = datetime.now(timezone.utc)
    output.mkdir(parents=True, exist_ok=True)

    def servers_of(h: str) -> list[str]:
        ca = ctx.intents[h].ca_server if h in ctx.intents else None
        return [ca.name] if ca else []

    from nornir.core.task import Result, Task

    def _one(task: Task) -> Result:
        return task.run(
            task=collect_pki,
            output=output,
            ca_servers=servers_of(task.host.name),
            secrets=ctx.secrets,
            facts=facts,
        )[0]

    agg = run(ctx.nr, _one, description)
    res = CollectOutcome(output=output)
    for h, mr in agg.items():
        if mr.failed:
            reason, unreachable = failure(mr, ctx.nr.inventory.hosts[h])
            reason = ctx.redact(reason)
            res.failed[h] = reason
            if unreachable:
                res.unreachable.add(h)
            store.write_error(output, h, reason, ctx.secrets)
        else:
            res.ok[h] = mr[0].result
    store.write_meta(
        output,
        res.ok,
        res.failed,
        started=started,
        commands=sorted({c for r in res.ok.values() for c in r["commands"]}),
    )
    return res


@closing
def collect(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    output: Path = typer.Option(
        None, "--output", "-o", help="collection directory (default ./iospki-collections/<UTC time>)"
    ),
    facts: bool = typer.Option(True, "--facts/--no-facts", help="also NAPALM get_facts"),
) -> None:
    """Store raw PKI outputs (+ parsed JSON, NAPALM facts) as DIR/<host>/<command>.txt; failed hosts are recorded."""
    ctx = open_inventory(inventory, limit)
    out = output or default_output()
    res = collect_into(ctx, out, facts)
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
    raise typer.Exit(EXIT_HOSTS if res.failed else EXIT_OK)


def collect_live(
    inventory: str | Path | None, limit: str | None, output: Path, facts: bool = True
) -> CollectOutcome:
    """For other commands (e.g. a live audit): load the inventory and collect into `output`.
    Usage/config problems exit with code 2 (typer.Exit)."""
    from .toolkit import open_inventory as _open

    return collect_into(_open(str(inventory) if inventory else None, limit), output, facts)
