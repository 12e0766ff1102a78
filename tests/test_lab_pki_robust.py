"""Robustness of the emulated IOS certificate server, through its real HTTP listener and real SSH: garbled SCEP
requests, a replayed transaction id, the CA's HTTP server turned off while a client is pending, and the CA shut
down. Every case gets a clear answer and the lab keeps serving."""

from __future__ import annotations

import asyncio
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from netmiko import ConnectHandler

from iospki.lab.scep import client
from iospki.lab.scep.messages import FailInfo, PkiStatus

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr_g2")]
ARCHIVE_PW = "arch-pw-77"


@pytest.fixture(scope="module")
def plab(make_lab_module: Any) -> Iterator[Any]:
    yield make_lab_module(hosts=HOSTS, start="2026-03-01T08:00:00Z")


def connect(plab: Any, name: str) -> Any:
    conn = ConnectHandler(**plab.hosts[name].netmiko())
    conn.enable()
    return conn


def http(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=15) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


@pytest.fixture(scope="module")
def ca(plab: Any) -> Iterator[Any]:
    conn = connect(plab, "ca1")
    # `database archive pkcs12 password`: no passphrase dialog, and the CA is archived as CA.p12
    conn.send_config_set(
        [
            "ntp server 127.0.0.1",
            "ip http server",
            "crypto pki server CA",
            f"database archive pkcs12 password {ARCHIVE_PW}",
            "no shutdown",
        ]
    )
    assert "Status: enabled" in conn.send_command("show crypto pki server")
    yield conn
    conn.disconnect()


def scep_url(plab: Any) -> str:
    return f"http://{plab.hosts['ca1'].address}:80/cgi-bin/pkiclient.exe"


def test_archive_is_a_pkcs12_and_the_password_stays_secret(plab: Any, ca: Any) -> None:
    assert re.search(r"\bCA\.p12\b", ca.send_command("dir nvram:"))
    from cryptography.hazmat.primitives.serialization import pkcs12

    blob = (plab.state_dir / "devices" / "ca1" / "nvram" / "CA.p12").read_bytes()
    key, cert, _ = pkcs12.load_key_and_certificates(blob, ARCHIVE_PW.encode())
    assert key is not None and cert is not None and cert.serial_number == 1
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(blob, b"wrong")
    assert ARCHIVE_PW not in ca.send_command("show logging")


def test_garbled_scep_requests_get_http_errors_and_the_ca_keeps_serving(plab: Any, ca: Any) -> None:
    url = scep_url(plab)
    for bad in (
        f"{url}?operation=PKIOperation&message=%21%21not-base64",
        f"{url}?operation=PKIOperation",
        f"{url}?operation=NoSuchOperation",
    ):
        status, body = http(bad)
        assert 400 <= status < 500, (bad, status)
    status, _ = http(f"{url}?operation=PKIOperation", data=b"\x30\x82\xff\xff garbage")
    assert status == 400
    status, _ = http(f"{url}?operation=PKIOperation", data=b"")
    assert 400 <= status < 500
    # still serving, over HTTP and SSH
    status, der = http(f"{url}?operation=GetCACert")
    assert status == 200 and x509.load_der_x509_certificate(der).serial_number == 1
    assert "Status: enabled" in ca.send_command("show crypto pki server")


def _csr(key: rsa.RSAPrivateKey, cn: str) -> x509.CertificateSigningRequest:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())


def test_replayed_transaction_id_with_another_key_is_refused(plab: Any, ca: Any) -> None:
    url = scep_url(plab)

    async def run() -> tuple[Any, Any]:
        cacs = await client.get_ca_certs(url)
        out = []
        for cn in ("first.lab", "thief.lab"):
            key = rsa.generate_private_key(65537, 1024)
            csr = _csr(key, cn)
            signer = client.self_signed_signer(key, csr.subject, datetime.now(timezone.utc))
            out.append(await client.enroll(url, csr, key, signer, key, cacs.ca, transaction_id="AB" * 16))
        return out[0], out[1]

    first, second = asyncio.run(run())
    assert first.status == PkiStatus.PENDING  # grant manual (the default)
    assert second.status == PkiStatus.FAILURE and second.fail_info == FailInfo.BAD_REQUEST
    req = ca.send_command("show crypto pki server CA requests")
    assert "first.lab" in req and "thief.lab" not in req


def test_http_off_while_pending_then_back_and_granted(plab: Any, ca: Any) -> None:
    r1 = connect(plab, "r1")
    addr = plab.hosts["ca1"].address
    r1.send_config_set(
        [
            "ntp server 127.0.0.1",
            "crypto pki trustpoint TP",
            f"enrollment url http://{addr}:80",
            "rsakeypair TPKEY 1024",
            "auto-enroll 70",
        ]
    )
    r1.config_mode()
    out = r1.send_command("crypto pki authenticate TP", expect_string=r"\[yes/no\]: ")
    r1.send_command("yes", expect_string=r"\(config\)#")
    r1.exit_config_mode()
    plab.clock_advance("10s")  # auto-enroll sends the request: pending (grant manual)
    assert "POLL TP" in r1.send_command("show crypto pki timers")
    ca.send_config_set(["no ip http server"])
    plab.clock_advance("3m")  # POLL finds no CA: the request stays pending, POLL re-armed, nothing crashes
    assert "POLL TP" in r1.send_command("show crypto pki timers")
    assert not re.search(r"^Certificate\s*$", r1.send_command("show crypto pki certificates TP"), re.M)
    ca.send_config_set(["ip http server"])
    pending = ca.send_command("show crypto pki server CA requests")
    assert re.search(r"^\d+\s+pending\s+", pending, re.M), pending
    ca.send_command("crypto pki server CA grant all")
    plab.clock_advance("3m")
    certs = r1.send_command("show crypto pki certificates TP")
    assert re.search(r"^Certificate\s*$", certs, re.M), certs
    assert "POLL TP" not in r1.send_command("show crypto pki timers")
    assert out  # the authenticate dialog answered
    r1.disconnect()


def test_ca_shut_down_refuses_scep_with_a_clear_error(plab: Any, ca: Any) -> None:
    ca.send_config_set(["crypto pki server CA", "shutdown"])
    text = ca.send_command("show crypto pki server")
    assert "Status: disabled" in text
    url = scep_url(plab)
    status, body = http(f"{url}?operation=GetCACaps")
    assert status == 503 and b"disabled" in body
    with pytest.raises(client.ScepHttpError) as err:
        asyncio.run(client.get_ca_certs(url))
    assert "503" in str(err.value)
    # a router authenticating now gets an IOS error, and the lab keeps answering
    r1 = connect(plab, "r1")
    r1.send_config_set(["crypto pki trustpoint TP2", f"enrollment url http://{plab.hosts['ca1'].address}:80"])
    r1.config_mode()
    out = r1.send_command("crypto pki authenticate TP2", expect_string=r"#\s*$")
    r1.exit_config_mode()
    assert out.lstrip().startswith("%"), out
    assert "Traceback" not in out
    ca.send_config_set(["crypto pki server CA", "no shutdown"])
    assert "Status: enabled" in ca.send_command("show crypto pki server")
    status, _ = http(f"{url}?operation=GetCACaps")
    assert status == 200
    r1.disconnect()


def test_the_lab_survived_and_logged_no_traceback(plab: Any) -> None:
    os.kill(plab.pid, 0)  # the lab process is still running
    log = plab.state_dir / "lab.log"
    assert not log.exists() or "Traceback" not in log.read_text(errors="replace")
    for f in plab.state_dir.rglob("*"):
        assert not f.is_file() or ARCHIVE_PW.encode() not in f.read_bytes(), f
