"""`show crypto pki counters` on the pure PKI engine (simulated clock, in-process CA): a certificate that does not
chain to the CA certificate the trustpoint holds fails validation and is not installed, as when a CA server is
re-created (new key, same name) after its clients authenticated it. (Over the lab's real SCEP the CertRep's
signature check refuses such an answer first; `DirectScep` has no CertRep, so the validation itself is tested.)"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.timers import PkiTimers
from iospki.lab.pki.transport import DirectScep
from iospki.lab.pki.trustpoint import DeviceCtx, TpConfig, Trustpoint

START = datetime(2026, 3, 1, 6, 0, 0, tzinfo=timezone.utc)
URL = "http://127.0.0.1:80"


def _ca(sched: SimScheduler) -> CertificateServer:
    cfg = CsConfig("CA")
    cfg.apply("grant auto")
    cs = CertificateServer(
        cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None
    )
    cs.no_shutdown("pass", key_bits=1024)
    return cs


def test_a_certificate_from_another_ca_fails_validation_and_is_not_installed() -> None:
    sched = SimScheduler(START)
    scep = DirectScep()
    scep.servers[URL] = _ca(sched)
    logs: list[str] = []
    cfg = TpConfig("tp")
    for line in (f"enrollment url {URL}", "rsakeypair tpkey 1024", "serial-number none"):
        cfg.apply(line)
    dev = DeviceCtx(
        Keyring(), PkiTimers(sched, logs.append), scep, logs.append, lambda: "r1.lab", lambda: "FTX1"
    )
    tp = Trustpoint(cfg, dev)

    async def run() -> None:
        await tp.accept_ca(await tp.fetch_ca())
        good = await tp.enroll(challenge=None, include_serial=False)
        assert good.status == "SUCCESS" and tp.cert == good.cert
        scep.servers[URL] = _ca(sched)  # the CA re-created: same name, new key; r1 still holds the old one
        bad = await tp.enroll(challenge=None, include_serial=False)
        assert bad.status == "SUCCESS" and bad.cert is not None and tp.cert == good.cert  # not installed

    asyncio.run(run())
    c = dev.counters
    # GetCACert and two PKCSReq: three sessions, all ended; the first certificate validated, the second not
    assert (c.sessions_started, c.sessions_ended, c.sessions_active) == (3, 3, 0)
    assert (c.successful_validations, c.failed_validations) == (1, 1)
    assert tp.last_status == "Failed" and "%PKI-3-CERTRETFAIL: Certificate enrollment failed." in logs
    shown = dict(line.split(": ") for line in c.show().splitlines())
    assert (shown["Successful Validations"], shown["Failed Validations"]) == ("1", "1")
    c.clear()
    assert set(dict(line.split(": ") for line in c.show().splitlines()).values()) == {"0"}
