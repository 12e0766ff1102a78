"""A benchmark stopped by SIGTERM (`timeout`, the end of a CI job) or Ctrl-C removes what it generated: at
100,000 hosts `bench_scale`'s collection is 812,000 files, 3 GiB of RAM on /dev/shm, left behind otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_bench_scale_stopped_mid_generation_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_scale", "--hosts", "20000", "--repeat", "1", "--dir", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # wait until the collection is being written (its folder holds host folders), then stop the bench
        deadline = time.monotonic() + 60
        roots: list[Path] = []
        while time.monotonic() < deadline and proc.poll() is None:
            roots = list(tmp_path.iterdir())
            if roots and any(True for _ in roots[0].iterdir()):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        assert roots and any(roots[0].iterdir()), "the bench never started writing"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    assert "bench_scale: stopped" in err
    assert list(tmp_path.iterdir()) == []
