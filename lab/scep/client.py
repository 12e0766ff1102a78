"""Async SCEP client for emulated IOS trustpoints (and for interop tests against other CAs).

All network I/O goes through aiohttp so a trustpoint never blocks the event loop its CA also runs on.
Pass a shared ``aiohttp.ClientSession`` to avoid one session per call.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iospki.lab.scep.messages import (
    FailInfo,
    MessageType,
    PkiStatus,
    ScepError,
    build_pki_message,
    decode_degenerate,
    decrypt_envelope,
    encode_issuer_and_serial,
    encode_issuer_and_subject,
    encrypt_envelope,
    parse_pki_message,
    transaction_id_for,
    verify_signed_content,
)

IOS_USER_AGENT = "Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)"
DEFAULT_TIMEOUT = 30.0


class ScepHttpError(Exception):
    """The SCEP server answered with an HTTP error or an unexpected content type, or was unreachable."""

    def __init__(self, url: str, status: int | None, detail: str) -> None:
        super().__init__(f"SCEP {url}: {('HTTP ' + str(status) + ': ') if status else ''}{detail}")
        self.url = url
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class CaCertificates:
    ca: x509.Certificate
    ra: x509.Certificate | None
    certificates: tuple[x509.Certificate, ...]
    content_type: str

    @property
    def recipient(self) -> x509.Certificate:
        """The certificate to encrypt requests for (the RA when there is one, as IOS does)."""
        return self.ra or self.ca


@dataclass(frozen=True)
class ClientResult:
    status: PkiStatus
    transaction_id: str
    certificate: x509.Certificate | None = None  # the issued certificate (matching the CSR key)
    certificates: tuple[x509.Certificate, ...] = ()  # everything in the CertRep's degenerate SignedData
    crl: x509.CertificateRevocationList | None = None
    fail_info: FailInfo | None = None
    fail_text: str | None = None
    http_method: str = "POST"


def scep_endpoint(url: str) -> str:
    """The URL IOS requests for an ``enrollment url``: the path gets ``/pkiclient.exe`` appended, a bare host
    becomes ``/cgi-bin/pkiclient.exe``; URLs already ending in ``pkiclient.exe`` or ``/scep`` are kept."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("pkiclient.exe") or path.endswith("/scep"):
        new_path = path
    elif not path:
        new_path = "/cgi-bin/pkiclient.exe"
    else:
        new_path = path + "/pkiclient.exe"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, new_path, "", ""))


@contextlib.asynccontextmanager
async def _session(
    session: aiohttp.ClientSession | None, timeout: float
) -> AsyncIterator[aiohttp.ClientSession]:
    if session is not None:
        yield session
        return
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), headers={"User-Agent": IOS_USER_AGENT}
    ) as s:
        yield s


async def _request(
    url: str,
    operation: str,
    *,
    message: str | None = None,
    body: bytes | None = None,
    session: aiohttp.ClientSession | None,
    timeout: float,
) -> tuple[str, bytes]:
    endpoint = scep_endpoint(url)
    query = f"operation={operation}"
    if message is not None:
        query += "&message=" + urllib.parse.quote(message, safe="")
    full = f"{endpoint}?{query}"
    try:
        async with _session(session, timeout) as s:
            if body is None:
                ctx = s.get(full, timeout=aiohttp.ClientTimeout(total=timeout))
            else:
                ctx = s.post(
                    full,
                    data=body,
                    headers={"Content-Type": "application/x-pki-message"},
                    timeout=aiohttp.ClientTimeout(total=timeout),
                )
            async with ctx as resp:
                data = await resp.read()
                ctype = resp.content_type
                if resp.status != 200:
                    text = data[:200].decode("utf-8", "replace").strip()
                    raise ScepHttpError(f"{endpoint}?operation={operation}", resp.status, text)
                return ctype, data
    except aiohttp.ClientError as exc:
        raise ScepHttpError(
            f"{endpoint}?operation={operation}", None, f"{type(exc).__name__}: {exc}"
        ) from exc
    except TimeoutError as exc:
        raise ScepHttpError(f"{endpoint}?operation={operation}", None, "timed out") from exc


async def get_ca_caps(
    url: str,
    *,
    label: str | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """GetCACaps keywords (empty list when the server returns an empty body)."""
    _, data = await _request(url, "GetCACaps", message=label, session=session, timeout=timeout)
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.issuer == cert.subject


async def get_ca_certs(
    url: str,
    *,
    label: str | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> CaCertificates:
    """GetCACert: the CA certificate, and the RA certificate when the server has one."""
    ctype, data = await _request(url, "GetCACert", message=label or "", session=session, timeout=timeout)
    endpoint = scep_endpoint(url)
    try:
        if ctype == "application/x-x509-ca-cert":
            cert = x509.load_der_x509_certificate(data)
            return CaCertificates(cert, None, (cert,), ctype)
        if ctype == "application/x-x509-ca-ra-cert":
            certs, _ = decode_degenerate(data)
            cas = [c for c in certs if _is_ca(c)]
            ras = [c for c in certs if not _is_ca(c)]
            if not cas:
                raise ScepHttpError(endpoint, 200, "GetCACert CA/RA answer holds no CA certificate")
            return CaCertificates(cas[0], ras[0] if ras else None, tuple(certs), ctype)
    except (ValueError, ScepError) as exc:
        raise ScepHttpError(endpoint, 200, f"GetCACert answer is not a certificate: {exc}") from exc
    raise ScepHttpError(endpoint, 200, f"GetCACert answered unexpected content type {ctype!r}")


async def get_next_ca_cert(
    url: str,
    current_ca: x509.Certificate,
    *,
    label: str | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> x509.Certificate:
    """GetNextCACert: the rollover CA certificate, after checking it is signed by ``current_ca``'s key.

    Raises ScepHttpError when the server has none (HTTP error), ScepError when the signature is bad."""
    ctype, data = await _request(url, "GetNextCACert", message=label or "", session=session, timeout=timeout)
    if ctype != "application/x-x509-next-ca-cert":
        raise ScepHttpError(scep_endpoint(url), 200, f"GetNextCACert answered content type {ctype!r}")
    content, _ = verify_signed_content(data, current_ca)
    if not content:
        raise ScepError("GetNextCACert answer carries no certificates", FailInfo.BAD_REQUEST)
    certs, _ = decode_degenerate(content)
    cas = [c for c in certs if _is_ca(c)] or certs
    if not cas:
        raise ScepError("GetNextCACert answer carries no certificates", FailInfo.BAD_REQUEST)
    return cas[0]


async def _pki_operation(
    url: str,
    message_type: MessageType,
    inner: bytes,
    *,
    transaction_id: str,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    recipient: x509.Certificate,
    decrypt_keys: Sequence[rsa.RSAPrivateKey],
    match_key: object | None,
    cipher: str,
    hash_name: str,
    method: str | None,
    caps: Sequence[str] | None,
    verify_with: Sequence[x509.Certificate] | None,
    session: aiohttp.ClientSession | None,
    timeout: float,
) -> ClientResult:
    async with _session(session, timeout) as s:
        if method is None:
            if caps is None:
                caps = await get_ca_caps(url, session=s, timeout=timeout)
            method = "POST" if ("POSTPKIOperation" in caps or "SCEPStandard" in caps) else "GET"
        nonce = os.urandom(16)
        envelope = encrypt_envelope(inner, recipient, cipher)
        message = build_pki_message(
            message_type, transaction_id, envelope, signer_cert, signer_key, hash_name, sender_nonce=nonce
        )
        if method.upper() == "POST":
            ctype, data = await _request(url, "PKIOperation", body=message, session=s, timeout=timeout)
        else:
            b64 = base64.b64encode(message).decode()
            ctype, data = await _request(url, "PKIOperation", message=b64, session=s, timeout=timeout)
    rep = parse_pki_message(data)
    if rep.message_type != MessageType.CERT_REP:
        raise ScepError(f"expected CertRep, got messageType {int(rep.message_type)}", FailInfo.BAD_REQUEST)
    trusted = list(verify_with) if verify_with else [recipient]
    embedded = rep.signer_certificate()
    candidates = [c for c in trusted if embedded is not None and c == embedded] or trusted
    last: ScepError | None = None
    for cert in candidates:
        try:
            rep.verify(cert)
            last = None
            break
        except ScepError as exc:
            last = exc
    if last is not None:
        raise ScepError(f"CertRep signature does not verify with the CA certificate: {last}")
    if rep.transaction_id != transaction_id:
        raise ScepError("CertRep transactionID does not match the request")
    if rep.recipient_nonce is not None and rep.recipient_nonce != nonce:
        raise ScepError("CertRep recipientNonce does not match our senderNonce")
    status = rep.pki_status
    if status is None:
        raise ScepError("CertRep has no pkiStatus", FailInfo.BAD_REQUEST)
    m = method.upper()
    if status == PkiStatus.FAILURE:
        return ClientResult(
            status, transaction_id, fail_info=rep.fail_info, fail_text=rep.fail_info_text, http_method=m
        )
    if status == PkiStatus.PENDING:
        return ClientResult(status, transaction_id, http_method=m)
    if not rep.content:
        raise ScepError("CertRep SUCCESS without pkcsPKIEnvelope", FailInfo.BAD_REQUEST)
    opened = decrypt_envelope(rep.content, [(signer_cert, k) for k in decrypt_keys])
    certs, crls = decode_degenerate(opened.content)
    issued = None
    if match_key is not None:
        want = _spki(match_key)
        issued = next((c for c in certs if _spki(c.public_key()) == want), None)
    if issued is None and certs:
        non_ca = [c for c in certs if not _is_ca(c)]
        issued = (non_ca or certs)[0]
    return ClientResult(
        status,
        transaction_id,
        certificate=issued,
        certificates=tuple(certs),
        crl=crls[0] if crls else None,
        http_method=m,
    )


def _spki(public_key: object) -> bytes:
    der: bytes = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


async def _keyed_operation(
    url: str,
    message_type: MessageType,
    content: bytes,
    transaction_id: str,
    key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    recipient: x509.Certificate,
    **options: Any,
) -> ClientResult:
    """A PKIOperation whose answer is for ``key`` (enrollment, renewal, poll): the issued certificate is matched
    to ``key`` and the envelope opened with the signer key (and ``key`` when it differs, for a renewal)."""
    return await _pki_operation(
        url,
        message_type,
        content,
        transaction_id=transaction_id,
        signer_cert=signer_cert,
        signer_key=signer_key,
        recipient=recipient,
        decrypt_keys=[signer_key] if signer_key is key else [signer_key, key],
        match_key=key.public_key(),
        **options,
    )


async def enroll(
    url: str,
    csr: x509.CertificateSigningRequest,
    key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    recipient_ca: x509.Certificate,
    *,
    message_type: MessageType = MessageType.PKCS_REQ,
    transaction_id: str | None = None,
    cipher: str = "des3",
    hash_name: str = "sha256",
    method: str | None = None,
    caps: Sequence[str] | None = None,
    verify_with: Sequence[x509.Certificate] | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ClientResult:
    """Send a PKCSReq (new enrollment, signed by a self-signed cert of ``key``) or a RenewalReq (signed by the
    current identity certificate) and return the CertRep's outcome.

    ``recipient_ca`` is the certificate the envelope is encrypted for (the CA, its RA, or the rollover CA for
    a shadow enrollment); the CertRep signature is checked against ``verify_with`` (default: recipient_ca).
    ``method`` None chooses POST when the caps (fetched if not given) advertise POSTPKIOperation, else GET.
    ``transaction_id`` defaults to 32 uppercase hex chars derived from the CSR key, as IOS sends.
    """
    return await _keyed_operation(
        url,
        message_type,
        csr.public_bytes(serialization.Encoding.DER),
        transaction_id or transaction_id_for(key.public_key()),
        key,
        signer_cert,
        signer_key,
        recipient_ca,
        cipher=cipher,
        hash_name=hash_name,
        method=method,
        caps=caps,
        verify_with=verify_with,
        session=session,
        timeout=timeout,
    )


async def poll(
    url: str,
    key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    recipient_ca: x509.Certificate,
    issuer: x509.Name,
    subject: x509.Name,
    transaction_id: str,
    *,
    cipher: str = "des3",
    hash_name: str = "sha256",
    method: str | None = None,
    caps: Sequence[str] | None = None,
    verify_with: Sequence[x509.Certificate] | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ClientResult:
    """CertPoll (GetCertInitial) for a PENDING transaction: same signer and transaction id as the request."""
    return await _keyed_operation(
        url,
        MessageType.CERT_POLL,
        encode_issuer_and_subject(issuer, subject),
        transaction_id,
        key,
        signer_cert,
        signer_key,
        recipient_ca,
        cipher=cipher,
        hash_name=hash_name,
        method=method,
        caps=caps,
        verify_with=verify_with,
        session=session,
        timeout=timeout,
    )


async def get_crl(
    url: str,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    ca: x509.Certificate,
    *,
    cipher: str = "des3",
    hash_name: str = "sha256",
    method: str | None = None,
    caps: Sequence[str] | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ClientResult:
    """GetCRL (IOS: "CDP Not Published - Retrieved via SCEP"); the CRL is in ``ClientResult.crl``."""
    return await _pki_operation(
        url,
        MessageType.GET_CRL,
        encode_issuer_and_serial(ca.issuer, ca.serial_number),
        transaction_id=transaction_id_for(signer_key.public_key()),
        signer_cert=signer_cert,
        signer_key=signer_key,
        recipient=ca,
        decrypt_keys=[signer_key],
        match_key=None,
        cipher=cipher,
        hash_name=hash_name,
        method=method,
        caps=caps,
        verify_with=None,
        session=session,
        timeout=timeout,
    )


def self_signed_signer(
    key: rsa.RSAPrivateKey, subject: x509.Name, not_before: datetime.datetime, days: int = 1
) -> x509.Certificate:
    """The temporary self-signed certificate a new client signs its PKCSReq with (IOS uses the CSR subject).

    ``not_before`` comes from the caller's (lab) clock."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before - datetime.timedelta(minutes=5))
        .not_valid_after(not_before + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


async def get_cert(
    url: str,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    ca: x509.Certificate,
    issuer: x509.Name,
    serial: int,
    *,
    cipher: str = "des3",
    hash_name: str = "sha256",
    method: str | None = None,
    caps: Sequence[str] | None = None,
    session: aiohttp.ClientSession | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ClientResult:
    """GetCert: an issued certificate by issuer and serial (``ClientResult.certificate``)."""
    res = await _pki_operation(
        url,
        MessageType.GET_CERT,
        encode_issuer_and_serial(issuer, serial),
        transaction_id=transaction_id_for(signer_key.public_key()) + f"-{serial:X}",
        signer_cert=signer_cert,
        signer_key=signer_key,
        recipient=ca,
        decrypt_keys=[signer_key],
        match_key=None,
        cipher=cipher,
        hash_name=hash_name,
        method=method,
        caps=caps,
        verify_with=None,
        session=session,
        timeout=timeout,
    )
    if res.certificate is None and res.certificates:
        wanted = next((c for c in res.certificates if c.serial_number == serial), None)
        return ClientResult(
            res.status, res.transaction_id, wanted, res.certificates, None, None, None, res.http_method
        )
    return res
