"""The `iospki` console command."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cisco IOS/IOS-XE PKI lifecycle toolkit.")


@app.callback()
def _root() -> None:
    """Cisco IOS/IOS-XE PKI lifecycle toolkit."""


@app.command()
def version() -> None:
    """Print the iospki version."""
    from iospki import __version__

    typer.echo(__version__)


from iospki.commands.parse import parse_command  # noqa: E402

app.command("parse")(parse_command)

from iospki.commands import deploy as _deploy  # noqa: E402
from iospki.commands import inventory as _inventory  # noqa: E402

from iospki.commands import collect as _collect  # noqa: E402
from iospki.commands import status as _status  # noqa: E402
from iospki.commands import rollover as _rollover  # noqa: E402
from iospki.commands import renew as _renew  # noqa: E402
from iospki.commands import verify as _verify  # noqa: E402
from iospki.commands import scep as _scep  # noqa: E402
from iospki.commands import demo as _demo  # noqa: E402

app.add_typer(_inventory.app, name="inventory")
app.command("deploy")(_deploy.deploy)
app.command("collect")(_collect.collect)
app.command("status")(_status.status)
app.command("rollover")(_rollover.rollover)
app.command("renew")(_renew.renew)
app.command("verify")(_verify.verify)
app.add_typer(_scep.app, name="scep")
app.command("demo")(_demo.demo)

from iospki.commands import audit as _audit  # noqa: E402

app.command("audit")(_audit.audit)
app.command("forecast")(_audit.forecast)


def main() -> None:
    app()
