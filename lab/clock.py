"""The lab clock and the device timer scheduler.

One clock is shared by every router of a lab: lab_now = base + (real elapsed x rate). `advance()` and a forward
`set()` run every timer due inside the jump in time order; while a timer's callback runs the clock reads exactly
that timer's time. Callbacks may be coroutines; each is awaited before the next timer fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

log = logging.getLogger("iospki.lab.clock")

TimerCallback = Callable[[], "Awaitable[Any] | Any"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """Parse '90d', '1d12h', '30m', '3600s' or a bare number of seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(text):
        if text[pos : m.start()].strip():
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
        pos = m.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"bad duration {text!r} (use e.g. 90d, 12h, 30m, 1d6h)")
    return timedelta(seconds=total)


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time; naive times are UTC."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"bad time {text!r} (use ISO 8601, e.g. 2027-01-01T00:00:00Z)") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


@dataclass(order=True)
class Timer:
    """A scheduled callback. Cancel it with `cancel()` (or `LabClock.cancel`)."""

    at: datetime
    seq: int
    name: str = field(compare=False)
    callback: TimerCallback = field(compare=False, repr=False)
    owner: Any = field(compare=False, default=None, repr=False)
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self.cancelled = True


class LabClock:
    """Shared lab time plus a scheduler of device timers."""

    def __init__(self, start: datetime | None = None, rate: float = 1.0) -> None:
        self._base_lab = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._base_real = time.monotonic()
        self._rate = float(rate)
        self._frozen: datetime | None = None  # set while a jump runs timers
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self.fired: int = 0
        self.errors: int = 0
        # Called with (timer, exception) when a callback raises; the lab logs it and goes on.
        self.on_error: Callable[[Timer, BaseException], None] | None = None

    # -- time -------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        elapsed = time.monotonic() - self._base_real
        return self._base_lab + timedelta(seconds=elapsed * self._rate)

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        now = self.now()
        self._base_lab, self._base_real, self._rate = now, time.monotonic(), float(rate)
        self._kick()

    def _set_now(self, t: datetime) -> None:
        self._base_lab, self._base_real = t, time.monotonic()

    async def set(self, t: datetime) -> int:
        """Set the lab time. Forward: runs the timers inside the jump (like advance). Returns timers fired."""
        t = t.astimezone(timezone.utc)
        if t <= self.now():
            self._set_now(t)
            self._kick()
            return 0
        return await self._jump_to(t)

    async def advance(self, delta: timedelta) -> int:
        if delta.total_seconds() < 0:
            raise ValueError("advance needs a positive duration")
        return await self._jump_to(self.now() + delta)

    async def _jump_to(self, target: datetime) -> int:
        assert self._lock is not None, "clock not started"
        fired = 0
        async with self._lock:
            self._frozen = self.now()
            try:
                while self._heap and self._heap[0].at <= target:
                    timer = heapq.heappop(self._heap)
                    if timer.cancelled:
                        continue
                    self._frozen = max(self._frozen, timer.at)
                    await self._fire(timer)
                    fired += 1
                self._frozen = None
                self._set_now(target)
            finally:
                if self._frozen is not None:  # a jump interrupted by cancellation keeps time monotonic
                    self._set_now(self._frozen)
                    self._frozen = None
        self._kick()
        return fired

    # -- scheduler ---------------------------------------------------------------------------------------
    def schedule(self, at: datetime, callback: TimerCallback, name: str, owner: Any = None) -> Timer:
        """Run `callback` when the lab clock reaches `at` (past times fire as soon as possible)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        timer = Timer(at.astimezone(timezone.utc), next(self._seq), name, callback, owner)
        heapq.heappush(self._heap, timer)
        self._kick()
        return timer

    def cancel(self, timer: Timer | None) -> None:
        if timer is not None:
            timer.cancel()

    def cancel_owner(self, owner: Any) -> int:
        n = 0
        for t in self._heap:
            if t.owner is owner and not t.cancelled:
                t.cancel()
                n += 1
        return n

    def shift_owner(self, owner: Any, delta: timedelta) -> int:
        """Move every pending timer of `owner` by `delta` (a device whose own clock was set); the handles stay
        valid. Timers moved into the past fire as soon as possible, in order."""
        n = 0
        for t in self._heap:
            if t.owner is owner and not t.cancelled:
                t.at += delta
                n += 1
        if n:
            heapq.heapify(self._heap)
            self._kick()
        return n

    def pending(self, owner: Any = None) -> list[Timer]:
        return sorted(t for t in self._heap if not t.cancelled and (owner is None or t.owner is owner))

    async def _fire(self, timer: Timer) -> None:
        try:
            result = timer.callback()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # one timer's failure never stops the lab
            self.errors += 1
            log.exception("timer %s failed", timer.name)
            if self.on_error is not None:
                self.on_error(timer, exc)
        finally:
            self.fired += 1

    def _kick(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def start(self) -> None:
        """Start the real-time runner (needs a running event loop)."""
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    async def _run(self) -> None:
        assert self._wakeup is not None and self._lock is not None
        while True:
            while self._heap and self._heap[0].cancelled:
                heapq.heappop(self._heap)
            delay: float | None = None
            if self._heap:
                due = (self._heap[0].at - self.now()).total_seconds()
                if due <= 0:
                    async with self._lock:
                        if self._heap and self._heap[0].at <= self.now():
                            timer = heapq.heappop(self._heap)
                            if not timer.cancelled:
                                self._frozen = max(self.now(), timer.at)
                                try:
                                    await self._fire(timer)
                                finally:
                                    self._frozen = None
                    continue
                delay = due / self._rate if self._rate > 0 else None
            self._wakeup.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=min(delay, 3600.0) if delay else None)
