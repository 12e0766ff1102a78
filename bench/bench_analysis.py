"""Benchmark: offline load + parse + audit + forecast of a stored collection in one process vs on a Dask
cluster (issue 13 §2 "analysis at scale"; `iospki.cluster.analysis`).

The collection is `bench.bench_scale`'s (lab-twin outputs replicated into sites of 50 hosts, on /dev/shm when
there is one). Both runs are subprocesses measured in the same run on the same files:

- one process: `run_audit(load_collection(root))` (the audit with its forecast, as `iospki audit --offline`);
- cluster: a `dask scheduler` and N `dask worker` processes on loopback (`tests.cluster_fixture`), and a client
  process running `analyse_on_cluster(address, root)`: load + parse on the workers (the client ships each
  host's stored files; `--shared`: workers read the path), the audit on the client, the forecast per CA group
  on the workers.

Reported: wall time, CPU (client; workers summed), peak resident memory of the client (ru_maxrss) and of each
worker (VmHWM, above its RSS before the run), and whether the two audit reports are identical (JSON, the
generation time aside). On this 2-core box the cluster cannot be faster than one process (same cores, plus
pickling and messages): the point is where the memory and CPU go, and that the result is the same.

    .venv/bin/python -m bench.bench_analysis [--hosts 10000] [--workers 2] [--threads 1] [--shared]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_scale import _default_dir, lab_templates, write_collection


def _report_hash(result: Any) -> str:
    from iospki.reports import render

    text = re.sub(r'"generated": "[^"]*"', "", render(result, "json"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_local(root: Path) -> dict[str, Any]:
    from iospki.audit import run_audit
    from iospki.state.loader import load_collection

    t0, c0 = time.perf_counter(), time.process_time()
    result = run_audit(load_collection(root))
    t1, c1 = time.perf_counter(), time.process_time()
    return _summary(result, t1 - t0, c1 - c0)


def run_remote(root: Path, address: str, shared: bool) -> dict[str, Any]:
    from iospki.cluster.analysis import analyse_on_cluster

    t0, c0 = time.perf_counter(), time.process_time()
    result = analyse_on_cluster(address, root, shared=shared)
    t1, c1 = time.perf_counter(), time.process_time()
    return _summary(result, t1 - t0, c1 - c0)


def _summary(result: Any, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "hosts": len(result.hosts),
        "findings": len(result.findings),
        "events": len(result.forecast.events) if result.forecast else 0,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "report": _report_hash(result),
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_analysis", *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--shared", action="store_true", help="workers read the collection's path")
    ap.add_argument("--dir", type=Path, default=_default_dir())
    ap.add_argument("--local", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--remote", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--address", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.local:
        print(json.dumps(run_local(args.local)))
        return
    if args.remote:
        print(json.dumps(run_remote(args.remote, args.address, args.shared)))
        return

    import psutil

    from tests.cluster_fixture import start_cluster

    tmp = Path(tempfile.mkdtemp(prefix="iospki-bench-analysis-", dir=args.dir))
    try:
        root = tmp / "c"
        t = time.perf_counter()
        files = write_collection(root, lab_templates(), args.hosts)
        print(f"{args.hosts} hosts, {files} files in {root} ({time.perf_counter() - t:.1f} s, not measured)")
        local = _child("--local", str(root))
        names = {f"w{i}": "a" for i in range(args.workers)}
        # the profiler off, as CLUSTER.md advises for workers (it samples every thread every 10 ms)
        quiet = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
        cluster = start_cluster(tmp / "dask", names, env=quiet, slots=args.threads)
        try:
            procs = {n: psutil.Process(p.pid) for n, p in cluster.workers.items()}
            rss0 = {n: _status_kib(p.pid, "VmRSS") for n, p in procs.items()}
            cpu0 = sum(sum(p.cpu_times()[:2]) for p in procs.values())
            remote = _child(
                "--remote", str(root), "--address", cluster.address, *(["--shared"] if args.shared else [])
            )
            cpu1 = sum(sum(p.cpu_times()[:2]) for p in procs.values())
            hwm = {n: _status_kib(p.pid, "VmHWM") for n, p in procs.items()}
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.hosts
    print(f"{'run':<34} {'wall':>8} {'per host':>9} {'CPU per host':>13} {'peak memory':>12}")
    print(
        f"{'one process':<34} {local['wall_s']:>6.1f} s {local['wall_s'] * 1e3 / n:>6.2f} ms"
        f" {local['cpu_s'] * 1e3 / n:>10.2f} ms {local['peak_mib']:>8.0f} MiB"
    )
    label = f"cluster {args.workers}x{args.threads} threads{' (shared path)' if args.shared else ''}: client"
    print(
        f"{label:<34} {remote['wall_s']:>6.1f} s {remote['wall_s'] * 1e3 / n:>6.2f} ms"
        f" {remote['cpu_s'] * 1e3 / n:>10.2f} ms {remote['peak_mib']:>8.0f} MiB"
    )
    workers_cpu = cpu1 - cpu0
    peaks = ", ".join(
        f"{name} {hwm[name] / 1024:.0f} ({(hwm[name] - rss0[name]) / 1024:+.0f})" for name in sorted(hwm)
    )
    print(
        f"{'  workers (all)':<34} {'':>8} {'':>9} {workers_cpu * 1e3 / n:>10.2f} ms  peak MiB (above idle): {peaks}"
    )
    same = local["report"] == remote["report"] and local["hosts"] == remote["hosts"] == n
    print(
        f"same audit report (JSON, generation time aside): {same}; {local['findings']} findings,"
        f" {local['events']} forecast events"
    )
    print(f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
