"""The PKI engine on real SCEP: `CsBackend` (the certificate server behind `iospki.lab.scep.ScepServer`)
and `HttpScep` (a trustpoint's SCEP client over HTTP, from the router's own address)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from iospki.lab.scep import client as scep_client
from iospki.lab.scep.messages import FailInfo, MessageType, PkiStatus, ScepError
from iospki.lab.scep.server import IOS_CS_CAPS, EnrollmentDecision, EnrollmentRequest

from .ca import CertificateServer, Decision
from .transport import ClientResult, ScepUnavailable

_FAIL = {
    "badAlg": FailInfo.BAD_ALG,
    "badMessageCheck": FailInfo.BAD_MESSAGE_CHECK,
    "badRequest": FailInfo.BAD_REQUEST,
    "badTime": FailInfo.BAD_TIME,
    "badCertId": FailInfo.BAD_CERT_ID,
}
_FAIL_NAME = {v: k for k, v in _FAIL.items()}


def _decision(d: Decision, cs: CertificateServer) -> EnrollmentDecision:
    if d.status == "SUCCESS" and d.cert is not None:
        return EnrollmentDecision.success(d.cert, [d.issuer] if d.issuer is not None else [])
    if d.status == "PENDING":
        return EnrollmentDecision.pending()
    return EnrollmentDecision.failure(_FAIL.get(d.fail_info or "", FailInfo.BAD_REQUEST))


class CsBackend:
    """`ScepBackend` for one emulated IOS certificate server."""

    def __init__(self, cs: CertificateServer) -> None:
        self.cs = cs

    def ca_certificate(self) -> x509.Certificate:
        assert self.cs.ca_cert is not None
        return self.cs.ca_cert

    def ca_private_key(self) -> rsa.RSAPrivateKey:
        return self.cs.ca_key()

    def next_ca_certificate(self) -> x509.Certificate | None:
        return self.cs.rollover_cert

    def next_ca_private_key(self) -> rsa.RSAPrivateKey | None:
        return self.cs.rollover_key()

    def caps(self) -> list[str]:
        return list(IOS_CS_CAPS)

    def enabled(self) -> tuple[bool, str]:
        serving, reason = self.cs.status()
        return serving, ("" if serving else f"Certificate server {self.cs.name}: {reason}")

    def now(self) -> dt.datetime:
        return self.cs.now()

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentDecision:
        kind = "RenewalReq" if request.message_type == MessageType.RENEWAL_REQ else "PKCSReq"
        signer = None if request.signer_self_signed else request.signer_certificate
        d = self.cs.submit(request.csr, kind, request.transaction_id, signer, request.for_rollover_ca)
        return _decision(d, self.cs)

    async def poll(self, transaction_id: str, issuer: x509.Name, subject: x509.Name) -> EnrollmentDecision:
        return _decision(self.cs.poll(transaction_id), self.cs)

    def find_certificate(self, issuer: x509.Name, serial: int) -> x509.Certificate | None:
        return self.cs.certs.get(serial)

    def crl(self) -> x509.CertificateRevocationList | None:
        return self.cs.crl


class HttpScep:
    """`ScepClientApi` over real HTTP, bound to the router's own loopback address."""

    def __init__(self, source_address: str | None = None, timeout: float = 30.0) -> None:
        self.source_address = source_address
        self.timeout = timeout
        self._caps: dict[str, list[str]] = {}

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            local_addr=(self.source_address, 0) if self.source_address else None, force_close=True, limit=0
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": "Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)"},
        )

    async def _caps_for(self, url: str, session: aiohttp.ClientSession) -> list[str]:
        if url not in self._caps:
            self._caps[url] = await scep_client.get_ca_caps(url, session=session)
        return self._caps[url]

    async def get_ca_cert(self, url: str, tp: str) -> x509.Certificate:
        try:
            async with self._session() as s:
                return (await scep_client.get_ca_certs(url, label=tp, session=s)).ca
        except (scep_client.ScepHttpError, ScepError) as exc:
            raise ScepUnavailable(str(exc)) from None

    async def get_next_ca_cert(
        self, url: str, tp: str, current_ca: x509.Certificate
    ) -> x509.Certificate | None:
        try:
            async with self._session() as s:
                return await scep_client.get_next_ca_cert(url, current_ca, label=tp, session=s)
        except scep_client.ScepHttpError as exc:
            if exc.status is None:
                raise ScepUnavailable(str(exc)) from None
            return None  # the CA has no rollover certificate (HTTP error answer)
        except ScepError:
            return None

    @staticmethod
    def _result(res: scep_client.ClientResult) -> ClientResult:
        status = {PkiStatus.SUCCESS: "SUCCESS", PkiStatus.PENDING: "PENDING"}.get(res.status, "FAILURE")
        fail = _FAIL_NAME.get(res.fail_info) if res.fail_info is not None else None
        return ClientResult(status, res.certificate, fail)

    async def enroll(
        self,
        url: str,
        csr: x509.CertificateSigningRequest,
        key: rsa.RSAPrivateKey,
        signer_cert: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        recipient: x509.Certificate,
        message_type: str,
        transaction_id: str,
    ) -> ClientResult:
        mt = MessageType.RENEWAL_REQ if message_type == "RenewalReq" else MessageType.PKCS_REQ

        def call(s: aiohttp.ClientSession, caps: list[str]) -> Awaitable[scep_client.ClientResult]:
            return scep_client.enroll(
                url,
                csr,
                key,
                signer_cert,
                signer_key,
                recipient,
                message_type=mt,
                transaction_id=transaction_id,
                caps=caps,
                session=s,
            )

        return await self._operation(url, call)

    async def poll(
        self,
        url: str,
        key: rsa.RSAPrivateKey,
        signer_cert: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        recipient: x509.Certificate,
        transaction_id: str,
        subject: x509.Name,
    ) -> ClientResult:
        def call(s: aiohttp.ClientSession, caps: list[str]) -> Awaitable[scep_client.ClientResult]:
            return scep_client.poll(
                url,
                key,
                signer_cert,
                signer_key,
                recipient,
                recipient.subject,
                subject,
                transaction_id,
                caps=caps,
                session=s,
            )

        return await self._operation(url, call)

    async def _operation(
        self,
        url: str,
        call: Callable[[aiohttp.ClientSession, list[str]], Awaitable[scep_client.ClientResult]],
    ) -> ClientResult:
        """One PKIOperation with the CA's caps: no answer -> ScepUnavailable; an answer we cannot accept
        (bad signature, wrong nonce) -> FAILURE."""
        try:
            async with self._session() as s:
                res = await call(s, await self._caps_for(url, s))
        except scep_client.ScepHttpError as exc:
            raise ScepUnavailable(str(exc)) from None
        except ScepError as exc:
            return ClientResult("FAILURE", fail_info=f"bad answer: {exc}")
        return self._result(res)

    async def get_crl(
        self, url: str, signer_cert: x509.Certificate, signer_key: rsa.RSAPrivateKey, ca: x509.Certificate
    ) -> x509.CertificateRevocationList | None:
        """GetCRL over SCEP (IOS: "CDP Not Published - Retrieved via SCEP")."""
        try:
            async with self._session() as s:
                caps = await self._caps_for(url, s)
                res = await scep_client.get_crl(url, signer_cert, signer_key, ca, caps=caps, session=s)
        except scep_client.ScepHttpError as exc:
            raise ScepUnavailable(str(exc)) from None
        except ScepError:
            return None
        return res.crl
