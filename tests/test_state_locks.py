"""One lab per state directory, one collect per collection directory (issue 12 §7).

Two `lab up` on one state directory (even with different ports) used to both report success, and `down` then
stopped one lab and orphaned the other; two `collect` runs into one folder interleaved their files.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab_fixture import LabHandle, MakeLab, listening, write_inventory
from tests.toolkit_support import ENV, HOST_DATA, HOSTS, need_pki

pytestmark = pytest.mark.lab

LAB_BUSY = 3  # python -m iospki.lab: the state directory is in use by a running lab
COLLECTION_BUSY = 3  # iospki collect: another process writes the collection


def _lab_up(state: Path, inv: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "iospki.lab", "--state", str(state), "up", "--inventory", str(inv), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_second_lab_up_on_one_state_directory_fails(make_lab: MakeLab, tmp_path: Path) -> None:
    first = make_lab(hosts=[("r1", "isr_g1")])
    other = write_inventory(tmp_path / "inv", [("r1", "isr_g1")])  # other addresses and ports
    second = _lab_up(first.state_dir, tmp_path / "inv")
    out, err = second.communicate(timeout=120)
    assert second.returncode == LAB_BUSY, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(first.state_dir) in lines[0] and f"pid {first.pid}" in lines[0], lines[0]
    assert not listening(other["r1"].address, other["r1"].port), "the second lab started anyway"
    assert json.loads((first.state_dir / "lab.json").read_text())["pid"] == first.pid
    # `down` stops the one lab there is: nothing orphaned
    first.stop()
    assert not listening(first.hosts["r1"].address, first.hosts["r1"].port)


def test_two_lab_ups_at_once_start_one_lab(tmp_path: Path) -> None:
    state = tmp_path / "state"
    invs = [tmp_path / "a", tmp_path / "b"]
    hosts = [write_inventory(inv, [("r1", "isr_g1")])["r1"] for inv in invs]
    procs = [_lab_up(state, inv) for inv in invs]
    try:
        results = [p.communicate(timeout=180) for p in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes == [0, LAB_BUSY], results
        running = [h for h in hosts if listening(h.address, h.port)]
        assert len(running) == 1, "both labs run (or none)"
    finally:
        subprocess.run(
            [sys.executable, "-m", "iospki.lab", "--state", str(state), "down"], capture_output=True
        )
    assert not any(listening(h.address, h.port) for h in hosts), "a lab was orphaned by `down`"


@pytest.fixture(scope="module")
def slow_lab(make_lab_module: MakeLab) -> LabHandle:
    handle = make_lab_module(hosts=HOSTS, host_data=HOST_DATA)
    need_pki(handle)
    return handle


def _slow(lab: LabHandle, on: bool) -> None:
    for name in lab.hosts:
        lab.fault(name, "slow", on)


def _collect(lab: LabHandle, out: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    return subprocess.Popen(
        [sys.executable, "-c", "from iospki.cli import main; main()", "collect", "--no-facts"]
        + ["--inventory", str(lab.inventory_dir), "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_second_collect_into_one_directory_fails(slow_lab: LabHandle, tmp_path: Path) -> None:
    out = tmp_path / "coll"
    # slow routers (0.5 s per line, ~3.5 s per command through netmiko) keep the first run busy while the
    # second one starts; once the second was refused they turn fast again, so the first one does not spend
    # a minute finishing its commands at the slow pace (that adds nothing to what this test checks)
    _slow(slow_lab, True)
    try:
        first = _collect(slow_lab, out)
        deadline = time.monotonic() + 120
        while not (out / "meta.json").is_file():  # the first run holds the folder once it wrote meta.json
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = _collect(slow_lab, out)
        s_out, s_err = second.communicate(timeout=120)
        assert first.poll() is None, "the first collect ended before the second was refused: test too slow"
    finally:
        _slow(slow_lab, False)
    assert second.returncode == COLLECTION_BUSY, s_out + s_err
    lines = s_err.strip().splitlines()
    assert len(lines) == 1, s_err
    assert str(out) in lines[0] and f"pid {first.pid}" in lines[0], lines[0]
    f_out, f_err = first.communicate(timeout=300)
    assert first.returncode == 0, f_out + f_err
    meta = json.loads((out / "meta.json").read_text())
    assert sorted(meta["hosts_ok"]) == sorted(slow_lab.hosts) and not meta.get("interrupted"), meta
    # once the first run ended the folder is free again (the kernel dropped its lock)
    fd = os.open(out / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
