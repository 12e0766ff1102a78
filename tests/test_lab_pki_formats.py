"""The lab's show outputs have the shape of real device captures (shared/fixtures/real), field by field."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from iospki.lab.pki import render
from iospki.lab.pki.ca import CertificateServer, CsConfig, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.timers import PkiTimers
from iospki.lab.pki.transport import DirectScep
from iospki.lab.pki.trustpoint import DeviceCtx, TpConfig, Trustpoint

GENIE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "genie"


def _fixture(rel: str) -> str:
    path = GENIE / rel
    if not path.is_file():
        pytest.skip(f"real fixture {path} not found (clone ../shared beside the repo)")
    return path.read_text()


def skeleton(text: str) -> list[str]:
    """Each line reduced to its indentation and label (the text up to the first ':'), values dropped."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        label = line.strip().split(":", 1)[0] if ":" in line else line.strip()
        out.append(f"{indent}|{re.sub(r'[0-9A-F]{8}( [0-9A-F]{8})+', 'HEX', label)}")
    return out


def labels(section: str) -> list[str]:
    return [ln.split("|", 1)[1] for ln in skeleton(section)]


@pytest.fixture(scope="module")
def world() -> tuple[CertificateServer, Trustpoint, SimScheduler]:
    sched = SimScheduler(datetime(2026, 1, 2, 12, 0, 0, tzinfo=timezone.utc))
    cfg = CsConfig("root")
    for line in ("grant auto", "database level complete", "auto-rollover 1", "issuer-name CN=root"):
        cfg.apply(line)
    cs = CertificateServer(cfg, Keyring(), MemoryStorage(), PkiTimers(sched, lambda _l: None), lambda _l: None)
    cs.no_shutdown("p", key_bits=1024)
    scep = DirectScep()
    scep.servers["http://127.0.0.1"] = cs
    tcfg = TpConfig("client")
    for line in ("enrollment url http://127.0.0.1", "auto-enroll 80", "rsakeypair client 1024", "serial-number none"):
        tcfg.apply(line)
    tp = Trustpoint(tcfg, DeviceCtx(Keyring(), PkiTimers(sched, lambda _l: None), scep, lambda _l: None,
                                    lambda: "ROUTER", lambda: "X"))

    async def go() -> None:
        await tp.accept_ca(await tp.fetch_ca())

    asyncio.run(go())
    return cs, tp, sched


def test_show_crypto_pki_server_matches_the_real_csr8kv_capture_line_by_line(world: tuple) -> None:  # type: ignore[type-arg]
    cs, _tp, sched = world
    real = _fixture("show_crypto_pki_server/iosxe__golden_output_csr8kv.txt")
    ours = render.server(render.View("iosxe", sched.now(), cs.keyring, cs.timers, [], [cs]))
    assert skeleton(ours) == skeleton(real)


def test_verbose_certificate_sections_follow_the_real_field_order(world: tuple) -> None:  # type: ignore[type-arg]
    _cs, tp, sched = world
    real = _fixture("show_crypto_pki_certificates_verbose/iosxe__golden_output_csr8kv.txt")
    ours = render.certificates(render.View("iosxe", sched.now(), tp.dev.keyring, tp.dev.timers, [tp]), verbose=True)
    for header in ("Certificate", "CA Certificate"):
        r = _section(real, header)
        o = _section(ours, header)
        common = [x for x in labels(o) if x in set(labels(r))]
        assert common == [x for x in labels(r) if x in set(labels(o))], header  # same order where both have a field
        for must in ("Status", "Certificate Serial Number (hex)", "Certificate Usage", "Issuer", "Subject",
                     "Validity Date", "start date", "end   date", "Signature Algorithm", "Fingerprint MD5",
                     "Fingerprint SHA1", "Cert install time", "Associated Trustpoints"):
            assert must in labels(o), (header, must)


def _section(text: str, header: str) -> str:
    blocks = re.split(r"\n(?=\S)", text.strip())
    return next(b for b in blocks if b.splitlines()[0].strip() == header)


def _timer_shape(line: str) -> bool:
    """`[  ]|<countdown right-aligned in 16 columns>  (<ISO Z>)[ LABEL]` (wider countdowns push right)."""
    m = re.match(r"^(  )?\|(?P<cd>.+?)  \((?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)(?P<label> [A-Za-z(].*)?$", line)
    if not m:
        return False
    cd = m["cd"]
    ok = re.fullmatch(r"(\d+d)?(( ?\d|\d\d):)?(\d{1,2}:)?\d{1,2}\.\d{3}", cd.strip()) is not None
    return ok and (len(cd) == 16 or (len(cd) > 16 and cd == cd.strip()))


def test_timer_lines_have_the_real_shape(world: tuple) -> None:  # type: ignore[type-arg]
    cs, _tp, sched = world
    real = _fixture("show_crypto_pki_timer_detail/iosxe__golden_output_csr8kv.txt")
    real_lines = [ln for ln in real.splitlines() if "|" in ln and "CONNECT RETRY" not in ln]
    assert real_lines and all(_timer_shape(ln) for ln in real_lines)  # the shape describes the capture
    ours = render.timers(render.View("iosxe", sched.now(), cs.keyring, cs.timers, [], [cs]))
    lines = [ln for ln in ours.splitlines() if "|" in ln]
    assert len(lines) >= 4 and all(_timer_shape(ln) for ln in lines), ours
    ours_sections = [ln for ln in ours.splitlines() if "|" not in ln]
    assert ours_sections == ["PKI Timers", "Expiry Alert Timers", "Trustpool Timers", "CS Timers"]
    # the sections come in the capture's order
    real_sections = [ln for ln in real.splitlines() if "|" not in ln]
    assert [x for x in real_sections if x in ours_sections] == ours_sections
