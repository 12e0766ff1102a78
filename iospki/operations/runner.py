"""Run Nornir tasks over a loaded inventory: the context every operation shares, a progress bar, and the
secret-free reason a host failed.

    ctx = open_context("inventory", limit="r*,!r3")
    agg = run(ctx.nr, some_task, "doing it", ctx=ctx)

No typer and no exit codes here: the CLI kit (`iospki.cli.kit`) turns `InventoryError` into exit code 2,
validate turns it into its own error; both close what they opened with `Context.close()`.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nornir.core import Nornir
from nornir.core.inventory import Host
from nornir.core.task import AggregatedResult, MultiResult, Task
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iospki.operations import interrupt
from iospki.operations.intent import HostIntent, validate_inventory
from iospki.operations.inventory import (
    InventoryError,
    all_secrets,
    credential_errors,
    load_nornir,
    summarize_errors,
)
from iospki.state.store import redact


class InventoryInvalid(InventoryError):
    """The inventory loads but its PKI intent is invalid: one (host, problem) per entry of `problems`."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{h}: {m}" for h, m in problems))
        self.problems = problems


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

    def only(self, hosts: set[str] | list[str]) -> Context:
        """The same context working on `hosts` of the full inventory (shares its sessions)."""
        names = set(hosts)
        return Context(
            nr=self.full.filter(filter_func=lambda h: h.name in names),
            full=self.full,
            intents=self.intents,
            secrets=self.secrets,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to a cluster worker (a task parameter, or captured by an inner task): what tasks read, never the
        # Nornir objects -- they hold every device's password (iospki.cluster re-resolves them on the worker).
        from iospki.cluster import HostSecrets
        from iospki.cluster.context import TaskContext
        from iospki.cluster.relay import is_sending

        if not is_sending():
            raise TypeError("a Context holds every device's password: only iospki.cluster may send it, reduced")
        from iospki.cluster.relay import Once

        addresses = {n: str(h.hostname) for n, h in self.full.inventory.hosts.items()}
        # the whole inventory's intents and addresses (tasks read other hosts': their CA servers) go to each
        # worker once per run, not with every host's task (that made each host's cost grow with the fleet)
        return (TaskContext.of, (Once((dict(self.intents), addresses)), HostSecrets(self.secrets)))

    def close(self) -> None:
        """Close every SSH/NAPALM session the context opened (routers have few vty lines)."""
        for nr in (self.nr, self.full):
            with contextlib.suppress(Exception):
                nr.close_connections(on_good=True, on_failed=True)


def open_context(inventory: str | None, limit: str | None, validate: bool = True) -> Context:
    """Load the inventory (limited by `limit`) and check credentials and PKI intent.

    Raises `InventoryError` (unusable inventory, missing credentials, a `--limit` term that matches nothing)
    or `InventoryInvalid` (bad intent; only with `validate`)."""
    full = load_nornir(inventory)
    nr = load_nornir(inventory, limit) if limit else full
    errs = credential_errors(nr)
    if errs:
        raise InventoryError(summarize_errors(errs))
    hosts = {n: (str(h.hostname), dict(h.items())) for n, h in full.inventory.hosts.items()}
    intents, problems = validate_inventory(hosts)
    if validate and problems:
        raise InventoryInvalid(problems)
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
    """Run `task` on every host of `nr`; a rich progress bar when stderr is a terminal.

    Ctrl-C during the run stops it cooperatively (`iospki.operations.interrupt`): each host ends after its
    device exchange in flight, failed with `Interrupted`; hosts not started yet fail at once."""
    with interrupt.cooperative():
        return _run(nr, task, description, **kwargs)


def was_interrupted(mr: MultiResult) -> bool:
    """True when the host stopped because of Ctrl-C (`interrupt.Interrupted` anywhere in its results)."""
    return any(isinstance(r.exception, interrupt.Interrupted) for r in mr) or isinstance(
        mr.exception, interrupt.Interrupted
    )


def _run(nr: Nornir, task: Callable[..., Any], description: str, **kwargs: Any) -> AggregatedResult:
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
        console=Console(stderr=True),
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
    elif name not in ("TaskFailed", "Interrupted"):
        first = f"{name}: {first}"
    if isinstance(exc, interrupt.Interrupted) and host is not None and interrupt.changes(host.name):
        # stopped part-way (renew, rollover, deploy): the report must say what already reached the device
        first += "; changed in this run: " + "; ".join(interrupt.changes(host.name))
    return (first, unreachable)
