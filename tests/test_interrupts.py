"""Ctrl-C (SIGINT) in `collect`, `deploy` and `demo`, run as subprocesses against the lab (issue 12 §5).

Each command must stop within a few seconds of the device exchange in flight, print what it did per host
(deploy: what reached each router, and where the backups are), mark an interrupted collection in meta.json,
and exit 130 without a traceback. The lab's `slow` fault (0.5 s per line) on the clients makes the runs long
enough to be interrupted half-way; the CA server stays fast, so its config changing marks a moment in the deploy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.lab_fixture import LabHandle, MakeLab, listening, write_inventory
from tests.toolkit_support import ENV, HOST_DATA, HOSTS, device, need_pki, no_timestamps

pytestmark = pytest.mark.lab

EXIT_INTERRUPTED = 130
# "within 2 s of the current device exchange": the exchange itself (a slow router's `show running-config`
# takes a few seconds) plus closing the sessions, on a loaded machine
STOP_BUDGET = 8.0
FAST = "ca1"  # the one router without the slow fault
SLOW = [name for name, _ in HOSTS if name != FAST]


@pytest.fixture(scope="module")
def lab(make_lab_module: MakeLab) -> Iterator[LabHandle]:
    handle = make_lab_module(hosts=HOSTS, host_data=HOST_DATA)
    need_pki(handle)
    _slow(handle, True)
    yield handle


def _slow(lab: LabHandle, on: bool) -> None:
    for name in SLOW:
        lab.fault(name, "slow", on)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ENV}


def _start(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from iospki.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=cwd,
    )


def _interrupt_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 180
) -> tuple[int, str, str, float]:
    """SIGINT `proc` once `ready()`; (exit code, stdout, stderr, seconds from the signal to the exit)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(
                f"the command ended (exit {proc.returncode}) before it could be interrupted:\n{out}\n{err}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the command never reached the point to interrupt")
        time.sleep(0.05)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 120 s after Ctrl-C:\n{out}\n{err}")
    return proc.returncode, out, err, time.monotonic() - t0


def test_collect_ctrl_c_stops_and_marks_the_collection(lab: LabHandle, tmp_path: Path) -> None:
    out_dir = tmp_path / "coll"
    proc = _start("collect", "--inventory", str(lab.inventory_dir), "--output", str(out_dir))
    # interrupted once the first outputs are stored: the routers are half-way through their commands
    rc, out, err, secs = _interrupt_when(proc, lambda: any(out_dir.glob("*/show_version.txt")))
    assert rc == EXIT_INTERRUPTED, (out, err)
    assert secs < STOP_BUDGET, f"took {secs:.1f}s to stop"
    assert "Traceback" not in out + err
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta.get("interrupted") is True, meta
    # the per-host summary: every host named, the unfinished ones as interrupted
    for name in lab.hosts:
        assert name in out, out
    assert "interrupted (Ctrl-C)" in out
    unfinished = [h for h in lab.hosts if (out_dir / h / "_error.txt").is_file()]
    assert unfinished, "a slow router cannot have read every command within the first second"
    for h in unfinished:
        assert "interrupted" in (out_dir / h / "_error.txt").read_text()
    assert "marked interrupted" in err


def test_deploy_ctrl_c_reports_what_reached_each_router(lab: LabHandle, tmp_path: Path) -> None:
    # the test's own reads of the routers' state go at full speed (a slow router takes ~6 s to log in and show
    # its running config); only the deploy runs against the slow routers
    _slow(lab, False)
    try:
        before = {h: no_timestamps(device(lab, h, "show running-config")) for h in lab.hosts}
    finally:
        _slow(lab, True)
    backups = tmp_path / "backups"
    proc = _start("deploy", "--inventory", str(lab.inventory_dir), "--backup-dir", str(backups))

    def pushed() -> bool:  # the fast CA server got its prerequisites; the slow clients are still at work
        if not any(backups.glob(f"{FAST}/running-config-*.txt")):
            return False
        return no_timestamps(device(lab, FAST, "show running-config")) != before[FAST]

    rc, out, err, secs = _interrupt_when(proc, pushed)
    _slow(lab, False)  # the deploy has ended: the reads and the re-run below go at full speed
    assert rc == EXIT_INTERRUPTED, (out, err)
    assert secs < STOP_BUDGET, f"took {secs:.1f}s to stop"
    assert "Traceback" not in out + err
    assert "deploy interrupted (Ctrl-C)" in err, err
    assert f"running-config backups (before any change): {backups.resolve()}" in err.replace("\n", "")
    report = {
        ln.split(":", 1)[0].strip(): ln.split(":", 1)[1].strip()
        for ln in err.splitlines()
        if ln.startswith("  ")
    }
    assert set(report) == set(lab.hosts), err
    for h, said in report.items():
        after = no_timestamps(device(lab, h, "show running-config"))
        if said == "nothing changed":
            assert after == before[h], f"{h}: reported unchanged, but its running config changed"
        else:
            assert said.startswith("changed: "), said
            assert "part-way" not in said  # a config exchange in flight was allowed to finish
            assert after != before[h], f"{h}: reported '{said}', but its running config is as before"
    assert report[FAST] != "nothing changed", report
    # nothing was left half-done that a normal run cannot finish
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from iospki.cli import main; main()",
                "deploy",
                "--inventory",
                str(lab.inventory_dir),
                "--backup-dir",
                str(tmp_path / "again"),
            ],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        _slow(lab, True)


def test_demo_ctrl_c_stops_its_step_and_its_lab(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    hosts = write_inventory(inv, HOSTS, host_data=HOST_DATA)
    out_dir = tmp_path / "out"
    proc = _start("demo", "--inventory", str(inv), "--output", str(out_dir), cwd=tmp_path)
    # interrupted in the middle of its deploy step (the step that changes routers)
    rc, out, err, secs = _interrupt_when(proc, lambda: any((out_dir / "backups").glob("*/running-config-*")))
    assert rc == EXIT_INTERRUPTED, (out, err)
    assert secs < 3 * STOP_BUDGET, f"took {secs:.1f}s to stop"
    assert "Traceback" not in out + err
    assert "deploy interrupted (Ctrl-C)" in err  # the step said what it changed
    assert "interrupted (Ctrl-C): no further step was started, the lab was stopped" in err
    assert "collect (before)" not in out  # no step started after the Ctrl-C
    assert not any(listening(h.address, h.port) for h in hosts.values()), "the demo's lab is still running"
