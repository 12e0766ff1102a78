"""An independent peer against an emulated IOS CA router: micromdm's `scepclient` (Debian package `scep`)
enrolls and renews against the certificate server of a lab router over its `ip http server`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from netmiko import ConnectHandler

pytestmark = [pytest.mark.lab, pytest.mark.peers]
SCEPCLIENT = shutil.which("scepclient")


def _ca_cert(conn: Any) -> x509.Certificate:
    run = conn.send_command("show running-config")
    m = re.search(r"^crypto pki certificate chain CA\n certificate ca 01\n((?:  .*\n)*)", run, re.M)
    assert m, "no CA chain in the running config"
    hexs = "".join(line.strip() for line in m.group(1).splitlines() if line.strip() != "quit")
    return x509.load_der_x509_certificate(bytes.fromhex(hexs.replace(" ", "")))


@pytest.mark.skipif(SCEPCLIENT is None, reason="micromdm scepclient missing: apt-get install scep")
def test_micromdm_scepclient_enrolls_and_renews_with_a_lab_ca(make_lab: Any, tmp_path: Path) -> None:
    assert SCEPCLIENT is not None
    lab = make_lab(hosts=[("ca1", "csr1k")], start="2026-04-01T09:00:00Z")
    conn = ConnectHandler(**lab.hosts["ca1"].netmiko())
    conn.enable()
    conn.send_config_set(["ntp server 127.0.0.1", "ip http server", "crypto pki server CA", "grant auto",
                          "database archive pkcs12 password 0 peer-archive-pw", "no shutdown"])
    ca = _ca_cert(conn)
    url = f"http://{lab.hosts['ca1'].address}:80/cgi-bin/pkiclient.exe"
    key, cert = tmp_path / "k.pem", tmp_path / "client.pem"
    proc = subprocess.run([SCEPCLIENT, "-server-url", url, "-private-key", str(key), "-cn", "peer1.lab",
                           "-keySize", "2048"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = x509.load_pem_x509_certificate(cert.read_bytes())
    first.verify_directly_issued_by(ca)
    assert first.serial_number == 2
    # RenewalReq signed with the issued certificate
    proc = subprocess.run([SCEPCLIENT, "-server-url", url, "-private-key", str(key), "-certificate", str(cert),
                           "-cn", "peer1.lab"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    second = x509.load_pem_x509_certificate(cert.read_bytes())
    second.verify_directly_issued_by(ca)
    assert second.serial_number == 3
    listing = conn.send_command("show crypto pki server CA certificates")
    assert len(re.findall(r"cn=peer1\.lab", listing)) == 2, listing
    conn.disconnect()
