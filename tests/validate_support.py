"""Helpers of the validate/faults/security tests: copy an example inventory onto fresh loopback addresses."""

from __future__ import annotations

import os
import random
import shutil
import socket
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "inventory" / "examples"


def _block() -> tuple[int, int]:
    rnd = random.Random(os.getpid() * 104729 + int.from_bytes(os.urandom(2), "big"))
    return 100 + rnd.randrange(0, 150), rnd.randrange(1, 250)


def _common_port(addresses: list[str]) -> int:
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(20000, 60000)
        try:
            for a in addresses:
                with socket.socket() as s:
                    s.bind((a, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port on the lab addresses")


def relocate(src: Path, dst: Path, edit: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Copy inventory `src` to `dst` with every host on a fresh 127.x.y.z address and one free common port
    (so parallel runs never collide). `edit` merges keys into hosts. Returns host -> address."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    hosts: dict[str, Any] = yaml.safe_load((dst / "hosts.yaml").read_text())
    a, b = _block()
    addrs = {n: f"127.{a}.{b}.{i + 1}" for i, n in enumerate(hosts)}
    port = _common_port(list(addrs.values()))
    for n, h in hosts.items():
        h["hostname"] = addrs[n]
        h.update((edit or {}).get(n, {}))
    (dst / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    defaults: dict[str, Any] = yaml.safe_load((dst / "defaults.yaml").read_text())
    defaults["port"] = port
    (dst / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    return addrs
