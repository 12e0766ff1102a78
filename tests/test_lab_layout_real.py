"""What the lab prints, line by line, next to the real output it imitates (issue 11 §3).

Each test compares the LINE LAYOUT: the sequence of line shapes (indentation, labels, section headers; values such
as times, fingerprints, serials and names masked) of a lab output with a real capture in shared/fixtures/real or
the seed's output, read in place. The seed's copy is a PDF extraction that loses indentation, so next to the seed
only the shapes without indentation are compared. Every lab output must still parse with the toolkit's parsers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iospki.models import CertificatesOutput, ServersOutput, TimersOutput
from iospki.parsers import parse
from tests.lab_pki_support import start_ca
from tests.test_forecast_lab import Lab

pytestmark = pytest.mark.lab

HOSTS = [("cax", "csr1k"), ("cac", "isr_g2"), ("r1", "csr1k")]
SEED_ROLLOVER_CA = ("issuer-name CN=RootCA,OU=TAC,O=Cisco", "lifetime ca-certificate 730", "auto-rollover 90")
_COUNTDOWN = re.compile(r"\|[\sd\d:]*\.\d{3}")
_ISO = re.compile(r"\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)")


_LABEL = re.compile(r"^([A-Za-z][^:]*?):(\s|$)")
_PROMPT = re.compile(r"^\s*[\w.-]+#")


def shape(line: str) -> str:
    """A line with its values masked: `  Storage: nvram:CA#1CA.cer` -> `  Storage:`, `    cn=CA` -> `    <rdn>`,
    a timer line -> `  |<countdown>  (<iso>) SESSION CLEANUP`, `clock offset is 0.0000 msec, ...` -> numbers `N`."""
    line = line.rstrip()
    if "|" in line:
        return _ISO.sub("(<iso>)", _COUNTDOWN.sub("|<countdown>", line))
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()
    label = _LABEL.match(body)
    if label:
        return indent + label.group(1) + ":"
    if "=" in body and " " not in body:
        return indent + "<rdn>"
    body = re.sub(r"\([^)]*\)", "(...)", body)
    body = re.sub(r"reference is \S+", "reference is X", body)
    return indent + re.sub(r"[0-9A-F]{8}\.[0-9A-F]{8}|-?\d+(\.\d+)*", "N", body)


def layout(text: str, indent: bool = True) -> list[str]:
    """The shapes of the lines (blank lines and prompts left out; a run of RDN lines counts once: names differ in
    length, not in layout)."""
    out: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _PROMPT.match(line):
            continue
        # without indentation (next to the seed's PDF copy) white space is folded too: the copy has no-break
        # spaces and single spaces where IOS prints two
        s = shape(line) if indent else " ".join(shape(line).split())
        if s.lstrip() == "<rdn>" and out and out[-1] == s:
            continue
        out.append(s)
    return out


def seed_block(shared: Path, start: str, end: str) -> str:
    """The seed's lines from the first line equal to `start` up to (without) the first line after it starting
    with `end`."""
    text = next((shared / "seed").glob("*.txt")).read_text()
    lines = text.splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.strip() == start)
    j = next(n for n in range(i + 1, len(lines)) if lines[n].strip().startswith(end))
    # the PDF copy has page-break bullets (`●`) inside blocks
    return "\n".join(ln for ln in lines[i:j] if ln.strip() not in ("●", ""))


@dataclass
class Outputs:
    timers_basic_xe: list[str]  # a router with no PKI, twice on a running clock
    ntp_xe: str
    ntp_classic: str
    certs_classic: str  # classic CS with the seed's issuer name, before rollover
    timers_classic: str
    certs_verbose_xe: str  # IOS-XE CS
    certs_after_rollover: str  # classic CS after the rollover CA was generated
    server_after_rollover: str


@pytest.fixture(scope="module")
def out(make_lab_module: Any) -> Iterator[Outputs]:
    lab = Lab(make_lab_module(hosts=HOSTS, start="2027-01-01T00:00:00Z", rate=1.0))
    try:
        lab.conn("r1").send_config_set(["ntp server 127.0.0.1"])
        # cax's outputs are all read before the clock jumps 641 days; with a one-week CRL (default 6 h) it
        # re-issues 92 CRLs in that jump instead of 2,564, half of the set-up time (its certificates read the same)
        start_ca(lab, "issuer-name CN=CA-ROOT", "grant auto", "lifetime crl 168", host="cax", name="CA-ROOT")
        start_ca(lab, *SEED_ROLLOVER_CA, "database level complete", host="cac", name="ROOTCA")
        basic = [lab.show("r1", "show crypto pki timers detail") for _ in range(2)]
        before = (lab.show("cac", "show crypto pki certificates"), lab.show("cac", "show crypto pki timers"))
        ntp = (lab.show("r1", "show ntp status"), lab.show("cac", "show ntp status"))
        verbose = lab.show("cax", "show crypto pki certificates verbose CA-ROOT")
        lab.h.clock_advance("641d")  # past CS SHADOW CERT GENERATION (day 640)
        yield Outputs(
            basic, ntp[0], ntp[1], before[0], before[1], verbose,
            lab.show("cac", "show crypto pki certificates"), lab.show("cac", "show crypto pki server"),
        )  # fmt: skip
    finally:
        lab.close()


def test_timers_have_trustpool_and_milliseconds_like_iosxe(out: Outputs, shared_dir: Path) -> None:
    real = (shared_dir / "fixtures/real/muninn/show_crypto_pki_timers_detail/iosxe_001_basic.txt").read_text()
    for text in out.timers_basic_xe:
        assert layout(text) == layout(real), text
        parsed = parse("show crypto pki timers detail", text, "iosxe")
        assert isinstance(parsed, TimersOutput)
        assert [t.kind for t in parsed.timers] == ["SESSION CLEANUP", "TRUSTPOOL"]
    # a running clock: the countdowns carry milliseconds (two reads: each is .000 only once in a thousand)
    millis = {m for text in out.timers_basic_xe for m in re.findall(r"\.(\d{3})  \(", text)}
    assert millis != {"000"}, out.timers_basic_xe


def test_classic_ca_timers_like_the_seed(out: Outputs, shared_dir: Path) -> None:
    seed = seed_block(shared_dir, "PKI Timers", "Let op:")
    assert layout(out.timers_classic, indent=False) == layout(seed, indent=False), out.timers_classic
    parsed = parse("show crypto pki timers", out.timers_classic, "ios")
    assert isinstance(parsed, TimersOutput) and "TRUSTPOOL" in [t.kind for t in parsed.timers]


def test_ca_server_certificate_has_storage_line_like_real_ios(out: Outputs, shared_dir: Path) -> None:
    real = (shared_dir / "fixtures/real/other/show_crypto_pki_certificates/ios154_r19_ca_server_self.txt").read_text()
    assert layout(out.certs_classic) == layout(real), out.certs_classic
    assert "  Storage: nvram:RootCA#1CA.cer" in out.certs_classic.splitlines()
    parsed = parse("show crypto pki certificates", out.certs_classic, "ios")
    assert isinstance(parsed, CertificatesOutput) and parsed.certificates[0].storage == "nvram:RootCA#1CA.cer"


def test_iosxe_ca_server_verbose_like_real_iosxe(out: Outputs, shared_dir: Path) -> None:
    real = (shared_dir / "fixtures/real/other/show_crypto_pki_certificates_verbose/iosxe_cml_ca_root.txt").read_text()
    # indentation compared too, except `Cert install time:` (2 spaces in most captures, none in this one)
    assert layout(out.certs_verbose_xe, indent=False) == layout(real, indent=False), out.certs_verbose_xe
    assert "  Storage: nvram:CA-ROOT#1CA.cer" in out.certs_verbose_xe.splitlines()
    parsed = parse("show crypto pki certificates verbose", out.certs_verbose_xe, "iosxe")
    assert isinstance(parsed, CertificatesOutput) and parsed.certificates[0].storage == "nvram:CA-ROOT#1CA.cer"


def test_rollover_ca_certificate_like_the_seed(out: Outputs, shared_dir: Path) -> None:
    seed = seed_block(shared_dir, "CA Certificate (Rollover)", "Root-CA# show crypto pki server")
    assert layout(out.certs_after_rollover, indent=False) == layout(seed, indent=False), out.certs_after_rollover
    lines = out.certs_after_rollover.splitlines()
    subject = lines.index("  Subject:", lines.index("CA Certificate (Rollover)"))
    assert lines[subject + 1] == "    Name: RootCA"  # the seed's `Name:` line under Subject
    parsed = parse("show crypto pki certificates", out.certs_after_rollover, "ios")
    assert isinstance(parsed, CertificatesOutput)
    assert [c.section for c in parsed.certificates] == ["CA Certificate (Rollover)", "CA Certificate"]


def test_server_after_rollover_like_the_seed(out: Outputs, shared_dir: Path) -> None:
    seed = seed_block(shared_dir, "Certificate Server ROOTCA:", "Root-CA# show run")
    assert layout(out.server_after_rollover, indent=False) == layout(seed, indent=False), out.server_after_rollover
    assert "Rollover CA certificate fingerprint:" in out.server_after_rollover
    assert "Rollover CA cert fingerprint" not in out.server_after_rollover
    parsed = parse("show crypto pki server", out.server_after_rollover, "ios")
    assert isinstance(parsed, ServersOutput)
    srv = parsed.servers[0]
    assert srv.rollover_status == "available for rollover" and srv.rollover_fingerprint and srv.rollover_expires


def test_ntp_status_offset_is_never_negative_zero(out: Outputs, shared_dir: Path) -> None:
    real = (shared_dir / "fixtures/real/genie/show_ntp_status/iosxe__golden_output_1.txt").read_text()
    for text in (out.ntp_xe, out.ntp_classic):
        assert layout(text, indent=False) == layout(real, indent=False), text
        assert "-0.0000" not in text and "clock offset is 0.0000 msec" in text, text
        parse("show ntp status", text, "iosxe")
