"""The `dask` Nornir runner against a real cluster on loopback: a `dask scheduler`, workers of two sites,
and the lab's SSH routers. Workers get the devices' credentials from their own environment only.

    site a: ca1 r1 r2  -> workers wa1, wa2
    site b: r3 r4 r5   -> worker wb1
    site c: r6         -> no worker (its host must fail, never run from another site)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nornir.core import Nornir
from nornir.core.task import AggregatedResult, Result, Task

from iospki.cluster import ClientStore, DaskRunner, HostSecrets, read_only
from iospki.cluster.journal import JOURNAL_FILE
from iospki.operations.inventory import LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD, all_secrets, load_nornir
from iospki.operations.resilience import ca_slot
from iospki.tasks import collect_pki
from tests.cluster_fixture import (
    LAB_WORKER_ENV,
    Cluster,
    ResultRecorder,
    SpecRecorder,
    lab_and_cluster,
    recorded_results,
    recorded_specs,
)
from tests.lab_fixture import PASSWORD, SECRET, LabHandle

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]

SITES = {"ca1": "a", "r1": "a", "r2": "a", "r3": "b", "r4": "b", "r5": "b", "r6": "c"}
HOSTS = [("ca1", "csr1k"), ("r1", "isr_g1"), ("r2", "isr_g2"), ("r3", "isr4k"), ("r4", "asr1k"),
         ("r5", "csr1k"), ("r6", "isr_g2")]  # fmt: skip
WORKERS = {"wa1": "a", "wa2": "a", "wb1": "b"}
SECRETS = [PASSWORD, SECRET, LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHandle, Cluster]]:
    with lab_and_cluster(tmp_path_factory.mktemp("cluster"), HOSTS, {h: {"site": s} for h, s in SITES.items()},
                         WORKERS) as both:  # fmt: skip
        yield both


def _nornir(lab: LabHandle) -> Nornir:
    return load_nornir(lab.inventory_dir)


def _on_cluster(nr: Nornir, cluster: Cluster, **options: Any) -> tuple[Nornir, DaskRunner]:
    runner = DaskRunner(scheduler=cluster.address, **options)
    return nr.with_runner(runner), runner


def _collect(nr: Nornir, out: Path) -> AggregatedResult:
    return nr.run(task=collect_pki, output=ClientStore(str(out)), secrets=HostSecrets(all_secrets(nr)))


def _files(root: Path) -> dict[str, str]:
    """{host/file: content with the times taken out}: digits masked, '1 minute'/'2 minutes' alike."""
    out = {}
    for p in sorted(root.glob("*/*")):
        text = re.sub(r"\d+", "#", p.read_text())
        out[f"{p.parent.name}/{p.name}"] = re.sub(r"(#\s+[a-z]+?)s\b", r"\1", text)
    return out


def _workers_of(cluster: Cluster, runner: DaskRunner) -> dict[str, str]:
    names = {cluster.worker_address(n): n for n in cluster.workers}
    return {h: names.get(addr, addr) for h, addr in runner.placement.items()}


# ---------------------------------------------------------------------------- collect


def test_collect_on_the_cluster_stores_what_a_local_collect_stores(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    lab, cluster = env
    nr = _nornir(lab).filter(filter_func=lambda h: h.name != "r6")
    local = _collect(nr, tmp_path / "local")
    assert not local.failed_hosts
    nrc, runner = _on_cluster(_nornir(lab), cluster)
    remote = _collect(nrc, tmp_path / "cluster")
    # r6's site has no worker: failed with that reason, and nothing of it stored
    assert set(remote.failed_hosts) == {"r6"}
    reason = str(remote["r6"][0].result)
    assert "r6" in reason and "no cluster worker for site 'c'" in reason
    assert not (tmp_path / "cluster" / "r6").exists()
    # every other host ran on a worker of its own site
    placed = _workers_of(cluster, runner)
    assert set(placed) == set(SITES) - {"r6"}
    for host, worker in placed.items():
        assert WORKERS[worker] == SITES[host], (host, worker)
    # the same files, the same content (times aside) and the same results as the threaded runner
    want, got = _files(tmp_path / "local"), _files(tmp_path / "cluster")
    assert sorted(want) == sorted(got)
    assert len(want) > 6 * 20
    assert [k for k in want if want[k] != got[k]] == []
    for cert in ("r1/show_crypto_pki_certificates_verbose.txt", "ca1/show_running-config.txt"):
        assert (tmp_path / "local" / cert).read_text() == (tmp_path / "cluster" / cert).read_text()
    for h in placed:
        assert remote[h][0].result["commands"] == local[h][0].result["commands"]
        assert remote[h][0].result["parse_errors"] == local[h][0].result["parse_errors"] == {}
    # r6 failed, so the run's journal stays: a resumed run redoes only r6 and keeps the others' files
    journal = tmp_path / "cluster" / JOURNAL_FILE
    assert journal.is_file()
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "cluster").glob("*/*")}
    nrr, again = _on_cluster(_nornir(lab), cluster, resume=True)
    resumed = _collect(nrr, tmp_path / "cluster")
    assert set(resumed.failed_hosts) == {"r6"} and again.placement == {}
    assert {h: m[0].result["commands"] for h, m in resumed.items() if h != "r6"} == {
        h: m[0].result["commands"] for h, m in remote.items() if h != "r6"
    }
    assert stamp == {p: p.stat().st_mtime_ns for p in (tmp_path / "cluster").glob("*/*")}


def test_no_secret_in_what_the_scheduler_holds_or_the_workers_send_back(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    lab, cluster = env
    with cluster.client() as c:
        c.register_plugin(SpecRecorder())
        c.register_plugin(ResultRecorder())
        nr = _nornir(lab).filter(filter_func=lambda h: h.name in ("ca1", "r1", "r3"))
        assert set(SECRETS) <= set(all_secrets(nr))  # the client does hold them all
        nrc, _ = _on_cluster(nr, cluster)
        res = _collect(nrc, tmp_path / "c")
        assert not res.failed_hosts
        specs, results = recorded_specs(c), recorded_results(c)
    # what was inspected is the real traffic: one task per host, the hosts' results with their outputs
    assert sum(b"iospki-collect_pki-" in b for b in specs) >= 3
    assert any(b"iospki.tasks.collect" in b for b in results)  # the scattered task (collect_pki, by reference)
    assert any(b"show crypto pki certificates" in b and b"BEGIN CERTIFICATE" not in b for b in results)
    assert len(results) >= 3
    for blob in specs + results:
        for s in SECRETS:
            assert s.encode() not in blob
    # the stored outputs hold no secret either (running configs carry the lab's password lines)
    for p in (tmp_path / "c").glob("*/*"):
        for s in SECRETS:
            assert s not in p.read_text(), p


def test_a_task_that_carries_a_secret_is_not_sent(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    nr = _nornir(lab).filter(filter_func=lambda h: h.name in ("r1",))
    password = nr.inventory.hosts["r1"].password

    def leaky(task: Task) -> Result:  # its closure holds the device password
        return Result(host=task.host, result=len(str(password)))

    with cluster.client() as c:
        c.register_plugin(SpecRecorder())  # a fresh recorder
        nrc, runner = _on_cluster(nr, cluster)
        res = nrc.run(task=leaky)
        specs = recorded_specs(c)
    assert res["r1"].failed and "carries a secret" in str(res["r1"][0].result)
    assert runner.placement == {} and specs == []


# ---------------------------------------------------------------------------- CA limit across the cluster


def _ca_enrollment(task: Task, log: str, hold: float) -> Result:
    """A changing task that records when it held the CA slot (as an enrollment would hold it)."""
    with ca_slot("ca1"):
        start = time.time()
        time.sleep(hold)
        end = time.time()
    with open(log, "a") as fh:
        fh.write(json.dumps([task.host.name, start, end]) + "\n")
    return Result(host=task.host, result="enrolled", changed=True)


def _peak(log: Path) -> int:
    spans = [json.loads(line)[1:] for line in log.read_text().splitlines()]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    peak = now = 0
    for _, d in events:
        now += d
        peak = max(peak, now)
    return peak


@pytest.mark.parametrize("limit", [1, 2])
def test_the_ca_enrollment_limit_holds_across_workers(
    env: tuple[LabHandle, Cluster], tmp_path: Path, limit: int
) -> None:
    lab, cluster = env
    nr = _nornir(lab).filter(filter_func=lambda h: h.name != "r6")
    nrc, runner = _on_cluster(nr, cluster, ca_enroll_limit=limit)
    log = tmp_path / "slots.jsonl"
    res = nrc.run(task=_ca_enrollment, log=str(log), hold=0.5)
    assert not res.failed_hosts
    assert len({runner.placement[h] for h in res}) >= 2  # separate worker processes took part (sites a, b)
    assert _peak(log) == limit  # never more than the limit; with 2 the cluster does use both


# ---------------------------------------------------------------------------- lost workers


def _note(log: str, host: str) -> None:
    from distributed import get_worker

    with open(log, "a") as fh:
        fh.write(f"{host} {get_worker().name}\n")


@read_only
def _collect_then_linger(task: Task, output: str, secrets: list[str], log: str, linger: float) -> Result:
    """collect_pki, then the result waits on the worker a while (a window to lose the worker in)."""
    res = collect_pki(task, output=output, secrets=secrets)
    _note(log, task.host.name)
    time.sleep(linger)
    return res


def _kill_once_it_ran(cluster: Cluster, names: list[str], log: Path, killed: list[str]) -> None:
    """Kill the first of workers `names` that the log shows working on a host."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for _, worker in _lines(log) if log.is_file() else []:
            if worker in names:
                cluster.kill(worker)
                killed.append(worker)
                return
        time.sleep(0.05)


def _lines(log: Path) -> list[tuple[str, str]]:
    return [(h, w) for h, w in (line.split() for line in log.read_text().splitlines())]


def _run_and_lose(
    env: tuple[LabHandle, Cluster], worker: str, log: Path, task: Any, **params: Any
) -> tuple[AggregatedResult, DaskRunner, str]:
    """Run `task` on site a's hosts with one more worker of site a; the first of site a's workers to work on a
    host is killed (whichever Dask picked). Returns the results, the runner and the killed worker."""
    lab, cluster = env
    cluster.grow(worker, "a", LAB_WORKER_ENV)
    site_a = [n for n in cluster.workers if cluster.sites[n] == "a"]
    nr = _nornir(lab).filter(filter_func=lambda h: SITES[h.name] == "a")
    nrc, runner = _on_cluster(nr, cluster)
    killed: list[str] = []
    killer = threading.Thread(target=_kill_once_it_ran, args=(cluster, site_a, log, killed))
    killer.start()
    try:
        res = nrc.run(task=task, log=str(log), **params)
    finally:
        killer.join()
    assert killed, "no worker of site a ran a host"
    return res, runner, killed[0]


def test_a_lost_worker_s_read_only_hosts_run_on_the_other_worker_of_their_site(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    cluster = env[1]
    log = tmp_path / "collected.log"
    res, runner, killed = _run_and_lose(env, "wa3", log, _collect_then_linger,
                                        output=ClientStore(str(tmp_path / "c")), secrets=HostSecrets(SECRETS),
                                        linger=2.0)  # fmt: skip
    lost = {h for h, w in _lines(log) if w == killed}
    assert lost and killed not in cluster.workers
    assert not res.failed_hosts
    placed = _workers_of(cluster, runner)
    for h in lost:  # collected again, by another worker of site a, and stored completely
        assert placed[h] != killed and SITES[h] == cluster.sites[placed[h]] == "a" and (h, placed[h]) in _lines(log)
    for h in ("ca1", "r1", "r2"):
        assert (tmp_path / "c" / h / "show_running-config.txt").is_file()
        assert json.loads((tmp_path / "c" / h / "parse_errors.json").read_text()) == {}


def _change_once(task: Task, log: str, hold: float) -> Result:
    """A changing task: records that it started (as a config push would reach the device), then holds."""
    _note(log, task.host.name)
    time.sleep(hold)
    return Result(host=task.host, result="pushed", changed=True)


def test_a_lost_worker_s_changing_hosts_are_outcome_unknown_and_never_sent_twice(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    log = tmp_path / "pushes.log"
    res, _, killed = _run_and_lose(env, "wa4", log, _change_once, hold=3.0)
    started = _lines(log)
    lost = {h for h, w in started if w == killed}
    assert lost
    assert sorted(h for h, _ in started) == ["ca1", "r1", "r2"]  # every change started once, none twice
    for h, mr in res.items():
        if h in lost:
            assert mr.failed
            assert str(mr[0].result).startswith(f"{h}: outcome unknown") and "not sent again" in str(mr[0].result)
            assert type(mr[0].exception).__name__ == "OutcomeUnknown"
        else:
            assert not mr.failed and mr[0].result == "pushed"


@pytest.mark.slow  # an extra worker process or two timed runs: keeps the quick set quick
def test_a_site_that_loses_its_last_worker_fails_its_hosts_by_name(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    lab, cluster = env
    cluster.grow("wd1", "d", LAB_WORKER_ENV)
    nr = _nornir(lab).filter(filter_func=lambda h: h.name in ("r4", "r5"))
    for host in nr.inventory.hosts.values():  # a site of their own, with one worker
        host.data["site"] = "d"
    nrc, runner = _on_cluster(nr, cluster, site_grace=2.0)
    log = tmp_path / "pushes.log"
    killer = threading.Thread(target=_kill_once_it_ran, args=(cluster, ["wd1"], log, []))
    killer.start()
    res = nrc.run(task=_change_once, log=str(log), hold=5.0)
    killer.join()
    started = {h for h, _ in _lines(log)}
    assert started and set(res.failed_hosts) == {"r4", "r5"}  # nothing ran from another site
    for h, mr in res.items():
        reason = str(mr[0].result)
        assert reason.startswith(f"{h}: ") and "no cluster worker left for site 'd'" in reason
        assert ("outcome unknown" in reason) == (h in started)  # started changes: outcome unknown


def _hold(task: Task, log: str, hold: float) -> Result:
    from distributed import get_worker

    start = time.time()
    time.sleep(hold)
    with open(log, "a") as fh:
        fh.write(json.dumps([get_worker().name, start, time.time()]) + "\n")
    return Result(host=task.host, result="held")


@pytest.mark.slow  # an extra worker process or two timed runs: keeps the quick set quick
def test_the_host_cap_holds_per_worker(env: tuple[LabHandle, Cluster], tmp_path: Path) -> None:
    lab, cluster = env
    nr = _nornir(lab).filter(filter_func=lambda h: SITES[h.name] == "b")  # three hosts, one worker (2 slots)
    log = tmp_path / "spans.jsonl"
    for cap, want in ((1, 1), (None, 2)):
        log.unlink(missing_ok=True)
        nrc, _ = _on_cluster(nr, cluster, num_workers=cap, read_only=True)
        assert not nrc.run(task=_hold, log=str(log), hold=0.6).failed_hosts
        assert {json.loads(line)[0] for line in log.read_text().splitlines()} == {"wb1"}
        assert _peak(log) == want  # capped at 1; otherwise the worker's two slots are used
