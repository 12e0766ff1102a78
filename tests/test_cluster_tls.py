"""A cluster whose every connection is TLS with client certificates (scheduler, worker, client), as the
README shows for jump hosts: collect works through it, a client without the certificates gets nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from iospki.cluster import ClientStore, DaskRunner, HostSecrets
from iospki.operations.inventory import all_secrets, load_nornir
from iospki.tasks import collect_pki
from tests.cluster_fixture import LAB_WORKER_ENV, make_tls, start_cluster
from tests.lab_fixture import start_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(300)]


def test_collect_through_a_tls_cluster(tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "tls")
    lab = start_lab(tmp_path / "lab", hosts=[("r1", "isr_g1"), ("r2", "csr1k")],
                    host_data={"r1": {"site": "a"}, "r2": {"site": "a"}})  # fmt: skip
    try:
        cluster = start_cluster(tmp_path / "dask", {"wa1": "a"}, LAB_WORKER_ENV, tls=tls)
        try:
            assert cluster.address.startswith("tls://127.0.0.1:")
            nr = load_nornir(lab.inventory_dir)
            ca, cert, key = tls
            runner = DaskRunner(cluster.address, tls_ca_file=ca, tls_cert=cert, tls_key=key)
            res = nr.with_runner(runner).run(
                task=collect_pki, output=ClientStore(str(tmp_path / "c")), secrets=HostSecrets(all_secrets(nr))
            )
            assert not res.failed_hosts
            assert (tmp_path / "c" / "r2" / "show_crypto_pki_timers_detail.txt").is_file()
            # without the client certificate the scheduler does not talk to us: one clear line per host
            plain = nr.with_runner(DaskRunner(cluster.address, connect_timeout=3)).run(
                task=collect_pki, output=ClientStore(str(tmp_path / "d")), secrets=HostSecrets([])
            )
            assert set(plain.failed_hosts) == {"r1", "r2"}
            assert f"r1: cluster scheduler {cluster.address} unreachable" in str(plain["r1"][0].result)
            assert not (tmp_path / "d" / "r1").exists()
        finally:
            cluster.stop()
    finally:
        lab.stop()
