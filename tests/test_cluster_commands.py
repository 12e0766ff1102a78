"""`--cluster` on the commands that talk to devices besides collect and deploy: status, audit and forecast
(live), verify (its after collection), scep probe, renew and rollover -- each run once on this machine and once
on a real loopback Dask cluster of two sites against the same lab, with the same JSON (times aside) and the
same exit code. A worker killed mid-renew leaves its hosts "outcome unknown" and enrolls nothing twice; nothing
the scheduler holds or a worker sends back carries a secret.

    site a: ca1 r1 r2 -> workers wa1, wa2 (and wa9, grown before one is killed)
    site b: r3        -> worker wb1

One lab and one cluster for the module; the CLI runs in-process (typer's runner) as the Dask client.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from iospki.cli import app
from tests.cluster_fixture import (
    LAB_WORKER_ENV,
    Cluster,
    ResultRecorder,
    SpecRecorder,
    kill_once_started,
    lab_and_cluster,
    recorded_results,
    recorded_specs,
)
from tests.lab_fixture import LabHandle
from tests.test_cluster_operations import _issued
from tests.toolkit_support import ENV, NTP, SECRETS, ca_intent, tp_intent

pytestmark = [pytest.mark.lab, pytest.mark.timeout(400)]

HOSTS = [("ca1", "csr1k"), ("r1", "isr_g1"), ("r2", "isr_g2"), ("r3", "isr4k")]
SITES = {"ca1": "a", "r1": "a", "r2": "a", "r3": "b"}
CLIENTS = ("r1", "r2", "r3")

_TRANSCRIPT: list[str] = []  # every output of every command run here, for the secrets check


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHandle, Cluster]]:
    data: dict[str, dict[str, Any]] = {h: {"site": s, "ntp_servers": NTP} for h, s in SITES.items()}
    data["ca1"]["ca_server"] = ca_intent()
    for h in CLIENTS:
        data[h]["trustpoints"] = [tp_intent()]
    base = tmp_path_factory.mktemp("cluster-commands")
    with lab_and_cluster(base, HOSTS, data, {"wa1": "a", "wa2": "a", "wb1": "b"}) as (lab, cluster):
        with cluster.client() as c:  # from here on, everything the scheduler and the workers hold is kept
            c.register_plugin(SpecRecorder())
            c.register_plugin(ResultRecorder())
        rc, out, _ = iospki("deploy", "-i", str(lab.inventory_dir), "--backup-dir", str(base / "backups"))
        assert rc == 0, out
        yield lab, cluster


def iospki(*args: str, cluster: str | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the CLI as an operator runs it: no device credential in its environment
    (the lab inventory holds them); with `cluster`, IOSPKI_CLUSTER set (--cluster is the same option)."""
    env: dict[str, str | None] = {v: None for v in (*ENV, "IOSPKI_CLUSTER")}
    if cluster:
        env["IOSPKI_CLUSTER"] = cluster
    r = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    _TRANSCRIPT.append(r.output)
    return r.exit_code, r.stdout, r.stderr


def both(lab: LabHandle, cluster: Cluster, *args: str) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """(exit code, JSON) of `iospki ARGS -i <lab>` here, then with --cluster."""
    out = []
    for where in (None, cluster.address):
        extra = ["--cluster", where] if where else []
        rc, stdout, stderr = iospki(*args, "-i", str(lab.inventory_dir), *extra)
        assert "Traceback" not in stdout + stderr
        try:
            out.append((rc, json.loads(stdout)))
        except json.JSONDecodeError:
            pytest.fail(f"{args} {extra}: exit {rc}, no JSON:\n{stdout}\n{stderr}")
    return out[0], out[1]


_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?")
_DURATION = re.compile(r"\b\d+(\.\d+)?\s?(days?|hours?|minutes?|seconds?|[dhms])\b")
_TIME_KEYS = {"clock", "days_left", "generated", "now"}


def timeless(value: Any) -> Any:
    """`value` with the times in it masked: two runs seconds apart read the same devices at other times."""
    if isinstance(value, dict):
        return {k: "<time>" if k in _TIME_KEYS else timeless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [timeless(v) for v in value]
    if isinstance(value, str):
        return _DURATION.sub("<span>", _DATETIME.sub("<time>", value))
    return value


def test_status_live_on_the_cluster_is_the_local_status(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    (rc_l, local), (rc_c, remote) = both(lab, cluster, "status", "--json")
    assert rc_c == rc_l == 0, remote
    assert [h["host"] for h in remote] == list(SITES) and not any(h["error"] for h in remote)
    assert all(h["trustpoints"][0]["identity"]["serial"] for h in remote if h["host"] != "ca1")
    assert timeless(remote) == timeless(local)


def test_audit_and_forecast_live_on_the_cluster_are_the_local_ones(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    (rc_l, local), (rc_c, remote) = both(lab, cluster, "audit", "--format", "json")
    assert rc_c == rc_l and rc_c in (0, 1), remote
    assert sorted(h["host"] for h in remote["hosts"]) == sorted(SITES)
    assert timeless(remote) == timeless(local)
    (rc_l, local), (rc_c, remote) = both(lab, cluster, "forecast", "--json", "--horizon", "800d")
    assert rc_c == rc_l and rc_c in (0, 1) and not remote["hosts_failed"], remote
    assert {e["host"] for e in remote["events"]} == set(SITES)
    assert timeless(remote) == timeless(local)


def test_verify_collects_its_after_collection_on_the_cluster(env: tuple[LabHandle, Cluster], tmp_path: Path) -> None:
    lab, cluster = env
    rc, out, _ = iospki("collect", "-i", str(lab.inventory_dir), "-o", str(tmp_path / "before"), "--no-facts")
    assert rc == 0, out
    (rc_l, local), (rc_c, remote) = both(lab, cluster, "verify", "--before", str(tmp_path / "before"), "--json")
    # nothing was renewed in between: "new serial" fails on every client, here as on the cluster
    assert rc_c == rc_l == 1
    failed = {(c["host"], c["check"]) for c in remote["checks"] if not c["ok"]}
    assert {(h, "new serial") for h in CLIENTS} <= failed
    assert Path(remote["after"]) != Path(local["after"]) and (Path(remote["after"]) / "r3").is_dir()
    assert not list(Path(remote["after"]).glob(".iospki-journal*"))  # a run that finished leaves no journal
    assert remote["checks"] == local["checks"]


def test_scep_probe_runs_from_the_ca_site(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    (rc_l, local), (rc_c, remote) = both(lab, cluster, "scep", "probe", "--json")
    assert rc_c == rc_l == 0
    assert list(remote) == ["ca1 (LABCA)"] and remote["ca1 (LABCA)"]["ca_certs"], remote
    assert remote == local
    url = f"http://{lab.hosts['ca1'].address}:8080"
    rc, _, err = iospki("scep", "probe", url, "--cluster", cluster.address)
    assert rc == 2 and "a URL has no site" in err and len(err.strip().splitlines()) == 1
    rc, out, _ = iospki("scep", "probe", url, "--json", cluster=cluster.address)  # IOSPKI_CLUSTER: not for a URL
    assert rc == 0 and json.loads(out) == remote["ca1 (LABCA)"]


def _renewed(rows: dict[str, Any]) -> dict[str, Any]:
    """Renew's JSON rows with the serials (new on every run) reduced to their shape."""
    return {k: (v["ok"], re.sub(r"[0-9A-F]+", "<serial>", v["note"])) for k, v in rows.items()}


def test_renew_on_the_cluster_reports_as_a_local_renew(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    (rc_l, local), (rc_c, remote) = both(lab, cluster, "renew", "--yes", "--json", "--limit", "r1,r3")
    assert rc_c == rc_l == 0, remote
    assert _renewed(remote) == _renewed(local) == {
        "r1 LABCA": (True, "<serial> -> <serial>"),
        "r3 LABCA": (True, "<serial> -> <serial>"),
    }
    # each run re-enrolled: the serial the cluster run started from is the one the local run ended with
    for k in remote:
        assert remote[k]["note"].split(" -> ")[0] == local[k]["note"].split(" -> ")[1]


def _checks(doc: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(phase, c["check"], c["ok"]) for phase in ("prechecks", "verification") for c in doc[phase]]


def test_rollover_and_cancel_on_the_cluster_check_as_locally(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    inv = ("-i", str(lab.inventory_dir))
    runs = []
    for roll, cancel in ((None, cluster.address), (cluster.address, None)):  # each step once here, once there
        rc, out, err = iospki("rollover", "ca1", "--yes", "--json", *inv, cluster=roll)
        assert rc == 0, out + err
        runs.append(("rollover", roll, json.loads(out)))
        rc, out, err = iospki("rollover", "ca1", "--cancel", "--yes", "--json", *inv, cluster=cancel)
        assert rc == 0, out + err
        runs.append(("cancel", cancel, json.loads(out)))
    by = {(what, where is not None): doc for what, where, doc in runs}
    for what in ("rollover", "cancel"):
        local, remote = by[(what, False)], by[(what, True)]
        assert _checks(remote) == _checks(local) and all(ok for _, _, ok in _checks(remote))
        assert remote["title"] == local["title"]
    names = [c for _, c, _ in _checks(by[("rollover", True)])]
    assert "HTTP/SCEP reachable" in names and "GetNextCACert = rollover CA" in names  # run on a site-a worker


def test_a_worker_lost_mid_renew_leaves_its_hosts_outcome_unknown_and_enrolls_nothing_twice(
    env: tuple[LabHandle, Cluster],
) -> None:
    lab, cluster = env
    cluster.grow("wa9", "a", LAB_WORKER_ENV)  # site a keeps two workers after the kill
    before = _issued(lab)
    seen: dict[str, Any] = {}
    site_a = [n for n in cluster.workers if cluster.sites[n] == "a"]
    killer = threading.Thread(target=kill_once_started, args=(cluster, site_a, "re-enroll", seen))
    killer.start()
    try:
        rc, out, err = iospki("renew", "--yes", "--json", "-i", str(lab.inventory_dir), "--limit", "r1,r2,r3",
                              "--wait", "90", cluster=cluster.address)  # fmt: skip
    finally:
        killer.join()
    assert seen.get("killed"), f"no re-enrollment had started on a worker of site a: {seen}"
    assert rc == 3, out + err
    rows = json.loads(out)

    def unknown(h: str) -> bool:
        return h in rows and not rows[h]["ok"] and f"{h}: outcome unknown" in rows[h]["note"]

    for h in seen["killed"]:  # started on the killed worker and still running there: never sent again
        assert unknown(h) and "not sent again" in rows[h]["note"] and f"{h} LABCA" not in rows, rows
    for h in set(CLIENTS) - set(seen["marked"]):  # never started there: renewed (re-run elsewhere if it was queued)
        assert rows[f"{h} LABCA"]["ok"], rows
    for h in set(seen["marked"]) - set(seen["killed"]):  # started there earlier: finished before the kill, or lost
        assert unknown(h) or rows[f"{h} LABCA"]["ok"], rows
    lost = {h for h in CLIENTS if unknown(h)}
    after = _issued(lab)
    for h in CLIENTS:  # one enrollment each at most reached the CA (a lost host's: at most)
        new = sum(f"{h}.lab.iospki.test" in s for s in after) - sum(f"{h}.lab.iospki.test" in s for s in before)
        assert new <= 1 if h in lost else new == 1, (h, after)


@pytest.mark.slow  # ~60 s: the slowed CA (0.5 s a line) makes the rollover long enough to kill mid-way
def test_a_worker_lost_mid_rollover_leaves_it_outcome_unknown_exit_3(env: tuple[LabHandle, Cluster]) -> None:
    lab, cluster = env
    cluster.grow("wa8", "a", LAB_WORKER_ENV)  # site a keeps a worker to report on the lost one
    seen: dict[str, Any] = {}
    site_a = [n for n in cluster.workers if cluster.sites[n] == "a"]
    lab.fault("ca1", "slow")  # every line the CA reads takes 0.5 s: the rollover is still running at the kill
    killer = threading.Thread(target=kill_once_started, args=(cluster, site_a, "rollover", seen))
    killer.start()
    try:
        rc, out, err = iospki("rollover", "ca1", "--yes", "--json", "-i", str(lab.inventory_dir),
                              cluster=cluster.address)  # fmt: skip
    finally:
        killer.join()
        lab.fault("ca1", "slow", on=False)
    assert seen.get("killed") == ["ca1"], seen
    assert rc == 3, out + err
    doc = json.loads(out)
    assert all(c["ok"] for c in doc["prechecks"]) and len(doc["verification"]) == 1, doc
    (check,) = doc["verification"]
    assert check["check"] == "rollover command" and not check["ok"]
    assert "ca1: outcome unknown" in check["detail"] and "not sent again" in check["detail"], check


def test_nothing_sent_or_returned_or_printed_holds_a_secret(env: tuple[LabHandle, Cluster]) -> None:
    _, cluster = env
    with cluster.client() as c:
        specs, results = recorded_specs(c), recorded_results(c)
    # the real traffic of the commands above was inspected: their tasks, and results with device output
    for task in ("status", "re-enroll", "rollover", "SCEP probe", "SCEP checks", "new certificates"):
        assert any(f"iospki-{task}-".encode() in b for b in specs), task
    assert any(b"show crypto pki certificates" in b for b in results)
    for blob in specs + results:
        for s in SECRETS:
            assert s.encode() not in blob
    for text in _TRANSCRIPT:
        for s in SECRETS:
            assert s not in text


# ---------------------------------------------------------------------------- commands that refuse --cluster


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("inventory", "keyscan"), "known_hosts"),
        (("demo",), "lab twin on this machine"),
        (("lab", "validate"), "lab twin on this machine"),
        (("scep", "probe", "http://127.0.0.1:9"), "a URL has no site"),
    ],
)
def test_a_command_that_cannot_run_on_a_cluster_refuses_it_in_one_line(args: tuple[str, ...], why: str) -> None:
    rc, out, err = iospki(*args, "--cluster", "tcp://127.0.0.1:9")  # nothing listens there: never contacted
    assert rc == 2 and why in err and "Traceback" not in err and not out, (out, err)
    assert len(err.strip().splitlines()) == 1 and "cluster" in err


def test_an_operators_iospki_cluster_does_not_apply_to_a_scep_probe_of_a_url() -> None:
    rc, out, err = iospki("scep", "probe", "http://127.0.0.1:9", "--timeout", "2", cluster="tcp://127.0.0.1:9")
    assert rc == 3 and "GetCACaps: cannot reach http://127.0.0.1:9" in out, (out, err)  # probed from here


def test_demo_keeps_its_steps_off_an_operators_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    from iospki.cli.commands import demo

    monkeypatch.setenv("IOSPKI_CLUSTER", "tcp://127.0.0.1:9")
    child = demo._child([sys.executable, "-c", "import os; print(os.environ.get('IOSPKI_CLUSTER'))"],
                        timeout=60, capture=True, stoppable=False)  # fmt: skip
    assert child.returncode == 0 and child.stdout.strip() == "None"
