"""Part A parsers on the lab twin, read over real SSH (netmiko): `show crypto pki certificates
[verbose]` and `show running-config` of a CA server and of a client enrolled over real SCEP.
The parsed values are checked against the real X.509 certificates, decoded here from the
hex dump of `crypto pki certificate chain` (which the running-config parser only skips)."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from netmiko import ConnectHandler

from iospki.models import CertificatesOutput, CertKind, RunningConfig
from iospki.parsers import parse
from tests.lab_fixture import MakeLab
from tests.netmiko_text import send_text

pytestmark = pytest.mark.lab

ARCHIVE_SECRET = "arch-secret-parsers-a"  # throwaway, loopback lab only
CHALLENGE = "chal-secret-parsers-a"


def chain_certs(config: str, tp: str) -> dict[str, x509.Certificate]:
    """serial (upper hex) -> certificate, decoded from the chain's hex dump (the test's own reading)."""
    m = re.search(rf"^crypto pki certificate chain {re.escape(tp)}\n((?: .*\n?)*)", config, re.M)
    assert m, f"no chain for {tp}"
    out: dict[str, x509.Certificate] = {}
    for serial, body in re.findall(
        r"^ certificate (?:[a-z\- ]+ )?([0-9A-F]+)\n((?:  .*\n?)*)", m.group(1), re.M
    ):
        hexs = "".join(ln.strip() for ln in body.splitlines() if ln.strip() != "quit").replace(" ", "")
        out[serial] = x509.load_der_x509_certificate(bytes.fromhex(hexs))
    return out


def check_against_x509(parsed: CertificatesOutput, chain: dict[str, x509.Certificate], tp: str) -> None:
    assert parsed.certificates
    for c in parsed.certificates:
        assert c.serial is not None
        real = chain[c.serial]
        assert int(c.serial, 16) == real.serial_number
        assert c.start == real.not_valid_before_utc.replace(tzinfo=None) and c.tz == "UTC"
        assert c.end == real.not_valid_after_utc.replace(tzinfo=None)
        assert tp in c.trustpoints
        cn = real.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if cn:
            assert c.subject_fields["cn"] == cn[0].value
        icn = real.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        assert c.issuer_fields["cn"] == icn
        if c.fingerprint_md5 is not None:  # verbose
            der = real.public_bytes(Encoding.DER)
            assert c.fingerprint_md5 == hashlib.md5(der).hexdigest().upper()
            assert c.fingerprint_sha1 == hashlib.sha1(der).hexdigest().upper()
            key = real.public_key()
            assert isinstance(key, rsa.RSAPublicKey) and c.key_size == key.key_size


def test_ca_and_client_outputs_match_their_certificates(make_lab: MakeLab) -> None:
    lab = make_lab(hosts=[("ca1", "csr1k"), ("r1", "isr_g2")], start="2026-01-01T00:00:00Z")
    ca_addr = lab.hosts["ca1"].address
    got: dict[str, Any] = {}
    with ConnectHandler(**lab.hosts["ca1"].netmiko()) as ca:
        ca.enable()
        ca.send_config_set(
            [
                "clock calendar-valid",
                "ip http server",
                "crypto pki server CA1",
                "grant auto",
                "lifetime ca-certificate 730",
                "lifetime certificate 365",
                "lifetime crl 24",
                "auto-rollover 90",
                "database level complete",
                f"database archive pkcs12 password 0 {ARCHIVE_SECRET}",
                "no shutdown",
            ]
        )
        got["ca_config_text"] = send_text(ca, "show running-config", read_timeout=60)
        got["ca_certs"] = parse(
            "show crypto pki certificates", send_text(ca, "show crypto pki certificates")
        )
        with ConnectHandler(**lab.hosts["r1"].netmiko()) as r1:
            r1.enable()
            r1.send_config_set(
                [
                    "clock calendar-valid",
                    "crypto pki trustpoint TP",
                    f"enrollment url http://{ca_addr}:80",
                    "serial-number none",
                    "ip-address none",
                    f"password 0 {CHALLENGE}",
                    "rsakeypair TPKEY 1024",
                    "auto-enroll 80 regenerate",
                ]
            )
            r1.config_mode()
            out = send_text(r1,
                "crypto pki authenticate TP", expect_string=r"\[yes/no\]: ", read_timeout=60
            )
            assert "Fingerprint" in out
            send_text(r1, "yes", expect_string=r"\(config\)#", read_timeout=60)
            r1.exit_config_mode()
            deadline = time.monotonic() + 60
            while True:  # auto-enroll runs in the background: wait for the identity certificate
                text = send_text(r1, "show crypto pki certificates")
                certs = parse("show crypto pki certificates", text)
                assert isinstance(certs, CertificatesOutput)
                if (
                    any(c.kind is CertKind.identity for c in certs.certificates)
                    or time.monotonic() > deadline
                ):
                    break
                time.sleep(1)
            got["r1_certs"] = certs
            got["r1_verbose"] = parse(
                "show crypto pki certificates verbose TP",
                send_text(r1, "show crypto pki certificates verbose TP"),
            )
            got["r1_config_text"] = send_text(r1, "show running-config", read_timeout=60)

    # --- CA server
    ca_cfg = parse("show running-config", got["ca_config_text"])
    assert isinstance(ca_cfg, RunningConfig)
    (srv,) = ca_cfg.servers
    assert (srv.name, srv.shutdown, srv.grant, srv.database_level) == ("CA1", False, "auto", "complete")
    assert srv.lifetime_ca_certificate == timedelta(days=730) and srv.lifetime_certificate == timedelta(
        days=365
    )
    assert srv.lifetime_crl == timedelta(hours=24) and srv.auto_rollover == timedelta(days=90)
    assert srv.database_archive == "pkcs12" and srv.database_archive_password_set
    assert ca_cfg.ip_http_server and ca_cfg.clock_calendar_valid
    assert ARCHIVE_SECRET not in ca_cfg.model_dump_json()
    ca_chain = chain_certs(got["ca_config_text"], "CA1")
    assert [
        (x.kind, x.serial) for ch in ca_cfg.chains if ch.trustpoint == "CA1" for x in ch.certificates
    ] == [("ca", s) for s in ca_chain]
    ca_certs = got["ca_certs"]
    assert [c.kind for c in ca_certs.certificates] == [CertKind.ca]
    check_against_x509(ca_certs, ca_chain, "CA1")
    ca_real = next(iter(ca_chain.values()))
    assert ca_real.not_valid_after_utc - ca_real.not_valid_before_utc == timedelta(days=730)

    # --- client enrolled over SCEP
    r1_cfg = parse("show running-config", got["r1_config_text"])
    assert isinstance(r1_cfg, RunningConfig)
    (tp,) = [t for t in r1_cfg.trustpoints if t.name == "TP"]
    assert (
        tp.enrollment_url == f"http://{ca_addr}:80" and tp.serial_number == "none" and tp.ip_address == "none"
    )
    assert tp.password_set and (tp.rsakeypair, tp.rsakeypair_size) == ("TPKEY", 1024)
    assert tp.auto_enroll and tp.auto_enroll_percent == 80 and tp.auto_enroll_regenerate
    assert CHALLENGE not in r1_cfg.model_dump_json()
    r1_chain = chain_certs(got["r1_config_text"], "TP")
    kinds = {x.kind for ch in r1_cfg.chains if ch.trustpoint == "TP" for x in ch.certificates}
    assert kinds == {"certificate", "ca"}
    r1_certs = got["r1_certs"]
    assert sorted(c.kind.value for c in r1_certs.certificates) == ["ca", "identity"]
    check_against_x509(r1_certs, r1_chain, "TP")
    ident = next(c for c in r1_certs.certificates if c.kind is CertKind.identity)
    assert ident.renew is not None and ident.start is not None and ident.end is not None
    assert ident.start < ident.renew < ident.end  # auto-enroll 80: a renew date is printed
    verbose = got["r1_verbose"]
    check_against_x509(verbose, r1_chain, "TP")
    assert all(c.fingerprint_sha1 for c in verbose.certificates)
