"""What every `iospki` command shares: exit codes, the stdout/stderr consoles, the common options
(`--inventory`, `--limit`, `--json`, `--yes`), usage errors, opening the inventory, host selection by
`--limit` for stored collections, and summary tables.

Exit codes (documented in the README, relied on by CI jobs):
0 ok; 1 findings or a verification that failed; 2 usage, configuration or inventory error;
3 hosts unreachable or failed (or the environment, such as the lab, broke).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iospki.operations import settings
from iospki.operations.inventory import InventoryError, host_groups, load_nornir, select_names
from iospki.operations.runner import Context, InventoryInvalid, open_context
from iospki.state.store import WriteFailed

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings, or a verification that failed
EXIT_USAGE = 2  # usage, configuration or inventory error
EXIT_HOSTS = 3  # some hosts unreachable or failed, or the environment (the lab) broke

EXIT_MEANING = {
    EXIT_OK: "ok",
    EXIT_FINDINGS: "findings",
    EXIT_USAGE: "usage/config error",
    EXIT_HOSTS: "hosts failed",
}

# Wide tables when piped (CI logs, tests); the terminal's width otherwise.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

INVENTORY_OPT = typer.Option(
    None, "--inventory", "-i", help="Nornir inventory directory (default: the built-in lab)"
)
LIMIT_OPT = typer.Option(
    None, "--limit", "-l", help="hosts: names, globs, groups; '!x' excludes (comma separated)"
)
JSON_OPT = typer.Option(False, "--json", help="print the result as JSON instead of tables")
YES_OPT = typer.Option(False, "--yes", "-y", help="do not ask for confirmation")
CLUSTER_OPT = typer.Option(
    None,
    "--cluster",
    envvar="IOSPKI_CLUSTER",
    metavar="ADDRESS",
    help="run on the Dask cluster at ADDRESS (tcp://host:8786): the workers on each site's jump hosts "
    "hold the credentials (see iospki/cluster/CLUSTER.md); default: this machine",
)


def no_cluster_opt(why: str) -> Any:
    """`--cluster` on a command that cannot run on a cluster: listed in its --help with `why`, refused (exit 2)
    by `refuse_cluster` when given. IOSPKI_CLUSTER is not read there: it is meant for the commands that can."""
    return typer.Option(None, "--cluster", metavar="ADDRESS", help=f"not available here: {why}; IOSPKI_CLUSTER does not apply")


def refuse_cluster(cluster: str | None, command: str, why: str) -> None:
    if cluster:  # one line however wide the terminal (soft_wrap): scripts grep it
        err_console.print(f"[red]error:[/red] {command} does not run on a cluster: {escape(why)}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)


RESUME_OPT = typer.Option(
    False, "--resume", help="with --cluster: skip the hosts an interrupted run into the same --output finished"
)


def fail_usage(message: str) -> NoReturn:
    # escaped: the message quotes what the user gave (a path, an exported value), and `[...]` there is no markup
    err_console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)


def fail_write(exc: WriteFailed) -> NoReturn:
    """One line naming the path and the cause of a write that failed (`--output`, `-o`, `--picture`):
    exit 2 when the path is wrong (a file where a folder must be), 3 when the environment refuses it
    (read-only, permission, full disk)."""
    err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(EXIT_USAGE if exc.usage else EXIT_HOSTS)


_OPEN: list[Context] = []


def closing(fn: Callable[P, R]) -> Callable[P, R]:
    """Close every SSH/NAPALM session a command opened when it ends (routers have few vty lines)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            while _OPEN:
                _OPEN.pop().close()

    return wrapper


def check_settings() -> None:
    """Exit 2 naming every exported IOSPKI_* number its variable cannot take (`operations.settings`): checked
    before any host is touched, where a silent default would run more at once than the operator allowed."""
    bad = settings.problems()
    if bad:
        fail_usage("; ".join(bad))


def open_inventory(
    inventory: str | None,
    limit: str | None,
    validate: bool = True,
    cluster: str | None = None,
    resume: bool = False,
) -> Context:
    """Load and validate the inventory; usage/config problems exit with code 2. With `cluster` (`--cluster`)
    the tasks run on that Dask cluster, checked once first (unreachable, no worker: exit 2)."""
    if resume and not cluster:
        fail_usage("--resume needs --cluster (a run on this machine keeps no journal)")
    check_settings()
    if cluster:
        from iospki.cluster import cluster_problem

        problem = cluster_problem(cluster)
        if problem:
            fail_usage(problem)
    try:
        ctx = open_context(inventory, limit, validate)
    except InventoryInvalid as exc:
        for host, msg in exc.problems:
            err_console.print(f"[red]invalid inventory:[/red] {host}: {msg}")
        raise typer.Exit(EXIT_USAGE) from None
    except InventoryError as exc:
        fail_usage(str(exc))
    if cluster:
        from iospki.cluster import use_cluster

        use_cluster(ctx, cluster, resume=resume)
    _OPEN.append(ctx)
    return ctx


def select(
    names: Iterable[str], limit: str | None, groups: Mapping[str, Collection[str]] | None = None
) -> list[str]:
    """The names `--limit` selects among `names` (e.g. the hosts of a stored collection), with the groups each
    belongs to when an inventory says so; a term that matches nothing exits 2 naming it."""
    names = list(names)
    if not limit:
        return names
    try:
        return select_names({n: (groups or {}).get(n, ()) for n in names}, limit)
    except InventoryError as exc:
        fail_usage(str(exc))


def inventory_groups(inventory: str | None) -> dict[str, set[str]] | None:
    """The groups of every host of `--inventory` when one is given (to `--limit` a stored collection by
    group), else None (names and globs only); an unusable inventory exits 2."""
    if inventory is None:
        return None
    try:
        return host_groups(load_nornir(inventory))
    except InventoryError as exc:
        fail_usage(str(exc))


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t


def status_cell(ok: bool, text: str = "") -> str:
    return ("[green]ok[/green]" if ok else "[red]FAILED[/red]") + (f" {text}" if text else "")
