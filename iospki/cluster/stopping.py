"""Ctrl-C during a cluster run: stop the workers' hosts cooperatively, as a run on one machine stops.

On one machine the first Ctrl-C sets `iospki.operations.interrupt.STOP`; every task checks it before its next
device exchange. On a cluster the signal reaches the client only, and a worker may serve several runs at once,
so each run has its own stop on every worker:

- worker side: `run_host` runs its host inside `interrupt.scope(<the run's event>)`, so the same checks
  (`tasks.connection.cli`, the poll and retry sleeps, the wait for an enrollment slot) follow the run's stop;
  a host whose task starts after the stop returns "interrupted" without touching its device.
- client side (`stop_workers`): the stop is set in the scheduler (a worker that joins later still sees it
  before a changing task) and on every worker in the same step of each worker's event loop that lists this
  run's tasks already started there. A host whose task had not started on any worker is cancelled: it can no
  longer reach its device. A started host finishes its exchange in flight and reports back; a changing one
  that does not report back is "outcome unknown" by name, never sent again and never counted done.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from . import limits

# a task's states on a worker once it may have touched its device (executing, or finished there)
STARTED_STATES = {"executing", "long-running", "memory", "error"}
ANSWER_WITHIN = 10.0  # seconds a worker has to confirm the stop before its tasks count as started


class _RunStops:
    """The stop events of the runs whose tasks run in this worker process; stopped run ids are kept (one
    short string per interrupted run) so a task of a stopped run that starts later sees the stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, tuple[threading.Event, int]] = {}  # run -> (event, tasks running)
        self._stopped: set[str] = set()

    @contextlib.contextmanager
    def running(self, run_id: str) -> Iterator[threading.Event]:
        with self._lock:
            event, n = self._events.get(run_id) or (threading.Event(), 0)
            if run_id in self._stopped:
                event.set()
            self._events[run_id] = (event, n + 1)
        try:
            yield event
        finally:
            with self._lock:
                event, n = self._events[run_id]
                if n > 1:
                    self._events[run_id] = (event, n - 1)
                else:
                    del self._events[run_id]

    def stop(self, run_id: str) -> None:
        with self._lock:
            self._stopped.add(run_id)
            if run_id in self._events:
                self._events[run_id][0].set()


RUNS = _RunStops()


def stop_on_worker(run_id: str, dask_worker: Any = None) -> list[str]:
    """Run by the client on every worker (`Client.run`, in the worker's event loop): stop run `run_id` here
    and return the keys of its tasks that had already started here. A task not listed starts (if ever) after
    the stop and leaves its device alone."""
    RUNS.stop(run_id)
    if dask_worker is None:
        return []
    return [
        str(key)
        for key, ts in dask_worker.state.tasks.items()
        if str(key).endswith(run_id) and ts.state in STARTED_STATES
    ]


def stop_workers(client: Any, run_id: str, answer_within: float = ANSWER_WITHIN) -> dict[str, str]:
    """Stop run `run_id` on the cluster; {task key: worker address} of its tasks that had started. A worker
    that does not answer within `answer_within` seconds (hung, or cut off) counts as having started every task
    the scheduler gave it. Raises OSError when the scheduler is gone (nothing more is known about the hosts)."""
    limits.stop_run(client, run_id)
    workers = [str(w) for w in client.scheduler_info(n_workers=-1).get("workers", {})]
    started: dict[str, str] = {}
    silent: list[str] = []
    answers: dict[str, Any] = {}
    lock = threading.Lock()

    def ask(w: str) -> None:
        with contextlib.suppress(Exception):  # no answer is an answer: see `silent`
            answer = client.run(stop_on_worker, run_id, workers=[w], on_error="return").get(w)
            with lock:
                answers[w] = answer

    # one call per worker, side by side, in daemon threads: a hung worker holds up neither the answers of the
    # others nor the end of the process
    calls = [threading.Thread(target=ask, args=(w,), daemon=True, name="iospki-stop") for w in workers]
    for t in calls:
        t.start()
    deadline = time.monotonic() + answer_within
    for t in calls:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        for w in workers:
            if isinstance(answers.get(w), list):
                started.update((key, w) for key in answers[w])
            else:
                silent.append(w)
    if silent:  # a worker that did not answer may have started any task the scheduler gave it
        for worker, keys in client.processing(workers=silent).items():
            started.update((str(key), str(worker)) for key in keys if str(key).endswith(run_id))
    return started
