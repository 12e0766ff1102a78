"""`send_command` as text: the one typed way tests and benches read a router's output through netmiko.

netmiko types `send_command` as `str | list | dict` because TextFSM, TTP or Genie may parse the
output; the tests never ask for that, so the output is the router's text. `send_text` checks it
(a parsed result would be a bug in the test) instead of hiding the union with `str()` or a cast.
"""

from __future__ import annotations

import re
import time
from typing import Any

from netmiko import BaseConnection


def send_text(conn: BaseConnection, command: str, *, timing: bool = False, **kwargs: Any) -> str:
    """`conn.send_command(command, **kwargs)` (`send_command_timing` with `timing=True`), asserted to be text."""
    send = conn.send_command_timing if timing else conn.send_command
    out = send(command, **kwargs)
    assert isinstance(out, str), f"{command!r}: netmiko returned {type(out).__name__}, not the router's text"
    return out


# A question the router waits on: `Destination filename [x]? `, `Proceed with reload? [confirm]`.
QUESTION = r"(\?|\[confirm\])\s*$"


def send_answering(conn: BaseConnection, command: str, *, read_timeout: float = 60) -> str:
    """`command`, each question it asks answered with Return (the default), until the prompt is back.

    Reads up to the prompt or the question by pattern: `send_command_timing` would also get there, but only
    after 2 s of silence on every exchange, which is most of the time of a test that copies files or reloads."""
    done = rf"{QUESTION}|[>#]\s*$"
    out = send_text(conn, command, expect_string=done, strip_prompt=False, read_timeout=read_timeout)
    for _ in range(3):
        if not re.search(QUESTION, out):
            break
        out = send_text(
            conn, "", expect_string=done, strip_prompt=False, cmd_verify=False, read_timeout=read_timeout
        )
    return out


def reload_router(conn: BaseConnection, *, timeout: float = 30) -> None:
    """`reload`, confirmed with Return when the router asks `[confirm]`; returns once the router has closed the
    session (the reload began) or after `timeout`. The caller checks the reload happened (`%SYS-5-RESTART`)."""
    out = send_text(conn, "reload", expect_string=r"\[confirm\]|\[yes/no\]:?\s*$", strip_prompt=False)
    if "[confirm]" not in out:
        return
    conn.write_channel(conn.RETURN)
    deadline = time.monotonic() + timeout
    channel = conn.remote_conn
    while time.monotonic() < deadline and not getattr(channel, "closed", True):
        time.sleep(0.05)
