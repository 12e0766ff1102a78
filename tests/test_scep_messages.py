"""SCEP message layer: real keys, real CMS; `openssl cms` as an independent oracle."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from iospki.lab.scep import messages as m
from iospki.lab.scep.memory_ca import make_ca

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
OPENSSL = shutil.which("openssl")

CaPair = tuple[x509.Certificate, rsa.RSAPrivateKey]
ClientTriple = tuple[x509.Certificate, rsa.RSAPrivateKey, x509.CertificateSigningRequest]


@pytest.fixture(scope="module")
def ca() -> CaPair:
    key = rsa.generate_private_key(65537, 2048)
    return make_ca("MSG-CA", key, NOW - dt.timedelta(minutes=1), 30), key


@pytest.fixture(scope="module")
def client() -> ClientTriple:
    key = rsa.generate_private_key(65537, 2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "lab"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "FTX1234A0BC"),
            x509.NameAttribute(x509.ObjectIdentifier("1.2.840.113549.1.9.2"), "r1.lab.example"),
        ]
    )
    signer = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"cisco123")
        .sign(key, hashes.SHA256())
    )
    return signer, key, csr


@pytest.mark.parametrize("cipher", ["des", "des3", "aes128", "aes192", "aes256"])
@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha512"])
def test_request_roundtrip_every_cipher_and_digest(ca: CaPair, client: ClientTriple, cipher: str, hash_name: str) -> None:
    ca_cert, ca_key = ca
    signer, key, csr = client
    env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca_cert, cipher)
    nonce = bytes(range(16))
    msg = m.build_pki_message(
        m.MessageType.PKCS_REQ,
        "ABCDEF0123456789ABCDEF0123456789",
        env,
        signer,
        key,
        hash_name,
        sender_nonce=nonce,
    )
    parsed = m.parse_pki_message(msg)
    assert parsed.message_type == m.MessageType.PKCS_REQ
    assert parsed.transaction_id == "ABCDEF0123456789ABCDEF0123456789"
    assert parsed.sender_nonce == nonce and parsed.recipient_nonce is None
    assert parsed.hash_name == hash_name
    assert parsed.verify() == signer
    opened = m.decrypt_envelope(parsed.content or b"", [(ca_cert, ca_key)])
    assert opened.cipher == cipher
    got = x509.load_der_x509_csr(opened.content)
    assert got == csr
    assert m.challenge_password(got) == "cisco123"


def test_tampered_signature_and_content_are_rejected(ca: CaPair, client: ClientTriple) -> None:
    ca_cert, _ = ca
    signer, key, csr = client
    env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca_cert, "des3")
    msg = m.build_pki_message(m.MessageType.PKCS_REQ, "T1", env, signer, key, "sha256")
    sig_flipped = bytearray(msg)
    sig_flipped[-3] ^= 0x01  # inside the RSA signature (last field)
    with pytest.raises(m.ScepError) as err:
        m.parse_pki_message(bytes(sig_flipped)).verify()
    assert err.value.fail_info == m.FailInfo.BAD_MESSAGE_CHECK
    # a content byte changed: messageDigest no longer matches
    content_flipped = bytearray(msg)
    pos = bytes(msg).index(env[-40:])
    content_flipped[pos] ^= 0x01
    with pytest.raises(m.ScepError, match="messageDigest"):
        m.parse_pki_message(bytes(content_flipped)).verify()
    # verified against a certificate that did not sign it
    with pytest.raises(m.ScepError):
        m.parse_pki_message(msg).verify(ca_cert)


def test_wrong_key_cannot_open_envelope(ca: CaPair, client: ClientTriple) -> None:
    ca_cert, _ = ca
    signer, key, csr = client
    env = m.encrypt_envelope(b"secret content", ca_cert, "aes128")
    with pytest.raises(m.ScepError) as err:
        m.decrypt_envelope(env, [(signer, key)])
    assert err.value.fail_info == m.FailInfo.BAD_MESSAGE_CHECK


def test_garbage_is_a_clear_bad_request() -> None:
    for junk in (b"", b"\x30\x03\x02\x01\x01", b"not asn1 at all"):
        with pytest.raises(m.ScepError) as err:
            m.parse_pki_message(junk)
        assert err.value.fail_info == m.FailInfo.BAD_REQUEST


def test_ber_constructed_encrypted_content_is_accepted(ca: CaPair) -> None:
    """Go's pkcs7 (micromdm) sends encryptedContent as a constructed [0] of OCTET STRING chunks."""
    ca_cert, ca_key = ca
    der = m.encrypt_envelope(b"hello scep " * 20, ca_cert, "des")
    env = cms.ContentInfo.load(der)["content"]
    eci = env["encrypted_content_info"]
    ct = eci["encrypted_content"].native
    chunks = b"".join(core.OctetString(ct[i : i + 64]).dump() for i in range(0, len(ct), 64))
    # constructed, indefinite-length [0] followed by end-of-contents
    constructed = b"\xa0\x80" + chunks + b"\x00\x00"
    eci_contents = eci["content_type"].dump() + eci["content_encryption_algorithm"].dump() + constructed
    eci_der = b"\x30\x80" + eci_contents + b"\x00\x00"
    env_contents = env["version"].dump() + env["recipient_infos"].dump() + eci_der
    env_der = b"\x30\x80" + env_contents + b"\x00\x00"
    ci_der = b"\x30\x80" + cms.ContentInfo({"content_type": "enveloped_data"})["content_type"].dump()
    ci_der += b"\xa0\x80" + env_der + b"\x00\x00" + b"\x00\x00"
    opened = m.decrypt_envelope(ci_der, [(ca_cert, ca_key)])
    assert opened.content == b"hello scep " * 20 and opened.cipher == "des"


def test_degenerate_and_issuer_structures_roundtrip(ca: CaPair, client: ClientTriple) -> None:
    ca_cert, ca_key = ca
    signer, _, csr = client
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(hours=6))
        .sign(ca_key, hashes.SHA256())
    )
    certs, crls = m.decode_degenerate(m.encode_degenerate([ca_cert, signer], [crl]))
    assert set(certs) == {ca_cert, signer} and crls == [crl]
    issuer, subject = m.decode_issuer_and_subject(m.encode_issuer_and_subject(ca_cert.subject, csr.subject))
    assert issuer == ca_cert.subject and subject == csr.subject
    name, serial = m.decode_issuer_and_serial(m.encode_issuer_and_serial(ca_cert.subject, 0x1234))
    assert name == ca_cert.subject and serial == 0x1234
    signer_key = signer.public_key()
    assert isinstance(signer_key, rsa.RSAPublicKey)
    tid = m.transaction_id_for(signer_key)
    assert len(tid) == 32 and tid == tid.upper() and int(tid, 16) >= 0


@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
def test_openssl_verifies_our_message_and_decrypts_our_envelope(tmp_path: Path, ca: CaPair, client: ClientTriple) -> None:
    assert OPENSSL is not None  # skipped above without it
    ca_cert, ca_key = ca
    signer, key, csr = client
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ca.key").write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    csr_der = csr.public_bytes(serialization.Encoding.DER)
    for cipher in ("des3", "aes256"):
        env = m.encrypt_envelope(csr_der, ca_cert, cipher)
        msg = m.build_pki_message(m.MessageType.PKCS_REQ, "TID", env, signer, key, "sha256")
        (tmp_path / "msg.der").write_bytes(msg)
        out = subprocess.run(
            [
                OPENSSL,
                "cms",
                "-verify",
                "-noverify",
                "-inform",
                "DER",
                "-in",
                str(tmp_path / "msg.der"),
                "-out",
                str(tmp_path / "env.der"),
            ],
            capture_output=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr.decode()
        assert (tmp_path / "env.der").read_bytes() == env
        out = subprocess.run(
            [
                OPENSSL,
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                str(tmp_path / "env.der"),
                "-recip",
                str(tmp_path / "ca.pem"),
                "-inkey",
                str(tmp_path / "ca.key"),
                "-binary",
            ],
            capture_output=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr.decode()
        assert out.stdout == csr_der


@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
def test_we_decrypt_what_openssl_encrypts(tmp_path: Path, ca: CaPair) -> None:
    assert OPENSSL is not None  # skipped above without it
    ca_cert, ca_key = ca
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "data.bin").write_bytes(b"\x30\x03\x02\x01\x05" * 33)
    for flag, cipher in (("-des3", "des3"), ("-aes128", "aes128"), ("-aes256", "aes256")):
        out = subprocess.run(
            [
                OPENSSL,
                "cms",
                "-encrypt",
                "-binary",
                flag,
                "-outform",
                "DER",
                "-in",
                str(tmp_path / "data.bin"),
                str(tmp_path / "ca.pem"),
            ],
            capture_output=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr.decode()
        opened = m.decrypt_envelope(out.stdout, [(ca_cert, ca_key)])
        assert opened.cipher == cipher and opened.content == b"\x30\x03\x02\x01\x05" * 33


def test_mutated_messages_give_scep_errors_never_crashes(ca: CaPair, client: ClientTriple) -> None:
    """Every single-byte corruption of a real pkiMessage is either rejected with ScepError or (when the byte
    is not covered by the signature, e.g. inside the embedded signer certificate's unsigned parts) parsed."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    ca_cert, ca_key = ca
    signer, key, csr = client
    env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca_cert, "des3")
    msg = m.build_pki_message(m.MessageType.PKCS_REQ, "FUZZ", env, signer, key, "sha256")

    @settings(
        max_examples=int(os.environ.get("SCEP_FUZZ_EXAMPLES", "300")),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(pos=st.integers(0, len(msg) - 1), xor=st.integers(1, 255), cut=st.booleans())
    def check(pos: int, xor: int, cut: bool) -> None:
        data = msg[:pos] if cut else msg[:pos] + bytes([msg[pos] ^ xor]) + msg[pos + 1 :]
        try:
            parsed = m.parse_pki_message(data)
            parsed.verify()
            m.decrypt_envelope(parsed.content or b"", [(ca_cert, ca_key)])
        except m.ScepError:
            return

    check()
