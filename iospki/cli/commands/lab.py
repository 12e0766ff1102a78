"""`iospki lab up|down|status|clock|fault|timers|validate`: a thin wrapper that runs `python -m iospki.lab ...`.

The toolkit never imports the lab: it only starts it as a subprocess, like any other program.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from iospki.cli.commands.validate import validate_command
from iospki.cli.kit import INVENTORY_OPT, JSON_OPT
from iospki.cli.usage import CommandGroup
from iospki.operations.inventory import DEFAULT_INVENTORY

app = typer.Typer(
    cls=CommandGroup, no_args_is_help=True, add_completion=False, help="The lab twin: emulated IOS routers over SSH."
)

StateOpt = typer.Option(Path(".lab"), "--state", help="Lab state directory.")


def _run(*args: str, state: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "iospki.lab", "--state", str(state), *args], check=False)
    if proc.returncode != 0:
        raise typer.Exit(proc.returncode)


@app.command()
def up(
    inventory: str = INVENTORY_OPT,
    start: str = typer.Option("", "--start", help="Lab start time, ISO 8601 (default: now)."),
    rate: float = typer.Option(1.0, "--rate", help="Lab seconds per real second."),
    state: Path = StateOpt,
) -> None:
    """Start one emulated router per lab host of the inventory; returns when all accept SSH."""
    args = ["up", "--inventory", str(inventory or DEFAULT_INVENTORY), "--rate", str(rate)]
    if start:
        args += ["--start", start]
    _run(*args, state=state)


@app.command()
def down(state: Path = StateOpt) -> None:
    """Stop the lab; nothing is left running."""
    _run("down", state=state)


@app.command()
def status(state: Path = StateOpt, json: bool = JSON_OPT) -> None:
    """List the lab's routers, clock and timers."""
    _run("status", *(["--json"] if json else []), state=state)


@app.command()
def clock(
    action: str = typer.Argument(..., help="show | set ISO | advance 90d | rate 3600"),
    value: str = typer.Argument("", help="time, duration or rate"),
    state: Path = StateOpt,
) -> None:
    """Show or move the lab clock (an advance runs every device timer inside the jump, in order)."""
    _run("clock", action, *([value] if value else []), state=state)


@app.command()
def fault(
    host: str = typer.Argument(..., help="lab router name"),
    kind: str = typer.Argument(
        ...,
        help="ntp-unreachable (clock loses authority, '*') | ntp-sync-lost (synced once, then lost: '.') | down | "
        "bad-password | drop-session | slow | drop-config | truncate-output | chunked",
    ),
    onoff: str = typer.Argument(..., help="on | off"),
    state: Path = StateOpt,
) -> None:
    """Switch a fault on a lab router."""
    _run("fault", host, kind, onoff, state=state)


@app.command()
def timers(
    host: str = typer.Option("", "--host", help="this router only (default: every router)"),
    state: Path = StateOpt,
) -> None:
    """Pending device timers (lab time)."""
    _run("timers", *(["--host", host] if host else []), state=state)


app.command("validate")(validate_command)  # the CI gate: `iospki.validate`
