"""`collect` on one machine: the store's flushes before and after `durable_batch`, against bare netmiko sending
the same commands to the same lab routers, side by side in one run; then the same collect on a loopback Dask
cluster (one scheduler, two workers for each of two sites) with CPU and memory per worker.

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler

from iospki.operations.inventory import all_secrets, load_nornir
from iospki.state import store
from iospki.tasks import collect_pki, pki_commands
from tests.lab_fixture import LabHandle, start_lab

PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]
# Dask's statistical profiler samples every worker thread every 10 ms (the dashboard's profile page); with
# 10 threads per worker waiting on SSH it costs more CPU than the collect itself. IOSPKI_BENCH_PROFILE=1 keeps it.
WORKER_TUNING = {} if os.environ.get("IOSPKI_BENCH_PROFILE") else {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


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

    os.fsync, store._syncfs = fsync, syncfs
    try:
        yield
    finally:
        os.fsync, store._syncfs = real_fsync, real_syncfs


@contextlib.contextmanager
def _no_batch() -> Iterator[None]:
    real = store.durable_batch
    store.durable_batch = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        store.durable_batch = real


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
    lab = start_lab(tmp / "lab", hosts=hosts, host_data={h: {"site": "ab"[i % 2]} for i, (h, _) in enumerate(hosts)})
    rows: dict[str, list[float]] = {"netmiko": [], "before": [], "after": []}
    counts: dict[str, dict[str, int]] = {k: {"fsync": 0, "syncfs": 0} for k in ("before", "after")}
    cpu_after: list[float] = []  # CPU of this process (the whole collect runs here) per durable_batch round
    try:
        for r in range(rounds):
            rows["netmiko"].append(bare_netmiko(lab))
            with _no_batch():
                rows["before"].append(collect(lab, tmp / f"before{r}", counts["before"]))
            cpu0 = time.process_time()
            rows["after"].append(collect(lab, tmp / f"after{r}", counts["after"]))
            cpu_after.append(time.process_time() - cpu0)
        cluster_lines = _on_cluster(lab, tmp)
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
    print(f"{'  CPU of the collecting process (durable_batch)':46s} {median(cpu_after) / n * 1000:6.0f} ms/router")
    print("\n".join(cluster_lines))
    return 0


def _worker_usage(dask_worker: Any) -> tuple[str, float, float]:
    import psutil

    proc = psutil.Process()
    cpu = proc.cpu_times()
    return str(dask_worker.name), cpu.user + cpu.system, proc.memory_info().rss / 2**20


def _on_cluster(lab: LabHandle, tmp: Path) -> list[str]:
    """The same collect through the `dask` runner: scheduler + two workers per site (sites a and b, 10 hosts at
    once each); wall time, client CPU, and per worker: hosts, CPU seconds, resident memory."""
    try:
        from iospki.cluster import DaskRunner
        from tests.cluster_fixture import LAB_WORKER_ENV, start_cluster
    except ImportError:  # distributed not installed
        return ["(no cluster figures: distributed is not installed)"]
    workers = {"wa1": "a", "wa2": "a", "wb1": "b", "wb2": "b"}
    cluster = start_cluster(tmp / "dask", workers, {**LAB_WORKER_ENV, **WORKER_TUNING}, slots=10)
    try:
        collect(lab, tmp / "cluster-warm", {}, DaskRunner(cluster.address))  # workers import iospki on first use
        with cluster.client() as c:
            before = {n: cpu for n, cpu, _ in c.run(_worker_usage).values()}
            runner = DaskRunner(cluster.address)
            cpu0 = time.process_time()
            secs = collect(lab, tmp / "cluster", {}, runner)
            client_cpu = time.process_time() - cpu0
            after = {n: (cpu, rss) for n, cpu, rss in c.run(_worker_usage).values()}
            names = {a: w["name"] for a, w in c.scheduler_info(n_workers=-1)["workers"].items()}
        n = len(lab.hosts)
        hosts_on = {w: sum(1 for a in runner.placement.values() if names.get(a) == w) for w in workers}
        lines = [f"{'collect on a loopback cluster (2 sites x 2)':46s} {secs:6.2f} s  {secs / n * 1000:6.0f} "
                 f"ms/router  client CPU {client_cpu / n * 1000:4.0f} ms/router"]  # fmt: skip
        for w in sorted(workers):
            cpu, rss = after[w][0] - before[w], after[w][1]
            per = cpu / hosts_on[w] * 1000 if hosts_on[w] else 0.0
            lines.append(f"  worker {w} (site {workers[w]}): {hosts_on[w]:3d} hosts  CPU {per:4.0f} ms/router  "
                         f"RSS {rss:5.0f} MiB")  # fmt: skip
        return lines
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
