"""Ctrl-C (SIGINT) to a real `iospki collect --cluster` / `iospki deploy --cluster` process: the run stops on the
workers as a local run stops (tests/test_interrupts.py), through a real loopback Dask cluster and the lab.

One worker slot per site, so at the signal some hosts run on a worker and others wait. The lab's `slow` fault
(0.5 s per line) on the clients keeps them busy; ca1 (the CA server) stays fast, so it finishes first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nornir.core.task import Result, Task

from iospki.cluster import DaskRunner
from iospki.cluster.journal import JOURNAL_FILE, Journal
from iospki.cluster.stopping import ANSWER_WITHIN
from iospki.operations import interrupt
from iospki.operations.inventory import load_nornir
from tests.cluster_fixture import Cluster, lab_and_cluster
from tests.lab_fixture import LabHandle
from tests.test_interrupts import _interrupt_when
from tests.toolkit_support import NTP, ca_intent, device, need_pki, no_timestamps, tp_intent

# each needs slow routers to be half-way through a run: 1.5-2.5 min on the 2-core box (with setup), so `make slow`
pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(400)]

EXIT_INTERRUPTED = 130
# the device exchange in flight on a slow router (several seconds), the client's goodbye to the cluster, on a
# loaded box; a stop that did not reach the workers takes minutes (the waiting hosts would all be collected)
STOP_BUDGET = 30.0
HOSTS = [("ca1", "csr1k"), ("r1", "isr_g1"), ("r3", "isr4k"), ("r2", "isr_g2"), ("r4", "asr1k")]
SITES = {"ca1": "a", "r1": "a", "r2": "a", "r3": "b", "r4": "b"}
FAST = "ca1"
SLOW = [h for h in SITES if h != FAST]
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("IOSPKI_", "DASK_"))}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHandle, Cluster]]:
    data: dict[str, dict[str, Any]] = {h: {"site": s, "ntp_servers": NTP} for h, s in SITES.items()}
    data[FAST]["ca_server"] = ca_intent()
    for h in SLOW:
        data[h]["trustpoints"] = [tp_intent()]
    base = tmp_path_factory.mktemp("cluster-interrupt")
    with lab_and_cluster(base, HOSTS, data, {"wa1": "a", "wb1": "b"}, slots=1) as (lab, cluster):
        need_pki(lab)
        yield lab, cluster


def _slow(lab: LabHandle, on: bool) -> None:
    for h in SLOW:
        lab.fault(h, "slow", on)


def _iospki(*args: str) -> subprocess.Popen[str]:
    """The CLI as an operator runs it: no device credentials in its environment (the workers hold them)."""
    return subprocess.Popen([sys.executable, "-c", "from iospki.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLEAN_ENV)  # fmt: skip


def _executing(cluster: Cluster) -> list[str]:
    """The task keys the cluster's workers are executing right now."""
    with cluster.client() as c:
        per_worker = c.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing])
    return sorted(k for keys in per_worker.values() for k in keys)


def _workers_idle(cluster: Cluster, within: float = 10.0) -> None:
    """The workers stopped their hosts too (before this change they went on collecting after the client left)."""
    deadline = time.monotonic() + within
    while (busy := _executing(cluster)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not busy, f"workers still running {busy} {within:g} s after the client exited"


def _collecting(cluster: Cluster) -> set[str]:
    return {h for k in _executing(cluster) for h in SITES if k.startswith(f"iospki-collect-{h}-")}


def test_collect_ctrl_c_stops_the_workers_and_resume_redoes_only_the_rest(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    lab, cluster = env
    out_dir = tmp_path / "coll"
    journal = Journal(out_dir / JOURNAL_FILE, "collect")
    _slow(lab, True)
    proc = _iospki("collect", "-i", str(lab.inventory_dir), "-o", str(out_dir), "--no-facts",
                   "--cluster", cluster.address)  # fmt: skip

    def ready() -> bool:  # a host finished (journaled), one runs on each site's worker, one at least waits
        done, busy = set(journal.finished()), _collecting(cluster)
        return bool(done) and len(busy) == 2 and len(done | busy) < len(SITES)

    rc, out, err, secs = _interrupt_when(proc, ready)
    assert rc == EXIT_INTERRUPTED, (out, err)
    assert secs < STOP_BUDGET, f"took {secs:.1f}s to stop"
    assert "Traceback" not in out + err
    assert "marked interrupted" in err, err
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta.get("interrupted") is True, meta
    for h in SITES:
        assert h in out, out
    _workers_idle(cluster)
    # finished hosts are in the journal; started ones stopped at their next device exchange (what they read
    # came back); waiting ones were cancelled without a session to their router
    finished = set(journal.finished())
    started, waited = set(), set()
    for h in SITES:
        error = out_dir / h / "_error.txt"
        if h in finished:
            assert not error.exists(), h
            continue
        said = error.read_text()
        assert "interrupted (Ctrl-C)" in said, (h, said)
        if "before it started" in said:
            waited.add(h)
            assert sorted(p.name for p in (out_dir / h).iterdir()) == ["_error.txt"], h
        else:
            started.add(h)
            assert (out_dir / h / "show_version.txt").is_file(), h
    assert finished and started and waited, (finished, started, waited)

    # --resume: the interrupted hosts are collected, the finished ones are not read again
    kept = {h: (out_dir / h / "show_version.txt").stat() for h in finished}
    _slow(lab, False)
    again = _iospki("collect", "-i", str(lab.inventory_dir), "-o", str(out_dir), "--no-facts",
                    "--cluster", cluster.address, "--resume")  # fmt: skip
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, out + err
    for h, st in kept.items():
        now = (out_dir / h / "show_version.txt").stat()
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns), h
    meta = json.loads((out_dir / "meta.json").read_text())
    assert "interrupted" not in meta and meta["hosts_ok"] == sorted(SITES), meta
    assert not any((out_dir / h / "_error.txt").exists() for h in SITES)
    assert not (out_dir / JOURNAL_FILE).exists()


def test_deploy_ctrl_c_reports_what_reached_each_router(env: tuple[LabHandle, Cluster], tmp_path: Path) -> None:
    lab, cluster = env
    _slow(lab, True)
    before = {h: no_timestamps(device(lab, h, "show running-config")) for h in SITES}
    backups = tmp_path / "backups"
    proc = _iospki("deploy", "-i", str(lab.inventory_dir), "--backup-dir", str(backups), "--cluster", cluster.address)

    def pushed() -> bool:  # the fast CA server got its prerequisites; slow clients are at work on both sites
        if not any(backups.glob(f"{FAST}/running-config-*.txt")):
            return False
        busy = _executing(cluster)
        return sum(any(f"-{h}-" in k for k in busy) for h in SLOW) >= 2

    rc, out, err, secs = _interrupt_when(proc, pushed)
    assert rc == EXIT_INTERRUPTED, (out, err)
    assert secs < STOP_BUDGET, f"took {secs:.1f}s to stop"
    assert "Traceback" not in out + err
    assert "deploy interrupted (Ctrl-C)" in err, err
    _workers_idle(cluster)
    report = {
        ln.split(":", 1)[0].strip(): ln.split(":", 1)[1].strip() for ln in err.splitlines() if ln.startswith("  ")
    }
    assert set(report) == set(SITES), err
    changed = 0
    for h, said in report.items():
        after = no_timestamps(device(lab, h, "show running-config"))
        if said == "nothing changed":
            assert after == before[h], f"{h}: reported unchanged, but its running config changed"
        else:  # what the worker recorded reached the client: the same words as a local run
            assert said.startswith("changed: "), said
            assert "part-way" not in said  # a config exchange in flight was allowed to finish
            assert after != before[h], f"{h}: reported '{said}', but its running config is as before"
            changed += 1
    assert report[FAST] != "nothing changed", report
    assert changed < len(SITES), "every router was changed: the interrupt came too late to show anything"
    _slow(lab, False)


def test_a_second_ctrl_c_quits_at_once_naming_the_started_changes(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    lab, cluster = env
    _slow(lab, True)
    proc = _iospki("deploy", "-i", str(lab.inventory_dir), "--backup-dir", str(tmp_path / "b"),
                   "--cluster", cluster.address)  # fmt: skip
    phase = "iospki-backup + prerequisites-"

    def started() -> set[str]:
        return {h for k in _executing(cluster) for h in SLOW if k.startswith(f"{phase}{h}-")}

    deadline = time.monotonic() + 180
    while len(busy := started()) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    time.sleep(2.0)  # the client stops the run on the workers; the slow routers are still in their exchanges
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    secs = time.monotonic() - t0
    assert proc.returncode == EXIT_INTERRUPTED, (out, err)
    assert secs < STOP_BUDGET / 3, f"took {secs:.1f}s to quit"
    assert "Traceback" not in out + err and "quit (second Ctrl-C)" in err, err
    unknown = {ln.split(":", 1)[0] for ln in err.splitlines() if ": outcome unknown: quit during" in ln}
    assert unknown and unknown <= busy, (busy, err)  # named: the changing hosts still out on a worker
    for h in unknown:
        assert f"{h}: outcome unknown: quit during backup + prerequisites on cluster worker tcp://127.0.0.1:" in err
    _workers_idle(cluster, within=30.0)  # they got the stop before the client quit
    _slow(lab, False)


def _change_and_hold(task: Task, log: str, hold: float) -> Result:
    """A changing task stuck in its exchange: notes that it started (a push reached the router), then holds
    without looking at Ctrl-C, as a router that stopped answering half-way through a push would hold it."""
    with open(log, "a") as fh:
        fh.write(f"{task.host.name}\n")
    time.sleep(hold)
    return Result(host=task.host, result="pushed", changed=True)


def test_changes_that_never_report_back_are_outcome_unknown_even_from_a_hung_worker(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    """Ctrl-C (what its handler does: interrupt.STOP) while site a's worker holds a stuck change and site b's
    worker hangs (SIGSTOP): the run still ends, after the worker's answer timeout and `stop_grace`."""
    lab, cluster = env
    log = tmp_path / "pushes.log"
    nr = load_nornir(lab.inventory_dir).with_runner(DaskRunner(scheduler=cluster.address, stop_grace=3.0))
    hung = cluster.workers["wb1"]
    stopped_at: list[float] = []

    def ctrl_c_with_a_hung_worker() -> None:
        deadline = time.monotonic() + 120
        while len(log.read_text().split() if log.is_file() else []) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # one host started on each worker
        hung.send_signal(signal.SIGSTOP)
        stopped_at.append(time.monotonic())
        interrupt.STOP.set()

    ctrl_c = threading.Thread(target=ctrl_c_with_a_hung_worker)
    ctrl_c.start()
    try:
        res = nr.run(task=_change_and_hold, log=str(log), hold=15.0)
    finally:
        ctrl_c.join()
        hung.send_signal(signal.SIGCONT)
        interrupt.STOP.clear()
    secs = time.monotonic() - stopped_at[0]
    assert secs < ANSWER_WITHIN + 3.0 + 15.0, f"took {secs:.1f}s to end"
    started = set(log.read_text().split())
    assert len(started) == 2, started
    cancelled = set()
    for h, mr in res.items():
        assert mr.failed, f"{h}: reported done"
        said = str(mr[0].result)
        if said == f"{h}: interrupted (Ctrl-C) before it started":
            cancelled.add(h)  # site a's waiting hosts: its worker answered, they had not started
        else:  # started, or waiting on the hung worker (nothing is known there): never counted done or re-sent
            assert said.startswith(f"{h}: outcome unknown: ") and "not sent again" in said, said
            assert type(mr[0].exception).__name__ == "OutcomeUnknown"
    assert cancelled and not cancelled & started and all(SITES[h] == "a" for h in cancelled), (cancelled, started)
