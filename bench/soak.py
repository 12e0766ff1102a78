"""Soak: 200 lab routers, 20 rounds of collect + audit, random faults in 10 % of the hosts each round.

    .venv/bin/python -m bench.soak [--routers 200] [--rounds 20] [--fault-rate 0.10] [--no-deploy] [--keep DIR]

Faults per round (random kind per chosen host): down, bad-password, drop-session (the router answers but every
session drops), truncate-output (show output cut in half), slow (answers, slowly). Afterwards it checks that:
- every fault that breaks access (down, bad-password, drop-session) was reported: the host is failed in the
  collection with a cause, and the audit has a host-unreachable finding for it;
- every truncate-output fault was reported (a parse error or a finding naming the host), never silently taken;
- every slow router and every router without a fault was collected completely;
- no stored file is truncated: every JSON parses, no temporary file is left (writes go to a temporary name,
  then rename), every command of every collected host is stored.
Prints rounds, hosts, faults injected, faults reported, and the verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.lab_fixture import common_free_port  # one helper for tests and benches

REPO = Path(__file__).resolve().parents[1]

PLATFORMS = ["isr_g1", "isr_g2", "isr4k", "asr1k", "csr1k"]
BREAKING = ("down", "bad-password", "drop-session")
KINDS = BREAKING + ("truncate-output", "slow")


def write_inventory(directory: Path, routers: int) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(os.getpid())
    a, b = 100 + rnd.randrange(150), rnd.randrange(1, 200)
    names = ["ca1"] + [f"r{i:03d}" for i in range(1, routers)]
    addrs = {n: f"127.{a}.{b + i // 250}.{1 + i % 250}" for i, n in enumerate(names)}
    tp = {"name": "SOAKCA", "ca_server": "ca1", "auto_enroll_percent": 80, "key_size": 2048,
          "revocation_check": "none"}
    hosts: dict[str, Any] = {
        "ca1": {"hostname": addrs["ca1"], "groups": ["csr1k"], "data": {"ca_server": {
            "name": "SOAKCA", "issuer": "CN=SOAKCA,O=iospki soak", "lifetime_ca_days": 730,
            "lifetime_certificate_days": 365, "auto_rollover_days": 90, "grant": "auto",
            "database_level": "complete", "database_url": "nvram:", "http_port": 8080}}},
    }
    for i, n in enumerate(names[1:]):
        hosts[n] = {"hostname": addrs[n], "groups": [PLATFORMS[i % 5]], "data": {"trustpoints": [tp]}}
    for f in ("groups.yaml", "defaults.yaml"):
        shutil.copy(REPO / "inventory" / f, directory / f)
    cfg = yaml.safe_load((REPO / "inventory" / "config.yaml").read_text())
    cfg["runner"] = {"plugin": "threaded", "options": {"num_workers": 40}}
    (directory / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    defaults = yaml.safe_load((directory / "defaults.yaml").read_text())
    defaults["port"] = common_free_port(list(addrs.values()))
    (directory / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    (directory / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    return names


def lab(state: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "iospki.lab", "--state", str(state), *args],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"lab {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout


def check_files(root: Path) -> list[str]:
    """Problems with stored files: unparseable JSON, temp files left, empty outputs."""
    bad = []
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        if p.name.startswith(".tmp-"):
            bad.append(f"temporary file left: {p}")
        elif p.suffix == ".json":
            try:
                json.loads(p.read_text())
            except ValueError as exc:
                bad.append(f"truncated JSON {p}: {exc}")
    return bad


def check_complete(root: Path, res: Any) -> list[str]:
    """Every command of every collected host is stored (a crash half-way would leave some missing)."""
    from iospki.state import store

    bad = []
    for h, r in res.ok.items():
        for cmd in r["commands"]:
            if store.read_output(root, h, cmd) is None:
                bad.append(f"{h}: output of {cmd!r} missing")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description="iospki soak run")
    ap.add_argument("--routers", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--fault-rate", type=float, default=0.10)
    ap.add_argument("--no-deploy", action="store_true", help="collect bare routers (no PKI deployed)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()

    from iospki.audit.engine import run_audit
    from iospki.operations.collection import collect_into
    from iospki.operations.runner import open_context
    from iospki.state import store
    from iospki.state.loader import load_collection

    rng = random.Random(args.seed)
    work = args.keep or Path(tempfile.mkdtemp(prefix="iospki-soak-"))
    inv, state = work / "inventory", work / "state"
    names = write_inventory(inv, args.routers)
    t0 = time.monotonic()
    lab(state, "up", "--inventory", str(inv), "--quiet", "--timeout", "600")
    injected: Counter[str] = Counter()
    reported: Counter[str] = Counter()
    unreported: list[str] = []
    file_problems: list[str] = []
    incomplete: list[str] = []
    try:
        print(f"lab up: {len(names)} routers in {time.monotonic() - t0:.1f}s", flush=True)
        if not args.no_deploy:
            t1 = time.monotonic()
            proc = subprocess.run([sys.executable, "-c", "from iospki.cli import main; main()", "deploy",
                                   "--inventory", str(inv), "--backup-dir", str(work / "backups")],
                                  capture_output=True, text=True)
            print(f"deploy: exit {proc.returncode} in {time.monotonic() - t1:.1f}s", flush=True)
        for rnd_no in range(1, args.rounds + 1):
            t1 = time.monotonic()
            chosen = rng.sample(names, max(1, round(len(names) * args.fault_rate)))
            faults = {h: rng.choice(KINDS) for h in chosen}
            for h, k in faults.items():
                lab(state, "fault", h, k, "on")
                injected[k] += 1
            out = work / "rounds" / f"{rnd_no:02d}"
            ctx = open_context(str(inv), None)  # fresh sessions: a fault at login must be met
            try:
                res = collect_into(ctx, out, facts=False, description=f"round {rnd_no}")
            finally:
                ctx.close()
                for h, k in faults.items():
                    lab(state, "fault", h, k, "off")
            audit = run_audit(load_collection(out), horizon=None)
            by_host: dict[str, list[Any]] = {}
            for f in audit.findings:
                by_host.setdefault(f.host, []).append(f)
            for h, k in faults.items():
                if k in BREAKING:
                    ok = h in res.failed and bool(res.failed[h]) and any(
                        f.rule == "host-unreachable" for f in by_host.get(h, []))
                elif k == "truncate-output":
                    errs = (res.ok.get(h) or {}).get("parse_errors") or {}
                    ok = bool(errs) or bool(by_host.get(h)) or h in res.failed
                else:  # slow: must be collected completely
                    ok = h in res.ok and not check_files(out / h)
                    if not ok:
                        incomplete.append(f"round {rnd_no}: slow router {h} not collected completely")
                if ok:
                    reported[k] += 1
                elif k != "slow":
                    unreported.append(f"round {rnd_no}: {k} on {h} not reported")
            clean = [h for h in names if h not in faults]
            for h in clean:
                if h in res.failed:
                    incomplete.append(f"round {rnd_no}: {h} (no fault) failed: {res.failed[h]}")
            file_problems += check_files(out) + check_complete(out, res)
            meta = store.read_meta(out) or {}
            print(f"round {rnd_no:2d}: {len(faults)} faults ({', '.join(sorted(Counter(faults.values())))}), "
                  f"{len(meta.get('hosts_ok', []))} ok, {len(meta.get('hosts_failed', []))} failed, "
                  f"{len(audit.findings)} findings, {time.monotonic() - t1:.1f}s", flush=True)
    finally:
        lab(state, "down")
    total_inj, total_rep = sum(injected.values()), sum(reported.values())
    print()
    print(f"rounds               {args.rounds}")
    print(f"hosts                {len(names)}")
    print(f"faults injected      {total_inj}  ({dict(sorted(injected.items()))})")
    print(f"faults reported      {total_rep}  ({dict(sorted(reported.items()))}; slow = collected completely)")
    print(f"unreported faults    {len(unreported)}")
    print(f"truncated/temp files {len(file_problems)}")
    print(f"healthy hosts failed {len(incomplete)}")
    print(f"wall time            {time.monotonic() - t0:.1f}s")
    for line in (unreported + file_problems + incomplete)[:20]:
        print("  " + line)
    verdict = not unreported and not file_problems and not incomplete
    print("SOAK " + ("PASSED: no stored file truncated, no fault unreported" if verdict else "FAILED"))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
