"""`iospki lab validate`: prove on the lab twin that an inventory survives its PKI lifecycle (CI gate).

By default each trustpoint design gets a probe client joining on its worst day (rule V1); `--as-deployed`
validates the inventory as written. `--fail-on SEVERITY` also fails the run on audit findings.
Exit codes: 0 passed, 1 a check failed or an audit finding at or above --fail-on, 2 usage/inventory error,
3 the lab or the run broke.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.markup import escape

from iospki.cli.kit import (
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_OK,
    EXIT_USAGE,
    INVENTORY_OPT,
    check_settings,
    console,
    err_console,
    no_cluster_opt,
    refuse_cluster,
)
from iospki.operations.inventory import DEFAULT_INVENTORY
from iospki.validate.model import FAIL_ON, ValidateError
from iospki.validate.run import run_validation, write_outputs

_NO_CLUSTER = "it starts its own lab twin on this machine and drives only that"


def validate_command(
    inventory: str = INVENTORY_OPT,
    through: str = typer.Option(
        "rollover", "--through", help="'rollover' (through the next CA rollover) or a span such as 800d"
    ),
    junit: Path = typer.Option(None, "--junit", help="JUnit XML path (default OUTPUT/junit.xml)"),
    output: Path = typer.Option(
        None, "--output", "-o", help="where reports and collections go (default ./out/validate-<UTC time>)"
    ),
    start: str = typer.Option(None, "--start", help="lab start time, ISO 8601 (default: now)"),
    no_audit: bool = typer.Option(False, "--no-audit", help="skip the audit at each checkpoint (faster)"),
    as_deployed: bool = typer.Option(
        False,
        "--as-deployed",
        help="validate the inventory as written: no probe client joining each trustpoint design on its worst "
        "day (rule V1)",
    ),
    fail_on: str = typer.Option(
        "critical",
        "--fail-on",
        help=f"fail on audit findings at or above this severity ({', '.join(FAIL_ON)}; none: outcomes only)",
    ),
    cluster: str = no_cluster_opt(_NO_CLUSTER),
) -> None:
    """Bring the inventory up as a lab, deploy, run the lab clock through the next CA rollover and check
    every client at every forecast event and certificate end. On this machine only (no --cluster)."""
    refuse_cluster(cluster, "lab validate", _NO_CLUSTER)
    check_settings()
    inv = (Path(inventory) if inventory else DEFAULT_INVENTORY).resolve()
    out = (output or Path("out") / f"validate-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}").resolve()
    try:
        res = run_validation(
            inv, out, through=through, start=start, audit=not no_audit, as_deployed=as_deployed, fail_on=fail_on
        )
    except ValidateError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    paths = write_outputs(res, junit)
    for probe in res.probes:
        console.print(probe.line(res.day0), markup=False, highlight=False)
    for p in res.problems:
        console.print(f"[red]FAIL[/red] {escape(p.line())}", markup=True, highlight=False)
    for f in res.failing_findings:
        console.print(
            f"[red]FAIL[/red] audit (--fail-on {res.fail_on}): {escape(f.line())}", markup=True, highlight=False
        )
    if res.error:
        err_console.print(f"[red]the validation did not complete:[/red] {res.error}")
    verdict = "[green]PASSED[/green]" if res.passed else "[red]FAILED[/red]"
    console.print(
        f"validate {verdict}: {len(res.hosts)} hosts, {len(res.checkpoints)} checkpoints, "
        f"{len(res.events_seen)} forecast events confirmed, {len(res.problems)} problems, "
        f"{len(res.failing_findings)} audit findings at or above --fail-on {res.fail_on}, {res.seconds:.1f}s"
    )
    for name, path in paths.items():
        console.print(f"  {name}: {path}")
    if res.error:
        raise typer.Exit(EXIT_HOSTS)
    raise typer.Exit(EXIT_OK if res.passed else EXIT_FINDINGS)
