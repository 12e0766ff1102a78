"""`collect` on one machine: the store's flushes before and after `durable_batch`, against bare netmiko sending
the same commands to the same lab routers, side by side in one run; then the same collect on a loopback Dask
cluster (one scheduler, two workers of one site) for comparison.

    .venv/bin/python -m bench.bench_cluster [N_ROUTERS] [ROUNDS]        (default 20 routers, 3 rounds)

Per round, in turn: bare netmiko (ThreadPoolExecutor, 20 at once: connect, enable, every command collect_pki
sends, disconnect; nothing parsed or written), collect_pki with one fsync per file plus one per directory
entry (the store before, `durable_batch` switched off), and collect_pki as it is (one data flush and one
directory fsync per host folder). Medians over the rounds; ratios against netmiko of the same round. NAPALM
facts are off (bare netmiko does not fetch them). The lab runs in its own process on the same machine.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler

from iospki.operations.inventory import all_secrets, load_nornir
from iospki.state import store
from iospki.tasks import collect_pki, pki_commands
from tests.lab_fixture import LabHandle, start_lab

PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]


def bare_netmiko(lab: LabHandle, workers: int = 20) -> float:
    def one(name: str) -> None:
        h = lab.hosts[name]
        family = "ios" if h.group in ("isr_g1", "isr_g2") else "iosxe"
        conn = ConnectHandler(**h.netmiko())
        try:
            conn.enable()
            for cmd in pki_commands(family):
                conn.send_command(cmd, read_timeout=60)
        finally:
            conn.disconnect()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, lab.hosts))
    return time.perf_counter() - t0


@contextlib.contextmanager
def _counting_fsyncs(counter: dict[str, int]) -> Iterator[None]:
    real_fsync, real_syncfs = os.fsync, store._syncfs

    def fsync(fd: Any) -> None:
        counter["fsync"] += 1
        real_fsync(fd)

    def syncfs(d: Path) -> bool:
        counter["syncfs"] += 1
        return real_syncfs(d)

    os.fsync, store._syncfs = fsync, syncfs  # type: ignore[assignment]
    try:
        yield
    finally:
        os.fsync, store._syncfs = real_fsync, real_syncfs  # type: ignore[assignment]


@contextlib.contextmanager
def _no_batch() -> Iterator[None]:
    real = store.durable_batch
    store.durable_batch = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        store.durable_batch = real  # type: ignore[assignment]


def collect(lab: LabHandle, out: Path, counter: dict[str, int], runner: Any = None) -> float:
    nr = load_nornir(lab.inventory_dir, num_workers=20)
    if runner is not None:
        nr = nr.with_runner(runner)
    secrets = all_secrets(nr)
    t0 = time.perf_counter()
    if runner is not None:
        from iospki.cluster import ClientStore, HostSecrets

        res = nr.run(task=collect_pki, output=ClientStore(str(out)), secrets=HostSecrets(secrets), facts=False)
    else:
        with _counting_fsyncs(counter):
            res = nr.run(task=collect_pki, output=out, secrets=secrets, facts=False)
    secs = time.perf_counter() - t0
    nr.close_connections(on_good=True, on_failed=True)  # routers have few vty lines
    if res.failed_hosts:
        first = sorted(res.failed_hosts)[0]
        raise SystemExit(f"collect failed on {sorted(res.failed_hosts)}: {str(res[first][0].result)[-400:]}")
    return secs


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tmp = Path(tempfile.mkdtemp(prefix="iospki-bench-cluster-"))
    hosts = [(f"r{i + 1}", PLATFORMS[i % 5]) for i in range(n)]
    lab = start_lab(tmp / "lab", hosts=hosts, host_data={h: {"site": "a"} for h, _ in hosts})
    rows: dict[str, list[float]] = {"netmiko": [], "before": [], "after": []}
    counts: dict[str, dict[str, int]] = {k: {"fsync": 0, "syncfs": 0} for k in ("before", "after")}
    try:
        for r in range(rounds):
            rows["netmiko"].append(bare_netmiko(lab))
            with _no_batch():
                rows["before"].append(collect(lab, tmp / f"before{r}", counts["before"]))
            rows["after"].append(collect(lab, tmp / f"after{r}", counts["after"]))
        cluster_secs = _on_cluster(lab, tmp)
    finally:
        lab.stop()
    base = median(rows["netmiko"])
    print(f"{n} lab routers, {rounds} rounds, medians; lab and toolkit on the same {os.cpu_count()}-core machine")
    labels = {
        "netmiko": "bare netmiko, same commands",
        "before": "collect_pki, fsync per file + per dir entry",
        "after": "collect_pki, durable_batch per host",
    }
    for key, label in labels.items():
        secs = median(rows[key])
        c = counts.get(key)
        flushes = f"  fsync/host {c['fsync'] / n / rounds:5.1f}  syncfs/host {c['syncfs'] / n / rounds:4.1f}" if c else ""
        print(f"{label:46s} {secs:6.2f} s  {secs / n * 1000:6.0f} ms/router  x{secs / base:4.2f}{flushes}")
    if cluster_secs is not None:
        print(f"{'collect on a loopback cluster (2 workers)':46s} {cluster_secs:6.2f} s  "
              f"{cluster_secs / n * 1000:6.0f} ms/router  x{cluster_secs / base:4.2f}")
    return 0


def _on_cluster(lab: LabHandle, tmp: Path) -> float | None:
    """The same collect through the `dask` runner: scheduler + two workers of site a (10 hosts each)."""
    try:
        from iospki.cluster import DaskRunner
        from tests.cluster_fixture import LAB_WORKER_ENV, start_cluster
    except ImportError:  # distributed not installed
        return None
    cluster = start_cluster(tmp / "dask", {"w1": "a", "w2": "a"}, LAB_WORKER_ENV, slots=10)
    try:
        warm: Callable[[], float] = lambda: collect(lab, tmp / "cluster-warm", {}, DaskRunner(cluster.address))  # noqa: E731
        warm()  # the workers import iospki on their first task
        return collect(lab, tmp / "cluster", {}, DaskRunner(cluster.address))
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
