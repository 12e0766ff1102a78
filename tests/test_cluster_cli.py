"""`iospki deploy --cluster` and `iospki collect --cluster` (or IOSPKI_CLUSTER) against the lab through a real
loopback Dask cluster of two sites, compared with the same commands run locally."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster_fixture import Cluster, assert_same_collection, lab_and_cluster
from tests.lab_fixture import LabHandle
from tests.toolkit_support import NTP, SECRETS, ca_intent, tp_intent

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(600)]

HOSTS = [("ca1", "csr1k"), ("r1", "isr_g1"), ("r2", "isr_g2"), ("r3", "isr4k")]
SITES = {"ca1": "a", "r1": "a", "r2": "b", "r3": "b"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabHandle, Cluster]]:
    data: dict[str, dict[str, Any]] = {h: {"site": s, "ntp_servers": NTP} for h, s in SITES.items()}
    data["ca1"]["ca_server"] = ca_intent()
    for h in ("r1", "r2", "r3"):
        data[h]["trustpoints"] = [tp_intent()]
    base = tmp_path_factory.mktemp("cluster-cli")
    with lab_and_cluster(base, HOSTS, data, {"wa1": "a", "wa2": "a", "wb1": "b"}) as both:
        yield both


def iospki(*args: str, cluster: str | None = None) -> tuple[int, str]:
    """The CLI as an operator runs it: no device credentials in its environment (the lab inventory has them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOSPKI_")}
    if cluster:
        env["IOSPKI_CLUSTER"] = cluster
    p = subprocess.run([sys.executable, "-c", "from iospki.cli import main; main()", *args],
                       capture_output=True, text=True, env=env, timeout=400)  # fmt: skip
    return p.returncode, p.stdout + p.stderr


def test_deploy_and_collect_with_cluster(env: tuple[LabHandle, Cluster], tmp_path: Path) -> None:
    lab, cluster = env
    inv = str(lab.inventory_dir)
    rc, out = iospki("deploy", "-i", inv, "--cluster", cluster.address, "--backup-dir", str(tmp_path / "b"),
                     "--json")  # fmt: skip
    assert rc == 0, out
    rows = json.loads(out[out.index("[") : out.rindex("]") + 1])
    assert all(r["ok"] for r in rows) and all(r["certificates"]["LABCA"] for r in rows if r["host"] != "ca1")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(SITES)  # backups came back here
    rc, out = iospki("collect", "-i", inv, "-o", str(tmp_path / "remote"), "--no-facts", cluster=cluster.address)
    assert rc == 0, out  # IOSPKI_CLUSTER
    rc, out = iospki("collect", "-i", inv, "-o", str(tmp_path / "local"), "--no-facts")
    assert rc == 0, out
    assert_same_collection(tmp_path / "remote", tmp_path / "local", sorted(SITES), SECRETS, tmp_path / "b")


def test_an_unreachable_cluster_is_a_usage_error(env: tuple[LabHandle, Cluster], tmp_path: Path) -> None:
    lab, _ = env
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, out = iospki("collect", "-i", str(lab.inventory_dir), "-o", str(tmp_path / "c"),
                     "--cluster", f"tcp://127.0.0.1:{port}")  # fmt: skip
    assert rc == 2 and "unreachable" in out and "Traceback" not in out, out
    assert not (tmp_path / "c" / "r1").exists()
