"""Audit rules on outputs of the lab twin, collected over SSH as `collect` does: a badly set up CA
(no `ip http server`, manual grant, no auto-rollover, certificate lifetime over the CA's), a client with
`auto-enroll` without a percentage and a pending request, and a router whose clock is not authoritative."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from iospki.audit import run_audit
from iospki.state import store
from iospki.state.loader import load_collection
from tests.test_forecast_lab import COMMANDS, Lab, iso

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k"), ("r3", "isr_g2")]
START = datetime(2027, 1, 1, 0, 0, 0)


@pytest.fixture
def lab(make_lab: Any) -> Iterator[Lab]:
    lab = Lab(make_lab(hosts=HOSTS, start=iso(START), rate=0.0))
    yield lab
    lab.close()


def collect(lab: Lab, root: Path) -> None:
    for name, _ in HOSTS:
        cmds = COMMANDS + (
            ["show crypto pki server", "show crypto pki server CA requests"] if name == "ca1" else []
        )
        for cmd in cmds:
            store.write_output(root, name, cmd, lab.show(name, cmd), ["audit-lab-pass", "audit-challenge"])


def rules(root: Path) -> dict[str, set[str]]:
    states = load_collection(root)
    assert all(not s.errors for s in states), [s.errors for s in states]
    out: dict[str, set[str]] = {}
    for f in run_audit(states).findings:
        out.setdefault(f.host, set()).add(f.rule)
    return out


def test_audit_on_lab_outputs(lab: Lab, tmp_path: Path) -> None:
    ca = lab.conn("ca1")
    ca.send_config_set(
        [
            "ntp server 127.0.0.1",
            "crypto pki server CA",
            "lifetime certificate 1200",
            "database archive pkcs12 password 0 audit-lab-pass",
        ]
    )
    ca.config_mode()
    lab.ask("ca1", "crypto pki server CA", r"\(cs-server\)#")
    out = lab.ask("ca1", "no shutdown", r"\(cs-server\)#|Password: ")
    if "Password:" in out:
        lab.ask("ca1", "audit-lab-pass", r"Re-enter password: ", hidden=True)
        lab.ask("ca1", "audit-lab-pass", r"\(cs-server\)#", hidden=True)
    ca.exit_config_mode()
    lab.conn("r3").send_config_set(["crypto pki trustpoint spare", "enrollment terminal"])
    collect(lab, tmp_path / "1")
    found = rules(tmp_path / "1")
    assert {"ca-server-not-serving", "auto-rollover-missing", "lifetime-exceeds-ca"} <= found["ca1"]
    assert "clock-not-authoritative" in found.get("r3", set())
    assert "clock-not-authoritative" not in found.get("ca1", set())

    # serve SCEP; a client with `auto-enroll` (no percentage) whose request waits for a manual grant
    ca.send_config_set(["ip http server"])
    addr = lab.h.hosts["ca1"].address
    lab.conn("r1").send_config_set(
        [
            "ntp server 127.0.0.1",
            "crypto pki trustpoint client",
            f"enrollment url http://{addr}:80",
            "serial-number none",
            "ip-address none",
            "password 0 audit-challenge",
            "rsakeypair client 2048",
            "auto-enroll",
        ]
    )
    lab.conn("r1").config_mode()
    lab.ask("r1", "crypto pki authenticate client", r"\[yes/no\]: ")
    lab.ask("r1", "yes", r"\(config\)#")
    lab.conn("r1").exit_config_mode()
    collect(lab, tmp_path / "2")
    found = rules(tmp_path / "2")
    assert "ca-server-not-serving" not in found["ca1"]
    assert "requests-pending" in found["ca1"]
    assert {"trustpoint-not-enrolled", "autoenroll-at-expiry"} <= found["r1"]

    # grant it: the request and the client findings about enrollment go away
    assert lab.show("ca1", "crypto pki server CA grant all").strip() == ""
    lab.h.clock_advance("2m")
    collect(lab, tmp_path / "3")
    found = rules(tmp_path / "3")
    assert "requests-pending" not in found.get("ca1", set())
    assert "trustpoint-not-enrolled" not in found.get("r1", set())
    assert "autoenroll-at-expiry" in found["r1"]
    for p in tmp_path.rglob("*.txt"):
        text = p.read_text()
        assert "audit-lab-pass" not in text and "audit-challenge" not in text
