"""Figures for the lab's PKI engine (issue 4).

1. Enrollments per second of the emulated IOS certificate server (CertificateServer behind ScepServer, grant
   auto, real SCEP over HTTP) and, side by side with the same client and messages, micromdm's scepserver
   (in its own network namespace, as bench_scep.py does). Client: pre-generated 2048-bit keys, pre-built
   PKCSReqs (AES-128, SHA-256), POST, concurrency 1. Server CPU per request from /proc/<pid>/stat.
2. Wall time to run a lab of 1 CA + N clients (default 100; auto-enroll 80 regenerate, auto-rollover 90)
   through 800 lab days: real routers behind SSH, configured with netmiko, then ONE `clock advance 800d`
   that runs every RENEW / SHADOW / rollover / CRL timer with real SCEP between the routers.

    .venv/bin/python -m bench.bench_lab_pki [--requests 150] [--rounds 2] [--clients 100] [--days 800]
    .venv/bin/python -m bench.bench_lab_pki --skip-scep     # only the lab run
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.netmiko_text import send_text

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------- 1. enrollments per second
def serve_ca(port: int) -> int:
    """Child process: the emulated IOS CA (grant auto) on 127.0.0.1:port until killed."""
    from datetime import datetime, timezone

    from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
    from iospki.lab.pki.clock import SimScheduler
    from iospki.lab.pki.keys import Keyring
    from iospki.lab.pki.scep_glue import CsBackend
    from iospki.lab.pki.timers import PkiTimers
    from iospki.lab.scep import ScepServer
    from iospki.lab.scep.http import start_scep_site

    async def run() -> None:
        sched = SimScheduler(datetime.now(timezone.utc))
        cfg = CsConfig("BENCHCA")
        for line in ("grant auto", "database level complete"):
            cfg.apply(line)
        cs = CertificateServer(cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None)
        cs.no_shutdown("bench", key_bits=2048)
        await start_scep_site(ScepServer(CsBackend(cs)), "127.0.0.1", port)
        await asyncio.Event().wait()

    asyncio.run(run())
    return 0


def scep_rate(args: argparse.Namespace) -> None:
    bs = _load("bench_scep", HERE / "bench_scep.py")
    tmp = Path(tempfile.mkdtemp(prefix="bench_lab_pki_"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ours = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-ca", "19200"],
                                stdout=subprocess.DEVNULL)
        procs.append(ours)
        servers = [("emulated IOS CA", "http://127.0.0.1:19200/cgi-bin/pkiclient.exe", ours.pid, 19200)]
        scepserver = shutil.which("scepserver")
        if scepserver and args.netns:
            subprocess.run([scepserver, "ca", "-init", "-depot", str(tmp / "depot"), "-keySize", "2048",
                            "-organization", "Bench CA", "-years", "2"], check=True, capture_output=True)
            mm = subprocess.Popen([scepserver, "-depot", str(tmp / "depot"), "-port", "18091", "-challenge",
                                   bs.CHALLENGE, "-allowrenew", "0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(mm)
            servers.append(("micromdm scepserver", "http://127.0.0.1:18091/scep", mm.pid, 18091))
        else:
            print("micromdm scepserver: skipped (" + ("apt-get install scep" if not scepserver
                  else "needs root for its own network namespace") + ")")
        for *_, port in servers:
            bs._wait_port(port)
        t0 = time.perf_counter()
        keys = bs._keys(args.keys)
        print(f"client: {args.keys} RSA-2048 keys in {time.perf_counter() - t0:.1f}s; {args.requests} PKCSReq per "
              "round, AES-128 + SHA-256, POST, concurrency 1")
        results: dict[str, list[tuple[float, float, int]]] = {s[0]: [] for s in servers}
        for _ in range(args.rounds):
            for name, url, pid, _port in servers:
                results[name].append(bs._measure(name, url, pid, keys, args.requests))
        print(f"{'server':24} {'enroll/s (per round)':28} {'server CPU ms/req':20} failures")
        for name, rows in results.items():
            print(f"{name:24} {', '.join(f'{r[0]:.0f}' for r in rows):28} "
                  f"{', '.join(f'{r[1]:.2f}' for r in rows):20} {sum(r[2] for r in rows)}")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------- 2. 1 CA + N clients, 800 days
def lab_run(args: argparse.Namespace) -> None:
    from netmiko import ConnectHandler

    from tests.lab_fixture import start_lab

    hosts = [("ca1", "csr1k")] + [(f"c{i:03d}", ("isr_g2", "isr4k", "csr1k")[i % 3]) for i in range(args.clients)]
    base = Path(tempfile.mkdtemp(prefix="bench_lab_pki_lab_"))
    t0 = time.perf_counter()
    lab = start_lab(base, hosts=hosts, start="2026-01-01T00:00:00Z", rate=1.0, timeout=600)
    t_up = time.perf_counter() - t0
    try:
        ca = ConnectHandler(**lab.hosts["ca1"].netmiko())
        ca.enable()
        ca.send_config_set(["ntp server 127.0.0.1", "ip http server", "crypto pki server CA", "grant auto",
                            "lifetime ca-certificate 730", "lifetime certificate 365", "auto-rollover 90",
                            "database archive pkcs12 password 0 bench-archive", "no shutdown"])
        url = f"http://{lab.hosts['ca1'].address}:80"

        def client(name: str) -> None:
            c = ConnectHandler(**lab.hosts[name].netmiko())
            c.enable()
            c.send_config_set(["ntp server 127.0.0.1", "crypto pki trustpoint TP", f"enrollment url {url}",
                               "serial-number none", "ip-address none", "password 0 bench-chal",
                               f"rsakeypair TPKEY {args.key_bits}", "auto-enroll 80 regenerate"])
            c.config_mode()
            send_text(c, "crypto pki authenticate TP", expect_string=r"\[yes/no\]: ", read_timeout=120)
            send_text(c, "yes", expect_string=r"\(config\)#", read_timeout=120)
            c.exit_config_mode()
            c.disconnect()

        t1 = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(client, [h for h, _ in hosts[1:]]))
        t_enroll = time.perf_counter() - t1
        t2 = time.perf_counter()
        res = lab.clock_advance(f"{args.days}d")
        t_adv = time.perf_counter() - t2
        issued = send_text(ca, "show crypto pki server CA certificates", read_timeout=300)
        n_certs = sum(1 for line in issued.splitlines()[1:] if "hostname=" in line)
        rss = _rss_kib(lab.pid)
        ca.disconnect()
        print(f"lab of 1 CA + {args.clients} clients ({args.key_bits}-bit client keys, auto-enroll 80 regenerate, "
              "auto-rollover 90):")
        print(f"  lab up (SSH on all routers)          {t_up:7.1f} s")
        print(f"  configure + authenticate + enroll    {t_enroll:7.1f} s  ({args.workers} netmiko threads)")
        print(f"  clock advance {args.days}d                 {t_adv:7.1f} s  "
              f"(timers fired: {res.get('fired', '?') if isinstance(res, dict) else '?'})")
        print(f"  certificates issued by the CA        {n_certs:7d}")
        print(f"  lab process RSS                      {rss / 1024:7.1f} MiB")
    finally:
        lab.stop()
        shutil.rmtree(base, ignore_errors=True)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=150)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--keys", type=int, default=20)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--days", type=int, default=800)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--key-bits", type=int, default=2048)
    p.add_argument("--skip-scep", action="store_true")
    p.add_argument("--skip-lab", action="store_true")
    p.add_argument("--serve-ca", type=int, help=argparse.SUPPRESS)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--netns", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_ca:
        return serve_ca(args.serve_ca)
    if args.inside:
        scep_rate(args)
        return 0
    if not args.skip_scep:
        unshare = shutil.which("unshare")
        if unshare and os.geteuid() == 0:
            cmd = [unshare, "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable,
                   str(Path(__file__).resolve()), "--inside", "--netns", "--requests", str(args.requests),
                   "--rounds", str(args.rounds), "--keys", str(args.keys)]
            subprocess.run(cmd, check=False)
        else:
            print("not root: measuring the emulated CA only (micromdm needs its own network namespace)")
            scep_rate(args)
    if not args.skip_lab:
        lab_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
