"""`show crypto pki counters` and `show crypto pki trustpool` on the lab (issue 11 §4): the line layout of real
IOS-XE captures (values masked, `tests.test_lab_layout_real.layout`), parsed by the toolkit's parsers, and
counters that count what the lab's PKI engine did: the sessions of an enrolment, the validation of the issued
certificate, the CA's failed validation of a renewal signed by a revoked certificate, CRL fetches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iospki.models import PkiCounters, TrustpoolOutput
from iospki.parsers import parse
from tests.lab_pki_support import enroll_trustpoint, start_ca
from tests.test_forecast_lab import Lab
from tests.test_lab_layout_real import layout

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "csr1k"), ("r2", "isr_g2")]
GENIE = "fixtures/real/genie"


@dataclass
class Outputs:
    fresh_r1: str  # counters before any PKI work
    enrolled_r1: str  # after authenticate + auto-enrolment
    enrolled_r2: str  # classic IOS, same work
    renewed_ca: str  # the CA after a renewal signed by a revoked certificate
    renewed_r1: str
    crl_r1: str  # after a CRL request, then `clear crypto pki counters`
    cleared_r1: str
    trustpool_xe: str
    trustpool_count_xe: str
    trustpool_classic: str


def _counters(text: str, family: str = "iosxe") -> PkiCounters:
    out = parse("show crypto pki counters", text, family)
    assert isinstance(out, PkiCounters), text
    return out


@pytest.fixture(scope="module")
def out(make_lab_module: Any) -> Iterator[Outputs]:
    lab = Lab(make_lab_module(hosts=HOSTS, start="2027-01-01T00:00:00Z", rate=1.0))
    try:
        fresh = lab.show("r1", "show crypto pki counters")
        start_ca(lab, "grant auto", "lifetime certificate 1")
        enroll_trustpoint(lab, "r1", "TP", "auto-enroll 10")
        enroll_trustpoint(
            lab, "r2", "TP", "auto-enroll 90", prelude=("ntp server 127.0.0.1", "ip domain name lab")
        )
        enrolled = (lab.show("r1", "show crypto pki counters"), lab.show("r2", "show crypto pki counters"))
        serial = lab.cert("r1", "Certificate")
        assert serial is not None
        lab.conn("ca1").send_command(f"crypto pki server CA revoke 0x{serial.serial}")
        lab.h.clock_advance(
            "3h"
        )  # past RENEW at 10 % of one day: a RenewalReq signed by the revoked certificate
        renewed = (lab.show("ca1", "show crypto pki counters"), lab.show("r1", "show crypto pki counters"))
        lab.conn("r1").send_command("crypto pki crl request TP")
        crl = lab.show("r1", "show crypto pki counters")
        lab.conn("r1").send_command("clear crypto pki counters")
        yield Outputs(
            fresh, *enrolled, *renewed, crl, lab.show("r1", "show crypto pki counters"),
            lab.show("r1", "show crypto pki trustpool"),
            lab.show("r1", "show crypto pki trustpool | count Downloaded"),
            lab.show("r2", "show crypto pki trustpool"),
        )  # fmt: skip
    finally:
        lab.close()


@pytest.mark.parametrize(
    "capture",
    [f"{GENIE}/show_crypto_pki_counters/iosxe__golden_output.txt",
     "fixtures/real/muninn/show_crypto_pki_counters/iosxe_c9300_issue1192.txt"],
)  # fmt: skip
def test_counters_layout_like_real_iosxe(out: Outputs, shared_dir: Path, capture: str) -> None:
    real = (shared_dir / capture).read_text()
    for text in (out.fresh_r1, out.enrolled_r1, out.enrolled_r2, out.renewed_ca, out.cleared_r1):
        assert layout(text) == layout(real), text


def test_counters_count_the_engines_work(out: Outputs) -> None:
    fresh = _counters(out.fresh_r1)
    assert (fresh.sessions_started, fresh.successful_validations, fresh.failed_validations) == (0, 0, 0)
    for text, family in ((out.enrolled_r1, "iosxe"), (out.enrolled_r2, "ios")):
        c = _counters(text, family)
        # GetCACert (authenticate) and the PKCSReq: two sessions, both ended; the issued certificate validated
        assert (c.sessions_started, c.sessions_ended, c.sessions_active) == (2, 2, 0), text
        assert (c.successful_validations, c.failed_validations) == (1, 0), text
        assert (c.crl_fetch_attempts, c.crls_checked) == (0, 0), text


def test_a_renewal_signed_by_a_revoked_certificate_fails_validation_on_the_ca(out: Outputs) -> None:
    ca = _counters(out.renewed_ca)
    assert ca.failed_validations == 1 and ca.successful_validations == 0, out.renewed_ca
    assert ca.sessions_started == ca.sessions_ended >= 1, out.renewed_ca
    r1 = _counters(out.renewed_r1)
    # the RenewalReq was one more session; the CA rejected it, so r1 validated no new certificate
    assert (r1.sessions_started, r1.successful_validations, r1.failed_validations) == (3, 1, 0), (
        out.renewed_r1
    )


def test_crl_request_and_clear(out: Outputs) -> None:
    crl = _counters(out.crl_r1)
    assert (crl.crl_fetch_attempts, crl.crl_failed_attempts, crl.sessions_started) == (1, 0, 4), out.crl_r1
    cleared = _counters(out.cleared_r1)
    assert cleared.model_dump() == dict.fromkeys(cleared.model_dump(), 0), out.cleared_r1


_VALUE = re.compile(r"(\s+)(?:[A-Za-z]+=.*|https?://\S+)")


def _sections(text: str) -> list[list[str]]:
    """The layout of each certificate section, with DN lines (values with blanks, which `layout` keeps) and
    URLs masked too; a run of DN lines counts once."""
    out = []
    for block in text.strip("\n").split("\n\n"):
        shapes: list[str] = []
        for s in layout(block):
            m = _VALUE.fullmatch(s)
            s = m[1] + ("<url>" if "://" in s else "<rdn>") if m else s
            if not (s.endswith("<rdn>") and shapes and shapes[-1] == s):
                shapes.append(s)
        out.append(shapes)
    return out


def test_trustpool_layout_like_real_iosxe(out: Outputs, shared_dir: Path) -> None:
    real = {
        tuple(s)
        for s in _sections(
            (shared_dir / f"{GENIE}/show_crypto_pki_trustpool/iosxe__golden_output.txt").read_text()
        )
    }
    lab = _sections(out.trustpool_xe)
    assert len(lab) == 2, out.trustpool_xe
    for section in lab:  # each lab section has the shape of a real one
        assert tuple(section) in real, section
    # one with a CRL distribution point and one without, as the real bundle has
    assert sum("  CRL Distribution Points:" in s for s in lab) == 1
    parsed = parse("show crypto pki trustpool", out.trustpool_xe, "iosxe")
    assert isinstance(parsed, TrustpoolOutput)
    assert [(c.source, c.trustpool, c.trustpoints) for c in parsed.certificates] == [("Built-In", True, [])] * 2
    root = parsed.certificates[1]
    assert root.issuer == root.subject and parsed.certificates[0].issuer == root.subject
    count = parse("show crypto pki trustpool | count Downloaded", out.trustpool_count_xe, "iosxe")
    assert count.model_dump() == {"downloaded": 0}, out.trustpool_count_xe


def test_classic_ios_has_no_trustpool_command(out: Outputs) -> None:
    lines = out.trustpool_classic.strip("\n").splitlines()
    assert lines[-1] == "% Invalid input detected at '^' marker.", out.trustpool_classic
    caret = lines[-2]
    # under `trustpool`, after the prompt `r2#` and `show crypto pki `
    assert caret.strip() == "^" and caret.index("^") == len("r2#show crypto pki "), out.trustpool_classic
