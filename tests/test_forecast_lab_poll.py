"""POLL back-off (rulebook P1): the forecast, made from a toolkit collection taken right after the CA answered
PENDING, and the lab (which knows nothing of the forecast) agree on every poll and on the one that fetches a
certificate granted 20 minutes after the request (tests/test_lab_poll_backoff.py checks the lab alone)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from iospki import forecast as fc
from iospki.state.loader import load_collection
from tests.lab_pki_support import start_ca
from tests.test_forecast_lab import Lab, collect
from tests.test_lab_poll_backoff import MIN, POLLS, START, lab  # noqa: F401 - `lab` is the fixture used here

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("grant_after", [20])
def test_forecast_and_lab_agree_on_the_polls_of_a_manual_grant(
    lab: Lab,  # noqa: F811 - the imported fixture
    tmp_path: Path,
    grant_after: int,
) -> None:
    start_ca(lab, "lifetime certificate 365")  # grant manual: the request waits for `grant`
    lab.conn("r1").send_config_set([
        "ntp server 127.0.0.1", "crypto pki trustpoint TP", f"enrollment url http://{lab.h.hosts['ca1'].address}:80",
        "serial-number none", "ip-address none", "revocation-check none", "rsakeypair TPKEY 1024", "auto-enroll 80",
    ])  # fmt: skip
    lab.conn("r1").config_mode()
    lab.ask("r1", "crypto pki authenticate TP", r"\[yes/no\]: ")
    lab.ask("r1", "yes", r"\(config\)#")
    lab.conn("r1").exit_config_mode()
    collect(lab, tmp_path)
    states = load_collection(tmp_path)
    assert all(not s.errors for s in states), [s.errors for s in states]
    cas, tps = fc.inputs_from_states(states)
    (tp,) = [t for t in tps if t.host == "r1"]
    assert tp.pending_request and tp.poll_at == START + MIN and tp.identity is None
    # the forecast's assumption: an operator grants the request `grant_after` minutes after it arrived
    cas = [dataclasses.replace(c, grant_delay=grant_after * MIN) for c in cas]
    f = fc.simulate(cas, tps, START, START + timedelta(days=1))
    polls = [e.at for e in f.events_for("r1", fc.POLL)]
    assert polls == [START + m * MIN for m in POLLS]  # 1, 2, 4, 8, 16, 32 minutes after the request
    (got,) = f.events_for("r1", fc.CERT_INSTALL)
    assert (got.at, got.valid_from) == (START + 32 * MIN, START + grant_after * MIN)
    # the lab, one second before each predicted poll: its POLL timer is armed for exactly that time
    granted = False
    for at in polls:
        if not granted and START + grant_after * MIN < at:
            lab.set_clock(START + grant_after * MIN)
            lab.show("ca1", "crypto pki server CA grant all")
            granted = True
        lab.set_clock(at - timedelta(seconds=1))
        assert lab.timers("r1").get(("POLL", "TP")) == at, lab.timers("r1")
        assert lab.cert("r1", "Certificate") is None
    lab.set_clock(got.at)
    cert = lab.cert("r1", "Certificate")
    assert cert is not None and (cert.start, cert.end) == (got.valid_from, got.valid_to)
    assert ("POLL", "TP") not in lab.timers("r1")
    # the outage the forecast opened at collection (no certificate yet) closes at the install
    assert [(o.start, o.end, o.reason) for o in f.outages if o.host == "r1"] == [(START, got.at, fc.NO_IDENTITY)]
