"""`collect` on one machine: the store's flushes before and after `durable_batch`, against bare netmiko sending
the same commands to the same lab routers, side by side in one run; then the same collect on a loopback Dask
cluster (one scheduler, two workers for each of two sites) with CPU and memory per worker.

    .venv/bin/python -m bench.bench_cluster [N_ROUTERS] [ROUNDS]        (default 20 routers, 3 rounds)

Per round, in turn, in this process: bare netmiko (`bench.bare_netmiko`: 20 hosts at once; ConnectHandler with
the lab's netmiko arguments, enable, send_command of every command collect_pki sends to that host with
read_timeout=60, disconnect; nothing parsed or written); then collect_pki through Nornir's threaded runner with
20 workers over the lab's inventory (netmiko with the same timeouts, fast_cli at netmiko's default on both sides)
three ways: as before issue 13 (one fsync per file plus one per directory entry, `durable_batch` switched off,
and a check_enable_mode exchange before every command), with `durable_batch` but still the check per command,
and as it is (one data flush and one directory fsync per host folder; the mode read from the prompt netmiko reads
before each command anyway). Then as processes, as a user runs them: `python -m bench.bare_netmiko` (the same
bare code; imports netmiko only) against `iospki collect --no-facts -o DIR` (imports, inventory checks, the
whole store with meta.json, the table) as before (`bench.collect_as_before`: every command module and NAPALM
imported up front, the check per command) and as it is.
Medians over the rounds; ratios against bare netmiko of the same round and kind (in process / as a process).
NAPALM facts are off (bare netmiko does not fetch them). The lab runs in its own process on the same machine;
the load average is printed (other runs on a shared machine move every figure).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import bare_netmiko as bare
from bench.collect_as_before import enable_check_each_command
from iospki.operations.inventory import all_secrets, load_nornir
from iospki.state import store
from iospki.tasks import collect_pki, pki_commands
from tests.lab_fixture import LabHandle, start_lab

REPO = Path(__file__).resolve().parents[1]
# The processes compile their modules once, into a cache of their own, as an installed package has them compiled
# (pip does it); where PYTHONDONTWRITEBYTECODE is set, every run of an editable install compiled iospki's
# modules again (~0.3 s), while netmiko's came compiled from pip. A first round, not timed, fills the cache.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="iospki-bench-pycache-")
PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]
# Dask's statistical profiler samples every worker thread every 10 ms (the dashboard's profile page); with
# 10 threads per worker waiting on SSH it costs more CPU than the collect itself. IOSPKI_BENCH_PROFILE=1 keeps it.
WORKER_TUNING = {} if os.environ.get("IOSPKI_BENCH_PROFILE") else {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


def bare_jobs(lab: LabHandle) -> list[dict[str, Any]]:
    """What `bench.bare_netmiko` does per host: the lab's netmiko arguments and the commands collect_pki sends."""
    jobs = []
    for h in lab.hosts.values():
        family = "ios" if h.group in ("isr_g1", "isr_g2") else "iosxe"
        jobs.append({"args": h.netmiko(), "commands": pki_commands(family)})
    return jobs


def bare_netmiko(lab: LabHandle, workers: int = 20) -> float:
    return bare.run(bare_jobs(lab), workers)


def bare_netmiko_process(lab: LabHandle, workers: int = 20) -> tuple[float, float]:
    """`python -m bench.bare_netmiko` as its own process: (wall seconds, CPU seconds of the process)."""
    spec = json.dumps({"workers": workers, "hosts": bare_jobs(lab)})
    return _timed([sys.executable, "-m", "bench.bare_netmiko"], spec)


def collect_process(lab: LabHandle, out: Path, as_before: bool = False) -> tuple[float, float]:
    """`iospki collect --no-facts` over the lab's inventory as its own process: (wall seconds, CPU seconds);
    `as_before`: as it ran before the speed-ups (`bench.collect_as_before`)."""
    run = ["-m", "bench.collect_as_before"] if as_before else ["-c", "from iospki.cli import main; main()"]
    cmd = [sys.executable, *run, "collect", "--no-facts", "-i", str(lab.inventory_dir), "-o", str(out)]
    return _timed(cmd, "")


def _timed(cmd: list[str], stdin: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=REPO, env=CHILD_ENV, check=False)
    secs = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} exited {proc.returncode}: {(proc.stdout + proc.stderr)[-600:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return secs, cpu


@contextlib.contextmanager
def _counting_fsyncs(counter: dict[str, int]) -> Iterator[None]:
    real_fsync, real_syncfs = os.fsync, store._syncfs

    def fsync(fd: Any) -> None:
        counter["fsync"] += 1
        real_fsync(fd)

    def syncfs(d: Path | str) -> bool:
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
    keys = ("netmiko", "before", "check", "after", "netmiko-process", "process-before", "process")
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    counts: dict[str, dict[str, int]] = {k: {"fsync": 0, "syncfs": 0} for k in ("before", "check", "after")}
    load = [os.getloadavg()[0]]
    try:
        bare_netmiko_process(lab)  # not timed: compiles the processes' modules into CHILD_ENV's cache
        collect_process(lab, tmp / "process-warm")
        collect_process(lab, tmp / "process-warm-before", as_before=True)
        for r in range(rounds):
            for key in keys:
                cpu0 = time.process_time()
                if key == "netmiko-process":
                    secs, used = bare_netmiko_process(lab)
                elif key in ("process-before", "process"):
                    secs, used = collect_process(lab, tmp / f"{key}{r}", as_before=key == "process-before")
                else:
                    if key == "netmiko":
                        secs = bare_netmiko(lab)
                    elif key == "before":
                        with _no_batch(), enable_check_each_command():
                            secs = collect(lab, tmp / f"before{r}", counts["before"])
                    elif key == "check":
                        with enable_check_each_command():
                            secs = collect(lab, tmp / f"check{r}", counts["check"])
                    else:
                        secs = collect(lab, tmp / f"after{r}", counts["after"])
                    used = time.process_time() - cpu0  # the whole run is in this process
                wall[key].append(secs)
                cpu[key].append(used)
            load.append(os.getloadavg()[0])
        cluster_lines = _on_cluster(lab, tmp)
    finally:
        lab.stop()
    print(f"{n} lab routers, {rounds} rounds; lab and toolkit on the same {os.cpu_count()}-core machine; "
          f"1-min load average {min(load):.1f}-{max(load):.1f} during the rounds")  # fmt: skip
    print("medians; xRATIO = against bare netmiko of the same round and kind: median (lowest-highest)")
    labels = {
        "netmiko": ("bare netmiko, same commands, in process", "netmiko"),
        "before": ("collect_pki: fsync per file, enable check/cmd", "netmiko"),
        "check": ("collect_pki: durable_batch, enable check/cmd", "netmiko"),
        "after": ("collect_pki as it is", "netmiko"),
        "netmiko-process": ("python -m bench.bare_netmiko (a process)", "netmiko-process"),
        "process-before": ("iospki collect --no-facts, as before", "netmiko-process"),
        "process": ("iospki collect --no-facts, as it is", "netmiko-process"),
    }
    for key, (label, base) in labels.items():
        secs = median(wall[key])
        ratios = [w / b for w, b in zip(wall[key], wall[base], strict=True)]
        c = counts.get(key)
        flushes = f"  fsync/host {c['fsync'] / n / rounds:4.1f} syncfs/host {c['syncfs'] / n / rounds:3.1f}" if c else ""
        print(f"{label:46s} {secs:6.2f} s {secs / n * 1000:5.0f} ms/router  CPU {median(cpu[key]) / n * 1000:4.0f} "
              f"ms/router  x{median(ratios):4.2f} ({min(ratios):4.2f}-{max(ratios):4.2f}){flushes}")  # fmt: skip
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
