"""A running emulated CA stays running, and says so, through what a deployment does to it: `configure replace`
with its own running config (NAPALM replace/rollback, a restore from backup), the rollover CA generation and
activation on the lab clock, `write memory` + reload. Checked on the device (status, CA fingerprint, keys, CS
timers, the running config's server block) and through the audit (`ca-server-not-serving` must not fire).

Before the fix, `configure replace` ran the block handlers' engine sync while the file was half applied: the
server block was not in the running config yet when the server's own trustpoint (printed above it) was
applied, so the sync deleted the certificate server (keys, CA certificate, database files) and re-created it
disabled: `Status: disabled` on a CA whose running config shows no `shutdown`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iospki.audit import run_audit
from iospki.parsers import parse
from iospki.state import store
from iospki.state.loader import load_collection
from tests.lab_pki_support import enroll_trustpoint, start_ca
from tests.netmiko_text import reload_router, send_answering
from tests.test_forecast_lab import COMMANDS, Lab, iso

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k")]
START = datetime(2027, 6, 1, 0, 0, 0)
ARCHIVE = "shut-state-archive-pw"


@pytest.fixture(scope="module")
def lab(make_lab_module: Any) -> Iterator[Lab]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    start_ca(
        lab,
        "database level complete",
        "lifetime ca-certificate 10",
        "lifetime certificate 4",
        "auto-rollover 3",
        "grant auto",
        archive=ARCHIVE,
    )
    enroll_trustpoint(lab, "r1", "TP", "rsakeypair TP 2048", "auto-enroll 70 regenerate")
    assert re.search(r"^Certificate$", lab.show("r1", "show crypto pki certificates TP"), re.M)
    yield lab
    lab.close()


def server_block(lab: Lab) -> str:
    m = re.search(r"^crypto pki server CA\n(?: .*\n)*", lab.show("ca1", "show running-config") + "\n", re.M)
    assert m is not None
    return m.group(0)


def assert_serving(lab: Lab, tmp: Path) -> str:
    """The CA is enabled, its running config says so, and the audit of collected outputs agrees."""
    text = lab.show("ca1", "show crypto pki server CA")
    assert "Status: enabled" in text and "State: enabled" in text, text
    block = server_block(lab)
    assert " shutdown" not in block, block
    cfg = parse("show running-config", lab.show("ca1", "show running-config"), "iosxe")
    assert [s.shutdown for s in cfg.servers] == [False]
    for name, _ in HOSTS:
        cmds = COMMANDS + (["show crypto pki server"] if name == "ca1" else [])
        for cmd in cmds:
            store.write_output(tmp, name, cmd, lab.show(name, cmd), [ARCHIVE])
    states = load_collection(tmp)
    assert all(not s.errors for s in states), [s.errors for s in states]
    hits = [f for f in run_audit(states).findings if f.rule == "ca-server-not-serving"]
    assert not hits, [f.message for f in hits]
    fp = re.search(r"CA cert fingerprint: (.*)", text)
    assert fp is not None
    return fp.group(1).strip()


def replace_with_own_config(lab: Lab, name: str) -> None:
    conn = lab.conn(name)
    send_answering(conn, "copy running-config flash:own.cfg")  # "Destination filename [own.cfg]?": Return
    out = conn.send_command("configure replace flash:own.cfg force", read_timeout=60)
    assert "Rollback Done" in out, out


def cs_timers(lab: Lab) -> list[str]:
    text = lab.show("ca1", "show crypto pki timers detail")
    return [line.strip(" |") for line in text.splitlines() if ") CS " in line]


def test_configure_replace_keeps_the_ca_and_the_client(lab: Lab, tmp_path: Path) -> None:
    fp = assert_serving(lab, tmp_path / "before")
    keys = lab.show("ca1", "show crypto key mypubkey rsa")
    timers = cs_timers(lab)
    assert any("SHADOW" in t for t in timers), timers
    files = lab.show("ca1", "dir nvram:")
    client_certs = lab.show("r1", "show crypto pki certificates")
    client_timers = lab.show("r1", "show crypto pki timers")
    replace_with_own_config(lab, "ca1")
    assert assert_serving(lab, tmp_path / "after") == fp
    assert lab.show("ca1", "show crypto key mypubkey rsa") == keys
    assert cs_timers(lab) == timers
    for f in ("CA.ser", "CA.crl", "CA.p12"):
        assert f in files and f in lab.show("ca1", "dir nvram:"), f
    assert "TRUSTPOINT_CREATE" not in lab.show("ca1", "show logging")  # nothing was created
    # a client trustpoint re-applied by a replace keeps its certificate and its RENEW timer
    replace_with_own_config(lab, "r1")
    assert lab.show("r1", "show crypto pki certificates") == client_certs
    assert lab.show("r1", "show crypto pki timers") == client_timers


def reload(lab: Lab, name: str) -> None:
    conn = lab.conn(name)
    conn.save_config()
    reload_router(conn)
    conn.disconnect()
    lab.conns.pop(name)
    time.sleep(1.0)
    for _ in range(60):
        try:
            lab.conn(name)
            return
        except Exception:
            time.sleep(0.5)
    raise AssertionError(f"{name} did not come back after reload")


def test_serving_through_rollover_write_memory_and_reload(lab: Lab, tmp_path: Path) -> None:
    fp = assert_serving(lab, tmp_path / "0")
    lab.set_clock(START + timedelta(days=7, hours=1))  # CS SHADOW CERT GENERATION at day 7
    assert "Rollover status: available for rollover" in lab.show("ca1", "show crypto pki server CA")
    assert assert_serving(lab, tmp_path / "1") == fp
    reload(lab, "ca1")
    assert "%SYS-5-RESTART" in lab.show("ca1", "show logging")
    assert assert_serving(lab, tmp_path / "2") == fp
    assert "Rollover status: available for rollover" in lab.show("ca1", "show crypto pki server CA")
    lab.set_clock(START + timedelta(days=10, hours=1))  # CS CERT EXPIRE: the rollover CA becomes active
    new_fp = assert_serving(lab, tmp_path / "3")
    assert new_fp != fp
    reload(lab, "ca1")
    assert assert_serving(lab, tmp_path / "4") == new_fp
    replace_with_own_config(lab, "ca1")
    assert assert_serving(lab, tmp_path / "5") == new_fp
    # the client followed the CA through its rollover
    certs = lab.show("r1", "show crypto pki certificates TP")
    assert re.search(r"^Certificate$", certs, re.M), certs
