"""`iospki parse`: run a parser on captured device outputs and print their models as JSON."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer

from iospki.cli.kit import EXIT_USAGE

# What `--command` takes, one spelling each (abbreviations such as `sh ver` work too); listed when a command has
# no parser. tests/test_parse_cli.py keeps it complete: every registered parser matches one of these.
COMMANDS = (
    "show clock detail",
    "show ntp status",
    "show version",
    "show running-config",
    "more system:running-config",
    "show crypto key mypubkey rsa",
    "show crypto pki certificates verbose",
    "show crypto pki certificates pem",
    "show crypto pki counters",
    "show crypto pki crls",
    "show crypto pki crls download",
    "show crypto pki server",
    "show crypto pki server NAME certificates",
    "show crypto pki server NAME crl",
    "show crypto pki server NAME requests",
    "show crypto pki timers detail",
    "show crypto pki trustpoints",
    "show crypto pki trustpoints status",
    "show crypto pki trustpool",
    "show crypto pki trustpool | count downloaded",
)


class Platform(str, Enum):
    ios = "ios"
    iosxe = "iosxe"


def _fail(message: str) -> NoReturn:
    # one plain line on stderr (never wrapped or styled: the contract other tools rely on), exit code 2
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code=EXIT_USAGE)


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    try:
        return Path(source).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        _fail(f"cannot read {source}: {exc.strerror or exc}")


def parse_command(
    sources: list[str] = typer.Argument(
        ..., metavar="FILE|-...", help="captured outputs of the one command, or - for stdin"
    ),
    command: str = typer.Option(..., "--command", "-c", help='e.g. "show crypto pki certificates"'),
    platform: Platform | None = typer.Option(None, "--platform", "-p", help="ios or iosxe (default: detect)"),
) -> None:
    """Parse `show ...` outputs captured from devices and print them as JSON: one file gives its model, several
    give one object keyed by file name. The first file that does not parse exits 2 naming it."""
    from iospki.parsers import ParseError, UnknownCommand, parse

    models: dict[str, object] = {}
    for source in dict.fromkeys(sources):  # a file named twice is parsed once
        where = "stdin" if source == "-" else source
        try:
            model = parse(command, _read(source), platform.value if platform else None)
        except UnknownCommand as exc:
            _fail(f"{where}: {exc}; known commands: {', '.join(COMMANDS)}")
        except ParseError as exc:
            _fail(f"{where}: {exc}")
        models[source] = model.model_dump(mode="json")
    typer.echo(json.dumps(models[sources[0]] if len(models) == 1 else models, indent=2))
