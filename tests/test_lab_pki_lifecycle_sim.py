"""Lifecycle of issue 4 on the pure PKI engine (simulated clock, in-process CA): every renewal, shadow
renewal and rollover happens at the time rules.md predicts, computed here from the certificates' own
dates. The same scenario runs over SSH + real SCEP in test_lab_pki_lifecycle.py."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.timers import PkiTimers
from iospki.lab.pki.transport import DirectScep
from iospki.lab.pki.trustpoint import DeviceCtx, TpConfig, Trustpoint

START = datetime(2026, 3, 1, 6, 0, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
URL = "http://127.0.0.1:80"


def world(rollover_days: int) -> tuple[SimScheduler, CertificateServer, DirectScep]:
    sched = SimScheduler(START)
    cfg = CsConfig("CA")
    for line in ("grant auto", "lifetime ca-certificate 730", "lifetime certificate 365", f"auto-rollover {rollover_days}"):
        cfg.apply(line)
    cs = CertificateServer(cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None)
    cs.no_shutdown("pass", key_bits=1024)
    scep = DirectScep()
    scep.servers[URL] = cs
    return sched, cs, scep


def client(sched: SimScheduler, scep: DirectScep, name: str, logs: list[str]) -> Trustpoint:
    cfg = TpConfig("tp")
    for line in (f"enrollment url {URL}", "auto-enroll 80 regenerate", "rsakeypair tpkey 1024", "serial-number none"):
        cfg.apply(line)
    dev = DeviceCtx(Keyring(), PkiTimers(sched, logs.append), scep, logs.append, lambda: f"{name}.lab", lambda: "FTX1")
    return Trustpoint(cfg, dev)


async def enroll(tp: Trustpoint, cs: CertificateServer) -> None:
    ca = await tp.fetch_ca()
    assert ca == cs.ca_cert
    await tp.accept_ca(ca)  # auto-enroll: initial enrollment right away


def renew_times(tp: Trustpoint) -> list[datetime]:
    return [t for t, what in tp.events if what in ("renew", "shadow-renew")]


def expected_renew(t0: datetime, not_after: datetime, pct: int = 80) -> datetime:
    return t0 + timedelta(seconds=int((not_after - t0).total_seconds() * pct / 100))


def test_lifecycle_auto_rollover_90_every_client_survives() -> None:
    sched, cs, scep = world(90)
    old_ca = cs.ca_cert
    assert old_ca is not None
    ca_end = old_ca.not_valid_after_utc
    clients = {}

    async def run() -> None:
        for day, name in ((0, "c0"), (73, "c73"), (100, "c100")):
            await sched.run_until(START + day * DAY)
            tp = client(sched, scep, name, [])
            await enroll(tp, cs)
            clients[name] = tp
        await sched.run_until(START + 800 * DAY)

    asyncio.run(run())
    assert cs.ca_cert is not None and cs.ca_cert != old_ca
    assert cs.ca_cert.not_valid_before_utc == ca_end  # S3/S4
    for name, tp in clients.items():
        # C2/C3/C4: each renewal fired at T0 + 80 % of the validity left at install
        installs = [(t, c) for t, c, kind in tp.history if kind in ("install", "activate")]
        fired = renew_times(tp)
        for (t0, cert), when in zip(installs, fired, strict=False):
            assert when == expected_renew(t0, cert.not_valid_after_utc), name
        # S2: no issued certificate outlives its CA
        for t, cert, kind in tp.history:
            if kind == "install":
                assert cert.not_valid_after_utc <= (ca_end if t < ca_end else cs.ca_cert.not_valid_after_utc)
        # C4/S5: the rollover identity certificate starts at the old CA end, runs the balance
        rollovers = [c for _t, c, kind in tp.history if kind == "rollover"]
        assert len(rollovers) == 1, name
        rc = rollovers[0]
        prev = [c for t, c, kind in tp.history if kind == "install" and t < ca_end][-1]
        balance = max(365 * DAY - (prev.not_valid_after_utc - prev.not_valid_before_utc), 36.5 * DAY)
        assert rc.not_valid_before_utc == ca_end
        assert rc.not_valid_after_utc == ca_end + balance
        # C6: after rollover day the client holds a valid certificate chained to the new CA, its key
        assert tp.ca == cs.ca_cert and tp.ca_rollover is None and tp.cert is not None
        tp.cert.verify_directly_issued_by(cs.ca_cert)
        assert tp.cert.not_valid_before_utc <= sched.now() < tp.cert.not_valid_after_utc
        kp = tp.dev.keyring.get("tpkey")
        assert kp is not None and tp.dev.keyring.get("tpkey#") is None
        assert kp.public_der() == tp.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        # RENEW re-armed per C2 from the activation moment
        assert tp.installed_at is not None
        assert tp.renew_at == expected_renew(tp.installed_at, tp.cert.not_valid_after_utc)
        assert [k for _t, _c, k in tp.history].count("activate") == 1
    c0 = clients["c0"]
    # the numbers of behaviour doc §1.8 for the client enrolled on day 0
    assert [round((t - START) / DAY, 1) for t in renew_times(c0)] == [292.0, 584.0, 700.8]


def test_lifecycle_auto_rollover_30_client_enrolled_day_73_fails() -> None:
    sched, cs, scep = world(30)
    old_ca = cs.ca_cert
    assert old_ca is not None
    ca_end = old_ca.not_valid_after_utc
    logs: list[str] = []
    holder: list[Trustpoint] = []

    async def run() -> None:
        await sched.run_until(START + 73 * DAY)
        tp = client(sched, scep, "late", logs)
        await enroll(tp, cs)
        holder.append(tp)
        await sched.run_until(START + 800 * DAY)

    asyncio.run(run())
    tp = holder[0]
    fired = renew_times(tp)
    # renew on day 365 (ordinary), then the capped certificate's RENEW on day 657 is a shadow renewal
    assert round((fired[0] - START) / DAY, 3) == 365.0
    assert round((fired[1] - START) / DAY, 3) == 657.0
    assert fired[1] < ca_end - 30 * DAY  # asked before the rollover CA existed
    assert ("shadow-renew-failed" in [w for _t, w in tp.events])
    assert any("GETNEXTCACERT_FAIL" in line for line in logs)
    assert len(fired) == 2  # C4: no retry, no new RENEW
    # after rollover day: no valid identity certificate under the new CA
    assert tp.cert is not None and tp.cert.not_valid_after_utc <= sched.now()
    assert not [c for _t, c, kind in tp.history if kind == "rollover"]


def test_c1_timers_wait_for_an_authoritative_clock() -> None:
    sched, cs, scep = world(90)
    logs: list[str] = []
    holder: list[Trustpoint] = []

    async def run() -> None:
        tp = client(sched, scep, "c1", logs)
        await enroll(tp, cs)
        holder.append(tp)
        renew_at = tp.renew_at
        assert renew_at is not None
        sched._authoritative = False  # NTP lost before the RENEW time
        await sched.run_until(renew_at + 10 * DAY)
        assert renew_times(tp) == []  # C1: nothing ran
        assert any("%PKI-2-NON_AUTHORITATIVE_CLOCK" in line for line in logs)
        late = sched.now()
        await tp.dev.timers.clock_became_authoritative()  # what the lab's on_authoritative hook calls
        assert renew_times(tp) == [late]  # fired as soon as the clock became authoritative
        assert tp.installed_at == late and tp.cert is not None and tp.cert.not_valid_before_utc == late

    asyncio.run(run())


def test_unreachable_ca_is_retried_not_a_rejection() -> None:
    sched, cs, scep = world(90)
    logs: list[str] = []
    holder: list[Trustpoint] = []

    async def run() -> None:
        tp = client(sched, scep, "c2", logs)
        await enroll(tp, cs)
        holder.append(tp)
        renew_at = tp.renew_at
        assert renew_at is not None
        url, server = next(iter(scep.servers.items()))
        del scep.servers[url]  # the CA stops answering
        await sched.run_until(renew_at)
        assert "%PKI-3-SOCKETSEND: Failed to send out message to CA server." in logs
        assert not tp.renew_stopped and tp.renew_at == renew_at + timedelta(minutes=1)  # retry period
        assert tp.dev.keyring.get("tpkey#") is None  # the unused regenerated key is gone
        scep.servers[url] = server  # back
        await sched.run_until(renew_at + timedelta(minutes=1))
        assert tp.installed_at == renew_at + timedelta(minutes=1) and tp.cert is not None
        assert tp.cert.not_valid_before_utc == tp.installed_at

    asyncio.run(run())


def test_auto_enroll_without_percentage_renews_at_expiry() -> None:
    sched, cs, scep = world(90)
    holder: list[Trustpoint] = []

    async def run() -> None:
        tp = client(sched, scep, "c3", [])
        tp.cfg.apply("auto-enroll")  # no percentage, no regenerate
        await enroll(tp, cs)
        holder.append(tp)
        first = tp.cert
        assert first is not None and tp.renew_at == first.not_valid_after_utc  # C2: at notAfter
        await sched.run_until(first.not_valid_after_utc)
        assert tp.cert is not first and tp.cert is not None
        assert tp.cert.not_valid_before_utc == first.not_valid_after_utc
        assert tp.cert.public_key() == first.public_key() and not tp.renew_stopped

    asyncio.run(run())
