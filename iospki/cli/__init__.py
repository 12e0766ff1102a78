"""The `iospki` console command.

Each command lives in its own module under `iospki.cli.commands`; this file only wires them.
Keep the imports sorted (ruff) and add one registration line per command below.
"""

from __future__ import annotations

import typer

from iospki.cli.commands import audit as _audit
from iospki.cli.commands import collect as _collect
from iospki.cli.commands import demo as _demo
from iospki.cli.commands import deploy as _deploy
from iospki.cli.commands import inventory as _inventory
from iospki.cli.commands import lab as _lab
from iospki.cli.commands import renew as _renew
from iospki.cli.commands import rollover as _rollover
from iospki.cli.commands import scep as _scep
from iospki.cli.commands import status as _status
from iospki.cli.commands import verify as _verify
from iospki.cli.commands.parse import parse_command
from iospki.cli.usage import CommandGroup
from iospki.operations import interrupt

app = typer.Typer(
    cls=CommandGroup, no_args_is_help=True, add_completion=False, help="Cisco IOS/IOS-XE PKI lifecycle toolkit."
)


@app.callback()
def _root() -> None:
    """Cisco IOS/IOS-XE PKI lifecycle toolkit."""


@app.command()
def version() -> None:
    """Print the iospki version."""
    from iospki import __version__

    typer.echo(__version__)


# --- registrations (one line per command) ---
app.command("parse")(parse_command)
app.add_typer(_inventory.app, name="inventory")
app.command("deploy")(_deploy.deploy)
app.command("collect")(_collect.collect)
app.command("status")(_status.status)
app.command("rollover")(_rollover.rollover)
app.command("renew")(_renew.renew)
app.command("verify")(_verify.verify)
app.add_typer(_scep.app, name="scep")
app.command("demo")(_demo.demo)
app.command("audit")(_audit.audit)
app.command("forecast")(_audit.forecast)
app.add_typer(_lab.app, name="lab")


def main() -> None:
    # Ctrl-C stops cooperatively (iospki.operations.interrupt): the command reports what it changed,
    # then exits 130 as a shell expects of an interrupted program, whatever exit it was heading for
    interrupt.install()
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(interrupt.EXIT_INTERRUPTED) from None
    except SystemExit:
        if interrupt.stopped():
            raise SystemExit(interrupt.EXIT_INTERRUPTED) from None
        raise
