"""Benchmark: load + parse, audit and forecast of stored collections of 1,000 to 100,000 hosts
(issue 13 §1: at most 0.5 ms per host to load and parse; audit and forecast linear in the hosts).

The outputs come from the lab twin, produced in-process (`tests.lab_outputs`: a certificate server
on an emulated CSR1000v and an ISR G1 client enrolled over SCEP, the commands `collect` reads).
They are replicated into sites of 50 hosts (one CA, 49 clients) with every date shifted by a
per-site offset and a per-site CA fingerprint, each client's dates then moved by its index in seconds
(no two hosts print the same output, as in a fleet; a memo of date strings gains nothing across hosts), written into a throwaway folder (plain writes: the
bench measures reading, not the store's durability) and deleted after each size. The folder is on
/dev/shm when there is one (`--dir` to choose): 100,000 hosts are 812,000 files, and on a disk
mounted with `discard` writing and deleting them takes far longer than the measurement, while the
files are read from the page cache in either case.

Each size is measured in a fresh subprocess (so peak memory is that size's own): the toolkit as it
is (regex fast paths, collector quiet during the load and the loaded objects frozen), and, as the
baseline of the same run, the strict parsers (every output through the TTP/line parsers the fast
paths fall back to) with the collector left alone, as the loader ran before issue 13. Both modes run
`--repeat` times, interleaved, and the run with the least load+parse CPU of each is shown: on a shared
machine other processes inflate CPU time as well as wall time, and the least is the closest to the cost.

    .venv/bin/python -m bench.bench_scale [--hosts 1000 10000 100000] [--baseline-max 10000] [--dir DIR] [--repeat 3]
    .venv/bin/python -m bench.bench_scale --parsers    # each fast path against its strict path
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench.bench_audit import lab_fingerprint, shift_dates, site_fix
from bench.stopping import unwind_on_stop_signals
from iospki.forecast import Forecast
from iospki.state import store
from iospki.state.loader import HostState

PER_SITE = 50
MODES = ("toolkit", "baseline")


# --------------------------------------------------------------------------- the collection


def lab_templates() -> dict[str, dict[str, str]]:
    """{'ca1'|'r1': {command: redacted output}} from a fresh in-process lab (about a second)."""
    from tests.lab_outputs import ARCHIVE, lab_outputs

    out: dict[str, dict[str, str]] = {}
    for (host, command), text in lab_outputs().items():
        out.setdefault(host, {})[command] = store.redact(text, [ARCHIVE])
    return out


def write_collection(root: Path, templates: dict[str, dict[str, str]], hosts: int, seed: int = 13) -> int:
    """`hosts` host folders in sites of PER_SITE; the number of files written."""
    rng = random.Random(seed)
    fp = lab_fingerprint(templates["ca1"]["show crypto pki server"])
    files = 0
    for s in range((hosts + PER_SITE - 1) // PER_SITE):
        fix = site_fix(fp, s, rng)
        site = {
            name: {store.command_filename(c): fix(t) for c, t in cmds.items()}
            for name, cmds in templates.items()
        }
        for h in range(min(PER_SITE, hosts - s * PER_SITE)):
            name = f"s{s:04d}-ca" if h == 0 else f"s{s:04d}-r{h:02d}"
            d = root / name
            d.mkdir(parents=True)
            for fname, text in site["ca1" if h == 0 else "r1"].items():
                if h:
                    # each client's outputs differ from its neighbours' (every date h seconds later, as
                    # enrollments at different times give): a parser's memo of date strings then helps
                    # no more than in a fleet (there the CA certificate's dates recur on every client)
                    text = shift_dates(text, timedelta(seconds=h))
                with open(d / fname, "w", encoding="utf-8") as f:
                    f.write(text)
                files += 1
    return files


# --------------------------------------------------------------------------- one measurement (subprocess)


def measure(
    root: Path,
    mode: str,
    load: Callable[[Path], list[HostState]] | None = None,
    forecast: Callable[[list[HostState]], Forecast] | None = None,
) -> dict[str, float]:
    """Load, audit (without its forecast) and forecast `root`, each phase timed; `load` and `forecast`
    replace the loader and the forecast (bench_fleet: the cluster's)."""
    from bench.baseline import load_baseline
    from iospki.audit import run_audit
    from iospki.forecast import forecast_states
    from iospki.state.loader import load_collection

    load = load or (load_baseline if mode == "baseline" else load_collection)
    forecast = forecast or forecast_states
    gc.collect()
    rss0 = _rss_kib()
    t0, c0 = time.perf_counter(), time.process_time()
    states = load(root)
    t1, c1 = time.perf_counter(), time.process_time()
    result = run_audit(states, horizon=None)
    t2, c2 = time.perf_counter(), time.process_time()
    fc = forecast(states)
    t3, c3 = time.perf_counter(), time.process_time()
    return {
        "hosts": len(states),
        "outputs": sum(len(s.commands) for s in states),
        "parse_errors": sum(len(s.errors) for s in states),
        "findings": len(result.findings),
        "events": len(fc.events),
        "load_s": t1 - t0,
        "audit_s": t2 - t1,
        "forecast_s": t3 - t2,
        "load_cpu": c1 - c0,
        "audit_cpu": c2 - c1,
        "forecast_cpu": c3 - c2,
        # peak resident memory above what the process held before the load (ru_maxrss: KiB on Linux)
        "rss_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _rss_kib() -> int:
    """The process's resident memory now, KiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _run(root: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_scale", "--measure", str(root), "--mode", mode],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def parsers_fast_vs_strict(templates: dict[str, dict[str, str]]) -> None:
    """Each lab output whose parser has a fast path: microseconds per parse, fast path vs strict path
    (the best of 7 repeats, which is what machine load disturbs least)."""
    import timeit

    from iospki.parsers.base import lookup

    print(f"{'lab output':<42} {'fast':>9} {'strict':>10} {'ratio':>6}")
    for host, cmds in sorted(templates.items()):
        for command, text in sorted(cmds.items()):
            func: Callable[..., object] = lookup(command)  # a fast-path parser also takes `fast`
            if "fast" not in inspect.signature(func).parameters:
                continue
            fast = min(timeit.repeat(functools.partial(func, text, None), number=200, repeat=7)) / 200
            strict = (
                min(timeit.repeat(functools.partial(func, text, None, fast=False), number=50, repeat=7)) / 50
            )
            print(
                f"{host + ': ' + command:<42} {fast * 1e6:>6.1f} us {strict * 1e6:>7.1f} us {strict / fast:>5.1f}x"
            )


# --------------------------------------------------------------------------- main


def _default_dir() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--baseline-max", type=int, default=10000, help="measure the baseline up to this size")
    ap.add_argument("--parsers", action="store_true", help="only time each fast path against its strict path")
    ap.add_argument("--dir", type=Path, default=_default_dir(), help="where to generate the collections")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each mode per size; the one with the least load CPU is shown",
    )
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--mode", choices=MODES, default="toolkit", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.mode)))
        return
    t = time.perf_counter()
    templates = lab_templates()
    print(f"lab outputs: {sum(len(c) for c in templates.values())} in {time.perf_counter() - t:.1f} s")
    if args.parsers:
        parsers_fast_vs_strict(templates)
        return
    print(
        "per host: wall ms (CPU ms of the process); memory: peak RSS above the RSS before the load;"
        f" each mode the best of {args.repeat} interleaved runs (least load CPU: machine load inflates CPU time too)"
    )
    print(
        f"{'hosts':>7} {'mode':<9} {'load+parse':>10} {'per host':>16} {'audit':>8} {'per host':>16}"
        f" {'forecast':>8} {'per host':>16} {'memory':>9} {'per host':>9}"
    )
    # stopped, the `finally` below removes the collection: at 100,000 hosts 812,000 files, 3 GiB on /dev/shm
    unwind_on_stop_signals()
    for n in args.hosts:
        root = Path(tempfile.mkdtemp(prefix=f"iospki-scale-{n}-", dir=args.dir))
        try:
            t = time.perf_counter()
            files = write_collection(root, templates, n)
            print(
                f"{n:>7} generated: {files} files in {root} in {time.perf_counter() - t:.1f} s (not measured)"
            )
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeat):  # interleaved, so that both modes meet the same machine load
                for mode in MODES:
                    if mode == "baseline" and n > args.baseline_max:
                        continue
                    r = _run(root, mode)
                    assert r["hosts"] == n and r["parse_errors"] == 0, r
                    if mode not in best or r["load_cpu"] < best[mode]["load_cpu"]:
                        best[mode] = r
            for mode, r in best.items():
                k = 1000 / n

                def cell(key: str, r: dict[str, float] = r, k: float = k) -> str:
                    return f"{r[key + '_s']:>6.2f} s {r[key + '_s'] * k:>6.3f} ({r[key + '_cpu'] * k:.3f}) ms"

                print(
                    f"{n:>7} {mode:<9} {cell('load')} {cell('audit')} {cell('forecast')}"
                    f" {r['rss_mib']:>5.0f} MiB {r['rss_mib'] * 1024 / n:>5.1f} KiB",
                    flush=True,
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"(load+parse target: at most 0.5 ms per host; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:  # the collection was removed on the way out (the `finally` above)
        print(f"bench_scale: stopped ({exc or 'Ctrl-C'})", file=sys.stderr)
        raise SystemExit(130) from None
