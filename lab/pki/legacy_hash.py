"""Certificates and CRLs signed with the digest the CS `hash` line names, MD5 and SHA-1 included.

cryptography (>= 41) refuses MD5/SHA-1 in `CertificateBuilder.sign`, but an IOS CA configured with
`hash md5|sha1` signs with them (the behaviour doc's real CA certificates show `MD5 with RSA Encryption`).
So for those two the builder signs with SHA-256 first, then the TBS part is re-labelled with the legacy
algorithm (asn1crypto) and re-signed with a plain RSA PKCS#1 v1.5 signature, which cryptography still allows.
"""

from __future__ import annotations

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MODERN: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# hash name -> (asn1crypto signature algorithm, digest for the raw RSA signature)
LEGACY: dict[str, tuple[str, type[hashes.SHA1 | hashes.MD5]]] = {
    "sha1": ("sha1_rsa", hashes.SHA1),
    "md5": ("md5_rsa", hashes.MD5),
}
HASH_NAMES = (*MODERN, *LEGACY)


def _relabel(
    tbs: asn1_x509.TbsCertificate | asn1_crl.TbsCertList, key: rsa.RSAPrivateKey, hash_name: str
) -> tuple[asn1_x509.SignedDigestAlgorithm, bytes]:
    alg_name, digest = LEGACY[hash_name]
    alg = asn1_x509.SignedDigestAlgorithm({"algorithm": alg_name})
    tbs["signature"] = alg
    return alg, key.sign(tbs.dump(force=True), padding.PKCS1v15(), digest())


def sign_certificate(
    builder: x509.CertificateBuilder, key: rsa.RSAPrivateKey, hash_name: str
) -> x509.Certificate:
    if hash_name in MODERN:
        return builder.sign(key, MODERN[hash_name]())
    cert = asn1_x509.Certificate.load(
        builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    )
    alg, sig = _relabel(cert["tbs_certificate"], key, hash_name)
    cert["signature_algorithm"] = alg
    cert["signature_value"] = sig
    return x509.load_der_x509_certificate(cert.dump(force=True))


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, key: rsa.RSAPrivateKey, hash_name: str
) -> x509.CertificateRevocationList:
    if hash_name in MODERN:
        return builder.sign(key, MODERN[hash_name]())
    crl = asn1_crl.CertificateList.load(
        builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    )
    alg, sig = _relabel(crl["tbs_cert_list"], key, hash_name)
    crl["signature_algorithm"] = alg
    crl["signature"] = sig
    return x509.load_der_x509_crl(crl.dump(force=True))
