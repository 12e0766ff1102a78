"""Benchmarks stopped by SIGTERM (`timeout`, the end of a CI job) or Ctrl-C unwind like an exception, so their
`finally` blocks remove what they generated (collections of up to 3 GiB on /dev/shm) and stop the processes
they started; the caller turns the KeyboardInterrupt into exit 130 and one line."""

from __future__ import annotations

import signal
from types import FrameType


def unwind_on_stop_signals() -> None:
    """SIGTERM raises KeyboardInterrupt; SIGINT does too even when the bench was started with it ignored (`&`)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
