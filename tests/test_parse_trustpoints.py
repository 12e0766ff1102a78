"""`show crypto pki trustpoints [NAME]` and `... status` on real outputs and the behaviour notes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from iospki.models import TrustpointsOutput, TrustpointStatusOutput
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read

TPS = fixtures("show_crypto_pki_trustpoints")
STATUS = fixtures("show_crypto_pki_trustpoints_status")


@pytest.mark.parametrize("path", TPS, ids=fixture_ids(TPS))
def test_real_trustpoints(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki trustpoints", text)
    assert isinstance(out, TrustpointsOutput)
    assert [t.name for t in out.trustpoints] == re.findall(r"^Trustpoint (\S+):\s*$", text, re.M)
    assert [t.serial for t in out.trustpoints if t.serial] == re.findall(
        r"Serial Number \(hex\): (\S+)", text
    )
    assert sum(t.certificate_configured for t in out.trustpoints) == text.count("Certificate configured.")
    gpath = path.with_name(path.name.replace(".txt", ".genie.json"))
    if gpath.is_file():
        for name, exp in json.loads(gpath.read_text())["trustpoints"].items():
            tp = next(t for t in out.trustpoints if t.name == name)
            assert tp.serial == exp.get("serial_number_in_hex")
            for key, val in exp["issuing_ca"]["subject"].items():
                assert f"{key}={val}" in (tp.subject or "").split(",")


def test_trustpoint_values() -> None:
    text = """R14(config)#do show crypto pki trustpoints
Trustpoint R14:
    Subject Name:
    cn=R12
          Serial Number (hex): 01
    Certificate configured.
    SCEP URL: http://192.0.2.12:80/cgi-bin
Trustpoint TP-self-signed-1504826562:
    Subject Name:
    cn=IOS-Self-Signed-Certificate-1504826562
          Serial Number (hex): 01
    Persistent self-signed certificate trust point
    Using key label TP-self-signed-1504826562
Trustpoint empty.one:
"""
    a, b, c = parse("show crypto pki trustpoints", text).trustpoints
    assert (a.name, a.subject, a.serial, a.certificate_configured, a.scep_url) == (
        "R14",
        "cn=R12",
        "01",
        True,
        "http://192.0.2.12:80/cgi-bin",
    )
    assert b.self_signed and b.key_label == "TP-self-signed-1504826562" and not b.certificate_configured
    assert c.name == "empty.one" and c.subject is None


@pytest.mark.parametrize("path", STATUS, ids=fixture_ids(STATUS))
def test_real_trustpoints_status(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki trustpoints status", text)
    assert isinstance(out, TrustpointStatusOutput)
    assert [t.name for t in out.trustpoints] == re.findall(r"^Trustpoint (\S+):\s*$", text, re.M)
    md5 = ["".join(m.split()) for m in re.findall(r"Fingerprint MD5: ([0-9A-F ]+)", text)]
    mine = [fp for t in out.trustpoints for fp in (t.ca_fingerprint_md5, t.router_fingerprint_md5) if fp]
    assert mine == md5
    assert all(t.ca_authenticated is not None and t.keys_generated is not None for t in out.trustpoints)
    gpath = path.with_name(path.name.replace(".txt", ".genie.json"))
    if gpath.is_file():
        for name, exp in json.loads(gpath.read_text())["Trustpoints"].items():
            tp = next(t for t in out.trustpoints if t.name == name)
            ca = exp["certificate_configured"].get("Issuing CA", {}).get("subject", {})
            assert tp.ca_fingerprint_md5 == "".join(ca.get("md5", "").split())
            router = exp["certificate_configured"].get("Router General Purpose")
            assert tp.router_cert_configured is (router is not None)
            assert tp.keys_generated is (exp["state"]["keys_generated"] == "yes")
            assert (tp.certificate_requests or "").lower() == exp["state"]["certificate_requests"]
            if "last_enroll" in exp:
                assert (tp.last_enrollment_status or "").lower() == exp["last_enroll"]


def test_status_subject_dns_survive() -> None:
    path = next((p for p in STATUS if p.parent.parent.name == "muninn"), None)
    if path is None:
        pytest.skip("fixture absent")
    out = parse("show crypto pki trustpoints status", read(path))
    sudi = next(t for t in out.trustpoints if t.name == "CISCO_IDEVID_SUDI")
    assert sudi.ca_subject == "o=Cisco,cn=High Assurance SUDI CA"
    assert (
        sudi.router_subject
        == "cn=C9300-48U,ou=ACT-2 Lite SUDI,o=Cisco,serialNumber=PID:C9300-48U SN:FCW2419C0LC"
    )
    assert sudi.keys_detail == "General Purpose, non-exportable"


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("show crypto pki trustpoints", "    Subject Name:\n    cn=x\n"),
        ("show crypto pki trustpoints", "Trustpoint A:\n    Something unexpected\n"),
        (
            "show crypto pki trustpoints status",
            "Trustpoint A:\n  Issuing CA certificate configured:\n    Subject Name:\n",
        ),
        ("show crypto pki trustpoints status", "Trustpoint A:\n  State:\n    Weird ..... Yes\n"),
    ],
)
def test_garbage_raises(command: str, text: str) -> None:
    with pytest.raises(ParseError):
        parse(command, text)


_SELF_SIGNED_TP = """\
Trustpoint TP-self-signed-4032138694:
    Subject Name:
    cn=IOS-Self-Signed-Certificate-4032138694
          Serial Number (hex): 01
    Persistent self-signed certificate trust point
    Using key label TP-self-signed-4032138694


Trustpoint SLA-TrustPoint:
    Subject Name:
    cn=Cisco Licensing Root CA
    o=Cisco
          Serial Number (hex): 01
    Certificate configured.
"""


@pytest.mark.parametrize(
    ("old", "new", "taken"),
    [
        ("", "", True),  # IOS-XE's self-signed trust point (the layout of the real c9300 capture)
        ("configured.\n", "configured.\n    SCEP URL: http://ca/cgi-bin\n", True),
        ("    Using key", "    Using key label TP\n    Using key", False),  # a second label: the strict error
        ("    Persistent", "    Persistent self-signed certificate trust point\n    Persistent", False),
        ("    Persistent self-signed certificate trust point\n    Using", "    Using", True),
        ("01\n    Persistent", "01\n    Certificate configured.\n    Persistent", True),  # both status lines
        ("    Using key label TP-self-signed-4032138694\n", "", True),
        ("label TP-self-signed-4032138694", "label TP\x0b", False),
    ],
)
def test_trustpoints_fast_path_reads_self_signed_trust_points(old: str, new: str, taken: bool) -> None:
    """The fast path (issue 13 §1) also reads the self-signed trust point lines, as the strict loop does."""
    from iospki.parsers.trustpoints import _fast_trustpoints, parse_trustpoints

    text = _SELF_SIGNED_TP.replace(old, new, 1)
    quick = _fast_trustpoints(text)
    assert (quick is not None) == taken
    if quick is not None:
        assert quick == parse_trustpoints(text, None, fast=False)
        assert quick.trustpoints[0].self_signed == ("Persistent" in text.split("Trustpoint SLA")[0])
