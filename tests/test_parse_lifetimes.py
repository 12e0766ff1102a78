"""Running-config lifetimes keep IOS's day counts exactly in the JSON contract (issue 11 §4).

IOS reads `lifetime certificate|ca-certificate <days> [<hours> [<minutes>]]` (behaviour doc,
"lifetime syntax"). pydantic's default JSON form folds 365 days into `P1Y`, which a calendar-aware
reader takes as a calendar year; the models write `P365D` instead.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from iospki.models import RunningConfig
from iospki.parsers import parse
from tests.parse_support import seed_block

CONFIG = """hostname CA
crypto pki server CA
 lifetime certificate 1 2 3
 lifetime ca-certificate 730
 lifetime crl 24
 lifetime enrollment-request 168
 auto-rollover 90
"""

_ISO_DURATION = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<D>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?"
)


def calendar_reading(duration: str) -> relativedelta:
    """An ISO 8601 duration as a calendar-aware consumer applies it: Y and M are calendar years
    and months, D nominal days (the reading the JSON contract must survive)."""
    m = _ISO_DURATION.fullmatch(duration)
    assert m is not None and duration != "P", duration
    n = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
    return relativedelta(years=n["Y"], months=n["M"], days=n["D"], hours=n["h"], minutes=n["m"], seconds=n["s"])


def _server_json(text: str) -> dict[str, object]:
    model = parse("show running-config", text)
    data = json.loads(model.model_dump_json())
    (server,) = data["servers"]
    assert isinstance(server, dict)
    return server


def test_lifetimes_are_exact_iso_durations() -> None:
    server = _server_json(CONFIG)
    assert server["lifetime_certificate"] == "P1DT2H3M"  # 1 day 2 h 3 min
    assert server["lifetime_ca_certificate"] == "P730D"
    assert server["lifetime_crl"] == "P1D"
    assert server["lifetime_enrollment_request"] == "P7D"
    assert server["auto_rollover"] == "P90D"


def test_730_days_from_dec_2_2026_end_on_dec_1_2028() -> None:
    """The parsed duration, read back from JSON the calendar way, lands where the device's 730 days do."""
    server = _server_json(CONFIG)
    start = date(2026, 12, 2)
    assert start + timedelta(days=730) == date(2028, 12, 1)  # what IOS computes (2028 is a leap year)
    duration = server["lifetime_ca_certificate"]
    assert isinstance(duration, str)
    assert start + calendar_reading(duration) == date(2028, 12, 1)
    # the reader is not degenerate: the old form 'P2Y' lands a day later
    assert start + calendar_reading("P2Y") == date(2028, 12, 2)


def test_json_round_trip_keeps_the_timedelta() -> None:
    model = parse("show running-config", CONFIG)
    assert isinstance(model, RunningConfig)
    again = RunningConfig.model_validate_json(model.model_dump_json())
    assert again == model
    assert again.servers[0].lifetime_ca_certificate == timedelta(days=730)
    assert again.servers[0].lifetime_certificate == timedelta(days=1, hours=2, minutes=3)


def test_seed_rollover_server_lifetimes() -> None:
    """The seed's auto-rollover CA (`lifetime certificate 365`, `lifetime ca-certificate 730`, `auto-rollover 90`)."""
    server = _server_json(seed_block("crypto pki server ROOTCA", "De auto-omloop"))
    assert (server["lifetime_certificate"], server["lifetime_ca_certificate"], server["auto_rollover"]) == (
        "P365D",
        "P730D",
        "P90D",
    )
