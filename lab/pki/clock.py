"""The clock/scheduler the PKI engine needs, and a small simulated one for pure tests and benches.

The engine only uses `Scheduler`: in the lab it is an adapter over the lab core's clock; in unit
tests and `bench/bench_lab_pki.py` it is `SimScheduler`, which runs due callbacks in time order with
the clock reading exactly each callback's time (the same contract as the lab clock's `advance`).
"""

from __future__ import annotations

import heapq
import inspect
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

Callback = Callable[[], "Awaitable[None] | None"]


def utc(dt: datetime) -> datetime:
    """Naive or aware -> aware UTC, truncated to whole seconds (X.509 and IOS timers use seconds)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).replace(microsecond=0)


class Scheduler(Protocol):
    def now(self) -> datetime: ...

    def schedule(self, at: datetime, callback: Callback, name: str) -> Any: ...

    def cancel(self, handle: Any) -> None: ...

    def authoritative(self) -> bool: ...


@dataclass(order=True)
class _Entry:
    at: datetime
    seq: int
    name: str = field(compare=False)
    callback: Callback = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class SimScheduler:
    """Discrete-event scheduler: `await advance(delta)` runs every callback due, in order."""

    def __init__(self, start: datetime, authoritative: bool = True) -> None:
        self._now = utc(start)
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._authoritative = authoritative
        self.on_authoritative: list[Callable[[], Any]] = []
        self.fired: list[tuple[datetime, str]] = []

    def now(self) -> datetime:
        return self._now

    def authoritative(self) -> bool:
        return self._authoritative

    async def set_authoritative(self) -> None:
        if self._authoritative:
            return
        self._authoritative = True
        for hook in list(self.on_authoritative):
            res = hook()
            if inspect.isawaitable(res):
                await res

    def schedule(self, at: datetime, callback: Callback, name: str) -> _Entry:
        entry = _Entry(max(utc(at), self._now), next(self._seq), name, callback)
        heapq.heappush(self._heap, entry)
        return entry

    def cancel(self, handle: Any) -> None:
        if isinstance(handle, _Entry):
            handle.cancelled = True

    def pending(self) -> list[tuple[datetime, str]]:
        return sorted((e.at, e.name) for e in self._heap if not e.cancelled)

    async def advance(self, delta: timedelta) -> None:
        await self.run_until(self._now + delta)

    async def run_until(self, until: datetime) -> None:
        until = utc(until)
        while self._heap and self._heap[0].at <= until:
            entry = heapq.heappop(self._heap)
            if entry.cancelled:
                continue
            self._now = entry.at
            self.fired.append((entry.at, entry.name))
            res = entry.callback()
            if inspect.isawaitable(res):
                await res
        self._now = max(self._now, until)
