"""Shared helpers of the tasks: an enabled netmiko session and the expect-driven dialog runner."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from netmiko import BaseConnection
from nornir.core.task import Task

from iospki.operations import interrupt
from iospki.operations.resilience import retry

T = TypeVar("T")

CONFIG_ERROR = r"% ?Invalid input|% ?Incomplete command|% ?Ambiguous command|%\s?Error|% ?Unknown command"


class TaskFailed(RuntimeError):
    """The device did not reach the intended state; the message says why (never holds a secret)."""


def _session(task: Task) -> BaseConnection:
    # checked here too (not only when the command opens the inventory): a host whose key cannot be
    # checked is never connected to, so no password or enable secret can reach an impostor
    refused = task.host.data.get("_host_key_error") or task.host.data.get("_credential_error")
    if refused:
        raise TaskFailed(str(refused))
    conn: BaseConnection = task.host.get_connection("netmiko", task.nornir.config)
    return conn


def _open(task: Task) -> BaseConnection:
    conn = _session(task)
    if not conn.check_enable_mode():
        conn.enable()
    return conn


def drop_connection(task: Task) -> None:
    """Forget a broken session so the next `cli()` opens a fresh one."""
    if "netmiko" in task.host.connections:
        try:
            task.host.close_connection("netmiko")
        except Exception:
            task.host.connections.pop("netmiko", None)


def cli(task: Task) -> BaseConnection:
    """The host's netmiko session, in privileged mode. Connecting is retried with back-off (safe).

    Every device exchange starts here or in `show`, so this is where a Ctrl-C stops a host (before its next
    exchange)."""
    interrupt.check("the next device exchange")
    return retry(lambda: _open(task), before_retry=lambda exc, n: drop_connection(task))


def show(task: Task, command: str, read_timeout: float = 30.0) -> str:
    """A read-only command: retried with back-off on a timeout or a dropped session (safe to repeat)."""
    out = retry(lambda: _show_once(task, command, read_timeout), before_retry=lambda exc, n: drop_connection(task))
    return str(out)


def _show_once(task: Task, command: str, read_timeout: float) -> str:
    interrupt.check("the next device exchange")
    conn = retry(lambda: _session(task), before_retry=lambda exc, n: drop_connection(task))
    # netmiko's send_command reads the prompt before every command to know where the output ends; reading it
    # here instead also says the mode the session is in, so privileged mode costs no exchange of its own per
    # command (it used to: check_enable_mode before each) and is still checked before every one
    prompt = _privileged_prompt(conn)
    return str(conn.send_command(command, expect_string=prompt, read_timeout=read_timeout))


def _privileged_prompt(conn: BaseConnection) -> str:
    """Regex of the session's current prompt, after entering privileged exec from user exec (`r1>`, e.g. a
    fresh login, or after a `disable`) or leaving configuration mode (`r1(config)#`): show commands need it."""
    try:
        prompt = conn.find_prompt()
    except ValueError:  # no prompt came back: netmiko's own fallback, the read then times out or fails
        return re.escape(conn.base_prompt)
    if prompt.endswith(">"):
        conn.enable()
        prompt = conn.find_prompt()
    elif prompt.endswith(")#"):
        conn.exit_config_mode()
        prompt = conn.find_prompt()
    return re.escape(prompt.strip())


@dataclass(frozen=True)
class Answer:
    """When `pattern` ends the output so far, send `reply` (`secret` hides it from transcripts)."""

    pattern: str
    reply: str
    secret: bool = False


def dialog(
    conn: BaseConnection,
    command: str,
    answers: Sequence[Answer],
    done: str,
    read_timeout: float = 60.0,
    max_steps: int = 20,
) -> str:
    """Send `command` and answer the device's questions until `done` (a regex, e.g. the prompt) appears.

    Each read waits for a pattern (expect-style, never blind timing). Returns the transcript, in which
    secret replies never appear (IOS does not echo passwords; we do not record them either).
    """
    conn.find_prompt()  # consume anything pending so an old prompt cannot end the dialog
    patterns = [a.pattern for a in answers] + [done]
    combined = "(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"
    conn.write_channel(command + conn.RETURN)
    # everything up to the echo of our command is stale (a late prompt would end the dialog too early)
    transcript = conn.read_until_pattern(pattern=re.escape(command), read_timeout=read_timeout)
    for _ in range(max_steps):
        chunk = conn.read_until_pattern(pattern=combined, read_timeout=read_timeout)
        transcript += chunk
        if re.search(f"(?:{done})\\s*$", chunk):
            return transcript
        for a in answers:
            if re.search(f"(?:{a.pattern})\\s*$", chunk):
                conn.write_channel(a.reply + conn.RETURN)
                transcript += "" if a.secret else a.reply
                transcript += "\n"
                break
        else:  # a done-pattern match not at the end: keep reading
            continue
    raise TaskFailed(f"dialog for {command!r} did not finish after {max_steps} questions")


def prompt_re(conn: BaseConnection, mode: str | None = None) -> str:
    """Regex of the prompt in `mode` (None = exec `#`, 'config', 'cs-server', 'ca-trustpoint')."""
    base = re.escape(conn.base_prompt)
    return base + (rf"\({re.escape(mode)}\)#" if mode else r"#")


def wait_until(check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T | None:
    """Poll device state (`check` returns a truthy value when done) until `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        interrupt.sleep(interval)
