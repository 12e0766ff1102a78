"""Lab process life cycle, network safety and robustness: up/status/down, loopback-only listeners,
refused inventories, malformed SCP, dropped connections, faults."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest
import yaml
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException
from scp import SCPClient, SCPException

from tests.lab_fixture import LabHandle, MakeLab, write_inventory
from tests.netmiko_text import send_text

pytestmark = pytest.mark.lab


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket of `pid`, from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state != "0A" or inode not in inodes:  # 0A = LISTEN
                    continue
                hexaddr, hexport = local.split(":")
                if v6:
                    raw = bytes.fromhex(hexaddr)
                    addr = str(ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))))
                else:
                    addr = str(ipaddress.IPv4Address(bytes.fromhex(hexaddr)[::-1]))
                found.append((addr, int(hexport, 16)))
    return found


def test_up_status_down_and_loopback_only(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=[("s1", "isr4k"), ("s2", "isr_g1")], plugins="")
    with ConnectHandler(**lab.hosts["s1"].netmiko()) as c:
        c.send_config_set(["ip http server", "ip http port 18181"])
    listening = _listening(lab.pid)
    assert listening, "the lab listens on nothing?"
    for addr, _port in listening:
        assert ipaddress.ip_address(addr) in ipaddress.ip_network("127.0.0.0/8"), listening
    ports = {(a, p) for a, p in listening}
    assert (lab.hosts["s1"].address, lab.hosts["s1"].port) in ports
    assert (lab.hosts["s1"].address, 18181) in ports
    out = lab.lab_cli("status").stdout
    assert "s1" in out and "ISR4K" in out and "ISR4451-X/K9" in out and "s2" in out
    # `up` again on the same state dir refuses
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "iospki.lab",
            "--state",
            str(lab.state_dir),
            "up",
            "--inventory",
            str(lab.inventory_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # the state directory is locked by the running lab (issue 12 §7): exit 3 naming the directory and its pid
    assert again.returncode == 3 and str(lab.state_dir) in again.stderr and f"pid {lab.pid}" in again.stderr, again.stderr
    lab.lab_cli("down")
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{lab.pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (
        not os.path.exists(f"/proc/{lab.pid}")
        or Path(f"/proc/{lab.pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    )
    with pytest.raises(OSError):
        socket.create_connection((lab.hosts["s1"].address, lab.hosts["s1"].port), timeout=2)
    assert not (lab.state_dir / "lab.json").exists()


def test_refuses_addresses_outside_loopback(tmp_path: Path) -> None:
    write_inventory(tmp_path, [("bad1", "csr1k")])
    hosts = yaml.safe_load((tmp_path / "hosts.yaml").read_text())
    hosts["bad1"]["hostname"] = "192.0.2.10"
    (tmp_path / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "iospki.lab",
            "--state",
            str(tmp_path / "st"),
            "up",
            "--inventory",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert "bad1" in res.stderr and "192.0.2.10" in res.stderr and "127.0.0.0/8" in res.stderr
    assert not (tmp_path / "st" / "lab.json").exists()


def test_malformed_scp_refused_and_good_scp_lands_in_flash(lab: LabHandle) -> None:
    h = lab.hosts["r2"]
    src = Path(lab.state_dir.parent / "upload.txt")
    src.write_text("hostname r2\n")

    def put(target: str) -> None:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False)
        try:
            transport = client.get_transport()
            assert transport is not None
            with SCPClient(transport) as scp:
                scp.put(str(src), target)
        finally:
            client.close()

    for bad, why in (
        ("flash:/../../../etc/evil", "invalid file name"),
        ("bogusfs:/x", "unknown file system"),
        ("flash:/a/b/c", "invalid file name"),
    ):
        with pytest.raises(SCPException, match=why):
            put(bad)
    put("flash:/good.txt")
    with ConnectHandler(**h.netmiko()) as c:
        assert "good.txt" in send_text(c, "dir flash:")
        assert send_text(c, "more flash:/good.txt").strip() == "hostname r2"
    assert not (lab.state_dir / "devices" / "etc").exists()


def test_dropped_connection_is_cleaned_up(lab: LabHandle) -> None:
    h = lab.hosts["r3"]
    for _ in range(3):
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False)
        chan = client.invoke_shell()
        chan.send(b"show running-config | incl")  # half a command, then the TCP connection vanishes
        transport = client.get_transport()
        assert transport is not None
        transport.sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sessions = {x["name"]: x["sessions"] for x in lab.status()["hosts"]}
        if sessions["r3"] == 0:
            break
        time.sleep(0.1)
    assert sessions["r3"] == 0
    with ConnectHandler(**h.netmiko()) as c:
        assert "r3 uptime" in send_text(c, "show version")


def test_faults_bad_password_and_drop_session(lab: LabHandle) -> None:
    h = lab.hosts["r4"]
    lab.fault("r4", "bad-password", True)
    try:
        with pytest.raises(NetmikoAuthenticationException):
            ConnectHandler(**h.netmiko())
    finally:
        lab.fault("r4", "bad-password", False)
    with ConnectHandler(**h.netmiko()) as c:
        assert "r4 uptime" in send_text(c, "show version")
        lab.fault("r4", "drop-session", True)
        with pytest.raises(Exception):  # noqa: B017 - netmiko raises OSError/ReadTimeout by version
            send_text(c, "show version", read_timeout=5)
    lab.fault("r4", "drop-session", False)
    with pytest.raises(Exception) as info:
        lab.fault("r4", "no-such-fault", True)
    assert "400" in str(info.value)
    with ConnectHandler(**h.netmiko()) as c:
        assert "r4 uptime" in send_text(c, "show version")


def test_iospki_lab_cli_wrapper(tmp_path: Path) -> None:
    """`iospki lab ...` is a subprocess wrapper: up, status, clock, fault, down."""
    write_inventory(tmp_path / "inv", [("w1", "isr_g2")])

    def iospki(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "from iospki.cli import main; main()",
                "lab",
                *args,
                "--state",
                str(tmp_path / "st"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    up = iospki("up", "--inventory", str(tmp_path / "inv"), "--start", "2030-06-01T00:00:00Z")
    assert up.returncode == 0, up.stderr
    try:
        st = iospki("status")
        assert st.returncode == 0 and "w1" in st.stdout and "ISR-G2" in st.stdout
        adv = iospki("clock", "advance", "10d")
        assert adv.returncode == 0 and adv.stdout.startswith("2030-06-11T00:00")
        bad = iospki("fault", "w1", "melting", "on")
        assert bad.returncode == 2 and "unknown fault 'melting'" in bad.stderr  # a usage error
        assert iospki("fault", "w1", "slow", "on").stdout.strip() == "w1: faults slow"
    finally:
        down = iospki("down")
    assert down.returncode == 0 and "lab down" in down.stdout
    assert iospki("status").returncode == 1


def test_chunked_output_fault_streams_like_a_device(lab: LabHandle) -> None:
    h = lab.hosts["r5"]
    with ConnectHandler(**h.netmiko()) as c:
        whole = send_text(c, "show running-config")
        lab.fault("r5", "chunked", True)
        try:
            streamed = send_text(c, "show running-config")
            ver = send_text(c, "show version")
        finally:
            lab.fault("r5", "chunked", False)
    strip = [ln for ln in whole.splitlines() if not ln.startswith("! Last configuration")]
    assert [ln for ln in streamed.splitlines() if not ln.startswith("! Last configuration")] == strip
    assert "r5 uptime is" in ver and ver.rstrip().endswith("Configuration register is 0x2102")


def test_vty_lines_limit_concurrent_sessions(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=[("v1", "csr1k")], plugins="")
    h = lab.hosts["v1"]
    with ConnectHandler(**h.netmiko()) as c:
        c.send_config_set(["no line vty 0 4", "line vty 0 1", "login local"])  # two vty lines
        with ConnectHandler(**h.netmiko()) as c2:
            assert "v1 uptime" in send_text(c2, "show version")
            with pytest.raises(Exception):  # noqa: B017 - the third session is refused
                ConnectHandler(**h.netmiko(conn_timeout=5, auth_timeout=5, banner_timeout=5))
            assert len(send_text(c, "show users").splitlines()) == 3
        c.send_config_set(["line vty 0 4"])
    with ConnectHandler(**h.netmiko()) as c, ConnectHandler(**h.netmiko()) as c2, ConnectHandler(**h.netmiko()) as c3:
        assert all("uptime" in send_text(x, "show version") for x in (c, c2, c3))


def test_dead_or_garbled_lab_state_gives_a_clear_error(tmp_path: Path) -> None:
    """A lab killed from outside leaves lab.json behind: status says the lab is gone, down clears the file."""

    def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iospki.lab", "--state", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that surely ran and ended
    state = tmp_path / "lab.json"
    state.write_text(f'{{"pid": {dead.pid}, "control": "http://127.0.0.1:9"}}')
    res = lab_cli("status")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"the lab (pid {dead.pid}) is not running any more" in res.stderr and "stale" in res.stderr
    assert lab_cli("down").returncode == 0 and not state.exists()
    state.write_text("{not json")
    res = lab_cli("clock", "show")
    assert res.returncode == 1 and "unreadable" in res.stderr and "Traceback" not in res.stderr
    down = lab_cli("down")
    assert down.returncode == 0 and "removed" in down.stdout and not state.exists()
    res = lab_cli("status")
    assert res.returncode == 1 and "no lab running" in res.stderr
