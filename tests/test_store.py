"""The collection layout: names, atomic writes, redaction, errors and meta.json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iospki.state import store

RUNNING_CONFIG = """\
hostname CA
enable secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM
username admin privilege 15 password 0 LabPass1
crypto pki server CA
 database level complete
 database archive pkcs12 password 7 0822455D0A16544541
 issuer-name CN=CA
 grant auto
crypto pki trustpoint client
 enrollment url http://127.10.0.1:80
 password 7 13061E010803557878
 rsakeypair client-key 2048
 auto-enroll 80 regenerate
crypto isakmp key Sup3rSecret address 192.0.2.1
line vty 0 4
 password cisco
"""


def test_command_filename_examples() -> None:
    assert store.command_filename("show crypto pki timers detail") == "show_crypto_pki_timers_detail.txt"
    assert store.command_filename("  show   clock ") == "show_clock.txt"
    assert store.command_filename("show running-config | section crypto") == (
        "show_running-config_%7C_section_crypto.txt"
    )
    assert store.filename_command("show_running-config_%7C_section_crypto.txt") == (
        "show running-config | section crypto"
    )
    with pytest.raises(store.StoreError):
        store.command_filename("   ")


@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Cc"]), min_size=1), min_size=1)
)
def test_command_filename_roundtrip(words: list[str]) -> None:
    cmd = " ".join(words)
    name = store.command_filename(cmd)
    assert "/" not in name and " " not in name and not name.startswith("_")
    assert store.filename_command(name) == cmd


def test_write_and_read_outputs(tmp_path: Path) -> None:
    store.write_output(tmp_path, "R1", "show clock", "*10:15:00.123 UTC Mon Mar 4 2024\n")
    store.write_output(tmp_path, "R1", "show crypto pki certificates verbose MY_TP", "Certificate\n")
    store.write_output(tmp_path, "R2", "show clock", "10:15:00.123 UTC Mon Mar 4 2024\n")
    store.write_error(tmp_path, "R3", "R3: TCP connection to 127.10.0.3:2222 refused")
    store.write_json(tmp_path, "R1", "facts", {"os_version": "15.4(3)M"})
    assert (tmp_path / "R1" / "show_clock.txt").read_text() == "*10:15:00.123 UTC Mon Mar 4 2024\n"
    assert store.hosts(tmp_path) == ["R1", "R2", "R3"]
    assert store.read_outputs(tmp_path, "R1") == {
        "show clock": "*10:15:00.123 UTC Mon Mar 4 2024\n",
        "show crypto pki certificates verbose MY_TP": "Certificate\n",
    }
    assert store.read_outputs(tmp_path, "R3") == {}
    assert store.read_error(tmp_path, "R3") == "R3: TCP connection to 127.10.0.3:2222 refused"
    assert store.read_error(tmp_path, "R1") is None
    assert store.read_json(tmp_path, "R1", "facts") == {"os_version": "15.4(3)M"}
    assert store.read_output(tmp_path, "R2", "show  clock") == "10:15:00.123 UTC Mon Mar 4 2024\n"
    assert store.read_output(tmp_path, "R2", "show ntp status") is None
    store.clear_error(tmp_path, "R3")
    assert store.read_error(tmp_path, "R3") is None
    # no temporary files left behind
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_meta(tmp_path: Path) -> None:
    from iospki import __version__

    store.write_meta(tmp_path, ["R1", "R2"], ["R3"], commands=["show clock"])
    meta = store.read_meta(tmp_path)
    assert meta is not None
    assert meta["iospki_version"] == __version__
    assert meta["hosts_ok"] == ["R1", "R2"] and meta["hosts_failed"] == ["R3"]
    assert meta["started"].endswith("+00:00")
    # meta.json is not a host
    store.write_output(tmp_path, "R1", "show clock", "x")
    assert store.hosts(tmp_path) == ["R1"]


def test_bad_names_are_clear_errors(tmp_path: Path) -> None:
    for bad in ["../etc", "", ".", "a/b"]:
        with pytest.raises(store.StoreError, match="host"):
            store.write_output(tmp_path, bad, "show clock", "x")
    with pytest.raises(store.StoreError, match="R9"):
        store.read_outputs(tmp_path, "R9")
    with pytest.raises(store.StoreError, match="not a collection"):
        store.hosts(tmp_path / "missing")


def test_running_config_secrets_redacted_on_write(tmp_path: Path) -> None:
    p = store.write_output(tmp_path, "CA", "show running-config", RUNNING_CONFIG, secrets=["LabPass1"])
    text = p.read_text()
    for secret in [
        "0822455D0A16544541",
        "13061E010803557878",
        "LabPass1",
        "Sup3rSecret",
        "cisco\n",
        "$9$nhEmQVczB7dqsO",
    ]:
        assert secret not in text, secret
    assert " database archive pkcs12 password 7 <redacted>" in text
    assert " password 7 <redacted>" in text
    # non-secret lines untouched
    assert " rsakeypair client-key 2048" in text
    assert " auto-enroll 80 regenerate" in text
    assert " enrollment url http://127.10.0.1:80" in text


def test_secrets_redacted_in_errors_and_json(tmp_path: Path) -> None:
    store.write_error(tmp_path, "R1", "auth failed for admin/LabPass1", secrets=["LabPass1"])
    assert "LabPass1" not in (tmp_path / "R1" / "_error.txt").read_text()
    store.write_json(tmp_path, "R1", "inv", {"password": "LabPass1"}, secrets=["LabPass1"])
    assert "LabPass1" not in (tmp_path / "R1" / "inv.json").read_text()


def test_redaction_keeps_show_outputs_intact() -> None:
    fixtures = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "genie"
    if not fixtures.is_dir():
        pytest.skip("shared fixtures not present")
    checked = 0
    for f in sorted(fixtures.glob("show_crypto_pki_*/*.txt")):
        text = f.read_text(errors="replace")
        assert store.redact(text, []) == text, f
        checked += 1
    assert checked > 5


def test_interrupted_write_leaves_old_file(tmp_path: Path) -> None:
    """SIGINT while writing a large output: the file is either the old or the new text, never half."""
    store.write_output(tmp_path, "R1", "show clock", "old\n")
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from iospki.state import store
        big = "x" * 50_000_000
        orig = os.fsync
        def slow(fd):
            print("writing", flush=True)
            signal.pause()
        os.fsync = slow
        store.write_output({str(tmp_path)!r}, "R1", "show clock", big)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert (tmp_path / "R1" / "show_clock.txt").read_text() == "old\n"
    assert not list((tmp_path / "R1").glob(".tmp-*"))
    assert json.dumps(store.read_outputs(tmp_path, "R1")) == json.dumps({"show clock": "old\n"})
