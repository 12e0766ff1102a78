"""How every `iospki` command group (the root, `inventory`, `scep`, `lab`) shows its usage: an unknown command
names the known ones, and help shows no value type for an on/off flag.

    app = typer.Typer(cls=CommandGroup, ...)
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches
from typing import Any, TypeVar

from typer.core import TyperGroup

T = TypeVar("T")


def untyped_flags(params: Iterable[T]) -> Iterable[T]:
    """Typer prints a flag's type as `<bool>` beside it, as if `--json <bool>` took a value; an empty metavar
    shows nothing there (a flag's usage and error messages never show its metavar)."""
    for param in params:
        if getattr(param, "is_flag", False) and getattr(param, "metavar", "") is None:
            param.metavar = ""  # type: ignore[attr-defined]
    return params


class CommandGroup(TyperGroup):
    """A typer group whose usage error for an unknown command lists the known commands (exit 2, as click's)."""

    # `ctx` is typer's vendored click Context, which typer does not export under a public name
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None and not ctx.resilient_parsing:
            known = sorted(n for n, c in self.commands.items() if not c.hidden)
            close = get_close_matches(name, known)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} Commands: {', '.join(known)}.")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            untyped_flags(cmd.get_params(ctx))
        return cmd

    def get_params(self, ctx: Any) -> Any:
        return list(untyped_flags(super().get_params(ctx)))
