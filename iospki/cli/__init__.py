"""The `iospki` console command.

Each command lives in its own module under `iospki.cli.commands`; this file only wires them: one line per
command in COMMANDS below (help lists them in that order).
"""

from __future__ import annotations

import gc
import importlib
import sys

import typer

from iospki.cli.usage import CommandGroup
from iospki.operations import interrupt

# name -> (module, attribute, a group of subcommands?). `iospki NAME ...` imports only NAME's module: importing
# every command (audit rules, forecast, templates, reports ...) cost more than a collect of a few routers.
# `app`, with every command (the tests, `iospki --help`), imports them all on first use.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "parse": ("iospki.cli.commands.parse", "parse_command", False),
    "inventory": ("iospki.cli.commands.inventory", "app", True),
    "deploy": ("iospki.cli.commands.deploy", "deploy", False),
    "collect": ("iospki.cli.commands.collect", "collect", False),
    "status": ("iospki.cli.commands.status", "status", False),
    "rollover": ("iospki.cli.commands.rollover", "rollover", False),
    "renew": ("iospki.cli.commands.renew", "renew", False),
    "verify": ("iospki.cli.commands.verify", "verify", False),
    "scep": ("iospki.cli.commands.scep", "app", True),
    "demo": ("iospki.cli.commands.demo", "demo", False),
    "audit": ("iospki.cli.commands.audit", "audit", False),
    "forecast": ("iospki.cli.commands.audit", "forecast", False),
    "lab": ("iospki.cli.commands.lab", "app", True),
}

app: typer.Typer  # every command; built by __getattr__ on first use


def _root() -> None:
    """Cisco IOS/IOS-XE PKI lifecycle toolkit."""


def version() -> None:
    """Print the iospki version."""
    from iospki import __version__

    typer.echo(__version__)


def build(*names: str) -> typer.Typer:
    """The `iospki` app with the commands `names` of COMMANDS, or with all of them when none is named."""
    built = typer.Typer(
        cls=CommandGroup, no_args_is_help=True, add_completion=False, help="Cisco IOS/IOS-XE PKI lifecycle toolkit."
    )
    built.callback()(_root)
    built.command()(version)
    for name, (module, attr, group) in COMMANDS.items():
        if names and name not in names:
            continue
        obj = getattr(importlib.import_module(module), attr)
        if group:
            built.add_typer(obj, name=name)
        else:
            built.command(name)(obj)
    return built


def __getattr__(name: str) -> typer.Typer:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    full = build()
    globals()["app"] = full
    return full


def main() -> None:
    # Ctrl-C stops cooperatively (iospki.operations.interrupt): the command reports what it changed,
    # then exits 130 as a shell expects of an interrupted program, whatever exit it was heading for
    interrupt.install()
    try:
        _quiet_collector(*[n for n in sys.argv[1:2] if n in COMMANDS])()  # the command named, else all of them
    except KeyboardInterrupt:
        raise SystemExit(interrupt.EXIT_INTERRUPTED) from None
    except SystemExit:
        if interrupt.stopped():
            raise SystemExit(interrupt.EXIT_INTERRUPTED) from None
        raise


def _quiet_collector(*names: str) -> typer.Typer:
    """`build(*names)` with the garbage collector off, then everything it made frozen (`gc.freeze`): a command's
    imports (pydantic models, netmiko, rich ...) make 70,000-130,000 objects that live as long as the process, which
    collections during the imports cannot free and every later full collection would walk again (~90 ms of
    the CPU of a 50-router `iospki collect`)."""
    gc.disable()
    try:
        return build(*names)
    finally:
        gc.freeze()
        gc.enable()
