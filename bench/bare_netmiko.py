"""The bare netmiko baseline of `bench.bench_cluster`: connect, enable, send each command, disconnect; nothing parsed
or written. It imports netmiko only, so as a process it is what a hand-written netmiko script costs.

    .venv/bin/python -m bench.bare_netmiko < jobs.json

jobs.json: {"workers": 20, "hosts": [{"args": {ConnectHandler keyword arguments}, "commands": [...]}, ...]}
(read from stdin: the lab's password never appears in a process list). Prints the wall seconds.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netmiko import ConnectHandler


def one(job: dict[str, Any]) -> None:
    conn = ConnectHandler(**job["args"])
    try:
        conn.enable()
        for cmd in job["commands"]:
            conn.send_command(cmd, read_timeout=60)  # as collect_pki reads each output
    finally:
        conn.disconnect()


def run(hosts: list[dict[str, Any]], workers: int = 20) -> float:
    """Every host's commands, `workers` hosts at once; the wall seconds."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, hosts))
    return time.perf_counter() - t0


def main() -> int:
    spec = json.load(sys.stdin)
    print(f"{run(spec['hosts'], spec['workers']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
