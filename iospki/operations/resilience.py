"""Surviving faults: retry with back-off where that is safe, and concurrency limits.

Safe to retry: opening a connection and read-only commands (`show ...`). NOT safe: config pushes, enrollments,
rollovers — those go once; when the session drops half-way, the caller reports the host failed and the next
`deploy` finds what is missing from the running config.

    from iospki.operations.resilience import retry, ca_slot, transient

    out = retry(lambda: conn.send_command("show clock"), what="show clock on r1")
    with ca_slot("ca1"):          # at most M enrollments against CA server ca1 at a time
        send_enrollment()
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from iospki.operations import interrupt, settings

T = TypeVar("T")

ENV_CA_ENROLL_LIMIT = settings.CA_ENROLL_LIMIT.name  # M: enrollments against one CA server at a time
ENV_RETRIES = settings.RETRIES.name  # attempts of a safe operation (default 3)
DEFAULT_CA_ENROLL_LIMIT = 8
DEFAULT_ATTEMPTS = 3

# Exceptions (by class name, so netmiko/paramiko need not be imported here) that mean "the transport failed,
# the device may be fine": a timeout, a refused or reset connection, a session that dropped.
_TRANSIENT_NAMES = {
    "NetmikoTimeoutException",
    "ReadTimeout",
    "SSHException",
    "EOFError",
    "ConnectionResetError",
    "ConnectionRefusedError",
    "ConnectionAbortedError",
    "BrokenPipeError",
    "TimeoutError",
    "timeout",
    "ChannelException",
}
# Never worth a retry with the same input: wrong credentials, a rejected command.
_PERMANENT_NAMES = {"NetmikoAuthenticationException", "AuthenticationException", "TaskFailed"}


_EXHAUSTED = "_iospki_retries_exhausted"


def transient(exc: BaseException) -> bool:
    """True when `exc` is a transport failure that a retry of a SAFE operation may overcome.
    An exception that already went through `retry` (nested retries) is not retried again."""
    if getattr(exc, _EXHAUSTED, False) or isinstance(exc, interrupt.Interrupted):
        return False
    text = str(exc).lower()
    if "known_hosts" in text or "host key" in text:  # an unknown or changed host key never fixes itself
        return False
    for cls in type(exc).__mro__:
        if cls.__name__ in _PERMANENT_NAMES:
            return False
    for cls in type(exc).__mro__:
        if cls.__name__ in _TRANSIENT_NAMES:
            return True
    if isinstance(exc, (socket.timeout, ConnectionError)):
        return True
    if isinstance(exc, OSError):
        # paramiko/netmiko raise plain OSError("Socket is closed") when the peer dropped the session
        return "closed" in str(exc).lower() or "reset" in str(exc).lower()
    return False


@dataclass
class Backoff:
    """Exponential back-off with full jitter: attempt k waits uniform(0, min(cap, base * 2**k))."""

    base: float = 0.5
    cap: float = 8.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * (2**attempt)))


def attempts_from_env() -> int:
    """IOSPKI_RETRIES, or 3; a value it cannot take is a SettingError naming it (`settings`)."""
    n = settings.count(settings.RETRIES)
    return DEFAULT_ATTEMPTS if n is None else n


def retry(
    fn: Callable[[], T],
    *,
    attempts: int | None = None,
    backoff: Backoff | None = None,
    is_retryable: Callable[[BaseException], bool] = transient,
    before_retry: Callable[[BaseException, int], None] | None = None,
    sleep: Callable[[float], None] = interrupt.sleep,
) -> T:
    """Call `fn` until it succeeds, at most `attempts` times, waiting with back-off between tries.

    Only for operations that are safe to repeat. A non-retryable exception, or the last one, propagates
    unchanged (so the caller reports the real cause). `before_retry(exc, attempt)` runs before each new
    try, e.g. to drop a broken connection so the next try opens a fresh one.
    """
    n = attempts if attempts is not None else attempts_from_env()
    bo = backoff or Backoff()
    for attempt in range(n):
        try:
            return fn()
        except Exception as exc:
            if attempt == n - 1 or not is_retryable(exc):
                if attempt > 0:  # an outer retry() must not multiply the attempts
                    with contextlib.suppress(AttributeError):
                        setattr(exc, _EXHAUSTED, True)
                raise
            if before_retry is not None:
                before_retry(exc, attempt)
            sleep(bo.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


class KeyedLimiter:
    """At most `limit` holders per key at once (threads; Nornir's threaded runner). Records the peak."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self.active: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        with self._lock:
            sem = self._sems.setdefault(key, threading.BoundedSemaphore(self.limit))
        while not sem.acquire(timeout=0.2):  # a host queued for a slot stops on Ctrl-C too
            interrupt.check("waiting for an enrollment slot")
        try:
            with self._lock:
                self.active[key] = self.active.get(key, 0) + 1
                self.peak[key] = max(self.peak.get(key, 0), self.active[key])
            try:
                yield
            finally:
                with self._lock:
                    self.active[key] -= 1
        finally:
            sem.release()


def limit_from_env() -> int:
    """IOSPKI_CA_ENROLL_LIMIT, or 8; a value it cannot take is a SettingError naming it (`settings`)."""
    n = settings.count(settings.CA_ENROLL_LIMIT)
    return DEFAULT_CA_ENROLL_LIMIT if n is None else n


_CA_LIMITER: KeyedLimiter | None = None
_CA_LOCK = threading.Lock()


def ca_limiter() -> KeyedLimiter:
    """The process-wide limiter of enrollments per CA server (limit from IOSPKI_CA_ENROLL_LIMIT)."""
    global _CA_LIMITER
    with _CA_LOCK:
        if _CA_LIMITER is None or _CA_LIMITER.limit != limit_from_env():
            _CA_LIMITER = KeyedLimiter(limit_from_env())
        return _CA_LIMITER


# Set by a cluster worker (iospki.cluster) around the task it runs: the limit then holds across the cluster.
CA_SLOTS: ContextVar[Callable[[str], AbstractContextManager[None]] | None] = ContextVar(
    "iospki_ca_slots", default=None
)


@contextmanager
def ca_slot(ca_server: str) -> Iterator[None]:
    """Hold one of the M enrollment slots of `ca_server` (M = IOSPKI_CA_ENROLL_LIMIT, default 8)."""
    provider = CA_SLOTS.get()
    with provider(ca_server) if provider is not None else ca_limiter().slot(ca_server):
        yield
