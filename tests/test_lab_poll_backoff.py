"""POLL back-off as the seed states it (rulebook P1): a request the CA answers PENDING is polled with
GetCertInitial 1 minute later, and each PENDING answer doubles the period (polls 1, 2, 4, 8, 16, 32 minutes
after the request, capped at 60 minutes: inferred), up to `enrollment retry count` or the CA certificate's end.
A manual-grant CA that grants after 20 minutes: the client gets its certificate at the first poll after the
grant (minute 32). Once on the pure engine (simulated clock, in-process CA), once on the lab over SSH and real
SCEP, where `show crypto pki timers` shows each POLL countdown."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.timers import PkiTimers
from iospki.lab.pki.transport import DirectScep
from iospki.lab.pki.trustpoint import POLL_CAP, DeviceCtx, TpConfig, Trustpoint, poll_period
from tests.lab_pki_support import start_ca
from tests.test_forecast_lab import Lab, iso

START = datetime(2027, 1, 1, 0, 0, 0)
MIN = timedelta(minutes=1)
URL = "http://127.0.0.1:80"
POLLS = [1, 2, 4, 8, 16, 32]  # minutes after the PKCSReq, grant at minute 20


def test_poll_period_doubles_from_the_retry_period_up_to_the_cap() -> None:
    assert [poll_period(MIN, n) for n in range(8)] == [MIN, MIN, 2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN, 32 * MIN, POLL_CAP]
    assert poll_period(3 * MIN, 0) == 3 * MIN and poll_period(3 * MIN, 2) == 6 * MIN  # `enrollment retry period 3`
    assert poll_period(MIN, 998) == POLL_CAP  # 999 retries by default: no overflow, the cap holds


def _engine(sched: SimScheduler, *lines: str, ca: tuple[str, ...] = ()) -> tuple[CertificateServer, Trustpoint]:
    """A manual-grant CA (the default; `ca` lines added) in process and a client trustpoint (`auto-enroll 80`,
    then `lines`)."""
    cs_cfg = CsConfig("CA")
    for line in ca:
        cs_cfg.apply(line)
    cs = CertificateServer(cs_cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None)
    cs.no_shutdown("pass", key_bits=1024)
    scep = DirectScep()
    scep.servers[URL] = cs
    cfg = TpConfig("tp")
    for line in (f"enrollment url {URL}", "auto-enroll 80", "rsakeypair tpkey 1024", "serial-number none", *lines):
        cfg.apply(line)
    tp = Trustpoint(cfg, DeviceCtx(Keyring(), PkiTimers(sched, lambda _l: None), scep, lambda _l: None,
                                   lambda: "r1.lab", lambda: "FTX1"))  # fmt: skip
    return cs, tp


def test_manual_grant_after_20_minutes_on_the_engine() -> None:
    start = START.replace(tzinfo=timezone.utc)
    sched = SimScheduler(start)
    cs, tp = _engine(sched)

    async def run() -> None:
        await tp.accept_ca(await tp.fetch_ca())  # auto-enroll: PKCSReq, answered PENDING
        assert tp.pending is not None and tp.dev.timers.at("POLL tp") == start + MIN
        await sched.run_until(start + 20 * MIN)
        assert tp.cert is None
        cs.cmd_grant("all")
        await sched.run_until(start + 40 * MIN)

    asyncio.run(run())
    polls = [t for t, what in tp.events if what == "poll"]
    assert polls == [start + m * MIN for m in POLLS]
    assert tp.cert is not None and tp.installed_at == start + 32 * MIN
    assert tp.pending is None and tp.dev.timers.at("POLL tp") is None


def test_polls_stop_at_the_retry_count() -> None:
    start = START.replace(tzinfo=timezone.utc)
    sched = SimScheduler(start)
    _cs, tp = _engine(sched, "enrollment retry count 3")

    async def run() -> None:
        await tp.accept_ca(await tp.fetch_ca())
        await sched.run_until(start + 600 * MIN)

    asyncio.run(run())
    assert [t for t, what in tp.events if what == "poll"] == [start + m * MIN for m in (1, 2, 4)]
    assert tp.pending is None and tp.last_status == "Failed" and tp.dev.timers.at("POLL tp") is None


@pytest.fixture
def lab(make_lab: Any) -> Iterator[Lab]:
    handle = make_lab(hosts=[("ca1", "csr1k"), ("r1", "isr4k"), ("r2", "isr_g2")], start=iso(START), rate=0.0)
    lab = Lab(handle)
    yield lab
    lab.close()


def _poll_line(text: str, tp: str) -> str:
    line = next((ln for ln in text.splitlines() if ln.rstrip().endswith(f"POLL {tp}")), None)
    assert line is not None, text
    return line


@pytest.mark.lab
def test_manual_grant_after_20_minutes_on_the_lab(lab: Lab) -> None:
    start_ca(lab, "lifetime certificate 365")  # grant manual: every request waits for `grant`
    for host in ("r1", "r2"):
        lab.conn(host).send_config_set([
            "ntp server 127.0.0.1", "crypto pki trustpoint TP", f"enrollment url http://{lab.h.hosts['ca1'].address}:80",
            "serial-number none", "ip-address none", "revocation-check none", "rsakeypair TPKEY 1024", "auto-enroll 80",
        ])  # fmt: skip
        lab.conn(host).config_mode()
        lab.ask(host, "crypto pki authenticate TP", r"\[yes/no\]: ")
        lab.ask(host, "yes", r"\(config\)#")
        lab.conn(host).exit_config_mode()
    previous = 0
    for minute in POLLS:
        # the POLL countdown, on both families: the time to the next poll (IOS-XE also prints it as ISO time)
        xe = _poll_line(lab.show("r1", "show crypto pki timers"), "TP")
        classic = _poll_line(lab.show("r2", "show crypto pki timers"), "TP")
        wait = minute - previous
        assert re.match(rf"^\s*\|\s+{wait}:00\.000  \({iso(START + minute * MIN)}\) POLL TP$", xe.strip()), xe
        assert re.match(rf"^\s*\|\s+{wait}:00\.000  POLL TP$", classic.strip()), classic
        assert lab.cert("r1", "Certificate") is None
        if previous < 20 <= minute:
            lab.set_clock(START + 20 * MIN)
            lab.show("ca1", "crypto pki server CA grant all")
            assert lab.cert("r1", "Certificate") is None  # granted on the CA; the client has not polled yet
        lab.set_clock(START + minute * MIN)
        previous = minute
    cert = lab.cert("r1", "Certificate")
    assert cert is not None and cert.start == START + 20 * MIN  # issued when granted
    installs = [ln for ln in lab.show("r1", "show logging").splitlines() if "%PKI-6-CERT_INSTALL" in ln]
    assert len(installs) == 1 and "Jan  1 00:32:00" in installs[0], installs  # fetched by the poll at minute 32
    assert "POLL TP" not in lab.show("r1", "show crypto pki timers")


def test_polls_stop_when_the_ca_certificate_ends() -> None:
    """999 retries by default, "or until the CA certificate expires" (seed): a 3-hour CA is polled until its end."""
    start = START.replace(tzinfo=timezone.utc)
    sched = SimScheduler(start)
    cs, tp = _engine(sched, ca=("lifetime ca-certificate 0 3 0",))
    assert cs.ca_cert is not None
    ca_end = cs.ca_cert.not_valid_after_utc
    assert ca_end == start + 180 * MIN

    async def run() -> None:
        await tp.accept_ca(await tp.fetch_ca())
        await sched.run_until(start + 24 * 60 * MIN)

    asyncio.run(run())
    polls = [t for t, what in tp.events if what == "poll"]
    # 1, 2, 4 ... 64 minutes, then every 60 (the cap): 124; the poll due at 184 finds the CA ended
    assert polls == [start + m * MIN for m in (1, 2, 4, 8, 16, 32, 64, 124)]
    assert [t for t, what in tp.events if what == "poll-gave-up"] == [start + 184 * MIN]
    assert tp.pending is None and tp.dev.timers.at("POLL tp") is None
