"""The jump host's own small SCEP GET client: GetCACaps, GetCACert, GetNextCACert, with fingerprints.

Independent of the lab (it must never import `iospki.lab`): it talks HTTP to whatever serves SCEP (an IOS CA
server, the lab twin, micromdm's scepserver) as RFC 8894 describes.

    >>> scep_url("http://127.10.0.1:8080")
    'http://127.10.0.1:8080/cgi-bin/pkiclient.exe'
    >>> scep_url("http://ca.example/scep")
    'http://ca.example/scep'
"""

from __future__ import annotations

import contextlib
import hashlib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

IOS_PATH = "/cgi-bin/pkiclient.exe"
_DER = Encoding.DER


class ScepProbeError(RuntimeError):
    """The URL does not answer SCEP as expected; the message says which operation and why."""


def scep_url(url: str) -> str:
    """The SCEP endpoint for `url`: a bare http://host[:port] gets IOS's /cgi-bin/pkiclient.exe."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ScepProbeError(f"{url!r} is not an http(s) URL")
    path = parts.path if parts.path not in ("", "/") else IOS_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass
class CertInfo:
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    md5: str
    sha1: str
    sha256: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertInfo:
        der = cert.public_bytes(encoding=_DER)
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "X"),
            not_before=cert.not_valid_before_utc.replace(tzinfo=None),
            not_after=cert.not_valid_after_utc.replace(tzinfo=None),
            md5=hashlib.md5(der).hexdigest().upper(),  # noqa: S324 - IOS shows MD5 fingerprints
            sha1=hashlib.sha1(der).hexdigest().upper(),  # noqa: S324
            sha256=hashlib.sha256(der).hexdigest().upper(),
        )


@dataclass
class ProbeResult:
    url: str
    caps: list[str] = field(default_factory=list)
    caps_error: str | None = None
    ca_certs: list[CertInfo] = field(default_factory=list)
    ca_error: str | None = None
    next_ca_certs: list[CertInfo] = field(default_factory=list)
    next_ca_signature_ok: bool | None = None
    next_ca_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)




def _get(url: str, operation: str, timeout: float) -> tuple[int, str, bytes]:
    q = urllib.parse.urlencode({"operation": operation, "message": "iospki"})
    req = urllib.request.Request(f"{url}?{q}", method="GET", headers={"User-Agent": "iospki-scep-probe"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) checked in scep_url
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()[:200].decode("utf-8", "replace").strip()
        raise ScepProbeError(f"{operation}: HTTP {exc.code} {exc.reason}{': ' + body if body else ''}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ScepProbeError(f"{operation}: cannot reach {url}: {reason}") from None


def get_ca_caps(url: str, timeout: float = 10.0) -> list[str]:
    _status, _ctype, body = _get(scep_url(url), "GetCACaps", timeout)
    return [ln.strip() for ln in body.decode("ascii", "replace").splitlines() if ln.strip()]


def _certs_from_pkcs7(body: bytes, operation: str) -> tuple[list[x509.Certificate], cms.SignedData]:
    try:
        ci = cms.ContentInfo.load(body)
        if ci["content_type"].native != "signed_data":
            raise ValueError(f"content type {ci['content_type'].native}")
        sd = ci["content"]
        certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"] or []]
    except Exception as exc:
        raise ScepProbeError(f"{operation}: response is not a PKCS#7 certificate bundle: {exc}") from None
    return certs, sd


def get_ca_certs(url: str, timeout: float = 10.0) -> list[x509.Certificate]:
    """GetCACert: the CA certificate (plus RA certificates for `x-x509-ca-ra-cert`)."""
    _status, ctype, body = _get(scep_url(url), "GetCACert", timeout)
    if "x-x509-ca-ra-cert" in ctype or body[:1] == b"\x30" and _looks_pkcs7(body):
        certs, _ = _certs_from_pkcs7(body, "GetCACert")
        return certs
    try:
        return [x509.load_der_x509_certificate(body)]
    except ValueError:
        try:
            return [x509.load_pem_x509_certificate(body)]
        except ValueError:
            raise ScepProbeError(f"GetCACert: response ({ctype or 'no content type'}) is not a certificate") from None


def _looks_pkcs7(body: bytes) -> bool:
    try:
        signed: bool = cms.ContentInfo.load(body)["content_type"].native == "signed_data"  # asn1crypto is untyped
        return signed
    except Exception:
        return False


def _verify_signed_data(sd: cms.SignedData, signer: x509.Certificate) -> bool:
    """True when one SignerInfo of `sd` is a valid signature by `signer`'s key."""
    pub = signer.public_key()
    for si in sd["signer_infos"]:
        algo = si["digest_algorithm"]["algorithm"].native
        h: hashes.HashAlgorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}.get(
            algo, hashes.SHA256()
        )
        signed_attrs = si["signed_attrs"]
        if signed_attrs is not None and len(signed_attrs):
            data = signed_attrs.untag().dump()  # the signature covers the attributes as a SET
            # the attributes' message digest must be that of the content
            content = sd["encap_content_info"]["content"]
            payload = content.contents if content is not None else b""
            digest = hashlib.new(h.name, payload).digest()
            md = [a["values"][0].native for a in signed_attrs if a["type"].native == "message_digest"]
            if md and md[0] != digest:
                continue
        else:
            content = sd["encap_content_info"]["content"]
            data = content.contents if content is not None else b""
        sig = si["signature"].native
        try:
            if isinstance(pub, rsa.RSAPublicKey):
                pub.verify(sig, data, padding.PKCS1v15(), h)
            elif isinstance(pub, ec.EllipticCurvePublicKey):
                pub.verify(sig, data, ec.ECDSA(h))
            else:
                continue
            return True
        except InvalidSignature:
            continue
    return False


def get_next_ca_cert(url: str, current_ca: x509.Certificate | None, timeout: float = 10.0) -> tuple[list[x509.Certificate], bool | None]:
    """GetNextCACert: the rollover CA certificate(s) and whether the bundle is signed by `current_ca`
    (None when no current CA was given to check against)."""
    _status, ctype, body = _get(scep_url(url), "GetNextCACert", timeout)
    certs, sd = _certs_from_pkcs7(body, "GetNextCACert")
    # RFC 8894 4.6.1: the signed content is itself a degenerate certs-only SignedData with the new CA
    # certificate(s); some servers put the certificate (DER) there, or in the outer certificates field.
    content = sd["encap_content_info"]["content"]
    inner = content.contents if content is not None else b""
    if inner:
        if _looks_pkcs7(inner):
            certs = _certs_from_pkcs7(inner, "GetNextCACert")[0] + certs
        else:
            with contextlib.suppress(ValueError):  # not a certificate either: use the outer ones
                certs = [x509.load_der_x509_certificate(inner), *certs]
    certs = list({c.fingerprint(hashes.SHA256()): c for c in certs}.values())
    if current_ca is not None:  # the signer's own certificate may travel along: it is not the next CA
        certs = [c for c in certs if c != current_ca]
    if not certs:
        raise ScepProbeError("GetNextCACert: the response holds no certificate")
    ok = _verify_signed_data(sd, current_ca) if current_ca is not None else None
    return certs, ok


def probe(url: str, timeout: float = 10.0) -> ProbeResult:
    """All three GET operations; each failure is recorded in the result, never raised."""
    res = ProbeResult(url=scep_url(url))
    try:
        res.caps = get_ca_caps(url, timeout)
    except ScepProbeError as exc:
        res.caps_error = str(exc)
    current: x509.Certificate | None = None
    try:
        certs = get_ca_certs(url, timeout)
        res.ca_certs = [CertInfo.of(c) for c in certs]
        current = next((c for c in certs if _is_ca(c)), certs[0] if certs else None)
    except ScepProbeError as exc:
        res.ca_error = str(exc)
    try:
        nxt, ok = get_next_ca_cert(url, current, timeout)
        res.next_ca_certs = [CertInfo.of(c) for c in nxt]
        res.next_ca_signature_ok = ok
    except ScepProbeError as exc:
        res.next_ca_error = str(exc)
    return res


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.issuer == cert.subject
