"""The emulated IOS certificate server as a pure state machine (rules.md S1-S5), on a simulated clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from iospki.lab.pki.ca import CertificateServer, CsConfig, CsError, MemoryStorage
from iospki.lab.pki.clock import SimScheduler
from iospki.lab.pki.keys import Keyring
from iospki.lab.pki.timers import PkiTimers

START = datetime(2026, 1, 1, 8, 0, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def csr(cn: str = "r1.lab") -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .sign(KEY, hashes.SHA256())
    )


def make(lines: list[str], start: datetime = START) -> tuple[CertificateServer, SimScheduler, list[str], MemoryStorage]:
    sched = SimScheduler(start)
    logs: list[str] = []
    cfg = CsConfig("CA")
    for line in lines:
        cfg.apply(line)
    store = MemoryStorage()
    cs = CertificateServer(cfg, Keyring(), store, PkiTimers(sched, logs.append), logs.append)
    return cs, sched, logs, store


def test_defaults_and_first_no_shutdown() -> None:
    cs, _, logs, store = make([])
    assert cs.needs_passphrase()
    out = cs.no_shutdown("secret-pass", key_bits=1024)
    assert out[-1] == "% Certificate Server enabled."
    ca = cs.ca_cert
    assert ca is not None and ca.serial_number == 1
    assert ca.not_valid_before_utc == START
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == 1095 * DAY
    assert ca.subject.rfc4514_string() == "CN=CA"
    assert cs.cfg.grant == "manual" and cs.cfg.lifetime_crl == timedelta(hours=6)
    assert cs.crl is not None and cs.crl.next_update_utc == START + timedelta(hours=6)
    assert "nvram:CA.crl" in store.files and "nvram:CA.ser" in store.files
    assert "%PKI-6-CS_ENABLED: Certificate server now enabled." in logs
    # no archive password configured -> no archive written, and the passphrase never lands anywhere
    assert not any(k.endswith(".p12") for k in store.files)
    assert all(b"secret-pass" not in v for v in store.files.values())


def test_manual_grant_reject_and_request_expiry() -> None:
    cs, sched, _, _ = make(["lifetime enrollment-request 2"])
    cs.no_shutdown("x", key_bits=1024)
    d = cs.submit(csr(), "PKCSReq", "tid-1")
    assert d.status == "PENDING" and d.request_id == 1
    assert cs.poll("tid-1").status == "PENDING"
    assert cs.cmd_grant("all") == []
    got = cs.poll("tid-1")
    assert got.status == "SUCCESS" and got.cert is not None and got.cert.serial_number == 2
    got.cert.verify_directly_issued_by(cs.ca_cert)  # type: ignore[arg-type]
    d2 = cs.submit(csr("r2.lab"), "PKCSReq", "tid-2")
    cs.cmd_reject(str(d2.request_id))
    assert cs.poll("tid-2").fail_info == "badRequest"
    d3 = cs.submit(csr("r3.lab"), "PKCSReq", "tid-3")
    assert cs.timers.at(f"ER EXPIRE {d3.request_id}") == START + timedelta(hours=2)
    asyncio.run(sched.advance(timedelta(hours=2, seconds=1)))
    assert cs.poll("tid-3").fail_info == "badCertId"


def test_issued_certificates_never_outlive_the_ca_and_database_files() -> None:
    cs, sched, _, store = make(
        ["grant auto", "lifetime ca-certificate 400", "database level complete",
         "database archive pkcs12 password 0 arch-pass"]
    )
    out = cs.no_shutdown(None, key_bits=1024)
    assert "% Exporting Certificate Server signing certificate and keys..." in out
    assert "nvram:CA.p12" in store.files
    c1 = cs.submit(csr(), "PKCSReq", "a").cert
    assert c1 is not None and c1.not_valid_after_utc - c1.not_valid_before_utc == 365 * DAY
    assert "nvram:02.cer" in store.files
    asyncio.run(sched.advance(100 * DAY))
    c2 = cs.submit(csr(), "PKCSReq", "b").cert
    assert c2 is not None and c2.not_valid_after_utc == cs.ca_cert.not_valid_after_utc  # type: ignore[union-attr]
    assert b"last_serial = 0x3" in store.files["nvram:CA.ser"]
    assert cs.cmd_revoke("0x2") == ["% Certificate 02 succesfully revoked."]
    assert cs.crl is not None and cs.crl.get_revoked_certificate_by_serial_number(2) is not None


def test_auto_rollover_generation_and_activation_s3_s4_s5() -> None:
    cs, sched, logs, store = make(["grant auto", "lifetime ca-certificate 730", "auto-rollover 90",
                                   "database url flash:", "database archive pkcs12 password 0 pw-archive-9"])
    cs.no_shutdown("x", key_bits=1024)
    ca_end = START + 730 * DAY
    assert cs.timers.at("CS SHADOW CERT GENERATION") == ca_end - 90 * DAY
    assert cs.timers.at("CS CERT EXPIRE") == ca_end
    ident = cs.submit(csr(), "PKCSReq", "t0").cert
    assert ident is not None
    asyncio.run(sched.run_until(ca_end - 90 * DAY))
    roll = cs.rollover_cert
    assert roll is not None and roll.not_valid_before_utc == ca_end
    assert roll.not_valid_after_utc == ca_end + 730 * DAY
    assert cs.keyring.get("CA#") is not None
    assert any(line.startswith("%PKI-6-CS_ROLLOVER_AVAILABLE") for line in logs)
    # database on flash:, PKCS#12 archives of the CA and of the rollover CA (password-protected)
    assert {"flash:CA.p12", "flash:CA#.p12", "flash:CA.ser", "flash:CA.crl"} <= set(store.files)
    from cryptography.hazmat.primitives.serialization import pkcs12
    arch = pkcs12.load_pkcs12(store.files["flash:CA#.p12"], b"pw-archive-9")
    assert arch.cert is not None and arch.cert.certificate == roll
    # S5: a rollover identity certificate for a client whose current cert ran 146 days
    asyncio.run(sched.advance(60 * DAY))
    signer = ident  # 365-day certificate -> balance is the 10 % minimum
    rc = cs.submit(csr(), "PKCSReq", "t1", signer=signer, for_rollover=True).cert
    assert rc is not None and rc.not_valid_before_utc == ca_end
    assert rc.not_valid_after_utc == ca_end + timedelta(days=36.5)
    rc.verify_directly_issued_by(roll)
    asyncio.run(sched.run_until(ca_end))
    assert cs.ca_cert is roll and cs.rollover_cert is None
    assert cs.keyring.get("CA#") is None and cs.keyring.get("CA") is not None
    assert any(line.startswith("%PKI-6-CS_ROLLOVER_ACTIVE") for line in logs)
    assert cs.timers.at("CS SHADOW CERT GENERATION") == ca_end + 730 * DAY - 90 * DAY


def test_rollover_on_demand_and_cancel() -> None:
    cs, _, _, _ = make(["grant auto"])
    cs.no_shutdown("x", key_bits=1024)
    assert cs.cmd_rollover() == []
    assert cs.rollover_cert is not None
    assert cs.cmd_rollover_cancel() == []
    assert cs.rollover_cert is None and cs.keyring.get("CA#") is None


def test_bad_config_values_are_refused() -> None:
    cfg = CsConfig("CA")
    with pytest.raises(CsError):
        cfg.apply("lifetime certificate abc")
    with pytest.raises(CsError):
        cfg.apply("database level everything")
    cfg.apply("auto-rollover")
    assert cfg.auto_rollover == 30 * DAY
    cfg.apply("auto-rollover 0 0 20")
    assert cfg.auto_rollover == timedelta(minutes=20)
    cfg.apply("grant auto rollover ca-cert")
    assert cfg.grant == "manual"
    cfg.apply("lifetime crl 1 0")
    assert cfg.lifetime_crl == timedelta(hours=1)


@pytest.mark.parametrize(("hash_name", "oid_name"), [("sha1", "sha1WithRSAEncryption"), ("md5", "md5WithRSAEncryption")])
def test_legacy_hash_signs_ca_certificates_and_crl_with_it(hash_name: str, oid_name: str) -> None:
    # IOS signs with MD5/SHA-1 when `hash md5|sha1` is configured; cryptography's builder refuses them.
    cs, _, _, _ = make(["grant auto", f"hash {hash_name}"])
    cs.no_shutdown("secret-pass", key_bits=1024)
    ca = cs.ca_cert
    assert ca is not None and cs.crl is not None
    ident = cs.submit(csr(), "PKCSReq", "h0").cert
    assert ident is not None
    for obj in (ca, ident, cs.crl):
        assert obj.signature_algorithm_oid._name == oid_name
    pub = ca.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    algo = ident.signature_hash_algorithm
    assert algo is not None and algo.name == hash_name
    pub.verify(ident.signature, ident.tbs_certificate_bytes, padding.PKCS1v15(), algo)
    pub.verify(cs.crl.signature, cs.crl.tbs_certlist_bytes, padding.PKCS1v15(), algo)
    # a renewal signed with that certificate is recognised as issued by this CA
    renewed = cs.submit(csr(), "RenewalReq", "h1", signer=ident)
    assert renewed.status == "SUCCESS" and renewed.cert is not None
    # a certificate signed by another key under the same name is not
    other = make(["grant auto", f"hash {hash_name}"])[0]
    other.no_shutdown("x", key_bits=1024)
    stranger = other.submit(csr(), "PKCSReq", "h2").cert
    assert stranger is not None
    assert cs.submit(csr(), "RenewalReq", "h3", signer=stranger).status == "FAILURE"
