"""Task: push config lines that the running config lacks, then verify by reading it back."""

from __future__ import annotations

from netmiko.exceptions import ConfigInvalidException
from nornir.core.task import Result, Task

from iospki.operations import interrupt
from iospki.operations.configdiff import missing_lines

from .connection import CONFIG_ERROR, TaskFailed, cli, show


def push_config(task: Task, lines: list[str], dry_run: bool = False) -> Result:
    """Push the part of `lines` (indented children under parents) that is not configured yet.

    Idempotent: nothing is sent when everything is present. `dry_run` only reports the diff. After a push
    the running config is read back and every line must be there, otherwise the task fails naming them.
    Result: the list of lines that were (or would be) pushed; `changed` when not empty.
    """
    running = show(task, "show running-config", read_timeout=60)
    todo = missing_lines(running, lines)
    if not todo or dry_run:
        return Result(
            host=task.host,
            result=todo,
            changed=bool(todo) and not dry_run,
            diff="\n".join("+" + x for x in todo),
        )
    conn = cli(task)
    try:
        with interrupt.config_exchange(
            task.host.name, f"config push ({len(todo)} line{'s' * (len(todo) != 1)})"
        ):
            conn.send_config_set(todo, error_pattern=CONFIG_ERROR, read_timeout=60)
    except ConfigInvalidException as exc:
        # the device rejected a line: leave config mode and say which
        conn.exit_config_mode()
        raise TaskFailed(
            f"{task.host.name}: the device rejected the config: {_first_error(str(exc))}"
        ) from None
    after = show(task, "show running-config", read_timeout=60)
    still = missing_lines(after, lines)
    if still:
        raise TaskFailed(f"{task.host.name}: pushed, but the running config lacks: {still}")
    return Result(host=task.host, result=todo, changed=True, diff="\n".join("+" + x for x in todo))


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("%"):
            before = [x for x in lines[max(0, i - 2) : i] if "^" not in x]
            return f"{before[-1] if before else ''} -> {ln}".strip(" ->")
    return lines[-1] if lines else text
