"""What every toolkit command shares: exit codes, inventory loading, running a task with a progress bar,
failure reasons (secret-free), summary tables."""

from __future__ import annotations

import contextlib
import functools
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from nornir.core import Nornir
from nornir.core.inventory import Host
from nornir.core.task import AggregatedResult, MultiResult, Task
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from iospki.operations.intent import HostIntent, validate_inventory
from iospki.operations.inventory import InventoryError, all_secrets, credential_errors, load_nornir
from iospki.state.store import redact

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings, or a verification that failed
EXIT_USAGE = 2  # usage or configuration error
EXIT_HOSTS = 3  # some hosts unreachable or failed

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


def fail_usage(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(EXIT_USAGE)


@dataclass
class Context:
    """A loaded, validated inventory (limited) and the full one (for cross-host lookups such as CA servers)."""

    nr: Nornir
    full: Nornir
    intents: dict[str, HostIntent]
    secrets: list[str] = field(default_factory=list)

    def addr(self, host: str) -> str:
        return str(self.full.inventory.hosts[host].hostname)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


_OPEN: list[Nornir] = []


def closing(fn: Callable[P, R]) -> Callable[P, R]:
    """Close every SSH/NAPALM session a command opened when it ends (routers have few vty lines)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            while _OPEN:
                with contextlib.suppress(Exception):
                    _OPEN.pop().close_connections(on_good=True, on_failed=True)

    return wrapper


def open_inventory(inventory: str | None, limit: str | None, validate: bool = True) -> Context:
    """Load and validate the inventory; usage/config problems exit with code 2."""
    try:
        full = load_nornir(inventory)
        nr = load_nornir(inventory, limit) if limit else full
    except InventoryError as exc:
        fail_usage(str(exc))
    errs = credential_errors(nr)
    if errs:
        fail_usage("; ".join(errs))
    hosts = {n: (str(h.hostname), dict(h.items())) for n, h in full.inventory.hosts.items()}
    intents, problems = validate_inventory(hosts)
    if validate and problems:
        for host, msg in problems:
            err_console.print(f"[red]invalid inventory:[/red] {host}: {msg}")
        raise typer.Exit(EXIT_USAGE)
    _OPEN.extend([nr, full])
    return Context(nr=nr, full=full, intents=intents, secrets=all_secrets(full))


class _ProgressProcessor:
    def __init__(self, progress: Progress, task_id: Any):
        self.progress = progress
        self.task_id = task_id

    def task_started(self, task: Task) -> None:
        pass

    def task_completed(self, task: Task, result: AggregatedResult) -> None:
        pass

    def task_instance_started(self, task: Task, host: Host) -> None:
        pass

    def task_instance_completed(self, task: Task, host: Host, result: MultiResult) -> None:
        self.progress.advance(self.task_id)

    def subtask_instance_started(self, task: Task, host: Host) -> None:
        pass

    def subtask_instance_completed(self, task: Task, host: Host, result: MultiResult) -> None:
        pass


def run(nr: Nornir, task: Callable[..., Any], description: str, **kwargs: Any) -> AggregatedResult:
    """Run `task` on every host of `nr`; a rich progress bar when stderr is a terminal."""
    n = len(nr.inventory.hosts)
    if n == 0:
        return AggregatedResult(description)
    if not sys.stderr.isatty():
        return nr.run(task=task, name=description, **kwargs)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        tid = progress.add_task(description, total=n)
        return nr.with_processors([_ProgressProcessor(progress, tid)]).run(
            task=task, name=description, **kwargs
        )


_UNREACHABLE = (
    "NetmikoTimeoutException",
    "NetmikoAuthenticationException",
    "ConnectionRefusedError",
    "SSHException",
    "AuthenticationException",
)


def failure(mr: MultiResult, host: Host | None = None) -> tuple[str, bool]:
    """(reason, unreachable) of a failed host: the innermost exception, named and secret-free."""
    exc: BaseException | None = None
    for r in mr:
        if r.exception is not None and type(r.exception).__name__ != "NornirSubTaskError":
            exc = r.exception
            break
    if exc is None:
        exc = mr.exception
    if exc is None:
        return ("failed", False)
    name = type(exc).__name__
    unreachable = name in _UNREACHABLE or isinstance(exc, (OSError, socket.timeout))
    text = str(exc).strip().splitlines()
    first = next((ln for ln in text if ln.strip()), name)
    if first.rstrip().endswith(":"):  # netmiko puts the real cause on the next line
        first = " ".join(ln.strip() for ln in text if ln.strip())
    if name == "NetmikoAuthenticationException":
        first = "authentication failed (check IOSPKI_USERNAME/IOSPKI_PASSWORD)"
    elif name == "NetmikoTimeoutException" or isinstance(exc, (ConnectionRefusedError, socket.timeout)):
        where = f" ({host.hostname}:{host.port})" if host is not None else ""
        first = f"unreachable{where}: {first}"
    elif name not in ("TaskFailed",):
        first = f"{name}: {first}"
    return (first, unreachable)


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t


def status_cell(ok: bool, text: str = "") -> str:
    return ("[green]ok[/green]" if ok else "[red]FAILED[/red]") + (f" {text}" if text else "")
