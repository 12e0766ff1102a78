"""A client whose clock runs ahead of its CA server's: the forecast (from a toolkit collection) and the lab
(which knows nothing of the forecast) agree on what happens and when.

CA: certificates 4 days, CA 10 days, auto-rollover 2 (CS SHADOW CERT GENERATION on day 8). r1 keeps time by
`clock calendar-valid` and was `clock set` 1.5 days ahead, with `auto-enroll 70 regenerate`. Its fourth renewal
(day 7 of the CA's clock) brings a certificate capped at the CA's end, whose SHADOW timer (rulebook C9: 70 % of
it on r1's clock, day 8.05 of the CA's) is the shadow renewal and replaces the CA shadow at 90 %; the rollover
CA exists by then. But r1 activates the rollover certificates on ITS day 10 (day 8.5 of the CA's), before its CA
does, and the CA refuses its next renewal (C8): r1 ends without a certificate, which it would not with equal
clocks. The skew is measured as the audit measures it (`show clock` against the collector's read times), so
event times are compared within a few seconds, not to the second."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from iospki import forecast as fc
from iospki.cli import app
from iospki.state.loader import load_collection
from tests.lab_pki_support import enroll_trustpoint, start_ca
from tests.test_forecast_lab import Lab, iso

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k")]
START = datetime(2027, 3, 1, 0, 0, 0)
SKEW = timedelta(days=1, hours=12)
SLACK = timedelta(
    seconds=10
)  # the measured skew's error (the lab clock stands still while the collector reads)


@pytest.fixture(scope="module")
def lab(make_lab_module: Any) -> Iterator[Lab]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    start_ca(lab, "grant auto", "lifetime certificate 4", "lifetime ca-certificate 10", "auto-rollover 2")
    ahead = START + SKEW
    lab.conn("r1").send_config_set(["clock calendar-valid"])
    lab.ask("r1", f"clock set {ahead:%H:%M:%S} {ahead.day} {ahead:%B} {ahead.year}", r"#")
    enroll_trustpoint(
        lab,
        "r1",
        "client",
        "revocation-check none",
        "rsakeypair client 2048",
        "auto-enroll 70 regenerate",
        prelude=(),
    )
    yield lab
    lab.close()


def forecast(lab: Lab, out: Path) -> fc.Forecast:
    inv = ["--inventory", str(lab.h.inventory_dir)]
    r = CliRunner().invoke(app, ["collect", *inv, "--no-facts", "--output", str(out)])
    assert r.exit_code == 0, r.output
    states = load_collection(out)
    assert all(not s.errors for s in states), [s.errors for s in states]
    return fc.forecast_states(states, horizon=timedelta(days=15))


def test_forecast_and_lab_agree_for_a_client_ahead_of_its_ca(lab: Lab, tmp_path: Path) -> None:
    f = forecast(lab, tmp_path / "c0")
    assert any("r1/client: its clock is 1 day, 12:00" in n for n in f.notes), f.notes
    assert abs(f.start - START) < SLACK  # "now" on the CA's clock, not r1's
    gen = next(e for e in f.events if e.event == fc.CS_SHADOW_CERT_GENERATION)
    assert gen.at == START + timedelta(days=8)
    ca_end = START + timedelta(days=10)
    mine = [e for e in f.events if e.host == "r1" and e.at < ca_end]
    # what the skew does, in order: four renewals (the last one capped at the CA's end, so no CA shadow at 90 %
    # follows, C9), the shadow renewal by the capped certificate's SHADOW, r1 activates the rollover
    # certificates 1.5 days before ca1 does, and its next renewal is refused
    assert [e.event for e in mine] == [fc.RENEW] * 4 + [
        fc.SHADOW_RENEWAL,
        fc.ROLLOVER_ACTIVATION,
        fc.RENEW_FAILED,
    ]
    assert abs(mine[3].at - (START + timedelta(days=7))) < SLACK and mine[3].valid_to == ca_end
    # 70 % of the capped certificate on r1's clock (8.5 -> 10), placed on ca1's: day 9.55 - 1.5
    assert abs(mine[4].at - (START + timedelta(days=8.05))) < SLACK
    assert abs(mine[5].at - (ca_end - SKEW)) < SLACK
    timer = {
        fc.RENEW: "RENEW",
        fc.SHADOW_RENEWAL: "SHADOW",  # C9: a capped certificate's renewal is a SHADOW timer
        fc.RENEW_FAILED: "RENEW",
        fc.SHADOW_FAILED: "SHADOW",
    }
    for e in mine:
        lab.set_clock(e.at - SLACK)
        if e.event in timer:
            armed = lab.timers("r1").get((timer[e.event], "client"))
            # r1 shows its timer on its own clock: the predicted time plus the skew
            assert armed is not None and abs(armed - (e.at + SKEW)) < SLACK, (e, armed, lab.timers("r1"))
        before = lab.cert("r1", "Certificate")
        lab.set_clock(e.at + SLACK)
        cur = lab.cert("r1", "Certificate")
        assert before is not None and cur is not None
        if e.event == fc.RENEW:
            assert cur.serial != before.serial
            assert cur.start is not None and abs(cur.start - e.at) < SLACK  # issued on the CA's clock
        elif e.event == fc.SHADOW_FAILED:
            assert lab.cert("r1", "CA Certificate (Rollover)") is None
            assert lab.cert("ca1", "CA Certificate (Rollover)") is None  # the CA has none yet
        elif e.event == fc.SHADOW_RENEWAL:
            assert lab.cert("r1", "Certificate (Rollover)") is not None
            assert lab.cert("r1", "CA Certificate (Rollover)") is not None
        elif e.event == fc.ROLLOVER_ACTIVATION:
            assert lab.cert("r1", "Certificate (Rollover)") is None and cur.start == ca_end
            ca_now = lab.cert("ca1", "CA Certificate")
            assert ca_now is not None and ca_now.end == ca_end  # ca1 still signs with the old CA
        elif e.event == fc.RENEW_FAILED:
            assert cur.serial == before.serial and ("RENEW", "client") not in lab.timers("r1")
            assert "%PKI-6-CERTREJECT" in lab.show("r1", "show logging")
    # the predicted outage: r1's last certificate ends and nothing replaces it
    outage = next(o for o in f.outages if o.host == "r1")
    assert (
        outage.reason == fc.NO_IDENTITY and outage.start == ca_end + timedelta(days=1) and outage.end is None
    )
    lab.set_clock(outage.start + SLACK)
    last = lab.cert("r1", "Certificate")
    assert last is None or (last.end is not None and last.end <= outage.start)
    # the failure comes from the skew: the same collection with the clocks taken as equal predicts success
    cas, tps = fc.inputs_from_states(load_collection(tmp_path / "c0"))
    equal = fc.simulate(cas, [dataclasses.replace(t, clock_skew=timedelta(0)) for t in tps], f.start, f.until)
    assert equal.events_for("r1", fc.SHADOW_FAILED) == []
    assert equal.events_for("r1", fc.RENEW_FAILED) == [] and not [o for o in equal.outages if o.host == "r1"]
