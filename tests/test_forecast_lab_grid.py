"""Issue 11 §1 "Prove it": the forecast and the lab agree event by event over the grid of behaviour doc §1.8.

The lab of tests/test_lab_shadow_capped.py (its helpers are reused): two CAs (`lifetime ca-certificate 730`,
`lifetime certificate 365`, `auto-rollover 90` on ca90 and `30` on ca30) and a client of each with trustpoints
joining on day 0, 73 and 100 with `auto-enroll 80 regenerate`, one with `auto-enroll 60` and one without
auto-enroll. The outputs are collected over SSH on day 100 (after the last join) into a store and forecast
through rollover day; then the lab clock goes to one second before and to every predicted event: the lab's
timer for it is armed for exactly the predicted second (RENEW, or SHADOW for a capped certificate, C9),
nothing has happened one second early, and the predicted effect is there on the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from iospki import forecast as fc
from iospki.models import Certificate
from iospki.state import store
from iospki.state.loader import load_collection
from tests.test_forecast_lab import COMMANDS, Lab, iso
from tests.test_lab_shadow_capped import CA_END, HOSTS, START, TRUSTPOINTS, at_day, build, tp_certs

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SECOND = timedelta(seconds=1)
CLIENTS = {"c90": "ca90", "c30": "ca30"}
# the forecast's event -> the lab timer that carries it (C9: a capped certificate's renewal is SHADOW)
TIMER = {
    fc.RENEW: "RENEW",
    fc.SHADOW_RENEWAL: "SHADOW",
    fc.SHADOW_RENEWAL_FAILED: "SHADOW",
    fc.SHADOW: "SHADOW",
    fc.SHADOW_FAILED: "SHADOW",
    fc.CS_SHADOW_CERT_GENERATION: "CS SHADOW CERT GENERATION",
    fc.CS_CERT_EXPIRE: "CS CERT EXPIRE",
}


def collect(lab: Lab, root: Path) -> None:
    for host, _model in HOSTS:
        extra = ["show crypto pki server", "show crypto pki server CA requests"] if host in CLIENTS.values() else []
        for cmd in COMMANDS + extra:
            store.write_output(root, host, cmd, lab.show(host, cmd), ["lab-archive-pw"])


@pytest.fixture(scope="module")
def grid(make_lab_module: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, fc.Forecast]]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    try:
        build(lab)  # the lab clock is on day 100, the last join day
        root = tmp_path_factory.mktemp("grid")
        collect(lab, root)
        states = load_collection(root)
        assert all(not s.errors for s in states), [s.errors for s in states]
        yield lab, fc.forecast_states(states, horizon=CA_END - at_day(100))
    finally:
        lab.close()


def section(certs: list[Certificate], name: str) -> Certificate | None:
    return next((c for c in certs if c.section == name), None)


def test_forecast_and_lab_agree_event_by_event(grid: tuple[Lab, fc.Forecast]) -> None:
    lab, f = grid
    events = [e for e in f.events if e.at <= CA_END]
    # the prediction itself is the §1.8 table (tests/test_forecast_table.py checks it row by row)
    failed = {(e.host, e.subject) for e in events if e.event == fc.SHADOW_RENEWAL_FAILED}
    assert failed == {("c30", "T73"), ("c30", "T100"), ("c30", "T60"), ("c90", "T60")}, failed
    assert {(e.host, e.subject) for e in events if e.event == fc.SHADOW_RENEWAL} == {
        ("c90", "T0"), ("c30", "T0"), ("c90", "T73"), ("c90", "T100")
    }  # fmt: skip
    checked: list[tuple[str, str, str]] = []
    for at in sorted({e.at for e in events}):
        now = [e for e in events if e.at == at]
        lab.set_clock(at - SECOND)
        before: dict[tuple[str, str], list[Certificate]] = {}
        for e in now:
            if e.event in TIMER:
                armed = lab.timers(e.host)
                key = (TIMER[e.event], None if e.event.startswith("CS") else e.subject)
                if e.event.startswith("CS"):
                    key = next((k for k in armed if k[0] == TIMER[e.event]), key)
                assert armed.get(key) == at, f"{e.host} {e.subject} {e.event}: lab {armed.get(key)} != {at}"
            if e.trustpoint is not None:
                before[(e.host, e.subject)] = certs = tp_certs(lab, e.host, e.subject)
                cur = section(certs, "Certificate")
                if e.event in (fc.RENEW, fc.ROLLOVER_ACTIVATION) and e.valid_from is not None:
                    assert cur is None or cur.start != e.valid_from, (e, cur)  # not one second early
                if e.event == fc.SHADOW_RENEWAL:
                    assert section(certs, "Certificate (Rollover)") is None, e
        lab.set_clock(at)
        for e in now:
            if e.trustpoint is None:  # the CA server
                ca_certs = {c.section: c for c in lab.certs(e.host)}
                if e.event == fc.CS_SHADOW_CERT_GENERATION:
                    ca_roll = ca_certs["CA Certificate (Rollover)"]
                    assert (ca_roll.start, ca_roll.end) == (e.valid_from, e.valid_to)
                elif e.event == fc.CS_CERT_EXPIRE:
                    assert ca_certs["CA Certificate"].start == at
                checked.append((e.host, e.subject, e.event))
                continue
            certs = tp_certs(lab, e.host, e.subject)
            cur, roll = section(certs, "Certificate"), section(certs, "Certificate (Rollover)")
            roll_ca, ca = section(certs, "CA Certificate (Rollover)"), section(certs, "CA Certificate")
            if e.event == fc.RENEW:
                assert cur is not None and (cur.start, cur.end) == (e.valid_from, e.valid_to), (e, cur)
            elif e.event == fc.SHADOW_RENEWAL:
                assert roll is not None and (roll.start, roll.end) == (e.valid_from, e.valid_to), (e, roll)
                assert roll_ca is not None, e
            elif e.event == fc.SHADOW_RENEWAL_FAILED:
                assert roll is None and roll_ca is None, (e, certs)
                assert (("SHADOW", e.subject)) not in lab.timers(e.host)  # C4: no retry
            elif e.event == fc.SHADOW:
                assert roll_ca is not None, e
            elif e.event == fc.SHADOW_FAILED:
                assert roll_ca is None, e
            elif e.event == fc.ROLLOVER_ACTIVATION:
                assert ca is not None and ca.start == at, (e, ca)
                if e.valid_from is not None:
                    assert cur is not None and (cur.start, cur.end) == (e.valid_from, e.valid_to), (e, cur)
            elif e.event == fc.CERT_END:
                # the certificate the forecast saw end is the one the lab still shows, ended on this second
                old = section(before.get((e.host, e.subject), certs), "Certificate")
                assert old is not None and old.end == at, (e, old)
            elif e.event == fc.CA_CERT_END:
                assert ca is not None and ca.end == at and roll_ca is None, (e, certs)
            else:
                raise AssertionError(f"an event this test does not check: {e}")
            checked.append((e.host, e.subject, e.event))
    assert len(checked) == len(events) and len(events) >= 40, (len(checked), len(events))
    # one second after rollover day: who holds a valid certificate from the new CA is what the forecast said
    lab.set_clock(CA_END + SECOND)
    outages = {(o.host, o.trustpoint) for o in f.outages if o.reason == fc.CA_UNTRUSTED}
    for client in CLIENTS:
        for tp in TRUSTPOINTS:
            ca = section(tp_certs(lab, client, tp), "CA Certificate")
            assert ca is not None and (ca.start == CA_END) == ((client, tp) not in outages), (client, tp, ca)


def test_the_grid_covers_join_days_overlaps_and_auto_enroll() -> None:
    """The grid the issue asks for: join days 0, 73, 100; overlaps 30 and 90; with and without auto-enroll."""
    assert {d for d, _a in TRUSTPOINTS.values()} == {0, 73, 100}
    assert any(a is None for _d, a in TRUSTPOINTS.values()) and any(a for _d, a in TRUSTPOINTS.values())
    assert set(CLIENTS.values()) == {"ca90", "ca30"}
