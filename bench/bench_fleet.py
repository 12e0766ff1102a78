"""Issue 13 §4: a fleet split into sites, driven by one threaded `iospki collect` and by a Dask cluster.

    .venv/bin/python -m bench.bench_fleet routers [--sites 4] [--per-site 2500] [--at-once 40] [--collect-per-site K]
    .venv/bin/python -m bench.bench_fleet stored [--hosts 100000] [--workers 4]

`routers`: one lab process per site (SITES x PER_SITE emulated routers, each on its own 127.x.y.z address;
nothing listens outside 127.0.0.0/8), one inventory of all of them with the `site` data key, then, in turn:

1. `iospki collect --no-facts` as a user runs it, one process, Nornir's threaded runner, AT_ONCE hosts at
   once (IOSPKI_MAX_HOSTS);
2. the same command with `--cluster` against a loopback Dask cluster (a scheduler and one `dask worker` per
   site, `--resources site-<s>=AT_ONCE/SITES`, holding the lab's credentials in its environment), after a
   warm-up collect of one host per site (workers are long-lived on jump hosts: their imports are not the run's).

Per run: wall time, failed hosts, CPU per router of the client (the `iospki` process, from wait4), of each
worker (over the hosts it ran) and of the lab processes (the routers' side, which real routers pay), peak
memory of the client, of each worker and of each lab process; for the cluster, which hosts each worker ran
(all of its own site, checked). NAPALM facts are off (a second SSH session per host). On a 2-core box the
cluster cannot be faster -- the same CPU work plus processes and pickling on the same two cores -- the point
is that it runs and divides the work by site.

`stored`: a collection of HOSTS stored hosts generated from lab outputs (`bench.bench_scale.write_collection`,
on /dev/shm), then load + parse, audit and forecast, each in a fresh process: (1) in that one process
(`bench_scale`'s measurement: load_collection, run_audit without its forecast, forecast_states), (2) with the
load and the forecast on a loopback cluster of WORKERS one-thread workers (`iospki.cluster.analysis`:
ClusterAnalysis.load -- the client ships each host folder's files, a worker parses them --, the
same run_audit on the client, ClusterAnalysis.forecast per CA group). Time of each phase, peak memory of the
client process and of each worker, and the same hosts, findings and forecast events checked in both.

Every lab process and cluster process is stopped at the end, on failure and on Ctrl-C/SIGTERM too, and the
bench then checks that no lab address still accepts connections.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from distributed.diagnostics.plugin import WorkerPlugin

from bench.bench_lab import PLATFORMS, cpu_s, rss_kib
from bench.stopping import unwind_on_stop_signals
from iospki.state import store
from tests.lab_fixture import LabHandle, listening, start_lab

REPO = Path(__file__).resolve().parents[1]
# see bench_cluster: Dask's statistical profiler costs a worker with many waiting threads more than the work
WORKER_TUNING = {} if os.environ.get("IOSPKI_BENCH_PROFILE") else {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
HOST_RE = re.compile(r"(s\d+-r\d+)-[0-9a-f]{12}$")  # a runner task key ends with -<host>-<run id>


def iospki_cmd() -> list[str]:
    script = Path(sys.executable).with_name("iospki")
    return [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from iospki.cli import main; sys.exit(main())"]


class Sampler(threading.Thread):
    """Peak VmRSS of some processes while a run lasts (VmHWM would include the lab's start-up)."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak, self.running = pids, dict.fromkeys(pids, 0), True

    def run(self) -> None:
        while self.running:
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError):
                    self.peak[name] = max(self.peak[name], rss_kib(pid))
            time.sleep(0.25)

    def stop(self) -> dict[str, int]:
        self.running = False
        self.join()
        return self.peak


@dataclass
class Fleet:
    """The labs (one per site), their merged inventory, and everything to stop at the end."""

    base: Path
    labs: dict[str, LabHandle] = field(default_factory=dict)
    inventory: Path = Path()
    site_of: dict[str, str] = field(default_factory=dict)

    def start(self, sites: int, per_site: int) -> None:
        for s in range(1, sites + 1):
            site = f"s{s}"
            hosts = [(f"{site}-r{i:05d}", PLATFORMS[i % len(PLATFORMS)]) for i in range(per_site)]
            data = {h: {"site": site} for h, _ in hosts}
            t0 = time.monotonic()
            try:
                self.labs[site] = start_lab(self.base / site, hosts=hosts, host_data=data, timeout=900)
            except BaseException:
                # `up` may have started the daemon before it failed or was interrupted: take it down too
                LabHandle(self.base / site / "state", self.base / site / "inventory").stop()
                raise
            self.site_of.update({h: site for h, _ in hosts})
            print(f"  lab {site}: {per_site} routers up in {time.monotonic() - t0:.1f} s "
                  f"(pid {self.labs[site].pid}, RSS {rss_kib(self.labs[site].pid) / 1024:.0f} MiB)", flush=True)  # fmt: skip
        self.inventory = self.base / "fleet-inventory"
        self.inventory.mkdir()
        first = next(iter(self.labs.values())).inventory_dir
        merged: dict[str, Any] = {}
        for lab in self.labs.values():
            merged.update(yaml.safe_load((lab.inventory_dir / "hosts.yaml").read_text()))
        (self.inventory / "hosts.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
        for name in ("groups.yaml", "defaults.yaml", "ssh_config"):
            shutil.copy(first / name, self.inventory / name)
        cfg = yaml.safe_load((first / "config.yaml").read_text())
        for key in ("host_file", "group_file", "defaults_file"):
            cfg["inventory"]["options"][key] = str(self.inventory / Path(cfg["inventory"]["options"][key]).name)
        cfg["ssh"]["config_file"] = str(self.inventory / "ssh_config")
        (self.inventory / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))

    def stop(self) -> None:
        """`lab down` for every lab; a lab process still there afterwards is terminated, then killed."""
        for site, lab in self.labs.items():
            try:
                lab.stop()
            except Exception as exc:  # keep stopping the others
                print(f"  lab {site}: down failed: {exc}", file=sys.stderr)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if not _alive(lab.pid):
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.kill(lab.pid, sig)
                time.sleep(2.0)

    def check_stopped(self) -> str:
        alive = [s for s, lab in self.labs.items() if _alive(lab.pid)]
        open_ = [h.name for lab in self.labs.values() for h in lab.hosts.values() if listening(h.address, h.port)]
        n = sum(len(lab.hosts) for lab in self.labs.values())
        if alive or open_:
            return f"NOT CLEAN: lab processes still alive {alive}, {len(open_)} router ports still open {open_[:5]}"
        return f"all {len(self.labs)} lab processes stopped; none of the {n} router addresses accepts connections"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def child(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process that is killed if the bench stops before it ends."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.returncode is None and proc.poll() is None:
            proc.kill()
            proc.wait()


def run_collect(
    fleet: Fleet, out: Path, env: dict[str, str], extra: list[str], watch: dict[str, int]
) -> dict[str, Any]:
    """One `iospki collect` run: wall, exit code, ok/failed hosts, client CPU and peak RSS (wait4), CPU and
    peak RSS of the `watch` processes during it."""
    cmd = [*iospki_cmd(), "collect", "-i", str(fleet.inventory), "-o", str(out), "--no-facts", *extra]
    cpu0 = {k: cpu_s(p) for k, p in watch.items()}
    sampler = Sampler(watch)
    sampler.start()
    t0 = time.monotonic()
    with child(cmd, env, out.with_suffix(".log")) as proc:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    peak = sampler.stop()
    meta = store.read_meta(out) or {}
    return {
        "wall": wall,
        "rc": proc.returncode,
        "ok": len(meta.get("hosts_ok", [])),
        "failed": meta.get("hosts_failed", []),
        "client_cpu": usage.ru_utime + usage.ru_stime,
        "client_rss": usage.ru_maxrss,  # KiB
        "cpu": {k: cpu_s(p) - cpu0[k] for k, p in watch.items()},
        "peak": peak,
        "log": out.with_suffix(".log"),
    }


class HostsRun(WorkerPlugin):
    """Dask worker plugin: the hosts whose runner task finished on this worker (from the task keys)."""

    name = "iospki-bench-hosts-run"

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        m = HOST_RE.search(str(key))
        if finish == "memory" and m:
            self.hosts.append(m.group(1))


def _hosts_run(dask_worker: Any) -> tuple[str, list[str]]:
    plugin: HostsRun = dask_worker.plugins[HostsRun.name]
    return str(dask_worker.name), list(plugin.hosts)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOSPKI_", "DASK_"))}
    return {**env, **extra, "PYTHONUNBUFFERED": "1"}


def report(label: str, n: int, r: dict[str, Any], labs: list[str]) -> None:
    print(f"{label}: {n} routers in {r['wall']:.1f} s wall ({r['wall'] / n * 1000:.1f} ms/router), exit {r['rc']}, "
          f"ok {r['ok']}, failed {len(r['failed'])}{' ' + str(r['failed'][:5]) if r['failed'] else ''}")  # fmt: skip
    print(f"  client (iospki collect): CPU {r['client_cpu']:.1f} s = {r['client_cpu'] / n * 1000:.1f} ms/router, "
          f"peak RSS {r['client_rss'] / 1024:.0f} MiB")  # fmt: skip
    lab_cpu = sum(r["cpu"][s] for s in labs)
    print(f"  labs (the routers' side): CPU {lab_cpu / n * 1000:.1f} ms/router; peak RSS per lab process "
          + ", ".join(f"{s} {r['peak'][s] / 1024:.0f} MiB" for s in labs))
    if r["failed"]:
        print(f"  log: {r['log']}")


def routers(args: argparse.Namespace) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children (labs, workers) inherit it
    n = args.sites * (args.collect_per_site or args.per_site)  # the routers collected
    # with --collect-per-site K: all the labs' routers in the inventory and up, the first K of each site read
    picked = [f"s{s}-r{i:05d}" for s in range(1, args.sites + 1) for i in range(args.collect_per_site)]
    only = ["--limit", ",".join(picked)] if picked else []
    slots = max(1, args.at_once // args.sites)
    base = Path(tempfile.mkdtemp(prefix=f"iospki-bench-fleet-{n}-"))
    print(f"{args.sites} sites x {args.per_site} lab routers, {n} collected; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; ulimit -n {hard}; threaded {args.at_once} hosts at once, cluster "
          f"{args.sites} workers x {slots}; work dir {base}", flush=True)  # fmt: skip
    unwind_on_stop_signals()
    fleet = Fleet(base)
    cluster: Any = None
    try:
        t0 = time.monotonic()
        fleet.start(args.sites, args.per_site)
        print(f"  labs up in {time.monotonic() - t0:.1f} s", flush=True)
        labs = {s: lab.pid for s, lab in fleet.labs.items()}
        if "threaded" in args.modes:
            r = run_collect(fleet, base / "threaded", _env({"IOSPKI_MAX_HOSTS": str(args.at_once)}), only, labs)
            report(f"threaded, one process, {args.at_once} at once", n, r, list(labs))
        if "cluster" in args.modes:
            from tests.cluster_fixture import LAB_WORKER_ENV, start_cluster

            workers = {f"w-{s}": s for s in fleet.labs}
            cluster = start_cluster(base / "dask", workers, {**LAB_WORKER_ENV, **WORKER_TUNING}, slots=slots)
            warm = ",".join(f"{s}-r00000" for s in fleet.labs)
            cenv = _env({"IOSPKI_CLUSTER": cluster.address})
            run_collect(fleet, base / "cluster-warm", cenv, ["--limit", warm], {})
            with cluster.client() as c:
                c.register_plugin(HostsRun())
            pids = {w: p.pid for w, p in cluster.workers.items()}
            r = run_collect(fleet, base / "cluster", cenv, only, {**labs, **pids, "scheduler": cluster.scheduler.pid})
            with cluster.client() as c:
                ran = dict(c.run(_hosts_run).values())
            report(f"cluster, {len(workers)} workers x {slots} (one per site)", n, r, list(labs))
            for w, site in workers.items():
                mine = ran.get(w, [])
                foreign = [h for h in mine if fleet.site_of.get(h) != site]
                print(f"  worker {w} (site {site}): {len(mine)} hosts, all of site {site}: {not foreign}"
                      f"{' ' + str(foreign[:5]) if foreign else ''}; CPU {r['cpu'][w] / max(1, len(mine)) * 1000:.1f}"
                      f" ms/router; peak RSS {r['peak'][w] / 1024:.0f} MiB")  # fmt: skip
            print(f"  scheduler: CPU {r['cpu']['scheduler'] / n * 1000:.1f} ms/router, "
                  f"peak RSS {r['peak']['scheduler'] / 1024:.0f} MiB")  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()
        fleet.stop()
        print("  " + fleet.check_stopped(), flush=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def measure_cluster(root: Path, address: str) -> dict[str, float]:
    """In a fresh process: bench_scale's measurement with the load and the forecast on the cluster."""
    from bench.bench_scale import measure
    from iospki.cluster.analysis import ClusterAnalysis

    with ClusterAnalysis(address) as remote:
        return measure(root, "toolkit", load=remote.load, forecast=remote.forecast)


def _measure(args: list[str], watch: dict[str, int]) -> tuple[dict[str, float], dict[str, float]]:
    """Run a measurement subprocess (its last stdout line is JSON); also the CPU seconds of `watch` during it."""
    cpu0 = {k: cpu_s(p) for k, p in watch.items()}
    out = subprocess.run([sys.executable, "-m", *args], cwd=REPO, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result, {k: cpu_s(p) - cpu0[k] for k, p in watch.items()}


def stored(args: argparse.Namespace) -> int:
    from bench.bench_scale import _default_dir, lab_templates, write_collection
    from tests.cluster_fixture import start_cluster

    n = args.hosts
    unwind_on_stop_signals()
    base = Path(tempfile.mkdtemp(prefix=f"iospki-bench-fleet-stored-{n}-"))
    root = Path(tempfile.mkdtemp(prefix=f"iospki-fleet-stored-{n}-", dir=_default_dir()))
    cluster: Any = None
    try:
        t = time.perf_counter()
        files = write_collection(root, lab_templates(), n)
        print(f"{n} stored hosts: {files} files generated in {root} in {time.perf_counter() - t:.0f} s (not measured); "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        local, _ = _measure(["bench.bench_scale", "--measure", str(root)], {})
        workers = {f"a{i + 1}": f"a{i + 1}" for i in range(args.workers)}
        cluster = start_cluster(base / "dask", workers, {}, slots=1)
        pids = {w: p.pid for w, p in cluster.workers.items()}
        remote, cpu = _measure(["bench.bench_fleet", "--measure-cluster", str(root), cluster.address], pids)
        hwm = {w: rss_kib(pid, "VmHWM") / 1024 for w, pid in pids.items()}
        sched = rss_kib(cluster.scheduler.pid, "VmHWM") / 1024
        same = all(local[k] == remote[k] for k in ("hosts", "parse_errors", "findings", "events"))
        for r in (local, remote):
            r["cpu_s"] = r["load_cpu"] + r["audit_cpu"] + r["forecast_cpu"]  # the client's part of each phase
        for label, r in (("one process", local), (f"cluster, {args.workers} workers x 1 thread", remote)):
            total = r["load_s"] + r["audit_s"] + r["forecast_s"]
            print(f"{label:34s} load+parse {r['load_s']:7.1f} s  audit {r['audit_s']:6.1f} s  forecast "
                  f"{r['forecast_s']:6.1f} s  total {total:7.1f} s = {total / n * 1000:.2f} ms/host  "
                  f"client CPU {r['cpu_s'] / n * 1000:.2f} ms/host, peak RSS {r['peak_mib']:6.0f} MiB", flush=True)  # fmt: skip
        print("  workers: " + ", ".join(f"{w} CPU {cpu[w]:.0f} s peak RSS {hwm[w]:.0f} MiB" for w in workers)
              + f"; scheduler peak RSS {sched:.0f} MiB")  # fmt: skip
        print(f"  same hosts, parse errors, findings and forecast events in both: {same} "
              f"({int(local['hosts'])} hosts, {int(local['findings'])} findings, {int(local['events'])} events)")
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure-cluster":  # the measurement subprocess of `stored`
        print(json.dumps(measure_cluster(Path(sys.argv[2]), sys.argv[3])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("routers", help="lab routers in one lab process per site: threaded vs cluster collect")
    r.add_argument("--sites", type=int, default=4)
    r.add_argument("--per-site", type=int, default=2500)
    r.add_argument("--at-once", type=int, default=40, help="hosts at once in all (cluster: split over the workers)")
    r.add_argument("--modes", default="threaded,cluster")
    r.add_argument("--collect-per-site", type=int, default=0, help="collect only the first K routers of each site")
    r.add_argument("--keep", action="store_true", help="keep the work directory (collections, logs)")
    st = sub.add_parser("stored", help="stored hosts: load + audit + forecast in one process vs on the cluster")
    st.add_argument("--hosts", type=int, default=100000)
    st.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    try:
        if args.what == "routers":
            return routers(args)
        if args.what == "stored":
            return stored(args)
    except KeyboardInterrupt as exc:  # everything was stopped on the way out (the `finally` blocks)
        print(f"interrupted ({str(exc) or 'Ctrl-C'})", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
