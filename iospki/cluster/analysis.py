"""Offline analysis on a Dask cluster: load + parse a stored collection on the workers, forecast per CA group.

`audit --offline`, `forecast --offline` and `status --offline` with `--cluster` run the SAME code as on one
machine (`loader.load_host`, `run_audit`, `simulate`); only where it runs changes:

- **load + parse per host, on the workers.** The client reads each host folder as the loader does
  (`store.read_host`: outputs, `_error.txt`; the JSON files' bytes), all of it redacted by the store when it
  was written, and sends batches of hosts; a worker runs `load_host` on what it received (the JSON files, which
  the loader reads from files, written into a private temporary folder), so it needs no share of the client's
  file system (the jump-host deployment). With `shared=True` the workers read the collection's path
  themselves (a file system every worker mounts at the same path). A host folder the client cannot read is
  loaded on the client (the same `load_host`, the same one-line error). Results stream back as
  they complete, at most a few batches per worker thread in flight (bounded memory on client and scheduler);
  they come back as pickled bytes that the client unpickles with the garbage collector off and freezes after,
  as `load_collection` does with what it builds.
- **the audit** runs on the client over every host (its checks need all hosts at once: a client's CA server,
  the CA index), with the forecast below as its `forecaster`.
- **the forecast per CA group, on the workers.** The simulation's only coupling between hosts is a CA server
  and the client trustpoints enrolled with it (`TrustpointInput.ca_key`): a group is one CA server and its
  clients (a trustpoint whose CA is not in the collection is a group of its own). Groups are packed into
  batches and each batch simulated on a worker from the same start to the same end; the sorted events,
  outages and notes of the batches are merged in the simulator's own order, which gives exactly the local
  forecast (the tests compare the JSON byte for byte).

Analysis only reads: a worker lost mid-analysis has its batches run again on another worker by Dask.

    with ClusterAnalysis("tcp://192.0.2.5:8786") as remote:
        result = remote.audit(Path("collections/today"))           # AuditResult, as run_audit's
    # or in one call (bench_fleet):
    result = analyse_on_cluster("tcp://192.0.2.5:8786", Path("collections/today"))
"""

from __future__ import annotations

import heapq
import math
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from iospki.audit import AuditResult, run_audit
from iospki.forecast import CAInput, Forecast, TrustpointInput, inputs_from_states, simulate
from iospki.forecast.simulator import default_start
from iospki.gc_pause import PAUSED
from iospki.state import store
from iospki.state.loader import HostState, load_collection, load_host

from .runner import DaskRunner, runner_config
from .transport import ClusterError

T = TypeVar("T")

DEFAULT_BATCH = 100  # hosts per task: ~1 MB of stored text, a few hundred ms of parsing
IN_FLIGHT_PER_THREAD = 2  # batches submitted and not yet back, per worker thread


@dataclass
class _Sent:
    """One host folder as the client read it (`store.read_host`): `_error.txt`, the outputs, and the JSON
    files' (name, bytes), which the loader reads from files (the worker writes them into a private folder)."""

    error: str | None
    outputs: dict[str, str]
    json: list[tuple[str, bytes]]


# a host as sent: its name and its folder; only its name when the workers read the shared path
Shipped = tuple[str, _Sent | None]


# --------------------------------------------------------------------------- on the worker


def _as_loaded(state: HostState) -> HostState:
    return state




def _load_batch(root: str | None, hosts: list[Shipped], apply: Callable[[HostState], Any]) -> bytes:
    """Load (and `apply` to) each host of a batch; the pickled [(host, result)]. Runs on a worker."""
    with PAUSED:  # a batch's states are freed by refcount once pickled (2.8 -> 1.5 ms a host)
        return _load_into(root, hosts, apply)


def _load_into(root: str | None, hosts: list[Shipped], apply: Callable[[HostState], Any]) -> bytes:
    out: list[tuple[str, Any]] = []
    tmp: str | None = None
    try:
        for host, sent in hosts:
            if sent is None:  # the workers read the shared path
                assert root is not None
                st = load_host(root, host)
            else:
                if sent.json and tmp is None:
                    tmp = tempfile.mkdtemp(prefix="iospki-analysis-")  # private (0700), removed below
                jsons = _json_files(tmp, host, sent) if tmp is not None else []
                st = load_host(tmp or "", host, store.HostFiles(sent.error, sent.outputs, jsons))
            out.append((host, apply(st)))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)


def _json_files(tmp: str, host: str, sent: _Sent) -> list[Path]:
    """The host's JSON files written under `tmp` (the loader reads them from files); usually none or two."""
    paths = []
    for name, data in sent.json:
        if os.path.basename(name) != name or name in (".", "..") or store.host_name_problem(host):
            raise ValueError(f"{host}/{name}: not a stored file name")
        d = Path(tmp) / host
        d.mkdir(exist_ok=True)
        (d / name).write_bytes(data)
        paths.append(d / name)
    return paths


def _simulate_batch(
    cas: list[CAInput], tps: list[TrustpointInput], start: datetime, until: datetime
) -> bytes:
    """One batch of whole CA groups through the simulator (on a worker): the pickled Forecast."""
    return pickle.dumps(simulate(cas, tps, start, until), protocol=pickle.HIGHEST_PROTOCOL)


# --------------------------------------------------------------------------- on the client


def _read_folder(root: Path, host: str) -> _Sent:
    """One host folder read as the loader reads it (raises OSError or StoreError when it cannot be read)."""
    files = store.read_host(root, host)
    return _Sent(files.error, files.outputs, [(p.name, p.read_bytes()) for p in files.json])


class _Alone:
    """Whether the cluster has had no worker for longer than its analysis's `worker_grace`: its batches would
    wait for one forever (analysis runs on any worker, so any new one takes them over within the grace)."""

    def __init__(self, analysis: ClusterAnalysis) -> None:
        self.analysis = analysis
        self.since: float | None = None
        self.checked = 0.0

    def check(self) -> None:
        now = time.monotonic()
        if now - self.checked < 1.0:  # the scheduler is asked at most once a second
            return
        self.checked = now
        if self.analysis.client.scheduler_info(n_workers=-1).get("workers"):
            self.since = None
            return
        self.since = self.since or now
        if now - self.since > self.analysis.worker_grace:
            raise ClusterError(
                f"analysis on the cluster failed: no worker for {self.analysis.worker_grace:.0f} s "
                "(all lost?); nothing was reported"
            )


@dataclass
class _Batch:
    hosts: list[Shipped]
    local: list[str]  # hosts of the batch whose folder the client could not read: loaded here


class ClusterAnalysis:
    """A client of the cluster at `address` (default IOSPKI_CLUSTER) for offline analysis; a context manager.

    `client`: an open `distributed.Client` to use instead (not closed here). `batch`: hosts per task.
    `shared`: the workers read the collection's path themselves instead of receiving its files.
    `worker_grace`: seconds the cluster may be without any worker before the analysis fails. TLS options
    as the Dask runner's (`tls_ca_file`, `tls_cert`, `tls_key`)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any = None,
        batch: int = DEFAULT_BATCH,
        shared: bool = False,
        worker_grace: float = 30.0,
        **tls: Any,
    ) -> None:
        if client is None:
            client = DaskRunner(**runner_config(address, **tls)["options"])._client()
            self._owned = True
        else:
            self._owned = False
        self.client = client
        self.batch = max(1, batch)
        self.shared = shared
        self.worker_grace = worker_grace  # seconds without any worker before the analysis fails

    def __enter__(self) -> ClusterAnalysis:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self.client.close()

    # ------------------------------------------------------------------ scheduling

    def _threads(self) -> int:
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        n = sum(int(w.get("nthreads", 1)) for w in workers.values())
        if n == 0:
            raise ClusterError("the cluster has no workers (start `dask worker` on the jump hosts)")
        return n

    def _stream(
        self, jobs: Iterable[tuple[Any, Callable[..., bytes], tuple[Any, ...]]]
    ) -> Iterator[tuple[Any, Any]]:
        """Submit `jobs` (tag, function, args), at most IN_FLIGHT_PER_THREAD per worker thread out at once;
        yield (tag, unpickled result) as each completes. Jobs are pure: Dask runs a lost worker's elsewhere."""
        from distributed import as_completed

        todo = iter(jobs)
        tags: dict[Any, Any] = {}
        window = as_completed(loop=self.client.loop)

        def submit(n: int) -> None:
            for tag, fn, args in _take(todo, n):
                fut = self.client.submit(fn, *args, pure=False)
                tags[fut.key] = tag
                window.add(fut)

        submit(self._threads() * IN_FLIGHT_PER_THREAD)
        alone = _Alone(self)
        while not window.is_empty():
            ready = window.next_batch(block=False)
            if not ready:
                alone.check()  # Dask waits for a worker forever; a command must not
                time.sleep(0.02)
                continue
            for fut in ready:
                try:
                    data = fut.result()
                except Exception as exc:  # a bug on a worker, the scheduler gone: one line, no partial result
                    raise ClusterError(
                        f"analysis on the cluster failed: {type(exc).__name__}: {exc}"
                    ) from exc
                tag = tags.pop(fut.key)
                fut.release()
                submit(1)
                yield tag, pickle.loads(data)

    # ------------------------------------------------------------------ load + parse

    def load_hosts(self, root: Path | str, hosts: list[str]) -> dict[str, HostState]:
        """{host: load_host(root, host)} for every host of `hosts`, loaded and parsed on the workers."""
        return self.map_hosts(root, hosts, _as_loaded)

    def map_hosts(self, root: Path | str, hosts: list[str], apply: Callable[[HostState], T]) -> dict[str, T]:
        """{host: apply(load_host(root, host))} for every host of `hosts`, all computed on the workers
        (`apply`: a module-level function, which the workers import by name)."""
        root = Path(root)
        # small collections: every thread gets a batch; large ones: `batch` hosts a task
        size = max(1, min(self.batch, math.ceil(len(hosts) / self._threads())))
        out: dict[str, T] = {}
        path = str(root.resolve()) if self.shared else None

        def batches() -> Iterator[tuple[Any, Callable[..., bytes], tuple[Any, ...]]]:
            for i in range(0, len(hosts), size):
                b = self._ship(root, hosts[i : i + size])
                for h in b.local:  # unreadable here: the same loader, here, says why
                    st = load_host(root, h)
                    out[h] = apply(st)
                if b.hosts:
                    yield i, _load_batch, (path, b.hosts, apply)

        for _, part in self._stream(batches()):
            out.update(part)
        return out

    def _ship(self, root: Path, hosts: list[str]) -> _Batch:
        if self.shared:
            return _Batch([(h, None) for h in hosts], [])
        b = _Batch([], [])
        for h in hosts:
            try:
                b.hosts.append((h, _read_folder(root, h)))
            except (OSError, store.StoreError):
                b.local.append(h)
        return b

    def load(self, root: Path | str, limit: list[str] | None = None) -> list[HostState]:
        """`loader.load_collection(root, limit)` with its host folders loaded and parsed on the workers."""

        def on_workers(hosts: list[str]) -> list[HostState]:
            loaded = self.load_hosts(root, hosts)
            return [loaded[h] for h in hosts]

        return load_collection(root, limit, load=on_workers)

    load_collection = load  # the loader's name for it (bench_fleet calls it so)

    # ------------------------------------------------------------------ forecast

    def forecast(
        self,
        states: Iterable[HostState],
        at: datetime | None = None,
        horizon: timedelta = timedelta(days=3 * 365),
    ) -> Forecast:
        """`forecast_states(states, at, horizon)`, simulated per CA group on the workers."""
        states = list(states)
        cas, tps = inputs_from_states(states)
        at = at or default_start(states, tps)
        batches = _ca_batches(cas, tps, self._threads())
        if len(batches) <= 1:
            return simulate(cas, tps, at, at + horizon)  # nothing to divide
        jobs = ((i, _simulate_batch, (bc, bt, at, at + horizon)) for i, (bc, bt) in enumerate(batches))
        done = dict(self._stream(jobs))
        return _merge([(done[i], bt) for i, (_, bt) in enumerate(batches)])

    # ------------------------------------------------------------------ the audit

    def audit(self, root: Path | str, only: Iterable[str] | None = None, **options: Any) -> AuditResult:
        """`run_audit(load_collection(root), only=..., **options)` with the load and the forecast on the cluster."""
        states = self.load(root)
        return run_audit(
            states, only=set(only) if only is not None else None, forecaster=self.forecast, **options
        )


def _take(it: Iterator[T], n: int) -> list[T]:
    out = []
    for x in it:
        out.append(x)
        if len(out) >= n:
            break
    return out


def _ca_batches(
    cas: list[CAInput], tps: list[TrustpointInput], threads: int
) -> list[tuple[list[CAInput], list[TrustpointInput]]]:
    """The CA groups -- a CA server and the client trustpoints enrolled with it; a trustpoint whose CA is not
    among `cas` alone -- packed into about 4 batches per worker thread of whole groups."""
    groups: dict[Any, tuple[list[CAInput], list[TrustpointInput]]] = {}
    for c in cas:
        groups.setdefault(c.key, ([], []))[0].append(c)
    for t in tps:
        key = t.ca_key if t.ca_key in groups else ("", t.host, t.trustpoint)
        groups.setdefault(key, ([], []))[1].append(t)
    want = max(1, min(len(groups), threads * 4))
    size = math.ceil(sum(len(g_cas) + len(g_tps) for g_cas, g_tps in groups.values()) / want)
    batches: list[tuple[list[CAInput], list[TrustpointInput]]] = []
    cur: tuple[list[CAInput], list[TrustpointInput]] = ([], [])
    for group_cas, group_tps in groups.values():
        cur[0].extend(group_cas)
        cur[1].extend(group_tps)
        if len(cur[0]) + len(cur[1]) >= size:
            batches.append(cur)
            cur = ([], [])
    if cur[0] or cur[1]:
        batches.append(cur)
    return batches


def _merge(parts: list[tuple[Forecast, list[TrustpointInput]]]) -> Forecast:
    """One forecast from the forecasts of batches of whole CA groups, in the order one simulation gives.

    Events and outages: each batch's are sorted by the simulator's keys and no key is shared between two
    groups (it names the host and trustpoint or CA), so a merge of the sorted lists is the sorted whole.
    Notes: the simulator writes at most one per trustpoint, in (host, trustpoint) order, starting
    "host/trustpoint: "; each batch's are merged back into that order."""
    first = parts[0][0]
    events = list(
        heapq.merge(*(p.events for p, _ in parts), key=lambda e: (e.at, e.host, e.subject, e.event))
    )
    outages = list(
        heapq.merge(*(p.outages for p, _ in parts), key=lambda o: (o.start, o.host, o.trustpoint, o.reason))
    )
    keyed = []
    for fc, tps in parts:
        order = sorted((t.host, t.trustpoint) for t in tps)
        i = 0
        for note in fc.notes:
            while i < len(order) and not note.startswith(f"{order[i][0]}/{order[i][1]}: "):
                i += 1
            if i == len(order):
                raise ClusterError(f"forecast note of no trustpoint of its batch: {note!r}")
            keyed.append((order[i], note))
    notes = [n for _, n in sorted(keyed, key=lambda kn: kn[0])]
    return Forecast(first.start, first.until, events, outages, notes)


def analyse_on_cluster(
    address: str | None,
    root: Path | str,
    *,
    client: Any = None,
    batch: int = DEFAULT_BATCH,
    shared: bool = False,
    only: Iterable[str] | None = None,
    **audit_options: Any,
) -> AuditResult:
    """Load, parse, audit and forecast the collection at `root` on the cluster at `address` (or an open
    `client`): the `AuditResult` a local `run_audit(load_collection(root), ...)` gives. `audit_options`
    as run_audit's (at, threshold, horizon, rules, skew_tolerance)."""
    with ClusterAnalysis(address, client=client, batch=batch, shared=shared) as remote:
        return remote.audit(root, only=only, **audit_options)


def open_analysis(address: str | None, **options: Any) -> ClusterAnalysis:
    """A `ClusterAnalysis` of the cluster at `address` (default IOSPKI_CLUSTER), checked first: ClusterError
    with one line saying why it cannot be used (no address, no answer, no worker). Options as ClusterAnalysis's."""
    from .runner import cluster_problem

    tls = {k: options[k] for k in ("tls_ca_file", "tls_cert", "tls_key") if k in options}
    problem = cluster_problem(address, **tls)
    if problem:
        raise ClusterError(problem)
    return ClusterAnalysis(address, **options)
