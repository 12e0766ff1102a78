"""Ctrl-C as a cooperative stop: the device exchange in flight finishes, nothing new starts.

Nornir's threaded runner waits for every thread before it returns, and a thread cannot be cancelled
half-way through a config push without leaving the router in an unknown state. So the first SIGINT only
sets `STOP`; every task checks it before its next device exchange (`iospki.tasks.connection.cli`), the
sleeps between polls and retries wake up on it, and hosts that had not started yet fail at once with
`Interrupted`. The operation then reports per host what it changed, and the command exits 130.

A second Ctrl-C quits at once: the hosts whose config exchange was still in flight are named
"outcome unknown" (their config may be half-applied), then the process exits 130.

    install()                   # once, in the console command's main()
    with cooperative():         # around an operation: Ctrl-C sets STOP instead of raising
        ...
    check()                     # in a task, before talking to the device: raises Interrupted

On a Dask cluster worker (`iospki.cluster`) the operator's Ctrl-C reaches the client, not the worker, and one
worker serves several runs: there a task runs inside `scope(event)`, the stop of its own run, which the
client sets; `check`, `sleep` and `stopped` of that thread follow it as they follow `STOP`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from types import FrameType

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C

STOP = threading.Event()
_lock = threading.Lock()
_depth = 0  # > 0 while an operation stops cooperatively
_on_stop: list[Callable[[], None]] = []
_in_flight: dict[str, str] = {}  # host -> the config exchange it is in (what a hard quit leaves unknown)
_sent: dict[str, list[str]] = {}  # host -> the config exchanges it went through in this process
_SCOPE: ContextVar[threading.Event | None] = ContextVar("iospki_stop_scope", default=None)  # a cluster run's stop


class Interrupted(Exception):
    """The operator pressed Ctrl-C: this host stopped before its next device exchange."""

    def __init__(self, what: str = "") -> None:
        super().__init__(f"interrupted (Ctrl-C){' before ' + what if what else ''}")


def stopped() -> bool:
    run = _SCOPE.get()
    return STOP.is_set() or (run is not None and run.is_set())


def check(what: str = "") -> None:
    """Raise `Interrupted` when Ctrl-C was pressed (call before a device exchange)."""
    if stopped():
        raise Interrupted(what)


def sleep(seconds: float) -> None:
    """`time.sleep` that wakes up on Ctrl-C and raises `Interrupted` (polls, back-off between retries)."""
    if (_SCOPE.get() or STOP).wait(max(0.0, seconds)) or stopped():
        raise Interrupted()


@contextlib.contextmanager
def scope(event: threading.Event) -> Iterator[None]:
    """This thread's work also stops when `event` is set (a cluster worker: the stop of the run it serves)."""
    token = _SCOPE.set(event)
    try:
        yield
    finally:
        _SCOPE.reset(token)


@contextlib.contextmanager
def config_exchange(host: str, what: str) -> Iterator[None]:
    """Mark `host` as changing its config (`what`) until the exchange ends: a hard quit names it, and
    `changes(host)` lists it afterwards (an interrupted host's report says what reached the device)."""
    with _lock:
        _in_flight[host] = what
    done = f"{what} (failed part-way)"
    try:
        yield
        done = what
    finally:
        with _lock:
            _in_flight.pop(host, None)
            _sent.setdefault(host, []).append(done)


def changes(host: str) -> list[str]:
    """The config exchanges `host` went through in this process, in order."""
    with _lock:
        return list(_sent.get(host, []))


def take_changes(host: str) -> list[str]:
    """`changes(host)`, forgotten here (a cluster worker hands them to the client after each host)."""
    with _lock:
        return _sent.pop(host, [])


def add_changes(host: str, sent: Iterable[str]) -> None:
    """Config exchanges that reached `host` from elsewhere (a cluster worker), counted as this run's."""
    with _lock:
        _sent.setdefault(host, []).extend(sent)


def remote_exchange(host: str, what: str | None) -> None:
    """`host` is in a config exchange on another process (a cluster worker) -- `what` -- or no longer (None):
    a hard quit names it as `config_exchange` does."""
    with _lock:
        if what is None:
            _in_flight.pop(host, None)
        else:
            _in_flight[host] = what


@contextlib.contextmanager
def cooperative(on_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """While inside, Ctrl-C sets `STOP` (and calls `on_stop`, e.g. to pass the signal on to a child process)
    instead of raising KeyboardInterrupt in the middle of the operation."""
    global _depth
    with _lock:
        _depth += 1
        if on_stop is not None:
            _on_stop.append(on_stop)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if on_stop is not None:
                _on_stop.remove(on_stop)


def _handler(signum: int, frame: FrameType | None) -> None:
    with _lock:
        depth, callbacks, flight = _depth, list(_on_stop), dict(_in_flight)
    if STOP.is_set() and depth:
        for host, what in sorted(flight.items()):
            _say(f"{host}: outcome unknown: quit during {what} (check its running config)")
        _say("quit (second Ctrl-C)")
        os._exit(EXIT_INTERRUPTED)  # threads cannot be cancelled; the report above is what we know
    STOP.set()
    if not depth:  # plain local work (parsing, reports): stop right here
        raise KeyboardInterrupt
    _say(
        "interrupted: finishing the device exchanges in flight, starting nothing new (Ctrl-C again to quit now)"
    )
    for cb in callbacks:
        with contextlib.suppress(Exception):
            cb()


def _say(text: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def install() -> None:
    """Route SIGINT through the cooperative stop (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
