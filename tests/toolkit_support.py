"""Helpers of the toolkit's end-to-end tests: a lab inventory with PKI intent (plus a host that is down),
running `iospki` commands, reading device state over SSH, and grepping artifacts for secrets."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import netmiko
import pytest
import yaml
from typer.testing import CliRunner

from iospki.cli import app
from iospki.operations.inventory import LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD
from tests.lab_fixture import PASSWORD, SECRET, LabHandle

ENV = (
    "IOSPKI_USERNAME",
    "IOSPKI_PASSWORD",
    "IOSPKI_ENABLE_SECRET",
    "IOSPKI_CA_PASSPHRASE",
    "IOSPKI_CHALLENGE_PASSWORD",
)
SECRETS = [PASSWORD, SECRET, LAB_CA_PASSPHRASE, LAB_CHALLENGE_PASSWORD]

HOSTS = [("ca1", "csr1k"), ("r1", "isr_g1"), ("r3", "isr4k")]
NTP = ["127.0.0.123"]


def ca_intent() -> dict[str, Any]:
    return {
        "name": "LABCA",
        "issuer": "CN=LABCA,O=iospki test",
        "lifetime_ca_days": 730,
        "lifetime_certificate_days": 365,
        "auto_rollover_days": 90,
        "grant": "auto",
        "database_level": "complete",
        "database_url": "nvram:",
        "http_port": 8080,
    }


def tp_intent(**over: Any) -> dict[str, Any]:
    tp = {
        "name": "LABCA",
        "ca_server": "ca1",
        "auto_enroll_percent": 80,
        "regenerate": True,
        "key_label": "IOSPKI-KEY",
        "key_size": 2048,
        "revocation_check": "none",
    }
    tp.update(over)
    return tp


HOST_DATA: dict[str, dict[str, Any]] = {
    "ca1": {"ntp_servers": NTP, "ca_server": ca_intent()},
    "r1": {"ntp_servers": NTP, "trustpoints": [tp_intent()]},
    "r3": {"ntp_servers": NTP, "trustpoints": [tp_intent()]},
}


def add_down_host(lab: LabHandle, name: str = "rdown") -> str:
    """Add a client to the inventory that nothing answers for (a loopback address with no listener)."""
    hosts = yaml.safe_load((lab.inventory_dir / "hosts.yaml").read_text())
    base = lab.hosts["r1"].address.rsplit(".", 1)[0]
    addr = f"{base}.249"
    with socket.socket() as s:
        s.bind((addr, 0))
        port = s.getsockname()[1]  # free now, and nothing will listen there
    hosts[name] = {
        "hostname": addr,
        "port": port,
        "groups": ["isr_g2"],
        "data": {"ntp_servers": NTP, "trustpoints": [tp_intent()]},
    }
    (lab.inventory_dir / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    return name


def set_host_data(inv: Path, host: str, data: dict[str, Any]) -> None:
    hosts = yaml.safe_load((inv / "hosts.yaml").read_text())
    hosts[host]["data"] = data
    (inv / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))


class Cli:
    """Runs `iospki` in-process and keeps every output (for the secrets grep)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, transcript: list[str]):
        self.mp = monkeypatch
        self.transcript = transcript
        for v in ENV:
            monkeypatch.delenv(v, raising=False)

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> tuple[int, str]:
        r = CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        out = r.output  # stdout and stderr, mixed
        self.transcript.append(out)
        return r.exit_code, out


def device(lab: LabHandle, host: str, command: str) -> str:
    """Device state read over SSH, independently of the toolkit."""
    with netmiko.ConnectHandler(**lab.hosts[host].netmiko()) as conn:
        conn.enable()
        return str(conn.send_command(command, read_timeout=60))


def lab_has_pki(lab: LabHandle) -> bool:
    """True once the lab's PKI engine answers `show crypto pki server` on the CA."""
    state = json.loads((lab.state_dir / "lab.json").read_text())
    if not state.get("plugins"):
        return False
    return "Invalid input" not in device(lab, "ca1", "show crypto pki server")


def need_pki(lab: LabHandle) -> None:
    if not lab_has_pki(lab):
        pytest.skip(
            "the lab twin has no PKI engine yet (lab/pki plugin not loaded); these checks run once it lands"
        )


def grep_secrets(paths: list[Path], texts: list[str]) -> list[str]:
    hits = []
    for p in paths:
        for f in [p] if p.is_file() else [x for x in p.rglob("*") if x.is_file()]:
            data = f.read_text(errors="replace")
            hits += [f"{f}: {s}" for s in SECRETS if s in data]
    for i, t in enumerate(texts):
        hits += [f"output #{i}: {s}" for s in SECRETS if s in t]
    return hits


def no_timestamps(running: str) -> str:
    return "\n".join(
        ln
        for ln in running.splitlines()
        if not re.match(r"^! (Last|NVRAM)", ln) and "Current configuration" not in ln
    )
