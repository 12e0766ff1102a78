"""Timer math: the doctests of iospki.pki.timers/forecast/store/audit.checks, plus edge cases."""

from __future__ import annotations

import doctest
from datetime import datetime, timedelta

import pytest

import iospki.audit.checks
import iospki.forecast
import iospki.pki.inputs
import iospki.pki.timers as tm
import iospki.state.store


@pytest.mark.parametrize("module", [tm, iospki.forecast, iospki.pki.inputs, iospki.state.store, iospki.audit.checks])
def test_doctests(module: object) -> None:
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert res.attempted > 0 and res.failed == 0


def test_renew_matches_ntc_sample() -> None:
    # behaviour doc §1.2: AD CS back-dates notBefore by 10 min; T0 = install time
    start, end = datetime(2022, 6, 22, 9, 17, 52), datetime(2023, 6, 22, 9, 17, 52)
    assert tm.renew_at(start + timedelta(minutes=10), end, 80) == datetime(2023, 4, 10, 9, 19, 52)
    assert tm.install_time_from_renew(datetime(2023, 4, 10, 9, 19, 52), end, 80) == start + timedelta(minutes=10)


def test_shadow_matches_event_trace() -> None:
    # behaviour doc §1.3: cert 18:38:51 Jun 9 2025 - Jun 8 2026, shadow 09:02:51 May 3 2026
    assert tm.shadow_at(datetime(2025, 6, 9, 18, 38, 51), datetime(2026, 6, 8, 18, 38, 51)) == datetime(
        2026, 5, 3, 9, 2, 51
    )


def test_rollover_minimums() -> None:
    d = datetime(2025, 1, 1)
    # a full-length certificate: 10 % of the period
    _, end = tm.rollover_validity(d, timedelta(days=365), d - timedelta(days=365), d, d + timedelta(days=730))
    assert end - d == timedelta(days=36.5)
    # tiny lifetimes: at least 3 minutes
    _, end = tm.rollover_validity(d, timedelta(minutes=10), d - timedelta(minutes=10), d, d + timedelta(days=1))
    assert end - d == timedelta(minutes=3)
    # capped at the rollover CA's end
    _, end = tm.rollover_validity(d, timedelta(days=365), d, d, d + timedelta(days=100))
    assert end == d + timedelta(days=100)


def test_parse_duration_errors() -> None:
    assert tm.parse_duration("90d") == timedelta(days=90)
    for bad in ["", "3x", "y3", "3y junk"]:
        with pytest.raises(ValueError):
            tm.parse_duration(bad)
