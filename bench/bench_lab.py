"""Lab twin benchmark: Nornir (threaded, 50 workers) against 50 and 500 emulated routers.

Per router: connect (netmiko), two show commands, a 3-line config, close. Prints wall time, per-host task
times, and the lab process's RSS (idle, per router) and peak RSS during the run.
Targets (issue 3): 500 routers < 15 s; < 100 KiB of lab memory per idle router.

    .venv/bin/python -m bench.bench_lab [--sizes 50,500] [--workers 50] [--churn 1000]

--churn N also connects and disconnects N SSH sessions to one router (half leave at the prompt, half
mid-output) and prints the lab's RSS every N/4 cycles: it must level off, not grow with N.
Runs from any checkout: the lab subprocess imports iospki from this checkout, not an installed copy.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paramiko
from nornir import InitNornir
from nornir.core.task import Result, Task
from nornir_netmiko.tasks import netmiko_send_command, netmiko_send_config

from tests.lab_fixture import start_lab

REPO = Path(__file__).resolve().parents[1]

PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of `pid` now (VmRSS), or its peak so far with field="VmHWM"."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)


def one_router_task(task: Task) -> Result:
    t0 = time.monotonic()
    task.run(netmiko_send_command, command_string="show version")
    task.run(netmiko_send_command, command_string="show running-config | include hostname")
    task.run(
        netmiko_send_config,
        config_commands=[
            "crypto pki trustpoint BENCH",
            " enrollment url http://127.0.0.1:80",
            " revocation-check none",
        ],
    )
    task.host.close_connections()
    return Result(host=task.host, result=time.monotonic() - t0)


def bench(n: int, workers: int, plugins: str | None) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix=f"bench-lab-{n}-"))
    hosts = [(f"b{i}", PLATFORMS[i % len(PLATFORMS)]) for i in range(n)]
    t0 = time.monotonic()
    lab = start_lab(base, hosts=hosts, plugins=plugins, timeout=300)
    startup = time.monotonic() - t0
    try:
        time.sleep(1.0)
        idle = rss_kib(lab.pid)
        nr = InitNornir(
            config_file=str(lab.inventory_dir / "config.yaml"),
            runner={"plugin": "threaded", "options": {"num_workers": workers}},
        )
        peak = PeakRss(lab.pid)
        peak.start()
        t1, c1 = time.monotonic(), cpu_s(lab.pid)
        u1 = resource.getrusage(resource.RUSAGE_SELF)
        res = nr.run(task=one_router_task)
        wall = time.monotonic() - t1
        lab_cpu = cpu_s(lab.pid) - c1
        u2 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (u2.ru_utime - u1.ru_utime) + (u2.ru_stime - u1.ru_stime)
        peak.running = False
        peak.join()
        failed = [h for h, r in res.items() if r.failed]
        per_host = [r[0].result for r in res.values() if not r.failed]
        return {
            "routers": n,
            "startup_s": startup,
            "wall_s": wall,
            "failed": len(failed),
            "task_p50_s": statistics.median(per_host) if per_host else float("nan"),
            "task_p95_s": sorted(per_host)[int(len(per_host) * 0.95) - 1] if per_host else float("nan"),
            "idle_rss_kib": idle,
            "peak_rss_kib": peak.peak,
            "lab_cpu_s": lab_cpu,
            "client_cpu_s": client_cpu,
        }
    finally:
        lab.stop()


def churn(cycles: int) -> None:
    """Connect/disconnect `cycles` times to one router; print the lab's RSS as it goes."""
    base = Path(tempfile.mkdtemp(prefix="bench-lab-churn-"))
    lab = start_lab(base, hosts=[("churn1", "csr1k")], plugins="")
    h = lab.hosts["churn1"]
    try:
        marks = [rss_kib(lab.pid)]
        refused = 0
        t0 = time.monotonic()
        for i in range(1, cycles + 1):
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            client.connect(h.address, h.port, h.username, h.password, look_for_keys=False, allow_agent=False)
            chan = client.invoke_shell()
            chan.settimeout(30)
            buf = b""
            while not buf.rstrip().endswith((b"#", b">")):
                data = chan.recv(4096)
                if not data:  # "% All vty lines are in use": the lab had not yet seen earlier clients go
                    refused += 1
                    time.sleep(0.2)
                    break
                buf += data
            if i % 2 and not chan.closed:
                chan.send(b"show running-config\r")  # leave while the answer is on its way
            # close the channel first: paramiko's client.close() alone lets the TCP connection linger ~0.1 s
            chan.close()
            client.close()
            if i % max(1, cycles // 4) == 0:
                marks.append(rss_kib(lab.pid))
        wall = time.monotonic() - t0
        time.sleep(1.0)
        sessions = lab.status()["hosts"][0]["sessions"]
        print(
            f"churn: {cycles} connect/disconnects in {wall:.1f} s; lab RSS KiB "
            + " -> ".join(str(m) for m in marks)
            + f" (growth after the first quarter {marks[-1] - marks[1]:+d} KiB); sessions left {sessions}; "
            f"refused (vty busy) {refused}"
        )
    finally:
        lab.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,500")
    ap.add_argument("--workers", type=int, default=50)
    ap.add_argument(
        "--plugins", default=None, help="lab plugins (default: the lab's default, PKI engine loaded)"
    )
    ap.add_argument("--churn", type=int, default=0, help="also run N SSH connect/disconnect cycles")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    base = bench(1, 1, args.plugins)  # memory baseline: the same process with one router
    print(f"baseline: 1-router lab idle RSS {base['idle_rss_kib'] / 1024:.1f} MiB")
    for n in (int(s) for s in args.sizes.split(",")):
        r = bench(n, args.workers, args.plugins)
        per_router = (r["idle_rss_kib"] - base["idle_rss_kib"]) / max(1, n - 1)
        print(
            f"{n:4d} routers, {args.workers} workers: wall {r['wall_s']:.1f} s "
            f"(connect + 2 show + 3-line config + close), failed {r['failed']}, "
            f"task p50 {r['task_p50_s']:.2f} s p95 {r['task_p95_s']:.2f} s, lab startup {r['startup_s']:.1f} s, "
            f"lab CPU {r['lab_cpu_s']:.1f} s, client CPU {r['client_cpu_s']:.1f} s"
        )
        print(
            f"     lab RSS idle {r['idle_rss_kib'] / 1024:.1f} MiB = {per_router:.1f} KiB per idle router "
            f"(marginal over a 1-router lab), peak during run {r['peak_rss_kib'] / 1024:.1f} MiB"
        )
    if args.churn:
        churn(args.churn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
