"""SCEP (RFC 8894) message encoding: pkiMessage, CertRep, envelopes, degenerate SignedData.

Pure functions, bytes in and bytes out. cryptography does the X.509 and the RSA/symmetric work. Output CMS
is written by a minimal DER writer (cryptography's PKCS7 builders cannot add the SCEP signed attributes and
only know AES envelopes; building asn1crypto objects cost more CPU than the RSA operations). Input is parsed
with asn1crypto, leniently about BER (Go's pkcs7 library sends constructed, indefinite-length OCTET STRINGs).
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, parser
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class MessageType(enum.IntEnum):
    CERT_REP = 3
    RENEWAL_REQ = 17
    UPDATE_REQ = 18  # unassigned in RFC 8894, but micromdm accepts it
    PKCS_REQ = 19
    CERT_POLL = 20  # formerly GetCertInitial
    GET_CERT = 21
    GET_CRL = 22


GET_CERT_INITIAL = MessageType.CERT_POLL


class PkiStatus(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class FailInfo(enum.IntEnum):
    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4


class ScepError(Exception):
    """A message could not be decoded, verified or decrypted.

    ``fail_info`` is what a server answers in its CertRep FAILURE. Messages never contain secrets.
    """

    def __init__(self, message: str, fail_info: FailInfo = FailInfo.BAD_MESSAGE_CHECK) -> None:
        super().__init__(message)
        self.fail_info = fail_info


# --- SCEP attribute OIDs (registered once in asn1crypto's tables; additive only) ---------------------------

OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
OID_FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"


class _SetOfPrintableString(core.SetOf):  # type: ignore[misc]  # asn1crypto ships no types
    _child_spec = core.PrintableString


class _SetOfUTF8String(core.SetOf):  # type: ignore[misc]  # asn1crypto ships no types
    _child_spec = core.UTF8String


_SCEP_ATTRS: dict[str, tuple[str, type]] = {
    OID_MESSAGE_TYPE: ("scep_message_type", _SetOfPrintableString),
    OID_PKI_STATUS: ("scep_pki_status", _SetOfPrintableString),
    OID_FAIL_INFO: ("scep_fail_info", _SetOfPrintableString),
    OID_SENDER_NONCE: ("scep_sender_nonce", cms.SetOfOctetString),
    OID_RECIPIENT_NONCE: ("scep_recipient_nonce", cms.SetOfOctetString),
    OID_TRANSACTION_ID: ("scep_transaction_id", _SetOfPrintableString),
    OID_FAIL_INFO_TEXT: ("scep_fail_info_text", _SetOfUTF8String),
}
for _oid, (_name, _spec) in _SCEP_ATTRS.items():
    cms.CMSAttributeType._map.setdefault(_oid, _name)
    cms.CMSAttribute._oid_specs.setdefault(_name, _spec)
cms.CMSAttributeType._reverse_map = None


# --- algorithms ------------------------------------------------------------------------------------------

# name -> (asn1crypto algorithm name, key length, block size)
CIPHERS: dict[str, tuple[str, int, int]] = {
    "des": ("des", 8, 8),
    "des3": ("tripledes_3key", 24, 8),
    "aes128": ("aes128_cbc", 16, 16),
    "aes192": ("aes192_cbc", 24, 16),
    "aes256": ("aes256_cbc", 32, 16),
}
_CIPHER_BY_ASN1 = {v[0]: k for k, v in CIPHERS.items()}

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _hash_algorithm(name: str) -> hashes.HashAlgorithm:
    try:
        return HASHES[name]()
    except KeyError:
        raise ScepError(f"unsupported digest algorithm {name!r}", FailInfo.BAD_ALG) from None


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if ``issuer`` names and signed ``cert`` (RSA). Unlike cryptography's verify_directly_issued_by this
    also accepts SHA-1 and MD5 signatures: an IOS CA with `hash sha1|md5` issues such certificates."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    algo = cert.signature_hash_algorithm
    if not isinstance(key, rsa.RSAPublicKey) or algo is None:
        try:
            cert.verify_directly_issued_by(issuer)
            return True
        except (InvalidSignature, ValueError, TypeError):
            return False
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algo)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(_hash_algorithm(name))
    h.update(data)
    return h.finalize()


def _symmetric(cipher: str, key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    if cipher == "des":
        # single DES as 3DES with K1=K2=K3 (cryptography has no plain DES)
        return Cipher(TripleDES(key * 3), modes.CBC(iv))
    if cipher == "des3":
        return Cipher(TripleDES(key), modes.CBC(iv))
    return Cipher(algorithms.AES(key), modes.CBC(iv))


# --- minimal DER writer (the hot path: asn1crypto object building costs more than the RSA work) ----------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _der_int(n: int) -> bytes:
    return _tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def _der_oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


OID_DATA = _der_oid("1.2.840.113549.1.7.1")
OID_SIGNED_DATA = _der_oid("1.2.840.113549.1.7.2")
OID_ENVELOPED_DATA = _der_oid("1.2.840.113549.1.7.3")
OID_CONTENT_TYPE = _der_oid("1.2.840.113549.1.9.3")
OID_MESSAGE_DIGEST = _der_oid("1.2.840.113549.1.9.4")
ALG_RSA = _seq(_der_oid("1.2.840.113549.1.1.1"), b"\x05\x00")
_DIGEST_ALG_IDS = {name: bytes(algos.DigestAlgorithm({"algorithm": name}).dump()) for name in HASHES}
_CIPHER_OIDS = {name: _der_oid(algos.EncryptionAlgorithmId.unmap(v[0])) for name, v in CIPHERS.items()}


def _der_attr(oid_der: bytes, value_der: bytes) -> bytes:
    return _seq(oid_der, _tlv(0x31, value_der))


def _issuer_and_serial_der(cert: x509.Certificate) -> bytes:
    return _seq(cert.issuer.public_bytes(), _der_int(cert.serial_number))


def _cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --- small ASN.1 helpers ---------------------------------------------------------------------------------


def _flatten_octets(contents: bytes, constructed: bool) -> bytes:
    """Contents of a (possibly constructed, BER) OCTET STRING."""
    if not constructed:
        return contents
    out = bytearray()
    pos = 0
    while pos < len(contents):
        info, pos = parser._parse(contents, len(contents), pos)
        _class, method, tag, _header, inner, _trailer = info
        if _class == 0 and tag == 0 and method == 0 and not inner:  # end-of-contents
            break
        out += _flatten_octets(inner, method == 1)
    return bytes(out)


def _asn1_octets(value: core.Asn1Value) -> bytes:
    """Bytes of an asn1crypto OCTET STRING value whatever its encoding (primitive or constructed)."""
    return _flatten_octets(value.contents or b"", value.method == 1)


def _load_content_info(data: bytes, what: str) -> cms.ContentInfo:
    try:
        ci = cms.ContentInfo.load(data, strict=False)
        ci["content_type"].native  # noqa: B018 - forces the parse
        return ci
    except (ValueError, TypeError, KeyError) as exc:
        raise ScepError(f"{what} is not a CMS ContentInfo: {exc}", FailInfo.BAD_REQUEST) from exc


def _x_cert(cert: ax509.Certificate) -> x509.Certificate:
    """cryptography parses certificates lazily: touch the fields SCEP uses so a corrupt certificate fails
    here, as a ScepError, and not later in a property access."""
    try:
        out = x509.load_der_x509_certificate(cert.dump())
        out.issuer.public_bytes()
        out.subject.public_bytes()
        out.serial_number  # noqa: B018
        out.public_key()
        out.not_valid_before_utc  # noqa: B018
        out.not_valid_after_utc  # noqa: B018
        out.signature_hash_algorithm  # noqa: B018
        return out
    except (ValueError, TypeError) as exc:
        raise ScepError(f"corrupt certificate in message: {exc}", FailInfo.BAD_REQUEST) from exc
    except Exception as exc:  # e.g. UnsupportedAlgorithm for odd signature algorithms
        raise ScepError(f"unusable certificate in message: {type(exc).__name__}", FailInfo.BAD_ALG) from exc


def encode_issuer_and_serial(issuer: x509.Name, serial: int) -> bytes:
    """IssuerAndSerialNumber DER (the inner content of GetCert and GetCRL)."""
    der: bytes = cms.IssuerAndSerialNumber(
        {"issuer": ax509.Name.load(issuer.public_bytes()), "serial_number": serial}
    ).dump()
    return der


def decode_issuer_and_serial(data: bytes) -> tuple[x509.Name, int]:
    try:
        v = cms.IssuerAndSerialNumber.load(data)
        return _x_name(v["issuer"]), int(v["serial_number"].native)
    except (ValueError, TypeError, KeyError) as exc:
        raise ScepError(f"bad IssuerAndSerialNumber: {exc}", FailInfo.BAD_REQUEST) from exc


class _IssuerAndSubject(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [("issuer", ax509.Name), ("subject", ax509.Name)]


def encode_issuer_and_subject(issuer: x509.Name, subject: x509.Name) -> bytes:
    """IssuerAndSubject DER (the inner content of CertPoll / GetCertInitial)."""
    der: bytes = _IssuerAndSubject(
        {"issuer": ax509.Name.load(issuer.public_bytes()), "subject": ax509.Name.load(subject.public_bytes())}
    ).dump()
    return der


def decode_issuer_and_subject(data: bytes) -> tuple[x509.Name, x509.Name]:
    try:
        v = _IssuerAndSubject.load(data)
        return _x_name(v["issuer"]), _x_name(v["subject"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ScepError(f"bad IssuerAndSubject: {exc}", FailInfo.BAD_REQUEST) from exc


def _x_name(name: ax509.Name) -> x509.Name:
    """cryptography has no Name-from-DER loader: rebuild it attribute by attribute (order kept).

    x509.Name equality compares OIDs and values only, so the rebuilt name equals the original.
    """
    rdns = []
    for rdn in name.chosen:
        attrs = []
        for ava in rdn:
            value = ava["value"]
            inner = value.chosen if isinstance(value, core.Choice) else value
            native = inner.native
            if isinstance(native, bytes):
                native = native.decode("latin-1")
            attrs.append(x509.NameAttribute(x509.ObjectIdentifier(ava["type"].dotted), str(native)))
        rdns.append(x509.RelativeDistinguishedName(attrs))
    return x509.Name(rdns)


# --- degenerate certs-only SignedData --------------------------------------------------------------------


def encode_degenerate(
    certificates: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList] = ()
) -> bytes:
    """Certs-only (and/or CRLs-only) SignedData with no signers, as ContentInfo DER.

    Certificates keep the given order (the issued certificate first), which simple clients rely on."""
    parts = [_der_int(1), _tlv(0x31, b""), _seq(OID_DATA)]
    if certificates:
        parts.append(_tlv(0xA0, b"".join(_cert_der(c) for c in certificates)))
    if crls:
        parts.append(_tlv(0xA1, b"".join(c.public_bytes(serialization.Encoding.DER) for c in crls)))
    parts.append(_tlv(0x31, b""))
    return _seq(OID_SIGNED_DATA, _tlv(0xA0, _seq(*parts)))


def _certs_of(sd: cms.SignedData) -> list[x509.Certificate]:
    out = []
    certs = sd["certificates"]
    if isinstance(certs, core.Void) or certs.contents is None:
        return []
    for choice in certs:
        if choice.name == "certificate":
            out.append(_x_cert(choice.chosen))
    return out


def decode_degenerate(data: bytes) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """Certificates and CRLs of a (degenerate or not) SignedData."""
    ci = _load_content_info(data, "certs-only message")
    if ci["content_type"].native != "signed_data":
        raise ScepError("certs-only message is not SignedData", FailInfo.BAD_REQUEST)
    try:
        sd = ci["content"]
        certs = _certs_of(sd)
        crls = []
        if not isinstance(sd["crls"], core.Void) and sd["crls"].contents is not None:
            for choice in sd["crls"]:
                if choice.name == "crl":
                    crls.append(x509.load_der_x509_crl(choice.chosen.dump()))
        return certs, crls
    except (ValueError, TypeError, KeyError) as exc:
        raise ScepError(f"bad certs-only SignedData: {exc}", FailInfo.BAD_REQUEST) from exc


# --- EnvelopedData ---------------------------------------------------------------------------------------


def encrypt_envelope(content: bytes, recipient: x509.Certificate, cipher: str = "des3") -> bytes:
    """EnvelopedData (ContentInfo DER) of ``content`` for ``recipient`` (RSA key transport, PKCS#1 v1.5)."""
    try:
        _, key_len, block = CIPHERS[cipher]
    except KeyError:
        raise ScepError(f"unsupported content cipher {cipher!r}", FailInfo.BAD_ALG) from None
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ScepError("recipient certificate has no RSA key", FailInfo.BAD_ALG)
    key = os.urandom(key_len)
    iv = os.urandom(block)
    padder = sympadding.PKCS7(block * 8).padder()
    padded = padder.update(content) + padder.finalize()
    enc = _symmetric(cipher, key, iv).encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    ktri = _seq(
        _der_int(0),
        _issuer_and_serial_der(recipient),
        ALG_RSA,
        _tlv(0x04, public_key.encrypt(key, padding.PKCS1v15())),
    )
    eci = _seq(OID_DATA, _seq(_CIPHER_OIDS[cipher], _tlv(0x04, iv)), _tlv(0x80, ciphertext))
    env = _seq(_der_int(0), _tlv(0x31, ktri), eci)
    return _seq(OID_ENVELOPED_DATA, _tlv(0xA0, env))


@dataclass(frozen=True)
class OpenedEnvelope:
    content: bytes
    cipher: str  # one of CIPHERS
    recipient_index: int  # which of the candidate (cert, key) pairs opened it


def _walk_encrypted_content_info(contents: bytes) -> tuple[str, bytes, bytes]:
    """(algorithm OID, parameters DER, ciphertext) from EncryptedContentInfo contents, BER tolerated."""
    pos = 0
    items = []
    while pos < len(contents):
        info, pos = parser._parse(contents, len(contents), pos)
        items.append(info)
    if len(items) < 3:
        raise ScepError("envelope has no encrypted content", FailInfo.BAD_REQUEST)
    # AlgorithmIdentifier walked by hand: parameters are only understood for the ciphers we support
    alg_inner = items[1][4]
    oid_info, after = parser._parse(alg_inner, len(alg_inner), 0)
    oid = core.ObjectIdentifier.load(oid_info[3] + oid_info[4]).dotted
    iv = b""
    if after < len(alg_inner):
        p_info, _ = parser._parse(alg_inner, len(alg_inner), after)
        if p_info[0] == 0 and p_info[2] == 4:  # OCTET STRING (the CBC IV)
            iv = _flatten_octets(p_info[4], p_info[1] == 1)
    ct_info = items[2]
    ciphertext = _flatten_octets(ct_info[4], ct_info[1] == 1)
    return oid, iv, ciphertext


def decrypt_envelope(
    data: bytes, recipients: Sequence[tuple[x509.Certificate, rsa.RSAPrivateKey]]
) -> OpenedEnvelope:
    """Open an EnvelopedData with whichever candidate key it was made for.

    The recipient is matched by issuer and serial first; if none matches, every key is tried (some clients
    address a stale CA certificate with the same key).
    """
    ci = _load_content_info(data, "pkcsPKIEnvelope")
    if ci["content_type"].native != "enveloped_data":
        raise ScepError("pkcsPKIEnvelope is not EnvelopedData", FailInfo.BAD_REQUEST)
    try:
        env = ci["content"]
        # (issuer DER or None, serial or None, encrypted key), extracted eagerly: asn1crypto parses lazily
        ktris: list[tuple[bytes | None, int | None, bytes]] = []
        for ri in env["recipient_infos"]:
            if ri.name != "ktri":
                continue
            rid = ri.chosen["rid"]
            if rid.name == "issuer_and_serial_number":
                ident: tuple[bytes | None, int | None] = (
                    rid.chosen["issuer"].dump(),
                    int(rid.chosen["serial_number"].native),
                )
            else:
                ident = (None, None)
            ktris.append((*ident, bytes(ri.chosen["encrypted_key"].native)))
        eci = env["encrypted_content_info"]
        alg_oid, iv, ciphertext = _walk_encrypted_content_info(eci.contents)
    except ScepError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ScepError(f"bad EnvelopedData: {exc}", FailInfo.BAD_REQUEST) from exc
    if not ktris:
        raise ScepError("envelope has no key-transport recipient", FailInfo.BAD_ALG)
    alg_name = algos.EncryptionAlgorithmId._map.get(alg_oid, alg_oid)
    cipher = _CIPHER_BY_ASN1.get(alg_name)
    if cipher is None:
        raise ScepError(f"unsupported content cipher {alg_name}", FailInfo.BAD_ALG)
    _, key_len, block = CIPHERS[cipher]
    if len(iv) != block or not ciphertext or len(ciphertext) % block:
        raise ScepError("envelope IV or ciphertext length is wrong", FailInfo.BAD_MESSAGE_CHECK)

    def matches(ktri: tuple[bytes | None, int | None, bytes], cert: x509.Certificate) -> bool:
        return ktri[1] == cert.serial_number and ktri[0] == cert.issuer.public_bytes()

    order: list[tuple[int, tuple[bytes | None, int | None, bytes]]] = []
    for i, (cert, _key) in enumerate(recipients):
        order += [(i, k) for k in ktris if matches(k, cert)]
    if not order:
        order = [(i, k) for i in range(len(recipients)) for k in ktris]
    for index, ktri in order:
        key = recipients[index][1]
        try:
            sym_key = key.decrypt(ktri[2], padding.PKCS1v15())
        except ValueError:
            continue
        if len(sym_key) != key_len:
            continue
        dec = _symmetric(cipher, sym_key, iv).decryptor()
        padded = dec.update(ciphertext) + dec.finalize()
        unpadder = sympadding.PKCS7(block * 8).unpadder()
        try:
            content = unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            continue
        return OpenedEnvelope(content=content, cipher=cipher, recipient_index=index)
    raise ScepError("envelope could not be decrypted with the CA key", FailInfo.BAD_MESSAGE_CHECK)


# --- SignedData pkiMessage -------------------------------------------------------------------------------


def sign_data(
    content: bytes | None,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    hash_name: str = "sha256",
    extra_attributes: Sequence[bytes] = (),
    certificates: Sequence[x509.Certificate] = (),
) -> bytes:
    """SignedData (ContentInfo DER) over ``content`` (``None``: no eContent) with signed attributes.

    ``extra_attributes`` are DER-encoded Attribute SEQUENCEs (see :func:`scep_attribute`)."""
    digest = _digest(hash_name, content or b"")  # raises badAlg for unknown names
    attrs = [
        _der_attr(OID_CONTENT_TYPE, OID_DATA),
        _der_attr(OID_MESSAGE_DIGEST, _tlv(0x04, digest)),
        *extra_attributes,
    ]
    attrs_contents = b"".join(sorted(attrs))  # DER: SET OF sorted by encoding
    signature = signer_key.sign(_tlv(0x31, attrs_contents), padding.PKCS1v15(), _hash_algorithm(hash_name))
    alg = _DIGEST_ALG_IDS[hash_name]
    signer_info = _seq(
        _der_int(1),
        _issuer_and_serial_der(signer_cert),
        alg,
        _tlv(0xA0, attrs_contents),
        ALG_RSA,
        _tlv(0x04, signature),
    )
    encap = _seq(OID_DATA, _tlv(0xA0, _tlv(0x04, content))) if content is not None else _seq(OID_DATA)
    parts = [_der_int(1), _tlv(0x31, alg), encap]
    if certificates:
        parts.append(_tlv(0xA0, b"".join(_cert_der(c) for c in certificates)))
    parts.append(_tlv(0x31, signer_info))
    return _seq(OID_SIGNED_DATA, _tlv(0xA0, _seq(*parts)))


def scep_attribute(oid: str, value_der: bytes) -> bytes:
    """A DER Attribute with one value (``value_der`` is the complete encoded value)."""
    return _der_attr(_der_oid(oid), value_der)


_ATTR_OID_DER = {oid: _der_oid(oid) for oid in _SCEP_ATTRS}


@dataclass
class PkiMessage:
    """A decoded SCEP pkiMessage (request or CertRep). Call :meth:`verify` before trusting it."""

    message_type: MessageType
    transaction_id: str
    sender_nonce: bytes | None
    recipient_nonce: bytes | None
    pki_status: PkiStatus | None
    fail_info: FailInfo | None
    fail_info_text: str | None
    content: bytes | None  # the encapsulated pkcsPKIEnvelope (EnvelopedData DER), if any
    certificates: list[x509.Certificate]
    hash_name: str
    signing_time: object | None = None  # datetime when the signer included one
    _signer_issuer: bytes = field(default=b"", repr=False)
    _signer_serial: int = field(default=0, repr=False)
    _signed_bytes: bytes = field(default=b"", repr=False)
    _signature: bytes = field(default=b"", repr=False)
    _message_digest: bytes | None = field(default=None, repr=False)

    def signer_certificate(self) -> x509.Certificate | None:
        """The embedded certificate named by the SignerInfo (the request's signer), if present."""
        for cert in self.certificates:
            if (
                cert.serial_number == self._signer_serial
                and cert.issuer.public_bytes() == self._signer_issuer
            ):
                return cert
        # names re-encoded by another library may differ byte-wise: fall back to the serial alone
        same_serial = [c for c in self.certificates if c.serial_number == self._signer_serial]
        return same_serial[0] if len(same_serial) == 1 else None

    def verify(self, certificate: x509.Certificate | None = None) -> x509.Certificate:
        """Check the signature with ``certificate`` (default: the embedded signer). Returns the signer."""
        cert = certificate or self.signer_certificate()
        if cert is None:
            raise ScepError("signer certificate not found in the message", FailInfo.BAD_CERT_ID)
        _check_signature(
            cert, self.hash_name, self.content, self._signed_bytes, self._signature, self._message_digest
        )
        return cert


def _der_set(contents: bytes) -> bytes:
    n = len(contents)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x31" + length + contents


_SIG_HASHES = {
    "md5_rsa": "md5",
    "sha1_rsa": "sha1",
    "sha224_rsa": "sha224",
    "sha256_rsa": "sha256",
    "sha384_rsa": "sha384",
    "sha512_rsa": "sha512",
}


@dataclass
class _SignedParts:
    sd: cms.SignedData
    content: bytes | None
    hash_name: str
    attrs: dict[str, object]
    signed_bytes: bytes  # DER SET OF signed attributes, or the content when there are none
    signature: bytes
    signer_issuer: bytes
    signer_serial: int


def _signed_parts(data: bytes, what: str) -> _SignedParts:
    ci = _load_content_info(data, what)
    if ci["content_type"].native != "signed_data":
        raise ScepError(f"{what} is not SignedData", FailInfo.BAD_REQUEST)
    try:
        sd = ci["content"]
        signer_infos = list(sd["signer_infos"])
        if len(signer_infos) != 1:
            raise ScepError(f"{what} has {len(signer_infos)} signers, expected 1", FailInfo.BAD_REQUEST)
        si = signer_infos[0]
        hash_name = si["digest_algorithm"]["algorithm"].native
        sig_alg = si["signature_algorithm"]["algorithm"].native
        if sig_alg not in ("rsassa_pkcs1v15", *_SIG_HASHES):
            raise ScepError(f"unsupported signature algorithm {sig_alg}", FailInfo.BAD_ALG)
        if hash_name not in HASHES:
            raise ScepError(f"unsupported digest algorithm {hash_name}", FailInfo.BAD_ALG)
        raw_content = sd["encap_content_info"]["content"]
        content: bytes | None = None
        if isinstance(raw_content, core.OctetString) and raw_content.contents is not None:
            content = _asn1_octets(raw_content)
        elif raw_content.contents is not None and not isinstance(raw_content, core.Void):
            content = raw_content.contents
        sid = si["sid"]
        if sid.name != "issuer_and_serial_number":
            raise ScepError(
                f"{what} SignerInfo uses subjectKeyIdentifier; expected issuer and serial",
                FailInfo.BAD_REQUEST,
            )
        signed_attrs = si["signed_attrs"]
        attrs: dict[str, object] = {}
        if signed_attrs.contents is not None:
            for attr in signed_attrs:
                values = attr["values"]
                if len(values):
                    attrs[attr["type"].native] = values[0]
            signed_bytes = _der_set(signed_attrs.contents)
        else:
            signed_bytes = content or b""
        return _SignedParts(
            sd=sd,
            content=content,
            hash_name=hash_name,
            attrs=attrs,
            signed_bytes=signed_bytes,
            signature=si["signature"].native,
            signer_issuer=sid.chosen["issuer"].dump(),
            signer_serial=int(sid.chosen["serial_number"].native),
        )
    except ScepError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ScepError(f"malformed {what}: {exc}", FailInfo.BAD_REQUEST) from exc


def verify_signed_content(
    data: bytes, signer: x509.Certificate
) -> tuple[bytes | None, list[x509.Certificate]]:
    """Verify a generic SignedData (e.g. a GetNextCACert answer) against ``signer``.

    Returns (content, embedded certificates). Raises ScepError(badMessageCheck) on a bad signature.
    """
    parts = _signed_parts(data, "SignedData")
    md = parts.attrs.get("message_digest")
    _check_signature(
        signer,
        parts.hash_name,
        parts.content,
        parts.signed_bytes,
        parts.signature,
        _asn1_octets(md) if isinstance(md, core.OctetString) else None,
    )
    return parts.content, _certs_of(parts.sd)


def _check_signature(
    cert: x509.Certificate,
    hash_name: str,
    content: bytes | None,
    signed_bytes: bytes,
    signature: bytes,
    message_digest: bytes | None,
) -> None:
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ScepError("signer key is not RSA", FailInfo.BAD_ALG)
    if message_digest is not None and message_digest != _digest(hash_name, content or b""):
        raise ScepError("messageDigest does not match the content", FailInfo.BAD_MESSAGE_CHECK)
    try:
        public_key.verify(signature, signed_bytes, padding.PKCS1v15(), _hash_algorithm(hash_name))
    except InvalidSignature:
        raise ScepError("signature verification failed", FailInfo.BAD_MESSAGE_CHECK) from None


def parse_pki_message(data: bytes) -> PkiMessage:
    """Decode a pkiMessage. Raises ScepError (badRequest for malformed input). Does not verify."""
    parts = _signed_parts(data, "pkiMessage")
    if not parts.attrs:
        raise ScepError("pkiMessage has no signed attributes", FailInfo.BAD_REQUEST)
    attrs = parts.attrs
    try:

        def text(name: str) -> str | None:
            v = attrs.get(name)
            return None if v is None else str(v.native)  # type: ignore[attr-defined]

        def octets(name: str) -> bytes | None:
            v = attrs.get(name)
            return None if v is None else _asn1_octets(v)

        mtype = text("scep_message_type")
        tid = text("scep_transaction_id")
        if mtype is None or tid is None:
            raise ScepError("pkiMessage lacks messageType or transactionID", FailInfo.BAD_REQUEST)
        try:
            message_type = MessageType(int(mtype))
        except ValueError:
            raise ScepError(f"unknown messageType {mtype!r}", FailInfo.BAD_REQUEST) from None
        status_text = text("scep_pki_status")
        fail_text = text("scep_fail_info")
        md = attrs.get("message_digest")
        st = attrs.get("signing_time")
        return PkiMessage(
            message_type=message_type,
            transaction_id=tid,
            sender_nonce=octets("scep_sender_nonce"),
            recipient_nonce=octets("scep_recipient_nonce"),
            pki_status=PkiStatus(int(status_text)) if status_text is not None else None,
            fail_info=FailInfo(int(fail_text)) if fail_text is not None else None,
            fail_info_text=text("scep_fail_info_text"),
            content=parts.content,
            certificates=_certs_of(parts.sd),
            hash_name=parts.hash_name,
            signing_time=st.native if st is not None else None,  # type: ignore[attr-defined]
            _signer_issuer=parts.signer_issuer,
            _signer_serial=parts.signer_serial,
            _signed_bytes=parts.signed_bytes,
            _signature=parts.signature,
            _message_digest=_asn1_octets(md) if isinstance(md, core.OctetString) else None,
        )
    except ScepError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ScepError(f"malformed pkiMessage: {exc}", FailInfo.BAD_REQUEST) from exc


def build_pki_message(
    message_type: MessageType,
    transaction_id: str,
    content: bytes | None,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    hash_name: str = "sha256",
    *,
    sender_nonce: bytes | None = None,
    recipient_nonce: bytes | None = None,
    pki_status: PkiStatus | None = None,
    fail_info: FailInfo | None = None,
    fail_info_text: str | None = None,
    certificates: Sequence[x509.Certificate] | None = None,
) -> bytes:
    """Sign a pkiMessage. ``content`` is the pkcsPKIEnvelope DER (None for PENDING/FAILURE CertReps)."""

    def printable(oid: str, text: str) -> bytes:
        return _der_attr(_ATTR_OID_DER[oid], _tlv(0x13, text.encode("utf-8")))

    def octets(oid: str, data: bytes) -> bytes:
        return _der_attr(_ATTR_OID_DER[oid], _tlv(0x04, data))

    extra = [
        printable(OID_MESSAGE_TYPE, str(int(message_type))),
        printable(OID_TRANSACTION_ID, transaction_id),
        octets(OID_SENDER_NONCE, sender_nonce or os.urandom(16)),
    ]
    if recipient_nonce is not None:
        extra.append(octets(OID_RECIPIENT_NONCE, recipient_nonce))
    if pki_status is not None:
        extra.append(printable(OID_PKI_STATUS, str(int(pki_status))))
    if fail_info is not None:
        extra.append(printable(OID_FAIL_INFO, str(int(fail_info))))
    if fail_info_text:
        extra.append(_der_attr(_ATTR_OID_DER[OID_FAIL_INFO_TEXT], _tlv(0x0C, fail_info_text.encode("utf-8"))))
    certs = [signer_cert] if certificates is None else list(certificates)
    return sign_data(content, signer_cert, signer_key, hash_name, extra, certs)


# --- convenience ------------------------------------------------------------------------------------------


def transaction_id_for(public_key: rsa.RSAPublicKey) -> str:
    """32 uppercase hex characters derived from the public key (the form IOS sends)."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()[:32].upper()


def public_key_fingerprint(public_key: object) -> str:
    """SHA-256 hex of a public key's SubjectPublicKeyInfo (for replay checks)."""
    spki = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def challenge_password(csr: x509.CertificateSigningRequest) -> str | None:
    """The CSR's challengePassword attribute, or None."""
    try:
        raw = csr.attributes.get_attribute_for_oid(x509.oid.AttributeOID.CHALLENGE_PASSWORD).value
    except x509.AttributeNotFound:
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
