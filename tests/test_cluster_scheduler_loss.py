"""The scheduler itself dies mid-run: every host still out is reported by name -- a started change as
"outcome unknown" -- and the run returns instead of hanging (no devices needed: the task only waits)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from nornir.core.task import Result, Task

from iospki.cluster import DaskRunner
from iospki.operations.inventory import load_nornir
from tests.cluster_fixture import LAB_WORKER_ENV, start_cluster
from tests.lab_fixture import write_inventory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _wait_a_while(task: Task, log: str) -> Result:
    with open(log, "a") as fh:
        fh.write(task.host.name + "\n")
    time.sleep(30)
    return Result(host=task.host, result="done", changed=True)


def test_a_lost_scheduler_ends_the_run_with_every_host_named(tmp_path: Path) -> None:
    write_inventory(tmp_path / "inv", [("r1", "isr_g1"), ("r2", "csr1k")],
                    host_data={"r1": {"site": "a"}, "r2": {"site": "a"}})  # fmt: skip
    cluster = start_cluster(tmp_path / "dask", {"wa1": "a"}, LAB_WORKER_ENV, slots=2)
    log = tmp_path / "started.log"

    def kill_scheduler() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (log.is_file() and len(log.read_text().split()) == 2):
            time.sleep(0.05)
        cluster.scheduler.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_scheduler)
    try:
        killer.start()
        # the client waits connect_timeout for a scheduler to come back before it gives the run up
        nr = load_nornir(tmp_path / "inv").with_runner(DaskRunner(cluster.address, connect_timeout=5))
        t0 = time.monotonic()
        res = nr.run(task=_wait_a_while, log=str(log))
        assert time.monotonic() - t0 < 25  # it did not wait for the tasks (or forever)
    finally:
        killer.join()
        cluster.stop()
    assert set(res.failed_hosts) == {"r1", "r2"}
    for h, mr in res.items():
        reason = str(mr[0].result)
        assert reason.startswith(f"{h}: outcome unknown") and "scheduler was lost" in reason, reason
