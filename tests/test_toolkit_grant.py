"""Manual grant: deploy waits for the certificate and grants the pending request on the CA when the intent says
`grant_pending: true`; without it the client is left pending and deploy says so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.lab_fixture import MakeLab
from tests.toolkit_support import NTP, Cli, ca_intent, device, need_pki, tp_intent

pytestmark = pytest.mark.lab


def test_manual_grant(make_lab: MakeLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = {**ca_intent(), "grant": "manual", "grant_pending": True}
    data = {
        "ca1": {"ntp_servers": NTP, "ca_server": ca},
        "r1": {"ntp_servers": NTP, "trustpoints": [tp_intent(enrollment_retry_period=1)]},
        "r2": {"ntp_servers": NTP, "trustpoints": [tp_intent(enrollment_retry_period=1)]},
    }
    # 30 lab seconds per second: the client's 1-minute POLL comes every 2 s of real time
    lab = make_lab(hosts=[("ca1", "csr1k"), ("r1", "isr_g1"), ("r2", "isr4k")], host_data=data, rate=30)
    need_pki(lab)
    cli = Cli(monkeypatch, [])
    inv = ["--inventory", str(lab.inventory_dir), "--backup-dir", str(tmp_path / "b")]
    # without grant_pending the toolkit leaves the request to a person
    no_grant = lab.inventory_dir.parent / "inv-nogrant"
    import shutil

    import yaml

    shutil.copytree(lab.inventory_dir, no_grant)
    hosts = yaml.safe_load((no_grant / "hosts.yaml").read_text())
    hosts["ca1"]["data"]["ca_server"]["grant_pending"] = False
    (no_grant / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    (no_grant / "config.yaml").write_text(
        (no_grant / "config.yaml").read_text().replace(str(lab.inventory_dir), str(no_grant))
    )
    rc, out = cli(
        "deploy",
        "--inventory",
        str(no_grant),
        "--limit",
        "ca1,r2",
        "--wait",
        "6",
        "--backup-dir",
        str(tmp_path / "b"),
        "--json",
    )
    assert rc == 3, out
    assert out.lstrip().startswith("["), out
    note = {r["host"]: r for r in json.loads(out)}["r2"]["note"]
    assert "no new identity certificate" in note and "grant_pending" in note
    pending = re.findall(
        r"(?m)^\s*\d+\s+pending\b", device(lab, "ca1", "show crypto pki server LABCA requests")
    )
    # one request per router: IOS enrolls by itself on `authenticate` (auto-enroll), deploy must not add another
    assert len(pending) == 1, pending

    rc, out = cli("deploy", *inv, "--limit", "ca1,r1", "--wait", "60")
    assert rc == 0, out
    reqs = device(lab, "ca1", "show crypto pki server LABCA requests")
    certs = device(lab, "r1", "show crypto pki certificates LABCA")
    assert re.search(r"(?m)^Certificate\s*\n\s*Status: Available", certs), (reqs, certs)
