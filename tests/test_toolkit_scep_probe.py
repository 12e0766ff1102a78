"""The jump host's SCEP probe against a real HTTP server on loopback serving real certificates."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID

from iospki.operations import scep_probe


def _ca(name: str, start: datetime, days: int) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(subj)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


class _Server:
    def __init__(self) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self.ca, self.key = _ca("PROBECA", now, 730)
        self.next_ca, _ = _ca("PROBECA", now + timedelta(days=730), 730)
        self.other, self.other_key = _ca("EVIL", now, 10)
        self.rollover = True
        self.sign_with_other = False


@pytest.fixture()
def scep_server() -> Iterator[tuple[str, _Server]]:
    state = _Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            u = urllib.parse.urlsplit(self.path)
            op = urllib.parse.parse_qs(u.query).get("operation", [""])[0]
            if u.path != "/cgi-bin/pkiclient.exe":
                self.send_error(404)
                return
            if op == "GetCACaps":
                body, ctype = b"GetNextCACert\nRenewal\nSHA-1\nSHA-256\nDES3\n", "text/plain"
            elif op == "GetCACert":
                body, ctype = state.ca.public_bytes(Encoding.DER), "application/x-x509-ca-cert"
            elif op == "GetNextCACert" and state.rollover:
                signer, key = (state.other, state.other_key) if state.sign_with_other else (state.ca, state.key)
                body = (
                    pkcs7.PKCS7SignatureBuilder()
                    .set_data(state.next_ca.public_bytes(Encoding.DER))
                    .add_signer(signer, key, hashes.SHA256())
                    .add_certificate(state.next_ca)
                    .sign(Encoding.DER, [])
                )
                ctype = "application/x-x509-next-ca-cert"
            else:
                self.send_error(404, "no rollover certificate")
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", state
    finally:
        srv.shutdown()
        srv.server_close()


def test_probe_reads_caps_ca_and_verified_next_ca(scep_server: tuple[str, _Server]) -> None:
    url, st = scep_server
    res = scep_probe.probe(url)
    assert "GetNextCACert" in res.caps and res.caps_error is None
    assert [c.sha1 for c in res.ca_certs] == [scep_probe.CertInfo.of(st.ca).sha1]
    assert res.ca_certs[0].subject == "CN=PROBECA"
    assert [c.serial for c in res.next_ca_certs] == ["1"], res.next_ca_error
    assert res.next_ca_certs[0].md5 == scep_probe.CertInfo.of(st.next_ca).md5
    assert res.next_ca_certs[0].not_before == st.ca.not_valid_after_utc.replace(tzinfo=None)
    assert res.next_ca_signature_ok is True


def test_next_ca_signed_by_someone_else_is_flagged(scep_server: tuple[str, _Server]) -> None:
    url, st = scep_server
    st.sign_with_other = True
    res = scep_probe.probe(url)
    assert res.next_ca_certs and res.next_ca_signature_ok is False


def test_no_rollover_yet_is_a_clear_error(scep_server: tuple[str, _Server]) -> None:
    url, st = scep_server
    st.rollover = False
    res = scep_probe.probe(url)
    assert res.next_ca_certs == [] and res.next_ca_error is not None
    assert "GetNextCACert: HTTP 404" in res.next_ca_error


def test_unreachable_and_bad_url() -> None:
    # port 9 on loopback: nothing listens there
    res = scep_probe.probe("http://127.0.0.1:9")
    assert res.caps_error and "cannot reach" in res.caps_error
    assert res.ca_error and res.next_ca_error
    with pytest.raises(scep_probe.ScepProbeError, match="not an http"):
        scep_probe.scep_url("ftp://x/")
