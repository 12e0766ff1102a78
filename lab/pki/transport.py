"""How a trustpoint reaches its CA: the SCEP client calls it makes, as a small Protocol.

In the lab the implementation is `plugin.HttpScep` (real SCEP over HTTP via `iospki.lab.scep.client`);
`DirectScep` calls a `CertificateServer` in-process, for the pure lifecycle tests and the bench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from .ca import CertificateServer


class ScepUnavailable(Exception):
    """The CA did not answer (no HTTP server, refused, HTTP error)."""


@dataclass
class ClientResult:
    status: str  # SUCCESS | PENDING | FAILURE
    cert: x509.Certificate | None = None
    fail_info: str | None = None


class ScepClientApi(Protocol):
    async def get_ca_cert(self, url: str, tp: str) -> x509.Certificate: ...

    async def get_next_ca_cert(
        self, url: str, tp: str, current_ca: x509.Certificate
    ) -> x509.Certificate | None: ...

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
    ) -> ClientResult: ...

    async def poll(
        self,
        url: str,
        key: rsa.RSAPrivateKey,
        signer_cert: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        recipient: x509.Certificate,
        transaction_id: str,
        subject: x509.Name,
    ) -> ClientResult: ...


class CrlClientApi(Protocol):
    async def get_crl(
        self, url: str, signer_cert: x509.Certificate, signer_key: rsa.RSAPrivateKey, ca: x509.Certificate
    ) -> x509.CertificateRevocationList | None: ...


class DirectScep:
    """In-process 'transport': URL prefix -> CertificateServer. No HTTP; for pure tests and benches."""

    def __init__(self) -> None:
        self.servers: dict[str, CertificateServer] = {}

    def _cs(self, url: str) -> CertificateServer:
        for prefix, cs in self.servers.items():
            if url.startswith(prefix):
                serving, reason = cs.status()
                if not serving:
                    raise ScepUnavailable(f"HTTP 503 {reason}")
                return cs
        raise ScepUnavailable(f"no CA at {url}")

    async def get_ca_cert(self, url: str, tp: str) -> x509.Certificate:
        cs = self._cs(url)
        assert cs.ca_cert is not None
        return cs.ca_cert

    async def get_next_ca_cert(
        self, url: str, tp: str, current_ca: x509.Certificate
    ) -> x509.Certificate | None:
        return self._cs(url).rollover_cert

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
        cs = self._cs(url)
        rollover = cs.rollover_cert is not None and recipient == cs.rollover_cert
        d = cs.submit(csr, message_type, transaction_id, signer_cert, rollover)
        return ClientResult(d.status, d.cert, d.fail_info)

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
        d = self._cs(url).poll(transaction_id)
        return ClientResult(d.status, d.cert, d.fail_info)

    async def get_crl(
        self, url: str, signer_cert: x509.Certificate, signer_key: rsa.RSAPrivateKey, ca: x509.Certificate
    ) -> x509.CertificateRevocationList | None:
        return self._cs(url).crl
