"""Values that mean something different on the client and on a cluster worker, wherever they sit in a task's
parameters (nested in a context object or captured by a closure: the replacement happens when pickled).

`ClientStore(dir)`  a collection directory on the CLIENT. Under the threaded runner it is just that path (a
                    `str`). Sent to a Dask worker, it becomes a private temporary directory there; the files
                    the task writes for its host travel back with the result and the client writes them into
                    `dir/<host>/` as each host completes (one store, bounded memory).
`HostSecrets(xs)`   the secrets to redact. Under the threaded runner, `xs`. Pickled, it NEVER carries its
                    values: on a worker it becomes the secrets that worker resolved for the host it runs.

    nr.run(task=collect_pki, output=ClientStore(out), secrets=HostSecrets(ctx.secrets), facts=True)

works the same with either runner.

    >>> s = ClientStore("/tmp/c1"); (s, isinstance(s, str))
    ('/tmp/c1', True)
    >>> import pickle; pickle.loads(pickle.dumps(HostSecrets(["hunter2"])))   # outside a worker: empty
    HostSecrets(<0 hidden>)
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iospki.state import store

# While the runner pickles a task: {token: client directory} of the ClientStores met.
_SENDING: ContextVar[dict[str, str] | None] = ContextVar("iospki_cluster_sending", default=None)


@dataclass(frozen=True)
class WorkerSide:
    """What a worker unpickles a task with: the host's secrets (resolved there) and its scratch directory."""

    secrets: list[str]
    scratch: Path


_WORKER: ContextVar[WorkerSide | None] = ContextVar("iospki_cluster_worker", default=None)


class ClientStore(str):
    """A collection directory that, on a cluster, is written by the client only."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        sending = _SENDING.get()
        if sending is None:  # an ordinary copy
            return (ClientStore, (str(self),))
        token = hashlib.sha256(str(self).encode()).hexdigest()[:16]
        sending[token] = str(self)
        return (_store_on_worker, (token,))


class HostSecrets(list[str]):
    """Secrets to redact; pickled, only a placeholder that a worker fills with the secrets of its host."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__(values)

    def __repr__(self) -> str:  # never print the values (a failing task's parameters may be logged)
        return f"HostSecrets(<{len(self)} hidden>)"

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_secrets_on_worker, ())


def _store_on_worker(token: str) -> str:
    side = _WORKER.get()
    if side is None:
        raise RuntimeError("a ClientStore sent to a cluster was unpickled outside iospki's worker function")
    d = side.scratch / token
    d.mkdir(parents=True, exist_ok=True)
    return str(d)


def _secrets_on_worker() -> HostSecrets:
    side = _WORKER.get()
    return HostSecrets(side.secrets if side is not None else ())


def is_sending() -> bool:
    """True while the cluster runner pickles a task (objects then reduce to what may travel)."""
    return _SENDING.get() is not None


@contextlib.contextmanager
def sending() -> Iterator[dict[str, str]]:
    """Around the client's pickling of a task: collects {token: client directory} of its ClientStores."""
    found: dict[str, str] = {}
    token = _SENDING.set(found)
    try:
        yield found
    finally:
        _SENDING.reset(token)


@contextlib.contextmanager
def on_the_worker(secrets: list[str], scratch: Path) -> Iterator[None]:
    """Around the worker's unpickling of a task: stores become `scratch/<token>`, secrets the host's."""
    token = _WORKER.set(WorkerSide(list(secrets), scratch))
    try:
        yield
    finally:
        _WORKER.reset(token)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="iospki-worker-"))


def harvest(scratch: Path, host: str) -> dict[str, dict[str, str]]:
    """{store token: {file name: text}} of what the task wrote for `host` under each worker store."""
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
    d = store.host_dir(root, host, create=True)  # inside root, never through a symlinked host folder
    with store.durable_batch():
        for name, text in files.items():
            if "/" in name or "\\" in name or name in ("", ".", ".."):
                raise store.StoreError(f"host {host}: a worker sent an unusable file name {name!r}")
            store.atomic_write_text(d / name, text)
