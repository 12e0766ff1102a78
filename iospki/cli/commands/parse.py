"""`iospki parse`: run a parser on a captured device output and print its model as JSON."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer

from iospki.cli.kit import EXIT_USAGE


class Platform(str, Enum):
    ios = "ios"
    iosxe = "iosxe"


def _fail(message: str) -> NoReturn:
    # one plain line on stderr (never wrapped or styled: the contract other tools rely on), exit code 2
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code=EXIT_USAGE)


def parse_command(
    source: str = typer.Argument(..., metavar="FILE|-", help="captured output, or - for stdin"),
    command: str = typer.Option(..., "--command", "-c", help='e.g. "show crypto pki certificates"'),
    platform: Platform | None = typer.Option(None, "--platform", "-p", help="ios or iosxe (default: detect)"),
) -> None:
    """Parse a `show ...` output captured from a device and print it as JSON."""
    from iospki.parsers import ParseError, parse

    if source == "-":
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        where = "stdin"
    else:
        path = Path(source)
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            _fail(f"cannot read {source}: {exc.strerror or exc}")
        where = source
    try:
        model = parse(command, text, platform.value if platform else None)
    except ParseError as exc:
        _fail(f"{where}: {exc}")
    typer.echo(json.dumps(model.model_dump(mode="json"), indent=2))
