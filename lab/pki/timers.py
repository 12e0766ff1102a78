"""PKI timers of one device: named, shown by `show crypto pki timers`, deferred while the clock is
not authoritative (rules.md C1: a timer due in that time fires as soon as the clock becomes
authoritative)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import Scheduler, utc

NON_AUTH_IOS = (
    "%PKI-2-NON_AUTHORITATIVE_CLOCK: PKI functions can not be initialized until an authoritative "
    "time source, like NTP, can be obtained."
)
NON_AUTH_XE = (
    "%PKI-2-NON_AUTHORITATIVE_CLOCK: PKI timers have not been initialized due to non-authoritative "
    "system clock. Ensure system clock is configured/updated."
)

TimerCallback = Callable[[], "Awaitable[None] | None"]


@dataclass
class Timer:
    name: str  # as IOS prints it: "RENEW tp", "CS CRL UPDATE", "ER EXPIRE 3"
    section: str  # "PKI Timers" | "CS Timers"
    at: datetime
    callback: TimerCallback
    handle: Any = None


class PkiTimers:
    def __init__(self, sched: Scheduler, syslog: Callable[[str], None], family: str = "iosxe") -> None:
        self.sched = sched
        self.syslog = syslog
        self.family = family
        self.timers: dict[str, Timer] = {}
        self.deferred: list[Timer] = []
        self._warned = False
        self.errors: list[str] = []

    def arm(self, name: str, at: datetime, callback: TimerCallback, section: str = "PKI Timers") -> Timer:
        self.cancel(name)
        t = Timer(name, section, utc(at), callback)
        t.handle = self.sched.schedule(t.at, lambda: self._fire(t), name)
        self.timers[name] = t
        return t

    def cancel(self, name: str) -> None:
        t = self.timers.pop(name, None)
        if t is not None:
            self.sched.cancel(t.handle)
        self.deferred = [d for d in self.deferred if d.name != name]

    def cancel_all(self, prefix: str = "") -> None:
        for name in [n for n in self.timers if n.startswith(prefix)]:
            self.cancel(name)

    def at(self, name: str) -> datetime | None:
        t = self.timers.get(name)
        return t.at if t else None

    async def _fire(self, t: Timer) -> None:
        if self.timers.get(t.name) is not t:
            return
        if not self.sched.authoritative():
            # C1: keep it (shown as overdue) and run it when the clock becomes authoritative.
            if not self._warned:
                self.syslog(NON_AUTH_IOS if self.family == "ios" else NON_AUTH_XE)
                self._warned = True
            self.deferred.append(t)
            return
        del self.timers[t.name]
        await self._run(t)

    async def _run(self, t: Timer) -> None:
        try:
            res = t.callback()
            if inspect.isawaitable(res):
                await res
        except Exception as exc:  # one broken timer must not stop the device's other timers
            self.errors.append(f"{t.name}: {exc!r}")
            self.syslog(f"%PKI-3-TIMER_ERROR: {t.name}: {type(exc).__name__}")

    async def clock_became_authoritative(self) -> None:
        self._warned = False
        due = sorted(self.deferred, key=lambda d: d.at)
        self.deferred = []
        for t in due:
            if self.timers.get(t.name) is t:
                del self.timers[t.name]
                await self._run(t)
