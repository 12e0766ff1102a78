"""Parse speed of `show crypto pki certificates` on the 200-certificate benchmark input:
iospki beside genie's IOS-XE parser (schema-less `.cli()` and the `device.parse` path)
and a single-regex-pass floor. A script that prints figures, not a test.

    .venv/bin/python -m bench.bench_parsers [--calls 60] [--input FILE] [--genie-python PY]

Method (as in the project's parser-anchors notes): every row runs in its own fresh
subprocess (genie's rv1 schema keeps state between calls); the same text is parsed
`--calls` times; per call CPU time (`time.process_time`) is taken. warm = median of calls
2-11 (parses/s = 1000 / warm ms), late = median of the last 10 calls, cold = wall time of
call 1; each row runs `--rounds` times, interleaved, and the median is shown. genie runs under `--genie-python` (default: this interpreter, or the env variable
IOSPKI_BENCH_GENIE_PYTHON); when genie cannot be imported there the rows say so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO.parent / "shared" / "fixtures" / "bench" / "show_crypto_pki_certificates_200_mixed.txt"

# Each row is a small program run in a fresh interpreter. It defines `setup()` returning a
# callable that parses TEXT and returns the number of certificates recovered.
_TIMER = r"""
import json, sys, time
TEXT = open(sys.argv[1]).read()
CALLS = int(sys.argv[2])
fn = setup()
cpu, wall, counts = [], [], []
for _ in range(CALLS):
    w, c = time.perf_counter(), time.process_time()
    n = fn()
    cpu.append(time.process_time() - c)
    wall.append(time.perf_counter() - w)
    counts.append(n)
print(json.dumps({"cpu": cpu, "wall": wall, "count": counts[-1], "counts_stable": len(set(counts)) == 1}))
"""

# genie returns a dict: count the certificates of every trustpoint (same count as the typed parser's list)
_GENIE_COUNT = """
def _count(r):
    n = 0
    for tp in r.get("trustpoints", {}).values():
        for v in tp.get("associated_trustpoints", {}).values():
            n += len(v) if isinstance(v, list) else 1
    return n
"""

ROWS: dict[str, tuple[str, str]] = {
    # name: (interpreter kind, setup code)
    "iospki parse() -> typed models": (
        "self",
        """
def setup():
    from iospki.parsers import parse
    def fn():
        out = parse("show crypto pki certificates", TEXT)
        return len(out.certificates)
    return fn
""",
    ),
    "genie iosxe rv1 .cli() (no schema)": (
        "genie",
        _GENIE_COUNT + """
def setup():
    from genie.conf.base import Device
    from genie.libs.parser.iosxe.rv1.show_crypto import ShowCryptoPkiCertificates
    dev = Device("bench", os="iosxe")
    def fn():
        return _count(ShowCryptoPkiCertificates(device=dev).cli(output=TEXT))
    return fn
""",
    ),
    "genie Device(os=iosxe).parse(cmd, output=)": (
        "genie",
        _GENIE_COUNT + """
def setup():
    from genie.conf.base import Device
    dev = Device("bench", os="iosxe")
    dev.custom.setdefault("abstraction", {})["order"] = ["os"]
    def fn():
        return _count(dev.parse("show crypto pki certificates", output=TEXT))
    return fn
""",
    ),
    "floor: one re.findall of the section headers": (
        "self",
        r"""
import re
_H = re.compile(r"^[ \t]*(?:CA |Router Self-Signed )?Certificate(?: \(.*\))?[ \t]*$", re.M)
def setup():
    def fn():
        return len(_H.findall(TEXT))
    return fn
""",
    ),
}


def _genie_python(explicit: str | None) -> str | None:
    candidates = [explicit, os.environ.get("IOSPKI_BENCH_GENIE_PYTHON"), sys.executable]
    for py in candidates:
        if not py:
            continue
        try:
            probe = subprocess.run([py, "-c", "import genie.libs.parser, pyats"], capture_output=True)
        except OSError:
            continue  # no such interpreter
        if probe.returncode == 0:
            return py
    return None


def _run(py: str, setup: str, text_path: Path, calls: int) -> dict[str, object]:
    proc = subprocess.run(
        [py, "-c", setup + _TIMER, str(text_path), str(calls)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": last}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of every row")
    ap.add_argument("--genie-python", default=None, help="interpreter with genie + pyats installed")
    ap.add_argument(
        "--expect", type=int, default=200, help="certificates the input holds (iospki must find all)"
    )
    args = ap.parse_args()
    if not args.input.is_file():
        print(f"benchmark input not found: {args.input} (needs ../shared beside the repo)")
        return 0
    if args.calls < 12:
        ap.error("--calls must be at least 12 (warm = calls 2-11)")
    genie_py = _genie_python(args.genie_python)
    size = args.input.stat().st_size
    lines = args.input.read_text().count("\n")
    print(
        f"input: {args.input.name} ({size / 1024:.0f} KiB, {lines} lines), {args.calls} calls per row, CPU time"
    )
    if genie_py is None:
        print("genie: not installed (pip install genie pyats, or --genie-python PY); genie rows skipped")
    header = f"{'parser':<46} {'certs':>6} {'warm ms':>8} {'parses/s':>9} {'late ms':>8} {'cold ms':>8}"
    print(header)
    print("-" * len(header))
    failed = False
    # rounds interleave the rows so a load spike on this shared box hits all of them alike
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in ROWS}
    for _ in range(args.rounds):
        for name, (kind, setup) in ROWS.items():
            py = sys.executable if kind == "self" else genie_py
            if py is not None:
                runs[name].append(_run(py, setup, args.input, args.calls))
    for name, (kind, _setup) in ROWS.items():
        if not runs[name]:
            print(f"{name:<46} {'-':>6}  skipped: genie not installed")
            continue
        errors = [r for r in runs[name] if "error" in r]
        if errors:
            print(f"{name:<46} {'-':>6}  error: {errors[0]['error']}")
            failed |= kind == "self"
            continue
        warms, lates, colds = [], [], []
        for r in runs[name]:
            cpu = [float(x) for x in r["cpu"]]  # type: ignore[attr-defined]
            warms.append(statistics.median(cpu[1:11]) * 1000)
            lates.append(statistics.median(cpu[-10:]) * 1000)
            colds.append(float(r["wall"][0]) * 1000)  # type: ignore[index]
        warm, late, cold = statistics.median(warms), statistics.median(lates), statistics.median(colds)
        count = int(runs[name][-1]["count"])  # type: ignore[call-overload]
        print(f"{name:<46} {count:>6} {warm:>8.2f} {1000 / warm:>9.0f} {late:>8.2f} {cold:>8.1f}")
        if name.startswith("iospki") and count != args.expect:
            print(f"  iospki recovered {count} certificates, expected {args.expect}")
            failed = True
    print(f"(median over {args.rounds} interleaved rounds; parses/s = 1000 / warm ms)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
