"""`iospki deploy [--dry-run]`: prerequisites, then CA servers, then clients (authenticate + enroll).

The work is `iospki.operations.deploy`; this command prints its rows (and the dry run's diff) and sets the
exit code.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from iospki.cli.kit import (
    CLUSTER_OPT,
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    closing,
    console,
    err_console,
    open_inventory,
    status_cell,
    table,
)
from iospki.operations import deploy as deployment


def _print_plan(rows: deployment.Rows) -> None:
    for h, row in rows.items():
        plan = row.get("plan")
        if plan is None:
            continue
        if plan["diff"] or plan["steps"]:
            console.print(f"[bold]{h}[/bold]")
            for part, lines in plan["diff"].items():
                console.print(f"  [dim]# {part}[/dim]")
                for ln in lines:
                    console.print(f"  [green]+{ln}[/green]", markup=True)
            for s in plan["steps"]:
                console.print(f"  [yellow]> {s}[/yellow]")
        if plan["napalm_diff"] is not None:
            console.print(f"[bold]{h}[/bold] [dim]NAPALM compare_config:[/dim]")
            for ln in plan["napalm_diff"].splitlines() or ["(no difference)"]:
                console.print(f"  {ln}", markup=False)


@closing
def deploy(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="show the per-host diff and planned steps; change nothing"
    ),
    backup_dir: Path = typer.Option(
        None, "--backup-dir", help="where running-config backups go (default ./iospki-backups/<UTC time>)"
    ),
    wait: float = typer.Option(60.0, "--wait", help="seconds to wait for each certificate"),
    as_json: bool = JSON_OPT,
    napalm_diff: bool = typer.Option(
        False,
        "--napalm-diff",
        help="with --dry-run: also show NAPALM compare_config (merge candidate, discarded)",
    ),
    cluster: str = CLUSTER_OPT,
) -> None:
    """Push prerequisites, CA servers and trustpoints; enable CAs, authenticate and enroll clients."""
    ctx = open_inventory(inventory, limit, cluster=cluster)
    if dry_run:
        rows = deployment.plan(ctx, napalm=napalm_diff)
        if not as_json:
            _print_plan(rows)
        return _finish(rows, as_json, "Deploy plan (dry run)")
    bdir = backup_dir or Path("iospki-backups") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    rows = deployment.apply(ctx, bdir, wait)
    if not as_json:
        _print_interrupted(rows)
        err_console.print(f"running-config backups (before any change): {bdir.resolve()}")
    return _finish(rows, as_json, "Deploy")


def _print_interrupted(rows: deployment.Rows) -> None:
    """After Ctrl-C: per host, the config exchanges that reached the device (the table's 'changed' column
    only counts the steps that finished on every host)."""
    stopped = [r for r in rows.values() if r.get("interrupted")]
    if not stopped:
        return
    err_console.print("[yellow]deploy interrupted (Ctrl-C): no further step was started[/yellow]")
    for r in stopped:
        sent = r.get("sent") or []
        what = "changed: " + "; ".join(sent) if sent else "nothing changed"
        err_console.print(f"  {r['host']}: {what}", markup=False)


def _finish(rows: dict[str, dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        console.print_json(json.dumps(list(rows.values()), default=str))
    else:
        console.print(
            table(
                title,
                ["host", "result", "changed", "certificates", "note"],
                [
                    [
                        r["host"],
                        status_cell(r["ok"]),
                        ",".join(r["changes"]) or "-",
                        " ".join(
                            f"{tp}:{'/'.join(s) or '-'}" for tp, s in (r.get("certificates") or {}).items()
                        ),
                        r["note"],
                    ]
                    for r in rows.values()
                ],
            )
        )
    raise typer.Exit(EXIT_HOSTS if any(not r["ok"] for r in rows.values()) else EXIT_OK)
