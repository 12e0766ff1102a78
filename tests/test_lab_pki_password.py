"""One-time enrollment passwords on the emulated IOS certificate server, over real SSH and real SCEP/HTTP:
`crypto pki server CA password generate [MINUTES]`, a PKCSReq carrying the OTP is granted at once (even with
manual grant) and consumes it; a wrong, reused or expired password is refused (CertRep FAILURE badRequest and
`%PKI-6-CS_REJECT` on the CA, `%PKI-6-CERTREJECT` and no certificate on an emulated router); a RenewalReq signed
by a certificate of this CA needs no password; with `grant auto` a request without a password is granted as
before. No password ever reaches the running config, the log or the router's storage."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.test_forecast_lab import Lab, iso

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr4k")]
START = datetime(2027, 3, 1, 9, 0, 0)
PASSPHRASE = "otp-test-ca-pass"
WRONG = "otp-test-wrong-pw"
SCEPCLIENT = shutil.which("scepclient")
needs_scep = pytest.mark.skipif(
    SCEPCLIENT is None, reason="micromdm scep not installed: apt-get install scep"
)
OTP_LINE = re.compile(r"^% New Enrollment password = ([0-9A-F]{16}), valid for (\d+) minutes$", re.M)


@pytest.fixture(scope="module")
def lab(make_lab_module: Any) -> Iterator[Lab]:
    lab = Lab(make_lab_module(hosts=HOSTS, start=iso(START), rate=0.0))
    ca = lab.conn("ca1")
    ca.send_config_set(
        ["ntp server 127.0.0.1", "ip http server", "crypto pki server CA", "database level complete"]
    )
    ca.config_mode()
    lab.ask("ca1", "crypto pki server CA", r"\(cs-server\)#")
    lab.ask("ca1", "no shutdown", r"Password: ")
    lab.ask("ca1", PASSPHRASE, r"Re-enter password: ", hidden=True)
    out = lab.ask("ca1", PASSPHRASE, r"\(cs-server\)#", hidden=True)
    assert "% Certificate Server enabled." in out
    ca.exit_config_mode()
    yield lab
    lab.close()


def generate(lab: Lab, minutes: int | None = None) -> str:
    cmd = "crypto pki server CA password generate" + (f" {minutes}" if minutes is not None else "")
    m = OTP_LINE.search(lab.show("ca1", cmd))
    assert m is not None and int(m.group(2)) == (minutes or 60)
    return m.group(1)


def scepclient(
    lab: Lab, keydir: Path, cn: str, challenge: str | None = None, cert: Path | None = None
) -> int:
    assert SCEPCLIENT is not None
    keydir.mkdir(parents=True, exist_ok=True)
    url = f"http://{lab.h.hosts['ca1'].address}:80/cgi-bin/pkiclient.exe"
    argv = [SCEPCLIENT, "-server-url", url, "-private-key", str(keydir / "k.pem"), "-cn", cn]
    argv += ["-challenge", challenge] if challenge else []
    argv += ["-certificate", str(cert)] if cert else []
    # a refusal must come back at once: a PENDING answer would make scepclient wait and re-send for minutes
    return subprocess.run(argv, capture_output=True, text=True, timeout=60).returncode


def ca_cert(lab: Lab) -> x509.Certificate:
    assert "Status: enabled" in lab.show("ca1", "show crypto pki server CA")
    url = f"http://{lab.h.hosts['ca1'].address}:80/cgi-bin/pkiclient.exe?operation=GetCACert"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return x509.load_der_x509_certificate(resp.read())


def ca_log(lab: Lab) -> str:
    return lab.show("ca1", "show logging")


def test_invalid_values_refused(lab: Lab) -> None:
    for bad in ("0", "1441", "abc"):
        out = lab.show("ca1", f"crypto pki server CA password generate {bad}")
        assert "% Invalid input" in out and "New Enrollment password" not in out
    assert "Certificate server 'NOPE' is not known" in lab.show(
        "ca1", "crypto pki server NOPE password generate"
    )


@needs_scep
def test_scepclient_otp_granted_once_wrong_refused_expired_refused(lab: Lab, tmp_path: Path) -> None:
    ca = ca_cert(lab)
    assert "Granting mode is: manual" in lab.show("ca1", "show crypto pki server")
    otp = generate(lab, 10)
    # a wrong challenge while an enrollment password is outstanding: refused, nothing pending, nothing issued
    assert scepclient(lab, tmp_path / "wrong", "wrong.lab", WRONG) != 0
    assert not (tmp_path / "wrong" / "client.pem").exists()
    assert "rejected (invalid enrollment password)" in ca_log(lab)
    # the generated OTP: granted at once although the server grants manually
    assert scepclient(lab, tmp_path / "a", "otp.lab", otp) == 0
    first = x509.load_pem_x509_certificate((tmp_path / "a" / "client.pem").read_bytes())
    first.verify_directly_issued_by(ca)
    assert "pending" not in lab.show("ca1", "show crypto pki server CA requests")
    # consumed: the same password with another key is refused
    assert scepclient(lab, tmp_path / "again", "again.lab", otp) != 0
    assert not (tmp_path / "again" / "client.pem").exists()
    assert "rejected (enrollment password already used)" in ca_log(lab)
    # RenewalReq signed by the certificate of this CA: no password needed (scepclient's reused csr.pem still
    # carries the spent OTP, which a renewal does not need). Manual grant would keep it pending: grant auto.
    lab.conn("ca1").send_config_set(["crypto pki server CA", "grant auto"])
    assert scepclient(lab, tmp_path / "a", "otp.lab", cert=tmp_path / "a" / "client.pem") == 0
    renewed = x509.load_pem_x509_certificate((tmp_path / "a" / "client.pem").read_bytes())
    assert renewed.serial_number != first.serial_number
    renewed.verify_directly_issued_by(ca)
    # expiry on the lab clock: valid 1 minute, used after 2 -> refused even with `grant auto`
    late = generate(lab, 1)
    lab.h.clock_advance("2m")
    assert scepclient(lab, tmp_path / "late", "late.lab", late) != 0
    assert "rejected (enrollment password expired)" in ca_log(lab)
    # a new OTP replaces the previous one
    older, newer = generate(lab), generate(lab)
    assert scepclient(lab, tmp_path / "older", "older.lab", older) != 0
    assert "rejected (enrollment password replaced by a newer one)" in ca_log(lab)
    assert scepclient(lab, tmp_path / "newer", "newer.lab", newer) == 0
    # grant auto and no password in the request, no OTP outstanding: granted as before
    assert scepclient(lab, tmp_path / "plain", "plain.lab") == 0
    x509.load_pem_x509_certificate(
        (tmp_path / "plain" / "client.pem").read_bytes()
    ).verify_directly_issued_by(ca)
    lab.conn("ca1").send_config_set(["crypto pki server CA", "no grant auto"])
    for pw in (otp, late, older, newer):
        assert_secret_nowhere(lab, pw)


def test_router_wrong_password_fails_then_otp_enrolls(lab: Lab) -> None:
    addr = lab.h.hosts["ca1"].address
    r1 = lab.conn("r1")
    r1.send_config_set(
        [
            "ntp server 127.0.0.1",
            "crypto pki trustpoint TP",
            f"enrollment url http://{addr}:80",
            "serial-number none",
            "ip-address none",
            f"password 0 {WRONG}",
            "rsakeypair TPKEY 2048",
        ]
    )
    r1.config_mode()
    lab.ask("r1", "crypto pki authenticate TP", r"\[yes/no\]: ")
    assert "Trustpoint CA certificate accepted." in lab.ask("r1", "yes", r"\(config\)#")
    r1.exit_config_mode()
    otp = generate(lab)
    enroll(lab, None)  # the trustpoint's `password` is the challenge: no password prompt
    assert "%PKI-6-CERTREJECT" in lab.show("r1", "show logging")
    certs = lab.show("r1", "show crypto pki certificates TP")
    assert "CA Certificate" in certs and not re.search(r"^Certificate$", certs, re.M), certs
    assert "rejected (invalid enrollment password)" in ca_log(lab)
    # the OTP typed at the enroll prompt (no `password` in the trustpoint): granted with manual grant
    r1.send_config_set(["crypto pki trustpoint TP", "no password"])
    enroll(lab, otp)
    certs = lab.show("r1", "show crypto pki certificates TP")
    assert re.search(r"^Certificate$", certs, re.M), certs
    assert "pending" not in lab.show("ca1", "show crypto pki server CA requests")
    # the same OTP again (re-enrollment): refused, the installed certificate stays
    enroll(lab, otp, again=True)
    assert "rejected (enrollment password already used)" in ca_log(lab)
    assert lab.show("r1", "show crypto pki certificates TP") == certs
    assert_secret_nowhere(lab, otp)
    assert_secret_nowhere(lab, WRONG)


def enroll(lab: Lab, password: str | None, again: bool = False) -> None:
    r1 = lab.conn("r1")
    r1.config_mode()
    if again:
        lab.ask("r1", "crypto pki enroll TP", r"\[yes/no\]: ")
        out = lab.ask("r1", "yes", r"Password: |\[yes/no\]: ")
    else:
        out = lab.ask("r1", "crypto pki enroll TP", r"Password: |\[yes/no\]: ")
    if password is not None:
        assert "Password:" in out
        lab.ask("r1", password, r"Re-enter password: ", hidden=True)
        out = lab.ask("r1", password, r"\[yes/no\]: ", hidden=True)
    assert "Request certificate from CA? [yes/no]: " in out
    lab.ask("r1", "yes", r"\(config\)#")
    r1.exit_config_mode()


def assert_secret_nowhere(lab: Lab, secret: str) -> None:
    for host, _ in HOSTS:
        for cmd in (
            "show running-config",
            "show logging",
            "show crypto pki server",
            "show crypto pki timers",
        ):
            assert secret not in lab.show(host, cmd), (host, cmd)
    lab.show("ca1", "write memory")
    for f in lab.h.state_dir.rglob("*"):
        assert not f.is_file() or secret.encode() not in f.read_bytes(), f
