"""Benchmark: audit + forecast of a stored collection of 1,000 hosts (target < 10 s).

Generates the collection with the real IOS output formats (tests/pki_samples.py): 20 CA
servers with 49 clients each, varied enrollment dates, overlaps and auto-enroll
percentages, then times loading (parsing every output), the audit and the forecast.

    .venv/bin/python bench/bench_audit.py [--hosts 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pki_samples import Client, Server, Site, write_site  # noqa: E402

from iospki.audit import run_audit  # noqa: E402
from iospki.forecast import forecast_states  # noqa: E402
from iospki.snapshot import load_collection  # noqa: E402


def generate(root: Path, hosts: int, seed: int = 6) -> None:
    rng = random.Random(seed)
    per_site = 50
    now = datetime(2026, 6, 1, 12, 0, 0)
    for s in range(max(1, hosts // per_site)):
        ca_start = now - timedelta(days=rng.randint(10, 700), seconds=rng.randint(0, 86399))
        ca_days = rng.choice([730, 1095])
        server = Server(
            f"CA{s:02d}",
            ca_start,
            ca_start + timedelta(days=ca_days),
            365,
            ca_days,
            rng.choice([30, 73, 90, None]),
            grant=rng.choice(["auto", "auto", "auto", "manual"]),
        )
        clients = []
        for c in range(per_site - 1):
            pct = rng.choice([60, 70, 80, 80, 80, None])
            enrolled = ca_start + timedelta(days=rng.uniform(0, max(1.0, (now - ca_start).days - 1)))
            end = min(enrolled + timedelta(days=365), server.ca_end)
            if end <= now:  # renewed since: the current certificate starts at its renewal
                enrolled = now - timedelta(days=rng.uniform(1, 200))
                end = min(enrolled + timedelta(days=365), server.ca_end)
            enrolled, end = enrolled.replace(microsecond=0), end.replace(microsecond=0)
            renew = enrolled + (end - enrolled) * (pct or 100) / 100 if pct else None
            clients.append(
                Client(
                    f"s{s:02d}-r{c:02d}",
                    percent=pct,
                    auto=rng.random() > 0.1,
                    id_start=enrolled,
                    id_end=end,
                    renew=renew.replace(microsecond=0) if renew else None,
                    authoritative=rng.random() > 0.02,
                )
            )
        write_site(root, Site(server, clients, ca_host=f"s{s:02d}-ca"), now)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--keep", type=Path, default=None, help="write the collection here and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="iospki-bench-"))
    try:
        t0 = time.perf_counter()
        generate(root, args.hosts)
        t1 = time.perf_counter()
        states = load_collection(root)
        t2 = time.perf_counter()
        result = run_audit(states, horizon=None)
        t3 = time.perf_counter()
        fc = forecast_states(states)
        t4 = time.perf_counter()
        errors = sum(len(s.errors) for s in states)
        print(
            f"hosts: {len(states)}  outputs: {sum(len(s.commands) for s in states)}  parse errors: {errors}"
        )
        print(f"generate collection : {t1 - t0:6.2f} s (not part of the target)")
        print(f"load + parse        : {t2 - t1:6.2f} s")
        print(f"audit (17 rules)    : {t3 - t2:6.2f} s  findings: {len(result.findings)}")
        print(f"forecast (3y)       : {t4 - t3:6.2f} s  events: {len(fc.events)}  outages: {len(fc.outages)}")
        total = t4 - t1
        print(f"audit + forecast    : {total:6.2f} s  (target < 10 s: {'OK' if total < 10 else 'MISSED'})")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
