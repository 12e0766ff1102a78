"""SCEP server for an emulated IOS certificate server: HTTP semantics without an HTTP framework.

``ScepServer.handle(method, path, query, body)`` answers one HTTP request; the lab's per-router aiohttp
listener (or :func:`iospki.lab.scep.http.scep_app`) calls it. Every CA decision (grant, pend, reject, which
key signs) is delegated to a :class:`ScepBackend`, which the lab's PKI engine implements.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iospki.lab.scep.messages import (
    FailInfo,
    MessageType,
    PkiMessage,
    PkiStatus,
    ScepError,
    build_pki_message,
    challenge_password,
    decode_issuer_and_serial,
    decode_issuer_and_subject,
    decrypt_envelope,
    encode_degenerate,
    encrypt_envelope,
    parse_pki_message,
    public_key_fingerprint,
    sign_data,
    signed_by,
)

log = logging.getLogger("iospki.lab.scep")

# What an IOS-XE 17.x certificate server advertises (client log: "GET NEXT CA CERT, RENEWAL, SHA1, SHA256,
# SHA384, SHA512"), plus the ciphers it decrypts and POST, which micromdm's scepclient needs (its GET is broken).
IOS_CS_CAPS: tuple[str, ...] = (
    "GetNextCACert",
    "Renewal",
    "SHA-1",
    "SHA-256",
    "SHA-384",
    "SHA-512",
    "DES3",
    "AES",
    "POSTPKIOperation",
)

CT_CA_CERT = "application/x-x509-ca-cert"
CT_CA_RA_CERT = "application/x-x509-ca-ra-cert"
CT_NEXT_CA_CERT = "application/x-x509-next-ca-cert"
CT_PKI_MESSAGE = "application/x-pki-message"
CT_TEXT = "text/plain"


@dataclass(frozen=True)
class ScepHttpResponse:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class EnrollmentRequest:
    """A decrypted, signature-checked PKCSReq or RenewalReq, handed to the backend to decide."""

    message_type: MessageType  # PKCS_REQ or RENEWAL_REQ (UPDATE_REQ is mapped to RENEWAL_REQ)
    transaction_id: str
    csr: x509.CertificateSigningRequest
    challenge_password: str | None = field(repr=False)  # never logged
    signer_certificate: x509.Certificate  # self-signed for new clients, the identity cert for renewals
    signer_self_signed: bool
    signer_issued_by_ca: bool  # signer cert verifies under the current or the rollover CA key
    for_rollover_ca: bool  # the envelope was encrypted for the rollover (next) CA certificate
    cipher: str  # envelope cipher: des, des3, aes128, aes192, aes256
    hash_name: str  # signature digest: sha1, sha256, sha384, sha512 (md5 accepted)
    http_method: str  # GET or POST


@dataclass(frozen=True)
class EnrollmentDecision:
    """What the backend answers: SUCCESS (certificate [+ chain]), PENDING, or FAILURE (failInfo)."""

    status: PkiStatus
    certificate: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()
    fail_info: FailInfo | None = None
    fail_text: str | None = None  # goes into failInfoText; must not contain secrets
    crl: x509.CertificateRevocationList | None = None  # GetCRL answers only

    @classmethod
    def success(
        cls, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
    ) -> EnrollmentDecision:
        return cls(PkiStatus.SUCCESS, certificate=certificate, chain=tuple(chain))

    @classmethod
    def pending(cls) -> EnrollmentDecision:
        return cls(PkiStatus.PENDING)

    @classmethod
    def failure(
        cls, fail_info: FailInfo = FailInfo.BAD_REQUEST, text: str | None = None
    ) -> EnrollmentDecision:
        return cls(PkiStatus.FAILURE, fail_info=fail_info, fail_text=text)


class ScepBackend(Protocol):
    """What the emulated IOS certificate server provides to the SCEP layer."""

    def ca_certificate(self) -> x509.Certificate:
        """The current CA certificate (GetCACert; signs CertReps)."""
        ...

    def ca_private_key(self) -> rsa.RSAPrivateKey:
        """The current CA key: decrypts envelopes, signs CertReps and GetNextCACert responses."""
        ...

    def next_ca_certificate(self) -> x509.Certificate | None:
        """The rollover (shadow) CA certificate once generated, else None."""
        ...

    def next_ca_private_key(self) -> rsa.RSAPrivateKey | None:
        """The rollover CA key (envelopes encrypted for the rollover CA), else None."""
        ...

    def caps(self) -> list[str]:
        """GetCACaps keywords, e.g. list(IOS_CS_CAPS)."""
        ...

    def enabled(self) -> tuple[bool, str]:
        """(True, "") when serving; (False, reason) gives HTTP 503 with the reason as text."""
        ...

    def now(self) -> dt.datetime:
        """The lab clock (timezone-aware UTC): validity checks of renewal signer certificates."""
        ...

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentDecision:
        """Decide a new PKCSReq/RenewalReq (check challenge password, grant mode, rollover key ...)."""
        ...

    async def poll(self, transaction_id: str, issuer: x509.Name, subject: x509.Name) -> EnrollmentDecision:
        """CertPoll/GetCertInitial, or a re-sent PKCSReq with a known transaction id. Unknown id:
        return EnrollmentDecision.failure(FailInfo.BAD_CERT_ID)."""
        ...

    def find_certificate(self, issuer: x509.Name, serial: int) -> x509.Certificate | None:
        """GetCert: an issued certificate by issuer and serial, or None (-> FAILURE badCertId)."""
        ...

    def crl(self) -> x509.CertificateRevocationList | None:
        """GetCRL: the current CRL, or None (-> FAILURE badCertId)."""
        ...


@dataclass(frozen=True)
class ScepTransaction:
    """One answered PKIOperation, kept for tests and for the emulated `debug crypto pki server` output."""

    message_type: MessageType | None
    transaction_id: str | None
    http_method: str
    cipher: str | None
    hash_name: str | None
    status: PkiStatus | None
    fail_info: FailInfo | None
    detail: str  # why, when it failed (never secrets)


@dataclass
class _Seen:
    key_fingerprint: str
    status: PkiStatus
    message_type: MessageType
    signer: x509.Certificate


class ScepServer:
    """Answers SCEP HTTP requests for one emulated IOS certificate server.

    ``next_ca_missing_status`` is the HTTP status of GetNextCACert before a rollover CA exists (the IOS CS
    behaviour is unknown; EJBCA answers 403, OpenXPKI 404, micromdm 500). ``max_transactions`` bounds the
    replay table.
    """

    def __init__(
        self,
        backend: ScepBackend,
        *,
        next_ca_missing_status: int = 404,
        max_transactions: int = 100_000,
        history_size: int = 1000,
        ra: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    ) -> None:
        self.backend = backend
        self.ra = ra
        self.next_ca_missing_status = next_ca_missing_status
        self._max_transactions = max_transactions
        self._seen: collections.OrderedDict[str, _Seen] = collections.OrderedDict()
        self.history: collections.deque[ScepTransaction] = collections.deque(maxlen=history_size)

    # --- HTTP entry point ----------------------------------------------------------------------------------

    @staticmethod
    def is_scep_path(path: str) -> bool:
        p = path.rstrip("/")
        return p.endswith("pkiclient.exe") or p.endswith("/scep") or p == "/scep"

    async def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> ScepHttpResponse:
        """Answer one HTTP request. ``query`` holds the already percent-decoded query parameters."""
        method = method.upper()
        if not self.is_scep_path(path):
            return _text(404, f"not a SCEP path: {path}")
        operation = query.get("operation", "")
        if not operation:
            return _text(400, "missing operation parameter")
        try:
            ok, reason = self.backend.enabled()
            if not ok:
                return _text(503, reason or "certificate server disabled")
            if operation == "GetCACaps":
                return ScepHttpResponse(200, CT_TEXT, "\n".join(self.backend.caps()).encode())
            if operation == "GetCACert":
                return self._get_ca_cert()
            if operation == "GetNextCACert":
                return self._get_next_ca_cert()
            if operation == "PKIOperation":
                if method == "POST":
                    # binary DER per RFC 8894; tolerate clients that POST base64 text
                    message = body
                    if body[:1] != b"\x30":
                        message = _decode_message_param(body.decode("ascii", "replace")) or body
                elif method == "GET":
                    decoded = _decode_message_param(query.get("message", ""))
                    if decoded is None:
                        return _text(400, "PKIOperation message parameter is not base64")
                    message = decoded
                else:
                    return _text(405, f"method {method} not allowed for PKIOperation")
                return await self._pki_operation(message, method)
        except Exception as exc:  # a backend bug must not kill the router's HTTP listener
            log.exception("SCEP %s failed", operation)
            return _text(500, f"internal error in {operation}: {type(exc).__name__}")
        return _text(400, f"unknown operation {operation!r}")

    # --- GetCACert / GetNextCACert ------------------------------------------------------------------------

    def _get_ca_cert(self) -> ScepHttpResponse:
        ca = self.backend.ca_certificate()
        if self.ra is not None:
            return ScepHttpResponse(200, CT_CA_RA_CERT, encode_degenerate([ca, self.ra[0]]))
        return ScepHttpResponse(200, CT_CA_CERT, ca.public_bytes(serialization.Encoding.DER))

    def _get_next_ca_cert(self) -> ScepHttpResponse:
        nxt = self.backend.next_ca_certificate()
        if nxt is None:
            return _text(self.next_ca_missing_status, "no rollover CA certificate available")
        inner = encode_degenerate([nxt])
        # SignedData over the certs-only message, signed with the CURRENT CA key (RFC 8894 4.7.1)
        ca = self.backend.ca_certificate()
        body = sign_data(inner, ca, self.backend.ca_private_key(), "sha256", certificates=[ca])
        return ScepHttpResponse(200, CT_NEXT_CA_CERT, body)

    # --- PKIOperation ---------------------------------------------------------------------------------------

    def _record(
        self,
        msg: PkiMessage | None,
        method: str,
        cipher: str | None,
        status: PkiStatus | None,
        fail_info: FailInfo | None,
        detail: str,
    ) -> None:
        self.history.append(
            ScepTransaction(
                message_type=msg.message_type if msg else None,
                transaction_id=msg.transaction_id if msg else None,
                http_method=method,
                cipher=cipher,
                hash_name=msg.hash_name if msg else None,
                status=status,
                fail_info=fail_info,
                detail=detail,
            )
        )

    def _ca_pairs(self) -> list[tuple[x509.Certificate, rsa.RSAPrivateKey]]:
        """Keys that may open a request envelope: [CA, rollover CA (if any), RA (if any)]."""
        pairs = [(self.backend.ca_certificate(), self.backend.ca_private_key())]
        nc, nk = self.backend.next_ca_certificate(), self.backend.next_ca_private_key()
        if nc is not None and nk is not None:
            pairs.append((nc, nk))
        if self.ra is not None:
            pairs.append(self.ra)
        return pairs

    def _is_rollover(self, pairs: list[tuple[x509.Certificate, rsa.RSAPrivateKey]], index: int) -> bool:
        return index == 1 and (self.ra is None or len(pairs) == 3)

    async def _pki_operation(self, data: bytes, method: str) -> ScepHttpResponse:
        try:
            msg = parse_pki_message(data)
        except ScepError as exc:
            # no transaction id or nonce to answer with: an HTTP error is all we can give
            self._record(None, method, None, None, exc.fail_info, str(exc))
            return _text(400, f"bad pkiMessage: {exc}")
        pairs = self._ca_pairs()
        opened_cipher: str | None = None
        reply_pair = pairs[0]
        try:
            signer = msg.verify()
            if msg.content is None:
                raise ScepError("pkiMessage has no pkcsPKIEnvelope", FailInfo.BAD_REQUEST)
            opened = decrypt_envelope(msg.content, pairs)
            opened_cipher = opened.cipher
            reply_pair = pairs[opened.recipient_index]
            decision = await self._dispatch(
                msg,
                signer,
                opened.content,
                opened.cipher,
                method,
                self._is_rollover(pairs, opened.recipient_index),
            )
        except ScepError as exc:
            self._record(msg, method, opened_cipher, PkiStatus.FAILURE, exc.fail_info, str(exc))
            return self._cert_rep(
                msg, reply_pair, EnrollmentDecision.failure(exc.fail_info, str(exc)), opened_cipher or "des3"
            )
        self._record(
            msg, method, opened_cipher, decision.status, decision.fail_info, decision.fail_text or ""
        )
        return self._cert_rep(msg, reply_pair, decision, opened_cipher or "des3")

    async def _dispatch(
        self,
        msg: PkiMessage,
        signer: x509.Certificate,
        inner: bytes,
        cipher: str,
        method: str,
        rollover: bool,
    ) -> EnrollmentDecision:
        mt = msg.message_type
        if mt in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.UPDATE_REQ):
            return await self._enroll(msg, signer, inner, cipher, method, rollover)
        if mt == MessageType.CERT_POLL:
            issuer, subject = decode_issuer_and_subject(inner)
            return await self.backend.poll(msg.transaction_id, issuer, subject)
        if mt == MessageType.GET_CERT:
            issuer, serial = decode_issuer_and_serial(inner)
            cert = self.backend.find_certificate(issuer, serial)
            if cert is None:
                return EnrollmentDecision.failure(FailInfo.BAD_CERT_ID, "no such certificate")
            return EnrollmentDecision.success(cert)
        if mt == MessageType.GET_CRL:
            decode_issuer_and_serial(inner)
            crl = self.backend.crl()
            if crl is None:
                return EnrollmentDecision.failure(FailInfo.BAD_CERT_ID, "no CRL available")
            return EnrollmentDecision(PkiStatus.SUCCESS, crl=crl)
        raise ScepError(f"messageType {int(mt)} is not a request", FailInfo.BAD_REQUEST)

    async def _enroll(
        self,
        msg: PkiMessage,
        signer: x509.Certificate,
        inner: bytes,
        cipher: str,
        method: str,
        rollover: bool,
    ) -> EnrollmentDecision:
        csr = _load_csr(inner)
        self_signed = signed_by(signer, signer)
        issued_by_ca = any(signed_by(signer, c) for c, _ in self._ca_pairs()[:2])
        if not self_signed:
            now = self.backend.now()
            if now < signer.not_valid_before_utc or now > signer.not_valid_after_utc:
                raise ScepError("signer certificate is not valid at the CA's time", FailInfo.BAD_TIME)
        fingerprint = public_key_fingerprint(csr.public_key())
        seen = self._seen.get(msg.transaction_id)
        if seen is not None and seen.key_fingerprint != fingerprint:
            raise ScepError("transaction id already used with a different key", FailInfo.BAD_REQUEST)
        mt = MessageType.RENEWAL_REQ if msg.message_type == MessageType.UPDATE_REQ else msg.message_type
        resend = seen is not None and (
            seen.status == PkiStatus.PENDING
            or (seen.message_type == mt and seen.signer == signer)  # an exact re-send after SUCCESS
        )
        if resend:
            # clients (scepclient, certmonger) re-send the same PKCSReq instead of CertPoll
            issuer = self._ca_pairs()[1 if rollover else 0][0].subject
            decision = await self.backend.poll(msg.transaction_id, issuer, csr.subject)
        else:
            request = EnrollmentRequest(
                message_type=mt,
                transaction_id=msg.transaction_id,
                csr=csr,
                challenge_password=challenge_password(csr),
                signer_certificate=signer,
                signer_self_signed=self_signed,
                signer_issued_by_ca=issued_by_ca,
                for_rollover_ca=rollover,
                cipher=cipher,
                hash_name=msg.hash_name,
                http_method=method,
            )
            decision = await self.backend.enroll(request)
        self._remember(msg.transaction_id, _Seen(fingerprint, decision.status, mt, signer))
        return decision

    def _remember(self, transaction_id: str, seen: _Seen) -> None:
        if seen.status == PkiStatus.FAILURE:
            self._seen.pop(transaction_id, None)  # a failed attempt may be retried (e.g. a fixed password)
            return
        self._seen[transaction_id] = seen
        self._seen.move_to_end(transaction_id)
        while len(self._seen) > self._max_transactions:
            self._seen.popitem(last=False)

    def _cert_rep(
        self,
        msg: PkiMessage,
        pair: tuple[x509.Certificate, rsa.RSAPrivateKey],
        decision: EnrollmentDecision,
        cipher: str,
    ) -> ScepHttpResponse:
        ca_cert, ca_key = pair
        hash_name = msg.hash_name if msg.hash_name != "md5" else "sha1"
        # PENDING/FAILURE: an empty eContent rather than none, as OpenSSL-based clients (certmonger, sscep)
        # refuse to verify a SignedData without content; IOS accepts either.
        content: bytes = b""
        status = decision.status
        fail_info, fail_text = decision.fail_info, decision.fail_text
        if status == PkiStatus.SUCCESS:
            recipient = msg.signer_certificate()
            if decision.crl is not None:
                inner = encode_degenerate([], [decision.crl])
            else:
                assert decision.certificate is not None
                inner = encode_degenerate([decision.certificate, *decision.chain])
            if recipient is None:
                status, fail_info, fail_text = (
                    PkiStatus.FAILURE,
                    FailInfo.BAD_CERT_ID,
                    "no signer to encrypt to",
                )
            else:
                content = encrypt_envelope(inner, recipient, cipher)
        body = build_pki_message(
            MessageType.CERT_REP,
            msg.transaction_id,
            content,
            ca_cert,
            ca_key,
            hash_name,
            sender_nonce=os.urandom(16),
            recipient_nonce=msg.sender_nonce,
            pki_status=status,
            fail_info=fail_info if status == PkiStatus.FAILURE else None,
            fail_info_text=fail_text if status == PkiStatus.FAILURE else None,
            certificates=[ca_cert],
        )
        return ScepHttpResponse(200, CT_PKI_MESSAGE, body)


def _load_csr(der: bytes) -> x509.CertificateSigningRequest:
    """Parse and check a PKCS#10 request completely (cryptography parses lazily), as a ScepError on failure."""
    try:
        csr = x509.load_der_x509_csr(der)
        csr.subject.public_bytes()
        csr.public_key()
        list(csr.extensions)
        list(csr.attributes)
        challenge_password(csr)
        valid = csr.is_signature_valid
    except ValueError as exc:
        raise ScepError(
            f"envelope does not hold a usable PKCS#10 request: {exc}", FailInfo.BAD_REQUEST
        ) from exc
    except Exception as exc:  # unsupported key or signature algorithms
        raise ScepError(f"unsupported PKCS#10 request: {type(exc).__name__}", FailInfo.BAD_ALG) from exc
    if not valid:
        raise ScepError("PKCS#10 request signature is invalid", FailInfo.BAD_MESSAGE_CHECK)
    return csr


def _decode_message_param(value: str) -> bytes | None:
    """GET message=: std base64, possibly with '+' turned into ' ' by form decoding, line breaks, URL-safe
    alphabet (micromdm scepclient 2.1.0) or missing padding."""
    v = "".join(value.replace(" ", "+").split())
    v = v.replace("-", "+").replace("_", "/")
    v += "=" * (-len(v) % 4)
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return None


def _text(status: int, text: str) -> ScepHttpResponse:
    return ScepHttpResponse(status, CT_TEXT, text.encode())
