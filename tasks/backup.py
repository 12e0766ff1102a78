"""Task: back up the running config (redacted) before any change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from nornir.core.task import Result, Task

from iospki.state.store import StoreError, atomic_write_text, host_dir, redact

from .connection import TaskFailed, show


def backup_config(task: Task, backup_dir: str | Path, secrets: Iterable[str] = ()) -> Result:
    """Save `show running-config` as `<backup_dir>/<host>/running-config-<UTC time>.txt`
    (refused, TaskFailed naming the host, when the host name is no safe folder name or its
    folder is a symbolic link).

    Secret values (passwords, keys) are redacted: a backup on a jump host must not become a credential store.
    """
    text = show(task, "show running-config", read_timeout=60)
    if "hostname" not in text and "version" not in text:
        raise TaskFailed(f"{task.host.name}: show running-config returned no configuration")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    try:
        # the host name is a path component: resolved inside backup_dir, never through a symlink
        folder = host_dir(Path(backup_dir), task.host.name, create=True)
    except StoreError as exc:
        raise TaskFailed(f"backup refused: {exc}") from None
    path = folder / f"running-config-{stamp}.txt"
    atomic_write_text(path, redact(text, secrets))
    return Result(host=task.host, result=str(path))
