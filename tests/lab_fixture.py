"""pytest fixtures that run the lab twin as a user does: `python -m iospki.lab up`, SSH, `down`.

Fixtures:
  lab        session-scoped lab: a CA server (CSR1k) plus one client per platform, clock at real time.
  make_lab   factory: make_lab(hosts=[...], start="2027-01-01T00:00:00Z", rate=1.0, plugins=None) -> LabHandle;
             every lab it starts is stopped at the end of the test (or module, with make_lab_module).

Each router gets its own 127.x.y.z address and a free port on it; nothing listens outside 127.0.0.0/8.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

USERNAME = "iospki"
PASSWORD = "lab-fixture-password"
SECRET = "lab-fixture-enable"

GROUPS: dict[str, Any] = {
    "ios": {
        "platform": "ios",
        "data": {"family": "ios"},
        "connection_options": {"netmiko": {"platform": "cisco_ios"}, "napalm": {"platform": "ios"}},
    },
    "iosxe": {
        "platform": "ios",
        "data": {"family": "iosxe"},
        "connection_options": {"netmiko": {"platform": "cisco_xe"}, "napalm": {"platform": "ios"}},
    },
    "isr_g1": {
        "groups": ["ios"],
        "data": {"platform_family": "ISR-G1", "model": "2811", "software": "15.1(4)M12a"},
    },
    "isr_g2": {
        "groups": ["ios"],
        "data": {"platform_family": "ISR-G2", "model": "CISCO2911/K9", "software": "15.4(3)M10"},
    },
    "isr4k": {
        "groups": ["iosxe"],
        "data": {"platform_family": "ISR4K", "model": "ISR4451-X/K9", "software": "16.09.05"},
    },
    "asr1k": {
        "groups": ["iosxe"],
        "data": {"platform_family": "ASR1k", "model": "ASR1001-X", "software": "16.12.04"},
    },
    "csr1k": {
        "groups": ["iosxe"],
        "data": {"platform_family": "CSR1k", "model": "CSR1000V", "software": "17.03.04a"},
    },
}

DEFAULT_HOSTS = [
    ("ca1", "csr1k"),
    ("r1", "isr_g1"),
    ("r2", "isr_g2"),
    ("r3", "isr4k"),
    ("r4", "asr1k"),
    ("r5", "csr1k"),
]


@dataclass
class LabHost:
    name: str
    address: str
    port: int
    group: str
    username: str = USERNAME
    password: str = PASSWORD
    secret: str = SECRET

    @property
    def device_type(self) -> str:
        return "cisco_ios" if self.group in ("isr_g1", "isr_g2") else "cisco_xe"

    def netmiko(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for netmiko.ConnectHandler."""
        args: dict[str, Any] = {
            "device_type": self.device_type,
            "host": self.address,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "secret": self.secret,
            "conn_timeout": 30,
            "auth_timeout": 30,
            "banner_timeout": 30,
            "ssh_config_file": None,
            "allow_agent": False,
            "use_keys": False,
        }
        args.update(extra)
        return args

    def napalm(self) -> dict[str, Any]:
        """Keyword arguments for napalm's ios driver."""
        return {
            "hostname": self.address,
            "username": self.username,
            "password": self.password,
            "timeout": 60,
            "optional_args": {"port": self.port, "secret": self.secret, "conn_timeout": 30},
        }


@dataclass
class LabHandle:
    state_dir: Path
    inventory_dir: Path
    hosts: dict[str, LabHost] = field(default_factory=dict)
    pid: int = 0

    def _state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / "lab.json").read_text())
        return data

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        state = self._state()
        url = state["control"] + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {state.get('token', '')}"}
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read())

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/status")
        return result

    def clock_now(self) -> str:
        return str(self.control("GET", "/clock")["now"])

    def clock_set(self, iso: str) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/clock", {"action": "set", "time": iso})
        return result

    def clock_advance(self, by: str) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/clock", {"action": "advance", "by": by})
        return result

    def clock_rate(self, rate: float) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/clock", {"action": "rate", "rate": rate})
        return result

    def fault(self, host: str, kind: str, on: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/fault", {"host": host, "kind": kind, "on": on})
        return result

    def timers(self, host: str | None = None) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self.control("GET", "/timers" + (f"?host={host}" if host else ""))
        return result

    def lab_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `python -m iospki.lab --state <dir> ARGS` (the command-line front end)."""
        return subprocess.run(
            [sys.executable, "-m", "iospki.lab", "--state", str(self.state_dir), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=check,
        )

    def stop(self) -> None:
        self.lab_cli("down", check=False)


def _base_octets() -> tuple[int, int]:
    # distinct address blocks per test process so parallel runs (and other engineers' labs) never collide
    rnd = random.Random(os.getpid() * 7919 + int.from_bytes(os.urandom(2), "big"))
    return 100 + rnd.randrange(0, 150), rnd.randrange(1, 250)


def common_free_port(addresses: list[str]) -> int:
    """One port free on every address. All routers share it, as real routers all listen on 22: nornir_napalm
    writes the first host's port into the (shared) defaults `optional_args`, so per-host ports would break."""
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(20000, 60000)
        try:
            for address in addresses:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port found on the lab addresses")


def listening(address: str, port: int) -> bool:
    """True when something accepts TCP connections on address:port (a lab router that still runs)."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def write_inventory(
    directory: Path,
    hosts: list[tuple[str, str]],
    extra_data: dict[str, Any] | None = None,
    host_data: dict[str, dict[str, Any]] | None = None,
) -> dict[str, LabHost]:
    """Write hosts/groups/defaults.yaml for (name, platform group) pairs; returns the hosts."""
    directory.mkdir(parents=True, exist_ok=True)
    a, b = _base_octets()
    b = min(b, 255 - (len(hosts) - 1) // 250)  # 250 hosts per third octet: a large lab must stay within .255
    result: dict[str, LabHost] = {}
    hosts_yaml: dict[str, Any] = {}
    addresses = [f"127.{a}.{b + i // 250}.{1 + i % 250}" for i in range(len(hosts))]
    port = common_free_port(addresses)
    for i, (name, group) in enumerate(hosts):
        address = addresses[i]
        result[name] = LabHost(name, address, port, group)
        entry: dict[str, Any] = {"hostname": address, "port": port, "groups": [group]}
        if host_data and name in host_data:
            entry["data"] = host_data[name]
        hosts_yaml[name] = entry
    defaults = {
        "username": USERNAME,
        "password": PASSWORD,
        "connection_options": {
            "netmiko": {"extras": {"secret": SECRET, "conn_timeout": 30, "auth_timeout": 30}},
            "napalm": {"extras": {"timeout": 60, "optional_args": {"secret": SECRET, "conn_timeout": 30}}},
        },
        "data": {"lab": True, "domain_name": "lab.iospki.test", **(extra_data or {})},
    }
    (directory / "hosts.yaml").write_text(yaml.safe_dump(hosts_yaml, sort_keys=False))
    (directory / "groups.yaml").write_text(yaml.safe_dump(GROUPS, sort_keys=False))
    (directory / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    (directory / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "inventory": {
                    "plugin": "SimpleInventory",
                    "options": {
                        "host_file": str(directory / "hosts.yaml"),
                        "group_file": str(directory / "groups.yaml"),
                        "defaults_file": str(directory / "defaults.yaml"),
                    },
                },
                "runner": {"plugin": "threaded", "options": {"num_workers": 20}},
                "logging": {"enabled": False},
                "ssh": {"config_file": str(directory / "ssh_config")},
            },
            sort_keys=False,
        )
    )
    (directory / "ssh_config").write_text("")
    return result


def start_lab(
    base: Path,
    hosts: list[tuple[str, str]] | None = None,
    start: str | None = None,
    rate: float = 1.0,
    plugins: str | None = None,
    host_data: dict[str, dict[str, Any]] | None = None,
    timeout: float = 120.0,
) -> LabHandle:
    inv = base / "inventory"
    state = base / "state"
    lab_hosts = write_inventory(inv, hosts or DEFAULT_HOSTS, host_data=host_data)
    cmd = [
        sys.executable,
        "-m",
        "iospki.lab",
        "--state",
        str(state),
        "up",
        "--inventory",
        str(inv),
        "--rate",
        str(rate),
        "--quiet",
        "--timeout",
        str(timeout),
    ]
    if start:
        cmd += ["--start", start]
    if plugins is not None:
        cmd += ["--plugins", plugins]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    if proc.returncode != 0:
        raise RuntimeError(f"lab up failed ({proc.returncode}): {proc.stderr.strip()}")
    handle = LabHandle(state, inv, lab_hosts)
    handle.pid = int(handle._state()["pid"])
    return handle


MakeLab = Callable[..., LabHandle]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    handle = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield handle
    finally:
        handle.stop()


def _factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeLab]:
    started: list[LabHandle] = []

    def make(**kwargs: Any) -> LabHandle:
        handle = start_lab(tmp_path_factory.mktemp("lab"), **kwargs)
        started.append(handle)
        return handle

    try:
        yield make
    finally:
        for h in started:
            h.stop()


@pytest.fixture
def make_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeLab]:
    yield from _factory(tmp_path_factory)


@pytest.fixture(scope="module")
def make_lab_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeLab]:
    yield from _factory(tmp_path_factory)
