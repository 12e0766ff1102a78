"""Limits and markers that must hold across the whole cluster, kept in the Dask scheduler.

- Enrollments per CA server: a `distributed.Semaphore` named after the CA server, `IOSPKI_CA_ENROLL_LIMIT`
  leases (taken from the client, so one run has one limit; runs with different limits at the same time
  each keep their own). `iospki.operations.resilience.ca_slot` uses it
  while a worker runs a task (the tasks themselves do not change). A lease of a worker that dies expires
  (distributed's lease timeout), so a dead worker cannot block a CA for good.
- "Started" markers of changing tasks: before a config push / enrollment / rollover touches a device, the
  worker records in the scheduler that this run started it on this host. Dask reschedules the tasks of a
  worker that died; a rescheduled changing task finds its marker and reports "outcome unknown" instead of
  sending the change a second time.
- The stop of an interrupted run (Ctrl-C on the client, `iospki.cluster.stopping`): a flag next to the run's
  markers, read before a changing task starts, so a worker that joined after the stop does not start one.
- The host cap per worker (`num_workers` / IOSPKI_MAX_HOSTS): a semaphore in the worker process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from iospki.operations import interrupt

SEMAPHORE_PREFIX = "iospki-ca-enroll-"
MARKER_ROOT = "iospki-started"
STOP_MARK = ".stopped"  # next to the hosts' markers: no host name starts with a dot


def ca_semaphore_name(ca_server: str, limit: int) -> str:
    # The scheduler fixes a semaphore's size when it is first made; the limit in the name lets a later run
    # choose another one (two runs at once with different limits each keep their own).
    return f"{SEMAPHORE_PREFIX}{ca_server}-{limit}"


def dask_ca_slots(limit: int) -> Callable[[str], AbstractContextManager[None]]:
    """A `ca_slot` provider: at most `limit` holders of CA server X across every worker of the cluster."""
    from distributed import Semaphore

    sems: dict[str, Any] = {}
    lock = threading.Lock()

    @contextmanager
    def slot(ca_server: str) -> Iterator[None]:
        with lock:
            sem = sems.get(ca_server)
            if sem is None:
                sem = sems[ca_server] = Semaphore(max_leases=limit, name=ca_semaphore_name(ca_server, limit))
        while not sem.acquire(timeout=0.5):  # a host queued for a slot stops on Ctrl-C too
            interrupt.check("waiting for an enrollment slot")
        try:
            yield
        finally:
            sem.release()

    return slot


def mark_started(run_id: str, host: str, worker: str) -> str | None:
    """Record that `host`'s changing task of run `run_id` starts now; returns the worker that had ALREADY
    started it (a rescheduled task after that worker died), or None when this is the first start."""
    from distributed import get_client

    client = get_client()
    if client.get_metadata([MARKER_ROOT, run_id, STOP_MARK], default=None):
        raise interrupt.Interrupted("it started")  # the client stopped the run (Ctrl-C)
    key = [MARKER_ROOT, run_id, host]
    earlier = client.get_metadata(key, default=None)
    if earlier is not None:
        return str(earlier)
    client.set_metadata(key, worker)
    return None


def started_on(client: Any, run_id: str, host: str) -> str | None:
    """The worker that started `host`'s changing task of `run_id`, seen from the client (None: not started)."""
    value = client.get_metadata([MARKER_ROOT, run_id, host], default=None)
    return None if value is None else str(value)


def stop_run(client: Any, run_id: str) -> None:
    """Mark run `run_id` stopped in the scheduler: no changing task of it starts any more."""
    client.set_metadata([MARKER_ROOT, run_id, STOP_MARK], True)


def forget_run(client: Any, run_id: str) -> None:
    """Drop a finished run's markers (and its stop) from the scheduler."""
    client.set_metadata([MARKER_ROOT, run_id], {})


_HOST_CAPS: dict[int, threading.BoundedSemaphore] = {}
_HOST_CAPS_LOCK = threading.Lock()


def host_cap(limit: int) -> threading.BoundedSemaphore:
    """The worker process's semaphore of at most `limit` hosts at once (one per distinct limit)."""
    with _HOST_CAPS_LOCK:
        sem = _HOST_CAPS.get(limit)
        if sem is None:
            sem = _HOST_CAPS[limit] = threading.BoundedSemaphore(limit)
        return sem
