"""One writer per collection: an exclusive flock on `<collection>/.lock` for as long as a collect runs.

Two `collect` runs into one directory would interleave their files (one host's outputs from two moments, a
meta.json that describes neither). The second run fails at once, naming the directory and the first run's pid.
The lock belongs to this process and is re-entrant in it (the CLI takes it before it writes meta.json, and
`collect_into` takes it again); the kernel drops it when the process ends, however it ends. The file stays
(removing it could let two later runs lock two different files).

Holding the lock also means no live writer has a temporary file in the collection: on its first take in this
process the lock removes the ones a killed writer left (`store.remove_stale_temp`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from iospki.state import store

LOCK_FILE = ".lock"

_guard = threading.Lock()
_held: dict[str, tuple[int, int]] = {}  # resolved collection -> (file descriptor, depth)


class CollectionBusy(Exception):
    """Another process is writing the collection."""


@contextlib.contextmanager
def collection_lock(root: Path | str) -> Iterator[None]:
    """Hold the collection `root` (an existing directory) for this process; raises CollectionBusy."""
    key = str(Path(root).resolve())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
        else:
            _held[key] = (_take(Path(key)), 1)
            store.remove_stale_temp(key)  # a killed writer's leftovers: no other writer holds the collection
    try:
        yield
    finally:
        with _guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                os.close(fd)


def _take(root: Path) -> int:
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = 0
        with contextlib.suppress(OSError, ValueError):
            pid = int(os.pread(fd, 32, 0).decode().strip() or 0)
        os.close(fd)
        who = f"another iospki process (pid {pid})" if pid else "another iospki process"
        raise CollectionBusy(
            f"collection {root} is being written by {who}; wait for it or use another --output"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
