"""An independent peer against an emulated IOS CA router: micromdm's `scepclient` (Debian package `scep`)
enrolls and renews against the certificate server of a lab router over its `ip http server`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from netmiko import ConnectHandler

from iospki.parsers import parse
from tests.netmiko_text import send_text

pytestmark = [pytest.mark.lab, pytest.mark.peers]
SCEPCLIENT = shutil.which("scepclient")


def _ca_cert(conn: Any) -> x509.Certificate:
    run = send_text(conn, "show running-config")
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
    listing = send_text(conn, "show crypto pki server CA certificates")
    assert len(re.findall(r"cn=peer1\.lab", listing)) == 2, listing
    conn.disconnect()


SCEPSERVER = shutil.which("scepserver")
UNSHARE = shutil.which("unshare")

# Runs inside a private network namespace: micromdm's scepserver binds every interface, so it never runs outside
# one. The lab (SSH routers) starts in the same namespace; a router enrolls with scepserver as a third-party CA.



@pytest.mark.skipif(SCEPSERVER is None, reason="micromdm scepserver missing: apt-get install scep")
@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0, reason="needs root and unshare for a network namespace")
def test_lab_router_enrolls_with_micromdm_scepserver_in_netns(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [str(UNSHARE), "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable, "-m", "tests.peers_inside"],
        capture_output=True, text=True, timeout=240, cwd=repo,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads(line[len("RESULT "):])
    assert "% Certificate request sent to Certificate Authority" in res["enroll"]
    certs = parse("show crypto pki certificates", res["certs"], "iosxe")
    sections = {c.section: c for c in certs.certificates}
    assert "Certificate" in sections and "CA Certificate" in sections, res["certs"]
    assert "Third Party CA" in (sections["CA Certificate"].issuer or "")
    ident = sections["Certificate"]
    assert ident.serial and "Third Party CA" in (ident.issuer or "")
    # scepserver's own record of what it issued: a valid entry with the serial the router shows
    assert re.search(rf"^V\t\S+\t\t{ident.serial}\t", res["index"], re.M), res["index"]
    assert "tp-challenge-1" not in res["log"]
