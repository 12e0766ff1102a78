"""The built-in PKI trustpool of an emulated IOS-XE router (`show crypto pki trustpool`).

A real IOS-XE image carries a bundle of Cisco CA certificates (root and issuing CAs, valid to 2099). The lab
cannot carry those, and must not copy them: it builds its own small bundle with its own X.509 code once per
process (a root and an issuing CA under it, as the real bundle has both kinds, one with a CRL distribution
point as the real issuing CAs have). Names, serials and dates are fixed; the keys are new in each process
(the plain output shows no key or fingerprint). The CDP URL is a loopback one: nothing ever fetches it.

Layout: the real IOS-XE captures (genie `show_crypto_pki_trustpool`): per certificate a `CA Certificate`
section with `Issuer: `/`Subject: ` (trailing blank as IOS prints them), an optional `CRL Distribution Points: `
block, `Associated Trustpoints: Trustpool ` and `Trustpool: Built-In`, then a blank line.
Classic IOS platforms of the lab answer `% Invalid input` (plugin.py): the behaviour doc §5 has trustpool
evidence for IOS-XE only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .ca import ca_builder, ios_time, serial_hex
from .names import rdn_lines

_ORG = "IOSPKI Lab"
_START = datetime(2017, 5, 26, 19, 19, 29, tzinfo=timezone.utc)
_END = datetime(2099, 5, 26, 19, 19, 29, tzinfo=timezone.utc)
_CDP = "http://127.0.0.1/iospki-lab/trustpool-root.crl"


@dataclass(frozen=True)
class PoolCertificate:
    cert: x509.Certificate
    cdp: tuple[str, ...] = ()


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG)]
    )


def _ca(
    subject: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Name, signer: rsa.RSAPrivateKey, serial: int,
    cdp: tuple[str, ...],
) -> x509.Certificate:  # fmt: skip
    b = ca_builder(subject, issuer, key.public_key(), serial, _START, _END)
    if cdp:
        points = [x509.DistributionPoint([x509.UniformResourceIdentifier(u) for u in cdp], None, None, None)]
        b = b.add_extension(x509.CRLDistributionPoints(points), critical=False)
    return b.sign(signer, hashes.SHA256())


@functools.cache
def built_in() -> tuple[PoolCertificate, ...]:
    """The bundle, built on first use (two RSA keys) and shared by every router of the process, as every
    router of one image has the same built-in bundle."""
    root_key = rsa.generate_private_key(65537, 2048)
    issuing_key = rsa.generate_private_key(65537, 2048)
    root_name, issuing_name = _name("IOSPKI Lab Root CA 2099"), _name("IOSPKI Lab Device CA")
    root = _ca(root_name, root_key, root_name, root_key, 0x5A1B0C0FFEE0001, ())
    issuing = _ca(issuing_name, issuing_key, root_name, root_key, 0x5A1B0C0FFEE0002, (_CDP,))
    return (PoolCertificate(issuing, (_CDP,)), PoolCertificate(root))


def show(pool: tuple[PoolCertificate, ...]) -> str:
    """The sections, a blank line between two (none after the last, as in the captures)."""
    sections: list[str] = []
    for p in pool:
        c = p.cert
        out = [
            "CA Certificate",
            "  Status: Available",
            f"  Certificate Serial Number (hex): {serial_hex(c.serial_number)}",
            "  Certificate Usage: Signature",
            "  Issuer: ",
            *[f"    {line}" for line in rdn_lines(c.issuer)],
            "  Subject: ",
            *[f"    {line}" for line in rdn_lines(c.subject)],
        ]
        if p.cdp:
            out += ["  CRL Distribution Points: ", *[f"    {u}" for u in p.cdp]]
        out += [
            "  Validity Date: ",
            f"    start date: {ios_time(c.not_valid_before_utc)}",
            f"    end   date: {ios_time(c.not_valid_after_utc)}",
            "  Associated Trustpoints: Trustpool ",
            "  Trustpool: Built-In",
        ]
        sections.append("\n".join(out))
    return "\n\n".join(sections)
