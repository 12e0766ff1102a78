"""The PKI engine over real SCEP/HTTP on loopback: the certificate server behind ScepServer, trustpoints
using the SCEP client. Manual grant with POLL, renewal signed with the current certificate, rejected
renewal stopping RENEW (C8), shadow enrollment with the rollover CA and promotion."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.scep_glue import CsBackend, HttpScep
from iospki.lab.pki.timers import PkiTimers
from iospki.lab.pki.trustpoint import DeviceCtx, TpConfig, Trustpoint
from iospki.lab.scep import ScepServer
from iospki.lab.scep.http import start_scep_site

START = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def test_enroll_poll_renew_reject_and_rollover_over_http() -> None:
    async def run() -> None:
        sched = SimScheduler(START)
        cfg = CsConfig("ROOT")
        for line in ("lifetime ca-certificate 100", "lifetime certificate 30", "auto-rollover 20"):
            cfg.apply(line)
        cs = CertificateServer(cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None)
        cs.no_shutdown("pp", key_bits=2048)
        server = ScepServer(CsBackend(cs))
        runner, port = await start_scep_site(server, "127.0.0.1", 0)
        try:
            logs: list[str] = []
            tcfg = TpConfig("tp")
            for line in (f"enrollment url http://127.0.0.1:{port}", "auto-enroll 50", "rsakeypair k1 1024",
                         "enrollment retry period 2"):
                tcfg.apply(line)
            tp = Trustpoint(tcfg, DeviceCtx(Keyring(), PkiTimers(sched, logs.append), HttpScep("127.0.0.1"),
                                            logs.append, lambda: "r9.lab", lambda: "X1"))
            ca = await tp.fetch_ca()
            assert ca == cs.ca_cert
            await tp.accept_ca(ca)  # auto-enroll: PKCSReq, manual grant -> PENDING
            assert tp.pending is not None and tp.cert is None
            assert tp.dev.timers.at("POLL tp") == START + timedelta(minutes=2)
            await sched.advance(timedelta(minutes=2))  # still pending: POLL re-armed
            assert tp.dev.timers.at("POLL tp") == START + timedelta(minutes=4)
            cs.cmd_grant("all")
            await sched.advance(timedelta(minutes=2))  # GetCertInitial -> SUCCESS
            assert tp.cert is not None and tp.installed_at == START + timedelta(minutes=4)
            tp.cert.verify_directly_issued_by(cs.ca_cert)
            first = tp.cert
            assert tp.renew_at == START + timedelta(minutes=4) + (first.not_valid_after_utc - tp.installed_at) / 2
            cs.cfg.grant = "auto"
            await sched.run_until(tp.renew_at)  # RenewalReq signed with the current certificate
            assert tp.cert is not first and tp.cert.public_key() == first.public_key()
            assert server.history[-1].message_type.name == "RENEWAL_REQ"
            # C8: a rejected renewal stops RENEW
            cs.cfg.grant = "none"
            assert tp.renew_at is not None
            await sched.run_until(tp.renew_at)
            assert tp.renew_stopped and tp.renew_at is None and tp.dev.timers.at("RENEW tp") is None
            # C5: SHADOW at 90 % of the CA's 100 days fetches the rollover CA generated at day 80
            assert tp.dev.timers.at("SHADOW tp") == START + 90 * DAY
            await sched.run_until(START + 90 * DAY)
            assert cs.rollover_cert is not None and tp.ca_rollover == cs.rollover_cert
            await sched.run_until(START + 100 * DAY)  # C6 / S4
            assert tp.ca == cs.ca_cert and tp.ca_rollover is None
        finally:
            await runner.cleanup()

    asyncio.run(run())


def test_sha1_ca_enrolls_and_renews_over_http() -> None:
    """`hash sha1` on the CS: a SHA-1-signed CA certificate and identity certificate still enroll, and the
    RenewalReq signed with the SHA-1 identity certificate is recognised as issued by this CA."""

    async def run() -> None:
        sched = SimScheduler(START)
        cfg = CsConfig("OLD")
        for line in ("hash sha1", "grant auto", "lifetime certificate 10"):
            cfg.apply(line)
        cs = CertificateServer(cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None)
        cs.no_shutdown("pp", key_bits=1024)
        runner, port = await start_scep_site(ScepServer(CsBackend(cs)), "127.0.0.1", 0)
        try:
            tcfg = TpConfig("tp")
            for line in (f"enrollment url http://127.0.0.1:{port}", "auto-enroll 50", "rsakeypair k2 1024"):
                tcfg.apply(line)
            logs: list[str] = []
            scep = HttpScep("127.0.0.1")
            tp = Trustpoint(tcfg, DeviceCtx(Keyring(), PkiTimers(sched, logs.append), scep,
                                            logs.append, lambda: "r8.lab", lambda: "X2"))
            await tp.accept_ca(await tp.fetch_ca())
            assert tp.cert is not None and tp.cert.signature_algorithm_oid._name == "sha1WithRSAEncryption"
            first = tp.cert
            assert tp.renew_at is not None
            await sched.run_until(tp.renew_at)
            assert tp.cert is not first and not tp.renew_stopped, logs
            assert tp.cert.signature_algorithm_oid._name == "sha1WithRSAEncryption"
            k2 = tp.dev.keyring.get("k2")
            assert k2 is not None and cs.ca_cert is not None
            crl = await scep.get_crl(tcfg.enrollment_url or "", tp.cert, k2.key, cs.ca_cert)
            assert crl is not None and crl.signature_algorithm_oid._name == "sha1WithRSAEncryption"
        finally:
            await runner.cleanup()

    asyncio.run(run())
