"""Values that mean something different on the client and on a cluster worker, wherever they sit in a task's
parameters (nested in a context object or captured by a closure: the replacement happens when pickled).

`ClientStore(dir)`  a collection directory on the CLIENT. Under the threaded runner it is just that path (a
                    `str`). Sent to a Dask worker, it becomes a private temporary directory there; the files
                    the task writes for its host travel back with the result and the client writes them into
                    `dir/<host>/` as each host completes (one store, bounded memory).
`HostSecrets(xs)`   the secrets to redact. Under the threaded runner, `xs`. Pickled, it NEVER carries its
                    values: on a worker it becomes the secrets that worker resolved for the host it runs.
`Once(value)`       a run-wide value, such as an operation's context with the intents and
                    addresses of the whole inventory: it travels and is unpickled once per worker and run, not
                    once per host (`RunPayload.shared`); each host's task refers to it by a content token.

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
import pickle
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iospki.state import store


@dataclass
class _Sending:
    stores: dict[str, str]  # {token: client directory} of the ClientStores met
    shared: dict[str, bytes] | None  # {token: pickled run-wide value} met (Once); None: inline


# While the runner pickles a task.
_SENDING: ContextVar[_Sending | None] = ContextVar("iospki_cluster_sending", default=None)
# While a Once pickles its run-wide value: it is decoded once for all hosts, so nothing host-specific may be in it.
_IN_SHARED: ContextVar[bool] = ContextVar("iospki_cluster_in_shared", default=False)


@dataclass(frozen=True)
class RunPayload:
    """What a run sends to every worker once: the task (function, parameters, severity, dry run; cloudpickled,
    unpickled per host because its stores and secrets become that host's) and the run-wide values it refers to
    ({token: pickled bytes}, unpickled once per worker: their size does not make each host's task slower)."""

    task: bytes
    shared: Mapping[str, bytes]


@dataclass(frozen=True)
class WorkerSide:
    """What a worker unpickles a task with: the host's secrets (resolved there), its scratch directory, and the
    run's shared values."""

    secrets: list[str]
    scratch: Path
    shared: Mapping[str, bytes]


_WORKER: ContextVar[WorkerSide | None] = ContextVar("iospki_cluster_worker", default=None)


class ClientStore(str):
    """A collection directory that, on a cluster, is written by the client only."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        sending = _SENDING.get()
        if sending is None:  # an ordinary copy
            return (ClientStore, (str(self),))
        _not_shared("a ClientStore")
        token = hashlib.sha256(str(self).encode()).hexdigest()[:16]
        sending.stores[token] = str(self)
        return (_store_on_worker, (token,))


class HostSecrets(list[str]):
    """Secrets to redact; pickled, only a placeholder that a worker fills with the secrets of its host."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__(values)

    def __repr__(self) -> str:  # never print the values (a failing task's parameters may be logged)
        return f"HostSecrets(<{len(self)} hidden>)"

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        _not_shared("HostSecrets")
        return (_secrets_on_worker, ())


def _not_shared(what: str) -> None:
    if _IN_SHARED.get():  # it would become the first host's value for every host of the worker
        raise TypeError(f"{what} cannot be part of a run-wide value (Once): it differs per host")


@dataclass(frozen=True)
class Once:
    """A run-wide value (unpickled, `value` itself): while the cluster runner sends a task, `value` is pickled
    apart (it may hold no ClientStore or HostSecrets) into the run's shared values and the task carries only its
    token; otherwise (nothing collects shared values) it is pickled inline."""

    value: Any

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        sending = _SENDING.get()
        if sending is None or sending.shared is None:
            return (_inline, (self.value,))
        flag = _IN_SHARED.set(True)
        try:
            blob = pickle.dumps(self.value, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            _IN_SHARED.reset(flag)
        token = hashlib.sha256(blob).hexdigest()[:24]
        sending.shared[token] = blob
        return (_shared_on_worker, (token,))


def _inline(value: Any) -> Any:
    return value


# Worker: the run-wide values decoded, by content token, most recent last. Shared (read-only) by the hosts the
# worker runs, as one Context is shared by the threads of a local run; dropped at the run's end (forget_shared),
# and only the last few kept should a client vanish before it says so.
_DECODED: OrderedDict[str, Any] = OrderedDict()
_DECODED_LOCK = threading.Lock()
_DECODED_KEEP = 4


def _shared_on_worker(token: str) -> Any:
    side = _WORKER.get()
    if side is None or token not in side.shared:
        raise RuntimeError("a run-wide value sent to a cluster was unpickled outside iospki's worker function")
    with _DECODED_LOCK:  # one decode per worker and run, however many hosts start at once
        if token in _DECODED:
            _DECODED.move_to_end(token)
            return _DECODED[token]
        value = pickle.loads(side.shared[token])
        _DECODED[token] = value
        while len(_DECODED) > _DECODED_KEEP:
            _DECODED.popitem(last=False)
        return value


def forget_shared(tokens: Iterable[str]) -> None:
    """On a worker, at a run's end (Client.run): drop the run's decoded shared values."""
    with _DECODED_LOCK:
        for t in tokens:
            _DECODED.pop(t, None)


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
def sending(shared: dict[str, bytes] | None = None) -> Iterator[dict[str, str]]:
    """Around the client's pickling of a task: collects {token: client directory} of its ClientStores, and
    into `shared` (when given) the run-wide values met (Once)."""
    found: dict[str, str] = {}
    token = _SENDING.set(_Sending(found, shared))
    try:
        yield found
    finally:
        _SENDING.reset(token)


@contextlib.contextmanager
def on_the_worker(secrets: list[str], scratch: Path, shared: Mapping[str, bytes] | None = None) -> Iterator[None]:
    """Around the worker's unpickling of a task: stores become `scratch/<token>`, secrets the host's, run-wide
    values (Once) the run's `shared` ones (decoded once per worker)."""
    token = _WORKER.set(WorkerSide(list(secrets), scratch, shared or {}))
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
