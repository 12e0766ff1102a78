"""Wall time of the toolkit's commands against a lab of 1 CA + N clients (default 50).

    .venv/bin/python -m bench.bench_toolkit [N]

Starts the lab as a subprocess on loopback (127.77.x.y), runs `iospki deploy`, `deploy --dry-run` (idempotency
check), `collect`, `status --offline`, and prints seconds per command and per router. Stops the lab at the end.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]


def _free_port(addr: str) -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


def write_inventory(d: Path, n: int) -> None:
    repo = Path(__file__).resolve().parents[1]
    d.mkdir(parents=True)
    groups = yaml.safe_load((repo / "inventory" / "groups.yaml").read_text())
    b = random.Random(os.getpid()).randrange(1, 200)
    hosts: dict[str, object] = {}
    ca_addr = f"127.77.{b}.1"
    hosts["ca1"] = {
        "hostname": ca_addr,
        "port": _free_port(ca_addr),
        "groups": ["csr1k", "ca_server"],
        "data": {
            "ca_server": {
                "name": "BENCHCA",
                "lifetime_ca_days": 730,
                "lifetime_certificate_days": 365,
                "auto_rollover_days": 90,
                "grant": "auto",
                "http_port": 8080,
            }
        },
    }
    for i in range(n):
        addr = f"127.77.{b}.{10 + i}"
        hosts[f"r{i + 1}"] = {
            "hostname": addr,
            "port": _free_port(addr),
            "groups": [PLATFORMS[i % 5], "pki_client"],
            "data": {
                "trustpoints": [
                    {"name": "BENCHCA", "ca_server": "ca1", "auto_enroll_percent": 80, "regenerate": True}
                ]
            },
        }
    defaults = {
        "username": "bench",
        "password": "bench-only-password",
        "connection_options": {
            "netmiko": {"extras": {"secret": "bench-only-enable", "conn_timeout": 30, "auth_timeout": 30}},
            "napalm": {"extras": {"optional_args": {"secret": "bench-only-enable"}}},
        },
        "data": {"lab": True, "domain_name": "bench.iospki.test", "ntp_servers": ["127.0.0.123"]},
    }
    (d / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    (d / "groups.yaml").write_text(yaml.safe_dump(groups, sort_keys=False))
    (d / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    (d / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "inventory": {
                    "plugin": "SimpleInventory",
                    "options": {
                        "host_file": "hosts.yaml",
                        "group_file": "groups.yaml",
                        "defaults_file": "defaults.yaml",
                    },
                },
                "runner": {"plugin": "threaded", "options": {"num_workers": 50}},
            }
        )
    )


def iospki(*args: str) -> tuple[int, float, str]:
    t0 = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-c", "from iospki.cli import main; main()", *args], capture_output=True, text=True
    )
    return p.returncode, time.monotonic() - t0, p.stdout


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    tmp = Path(tempfile.mkdtemp(prefix="iospki-bench-toolkit-"))
    inv, state = tmp / "inventory", tmp / "state"
    write_inventory(inv, n)
    up = subprocess.run(
        [sys.executable, "-m", "iospki.lab", "--state", str(state), "up", "--inventory", str(inv), "--quiet"],
        capture_output=True,
        text=True,
    )
    if up.returncode != 0:
        print(f"lab did not start: {up.stderr.strip()}")
        return 1
    figures: dict[str, float] = {}
    try:
        for name, args in [
            ("deploy", ["deploy", "--inventory", str(inv), "--backup-dir", str(tmp / "backups"), "--json"]),
            (
                "deploy --dry-run (2nd run, in sync)",
                ["deploy", "--dry-run", "--inventory", str(inv), "--json"],
            ),
            ("collect", ["collect", "--inventory", str(inv), "--output", str(tmp / "c")]),
            ("status --offline", ["status", "--offline", str(tmp / "c"), "--json"]),
        ]:
            rc, secs, out = iospki(*args)
            figures[name] = secs
            extra = ""
            if name.startswith("deploy --dry-run") and rc == 0:
                extra = f", in sync: {sum(1 for r in json.loads(out) if r['note'] == 'in sync')}/{n + 1}"
            if name == "deploy" and rc != 0:
                notes = {r["note"] for r in json.loads(out) if not r["ok"]}
                print(f"  deploy failures: {sorted(notes)[:5]}")
            print(f"{name:40s} {secs:7.1f} s  ({secs / (n + 1) * 1000:6.0f} ms/router, exit {rc}{extra})")
    finally:
        subprocess.run(
            [sys.executable, "-m", "iospki.lab", "--state", str(state), "down"], capture_output=True
        )
    print(f"routers: 1 CA + {n} clients; lab and toolkit on the same {os.cpu_count()}-core machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
