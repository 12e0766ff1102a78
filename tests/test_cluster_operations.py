"""The operations behind `iospki collect` and `iospki deploy`, run on a real loopback Dask cluster (two sites)
against the lab: what `--cluster ADDRESS` does once a command's context is put on the cluster (`use_cluster`).

Workers hold the SSH credentials in their environment; the CA passphrase and challenge password are the lab's
throwaway defaults resolved on the worker (`lab: true` hosts), as on a single jump host.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler

from iospki.cluster import use_cluster
from iospki.models import IssuedCertificatesOutput
from iospki.operations import deploy
from iospki.operations.collection import collect_into
from iospki.operations.runner import Context, open_context
from tests.cluster_fixture import (
    LAB_WORKER_ENV,
    Cluster,
    assert_same_collection,
    kill_once_started,
    lab_and_cluster,
)
from tests.lab_fixture import LabHandle
from tests.netmiko_text import send_text
from tests.parse_support import parse_as
from tests.toolkit_support import NTP, SECRETS, ca_intent, tp_intent

pytestmark = [pytest.mark.lab, pytest.mark.timeout(400)]

HOSTS = [("ca1", "csr1k"), ("r1", "isr_g1"), ("r2", "isr_g2"), ("r3", "isr4k"), ("r4", "asr1k")]
SITES = {"ca1": "a", "r1": "a", "r2": "a", "r3": "b", "r4": "b"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHandle, Cluster]]:
    base = tmp_path_factory.mktemp("cluster-ops")
    data: dict[str, dict[str, Any]] = {h: {"site": s, "ntp_servers": NTP} for h, s in SITES.items()}
    data["ca1"]["ca_server"] = ca_intent()
    for h in ("r1", "r2", "r3", "r4"):
        data[h]["trustpoints"] = [tp_intent()]
    with lab_and_cluster(base, HOSTS, data, {"wa1": "a", "wa2": "a", "wb1": "b"}) as both:
        yield both


def _ctx(lab: LabHandle, cluster: Cluster | None, **options: object) -> Context:
    ctx = open_context(str(lab.inventory_dir), None)
    return use_cluster(ctx, cluster.address, **options) if cluster else ctx


def _issued(lab: LabHandle) -> list[str]:
    """Subjects of the certificates the lab CA issued (read on the CA server)."""
    conn = ConnectHandler(**lab.hosts["ca1"].netmiko())
    try:
        conn.enable()
        text = send_text(conn, "show crypto pki server LABCA certificates", read_timeout=60)
    finally:
        conn.disconnect()
    model = parse_as(IssuedCertificatesOutput, "show crypto pki server LABCA certificates", text, "iosxe")
    return [str(c.subject) for c in model.certificates]


@pytest.mark.slow
def test_a_worker_lost_mid_deploy_leaves_its_hosts_outcome_unknown_and_enrolls_nothing_twice(
    env: tuple[LabHandle, Cluster], tmp_path: Path
) -> None:
    lab, cluster = env
    cluster.grow("wa9", "a", LAB_WORKER_ENV)
    seen: dict[str, Any] = {}
    site_a = [n for n in cluster.workers if cluster.sites[n] == "a"]
    killer = threading.Thread(target=kill_once_started, args=(cluster, site_a, "clients", seen))
    killer.start()
    ctx = _ctx(lab, cluster, ca_enroll_limit=1)
    try:
        rows = deploy.apply(ctx, tmp_path / "backups", wait=90)
    finally:
        ctx.close()
        killer.join()
    assert seen.get("killed"), f"no client's deploy had started on a worker of site a: {seen}"

    def unknown(h: str) -> bool:
        return not rows[h]["ok"] and f"{h}: outcome unknown" in rows[h]["note"]

    for h in seen["killed"]:  # started on the killed worker and still running there: never sent again
        assert unknown(h) and "not sent again" in rows[h]["note"], rows[h]
    for h in {"r1", "r2", "r3", "r4"} - set(seen["marked"]):  # never started there (re-run elsewhere if queued)
        assert rows[h]["ok"] and rows[h]["certificates"]["LABCA"], rows[h]
    for h in set(seen["marked"]) - set(seen["killed"]):  # started there earlier: finished, or lost
        assert unknown(h) or rows[h]["ok"], rows[h]
    lost = {h for h in ("r1", "r2", "r3", "r4") if unknown(h)}
    subjects = _issued(lab)
    for h in ("r1", "r2", "r3", "r4"):  # each router's enrollment reached the CA once (a lost one: at most)
        issued = sum(f"{h}.lab.iospki.test" in s for s in subjects)
        assert issued <= 1 if h in lost else issued == 1, subjects


@pytest.mark.slow
def test_deploy_and_collect_on_the_cluster(env: tuple[LabHandle, Cluster], tmp_path: Path) -> None:
    lab, cluster = env
    ctx = _ctx(lab, cluster, ca_enroll_limit=1)
    try:
        rows = deploy.apply(ctx, tmp_path / "backups", wait=90)
    finally:
        ctx.close()
    assert all(r["ok"] for r in rows.values()), rows
    for h in ("r1", "r2", "r3", "r4"):
        assert rows[h]["certificates"]["LABCA"], rows[h]  # enrolled: an identity certificate serial
    # the backups were taken on the workers and written here by the client
    for h in SITES:
        assert [p.name.startswith("running-config-") for p in (tmp_path / "backups" / h).iterdir()] == [True]
    # a second deploy finds everything in place: nothing is pushed or enrolled again
    ctx = _ctx(lab, cluster)
    try:
        again = deploy.plan(ctx)
    finally:
        ctx.close()
    assert all(r["ok"] and not r["changes"] for r in again.values()), again
    # collect on the cluster = collect here, host by host (times aside)
    local, remote = tmp_path / "local", tmp_path / "cluster"
    for out, where in ((local, None), (remote, cluster)):
        ctx = _ctx(lab, where)
        try:
            res = collect_into(ctx, out, facts=False)
        finally:
            ctx.close()
        assert not res.failed, res.failed
    assert_same_collection(remote, local, sorted(SITES), SECRETS, tmp_path / "backups")
