"""One lab per state directory: an exclusive flock on `<state>/lab.lock`, held by the lab process for its life.

`up` takes the lock before it starts anything and hands it to the `serve` process it starts (the inherited file
descriptor, named in IOSPKI_LAB_LOCK_FD): no moment exists in which a second `up` on the same directory could
slip in, and the kernel drops the lock when the lab process ends however it ends (no stale lock file to clear).
The file holds the pid of the lab process, for the message the second `up` prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "lab.lock"
FD_ENV = "IOSPKI_LAB_LOCK_FD"  # set by `up` for the `serve` process: the lock it already holds


class StateBusy(Exception):
    """Another lab holds the state directory."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        who = f"the lab running as pid {pid}" if pid else "another lab"
        super().__init__(
            f"state directory {state_dir} is in use by {who}: run `down --state {state_dir}` first, "
            "or use another --state"
        )
        self.pid = pid


def acquire(state_dir: Path) -> int:
    """Lock `state_dir` (exclusive, non-blocking); returns the lock's file descriptor. Raises StateBusy."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _pid_in(fd)
        os.close(fd)
        raise StateBusy(state_dir, pid) from None
    return fd


def record_pid(fd: int, pid: int) -> None:
    """Write the lab process's pid into the held lock file."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


def inherited() -> int | None:
    """The lock `up` handed over to this `serve` process, if any."""
    raw = os.environ.pop(FD_ENV, "")
    if not raw.isdigit():
        return None
    fd = int(raw)
    try:  # proves the descriptor is the held lock (LOCK_NB on a lock we share succeeds at once)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return None
    return fd


def _pid_in(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    return None
