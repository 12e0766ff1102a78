"""Independent SCEP peers: micromdm scepclient and certmonger scep-submit against our server, and our client
against micromdm scepserver (run only inside its own network namespace: it binds every interface).

Run as a script (``python tests/test_scep_peers.py netns-driver URL``) this file is the client-side driver
that runs inside that namespace.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from iospki.lab.scep import FailInfo, MessageType, PkiStatus, ScepServer, client
from iospki.lab.scep import messages as m
from iospki.lab.scep.http import start_scep_site
from iospki.lab.scep.memory_ca import MemoryCa

REPO = Path(__file__).resolve().parents[1]
SCEPCLIENT = shutil.which("scepclient")
SCEPSERVER = shutil.which("scepserver")
SCEP_SUBMIT = next(
    (
        p
        for p in ("/usr/lib/certmonger/scep-submit", "/usr/libexec/certmonger/scep-submit")
        if os.path.exists(p)
    ),
    None,
)
UNSHARE = shutil.which("unshare")
PASSWORD = "peer-Challenge-3"

needs_scep = pytest.mark.skipif(
    SCEPCLIENT is None or SCEPSERVER is None,
    reason="micromdm scep not installed: apt-get install scep certmonger",
)
needs_certmonger = pytest.mark.skipif(
    SCEP_SUBMIT is None, reason="certmonger not installed: apt-get install scep certmonger"
)
pytestmark = pytest.mark.peers


async def _exec(*argv: str, timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a peer in its own process group; on timeout kill that group (only what we started)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise AssertionError(f"{os.path.basename(argv[0])} did not finish within {timeout:.0f} s") from None
    return proc.returncode or 0, out.decode("utf-8", "replace")


async def _scepclient(*args: str, timeout: float = 60) -> tuple[int, str]:
    assert SCEPCLIENT is not None
    return await _exec(SCEPCLIENT, *args, timeout=timeout)


def _serve(ca: MemoryCa, body: Any) -> Any:
    async def main() -> Any:
        server = ScepServer(ca)
        runner, port = await start_scep_site(server)
        try:
            return await body(f"http://127.0.0.1:{port}/cgi-bin/pkiclient.exe", server)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


@needs_scep
def test_micromdm_scepclient_enrolls_renews_and_is_refused(tmp_path: Path) -> None:
    ca = MemoryCa(challenge=PASSWORD)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    async def body(url: str, server: ScepServer) -> None:
        key = str(tmp_path / "a" / "k.pem")
        rc, out = await _scepclient(
            "-server-url", url, "-private-key", key, "-cn", "r1.lab", "-challenge", PASSWORD
        )
        assert rc == 0, out
        first = x509.load_pem_x509_certificate((tmp_path / "a" / "client.pem").read_bytes())
        first.verify_directly_issued_by(ca.cert)
        assert first.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "r1.lab"
        rec = server.history[-1]
        # what scepclient sends: single DES, SHA-1, POST (advertised POSTPKIOperation)
        assert (rec.message_type, rec.cipher, rec.hash_name, rec.http_method, rec.status) == (
            MessageType.PKCS_REQ,
            "des",
            "sha1",
            "POST",
            PkiStatus.SUCCESS,
        )
        # renewal: signed with the issued certificate and its key
        rc, out = await _scepclient(
            "-server-url",
            url,
            "-private-key",
            key,
            "-certificate",
            str(tmp_path / "a" / "client.pem"),
            "-cn",
            "r1.lab",
        )
        assert rc == 0, out
        renewed = x509.load_pem_x509_certificate((tmp_path / "a" / "client.pem").read_bytes())
        assert renewed.serial_number != first.serial_number
        assert server.history[-1].message_type == MessageType.RENEWAL_REQ
        assert ca.requests[-1].signer_issued_by_ca and ca.requests[-1].signer_certificate == first
        # wrong challenge password: CertRep FAILURE badRequest, exit 1
        rc, out = await _scepclient(
            "-server-url",
            url,
            "-private-key",
            str(tmp_path / "b" / "k.pem"),
            "-cn",
            "r2.lab",
            "-challenge",
            "not-the-password",
        )
        assert rc == 1 and "badRequest" in out, out
        assert not (tmp_path / "b" / "client.pem").exists()
        assert server.history[-1].fail_info == FailInfo.BAD_REQUEST

    _serve(ca, body)


@needs_scep
def test_micromdm_scepclient_pending_resend_then_granted(tmp_path: Path) -> None:
    """scepclient re-sends the same PKCSReq every 30 s after PENDING: one cycle (~31 s)."""
    ca = MemoryCa(mode="manual")

    async def body(url: str, server: ScepServer) -> None:
        task = asyncio.create_task(
            _scepclient(
                "-server-url", url, "-private-key", str(tmp_path / "k.pem"), "-cn", "slow.lab", timeout=75
            )
        )
        for _ in range(200):
            if ca.pending:
                break
            await asyncio.sleep(0.1)
        assert ca.pending, "scepclient never reached the server"
        assert server.history[-1].status == PkiStatus.PENDING
        ca.grant(next(iter(ca.pending)))
        rc, out = await task
        assert rc == 0, out
        cert = x509.load_pem_x509_certificate((tmp_path / "client.pem").read_bytes())
        cert.verify_directly_issued_by(ca.cert)
        assert [t.status for t in server.history] == [PkiStatus.PENDING, PkiStatus.SUCCESS]
        assert len(ca.requests) == 1  # the re-send was answered as a poll, not a second request

    _serve(ca, body)


def _client_pkcsreq(
    ca_cert: x509.Certificate, password: str
) -> tuple[bytes, rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(65537, 2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cm.lab")])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, password.encode())
        .sign(key, hashes.SHA256())
    )
    signer = client.self_signed_signer(key, subject, dt.datetime.now(dt.timezone.utc))
    env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca_cert, "des3")
    msg = m.build_pki_message(
        MessageType.PKCS_REQ, m.transaction_id_for(key.public_key()), env, signer, key, "sha256"
    )
    return msg, key, signer


def _pem_pkcs7(der: bytes) -> bytes:
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN PKCS7-----\n{lines}\n-----END PKCS7-----\n".encode()


@needs_certmonger
def test_certmonger_scep_submit_verifies_our_certrep(tmp_path: Path) -> None:
    """scep-submit sends our PKCSReq by GET and checks the CertRep signature with OpenSSL."""
    ca = MemoryCa(challenge=PASSWORD)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))

    async def submit(url: str, req: bytes) -> tuple[int, str]:
        (tmp_path / "req.pem").write_bytes(_pem_pkcs7(req))
        assert SCEP_SUBMIT is not None
        return await _exec(
            SCEP_SUBMIT,
            "-u",
            url,
            "-r",
            str(ca_pem),
            "-N",
            str(ca_pem),
            "-p",
            str(tmp_path / "req.pem"),
            timeout=60,
        )

    async def body(url: str, server: ScepServer) -> None:
        _, caps = await _exec(SCEP_SUBMIT or "", "-u", url, "-c", timeout=30)
        assert "POSTPKIOperation" in caps and "GetNextCACert" in caps
        msg, key, signer = _client_pkcsreq(ca.cert, PASSWORD)
        rc, out = await submit(url, msg)
        assert rc == 0, out
        assert server.history[-1].http_method == "GET" and server.history[-1].status == PkiStatus.SUCCESS
        # scep-submit prints the (still encrypted) pkcsPKIEnvelope; open it with the client key
        env_pem = out[out.index("-----BEGIN PKCS7-----") :]
        body_b64 = "".join(line for line in env_pem.splitlines() if line and not line.startswith("-----"))
        env_der = base64.b64decode(body_b64)
        opened = m.decrypt_envelope(env_der, [(signer, key)])
        certs, _ = m.decode_degenerate(opened.content)
        assert certs and certs[0].public_key() == key.public_key()
        certs[0].verify_directly_issued_by(ca.cert)
        # refused request: exit status 2
        bad, _, _ = _client_pkcsreq(ca.cert, "wrong-password")
        rc, out = await submit(url, bad)
        assert rc == 2, out

    _serve(ca, body)


DBUS_RUN = shutil.which("dbus-run-session")
CERTMONGER = shutil.which("certmonger")
GETCERT = shutil.which("getcert")


@pytest.mark.skipif(
    DBUS_RUN is None or CERTMONGER is None or GETCERT is None,
    reason="certmonger daemon not installed: apt-get install scep certmonger",
)
def test_certmonger_daemon_enrolls_and_is_rejected(tmp_path: Path) -> None:
    """The full certmonger daemon (own CSR, DES3 envelope, SHA-256, GET: the closest analogue to IOS)."""
    ca = MemoryCa(challenge=PASSWORD)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    dirs = {name: tmp_path / name for name in ("cas", "req", "local", "tmp", "conf", "out")}
    for d in dirs.values():
        d.mkdir()
    # without these certmonger run as root would write to /var/lib/certmonger
    env = dict(
        os.environ,
        CERTMONGER_CAS_DIR=str(dirs["cas"]),
        CERTMONGER_REQUESTS_DIR=str(dirs["req"]),
        CERTMONGER_LOCAL_CA_DIR=str(dirs["local"]),
        CERTMONGER_TMPDIR=str(dirs["tmp"]),
        CERTMONGER_CONFIG_DIR=str(dirs["conf"]),
        CM_PW=PASSWORD,
    )
    out = dirs["out"]

    async def body(url: str, server: ScepServer) -> None:
        script = textwrap.dedent(f"""
            {CERTMONGER} -s -n -d1 >{tmp_path}/certmonger.log 2>&1 &
            cm=$!
            sleep 1
            {GETCERT} add-scep-ca -s -c labscep -u {url} -N {ca_pem} -I {ca_pem}
            {GETCERT} request -s -c labscep -f {out}/good.crt -k {out}/good.key -N CN=cm1.lab -D cm1.lab \
                -L "$CM_PW" -w -v
            echo "good-rc=$?"
            {GETCERT} request -s -c labscep -f {out}/bad.crt -k {out}/bad.key -N CN=cm2.lab -L wrong-pw -w -v
            echo "bad-rc=$?"
            {GETCERT} list -s
            kill $cm
        """)
        _, text = await _exec(DBUS_RUN or "", "--", "sh", "-c", script, env=env, timeout=90)
        assert "good-rc=0" in text, text
        cert = x509.load_pem_x509_certificate((out / "good.crt").read_bytes())
        cert.verify_directly_issued_by(ca.cert)
        assert "CA_REJECTED" in text and not (out / "bad.crt").exists(), text
        good = next(t for t in server.history if t.status == PkiStatus.SUCCESS)
        assert (good.message_type, good.cipher, good.hash_name, good.http_method) == (
            MessageType.PKCS_REQ,
            "des3",
            "sha256",
            "GET",
        )
        assert server.history[-1].fail_info == FailInfo.BAD_REQUEST

    _serve(ca, body)


# --- our client against micromdm scepserver, inside a private network namespace ------------------------


async def _netns_driver(url: str) -> dict[str, Any]:
    """Runs INSIDE the namespace, next to scepserver. Prints a JSON summary the test asserts on."""
    out: dict[str, Any] = {}
    caps = await client.get_ca_caps(url)
    out["caps"] = caps
    cacs = await client.get_ca_certs(url)
    out["ca_subject"] = cacs.ca.subject.rfc4514_string()
    key = rsa.generate_private_key(65537, 2048)
    runs = [
        ("des3", "sha256", "POST"),
        ("aes128", "sha1", "GET"),
        ("aes256", "sha256", "POST"),
        ("des", "sha1", "POST"),
    ]
    issued: list[x509.Certificate] = []
    for i, (cipher, hash_name, method) in enumerate(runs):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ours{i}.lab")])
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, PASSWORD.encode())
            .sign(key, hashes.SHA256())
        )
        signer = client.self_signed_signer(key, subject, dt.datetime.now(dt.timezone.utc))
        res = await client.enroll(
            url,
            csr,
            key,
            signer,
            key,
            cacs.recipient,
            cipher=cipher,
            hash_name=hash_name,
            method=method,
            transaction_id=f"T{i}-{os.getpid()}",
        )
        ok = res.certificate is not None
        if res.certificate is not None:
            res.certificate.verify_directly_issued_by(cacs.ca)
            issued.append(res.certificate)
        out[f"enroll_{cipher}_{hash_name}_{method}"] = [res.status.name, ok]
    # renewal signed with the first issued certificate
    new_key = rsa.generate_private_key(65537, 2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(issued[0].subject)
        .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, PASSWORD.encode())
        .sign(new_key, hashes.SHA256())
    )
    ren = await client.enroll(
        url, csr, new_key, issued[0], key, cacs.recipient, message_type=MessageType.RENEWAL_REQ
    )
    out["renewal"] = [
        ren.status.name,
        ren.certificate is not None and ren.certificate.public_key() == new_key.public_key(),
    ]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "refused.lab")])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"wrong")
        .sign(key, hashes.SHA256())
    )
    signer = client.self_signed_signer(key, subject, dt.datetime.now(dt.timezone.utc))
    bad = await client.enroll(url, csr, key, signer, key, cacs.recipient)
    out["wrong_challenge"] = [bad.status.name, bad.fail_info.name if bad.fail_info is not None else None]
    try:
        await client.get_next_ca_cert(url, cacs.ca)
        out["next_ca"] = "answered"
    except client.ScepHttpError as exc:
        out["next_ca"] = exc.status
    return out


@needs_scep
@pytest.mark.skipif(
    UNSHARE is None or os.geteuid() != 0,
    reason="needs root and unshare for a private network namespace (scepserver binds all interfaces)",
)
def test_our_client_against_micromdm_scepserver_in_netns(tmp_path: Path) -> None:
    depot = tmp_path / "depot"
    script = textwrap.dedent(f"""
        set -e
        ip link set lo up
        {SCEPSERVER} ca -init -depot {depot} -keySize 2048 -organization "Peer CA" -years 2 >/dev/null 2>&1
        {SCEPSERVER} -depot {depot} -port 18080 -challenge "$SCEP_PW" -allowrenew 0 >{tmp_path}/server.log 2>&1 &
        srv=$!
        for i in $(seq 1 100); do
          if {sys.executable} -c "import socket; socket.create_connection(('127.0.0.1', 18080), 0.2)" 2>/dev/null;
          then break; fi; sleep 0.1
        done
        rc=0
        {sys.executable} {Path(__file__).resolve()} netns-driver http://127.0.0.1:18080/scep || rc=$?
        kill $srv
        exit $rc
    """)
    env = dict(os.environ, SCEP_PW=PASSWORD)
    # own process group, so a hang kills scepserver too (it lives only inside this namespace)
    proc = subprocess.Popen(
        [UNSHARE or "unshare", "-n", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("scepserver interop run did not finish within 120 s") from None
    assert proc.returncode == 0, stdout + stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert "POSTPKIOperation" in result["caps"]
    for k, v in result.items():
        if k.startswith("enroll_"):
            assert v == ["SUCCESS", True], (k, v)
    assert result["renewal"] == ["SUCCESS", True]
    assert result["wrong_challenge"] == ["FAILURE", "BAD_REQUEST"]
    assert result["next_ca"] == 500  # micromdm has no GetNextCACert
    index = (depot / "index.txt").read_text()
    for i in range(4):
        assert f"CN=ours{i}.lab" in index
    assert "refused.lab" not in index


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "netns-driver":
    print(json.dumps(asyncio.run(_netns_driver(sys.argv[2]))))
