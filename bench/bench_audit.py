"""Benchmark: audit + forecast of a stored collection of 1,000 hosts (target < 10 s).

`--source lab` (default): starts the lab twin (`python -m iospki.lab`, through the test
fixture), builds a CA (730/365, auto-rollover 30) with two auto-enroll clients (enrolled
on day 0 and day 73), captures their outputs over SSH, and replicates them into 20 sites
of 50 hosts with every date shifted by a per-site offset and a per-site CA fingerprint.
`--source samples`: the same shape from tests/pki_samples.py (no lab needed).
Then it times loading (parsing every output), the audit and the forecast; the load is also timed
as it ran before issue 13 (strict parsers, collector on: bench/baseline.py) in the same run.

    .venv/bin/python -m bench.bench_audit [--hosts 1000] [--source lab|samples] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bench.baseline import load_baseline
from iospki.audit import RULES, run_audit
from iospki.forecast import forecast_states
from iospki.reports import render
from iospki.state import store
from iospki.state.loader import load_collection
from tests.pki_samples import Client, Server, Site, write_site


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


_MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_IOS_T = re.compile(
    r"(\d{1,2}):(\d{2}):(\d{2})(\.\d+)? (UTC) ((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2}) (\d{4})"
)
_ISO_T = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")


def shift_dates(text: str, by: timedelta) -> str:
    """Move every IOS and ISO time stamp in `text` by `by` (weekday recomputed)."""

    def ios(m: re.Match[str]) -> str:
        t = datetime(int(m[9]), _MON.index(m[7]) + 1, int(m[8]), int(m[1]), int(m[2]), int(m[3])) + by
        wd = f"{t:%a} " if m[6] else ""
        return f"{t:%H:%M:%S}{m[4] or ''} {m[5]} {wd}{t:%b} {t.day} {t.year}"

    def iso(m: re.Match[str]) -> str:
        year, month, day, hour, minute, second = (int(x) for x in m.groups())  # _ISO_T has six groups
        t = datetime(year, month, day, hour, minute, second) + by
        return f"{t:%Y-%m-%dT%H:%M:%S}Z"

    return _ISO_T.sub(iso, _IOS_T.sub(ios, text))


def capture_lab(dest: Path) -> dict[str, dict[str, str]]:
    """Outputs of a lab CA and two clients (day-0 and day-73 enrollments), collected on day 73."""
    from tests.lab_fixture import start_lab
    from tests.test_forecast_lab import COMMANDS, HOSTS, START, Lab, enroll, iso, setup_ca

    handle = start_lab(dest, hosts=HOSTS, start=iso(START), rate=0.0)
    lab = Lab(handle)
    try:
        setup_ca(lab, 30)
        enroll(lab, "r1")
        lab.set_clock(START + timedelta(days=73))
        enroll(lab, "r2")
        out: dict[str, dict[str, str]] = {}
        for name in ("ca1", "r1", "r2"):
            cmds = COMMANDS + (
                ["show crypto pki server", "show crypto pki server CA requests"] if name == "ca1" else []
            )
            out[name] = {c: store.redact(lab.show(name, c), ["forecast-lab-pass"]) for c in cmds}
        return out
    finally:
        lab.close()
        handle.stop()


def lab_fingerprint(server_output: str) -> str:
    """The CA fingerprint `show crypto pki server` printed (spaced), '' when none."""
    m = re.search(r"CA cert fingerprint: ([0-9A-F ]+?)\s*$", server_output, re.M)
    return m.group(1).strip() if m else ""


def site_fix(fp: str, site: int, rng: random.Random) -> Callable[[str], str]:
    """The rewrite of one generated site's outputs: every date shifted by a random offset, the
    lab CA's fingerprint `fp` replaced by one of the site's own."""
    by = timedelta(days=rng.randint(-400, 400), seconds=rng.randint(0, 86399))
    new_fp = hashlib.md5(f"site{site}".encode()).hexdigest().upper()  # noqa: S324 - a stand-in fingerprint
    new_spaced = " ".join(new_fp[i : i + 8] for i in range(0, 32, 8))

    def fix(text: str) -> str:
        text = shift_dates(text, by)
        return text.replace(fp, new_spaced).replace(fp.replace(" ", ""), new_fp) if fp else text

    return fix


def replicate(root: Path, captured: dict[str, dict[str, str]], hosts: int, seed: int = 6) -> None:
    rng = random.Random(seed)
    fp = lab_fingerprint(captured["ca1"]["show crypto pki server"])
    per_site = 50
    for s in range(max(1, hosts // per_site)):
        fix = site_fix(fp, s, rng)
        for cmd, text in captured["ca1"].items():
            store.write_output(root, f"s{s:02d}-ca", cmd, fix(text))
        for c in range(per_site - 1):
            tmpl = captured["r1" if c % 2 == 0 else "r2"]
            for cmd, text in tmpl.items():
                store.write_output(root, f"s{s:02d}-r{c:02d}", cmd, fix(text))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--keep", type=Path, default=None, help="write the collection here and keep it")
    ap.add_argument("--source", choices=["lab", "samples"], default="lab")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="iospki-bench-"))
    try:
        t0 = time.perf_counter()
        if args.source == "lab":
            captured = capture_lab(Path(tempfile.mkdtemp(prefix="iospki-bench-lab-")))
            print(f"captured lab outputs in {time.perf_counter() - t0:.1f} s")
            replicate(root, captured, args.hosts)
        else:
            generate(root, args.hosts)
        # the baseline of the same run first (strict parsers, collector untouched: bench/baseline.py)
        gc.collect()
        b0, bc0 = time.perf_counter(), time.process_time()
        n_base = len(load_baseline(root))
        b1, bc1 = time.perf_counter(), time.process_time()
        gc.collect()
        t1, c1 = time.perf_counter(), time.process_time()
        states = load_collection(root)
        t2, c2 = time.perf_counter(), time.process_time()
        result = run_audit(states, horizon=None)
        t3 = time.perf_counter()
        fc = forecast_states(states)
        t4 = time.perf_counter()
        errors = sum(len(s.errors) for s in states)
        print(
            f"hosts: {len(states)}  outputs: {sum(len(s.commands) for s in states)}  parse errors: {errors}"
        )
        print(f"generate collection : {t1 - t0:6.2f} s (not part of the target)")
        k = 1000 / max(1, len(states))
        print(
            f"load + parse        : {t2 - t1:6.2f} s  {(t2 - t1) * k:.3f} ms/host ({(c2 - c1) * k:.3f} ms CPU)"
            f"  baseline (strict parsers, collector on): {b1 - b0:.2f} s  {(b1 - b0) * 1000 / max(1, n_base):.3f}"
            f" ms/host ({(bc1 - bc0) * 1000 / max(1, n_base):.3f} ms CPU)  target: at most 0.5 ms/host"
        )
        print(f"audit ({len(RULES)} rules)    : {t3 - t2:6.2f} s  findings: {len(result.findings)}")
        print(f"forecast (3y)       : {t4 - t3:6.2f} s  events: {len(fc.events)}  outages: {len(fc.outages)}")
        total = t4 - t1
        print(f"audit + forecast    : {total:6.2f} s  (target < 10 s: {'OK' if total < 10 else 'MISSED'})")
        result = run_audit(states)  # with the forecast, as the reports use it
        for fmt in ("json", "junit", "markdown", "csv", "prometheus", "html"):
            t5 = time.perf_counter()
            size = len(render(result, fmt))
            print(f"report {fmt:<12} : {time.perf_counter() - t5:6.2f} s  ({size / 1e6:.1f} MB)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
