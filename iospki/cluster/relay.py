"""Task parameters that mean something different on the client and on a cluster worker.

`ClientStore(dir)`  a collection directory on the CLIENT. Under the threaded runner it is just that path (a
                    `str`). Under the Dask runner the worker gets a private temporary directory instead; the
                    files the task writes there for its host travel back with the result and the client
                    writes them into `dir/<host>/` as each host completes (one store, bounded memory).
`HostSecrets(xs)`   the secrets to redact. Under the threaded runner, `xs`. Under the Dask runner the list is
                    never sent: the worker fills in the secrets it resolved itself for that host.

    nr.run(task=collect_pki, output=ClientStore(out), secrets=HostSecrets(ctx.secrets), facts=True)

works the same with either runner.

    >>> s = ClientStore("/tmp/c1"); (s, isinstance(s, str))
    ('/tmp/c1', True)
    >>> list(HostSecrets(["a"])), repr(HostSecrets(["hunter2"]))
    (['a'], 'HostSecrets(<1 hidden>)')
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from iospki.state import store


class ClientStore(str):
    """A collection directory that, on a cluster, is written by the client only."""

    __slots__ = ()


class HostSecrets(list[str]):
    """Secrets to redact; on a cluster, resolved by the worker for its host (the client's list stays home)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__(values)

    def __repr__(self) -> str:  # never print the values (a failing task's parameters may be logged)
        return f"HostSecrets(<{len(self)} hidden>)"


class _WorkerStore:
    """What a ClientStore parameter becomes on the wire: nothing but a placeholder."""

    def __repr__(self) -> str:
        return "<worker store>"


class _WorkerSecrets:
    """What a HostSecrets parameter becomes on the wire: nothing but a placeholder."""

    def __repr__(self) -> str:
        return "<worker secrets>"


WORKER_STORE = _WorkerStore()
WORKER_SECRETS = _WorkerSecrets()


def for_the_wire(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(parameters to send, {parameter: client directory}): stores and secrets replaced by placeholders."""
    sent: dict[str, Any] = {}
    stores: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, ClientStore):
            sent[name] = WORKER_STORE
            stores[name] = str(value)
        elif isinstance(value, HostSecrets):
            sent[name] = WORKER_SECRETS
        else:
            sent[name] = value
    return sent, stores


def on_the_worker(params: Mapping[str, Any], secrets: list[str], scratch: Path) -> dict[str, Any]:
    """Parameters as the task sees them on a worker: placeholders filled with local values."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, _WorkerStore):
            d = scratch / name
            d.mkdir(parents=True, exist_ok=True)
            out[name] = str(d)
        elif isinstance(value, _WorkerSecrets):
            out[name] = list(secrets)
        else:
            out[name] = value
    return out


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="iospki-worker-"))


def harvest(scratch: Path, host: str) -> dict[str, dict[str, str]]:
    """{parameter: {file name: text}} of what the task wrote for `host` under each worker store."""
    out: dict[str, dict[str, str]] = {}
    if not scratch.is_dir():
        return out
    for param_dir in sorted(p for p in scratch.iterdir() if p.is_dir()):
        host_dir = param_dir / host
        files: dict[str, str] = {}
        if host_dir.is_dir():
            for f in sorted(host_dir.iterdir()):
                if f.is_file() and not f.name.startswith("."):
                    files[f.name] = f.read_text(encoding="utf-8", errors="replace")
        out[param_dir.name] = files
    return out


def drop_scratch(scratch: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(scratch)


def write_back(root: str, host: str, files: Mapping[str, str]) -> None:
    """Write a host's relayed files into the client's collection, atomically, one flush per host folder.
    An `_error.txt` an earlier run left goes when this run did not fail (as a local collect clears it)."""
    if store.ERROR_FILE not in files:
        store.clear_error(root, host)
    if not files:
        return
    d = Path(root) / host
    with store.durable_batch():
        for name, text in files.items():
            if "/" in name or "\\" in name or name in ("", ".", ".."):
                raise store.StoreError(f"host {host}: a worker sent an unusable file name {name!r}")
            store.atomic_write_text(d / name, text)
