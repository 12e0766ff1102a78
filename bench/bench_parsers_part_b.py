"""Parses per second of the part B parsers (timers, server, requests, crls, trustpoints, keys,
clock, ntp) on the real outputs in ../shared/fixtures/real, CPU time, warm (after one call).

    .venv/bin/python -m bench.bench_parsers_part_b [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from iospki.parsers import parse

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real"
COMMANDS = {
    "show_crypto_pki_timer_detail": "show crypto pki timers detail",
    "show_crypto_pki_timers_detail": "show crypto pki timers detail",
    "show_crypto_pki_server": "show crypto pki server",
    "show_crypto_pki_server_requests": "show crypto pki server CA requests",
    "show_crypto_pki_server_crl": "show crypto pki server CA crl",
    "show_crypto_pki_crls": "show crypto pki crls",
    "show_crypto_pki_trustpoints": "show crypto pki trustpoints",
    "show_crypto_pki_trustpoints_status": "show crypto pki trustpoints status",
    "show_crypto_key_mypubkey_rsa": "show crypto key mypubkey rsa",
    "show_crypto_key_mypubkey_rsa_keyname": "show crypto key mypubkey rsa K",
    "show_clock": "show clock",
    "show_ntp_status": "show ntp status",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    if not REAL.is_dir():
        print(f"fixtures not found at {REAL}")
        return
    print(
        f"{'command (fixture folder)':40} {'files':>5} {'lines':>6} {'median ms/parse':>16} {'parses/s':>9}"
    )
    for folder, command in COMMANDS.items():
        texts = [p.read_text(encoding="utf-8") for p in sorted(REAL.glob(f"*/{folder}/*.txt"))]
        if not texts:
            continue
        for t in texts:
            parse(command, t)  # warm: template compiled, caches filled
        per_call = []
        for _ in range(args.calls):
            t0 = time.process_time()
            for t in texts:
                parse(command, t)
            per_call.append((time.process_time() - t0) / len(texts))
        ms = statistics.median(per_call) * 1000
        lines = sum(t.count("\n") + 1 for t in texts)
        print(f"{folder:40} {len(texts):5} {lines:6} {ms:16.3f} {1000 / ms if ms else float('inf'):9.0f}")


if __name__ == "__main__":
    main()
