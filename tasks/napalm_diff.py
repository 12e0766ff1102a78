"""Task: NAPALM's own diff of intended config lines (merge candidate + `compare_config`), changing nothing."""

from __future__ import annotations

import contextlib

from nornir.core.task import Result, Task

from .connection import TaskFailed


def napalm_compare(task: Task, lines: list[str]) -> Result:
    """Load `lines` as a NAPALM merge candidate, return `compare_config()` and discard the candidate.

    This is the device's view (IOS `show archive config incremental-diffs`): unlike `push_config`'s parent-aware
    diff it does not know IOS defaults that `show running-config` omits, so such lines may show as `+` here
    although a push would not change them. Nothing is committed; the candidate is always discarded.
    """
    device = task.host.get_connection("napalm", task.nornir.config)
    try:
        device.load_merge_candidate(config="\n".join(lines) + "\n")
        diff = str(device.compare_config() or "")
    except Exception as exc:  # napalm raises many types (MergeConfigException, ...); name the cause
        raise TaskFailed(
            f"{task.host.name}: NAPALM compare_config failed: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        with contextlib.suppress(Exception):  # nothing loaded, or the session is gone: nothing to discard
            device.discard_config()
    return Result(host=task.host, result=diff, changed=False, diff=diff)
