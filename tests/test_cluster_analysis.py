"""Issue 13 §2, analysis at scale: `audit`/`forecast`/`status --offline --cluster` load and parse the stored
hosts on the workers and forecast per CA group there, with results identical to a local run.

A real `dask scheduler` and two `dask worker` processes on loopback (`tests.cluster_fixture`). Every comparison
is of the command's JSON byte for byte (the audit report's generation time aside) and of its exit code:
- a collection of lab-twin outputs replicated into sites (as `bench.bench_scale` generates them);
- a multi-site collection of sample PKIs with manual grants, a pending request, a client whose clock runs
  ahead of its CA's and a client whose CA is not in the collection (forecast notes to merge back in order);
- the same collection with a required output deleted, an output that does not parse, a host meta.json names
  with no folder and the interrupted mark: the same findings and exit 3 on the cluster (no false green);
- a worker killed while it parses: Dask runs its batches on the other worker, the result is the same.
Nothing that travels holds a secret (the stored outputs were redacted when written; the scheduler's copy of
every task is inspected).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.bench_scale import lab_templates, write_collection
from iospki.cli import app
from iospki.cluster import ClusterError
from iospki.cluster.analysis import ClusterAnalysis, _ca_batches, analyse_on_cluster
from iospki.forecast import forecast_states, inputs_from_states
from iospki.reports import render
from iospki.state import store
from iospki.state.loader import load_collection
from tests.cluster_fixture import Cluster, SpecRecorder, recorded_specs, start_cluster
from tests.lab_fixture import PASSWORD, SECRET
from tests.pki_samples import Client, Server, Site, write_site

D0 = datetime(2025, 1, 1, 8, 0, 0)


def day(d: float) -> datetime:
    return D0 + timedelta(days=d)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("dask"), {"wa": "a", "wb": "b"}, env={})
    try:
        with c.client() as client:
            client.register_plugin(SpecRecorder())
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def lab_collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lab-twin outputs (a CA server on an emulated CSR1000v, an ISR G1 client) in 2 sites of 50 hosts."""
    root = tmp_path_factory.mktemp("lab") / "c"
    write_collection(root, lab_templates(), 100)
    return root


def sample_sites(root: Path) -> Path:
    """Eight sites of sample PKIs, each its own CA host, with what makes forecasts differ and notes appear
    (the CA host of the last site is left out: its clients' CA is not in the collection)."""
    for s in range(8):
        server = Server(
            "LOST" if s == 7 else f"CA{s % 3}",  # the same name on several hosts: groups are (host, name)
            day(-30 * s),
            day(730 - 30 * s),
            auto_rollover_days=None if s == 3 else 90,
            grant="manual" if s % 4 == 1 else "auto",
            pending=["R-pending"] if s == 5 else [],
        )
        clients = [
            Client(
                f"s{s}-r{i}",
                id_start=day(300 - 17 * i),
                id_end=day(665 - 17 * i),
                renew=day(592 - 17 * i),
                clock_skew=timedelta(minutes=10) if (s, i) == (2, 1) else timedelta(0),
                regenerate=i % 2 == 0,
            )
            for i in range(4)
        ]
        write_site(root, Site(server, clients, ca_host=f"s{s}-ca"), day(400))
    shutil.rmtree(root / "s7-ca")  # its clients' CA is not in the collection
    return root


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_sites(tmp_path_factory.mktemp("samples") / "c")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample sites with gaps: a required output deleted, one that does not parse, a host meta.json
    names with no folder, and the collection marked interrupted."""
    root = sample_sites(tmp_path_factory.mktemp("broken") / "c")
    (root / "s1-r2" / "show_crypto_pki_certificates_verbose.txt").unlink()
    (root / "s4-ca" / "show_crypto_pki_server.txt").write_text("Certificate Server CA1:\n    Status: ???\n")
    (root / "s0-r1" / "show_clock.txt").write_text("not a clock\n")
    hosts = sorted(p.name for p in root.iterdir() if p.is_dir())
    store.write_meta(root, hosts, [], interrupted=False)
    meta = json.loads((root / store.META_FILE).read_text())
    meta["hosts_planned"] = [*hosts, "s9-gone"]
    (root / store.META_FILE).write_text(json.dumps(meta))
    return root


# --------------------------------------------------------------------------- helpers


def _invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.output)
    return r.exit_code, r.stdout


def _timeless(text: str) -> str:
    """The audit report without its generation time (the only field a second run changes)."""
    return re.sub(r'"generated": "[^"]*"', '"generated": ""', text)


def _same_everywhere(root: Path, address: str) -> dict[str, tuple[int, str]]:
    """Each offline command locally and on the cluster: the same exit code and the same JSON."""
    commands = {
        "audit": ["audit", "--offline", str(root), "--format", "json"],
        "forecast": ["forecast", "--offline", str(root), "--json"],
        "status": ["status", "--offline", str(root), "--json"],
    }
    out = {}
    for name, args in commands.items():
        local = _invoke(*args)
        remote = _invoke(*args, "--cluster", address)
        assert remote[0] == local[0], (name, remote[0], local[0])
        assert _timeless(remote[1]) == _timeless(local[1]), name
        out[name] = local
    return out


# --------------------------------------------------------------------------- tests


def test_lab_collection_same_json_and_exit_codes(cluster: Cluster, lab_collection: Path) -> None:
    out = _same_everywhere(lab_collection, cluster.address)
    audit = json.loads(out["audit"][1])
    forecast = json.loads(out["forecast"][1])
    assert audit["summary"]["hosts"] == 100 and forecast["events"]  # a real forecast, not an empty one
    assert len(json.loads(out["status"][1])) == 100
    # the work ran on the workers: parse batches and forecast batches in what the scheduler received
    with cluster.client() as c:
        specs = recorded_specs(c)
    assert any(b"_load_batch" in s for s in specs) and any(b"_simulate_batch" in s for s in specs)
    # stored outputs are redacted when written: no credential of the lab travels
    assert not any(secret.encode() in s for s in specs for secret in (PASSWORD, SECRET))


def test_sample_sites_forecast_divided_per_ca_group_and_merged_exactly(
    cluster: Cluster, samples: Path
) -> None:
    out = _same_everywhere(samples, cluster.address)
    forecast = json.loads(out["forecast"][1])
    notes = forecast["notes"]
    # both kinds of note, merged back in the simulator's order
    assert any("clock is" in n for n in notes) and any("not in the collection" in n for n in notes), notes
    states = load_collection(samples)
    cas, tps = inputs_from_states(states)
    assert len(_ca_batches(cas, tps, 4)) > 1  # the forecast really was divided
    with cluster.client() as c:
        remote = ClusterAnalysis(client=c, batch=3)
        for horizon in (timedelta(days=200), timedelta(days=3000)):  # fewer and more events than notes
            at = day(410)
            assert (
                remote.forecast(states, at, horizon).to_json()
                == forecast_states(states, at, horizon).to_json()
            )


def test_incomplete_collection_same_findings_and_exit_code(cluster: Cluster, broken: Path) -> None:
    out = _same_everywhere(broken, cluster.address)
    assert out["audit"][0] == 3 and out["forecast"][0] == 3  # hosts failed / not predicted, never green
    findings = json.loads(out["audit"][1])["findings"]
    flagged = {(f["host"], f["rule"]) for f in findings}
    assert {
        ("s1-r2", "collection-incomplete"),
        ("s4-ca", "parse-error"),
        ("s0-r1", "parse-error"),
        ("s9-gone", "collection-incomplete"),
    } <= flagged, flagged
    unpredictable = {u["host"] for u in json.loads(out["forecast"][1])["unpredictable"]}
    assert {"s1-r2", "s9-gone"} <= unpredictable


def test_interrupted_and_limited_loads_match_load_collection(
    cluster: Cluster, broken: Path, tmp_path: Path
) -> None:
    root = tmp_path / "c"
    shutil.copytree(broken, root)
    meta = json.loads((root / store.META_FILE).read_text())
    meta[store.INTERRUPTED] = True
    (root / store.META_FILE).write_text(json.dumps(meta))
    with cluster.client() as c:
        remote = ClusterAnalysis(client=c)
        for limit in (None, ["s1-*", "s9-gone"]):
            got, want = remote.load(root, limit), load_collection(root, limit)
            assert [(s.host, s.interrupted, s.gaps, s.errors) for s in got] == [
                (s.host, s.interrupted, s.gaps, s.errors) for s in want
            ]
        result = analyse_on_cluster(None, root, client=c, at=day(401))
    assert _timeless(render(result, "json")) == _timeless(render(_local_audit(root, at=day(401)), "json"))


def _parser_bug() -> bytes:
    raise RuntimeError("a parser's own bug")


def test_a_batch_that_fails_on_a_worker_is_one_cluster_error(cluster: Cluster) -> None:
    """Not a partial result (no false green): the CLI prints the line and exits 3."""
    with cluster.client() as c:
        remote = ClusterAnalysis(client=c)
        with pytest.raises(ClusterError, match="RuntimeError: a parser's own bug"):
            list(remote._stream([(0, _parser_bug, ())]))


def test_unusable_cluster_is_one_line_exit_2(samples: Path) -> None:
    r = CliRunner().invoke(app, ["audit", "--offline", str(samples), "--cluster", "tcp://127.0.0.1:9"])
    assert r.exit_code == 2 and "unreachable" in r.output and "Traceback" not in r.output


def test_worker_lost_mid_analysis_work_redone_same_result(tmp_path: Path, lab_collection: Path) -> None:
    """Its own cluster (one worker dies): the killed worker held parse batches; the other finishes them."""
    c = start_cluster(tmp_path / "dask", {"w1": "a", "w2": "a"}, env={})
    try:
        victim = c.worker_address("w1")
        with c.client() as client:
            seen: dict[str, Any] = {}
            killer = threading.Thread(target=_kill_when_busy, args=(c, client, "w1", victim, seen))
            killer.start()
            result = analyse_on_cluster(None, lab_collection, client=client, batch=10)
            killer.join()
            assert seen.get("tasks"), "w1 never received work"
            assert len(client.scheduler_info(n_workers=-1)["workers"]) == 1
            assert _timeless(render(result, "json")) == _timeless(
                render(_local_audit(lab_collection), "json")
            )

            # the last worker lost too: the analysis fails in one line after its grace, instead of waiting
            remote = ClusterAnalysis(client=client, worker_grace=2)
            last = c.worker_address("w2")
            killer = threading.Thread(target=_kill_when_busy, args=(c, client, "w2", last, {}))
            killer.start()
            t0 = time.monotonic()
            with pytest.raises(ClusterError, match="no worker for 2 s"):
                list(remote._stream([(0, _sleeps, (60,))]))
            killer.join()
            assert time.monotonic() - t0 < 45
    finally:
        c.stop()


def _sleeps(seconds: float) -> bytes:
    time.sleep(seconds)
    return b""


def _kill_when_busy(c: Cluster, client: Any, name: str, address: str, seen: dict[str, Any]) -> None:
    """SIGKILL worker `name` as soon as the scheduler has given it a task (recorded in `seen["tasks"]`)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = client.processing(workers=[address]).get(address)
        if busy:
            seen["tasks"] = list(busy)
            break
        time.sleep(0.05)
    c.kill(name)


def _local_audit(root: Path, **options: Any) -> Any:
    from iospki.audit import run_audit

    return run_audit(load_collection(root), **options)
