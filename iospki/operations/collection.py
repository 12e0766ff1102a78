"""Collect PKI state from the devices into a collection directory (`iospki.state.store` layout).

    outcome = collect_into(ctx, Path("iospki-collections/now"))

`iospki collect`, status, verify, live audit and forecast, and validate's checkpoints all collect through here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nornir.core.task import Result, Task

from iospki.operations import interrupt
from iospki.operations.runner import Context, failure, run
from iospki.state import store
from iospki.state.lock import collection_lock
from iospki.tasks import collect_pki

# host name -> the commands to read there, or None for every PKI command (`iospki.tasks.pki_commands`)
CommandChoice = Callable[[str], "list[str] | None"]


@dataclass
class CollectOutcome:
    output: Path
    ok: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # host -> {'commands', 'parse_errors', 'facts'}
    failed: dict[str, str] = field(default_factory=dict)  # host -> reason
    unreachable: set[str] = field(default_factory=set)
    interrupted: bool = False  # Ctrl-C: meta.json says so, the hosts not finished are failed "interrupted"


def collect_into(
    ctx: Context,
    output: Path,
    facts: bool = True,
    description: str = "collect",
    commands: CommandChoice | None = None,
) -> CollectOutcome:
    """Collect every host of `ctx.nr` into `output`; failing hosts get `_error.txt`, the others carry on.
    `commands` narrows what is read per host (validate's checkpoints read only what their checks need).
    Raises `CollectionBusy` when another process writes `output` (`iospki.state.lock`)."""
    output.mkdir(parents=True, exist_ok=True)
    with collection_lock(output):
        return _collect_locked(ctx, output, facts, description, commands)


def _collect_locked(
    ctx: Context, output: Path, facts: bool, description: str, commands: CommandChoice | None
) -> CollectOutcome:
    started = datetime.now(timezone.utc)

    def servers_of(h: str) -> list[str]:
        ca = ctx.intents[h].ca_server if h in ctx.intents else None
        return [ca.name] if ca else []

    target = _target(output)

    def one(task: Task) -> Result:
        name = task.host.name
        try:
            return task.run(
                task=collect_pki,
                output=target,
                ca_servers=servers_of(name),
                secrets=ctx.secrets,
                facts=facts,
                commands=commands(name) if commands is not None else None,
            )[0]
        finally:
            # a host's sessions end with its collect (as on a cluster worker): left open until the command
            # ends, each idle paramiko transport wakes 10 times a second, and one process holding ~1,000 of
            # them crawled at a few hosts a second (bench_fleet, 2,000 lab routers); routers have few vty lines
            task.host.close_connections()

    agg = run(ctx.nr, one, description)
    res = CollectOutcome(output=output, interrupted=interrupt.stopped())
    for h, mr in agg.items():
        if mr.failed:
            reason, unreachable = failure(mr, ctx.nr.inventory.hosts[h])
            reason = ctx.redact(reason)
            res.failed[h] = reason
            if unreachable:
                res.unreachable.add(h)
            try:
                store.write_error(output, h, reason, ctx.secrets)
            except store.StoreError as exc:  # e.g. a symlinked host folder: said, never a traceback
                res.failed[h] = f"{reason}; {exc}"
        else:
            res.ok[h] = mr[0].result
    store.write_meta(
        output,
        res.ok,
        res.failed,
        started=started,
        commands=sorted({c for r in res.ok.values() for c in r["commands"]}),
        interrupted=res.interrupted,
    )
    return res


def _target(output: Path) -> str:
    """`output` as the tasks get it. On a cluster (iospki.cluster) a ClientStore: the workers' outputs come back
    and the client writes them here. A run can be on a cluster only once iospki.cluster is imported (`--cluster`,
    a runbook's `dask` runner); otherwise the plain path, which is what a ClientStore is under the threaded
    runner, without importing the cluster package at every start (~14 ms of `iospki collect`'s CPU)."""
    if "iospki.cluster" not in sys.modules:
        return str(output)
    from iospki.cluster.relay import ClientStore

    return ClientStore(str(output))
