"""Behaviour doc §1.8 ("PKI timer dependencies"), row by row, on the lab over SSH and real SCEP.

Two CAs (`lifetime ca-certificate 730`, `lifetime certificate 365`), one with `auto-rollover 90`, one with
`auto-rollover 30`; a client router per CA with one trustpoint per row: `auto-enroll 80 regenerate` joining
on day 0, 73 and 100, `auto-enroll 60` joining on day 0, and a trustpoint without auto-enroll. The seed's rule
(rulebook C9): a certificate capped at the CA's end arms `SHADOW <tp>` at the auto-enroll percentage, not
`RENEW <tp>`, and that timer is the shadow renewal (GetNextCACert + PKCSReq against the rollover CA); without
auto-enroll the SHADOW timer is the CA shadow at 90 % of the CA's life. The lab clock stands still (rate 0)
and jumps, so every day of the table is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from iospki.models import Certificate, CertificatesOutput
from iospki.parsers import parse
from tests.lab_pki_support import start_ca
from tests.test_forecast_lab import Lab, iso
from tests.test_lab_pki_lifecycle import syslog_stamp

pytestmark = [pytest.mark.lab, pytest.mark.slow]

START = datetime(2027, 1, 1, 0, 0, 0)
DAY = timedelta(days=1)
CA_END = START + 730 * DAY
HOSTS = [("ca90", "csr1k"), ("ca30", "csr1k"), ("c90", "csr1k"), ("c30", "csr1k")]
# trustpoint: (join day, auto-enroll line or None)
TRUSTPOINTS: dict[str, tuple[int, str | None]] = {
    "T0": (0, "auto-enroll 80 regenerate"),
    "T73": (73, "auto-enroll 80 regenerate"),
    "T100": (100, "auto-enroll 80 regenerate"),
    "T60": (0, "auto-enroll 60"),
    "TNO": (0, None),
}
# behaviour doc §1.8: (overlap, trustpoint, day of the shadow request, the client gets through rollover day)
ROWS = [
    pytest.param(90, "T0", 700.8, True, id="rollover90-joined-day0"),
    pytest.param(30, "T0", 700.8, True, id="rollover30-joined-day0-by-under-a-day"),
    pytest.param(30, "T73", 657.0, False, id="rollover30-joined-day73-fails"),
    pytest.param(30, "T100", 662.4, False, id="rollover30-joined-day100-fails"),
    pytest.param(90, "T73", 657.0, True, id="rollover90-joined-day73"),
    pytest.param(90, "T100", 662.4, True, id="rollover90-joined-day100"),
    pytest.param(30, "T60", 613.2, False, id="rollover30-autoenroll60-fails"),
    pytest.param(90, "T60", 613.2, False, id="rollover90-autoenroll60-fails"),
    pytest.param(90, "TNO", 657.0, True, id="rollover90-no-autoenroll-ca-shadow"),
    pytest.param(30, "TNO", 657.0, False, id="rollover30-no-autoenroll-ca-shadow-fails"),
]
SHADOW_DAYS = sorted({613.2, 657.0, 662.4, 700.8})


@dataclass
class Observed:
    timers_day600: dict[str, dict[tuple[str, str | None], datetime | None]] = field(default_factory=dict)
    # (client, trustpoint, shadow day) -> sections shown one second after that day's SHADOW
    after_shadow: dict[tuple[str, str, float], list[str]] = field(default_factory=dict)
    after_rollover: dict[tuple[str, str], list[Certificate]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)


def at_day(day: float) -> datetime:
    return START + timedelta(seconds=round(day * 86400))


def tp_certs(lab: Lab, host: str, tp: str) -> list[Certificate]:
    out = parse("show crypto pki certificates", lab.show(host, f"show crypto pki certificates {tp}"), "iosxe")
    assert isinstance(out, CertificatesOutput)
    return out.certificates


def enroll(lab: Lab, host: str, ca: str, tp: str, auto: str | None) -> None:
    lines = [
        "ntp server 127.0.0.1",
        f"crypto pki trustpoint {tp}",
        f"enrollment url http://{lab.h.hosts[ca].address}:80",
        "serial-number none",
        "ip-address none",
        "revocation-check none",
        f"rsakeypair K{tp} 1024",
        auto or "auto-enroll 80",
    ]
    lab.conn(host).send_config_set(lines)
    lab.conn(host).config_mode()
    lab.ask(host, f"crypto pki authenticate {tp}", r"\[yes/no\]: ")
    lab.ask(host, "yes", r"\(config\)#")
    lab.conn(host).exit_config_mode()
    # the lab clock stands still: auto-enrollment has run by the time `authenticate` returns, or very soon
    for _ in range(50):
        if any(c.section == "Certificate" for c in tp_certs(lab, host, tp)):
            break
    else:
        raise AssertionError(f"{host}/{tp} did not enroll: {lab.show(host, 'show crypto pki certificates')}")
    if auto is None:  # the row "without auto-enroll": a certificate, then no auto-enroll on the trustpoint
        lab.conn(host).send_config_set([f"crypto pki trustpoint {tp}", "no auto-enroll"])


def build(lab: Lab) -> None:
    """Both CAs, then each trustpoint on both clients on its join day (the lab clock is left on the last one).
    tests/test_forecast_lab_grid.py builds the same lab."""
    for ca, overlap in (("ca90", 90), ("ca30", 30)):
        start_ca(
            lab, "grant auto", "lifetime certificate 365", "lifetime ca-certificate 730",
            f"auto-rollover {overlap}", host=ca,
        )  # fmt: skip
    for day in sorted({d for d, _a in TRUSTPOINTS.values()}):
        lab.set_clock(at_day(day))
        for tp, (join, auto) in TRUSTPOINTS.items():
            if join == day:
                enroll(lab, "c90", "ca90", tp, auto)
                enroll(lab, "c30", "ca30", tp, auto)


@pytest.fixture(scope="module")
def observed(make_lab_module: Any) -> Iterator[Observed]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    obs = Observed()
    try:
        build(lab)
        lab.set_clock(at_day(600))
        for host in ("c90", "c30"):
            obs.timers_day600[host] = lab.timers(host)
        for day in SHADOW_DAYS:
            lab.set_clock(at_day(day) + timedelta(seconds=1))
            for host in ("c90", "c30"):
                for tp in TRUSTPOINTS:
                    obs.after_shadow[(host, tp, day)] = [c.section for c in tp_certs(lab, host, tp)]
        lab.set_clock(CA_END + DAY)
        for host in ("c90", "c30"):
            obs.logs[host] = lab.show(host, "show logging")
            for tp in TRUSTPOINTS:
                obs.after_rollover[(host, tp)] = tp_certs(lab, host, tp)
        yield obs
    finally:
        lab.close()


@pytest.mark.parametrize(("overlap", "tp", "shadow_day", "survives"), ROWS)
def test_behaviour_doc_table_row(observed: Observed, overlap: int, tp: str, shadow_day: float, survives: bool) -> None:
    host = f"c{overlap}"
    auto = TRUSTPOINTS[tp][1] is not None
    timers = observed.timers_day600[host]
    # day 600: the one SHADOW timer carries the row's request day; a capped certificate leaves no RENEW (C9)
    assert timers.get(("SHADOW", tp)) == at_day(shadow_day), timers
    assert ("RENEW", tp) not in timers, timers
    sections = observed.after_shadow[(host, tp, shadow_day)]
    got_rollover_ca = "CA Certificate (Rollover)" in sections
    log = observed.logs[host]
    fail = [ln for ln in log.splitlines() if "GETNEXTCACERT_FAIL" in ln and f"trustpoint {tp} " in ln]
    if auto:
        # the shadow renewal: both rollover certificates on the second, or the failure logged on the second
        assert got_rollover_ca == survives and ("Certificate (Rollover)" in sections) == survives, sections
        if not survives:
            assert fail and fail[0].lstrip("*").startswith(syslog_stamp(at_day(shadow_day))), fail
        else:
            assert not fail, fail
    else:
        assert got_rollover_ca == survives and "Certificate (Rollover)" not in sections, sections
    # one day after rollover day
    certs = {c.section: c for c in observed.after_rollover[(host, tp)]}
    ca = certs["CA Certificate"]
    ident = certs.get("Certificate")
    if survives:
        assert ca.start == CA_END, ca  # the rollover CA became the active one
        if auto:
            assert ident is not None and ident.start == CA_END and ident.end is not None and ident.end > CA_END
    else:
        assert ca.end == CA_END, ca  # only the old, ended CA certificate
        assert ident is None or (ident.end is not None and ident.end <= CA_END), ident


def test_capped_certificate_shows_shadow_in_show_timers(observed: Observed) -> None:
    """The text of `show crypto pki timers detail` as collected on day 600 named no RENEW for any row."""
    for host, timers in observed.timers_day600.items():
        kinds = sorted(k for k, _t in timers)
        assert kinds.count("SHADOW") == len(TRUSTPOINTS), (host, timers)
        assert "RENEW" not in kinds, (host, timers)

