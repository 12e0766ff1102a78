"""Helpers of the validate/faults/security tests: copy an example inventory onto fresh loopback addresses."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.lab_fixture import LabHandle, common_free_port

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "inventory" / "examples"


def _block() -> tuple[int, int]:
    rnd = random.Random(os.getpid() * 104729 + int.from_bytes(os.urandom(2), "big"))
    return 100 + rnd.randrange(0, 150), rnd.randrange(1, 250)


def relocate(src: Path, dst: Path, edit: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Copy inventory `src` to `dst` with every host on a fresh 127.x.y.z address and one free common port
    (so parallel runs never collide). `edit` merges keys into hosts. Returns host -> address."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    hosts: dict[str, Any] = yaml.safe_load((dst / "hosts.yaml").read_text())
    a, b = _block()
    addrs = {n: f"127.{a}.{b}.{i + 1}" for i, n in enumerate(hosts)}
    port = common_free_port(list(addrs.values()))
    for n, h in hosts.items():
        h["hostname"] = addrs[n]
        h.update((edit or {}).get(n, {}))
    (dst / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    defaults: dict[str, Any] = yaml.safe_load((dst / "defaults.yaml").read_text())
    defaults["port"] = port
    (dst / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    return addrs


class Lab:
    """A lab started from an inventory directory with `python -m iospki.lab up` (as a user does)."""

    def __init__(self, inventory: Path, state: Path) -> None:
        import subprocess
        import sys

        self.inventory = inventory
        self.state = state
        self._sub = subprocess
        self._py = sys.executable
        self.hosts: dict[str, Any] = yaml.safe_load((inventory / "hosts.yaml").read_text())
        self.defaults: dict[str, Any] = yaml.safe_load((inventory / "defaults.yaml").read_text())

    def cli(self, *args: str, check: bool = True) -> str:
        proc = self._sub.run(
            [self._py, "-m", "iospki.lab", "--state", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"lab {args}: {proc.stderr.strip()}")
        return proc.stdout

    def up(self) -> Lab:
        self.cli("up", "--inventory", str(self.inventory), "--quiet")
        return self

    def down(self) -> None:
        self.cli("down", check=False)

    # faults and status go to the lab's control API, as `python -m iospki.lab fault|status` does, without a
    # Python start-up per switch (test_faults switches faults 14 times)
    def fault(self, host: str, kind: str, on: bool = True) -> None:
        LabHandle(self.state, self.inventory).fault(host, kind, on)

    def status(self) -> dict[str, Any]:
        return LabHandle(self.state, self.inventory).status()

    def netmiko_args(self, host: str, **extra: Any) -> dict[str, Any]:
        group = self.hosts[host]["groups"][0]
        args: dict[str, Any] = {
            "device_type": "cisco_ios" if group in ("isr_g1", "isr_g2") else "cisco_xe",
            "host": self.hosts[host]["hostname"],
            "port": self.defaults["port"],
            "username": self.defaults["username"],
            "password": self.defaults["password"],
            "secret": self.defaults["connection_options"]["netmiko"]["extras"]["secret"],
            "conn_timeout": 20,
            "ssh_config_file": None,
            "allow_agent": False,
            "use_keys": False,
        }
        args.update(extra)
        return args

    def device(self, host: str, command: str) -> str:
        """Device state read over SSH, independently of the toolkit."""
        import netmiko

        with netmiko.ConnectHandler(**self.netmiko_args(host)) as conn:
            conn.enable()
            return str(conn.send_command(command, read_timeout=60))

    def configure(self, host: str, lines: list[str]) -> str:
        import netmiko

        with netmiko.ConnectHandler(**self.netmiko_args(host)) as conn:
            conn.enable()
            return str(conn.send_config_set(lines, read_timeout=60))
