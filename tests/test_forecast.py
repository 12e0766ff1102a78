"""Forecast against the worked examples of behaviour doc §1.8 and properties of rules.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iospki import forecast as fc
from iospki.pki import timers as tm

DAY0 = datetime(2025, 1, 1, 8, 0, 0)
YEAR = timedelta(days=365)


def day(d: float) -> datetime:
    return tm.floor_second(DAY0 + timedelta(days=d))


def ca_730(overlap: int | None) -> fc.CAInput:
    return fc.CAInput(
        host="CA",
        name="ROOT",
        ca=fc.Validity(DAY0, day(730)),
        lifetime_certificate=YEAR,
        lifetime_ca=timedelta(days=730),
        auto_rollover=timedelta(days=overlap) if overlap is not None else None,
    )


def client(
    enrolled: float, percent: int | None = 80, auto: bool = True, name: str = "R1"
) -> fc.TrustpointInput:
    start = day(enrolled)
    end = min(start + YEAR, day(730))
    return fc.TrustpointInput(
        host=name,
        trustpoint="client",
        ca_key=("CA", "ROOT"),
        auto_enroll=auto,
        auto_enroll_percent=percent,
        identity=fc.Validity(start, end),
        ca_cert=fc.Validity(DAY0, day(730)),
    )


def run(overlap: int | None, *clients: fc.TrustpointInput, start: float = 0, years: int = 3) -> fc.Forecast:
    return fc.simulate([ca_730(overlap)], clients, day(start), day(start) + years * YEAR)


def times(f: fc.Forecast, host: str, event: str) -> list[datetime]:
    return [e.at for e in f.events_for(host, event)]


@pytest.mark.parametrize("overlap", [90, 30])
def test_day0_client_gets_through(overlap: int) -> None:
    f = run(overlap, client(0))
    assert times(f, "CA", fc.CS_SHADOW_CERT_GENERATION)[0] == day(730 - overlap)
    assert times(f, "CA", fc.CS_CERT_EXPIRE)[0] == day(730)
    assert times(f, "R1", fc.RENEW)[:2] == [day(292), day(584)]
    assert times(f, "R1", fc.SHADOW_RENEWAL) == [day(700.8)]
    assert times(f, "R1", fc.ROLLOVER_ACTIVATION)[0] == day(730)
    # the rollover certificate: balance of the period, 730 + (365 - 146) = 949
    ev = f.events_for("R1", fc.SHADOW_RENEWAL)[0]
    assert day(949).isoformat() in ev.detail
    # after activation RENEW at T0 + 80 % of the rollover certificate
    assert times(f, "R1", fc.RENEW)[2] == tm.renew_at(day(730), day(949), 80)
    assert not [o for o in f.outages if o.host == "R1"]


def test_day0_margin_is_under_a_day_with_30() -> None:
    f = run(30, client(0))
    gen = times(f, "CA", fc.CS_SHADOW_CERT_GENERATION)[0]
    assert timedelta(0) < times(f, "R1", fc.SHADOW_RENEWAL)[0] - gen < timedelta(days=1)


@pytest.mark.parametrize(("enrolled", "shadow_day"), [(73, 657), (100, 662.4)])
def test_late_clients_fail_with_30(enrolled: float, shadow_day: float) -> None:
    f = run(30, client(enrolled), start=enrolled)
    assert times(f, "R1", fc.RENEW)[0] == day(enrolled + 292)
    assert times(f, "R1", fc.SHADOW_RENEWAL_FAILED) == [day(shadow_day)]
    assert times(f, "R1", fc.SHADOW_RENEWAL) == []
    reasons = {(o.reason, o.start, o.end) for o in f.outages if o.host == "R1"}
    assert (fc.NO_IDENTITY, day(730), None) in reasons
    assert (fc.CA_UNTRUSTED, day(730), None) in reasons  # its SHADOW at 657 came before day 700 as well


@pytest.mark.parametrize(("enrolled", "shadow_day"), [(73, 657), (100, 662.4)])
def test_late_clients_ok_with_90(enrolled: float, shadow_day: float) -> None:
    f = run(90, client(enrolled), start=enrolled)
    assert times(f, "R1", fc.SHADOW_RENEWAL) == [day(shadow_day)]
    assert not [o for o in f.outages if o.host == "R1"]


@pytest.mark.parametrize("overlap", [90, 30])
def test_autoenroll_60_fails_both(overlap: int) -> None:
    f = run(overlap, client(0, percent=60))
    assert times(f, "R1", fc.RENEW)[:2] == [day(219), day(438)]
    assert times(f, "R1", fc.SHADOW_RENEWAL_FAILED) == [day(613.2)]
    reasons = {o.reason for o in f.outages if o.host == "R1"}
    assert fc.NO_IDENTITY in reasons
    # C9: the capped certificate's SHADOW (day 613.2) took the place of the CA shadow at 90 % (day 657), so
    # nothing fetches the rollover CA later, not even with overlap 90 (the lab's row says the same)
    assert fc.CA_UNTRUSTED in reasons
    assert f.events_for("R1", fc.SHADOW) == [] and f.events_for("R1", fc.SHADOW_FAILED) == []


@pytest.mark.parametrize(("overlap", "ok"), [(90, True), (30, False)])
def test_client_without_autoenroll(overlap: int, ok: bool) -> None:
    f = run(overlap, client(0, auto=False))
    shadow = f.events_for("R1", fc.SHADOW if ok else fc.SHADOW_FAILED)
    assert [e.at for e in shadow] == [day(657)]
    untrusted = [o for o in f.outages if o.host == "R1" and o.reason == fc.CA_UNTRUSTED]
    assert bool(untrusted) == (not ok)
    # without auto-enroll its identity certificate just ends (on day 365)
    assert [(o.start, o.reason) for o in f.outages if o.reason == fc.NO_IDENTITY] == [
        (day(365), fc.NO_IDENTITY)
    ]


def test_printed_renew_date_wins() -> None:
    c = client(0)
    c.renew_date = day(300)
    f = run(90, c)
    assert times(f, "R1", fc.RENEW)[0] == day(300)


def test_no_auto_rollover_everyone_loses_at_ca_end() -> None:
    f = run(None, client(0))
    assert times(f, "CA", fc.CS_SHADOW_CERT_GENERATION) == []
    assert "no rollover CA" in f.events_for("CA", fc.CS_CERT_EXPIRE)[0].detail
    assert {o.reason for o in f.outages} == {fc.NO_IDENTITY, fc.CA_UNTRUSTED}


def test_manual_grant_renewal_stays_pending() -> None:
    ca = ca_730(90)
    ca.grant_auto = False
    f = fc.simulate([ca], [client(0)], day(0), day(0) + 3 * YEAR)
    assert times(f, "R1", fc.RENEW_PENDING) == [day(292)]
    # P1: polls 1, 2, 4 ... minutes after the request, the period doubling up to 60 minutes
    minutes = [1, 2, 4, 8, 16, 32, 64, 124]
    assert times(f, "R1", fc.POLL) == [day(292) + timedelta(minutes=m) for m in minutes]
    assert times(f, "CA", fc.ER_EXPIRE) == [day(292) + timedelta(hours=168)]
    # the polls go on hourly until the first one after the server dropped the request
    last = f.events_for("R1", fc.POLL_LAST)
    assert len(last) == 1 and "ER EXPIRE" in last[0].detail
    assert timedelta(0) <= last[0].at - (day(292) + timedelta(hours=168)) < tm.POLL_CAP
    assert [(o.start, o.reason) for o in f.outages] == [(day(365), fc.NO_IDENTITY)]


@pytest.mark.parametrize(("delay", "fetched"), [(20, 32), (64, 124), (125, 184)])
def test_manual_grant_is_fetched_by_the_first_poll_after_it(delay: int, fetched: int) -> None:
    """P1: a renewal granted `delay` minutes after the request is installed by the next poll; the certificate
    is issued at the grant (S2) and its RENEW counts from the install (C2)."""
    ca = ca_730(90)
    ca.grant_auto, ca.grant_delay = False, timedelta(minutes=delay)
    f = fc.simulate([ca], [client(0)], day(0), day(0) + 3 * YEAR)
    asked, granted, got = day(292), day(292) + timedelta(minutes=delay), day(292) + timedelta(minutes=fetched)
    polls = [p for p in times(f, "R1", fc.POLL) if asked < p < asked + timedelta(days=1)]
    assert polls[-1] == got and f.events_for("R1", fc.POLL_LAST) == []
    assert polls == [p for p in tm.poll_times(asked, timedelta(minutes=1), 999) if p <= got]
    renew = [e for e in f.events_for("R1", fc.RENEW) if e.at > asked][0]
    assert (renew.at, renew.valid_from, renew.valid_to) == (got, granted, granted + YEAR)
    assert "fetched by the poll" in renew.detail and f.events_for("CA", fc.ER_EXPIRE) == []
    assert times(f, "R1", fc.RENEW_PENDING)[1] == tm.renew_at(got, granted + YEAR, 80)
    assert not [o for o in f.outages if o.host == "R1"]


def test_polls_stop_at_the_retry_count() -> None:
    ca = ca_730(90)
    ca.grant_auto = False
    c = client(0)
    c.retry_count, c.retry_period = 3, timedelta(minutes=2)
    f = fc.simulate([ca], [c], day(0), day(0) + YEAR)
    assert times(f, "R1", fc.POLL) == [day(292) + timedelta(minutes=m) for m in (2, 4, 8)]
    last = f.events_for("R1", fc.POLL_LAST)
    assert [e.at for e in last] == [day(292) + timedelta(minutes=8)] and "retry count" in last[0].detail


def test_non_authoritative_clock_fires_nothing() -> None:
    c = client(0)
    c.clock_ok = False
    f = run(90, c)
    assert f.events_for("R1", fc.RENEW) == []
    assert [(o.start, o.reason) for o in f.outages if o.host == "R1"][0] == (day(365), fc.NO_IDENTITY)


def test_second_rollover_chained() -> None:
    f = run(90, client(0), years=5)
    assert times(f, "CA", fc.CS_CERT_EXPIRE)[:2] == [day(730), day(1460)]
    assert times(f, "CA", fc.CS_SHADOW_CERT_GENERATION)[:2] == [day(640), day(1370)]
    assert len(times(f, "R1", fc.ROLLOVER_ACTIVATION)) == 2


def test_json_shape() -> None:
    doc = run(90, client(0)).to_json()
    assert set(doc) >= {"events", "outages"}
    assert set(doc["events"][0]) >= {"host", "subject", "event", "at"}
    doc = run(30, client(73), start=73).to_json()
    assert set(doc["outages"][0]) >= {"host", "trustpoint", "start", "end", "reason"}


@settings(max_examples=60, deadline=None)
@given(
    overlap=st.integers(min_value=1, max_value=200),
    ca_days=st.integers(min_value=200, max_value=1500),
    cert_days=st.integers(min_value=30, max_value=400),
    percent=st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
    enrolled=st.floats(min_value=0, max_value=0.95),
)
def test_properties(overlap: int, ca_days: int, cert_days: int, percent: int | None, enrolled: float) -> None:
    ca_end = day(ca_days)
    ca = fc.CAInput(
        "CA",
        "ROOT",
        fc.Validity(DAY0, ca_end),
        timedelta(days=cert_days),
        timedelta(days=ca_days),
        timedelta(days=overlap),
    )
    s = day(enrolled * ca_days)
    tp = fc.TrustpointInput(
        "R1",
        "tp",
        ("CA", "ROOT"),
        True,
        percent,
        identity=fc.Validity(s, min(s + timedelta(days=cert_days), ca_end)),
        ca_cert=fc.Validity(DAY0, ca_end),
    )
    f1 = fc.simulate([ca], [tp], s, s + 3 * YEAR)
    f2 = fc.simulate([ca], [tp], s, s + 3 * YEAR)
    assert f1.to_json() == f2.to_json()  # deterministic
    ats = [e.at for e in f1.events]
    assert ats == sorted(ats)
    assert all(s <= a <= s + 3 * YEAR for a in ats)
    # every certificate the forecast hands out ends no later than its CA
    ca_ends = [ca_end + k * timedelta(days=ca_days) for k in range(12)]
    for e in f1.events_for("R1", fc.RENEW):
        if "new certificate" in e.detail:
            end = datetime.fromisoformat(e.detail.split(" - ")[1].split(" ")[0].rstrip(";"))
            ca_now_end = min(x for x in ca_ends if x >= e.at)
            assert end <= ca_now_end
    for o in f1.outages:
        assert o.end is None or o.end > o.start


def test_a_client_clock_ahead_of_its_ca_asks_for_the_rollover_ca_too_early(tmp_path: Path) -> None:
    """From a collection: clients run 20 days ahead of their CA (NTP offsets say so). R1 has no auto-enroll:
    its SHADOW timer (90% of the CA's life on R1's clock, day 657, C5) fires on day 637 of the CA's clock,
    before CS SHADOW CERT GENERATION (day 640): GetNextCACert finds nothing. With equal clocks it fires on day
    657 and succeeds. R2 (auto-enroll 80) renews on day 584 of its clock, 564 of the CA's; that certificate is
    capped, so its SHADOW is the shadow renewal at 80 % of it on R2's clock (C9) and the CA shadow is gone."""
    from iospki.state.loader import load_collection
    from tests.pki_samples import Client, Server, Site, write_site

    d0 = datetime(2025, 1, 1, 8, 0, 0)

    def site(skew_days: int) -> fc.Forecast:
        root = tmp_path / f"skew{skew_days}"
        clients = [
            Client("R1", id_start=d0 + timedelta(days=292), id_end=d0 + timedelta(days=657), auto=False),
            Client("R2", id_start=d0 + timedelta(days=292), id_end=d0 + timedelta(days=657)),
        ]
        clients[1].renew = d0 + timedelta(days=584)
        for c in clients:
            c.clock_skew, c.ntp_offset_ms = timedelta(days=skew_days), -skew_days * 86_400_000.0
        s = Site(Server("ROOT", d0, d0 + timedelta(days=730), auto_rollover_days=90), clients)
        s.ca_ntp_offset_ms = 0.0
        write_site(root, s, d0 + timedelta(days=400))
        return fc.forecast_states(load_collection(root), at=d0 + timedelta(days=400))

    same, ahead = site(0), site(20)
    assert [e.at for e in same.events_for("R1", "SHADOW")][:1] == [d0 + timedelta(days=657)]
    assert same.events_for("R1", "SHADOW FAILED") == [] and same.notes == []
    assert [e.at for e in ahead.events_for("R1", "SHADOW FAILED")][:1] == [d0 + timedelta(days=637)]
    assert any("R1/client: its clock is 20 days, 0:00:00 ahead of CA's" in n for n in ahead.notes)
    assert [o.reason for o in ahead.outages if o.host == "R1" and o.reason == fc.CA_UNTRUSTED]
    assert not [o for o in same.outages if o.host == "R1" and o.reason == fc.CA_UNTRUSTED]
    assert [e.at for e in ahead.events_for("R2", "RENEW")][:1] == [d0 + timedelta(days=564)]
    # R2: no CA shadow beside the capped certificate; its shadow renewal at 584 + 0.8 x 146 = 700.8 days on its
    # clock (680.8 on the CA's), after the rollover CA exists, brings both rollover certificates
    assert ahead.events_for("R2", "SHADOW") == [] and ahead.events_for("R2", "SHADOW FAILED") == []
    first = ahead.events_for("R2", "SHADOW RENEWAL")[0]
    assert abs(first.at - (d0 + timedelta(days=680.8))) < timedelta(seconds=1)
    assert "CA Certificate (Rollover)" in first.detail


def test_the_regenerated_key_is_named_after_the_key_label(tmp_path: Path) -> None:
    """C7: `auto-enroll 80 regenerate` makes the shadow key pair LABEL# of the trustpoint's `rsakeypair LABEL`
    (the sample configures `rsakeypair client-key`), not of the trustpoint's name."""
    from iospki.state.loader import load_collection
    from tests.pki_samples import Client, Server, Site, write_site

    c = Client("R1", id_start=day(292), id_end=day(657), renew=day(584))
    write_site(tmp_path, Site(Server("ROOT", DAY0, day(730), auto_rollover_days=90), [c]), day(400))
    f = fc.forecast_states(load_collection(tmp_path), at=day(400))
    renew = f.events_for("R1", fc.RENEW)[0]
    assert renew.at == day(584) and renew.detail.endswith("; key client-key# replaces client-key")
    (act,) = [e for e in f.events_for("R1", fc.ROLLOVER_ACTIVATION) if e.at == day(730)]
    assert "key client-key# -> client-key" in act.detail and "client#" not in act.detail


def test_c10_the_ca_shadow_still_fires_beside_renew_on_an_uncapped_certificate() -> None:
    """C10: an auto-enroll trustpoint whose certificate is not capped keeps the CA shadow at 90 % (day 657)
    beside RENEW; only a capped certificate's SHADOW replaces it (C9)."""
    ca = ca_730(90)
    ca.lifetime_certificate = timedelta(days=30)
    c = client(650)
    c.identity = fc.Validity(day(650), day(680))
    f = fc.simulate([ca], [c], day(650), day(760))
    assert times(f, "R1", fc.SHADOW) == [day(657)]  # GetNextCACert: the rollover CA exists since day 640
    assert times(f, "R1", fc.RENEW)[0] == day(674)  # 80 % of 650-680, a certificate 674-704 (not capped)
    assert not [o for o in f.outages if o.host == "R1"]
