"""Bad input never kills a session or the lab: random IOS-ish and garbage lines through the real CLI session
and config engine of one in-process router (no SSH, same code path after the socket)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lab_fixture import write_inventory

from iospki.lab.device import Device
from iospki.lab.inventory import load_inventory
from iospki.lab.lab import Lab
from iospki.lab.shell import CliSession

WORDS = [
    "show",
    "sh",
    "run",
    "running-config",
    "startup-config",
    "version",
    "clock",
    "detail",
    "conf",
    "t",
    "configure",
    "terminal",
    "length",
    "width",
    "0",
    "511",
    "interface",
    "Loopback1",
    "ip",
    "address",
    "10.0.0.1",
    "255.255.255.0",
    "no",
    "do",
    "exit",
    "end",
    "quit",
    "crypto",
    "pki",
    "trustpoint",
    "server",
    "TP",
    "CA",
    "enrollment",
    "url",
    "http://127.0.0.1",
    "|",
    "include",
    "exclude",
    "section",
    "begin",
    "count",
    "dir",
    "flash:",
    "nvram:",
    "flash:/x.cfg",
    "nvram:startup-config",
    "copy",
    "verify",
    "/md5",
    "more",
    "delete",
    "write",
    "memory",
    "hostname",
    "R-9",
    "timezone",
    "CET",
    "1",
    "-5",
    "ntp",
    "calendar-valid",
    "http",
    "port",
    "99999",
    "enable",
    "secret",
    "username",
    "u",
    "privilege",
    "15",
    "archive",
    "path",
    "replace",
    "force",
    "logging",
    "buffered",
    "file",
    "prompt",
    "quiet",
    "[",
    "((",
    "*",
    "\\",
    "%",
    "^",
    "\x1a",
    "yes",
    "",
]
line = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40),
)


class Collect:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, data: str) -> None:
        self.parts.append(data)


async def _run_lines(base: Path, lines: list[str]) -> tuple[str, str]:
    specs = load_inventory(base / "inv")
    lab = Lab(specs, base / "state", plugins=())
    lab.clock.start()
    dev = Device(lab, specs[0])
    lab.devices[dev.name] = dev
    await dev.boot()
    out = Collect()
    session = CliSession(dev, out, "fuzz", "127.0.0.1", 15)
    session.feed("".join(x + "\n" for x in lines))
    session.eof()
    await asyncio.wait_for(session.run(), 20)
    # the router still answers a fresh session
    out2 = Collect()
    s2 = CliSession(dev, out2, "fuzz", "127.0.0.1", 15)
    s2.feed("end\nshow version\nshow running-config\n")
    s2.eof()
    await asyncio.wait_for(s2.run(), 20)
    await lab.stop()
    return "".join(out.parts), "".join(out2.parts)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(line, min_size=1, max_size=25))
def test_random_lines_never_crash(tmp_path_factory, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("fuzz")
    write_inventory(base / "inv", [("f1", "csr1k")])
    first, second = asyncio.run(_run_lines(base, lines))
    assert "% Internal error" not in first, first
    assert "uptime is" in second and "Building configuration..." in second
