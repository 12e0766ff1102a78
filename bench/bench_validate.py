"""Benchmark: `iospki lab validate` with 1 CA + N clients (default 50) through a 730-day CA lifetime.

    .venv/bin/python -m bench.bench_validate [--clients 50] [--keep DIR]

Target (issue 7): under 5 minutes on the 2-core CI machine. Prints the wall time, checkpoints and the time per
phase (deploy, lab clock, collect, parse, audit) from the run's result.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from tests.lab_fixture import common_free_port  # one helper for tests and benches

REPO = Path(__file__).resolve().parents[1]

PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]


def write_inventory(directory: Path, clients: int, overlap: int = 90, fast_cli: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(os.getpid())
    a, b = 100 + rnd.randrange(150), rnd.randrange(1, 200)
    names = ["ca1"] + [f"c{i:03d}" for i in range(1, clients + 1)]
    addrs = {n: f"127.{a}.{b + i // 250}.{1 + i % 250}" for i, n in enumerate(names)}
    tp = {
        "name": "BENCHCA",
        "ca_server": "ca1",
        "auto_enroll_percent": 80,
        "regenerate": True,
        "key_label": "IOSPKI-KEY",
        "key_size": 2048,
        "revocation_check": "none",
    }
    hosts: dict[str, Any] = {
        "ca1": {
            "hostname": addrs["ca1"],
            "groups": ["csr1k"],
            "data": {
                "ca_server": {
                    "name": "BENCHCA",
                    "issuer": "CN=BENCHCA,O=iospki bench",
                    "lifetime_ca_days": 730,
                    "lifetime_certificate_days": 365,
                    "auto_rollover_days": overlap,
                    "grant": "auto",
                    "database_level": "complete",
                    "database_url": "nvram:",
                    "http_port": 8080,
                }
            },
        }
    }
    for i, n in enumerate(names[1:]):
        hosts[n] = {"hostname": addrs[n], "groups": [PLATFORMS[i % len(PLATFORMS)]], "data": {"trustpoints": [tp]}}
    src = REPO / "inventory"
    for f in ("groups.yaml", "defaults.yaml", "config.yaml"):
        shutil.copy(src / f, directory / f)
    defaults = yaml.safe_load((directory / "defaults.yaml").read_text())
    defaults["port"] = common_free_port(list(addrs.values()))
    if fast_cli:  # netmiko's fast_cli: no fixed sleeps around each command (the lab answers in milliseconds)
        defaults["connection_options"]["netmiko"]["extras"]["fast_cli"] = True
    (directory / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    (directory / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keep", type=Path, help="keep inventory and outputs here")
    ap.add_argument("--slow-cli", action="store_true", help="netmiko fast_cli off (as the built-in inventory)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="iospki-bench-validate-"))
    inv, out = work / "inventory", work / "out"
    write_inventory(inv, args.clients, fast_cli=not args.slow_cli)
    cmd = [sys.executable, "-c", "from iospki.cli import main; main()", "lab", "validate"]
    cmd += ["--inventory", str(inv), "--output", str(out)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    try:
        res = json.loads((out / "result.json").read_text())
    except OSError:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 1
    lab_days = "-"
    if res.get("start") and res.get("until"):
        from datetime import datetime

        s, u = (datetime.fromisoformat(res[k].rstrip("Z")) for k in ("start", "until"))
        lab_days = f"{(u - s).total_seconds() / 86400:.0f}"
    print(f"hosts                 {len(res['hosts'])} (1 CA + {args.clients} clients), "
          f"netmiko fast_cli {'off' if args.slow_cli else 'on'}")
    print(f"lab days covered      {lab_days}")
    print(f"checkpoints           {len(res['checkpoints'])}")
    print(f"events confirmed      {len(res['events_confirmed'])}")
    print(f"problems              {len(res['problems'])}  (passed: {res['passed']}, exit {proc.returncode})")
    print(f"wall time             {wall:.1f} s   (target < 300 s: {'met' if wall < 300 else 'NOT met'})")
    for k, v in sorted(res.get("phases", {}).items()):
        print(f"  {k:<20}{v:8.1f} s")
    for p in res["problems"][:10]:
        print(f"  problem: {p['host']} {p['trustpoint']} {p['check']} {p['at']}: {p['cause']}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
