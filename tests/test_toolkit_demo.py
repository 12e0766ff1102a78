"""`iospki demo` (what `make demo` runs), as a real subprocess on its own lab inventory: it must finish, leave its
outputs, contain no secrets and stop its lab."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab_fixture import write_inventory
from tests.toolkit_support import HOST_DATA, HOSTS, grep_secrets

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_demo_end_to_end(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    hosts = write_inventory(inv, HOSTS, host_data=HOST_DATA)
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from iospki.cli import main; main()",
            "demo",
            "--inventory",
            str(inv),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith("IOSPKI_")},
    )
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "demo complete" in proc.stdout
    # the summary table lists every step, none failed (the lab clock advance included)
    summary = proc.stdout.split("Demo steps", 1)[1]
    for step in ("deploy --dry-run", "collect (before)", "lab clock advance", "verify rollover -> after"):
        assert step in summary, summary
    assert "FAILED" not in summary, summary
    for part in ("backups", "before", "rollover", "after"):
        assert (out / part).is_dir(), part
    assert (out / "after" / "r1" / "show_crypto_pki_certificates_verbose.txt").is_file()
    assert took < 300, f"demo took {took:.0f}s"
    assert grep_secrets([out], [proc.stdout, proc.stderr]) == []
    # the lab is gone: nothing answers on the CA's address any more
    ca = hosts["ca1"]
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(2)
        s.connect((ca.address, ca.port))
