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


def _resign(der: bytes, key: rsa.RSAPrivateKey, hash_name: str, crl: bool) -> bytes:
    """Re-sign a SHA-256-signed certificate or CRL (DER) with the legacy digest: same TBS, new algorithm."""
    alg_name, digest = LEGACY[hash_name]
    alg = asn1_x509.SignedDigestAlgorithm({"algorithm": alg_name})
    signed: asn1_x509.Certificate | asn1_crl.CertificateList
    if crl:
        signed = asn1_crl.CertificateList.load(der)
        tbs, sig_field = signed["tbs_cert_list"], "signature"
    else:
        signed = asn1_x509.Certificate.load(der)
        tbs, sig_field = signed["tbs_certificate"], "signature_value"
    tbs["signature"] = alg
    signed["signature_algorithm"] = alg
    signed[sig_field] = key.sign(tbs.dump(force=True), padding.PKCS1v15(), digest())
    return bytes(signed.dump(force=True))


def sign_certificate(
    builder: x509.CertificateBuilder, key: rsa.RSAPrivateKey, hash_name: str
) -> x509.Certificate:
    if hash_name in MODERN:
        return builder.sign(key, MODERN[hash_name]())
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    return x509.load_der_x509_certificate(_resign(der, key, hash_name, crl=False))


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, key: rsa.RSAPrivateKey, hash_name: str
) -> x509.CertificateRevocationList:
    if hash_name in MODERN:
        return builder.sign(key, MODERN[hash_name]())
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    return x509.load_der_x509_crl(_resign(der, key, hash_name, crl=True))
