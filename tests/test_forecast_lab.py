"""The forecast agrees with the lab, to the second on the lab clock (issue 6 acceptance).

A lab CA (`lifetime ca-certificate 730`, `lifetime certificate 365`, `auto-rollover 30`) and two
clients with `auto-enroll 80 regenerate`: r1 enrolled on day 0 (gets through, by under a day) and
r2 enrolled on day 73 (its shadow renewal comes before the rollover CA exists). The outputs are
collected over SSH on day 73 into a store, the forecast is made from them, and then the lab clock
is moved to one second before and to every predicted event through rollover day: the lab's armed
timers match the predicted times, nothing has happened one second early, and the predicted effect
(certificates and their dates) is there on the second. The lab runs as its own process
(`python -m iospki.lab`); this test never imports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler

from iospki import forecast as fc
from iospki.models import Certificate, CertificatesOutput, TimersOutput
from iospki.parsers import parse
from iospki.state import store
from iospki.state.loader import load_collection

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k"), ("r2", "isr4k")]
START = datetime(2027, 1, 1, 0, 0, 0)
COMMANDS = [
    "show clock detail",
    "show ntp status",
    "show running-config",
    "show crypto pki certificates verbose",
    "show crypto pki timers detail",
    "show crypto pki trustpoints status",
]


def iso(t: datetime) -> str:
    return t.isoformat() + "Z"


class Lab:
    def __init__(self, handle: Any) -> None:
        self.h = handle
        self.conns: dict[str, Any] = {}

    def conn(self, name: str) -> Any:
        if name not in self.conns:
            c = ConnectHandler(**self.h.hosts[name].netmiko())
            c.enable()
            self.conns[name] = c
        return self.conns[name]

    def show(self, name: str, cmd: str) -> str:
        return str(self.conn(name).send_command(cmd, read_timeout=60))

    def ask(self, name: str, line: str, expect: str, hidden: bool = False) -> str:
        return str(
            self.conn(name).send_command(
                line, expect_string=expect, strip_prompt=False, strip_command=False, read_timeout=60,
                cmd_verify=not hidden,
            )
        )  # fmt: skip

    def certs(self, name: str) -> list[Certificate]:
        out = parse("show crypto pki certificates", self.show(name, "show crypto pki certificates"), "iosxe")
        assert isinstance(out, CertificatesOutput)
        return out.certificates

    def cert(self, name: str, section: str) -> Certificate | None:
        return next((c for c in self.certs(name) if c.section == section), None)

    def timers(self, name: str) -> dict[tuple[str, str | None], datetime | None]:
        out = parse(
            "show crypto pki timers detail", self.show(name, "show crypto pki timers detail"), "iosxe"
        )
        assert isinstance(out, TimersOutput)
        return {(t.kind, t.target): (t.at.replace(tzinfo=None) if t.at else None) for t in out.timers}

    def set_clock(self, t: datetime) -> None:
        self.h.clock_set(iso(t))

    def close(self) -> None:
        for c in self.conns.values():
            c.disconnect()


@pytest.fixture
def lab(make_lab: Any) -> Iterator[Lab]:
    handle = make_lab(hosts=HOSTS, start=iso(START), rate=0.0)
    lab = Lab(handle)
    yield lab
    lab.close()


def setup_ca(lab: Lab, overlap: int = 30) -> None:
    lab.conn("ca1").send_config_set(
        [
            "ntp server 127.0.0.1",
            "ip http server",
            "crypto pki server CA",
            "grant auto",
            "lifetime certificate 365",
            "lifetime ca-certificate 730",
            f"auto-rollover {overlap}",
            # a CRL a week instead of every 6 h (IOS's default): the clock jumps through ~2 years fire ~200 CRL
            # re-issues instead of ~4,000, most of this test's time; nothing here (clients: revocation-check
            # none; the forecast) depends on the CRL
            "lifetime crl 168",
            "database archive pkcs12 password 0 forecast-lab-pass",
        ]
    )
    lab.conn("ca1").config_mode()
    lab.ask("ca1", "crypto pki server CA", r"\(cs-server\)#")
    out = lab.ask("ca1", "no shutdown", r"\(cs-server\)#|Password: ")
    if "Password:" in out:
        lab.ask("ca1", "forecast-lab-pass", r"Re-enter password: ", hidden=True)
        lab.ask("ca1", "forecast-lab-pass", r"\(cs-server\)#", hidden=True)
    lab.conn("ca1").exit_config_mode()
    assert "Status: enabled" in lab.show("ca1", "show crypto pki server")


def enroll(lab: Lab, name: str) -> None:
    addr = lab.h.hosts["ca1"].address
    lab.conn(name).send_config_set(
        [
            "ntp server 127.0.0.1",
            "crypto pki trustpoint client",
            f"enrollment url http://{addr}:80",
            "serial-number none",
            "ip-address none",
            "password 0 forecast-challenge",
            "revocation-check none",
            "rsakeypair client 2048",
            "auto-enroll 80 regenerate",
        ]
    )
    lab.conn(name).config_mode()
    lab.ask(name, "crypto pki authenticate client", r"\[yes/no\]: ")
    lab.ask(name, "yes", r"\(config\)#")
    lab.conn(name).exit_config_mode()
    # with auto-enroll configured, IOS enrolls by itself once the CA is authenticated
    for _ in range(50):
        if lab.cert(name, "Certificate") is not None:
            return
        time.sleep(0.1)
    raise AssertionError(
        f"{name} did not get its certificate: {lab.show(name, 'show crypto pki certificates')}"
    )


def collect(lab: Lab, root: Path) -> None:
    for name in ("ca1", "r1", "r2"):
        cmds = COMMANDS + (
            ["show crypto pki server", "show crypto pki server CA requests"] if name == "ca1" else []
        )
        for cmd in cmds:
            store.write_output(
                root, name, cmd, lab.show(name, cmd), ["forecast-lab-pass", "forecast-challenge"]
            )


@pytest.mark.parametrize("overlap", [30, 90])
def test_forecast_matches_lab_through_rollover(lab: Lab, tmp_path: Path, overlap: int) -> None:
    day = timedelta(days=1)
    setup_ca(lab, overlap)
    enroll(lab, "r1")
    lab.set_clock(START + 73 * day)
    enroll(lab, "r2")
    ca_cert = lab.cert("ca1", "CA Certificate")
    assert ca_cert is not None and ca_cert.start is not None and ca_cert.end is not None
    ca_end = ca_cert.end

    collect(lab, tmp_path)
    states = load_collection(tmp_path)
    assert all(not s.errors for s in states), [s.errors for s in states]
    f = fc.forecast_states(states, horizon=timedelta(days=900))
    events = [e for e in f.events if e.at <= ca_end + timedelta(seconds=1)]
    kinds = {(e.host, e.event) for e in events}
    # the prediction itself: behaviour doc §1.8 (r2 fails with the default 30, both get through with 90)
    assert ("r1", fc.SHADOW_RENEWAL) in kinds
    assert (("r2", fc.SHADOW_RENEWAL_FAILED) in kinds) == (overlap == 30)
    expected = {("r2", fc.NO_IDENTITY), ("r2", fc.CA_UNTRUSTED)} if overlap == 30 else set()
    assert {(o.host, o.reason) for o in f.outages if o.start <= ca_end} == expected

    timer_kind = {
        fc.RENEW: "RENEW",
        fc.SHADOW_RENEWAL: "SHADOW",  # C9: a capped certificate's renewal is a SHADOW timer
        fc.SHADOW_RENEWAL_FAILED: "SHADOW",
        fc.SHADOW: "SHADOW",
        fc.SHADOW_FAILED: "SHADOW",
        fc.CS_SHADOW_CERT_GENERATION: "CS SHADOW CERT GENERATION",
        fc.CS_CERT_EXPIRE: "CS CERT EXPIRE",
    }

    def check(evs: list[fc.Event]) -> int:
        checked = 0
        for at in sorted({e.at for e in evs}):
            now_events = [e for e in evs if e.at == at]
            lab.set_clock(at - timedelta(seconds=1))
            for e in now_events:
                host = e.host
                # the lab has armed the timer for exactly the predicted second
                if e.event in timer_kind:
                    target = e.subject if e.event.startswith("CS") is False else None
                    armed = lab.timers(host)
                    key = (timer_kind[e.event], target)
                    if e.event.startswith("CS"):
                        key = next((k for k in armed if k[0] == timer_kind[e.event]), key)
                    assert armed.get(key) == at, (
                        f"{host} {e.event}: lab timer {armed.get(key)} != predicted {at}"
                    )
                # nothing has happened one second early
                if e.event in (fc.RENEW, fc.ROLLOVER_ACTIVATION):
                    cur = lab.cert(host, "Certificate")
                    assert cur is not None and cur.start != e.valid_from
                if e.event == fc.SHADOW_RENEWAL:
                    assert lab.cert(host, "Certificate (Rollover)") is None
                if e.event == fc.CS_SHADOW_CERT_GENERATION:
                    assert lab.cert("ca1", "CA Certificate (Rollover)") is None
            lab.set_clock(at)
            for e in now_events:
                host = e.host
                if e.event in (fc.RENEW, fc.ROLLOVER_ACTIVATION):
                    cur = lab.cert(host, "Certificate")
                    assert cur is not None
                    assert (cur.start, cur.end) == (e.valid_from, e.valid_to), f"{host} {e.event} at {at}"
                elif e.event == fc.SHADOW_RENEWAL:
                    roll = lab.cert(host, "Certificate (Rollover)")
                    assert roll is not None and (roll.start, roll.end) == (e.valid_from, e.valid_to)
                    assert lab.cert(host, "CA Certificate (Rollover)") is not None
                elif e.event == fc.SHADOW_RENEWAL_FAILED:
                    assert lab.cert(host, "Certificate (Rollover)") is None
                    assert ("RENEW", "client") not in lab.timers(host)  # C4: no retry
                elif e.event == fc.SHADOW_FAILED:
                    assert lab.cert(host, "CA Certificate (Rollover)") is None
                elif e.event == fc.SHADOW:
                    assert lab.cert(host, "CA Certificate (Rollover)") is not None
                elif e.event == fc.CS_SHADOW_CERT_GENERATION:
                    roll = next(c for c in lab.certs("ca1") if c.section == "CA Certificate (Rollover)")
                    assert (roll.start, roll.end) == (e.valid_from, e.valid_to)
                elif e.event == fc.CS_CERT_EXPIRE:
                    cur = next(c for c in lab.certs("ca1") if c.section == "CA Certificate")
                    assert cur.start == at
                checked += 1
            if any(e.event == fc.SHADOW_RENEWAL for e in now_events):
                # a second forecast from the state between shadow renewal and rollover day (rollover
                # certificates installed, RENEW not armed) predicts the same activation and outages
                mid = tmp_path / f"mid-{at:%Y%m%d%H%M%S}"
                collect(lab, mid)
                f2 = fc.forecast_states(load_collection(mid), horizon=ca_end - at + timedelta(seconds=1))
                act = [e for e in events if e.event == fc.ROLLOVER_ACTIVATION]
                act2 = [e for e in f2.events if e.event == fc.ROLLOVER_ACTIVATION]
                assert [(e.host, e.at, e.event, e.valid_to) for e in f2.events if e.at > at] == [
                    (e.host, e.at, e.event, e.valid_to) for e in events if e.at > at
                ]
                assert [(e.host, e.at, e.valid_from, e.valid_to) for e in act2] == [
                    (e.host, e.at, e.valid_from, e.valid_to) for e in act
                ]
                assert {(o.host, o.start, o.reason) for o in f2.outages} == {
                    (o.host, o.start, o.reason) for o in f.outages if o.start <= ca_end
                }
        return checked

    checked = check(events)
    # every predicted event through rollover day was checked on the lab (9 with overlap 90: C9 leaves no CA
    # shadow at 90 % beside a capped certificate's SHADOW)
    assert checked == len(events) >= 9
    # after rollover day: r1 holds a valid certificate from the new CA; r2 has none and no new CA
    lab.set_clock(ca_end + timedelta(seconds=1))
    r1 = lab.cert("r1", "Certificate")
    assert r1 is not None and r1.start == ca_end and r1.end is not None and r1.end > ca_end
    r1_ca = lab.cert("r1", "CA Certificate")
    assert r1_ca is not None and r1_ca.start == ca_end
    r2 = lab.cert("r2", "Certificate")
    r2_ca = lab.cert("r2", "CA Certificate")
    assert r2_ca is not None
    if overlap == 30:  # the predicted outage is real: no valid identity, only the old (ended) CA
        assert r2 is None or (r2.end is not None and r2.end <= ca_end)
        assert r2_ca.end == ca_end
    else:
        assert r2 is not None and r2.start == ca_end and r2_ca.start == ca_end
    if overlap == 30:
        # live audit (collect through the toolkit, then audit) names the client that lost out
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "iospki"), "audit", "--inventory", str(lab.h.inventory_dir), "-f", "json"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr[-3000:]
        doc = json.loads(proc.stdout)
        found = {(f["host"], f["rule"]) for f in doc["findings"]}
        msgs = "\n".join(f"{f['host']} {f['rule']} {f['message']}" for f in doc["findings"])
        assert ("r2", "cert-expired") in found and ("r2", "rollover-overlap-short-autoenroll") in found, msgs
        assert ("r1", "cert-expired") not in found
        assert "forecast-lab-pass" not in proc.stdout + proc.stderr
    # past rollover day: the RENEW of the promoted certificates (T0 = the old CA's end, C2/C6)
    later = [e for e in f.events if ca_end + timedelta(seconds=1) < e.at <= ca_end + timedelta(days=200)]
    assert [e.event for e in later if e.host == "r1"] == [fc.RENEW]
    assert check(later) == len(later)
