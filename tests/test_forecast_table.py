"""Behaviour doc §1.8 ("PKI timer dependencies"), row by row, in the forecast (the lab's side of the same
table is tests/test_lab_shadow_capped.py).

CA 730 days, certificates 365 days. Each row is forecast twice: from the day the client joins (pure inputs,
so the renewals up to the capped certificate are the forecast's own), and from a collection on day 600 shaped
as IOS shows it then: the capped certificate with its `SHADOW <tp>` timer (rulebook C9), or, without
auto-enroll, the CA shadow at 90 % (C5). A third view drops the timers and the printed renew date: the forecast
then places the capped certificate's SHADOW at the auto-enroll percentage of its validity (C9).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from iospki import forecast as fc
from iospki.pki import timers as tm
from iospki.state.loader import load_collection
from tests.pki_samples import Client, Server, Site, write_site

DAY0 = datetime(2025, 1, 1, 8, 0, 0)
CA_END_DAY = 730


def day(d: float) -> datetime:
    return tm.floor_second(DAY0 + timedelta(days=d))


# (overlap, join day, auto-enroll percent or None, capped certificate from, shadow request day, survives)
ROWS = [
    pytest.param(90, 0, 80, 584, 700.8, True, id="rollover90-joined-day0"),
    pytest.param(30, 0, 80, 584, 700.8, True, id="rollover30-joined-day0-by-under-a-day"),
    pytest.param(30, 73, 80, 365, 657.0, False, id="rollover30-joined-day73-fails"),
    pytest.param(30, 100, 80, 392, 662.4, False, id="rollover30-joined-day100-fails"),
    pytest.param(90, 73, 80, 365, 657.0, True, id="rollover90-joined-day73"),
    pytest.param(90, 100, 80, 392, 662.4, True, id="rollover90-joined-day100"),
    pytest.param(30, 0, 60, 438, 613.2, False, id="rollover30-autoenroll60-fails"),
    pytest.param(90, 0, 60, 438, 613.2, False, id="rollover90-autoenroll60-fails"),
    pytest.param(90, 0, None, None, 657.0, True, id="rollover90-no-autoenroll-ca-shadow"),
    pytest.param(30, 0, None, None, 657.0, False, id="rollover30-no-autoenroll-ca-shadow-fails"),
]


def ca(overlap: int) -> fc.CAInput:
    return fc.CAInput(
        "CA",
        "ROOT",
        fc.Validity(DAY0, day(CA_END_DAY)),
        timedelta(days=365),
        timedelta(days=CA_END_DAY),
        timedelta(days=overlap),
    )


def judge(f: fc.Forecast, percent: int | None, shadow_day: float, survives: bool) -> None:
    """The row's outcome: the shadow request on its day, and whether the client gets through rollover day."""
    if percent is not None:
        done, failed = fc.SHADOW_RENEWAL, fc.SHADOW_RENEWAL_FAILED
        # C9: the capped certificate's SHADOW is the only shadow; no CA shadow at 90 % beside it
        others = f.events_for("R1", fc.SHADOW) + f.events_for("R1", fc.SHADOW_FAILED)
        assert [e.at for e in others if e.at < day(CA_END_DAY)] == []
    else:
        done, failed = fc.SHADOW, fc.SHADOW_FAILED
    ok, bad = f.events_for("R1", done), f.events_for("R1", failed)
    assert [e.at for e in (ok if survives else bad)][:1] == [day(shadow_day)], f.events
    assert [e for e in (bad if survives else ok) if e.at < day(CA_END_DAY)] == []
    untrusted = [o for o in f.outages if o.host == "R1" and o.reason == fc.CA_UNTRUSTED]
    assert [o.start for o in untrusted] == ([] if survives else [day(CA_END_DAY)])
    if percent is not None:
        # with auto-enroll the rollover certificate is activated on rollover day, or the identity ends then
        activated = [e for e in f.events_for("R1", fc.ROLLOVER_ACTIVATION) if e.at == day(CA_END_DAY)]
        lost = [o for o in f.outages if o.host == "R1" and o.reason == fc.NO_IDENTITY]
        assert bool(activated) == survives
        assert all(e.valid_from == day(CA_END_DAY) for e in activated)  # the rollover certificate
        assert [(o.start, o.end) for o in lost] == ([] if survives else [(day(CA_END_DAY), None)])


@pytest.mark.parametrize(("overlap", "joined", "percent", "capped_from", "shadow_day", "survives"), ROWS)
def test_row_from_the_join_day(
    overlap: int, joined: int, percent: int | None, capped_from: int | None, shadow_day: float, survives: bool
) -> None:
    start = day(joined)
    client = fc.TrustpointInput(
        "R1",
        "client",
        ("CA", "ROOT"),
        auto_enroll=percent is not None,
        auto_enroll_percent=percent,
        identity=fc.Validity(start, min(start + timedelta(days=365), day(CA_END_DAY))),
        ca_cert=fc.Validity(DAY0, day(CA_END_DAY)),
    )
    f = fc.simulate([ca(overlap)], [client], start, day(CA_END_DAY + 10))
    if capped_from is not None:  # the renewals up to the capped certificate are the forecast's own
        renews = f.events_for("R1", fc.RENEW)
        assert renews[-1].at == day(capped_from) and renews[-1].valid_to == day(CA_END_DAY)
    judge(f, percent, shadow_day, survives)


def collection(
    root: Path, overlap: int, joined: int, percent: int | None, capped_from: int | None, with_timers: bool
) -> fc.Forecast:
    if percent is None:  # its day-0 certificate, no renewal: ended on day 365
        c = Client("R1", percent=None, auto=False, id_start=day(joined), id_end=day(joined + 365))
        c.timers = with_timers
    else:
        assert capped_from is not None
        shadow = tm.renew_at(day(capped_from), day(CA_END_DAY), percent)
        c = Client("R1", percent=percent, id_start=day(capped_from), id_end=day(CA_END_DAY))
        c.renew, c.timers = (shadow if with_timers else None), with_timers
    write_site(root, Site(Server("ROOT", DAY0, day(CA_END_DAY), auto_rollover_days=overlap), [c]), day(600))
    states = load_collection(root)
    assert all(not s.errors for s in states), [s.errors for s in states]
    return fc.forecast_states(states, at=day(600), horizon=timedelta(days=140))


@pytest.mark.parametrize("with_timers", [True, False], ids=["timers", "no-timers"])
@pytest.mark.parametrize(("overlap", "joined", "percent", "capped_from", "shadow_day", "survives"), ROWS)
def test_row_from_a_day_600_collection(
    tmp_path: Path,
    overlap: int,
    joined: int,
    percent: int | None,
    capped_from: int | None,
    shadow_day: float,
    survives: bool,
    with_timers: bool,
) -> None:
    """With the timers IOS shows on day 600, and without timers or a printed renew date (then the SHADOW of a
    capped certificate is placed at the auto-enroll percentage of its validity, C9; the CA shadow at 90 % of a
    trustpoint without auto-enroll is the same either way, C5)."""
    f = collection(tmp_path, overlap, joined, percent, capped_from, with_timers)
    judge(f, percent, shadow_day, survives)
    if percent is not None and with_timers:
        # the adapter read the capped certificate's SHADOW as its renewal (C9), not as the CA shadow (C5)
        (tp,) = fc.inputs_from_states(load_collection(tmp_path))[1]
        assert (tp.renew_armed, tp.shadow_armed, tp.renew_date) == (True, False, day(shadow_day))


def test_the_issue_example_audit_carries_no_outage_with_90_days(tmp_path: Path) -> None:
    """Issue 11 §1: CA 730 days, `auto-rollover 90`, a client enrolled on day 73 (`auto-enroll 80 regenerate`)
    collected on day 400 with its capped certificate (365-730) and `SHADOW client` due on day 657."""
    from iospki.audit import run_audit

    for overlap in (90, 30):
        root = tmp_path / str(overlap)
        c = Client("R2", id_start=day(365), id_end=day(730), renew=day(657))
        write_site(root, Site(Server("ROOT", DAY0, day(730), auto_rollover_days=overlap), [c]), day(400))
        res = run_audit(load_collection(root))
        assert res.forecast is not None
        outages = {(o.host, o.reason) for o in res.forecast.outages}
        if overlap == 90:
            assert outages == set()
        else:
            assert outages == {("R2", fc.NO_IDENTITY), ("R2", fc.CA_UNTRUSTED)}
