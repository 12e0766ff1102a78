"""`send_command` as text: the one typed way tests and benches read a router's output through netmiko.

netmiko types `send_command` as `str | list | dict` because TextFSM, TTP or Genie may parse the
output; the tests never ask for that, so the output is the router's text. `send_text` checks it
(a parsed result would be a bug in the test) instead of hiding the union with `str()` or a cast.
"""

from __future__ import annotations

from typing import Any

from netmiko import BaseConnection


def send_text(conn: BaseConnection, command: str, *, timing: bool = False, **kwargs: Any) -> str:
    """`conn.send_command(command, **kwargs)` (`send_command_timing` with `timing=True`), asserted to be text."""
    send = conn.send_command_timing if timing else conn.send_command
    out = send(command, **kwargs)
    assert isinstance(out, str), f"{command!r}: netmiko returned {type(out).__name__}, not the router's text"
    return out
