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


def main() -> None:
    app()
