"""A small in-memory CA implementing :class:`ScepBackend`, for tests, the benchmark and interop runs.

It is not the emulated IOS certificate server (that lives in the PKI engine); it issues real certificates
with simple policies: grant automatically, keep requests pending until ``grant()``, or reject.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iospki.lab.scep.messages import FailInfo, MessageType
from iospki.lab.scep.server import IOS_CS_CAPS, EnrollmentDecision, EnrollmentRequest


def make_ca(
    name: str,
    key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    days: int,
    signer: rsa.RSAPrivateKey | None = None,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(signer or key, hashes.SHA256())
    )


@dataclass
class _Pending:
    request: EnrollmentRequest
    granted: bool = False


@dataclass
class MemoryCa:
    """``mode``: "auto" (grant), "manual" (PENDING until grant()), "reject" (FAILURE badRequest)."""

    name: str = "LAB-CA"
    mode: str = "auto"
    challenge: str | None = field(default=None, repr=False)
    cert_days: int = 365
    key_size: int = 2048
    clock: dt.datetime | None = None  # fixed lab time; None = wall clock
    is_enabled: bool = True
    advertised: list[str] = field(default_factory=lambda: list(IOS_CS_CAPS))

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(65537, self.key_size)
        self.cert = make_ca(self.name, self.key, self.now() - dt.timedelta(minutes=5), 1095)
        self.next_key: rsa.RSAPrivateKey | None = None
        self.next_cert: x509.Certificate | None = None
        self.issued: dict[int, x509.Certificate] = {}
        self.by_transaction: dict[str, x509.Certificate] = {}
        self.pending: dict[str, _Pending] = {}
        self.requests: list[EnrollmentRequest] = []
        self._serial = 1

    # --- policy knobs used by tests ----------------------------------------------------------------------

    def generate_rollover(self) -> x509.Certificate:
        self.next_key = rsa.generate_private_key(65537, self.key_size)
        self.next_cert = make_ca(self.name, self.next_key, self.cert.not_valid_after_utc, 1095)
        return self.next_cert

    def grant(self, transaction_id: str) -> None:
        self.pending[transaction_id].granted = True

    # --- ScepBackend ---------------------------------------------------------------------------------------

    def ca_certificate(self) -> x509.Certificate:
        return self.cert

    def ca_private_key(self) -> rsa.RSAPrivateKey:
        return self.key

    def next_ca_certificate(self) -> x509.Certificate | None:
        return self.next_cert

    def next_ca_private_key(self) -> rsa.RSAPrivateKey | None:
        return self.next_key

    def caps(self) -> list[str]:
        return list(self.advertised)

    def enabled(self) -> tuple[bool, str]:
        return (True, "") if self.is_enabled else (False, "certificate server is shut down")

    def now(self) -> dt.datetime:
        return self.clock or dt.datetime.now(dt.timezone.utc)

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentDecision:
        self.requests.append(request)
        renewal = request.message_type == MessageType.RENEWAL_REQ and request.signer_issued_by_ca
        if self.challenge is not None and not renewal:
            given = request.challenge_password or ""
            if not hmac.compare_digest(given.encode(), self.challenge.encode()):
                return EnrollmentDecision.failure(FailInfo.BAD_REQUEST, "challenge password mismatch")
        if self.mode == "reject":
            return EnrollmentDecision.failure(FailInfo.BAD_REQUEST, "request rejected by policy")
        if self.mode == "manual":
            self.pending[request.transaction_id] = _Pending(request)
            return EnrollmentDecision.pending()
        return EnrollmentDecision.success(self._issue(request))

    async def poll(self, transaction_id: str, issuer: x509.Name, subject: x509.Name) -> EnrollmentDecision:
        done = self.by_transaction.get(transaction_id)
        if done is not None:
            return EnrollmentDecision.success(done)
        p = self.pending.get(transaction_id)
        if p is None or p.request.csr.subject != subject:
            return EnrollmentDecision.failure(FailInfo.BAD_CERT_ID, "unknown transaction")
        if not p.granted:
            return EnrollmentDecision.pending()
        del self.pending[transaction_id]
        return EnrollmentDecision.success(self._issue(p.request))

    def find_certificate(self, issuer: x509.Name, serial: int) -> x509.Certificate | None:
        cert = self.issued.get(serial)
        return cert if cert is not None and cert.issuer == issuer else None

    def crl(self) -> x509.CertificateRevocationList | None:
        now = self.now()
        return (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(hours=6))
            .sign(self.key, hashes.SHA256())
        )

    # --- issuing -------------------------------------------------------------------------------------------

    def _issue(self, request: EnrollmentRequest) -> x509.Certificate:
        rollover = request.for_rollover_ca and self.next_cert is not None and self.next_key is not None
        ca_cert, ca_key = (self.next_cert, self.next_key) if rollover else (self.cert, self.key)
        assert ca_cert is not None and ca_key is not None
        self._serial += 1
        start = max(self.now(), ca_cert.not_valid_before_utc)
        end = min(start + dt.timedelta(days=self.cert_days), ca_cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(request.csr.public_key())
            .serial_number(self._serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        try:
            san = request.csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            builder = builder.add_extension(san.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        cert = builder.sign(ca_key, hashes.SHA256())
        self.issued[cert.serial_number] = cert
        self.by_transaction[request.transaction_id] = cert
        return cert
