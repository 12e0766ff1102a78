"""The lab's PKI show outputs are in formats the project's parsers read (real formats), with values that
match the engine's state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from iospki.lab.pki import render
from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.timers import PkiTimers
from iospki.lab.pki.transport import DirectScep
from iospki.lab.pki.trustpoint import DeviceCtx, TpConfig, Trustpoint
from iospki.parsers import parse

START = datetime(2026, 3, 1, 6, 0, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def state() -> tuple[SimScheduler, CertificateServer, Trustpoint, PkiTimers]:
    sched = SimScheduler(START)
    cfg = CsConfig("CA")
    for line in ("grant auto", "lifetime ca-certificate 730", "auto-rollover 90", "database level complete"):
        cfg.apply(line)
    cs_timers = PkiTimers(sched, lambda _l: None)
    cs = CertificateServer(cfg, Keyring(), MemoryStorage(), cs_timers, lambda _l: None)
    cs.no_shutdown("p", key_bits=1024)
    scep = DirectScep()
    scep.servers["http://127.0.0.1"] = cs
    tcfg = TpConfig("client")
    for line in ("enrollment url http://127.0.0.1", "auto-enroll 80 regenerate", "rsakeypair ck 1024",
                 "serial-number", "ip-address 127.10.0.3"):
        tcfg.apply(line)
    timers = PkiTimers(sched, lambda _l: None)
    tp = Trustpoint(tcfg, DeviceCtx(Keyring(), timers, scep, lambda _l: None, lambda: "r3.lab.local", lambda: "FTX1234"))

    async def go() -> None:
        await tp.accept_ca(await tp.fetch_ca())
        # day 660: the certificate renewed on day 584 is capped at the CA's end, so its renewal is the SHADOW
        # timer of day 700.8 (C9); the CA has generated its rollover CA on day 640
        await sched.run_until(START + 660 * DAY)

    asyncio.run(go())
    return sched, cs, tp, timers


@pytest.mark.parametrize("family", ["ios", "iosxe"])
def test_certificates_parse_and_match(state: tuple, family: str) -> None:  # type: ignore[type-arg]
    sched, cs, tp, timers = state
    view = render.View(family, sched.now(), tp.dev.keyring, timers, [tp])
    for verbose in (False, True):
        text = render.certificates(view, verbose)
        out = parse("show crypto pki certificates verbose" if verbose else "show crypto pki certificates", text, family)
        certs = out.certificates
        sections = [c.section for c in certs]
        assert "Certificate" in sections and "CA Certificate" in sections
        ident = next(c for c in certs if c.section == "Certificate")
        assert tp.cert is not None and ident.serial == f"{tp.cert.serial_number:02X}"
        assert ident.end == tp.cert.not_valid_after_utc.replace(tzinfo=None)
        assert tp.renew_at is not None and ident.renew == tp.renew_at.replace(tzinfo=None)
        assert ident.subject_fields.get("hostname") == "r3.lab.local"


def test_timers_parse_with_exact_times(state: tuple) -> None:  # type: ignore[type-arg]
    sched, cs, tp, timers = state
    xe = parse("show crypto pki timers detail",
               render.timers(render.View("iosxe", sched.now(), tp.dev.keyring, timers, [tp])), "iosxe")
    by_label = {t.label: t for t in xe.timers}
    assert "RENEW client" not in by_label  # C9: a capped certificate leaves no RENEW
    assert by_label["SHADOW client"].at == tp.renew_at.replace(tzinfo=None)
    cs_view = render.View("iosxe", sched.now(), cs.keyring, cs.timers, [], [cs])
    cst = {t.label: t for t in parse("show crypto pki timers detail", render.timers(cs_view), "iosxe").timers}
    assert cst["CS CERT EXPIRE"].at == cs.ca_cert.not_valid_after_utc.replace(tzinfo=None)
    classic = parse("show crypto pki timers",
                    render.timers(render.View("ios", sched.now(), tp.dev.keyring, timers, [tp])), "ios")
    renew = next(t for t in classic.timers if t.label == "SHADOW client")
    assert abs(renew.remaining_seconds - (tp.renew_at - sched.now()).total_seconds()) < 1


def test_server_outputs_parse(state: tuple) -> None:  # type: ignore[type-arg]
    sched, cs, tp, timers = state
    view = render.View("iosxe", sched.now(), cs.keyring, cs.timers, [], [cs])
    text = render.server(view)
    assert "Rollover status: available for rollover" in text
    assert "Auto-Rollover configured, overlap period 90 days" in text
    parse("show crypto pki server", text, "iosxe")
    parse("show crypto pki server CA certificates", render.server_certificates(cs), "iosxe")
    parse("show crypto pki server CA requests", render.server_requests(cs), "iosxe")
    parse("show crypto pki server CA crl", render.server_crl(cs), "iosxe")
    parse("show crypto key mypubkey rsa", render.mypubkey(view), "iosxe")
    parse("show crypto pki trustpoints", render.trustpoints(render.View("iosxe", sched.now(), tp.dev.keyring, timers, [tp])), "iosxe")
    parse("show crypto pki trustpoints status",
          render.trustpoints(render.View("iosxe", sched.now(), tp.dev.keyring, timers, [tp]), status=True), "iosxe")
    parse("show crypto pki crls", render.crls(view), "iosxe")


def test_chain_block_round_trip(state: tuple) -> None:  # type: ignore[type-arg]
    sched, _, tp, _ = state
    # past the shadow renewal of day 700.8 (the module's last use of the shared state): rollover certificates
    asyncio.run(sched.run_until(START + 701 * DAY))
    certs = render.chain_certs(tp)
    block = render.chain_block("client", certs)
    assert block[0] == "crypto pki certificate chain client"
    assert any(line.startswith(" certificate ca rollover ") for line in block)
    back = render.parse_chain(block[1:])
    assert [(k, c) for k, c in back] == certs


def test_next_expiry_alert_schedule() -> None:
    end = datetime(2027, 1, 31, 12, 0, tzinfo=timezone.utc)
    nxt = render.next_expiry_alert
    assert nxt(end, end - 400 * DAY) == end - 60 * DAY  # first alert 60 days before the end
    assert nxt(end, end - 60 * DAY) == end - 53 * DAY  # then weekly
    assert nxt(end, end - 20 * DAY) == end - 18 * DAY
    assert nxt(end, end - 10 * DAY) == end - 7 * DAY  # the weekly step would pass the last week: a week before
    assert nxt(end, end - 7 * DAY) == end - 6 * DAY  # then daily
    assert nxt(end, end - timedelta(days=2, hours=5)) == end - 2 * DAY
    assert nxt(end, end - timedelta(hours=3)) is None  # nothing left before the end
    assert nxt(end, end + DAY) is None


def test_expiry_alert_timers_on_iosxe_only(state: tuple) -> None:  # type: ignore[type-arg]
    sched, cs, tp, timers = state
    now = sched.now()
    xe = parse("show crypto pki timers detail", render.timers(render.View("iosxe", now, cs.keyring, cs.timers, [], [cs])), "iosxe")
    alerts = {t.label: t for t in xe.timers if t.section == "Expiry Alert Timers"}
    assert cs.ca_cert is not None and tp.cert is not None
    assert alerts["CS(CA)"].at == render.next_expiry_alert(cs.ca_cert.not_valid_after_utc, now).replace(tzinfo=None)  # type: ignore[union-attr]

    def labels() -> set[str | None]:
        text = render.timers(render.View("iosxe", now, tp.dev.keyring, timers, [tp]))
        return {t.label for t in parse("show crypto pki timers detail", text, "iosxe").timers}

    saved = tp.cert_rollover
    try:
        tp.cert_rollover = None
        assert "ID(client)" in labels() and "CA(client)" not in labels()  # the root CA is self-signed: no CA alert
        # auto-enroll with a rollover certificate starting no later than the current one ends: no ID alert (§1.6)
        tp.cert_rollover = tp.cert
        assert "ID(client)" not in labels()
    finally:
        tp.cert_rollover = saved
    classic = render.timers(render.View("ios", now, cs.keyring, cs.timers, [], [cs]))
    assert "Expiry Alert Timers" not in classic and "CS(CA)" not in classic
