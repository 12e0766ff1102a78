"""Bad input never kills a session or the lab: random IOS-ish and garbage lines through the real CLI session
and config engine of one in-process router (no SSH, same code path after the socket)."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netmiko import ConnectHandler

from iospki.lab.device import Device
from iospki.lab.inventory import load_inventory
from iospki.lab.lab import Lab
from iospki.lab.shell import CliSession
from tests.lab_fixture import LabHandle, LabHost, MakeLab, write_inventory
from tests.netmiko_text import send_text

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
    "192.0.2.1",
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
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=40),
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


# ---------------------------------------------------------------------------------------------------------
# Hostile clients over real SSH: the session survives, or ends cleanly, and the lab always goes on.
def _client(h: LabHost) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False, timeout=30
    )
    return client


def _transport(client: paramiko.SSHClient) -> paramiko.Transport:
    transport = client.get_transport()
    assert transport is not None, "the SSH client is not connected"
    return transport


def _read_until(chan: paramiko.Channel, pattern: str, timeout: float = 20.0) -> str:
    buf = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if chan.recv_ready():
            buf += chan.recv(65536).decode("utf-8", "replace")
            if re.search(pattern, buf):
                return buf
        elif chan.closed or chan.exit_status_ready():
            break
        else:
            time.sleep(0.01)
    raise AssertionError(f"{pattern!r} not seen; got {buf[-500:]!r}")


def _sessions(lab: LabHandle, host: str) -> int:
    deadline = time.monotonic() + 10
    n = -1
    while time.monotonic() < deadline:
        n = next(x["sessions"] for x in lab.status()["hosts"] if x["name"] == host)
        if n == 0:
            break
        time.sleep(0.05)
    return int(n)


@pytest.fixture(scope="module")
def hostile(make_lab_module: MakeLab) -> LabHandle:
    return make_lab_module(hosts=[("z1", "csr1k"), ("z2", "isr_g1")], plugins="")


@pytest.mark.lab
def test_long_lines_control_characters_and_unicode(hostile: LabHandle) -> None:
    h = hostile.hosts["z1"]
    client = _client(h)
    try:
        chan = client.invoke_shell(width=512)
        _read_until(chan, r"z1#$")  # the lab user has privilege 15
        # a 200,000-character line: refused with IOS's error, the session goes on
        chan.sendall(b"show " + b"x" * 200_000 + b"\r")
        out = _read_until(chan, r"% Invalid input detected at '\^' marker\.\s+z1#$", 60)
        assert len(out) < 20_000  # the echo is bounded too (the line buffer keeps 4096 characters)
        # control characters (bell, escape sequences, NUL, DEL) and unicode
        chan.send("\x07\x1b[A\x00\x01sh\x7f\x7fshow clock ☃ ünïcødé 😀\r".encode())
        _read_until(chan, r"% Invalid input detected at '\^' marker\.\s+z1#$")
        chan.send("show running-config | include ☃\r".encode())
        _read_until(chan, r"z1#$")
        chan.send(b"\x01\x02\x1b\x1b\x03\rshow version | include uptime\r")
        assert "z1 uptime is" in _read_until(chan, r"uptime is.*\s+z1#$")
        chan.resize_pty(width=132, height=50)  # a window change is not the end of the session
        chan.send(b"show clock\r")
        _read_until(chan, r"UTC \w{3} \w{3} +\d+ \d{4}\s+z1#$")
    finally:
        client.close()
    assert _sessions(hostile, "z1") == 0


@pytest.mark.lab
def test_ctrl_c_at_a_question_aborts_the_command(hostile: LabHandle) -> None:
    h = hostile.hosts["z2"]
    with ConnectHandler(**h.netmiko()) as c:
        c.enable()
        before = send_text(c, "show logging | count %SYS-")
        assert not before.strip().endswith("= 0")
        out = send_text(c, "clear logging", timing=True, strip_command=False)
        assert out.rstrip().endswith("Clear logging buffer [confirm]")
        c.write_channel("\x03")  # no newline: Ctrl-C alone answers the question
        out = c.read_until_pattern(r"z2#")
        assert out.replace("\r", "") == "^C\nz2#", repr(out)
        assert send_text(c, "show logging | count %SYS-") == before  # nothing was cleared
        # Ctrl-C at the configure replace question: the running config is untouched
        c.send_config_set(["interface Loopback44", " description keep-me"])
        out = send_text(c, "configure replace nvram:startup-config", timing=True, strip_command=False)
        assert out.rstrip().endswith("[no]:"), out
        c.write_channel("\x03")
        c.read_until_pattern(r"z2#")
        assert "keep-me" in send_text(c, "show running-config | section Loopback44")
        assert "uptime is" in send_text(c, "show version")


@pytest.mark.lab
def test_client_vanishing_mid_scp_leaves_no_session_and_no_partial_file(hostile: LabHandle) -> None:
    h = hostile.hosts["z1"]
    for _ in range(2):
        client = _client(h)
        chan = _transport(client).open_session()
        chan.exec_command("scp -t flash:/half.cfg")
        assert chan.recv(1) == b"\x00"
        chan.sendall(b"C0644 100000 half.cfg\n")
        assert chan.recv(1) == b"\x00"
        chan.sendall(b"hostname half\n" * 100)  # 1,400 of 100,000 bytes, then the TCP connection vanishes
        time.sleep(0.2)
        _transport(client).sock.close()
    # a header that is not SCP at all is refused with a message
    client = _client(h)
    try:
        chan = _transport(client).open_session()
        chan.exec_command("scp -t flash:/bad.cfg")
        assert chan.recv(1) == b"\x00"
        chan.sendall(b"this is not an scp header\n")
        reply = chan.recv(200)
        assert reply[:1] in (b"\x01", b"\x02") and len(reply) > 1, reply
    finally:
        client.close()
    with ConnectHandler(**h.netmiko()) as c:
        listing = send_text(c, "dir flash:")
        assert "bad.cfg" not in listing
        assert "half.cfg" not in listing, listing
        assert "uptime is" in send_text(c, "show version")
    assert _sessions(hostile, "z1") == 0


@pytest.mark.lab
def test_fifty_parallel_sessions_meet_the_vty_limit(hostile: LabHandle) -> None:
    h = hostile.hosts["z2"]

    def attempt(_: int) -> str:
        try:
            client = _client(h)
        except Exception as exc:  # noqa: BLE001 - a refused connection is a valid outcome here
            return f"refused {type(exc).__name__}"
        try:
            chan = client.invoke_shell()
            out = _read_until(chan, r"(z2[>#]$|All vty lines are in use)", 30)
            if "All vty lines are in use" in out:
                return "busy"
            time.sleep(1.5)  # hold the line while the others try
            chan.send(b"show clock\r")
            _read_until(chan, r"z2[>#]$")
            return "ok"
        finally:
            client.close()

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(attempt, range(50)))
    assert results.count("ok") >= 5 and results.count("ok") <= 5 + results.count("busy") - 40, results
    assert results.count("busy") >= 40, results  # line vty 0 4: at most 5 at once
    assert not [r for r in results if r.startswith("refused")], results
    assert _sessions(hostile, "z2") == 0
    with ConnectHandler(**h.netmiko()) as c:  # and the router takes the next user at once
        assert "uptime is" in send_text(c, "show version")


@pytest.mark.lab
def test_connect_disconnect_churn_keeps_memory_bounded(hostile: LabHandle) -> None:
    """2 x 50 connect/disconnects (bench/bench_lab.py --churn 1000 for the long run): sessions all end and the
    lab's RSS after the second round is not above the first round's by more than 2 MiB."""
    h = hostile.hosts["z1"]
    pid = int(hostile.status()["pid"])

    def rss() -> int:
        text = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1))  # type: ignore[union-attr]

    def churn(n: int) -> None:
        for i in range(n):
            client = _client(h)
            chan = client.invoke_shell()
            _read_until(chan, r"z1[>#]$")
            if i % 2:
                chan.send(b"show version\r")  # half leave mid-output, half at the prompt
            chan.close()  # at once: paramiko's client.close() alone lets the connection linger ~0.1 s
            client.close()

    churn(50)
    assert _sessions(hostile, "z1") == 0
    first = rss()
    churn(50)
    assert _sessions(hostile, "z1") == 0
    assert rss() - first < 2048, (first, rss())
