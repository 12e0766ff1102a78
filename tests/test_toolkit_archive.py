"""A CA with `database archive pkcs12 password ...`: the password comes from IOSPKI_CA_PASSPHRASE, `no shutdown`
needs no passphrase dialog, and the password never shows up in outputs, backups or collections."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab_fixture import MakeLab
from tests.toolkit_support import NTP, Cli, ca_intent, device, grep_secrets, need_pki, tp_intent

pytestmark = pytest.mark.lab


def test_archive_password_from_env_never_leaks(
    make_lab: MakeLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = {
        "ca1": {"ntp_servers": NTP, "ca_server": {**ca_intent(), "database_archive": "pkcs12"}},
        "r1": {"ntp_servers": NTP, "trustpoints": [tp_intent()]},
    }
    lab = make_lab(hosts=[("ca1", "csr1k"), ("r1", "isr_g2")], host_data=data)
    need_pki(lab)
    transcript: list[str] = []
    cli = Cli(monkeypatch, transcript)
    passphrase = "archive-Passphrase-42"
    env = {"IOSPKI_CA_PASSPHRASE": passphrase}
    rc, out = cli(
        "deploy", "--inventory", str(lab.inventory_dir), "--backup-dir", str(tmp_path / "b"), env=env
    )
    assert rc == 0, out
    running = device(lab, "ca1", "show running-config | section crypto pki server")
    assert "database archive pkcs12 password" in running
    assert "enabled" in device(lab, "ca1", "show crypto pki server LABCA")
    rc, out = cli("collect", "--inventory", str(lab.inventory_dir), "--output", str(tmp_path / "c"), env=env)
    assert rc == 0, out
    rc, out = cli(
        "deploy", "--inventory", str(lab.inventory_dir), "--backup-dir", str(tmp_path / "b"), env=env
    )
    assert rc == 0, out  # idempotent although IOS shows the password encrypted
    hits = grep_secrets([tmp_path], transcript)
    for f in tmp_path.rglob("*"):
        if f.is_file() and passphrase in f.read_text(errors="replace"):
            hits.append(str(f))
    assert not any(passphrase in t for t in transcript) and hits == []
