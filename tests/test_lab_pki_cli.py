"""The emulated IOS PKI over SSH, driven with netmiko as an engineer would: certificate server defaults,
`ip http server` requirement, passphrase dialog, manual grant, authenticate/enroll question sequences,
rollover on demand, and keys + certificates surviving `write memory` + reload."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from netmiko import ConnectHandler

from iospki.parsers import parse
from tests.netmiko_text import reload_router, send_answering

pytestmark = pytest.mark.lab

HOSTS = [("ca1", "csr1k"), ("r1", "isr_g2"), ("r3", "isr4k")]


@pytest.fixture(scope="module")
def plab(make_lab_module: Any) -> Iterator[Any]:
    yield make_lab_module(hosts=HOSTS, start="2026-02-01T08:00:00Z")


def connect(plab: Any, name: str) -> Any:
    conn = ConnectHandler(**plab.hosts[name].netmiko())
    conn.enable()
    return conn


def ask(conn: Any, line: str, expect: str = r"#\s*$", hidden: bool = False) -> str:
    """Send one line and read up to `expect` (hidden: a password, which IOS does not echo)."""
    out: str = conn.send_command(line, expect_string=expect, strip_prompt=False, strip_command=False,
                                 read_timeout=60, cmd_verify=not hidden)
    return out


@pytest.fixture(scope="module")
def ca(plab: Any) -> Iterator[Any]:
    conn = connect(plab, "ca1")
    yield conn
    conn.disconnect()


def test_ca_defaults_http_required_and_passphrase(plab: Any, ca: Any) -> None:
    ca.send_config_set(["ntp server 127.0.0.1", "crypto pki server CA", "database level complete"])
    ca.config_mode()
    ask(ca, "crypto pki server CA", r"\(cs-server\)#")
    out = ask(ca, "no shutdown", r"Password: ")
    assert "%Some server settings cannot be changed after CA certificate generation." in out
    assert "% Please enter a passphrase to protect the private key" in out
    out = ask(ca, "ca-pass-123", r"Re-enter password: ", hidden=True)
    out = ask(ca, "ca-pass-123", r"\(cs-server\)#", hidden=True)
    assert "% Certificate Server enabled." in out
    ca.exit_config_mode()
    # no `ip http server`: the server is not serving SCEP
    text = ca.send_command("show crypto pki server")
    assert "Status: disabled, HTTP Server is disabled" in text and "State: check failed" in text
    ca.send_config_set(["ip http server"])
    text = ca.send_command("show crypto pki server")
    srv = parse("show crypto pki server", text, "iosxe").servers[0]
    assert "Status: enabled" in text and "Granting mode is: manual" in text
    assert srv.name == "CA"
    certs = parse("show crypto pki certificates", ca.send_command("show crypto pki certificates"), "iosxe")
    cac = next(c for c in certs.certificates if c.section == "CA Certificate")
    assert cac.start is not None and cac.end is not None
    assert cac.end - cac.start == timedelta(days=1095) and cac.serial == "01"
    timers = ca.send_command("show crypto pki timers detail")
    assert "CS CRL UPDATE" in timers and "CS CERT EXPIRE" in timers
    assert "ca-pass-123" not in ca.send_command("show running-config")
    assert "ca-pass-123" not in ca.send_command("show logging")
    assert "CA.ser" in ca.send_command("dir nvram:")


def test_manual_grant_authenticate_and_enroll_dialogs(plab: Any, ca: Any) -> None:
    r1 = connect(plab, "r1")
    addr = plab.hosts["ca1"].address
    r1.send_config_set(["ntp server 127.0.0.1", "crypto pki trustpoint TP", f"enrollment url http://{addr}:80",
                        "rsakeypair TPKEY 1024", "enrollment retry period 1"])
    r1.config_mode()
    out = ask(r1, "crypto pki authenticate TP", r"\[yes/no\]: ")
    assert re.search(r"Fingerprint MD5: [0-9A-F]{8}( [0-9A-F]{8}){3}", out)
    assert re.search(r"Fingerprint SHA1: [0-9A-F]{8}( [0-9A-F]{8}){4}", out)
    assert "% Do you accept this certificate? [yes/no]: " in out
    out = ask(r1, "yes", r"\(config\)#")
    assert "Trustpoint CA certificate accepted." in out
    out = ask(r1, "crypto pki enroll TP", r"Password: ")
    assert "% Start certificate enrollment .. " in out and "Please make a note of it." in out
    ask(r1, "chal-pw-1", r"Re-enter password: ", hidden=True)
    out = ask(r1, "chal-pw-1", r"\[yes/no\]: ", hidden=True)
    assert "% The subject name in the certificate will include: r1.lab.iospki.test" in out
    assert "% Include the router serial number in the subject name? [yes/no]: " in out
    out = ask(r1, "yes", r"\[no\]: ")
    assert "% The serial number in the certificate will be: " in out
    out = ask(r1, "no", r"\[yes/no\]: ")
    assert "Request certificate from CA? [yes/no]: " in out
    out = ask(r1, "yes", r"\(config\)#")
    assert "% Certificate request sent to Certificate Authority" in out
    r1.exit_config_mode()
    # manual grant: pending on the CA, POLL on the client
    req = ca.send_command("show crypto pki server CA requests")
    assert re.search(r"^1\s+pending\s+[0-9A-F]{32} serialNumber=\S+\+hostname=r1\.lab\.iospki\.test", req, re.M), req
    parse("show crypto pki server CA requests", req, "iosxe")
    assert "POLL TP" in r1.send_command("show crypto pki timers")
    assert "ER EXPIRE 1" in ca.send_command("show crypto pki timers detail")
    # the challenge password of the pending request is stored nowhere on the CA (or the client)
    for dev in ("ca1", "r1"):
        assert (plab.state_dir / "devices" / dev / "nvram" / "private-config").is_file()
        for f in (plab.state_dir / "devices" / dev).rglob("*"):
            assert not f.is_file() or b"chal-pw-1" not in f.read_bytes(), f
    assert ca.send_command("crypto pki server CA grant all").strip() == ""
    plab.clock_advance("2m")
    certs = parse("show crypto pki certificates", r1.send_command("show crypto pki certificates"), "ios")
    ident = next(c for c in certs.certificates if c.section == "Certificate")
    assert ident.serial == "02" and ident.subject_fields.get("hostname") == "r1.lab.iospki.test"
    assert ident.start is not None and ident.end is not None
    assert ident.end - ident.start == timedelta(days=365)
    assert "chal-pw-1" not in r1.send_command("show running-config")
    both = [r1.send_command(c) for c in ("show crypto pki certificates verbose TP", "show crypto pki certificates TP verbose")]
    assert both[0] == both[1] and "Fingerprint SHA1" in both[0]
    # re-enrollment question
    r1.config_mode()
    out = ask(r1, "crypto pki enroll TP", r"\[yes/no\]: ")
    assert "Trustpoint TP has already enrolled and has a router cert issued to it." in out
    assert "Do you want to continue with re-enrollment? [yes/no]: " in out
    ask(r1, "no", r"\(config\)#")
    r1.exit_config_mode()
    # write memory + reload keeps keys and certificates
    keys_before = r1.send_command("show crypto key mypubkey rsa")
    certs_before = r1.send_command("show crypto pki certificates")
    r1.save_config()
    reload_router(r1)
    r1.disconnect()
    time.sleep(1.0)
    r1 = None
    for _ in range(60):
        try:
            r1 = connect(plab, "r1")
            break
        except Exception:
            time.sleep(0.5)
    assert r1 is not None
    assert "%SYS-5-RESTART" in r1.send_command("show logging")  # it did reload
    assert r1.send_command("show crypto key mypubkey rsa").split("Key name")[1:] == keys_before.split("Key name")[1:]
    assert r1.send_command("show crypto pki certificates") == certs_before
    r1.disconnect()


def test_revoke_then_client_fetches_the_crl_over_scep(plab: Any, ca: Any) -> None:
    assert ca.send_command("crypto pki server CA revoke 0x2").strip() == "% Certificate 02 succesfully revoked."
    crl = parse("show crypto pki server CA crl", ca.send_command("show crypto pki server CA crl"), "iosxe")
    assert [e.serial for e in crl.revoked] == ["02"]  # type: ignore[attr-defined]
    r1 = connect(plab, "r1")
    assert r1.send_command("show crypto pki crls").strip() == ""  # nothing cached yet
    assert r1.send_command("crypto pki crl request TP").strip() == ""
    text = r1.send_command("show crypto pki crls")
    assert "** CDP Not Published - Retrieved via SCEP" in text and "cn=CA" in text
    parsed = parse("show crypto pki crls", text, "ios").crls[0]
    assert parsed.issuer == "cn=CA" and parsed.this_update == crl.this_update  # type: ignore[attr-defined]
    assert parsed.downloaded_at is not None
    r1.disconnect()


def test_configure_replace_keeps_engine_and_config_consistent(plab: Any, ca: Any) -> None:
    r1 = connect(plab, "r1")
    certs_before = r1.send_command("show crypto pki certificates TP")
    send_answering(r1, "copy running-config flash:pki-base.cfg")  # "Destination filename [pki-base.cfg]?"
    assert "pki-base.cfg" in r1.send_command("dir flash:")
    addr = plab.hosts["ca1"].address
    r1.send_config_set(["crypto pki trustpoint TMP", f"enrollment url http://{addr}:80"])
    r1.config_mode()
    ask(r1, "crypto pki authenticate TMP", r"\[yes/no\]: ")
    ask(r1, "yes", r"\(config\)#")
    r1.exit_config_mode()
    assert "Trustpoint TMP:" in r1.send_command("show crypto pki trustpoints")
    out = r1.send_command("configure replace flash:pki-base.cfg force", read_timeout=60)
    assert "Rollback Done" in out, out
    assert "Trustpoint TMP:" not in r1.send_command("show crypto pki trustpoints")
    run = r1.send_command("show running-config")
    assert "crypto pki trustpoint TMP" not in run and "crypto pki certificate chain TMP" not in run
    assert "crypto pki certificate chain TP" in run
    assert r1.send_command("show crypto pki certificates TP") == certs_before
    r1.disconnect()


def test_rollover_on_demand_and_cancel(plab: Any, ca: Any) -> None:
    assert ca.send_command("crypto pki server CA rollover").strip() == ""
    text = ca.send_command("show crypto pki server CA")
    assert "Rollover status: available for rollover" in text
    certs = parse("show crypto pki certificates", ca.send_command("show crypto pki certificates"), "iosxe")
    sections = [c.section for c in certs.certificates]
    assert "CA Certificate (Rollover)" in sections
    roll = next(c for c in certs.certificates if c.section == "CA Certificate (Rollover)")
    cur = next(c for c in certs.certificates if c.section == "CA Certificate")
    assert roll.start is not None and roll.end is not None
    assert roll.start == cur.end and roll.end - roll.start == timedelta(days=1095)
    assert "CA#" in ca.send_command("show crypto key mypubkey rsa")
    assert ca.send_command("crypto pki server CA rollover cancel").strip() == ""
    assert "Rollover status" not in ca.send_command("show crypto pki server CA")
    assert "CA#" not in ca.send_command("show crypto key mypubkey rsa")


def test_show_in_cs_server_mode_lists_effective_settings(plab: Any, ca: Any) -> None:
    ca.config_mode()
    ask(ca, "crypto pki server CA", r"\(cs-server\)#")
    out = ask(ca, "show", r"\(cs-server\)#")
    ca.exit_config_mode()
    for line in (" database level complete", " no database archive", " issuer-name CN=CA", " lifetime crl 6",
                 " lifetime certificate 365", " lifetime ca-certificate 1095", " lifetime enrollment-request 168"):
        assert line + "\n" in out.replace("\r", "") + "\n", line


def test_ca_router_reload_keeps_the_ca_and_its_database(plab: Any, ca: Any) -> None:
    before = ca.send_command("show crypto pki server CA")
    fp = re.search(r"CA cert fingerprint: (.*)", before)
    last = re.search(r"Last certificate issued serial number \(hex\): (\w+)", before)
    assert fp and last
    ca.save_config()
    reload_router(ca)
    time.sleep(1.0)
    conn = None
    for _ in range(60):
        try:
            conn = connect(plab, "ca1")
            break
        except Exception:
            time.sleep(0.5)
    assert conn is not None
    after = conn.send_command("show crypto pki server CA")
    assert "%SYS-5-RESTART" in conn.send_command("show logging")
    assert fp.group(0) in after and last.group(0) in after and "Status: enabled" in after
    assert "CS CERT EXPIRE" in conn.send_command("show crypto pki timers detail")
    # it still serves SCEP: a new client enrolls (grant auto for this one)
    conn.send_config_set(["crypto pki server CA", "grant auto"])
    r3 = connect(plab, "r3")
    r3.send_config_set(["ntp server 127.0.0.1", "crypto pki trustpoint AFTER",
                        f"enrollment url http://{plab.hosts['ca1'].address}:80", "password 0 x-chal-2",
                        "serial-number none", "ip-address none", "auto-enroll 70", "rsakeypair AK 1024"])
    r3.config_mode()
    ask(r3, "crypto pki authenticate AFTER", r"\[yes/no\]: ")
    ask(r3, "yes", r"\(config\)#")
    r3.exit_config_mode()
    certs = parse("show crypto pki certificates", r3.send_command("show crypto pki certificates AFTER"), "iosxe")
    ident = next(c for c in certs.certificates if c.section == "Certificate")
    assert ident.serial is not None and int(ident.serial, 16) == int(last.group(1), 16) + 1
    r3.disconnect()
    conn.disconnect()


def test_bad_input_is_refused_with_an_ios_error(plab: Any) -> None:
    ca = connect(plab, "ca1")
    out = ca.send_config_set(["crypto pki server CA", "lifetime certificate abc"])
    assert "% Invalid" in out
    out = ca.send_config_set(["crypto pki trustpoint TYPO", "enrolment-url http://127.0.0.1"])
    assert "% Invalid input detected" in out
    assert "enrolment-url" not in ca.send_command("show running-config")
    out = ca.send_command("crypto pki server NOPE grant all")
    assert "is not known" in out
    ca.disconnect()


def test_keys_generate_zeroize_and_no_trustpoint(plab: Any, ca: Any) -> None:
    r3 = connect(plab, "r3")
    r3.config_mode()
    out = ask(r3, "crypto key generate rsa general-keys label K1 modulus 1024", r"\(config\)#")
    assert "% The key modulus size is 1024 bits" in out
    assert "% Generating 1024 bit RSA keys, keys will be non-exportable..." in out and "[OK]" in out
    out = ask(r3, "crypto key generate rsa label K1", r"\[yes/no\]: ")
    assert "% You already have RSA keys defined named K1." in out
    ask(r3, "no", r"\(config\)#")
    out = ask(r3, "crypto key generate rsa label K2", r"\[2048\]: ")
    assert "Choose the size of the key modulus in the range of 512 to 4096" in out
    ask(r3, "1024", r"\(config\)#")
    r3.exit_config_mode()
    keys = parse("show crypto key mypubkey rsa", r3.send_command("show crypto key mypubkey rsa"), "iosxe")
    names = {k.name: k for k in keys.keys}
    assert {"K1", "K2"} <= set(names)
    assert "Key type: RSA KEYS      1024 bits" in r3.send_command("show crypto key mypubkey rsa K1")
    r3.config_mode()
    out = ask(r3, "crypto key zeroize rsa K2", r"\[yes/no\]: ")
    assert "% Keys to be removed are named 'K2'." in out
    ask(r3, "yes", r"\(config\)#")
    r3.exit_config_mode()
    assert "K2" not in r3.send_command("show crypto key mypubkey rsa")
    # a trustpoint that holds a CA certificate asks before it goes, and takes its chain with it
    addr = plab.hosts["ca1"].address
    r3.send_config_set(["crypto pki trustpoint GONE", f"enrollment url http://{addr}:80"])
    r3.config_mode()
    ask(r3, "crypto pki authenticate GONE", r"\[yes/no\]: ")
    ask(r3, "yes", r"\(config\)#")
    assert "crypto pki certificate chain GONE" in r3.send_command("do show running-config")
    out = ask(r3, "no crypto pki trustpoint GONE", r"\[yes/no\]: ")
    assert "Are you sure you want to do this? [yes/no]: " in out
    ask(r3, "yes", r"\(config\)#")
    r3.exit_config_mode()
    run = r3.send_command("show running-config")
    assert "crypto pki trustpoint GONE" not in run and "crypto pki certificate chain GONE" not in run
    r3.disconnect()


def test_c1_renew_waits_for_ntp_then_fires(plab: Any) -> None:
    """Rule C1 through the lab: with NTP unreachable the RENEW time passes without a renewal; as soon as NTP is
    back (the clock is authoritative again) the overdue RENEW runs."""
    r3 = connect(plab, "r3")
    before = parse("show crypto pki certificates", r3.send_command("show crypto pki certificates AFTER"), "iosxe")
    ident = next(c for c in before.certificates if c.section == "Certificate")
    assert ident.renew is not None
    plab.fault("r3", "ntp-unreachable", True)
    now = datetime.fromisoformat(plab.clock_now().replace("Z", "+00:00")).replace(tzinfo=None)
    assert ident.renew is not None
    plab.clock_advance(f"{int((ident.renew - now).total_seconds()) + 86400}s")  # one day past RENEW
    mid = parse("show crypto pki certificates", r3.send_command("show crypto pki certificates AFTER"), "iosxe")
    assert next(c for c in mid.certificates if c.section == "Certificate").serial == ident.serial
    assert "%PKI-2-NON_AUTHORITATIVE_CLOCK" in r3.send_command("show logging")
    plab.fault("r3", "ntp-unreachable", False)
    back = datetime.fromisoformat(plab.clock_now().replace("Z", "+00:00")).replace(tzinfo=None)
    after = parse("show crypto pki certificates", r3.send_command("show crypto pki certificates AFTER"), "iosxe")
    new = next(c for c in after.certificates if c.section == "Certificate")
    assert new.serial != ident.serial and new.start is not None
    assert abs((new.start - back).total_seconds()) < 30  # renewed when the clock became authoritative
    logs = r3.send_command("show logging")
    assert "%PKI-6-AUTHORITATIVE_CLOCK: The system clock has been set." in logs
    # IOS-XE logs the fingerprints of the renewal request it sent
    assert re.search(r"%PKI-6-CSR_FINGERPRINT:\s*\n\s+CSR Fingerprint MD5 : [0-9A-F]{32}\s*\n"
                     r"\s+CSR Fingerprint SHA1: [0-9A-F]{40}", logs), logs[-2000:]
    r3.disconnect()
