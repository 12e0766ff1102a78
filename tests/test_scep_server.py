"""Our SCEP client against our SCEP server through a real aiohttp HTTP server on 127.0.0.1.

The backend is MemoryCa (real keys, real certificates). Each test runs its own event loop.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from iospki.lab.scep import FailInfo, MessageType, PkiStatus, ScepError, ScepServer, client
from iospki.lab.scep import messages as m
from iospki.lab.scep.http import start_scep_site
from iospki.lab.scep.memory_ca import MemoryCa

NOW = dt.datetime.now(dt.timezone.utc)
PASSWORD = "lab-Challenge-7"


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(65537, 2048) for _ in range(4)]


def _csr(key: rsa.RSAPrivateKey, cn: str, password: str | None = PASSWORD) -> x509.CertificateSigningRequest:
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    if password is not None:
        b = b.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, password.encode())
    return b.sign(key, hashes.SHA256())


def _run(ca: MemoryCa, body: Callable[[str, ScepServer], Awaitable[Any]], **kw: Any) -> Any:
    async def main() -> Any:
        server = ScepServer(ca, **kw)
        runner, port = await start_scep_site(server)
        try:
            return await body(f"http://127.0.0.1:{port}", server)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


async def _new_enroll(
    url: str, ca: MemoryCa, key: rsa.RSAPrivateKey, cn: str, **kw: Any
) -> client.ClientResult:
    csr = _csr(key, cn, kw.pop("password", PASSWORD))
    signer = client.self_signed_signer(key, csr.subject, ca.now())
    return await client.enroll(url, csr, key, signer, key, ca.cert, **kw)


def test_caps_cacert_and_paths(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa(key_size=2048)

    async def body(url: str, server: ScepServer) -> None:
        caps = await client.get_ca_caps(url)
        assert {"GetNextCACert", "Renewal", "SHA-256", "DES3", "POSTPKIOperation"} <= set(caps)
        for path in ("/cgi-bin/pkiclient.exe", "/scep/scep/pkiclient.exe", "/scep"):
            certs = await client.get_ca_certs(url + path, label="TP1")
            assert certs.ca == ca.cert and certs.ra is None
            assert certs.content_type == "application/x-x509-ca-cert"
        async with aiohttp.ClientSession() as s:
            async with s.get(url + "/index.html?operation=GetCACert") as r:
                assert r.status == 404
            async with s.get(url + "/cgi-bin/pkiclient.exe?operation=Bogus") as r:
                assert r.status == 400 and "Bogus" in await r.text()
            async with s.post(url + "/cgi-bin/pkiclient.exe?operation=PKIOperation", data=b"\x30\x00") as r:
                assert r.status == 400 and "bad pkiMessage" in await r.text()

    _run(ca, body)


@pytest.mark.parametrize(
    ("cipher", "hash_name", "method"),
    [
        ("des3", "sha256", "GET"),
        ("des3", "sha1", "POST"),
        ("aes128", "sha256", "POST"),
        ("aes256", "sha512", "GET"),
        ("des", "sha1", "POST"),
    ],
)
def test_pkcsreq_success_each_cipher_digest_method(keys: list[rsa.RSAPrivateKey], cipher: str, hash_name: str, method: str) -> None:
    ca = MemoryCa(challenge=PASSWORD)

    async def body(url: str, server: ScepServer) -> None:
        res = await _new_enroll(url, ca, keys[0], "r1.lab", cipher=cipher, hash_name=hash_name, method=method)
        assert res.status == PkiStatus.SUCCESS, res
        assert res.certificate is not None
        res.certificate.verify_directly_issued_by(ca.cert)
        assert res.certificate.public_key() == keys[0].public_key()
        assert res.http_method == method
        last = server.history[-1]
        assert (last.message_type, last.cipher, last.hash_name, last.http_method) == (
            MessageType.PKCS_REQ,
            cipher,
            hash_name,
            method,
        )
        req = ca.requests[-1]
        assert (req.cipher, req.hash_name, req.signer_self_signed, req.for_rollover_ca) == (
            cipher,
            hash_name,
            True,
            False,
        )

    _run(ca, body)


def test_method_follows_caps(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa(challenge=PASSWORD)
    ca.advertised = ["Renewal", "SHA-1", "SHA-256", "DES3"]  # no POSTPKIOperation: IOS uses GET

    async def body(url: str, server: ScepServer) -> None:
        res = await _new_enroll(url, ca, keys[0], "get.lab")
        assert res.status == PkiStatus.SUCCESS and res.http_method == "GET"
        assert server.history[-1].http_method == "GET"

    _run(ca, body)


def test_bad_challenge_password_fails_without_leaking_it(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa(challenge=PASSWORD)

    async def body(url: str, server: ScepServer) -> None:
        res = await _new_enroll(url, ca, keys[1], "r2.lab", password="wrong-Secret-9")
        assert res.status == PkiStatus.FAILURE and res.fail_info == FailInfo.BAD_REQUEST
        missing = await _new_enroll(url, ca, keys[1], "r2.lab", password=None)
        assert missing.status == PkiStatus.FAILURE and missing.fail_info == FailInfo.BAD_REQUEST
        # the same transaction may be retried with the right password after a FAILURE
        ok = await _new_enroll(url, ca, keys[1], "r2.lab")
        assert ok.status == PkiStatus.SUCCESS
        for rec in server.history:
            assert "wrong-Secret-9" not in repr(rec) and PASSWORD not in repr(rec)
        assert PASSWORD not in repr(ca.requests[-1])
        assert "wrong-Secret-9" not in (res.fail_text or "")

    _run(ca, body)


def test_pending_then_certpoll_then_success(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa(mode="manual")

    async def body(url: str, server: ScepServer) -> None:
        key = keys[2]
        csr = _csr(key, "r3.lab")
        signer = client.self_signed_signer(key, csr.subject, ca.now())
        first = await client.enroll(url, csr, key, signer, key, ca.cert, cipher="des3")
        assert first.status == PkiStatus.PENDING and first.certificate is None
        tid = first.transaction_id
        again = await client.poll(url, key, signer, key, ca.cert, ca.cert.subject, csr.subject, tid)
        assert again.status == PkiStatus.PENDING
        # polling for a subject that does not belong to the transaction
        other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
        bad = await client.poll(url, key, signer, key, ca.cert, ca.cert.subject, other, tid)
        assert bad.status == PkiStatus.FAILURE and bad.fail_info == FailInfo.BAD_CERT_ID
        ca.grant(tid)
        done = await client.poll(url, key, signer, key, ca.cert, ca.cert.subject, csr.subject, tid)
        assert done.status == PkiStatus.SUCCESS and done.certificate is not None
        assert done.certificate.subject == csr.subject
        assert server.history[-1].message_type == MessageType.CERT_POLL
        # scepclient/certmonger style: re-send the same PKCSReq -> answered as a poll with the same cert
        resent = await client.enroll(url, csr, key, signer, key, ca.cert, transaction_id=tid)
        assert resent.status == PkiStatus.SUCCESS and resent.certificate == done.certificate
        assert len(ca.requests) == 1

    _run(ca, body)


def test_replayed_transaction_id_with_other_key_is_rejected(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()

    async def body(url: str, server: ScepServer) -> None:
        ok = await _new_enroll(url, ca, keys[0], "r1.lab", transaction_id="REPLAY-1")
        assert ok.status == PkiStatus.SUCCESS
        replay = await _new_enroll(url, ca, keys[3], "evil.lab", transaction_id="REPLAY-1")
        assert replay.status == PkiStatus.FAILURE and replay.fail_info == FailInfo.BAD_REQUEST
        assert "different key" in server.history[-1].detail
        assert len(ca.issued) == 1

    _run(ca, body)


def test_bad_signature_is_rejected_with_badmessagecheck(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()

    async def body(url: str, server: ScepServer) -> None:
        key = keys[0]
        csr = _csr(key, "r1.lab")
        signer = client.self_signed_signer(key, csr.subject, ca.now())
        env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca.cert, "des3")
        nonce = b"N" * 16
        msg = bytearray(
            m.build_pki_message(MessageType.PKCS_REQ, "SIG-1", env, signer, key, "sha256", sender_nonce=nonce)
        )
        msg[-2] ^= 0x40
        b64 = base64.b64encode(bytes(msg)).decode()
        # GET with the '+' of base64 left unescaped (arrives as a space) still decodes
        target = f"{url}/cgi-bin/pkiclient.exe?operation=PKIOperation&message={b64}"
        async with aiohttp.ClientSession() as s, s.get(target) as r:
            assert r.status == 200 and r.content_type == "application/x-pki-message"
            rep = m.parse_pki_message(await r.read())
        rep.verify(ca.cert)
        assert rep.pki_status == PkiStatus.FAILURE and rep.fail_info == FailInfo.BAD_MESSAGE_CHECK
        assert rep.recipient_nonce == nonce and rep.sender_nonce != nonce and rep.transaction_id == "SIG-1"
        assert not rep.content  # empty eContent, no pkcsPKIEnvelope
        assert not ca.requests and not ca.issued

    _run(ca, body)


def test_client_rejects_certrep_not_signed_by_expected_ca(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()
    impostor = MemoryCa(name="IMPOSTOR")

    async def body(url: str, server: ScepServer) -> None:
        with pytest.raises(ScepError, match="does not verify"):
            await _new_enroll(url, ca, keys[0], "r1.lab", verify_with=[impostor.cert])

    _run(ca, body)


def test_renewal_signed_by_identity_cert_and_expired_signer(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa(challenge=PASSWORD)

    async def body(url: str, server: ScepServer) -> None:
        first = await _new_enroll(url, ca, keys[0], "r1.lab")
        assert first.status == PkiStatus.SUCCESS and first.certificate is not None
        new_csr = _csr(keys[1], "r1.lab", password=None)  # regenerate: new key, signed with the old cert
        ren = await client.enroll(
            url, new_csr, keys[1], first.certificate, keys[0], ca.cert, message_type=MessageType.RENEWAL_REQ
        )
        assert ren.status == PkiStatus.SUCCESS and ren.certificate is not None
        assert ren.certificate.public_key() == keys[1].public_key()
        req = ca.requests[-1]
        assert (
            req.message_type == MessageType.RENEWAL_REQ
            and req.signer_issued_by_ca
            and not req.signer_self_signed
        )
        # the lab clock jumps past the old certificate's end: renewal signed by it is badTime
        ca.clock = first.certificate.not_valid_after_utc + dt.timedelta(days=1)
        late = await client.enroll(
            url,
            _csr(keys[2], "r1.lab", None),
            keys[2],
            first.certificate,
            keys[0],
            ca.cert,
            message_type=MessageType.RENEWAL_REQ,
        )
        assert late.status == PkiStatus.FAILURE and late.fail_info == FailInfo.BAD_TIME

    _run(ca, body)


def test_rollover_getnextcacert_and_shadow_enrollment(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()

    async def body(url: str, server: ScepServer) -> None:
        with pytest.raises(client.ScepHttpError) as err:
            await client.get_next_ca_cert(url, ca.cert)
        assert err.value.status == 404
        nxt = ca.generate_rollover()
        got = await client.get_next_ca_cert(url, ca.cert, label="TP")
        assert got == nxt
        # the answer must be signed by the CURRENT CA: a client holding another CA refuses it
        with pytest.raises(ScepError):
            await client.get_next_ca_cert(url, MemoryCa(name="OTHER").cert)
        ident = await _new_enroll(url, ca, keys[0], "r1.lab")
        assert ident.certificate is not None
        shadow = await client.enroll(
            url,
            _csr(keys[1], "r1.lab", None),
            keys[1],
            ident.certificate,
            keys[0],
            nxt,
            message_type=MessageType.RENEWAL_REQ,
        )
        assert shadow.status == PkiStatus.SUCCESS and shadow.certificate is not None
        shadow.certificate.verify_directly_issued_by(nxt)
        assert shadow.certificate.not_valid_before_utc >= ca.cert.not_valid_after_utc
        assert ca.requests[-1].for_rollover_ca

    _run(ca, body, next_ca_missing_status=404)


def test_disabled_server_answers_503(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()
    ca.is_enabled = False

    async def body(url: str, server: ScepServer) -> None:
        with pytest.raises(client.ScepHttpError) as err:
            await client.get_ca_certs(url)
        assert err.value.status == 503 and "shut down" in err.value.detail
        with pytest.raises(client.ScepHttpError):
            await _new_enroll(url, ca, keys[0], "r1.lab", method="POST")

    _run(ca, body)


def test_getcrl_and_getcert(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()

    async def body(url: str, server: ScepServer) -> None:
        ident = await _new_enroll(url, ca, keys[0], "r1.lab")
        assert ident.certificate is not None
        res = await client.get_crl(url, ident.certificate, keys[0], ca.cert)
        assert res.status == PkiStatus.SUCCESS and res.crl is not None
        assert res.crl.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
        assert server.history[-1].message_type == MessageType.GET_CRL
        got = await client.get_cert(
            url, ident.certificate, keys[0], ca.cert, ca.cert.subject, ident.certificate.serial_number
        )
        assert got.status == PkiStatus.SUCCESS and got.certificate == ident.certificate
        missing = await client.get_cert(url, ident.certificate, keys[0], ca.cert, ca.cert.subject, 0x7777)
        assert missing.status == PkiStatus.FAILURE and missing.fail_info == FailInfo.BAD_CERT_ID

    _run(ca, body)


def test_unsupported_envelope_cipher_is_badalg(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()

    async def body(url: str, server: ScepServer) -> None:
        key = keys[0]
        csr = _csr(key, "r1.lab")
        signer = client.self_signed_signer(key, csr.subject, ca.now())
        env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca.cert, "des3")
        des3_oid = bytes.fromhex("06082a864886f70d0307")  # 1.2.840.113549.3.7
        rc2_oid = bytes.fromhex("06082a864886f70d0302")  # 1.2.840.113549.3.2 (RC2-CBC): not accepted
        assert env.count(des3_oid) == 1
        msg = m.build_pki_message(MessageType.PKCS_REQ, "ALG-1", env.replace(des3_oid, rc2_oid), signer, key)
        async with aiohttp.ClientSession() as s, s.post(f"{url}/scep?operation=PKIOperation", data=msg) as r:
            rep = m.parse_pki_message(await r.read())
        rep.verify(ca.cert)
        assert rep.pki_status == PkiStatus.FAILURE and rep.fail_info == FailInfo.BAD_ALG
        assert not ca.requests

    _run(ca, body)


def test_registration_authority_answers_ca_ra_and_signs_certreps(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()
    ra_key = keys[3]
    ra_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LAB-RA")]))
        .issuer_name(ca.cert.subject)
        .public_key(ra_key.public_key())
        .serial_number(99)
        .not_valid_before(NOW - dt.timedelta(minutes=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )

    async def body(url: str, server: ScepServer) -> None:
        cacs = await client.get_ca_certs(url)
        assert cacs.content_type == "application/x-x509-ca-ra-cert"
        assert cacs.ca == ca.cert and cacs.ra == ra_cert and cacs.recipient == ra_cert
        csr = _csr(keys[0], "behind-ra.lab")
        signer = client.self_signed_signer(keys[0], csr.subject, ca.now())
        res = await client.enroll(url, csr, keys[0], signer, keys[0], cacs.recipient, verify_with=[ra_cert])
        assert res.status == PkiStatus.SUCCESS and res.certificate is not None
        res.certificate.verify_directly_issued_by(ca.cert)
        assert not ca.requests[-1].for_rollover_ca

    _run(ca, body, ra=(ra_cert, ra_key))


def test_corrupt_input_never_yields_an_internal_error(keys: list[rsa.RSAPrivateKey]) -> None:
    """Corrupt pkiMessages (and validly signed messages around corrupt envelopes) get a CertRep FAILURE or an
    HTTP 400, never a 500 or an exception."""
    import os

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    ca = MemoryCa()
    server = ScepServer(ca)
    key = keys[0]
    csr = _csr(key, "fuzz.lab")
    signer = client.self_signed_signer(key, csr.subject, ca.now())
    env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca.cert, "des3")
    msg = m.build_pki_message(MessageType.PKCS_REQ, "FZ", env, signer, key)

    @settings(
        max_examples=int(os.environ.get("SCEP_FUZZ_EXAMPLES", "150")),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(pos=st.integers(0, len(env) - 1), xor=st.integers(1, 255), outer=st.booleans())
    def check(pos: int, xor: int, outer: bool) -> None:
        if outer:
            p = pos % len(msg)
            data = msg[:p] + bytes([msg[p] ^ xor]) + msg[p + 1 :]
        else:
            bad_env = env[:pos] + bytes([env[pos] ^ xor]) + env[pos + 1 :]
            data = m.build_pki_message(MessageType.PKCS_REQ, f"FZ{pos}-{xor}", bad_env, signer, key)
        resp = asyncio.run(
            server.handle("POST", "/cgi-bin/pkiclient.exe", {"operation": "PKIOperation"}, data)
        )
        assert resp.status in (200, 400), resp.body[:200]

    check()


def test_post_with_base64_body_is_tolerated(keys: list[rsa.RSAPrivateKey]) -> None:
    ca = MemoryCa()

    async def body(url: str, server: ScepServer) -> None:
        key = keys[0]
        csr = _csr(key, "b64.lab")
        signer = client.self_signed_signer(key, csr.subject, ca.now())
        env = m.encrypt_envelope(csr.public_bytes(serialization.Encoding.DER), ca.cert, "aes128")
        msg = m.build_pki_message(MessageType.PKCS_REQ, "B64-1", env, signer, key)
        text = base64.encodebytes(msg)  # with line breaks, as some shell clients send it
        target = f"{url}/cgi-bin/pkiclient.exe?operation=PKIOperation"
        async with aiohttp.ClientSession() as s, s.post(target, data=text) as r:
            rep = m.parse_pki_message(await r.read())
        rep.verify(ca.cert)
        assert rep.pki_status == PkiStatus.SUCCESS and rep.transaction_id == "B64-1"

    _run(ca, body)
