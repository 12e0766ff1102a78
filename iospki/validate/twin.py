"""The lab twin as a child process: `python -m iospki.lab --state DIR ...` (the toolkit never imports the lab;
it must stay its own process)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from iospki.validate.model import ValidateError, iso


def naive(t: datetime) -> datetime:
    """Naive UTC, as the parsers and the forecast use."""
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


class LabProcess:
    """`python -m iospki.lab --state DIR ...` as a child process (never imported)."""

    def __init__(self, state: Path, phases: dict[str, float] | None = None) -> None:
        self.state = state
        self.running = False
        self.phases = phases if phases is not None else {}

    def _run(self, *args: str, timeout: float = 1800) -> str:
        t0 = time.monotonic()
        try:
            return self._run_timed(*args, timeout=timeout)
        finally:
            key = f"lab {args[0]}"
            self.phases[key] = self.phases.get(key, 0.0) + time.monotonic() - t0

    def _run_timed(self, *args: str, timeout: float) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "iospki.lab", "--state", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise ValidateError(f"lab {args[0]} failed: {(proc.stderr or proc.stdout).strip()[-1500:]}")
        return proc.stdout

    def up(self, inventory: Path, start: str | None) -> None:
        args = ["up", "--inventory", str(inventory), "--quiet"]
        if start:
            args += ["--start", start]
        self._run(*args, timeout=300)
        self.running = True

    def down(self) -> None:
        if self.running:
            try:
                self._run("down", timeout=60)
            finally:
                self.running = False

    def now(self) -> datetime:
        return naive(datetime.fromisoformat(self._run("clock", "show").split()[0]))

    def set_clock(self, at: datetime) -> datetime:
        """Move the lab clock forward to `at` (naive UTC), running every device timer on the way."""
        return naive(datetime.fromisoformat(self._run("clock", "set", iso(at)).split()[0]))
