"""Benchmark: loading an inventory of 1,000 to 10,000 routers (what every device command does first).

Nornir's SimpleInventory reads the YAML files with ruamel.yaml. Without its C extension
(`ruamel.yaml.clib`, a dependency of iospki since this bench) ruamel scans and parses in pure Python:
measured, 10 s of CPU for 10,000 hosts before a single router is contacted. This bench measures
`iospki.operations.inventory.load_nornir` (SimpleInventory plus iospki's checks: host names, credentials
from the environment, known_hosts, platforms) on generated fleet inventories, each size in fresh
subprocesses, two modes interleaved `--repeat` times (the least CPU of each shown):

- `c`:    as installed (ruamel's C scanner and parser);
- `pure`: the same process with `_ruamel_yaml` made unimportable before anything imports ruamel
          (what an install without `ruamel.yaml.clib` does), the baseline of the same run.

The inventory is a fleet of real routers as an operator writes it (no lab hosts): sites of 50 (a CA
server and 49 clients, each client with one trustpoint naming its site's CA), platform groups from the
built-in inventory, an empty known_hosts file, credentials from the environment (throwaway values set
only in the subprocess; nothing connects).

    .venv/bin/python -m bench.bench_inventory [--hosts 1000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

MODES = ("c", "pure")
PER_SITE = 50
BUILTIN = Path(__file__).resolve().parent.parent / "inventory"
PLATFORMS = ("isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k")


def write_inventory(root: Path, hosts: int) -> None:
    """A fleet inventory of `hosts` routers in `root` (config, hosts, groups, defaults, known_hosts)."""
    groups = yaml.safe_load((BUILTIN / "groups.yaml").read_text())
    missing = [p for p in PLATFORMS if p not in groups]
    if missing:  # the bench names the built-in platform groups; a rename must not make it measure nothing
        raise SystemExit(f"bench_inventory: built-in groups.yaml lacks {missing}")
    out: dict[str, Any] = {}
    for i in range(hosts):
        site, n = divmod(i, PER_SITE)
        ca = f"s{site:04d}-ca"
        address = f"192.0.2.{1 + i % 250}"  # documentation addresses: nothing connects to them
        if n == 0:
            out[ca] = {
                "hostname": address,
                "groups": ["csr1k", "ca_server", f"site{site:04d}"],
                "data": {
                    "ca_server": {
                        "name": f"CA{site:04d}",
                        "issuer": f"CN=CA{site:04d},O=example",
                        "lifetime_ca_days": 1095,
                        "lifetime_certificate_days": 365,
                        "auto_rollover_days": 90,
                        "grant": "auto",
                        "database_level": "complete",
                        "database_url": "nvram:",
                        "http_port": 80,
                    }
                },
            }
            groups[f"site{site:04d}"] = {"data": {"site": f"site{site:04d}"}}
            continue
        out[f"s{site:04d}-r{n:02d}"] = {
            "hostname": address,
            "groups": [PLATFORMS[i % len(PLATFORMS)], "pki_client", f"site{site:04d}"],
            "data": {
                "trustpoints": [
                    {
                        "name": f"CA{site:04d}",
                        "ca_server": ca,
                        "auto_enroll_percent": 70,
                        "regenerate": True,
                        "key_size": 2048,
                        "subject": f"CN=s{site:04d}-r{n:02d}.example.net",
                        "revocation_check": "none",
                    }
                ]
            },
        }
    (root / "hosts.yaml").write_text(yaml.safe_dump(out, sort_keys=False))
    (root / "groups.yaml").write_text(yaml.safe_dump(groups, sort_keys=False))
    (root / "defaults.yaml").write_text("username: ops\n")
    (root / "config.yaml").write_text((BUILTIN / "config.yaml").read_text())
    (root / "known_hosts").write_text("")


def measure_one(root: Path, mode: str) -> dict[str, float]:
    """Load the inventory once in this (fresh) process: CPU and wall seconds, and the hosts loaded."""
    if mode == "pure":
        sys.modules["_ruamel_yaml"] = None  # type: ignore[assignment]  # import fails: ruamel's pure-Python path
    c0 = time.process_time()
    from iospki.operations.inventory import load_nornir

    t1, c1 = time.perf_counter(), time.process_time()
    nr = load_nornir(root)
    t2, c2 = time.perf_counter(), time.process_time()
    import ruamel.yaml

    if bool(ruamel.yaml.__with_libyaml__) != (mode == "c"):
        raise SystemExit(f"bench_inventory: mode {mode} but ruamel's C extension loaded: {ruamel.yaml.__with_libyaml__}")
    problems = sum(1 for h in nr.inventory.hosts.values() if h.data.get("_credential_error") or h.data.get("_host_key_error"))
    return {
        "hosts": len(nr.inventory.hosts),
        "problems": problems,
        "import_s": c1 - c0,
        "load_s": t2 - t1,
        "load_cpu": c2 - c1,
    }


def run_one(root: Path, mode: str) -> dict[str, float]:
    env = {**os.environ, "IOSPKI_USERNAME": "ops", "IOSPKI_PASSWORD": "bench-throwaway"}
    for name in ("IOSPKI_KNOWN_HOSTS", "IOSPKI_MAX_HOSTS"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_inventory", "--one", str(root), mode],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench_inventory: {mode} run failed: {proc.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one", nargs=2, metavar=("DIR", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(Path(args.one[0]), args.one[1])))
        return
    print(f"  hosts mode  load_nornir CPU   per host   wall     (best of {args.repeat} interleaved, fresh processes)")
    for n in args.hosts:
        root = Path(tempfile.mkdtemp(prefix=f"iospki-inventory-{n}-"))
        try:
            write_inventory(root, n)
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeat):
                for mode in MODES:
                    r = run_one(root, mode)
                    if r["hosts"] != n or r["problems"]:
                        raise SystemExit(f"bench_inventory: {mode}: {r['hosts']} hosts, {r['problems']} with problems")
                    if mode not in best or r["load_cpu"] < best[mode]["load_cpu"]:
                        best[mode] = r
            for mode in MODES:
                r = best[mode]
                print(
                    f"{n:>7} {mode:<5} {r['load_cpu']:>8.2f} s  {r['load_cpu'] / n * 1000:>7.3f} ms  {r['load_s']:>6.2f} s"
                )
            print(f"{n:>7} pure / c: {best['pure']['load_cpu'] / best['c']['load_cpu']:.1f}x")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
