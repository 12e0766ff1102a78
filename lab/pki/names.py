"""Distinguished names the way IOS writes and reads them.

IOS prints attribute names in lower case (`cn=R12`, `hostname=R14.x`, `serialNumber=...`), joins
multi-valued RDNs with `+` and RDNs with `,`, and accepts `issuer-name` strings separated by commas
or by blanks (`CN=cisco L=NewZealand C=NZ`).
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

UNSTRUCTURED_NAME = ObjectIdentifier("1.2.840.113549.1.9.2")
UNSTRUCTURED_ADDRESS = ObjectIdentifier("1.2.840.113549.1.9.8")

_SHORT: dict[str, ObjectIdentifier] = {
    "cn": NameOID.COMMON_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "l": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "c": NameOID.COUNTRY_NAME,
    "e": NameOID.EMAIL_ADDRESS,
    "ea": NameOID.EMAIL_ADDRESS,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "sn": NameOID.SERIAL_NUMBER,
    "hostname": UNSTRUCTURED_NAME,
    "unstructuredname": UNSTRUCTURED_NAME,
    "ipaddress": UNSTRUCTURED_ADDRESS,
    "unstructuredaddress": UNSTRUCTURED_ADDRESS,
    "dc": NameOID.DOMAIN_COMPONENT,
    "t": NameOID.TITLE,
}
_DISPLAY: dict[ObjectIdentifier, str] = {
    NameOID.COMMON_NAME: "cn",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "ou",
    NameOID.ORGANIZATION_NAME: "o",
    NameOID.LOCALITY_NAME: "l",
    NameOID.STATE_OR_PROVINCE_NAME: "st",
    NameOID.COUNTRY_NAME: "c",
    NameOID.EMAIL_ADDRESS: "e",
    NameOID.SERIAL_NUMBER: "serialNumber",
    UNSTRUCTURED_NAME: "hostname",
    UNSTRUCTURED_ADDRESS: "ipaddress",
    NameOID.DOMAIN_COMPONENT: "dc",
    NameOID.TITLE: "t",
}

_KEY_RE = re.compile(r"(?:^|[\s,;]+)([A-Za-z]+)\s*=")


class NameError_(ValueError):
    """A DN string IOS would refuse."""


def parse_dn(text: str) -> list[x509.NameAttribute[str | bytes]]:
    """`CN=cisco L=NewZealand C=NZ` or `cn=a, ou=b` -> attributes in the written order."""
    matches = list(_KEY_RE.finditer(text.strip()))
    if not matches or matches[0].start() != 0:
        raise NameError_(f"% Invalid subject name: {text!r}")
    attrs: list[x509.NameAttribute[str | bytes]] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text.strip())
        value = text.strip()[m.end() : end].strip().strip(",;").strip()
        oid = _SHORT.get(m.group(1).lower())
        if oid is None or not value:
            raise NameError_(f"% Invalid subject name: {text!r}")
        attrs.append(x509.NameAttribute(oid, value))
    return attrs


def name_from_dn(text: str) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName([a]) for a in parse_dn(text)])


def attr_text(attr: x509.NameAttribute[str | bytes]) -> str:
    key = _DISPLAY.get(attr.oid, attr.oid.dotted_string)
    value = attr.value if isinstance(attr.value, str) else attr.value.decode("latin-1")
    return f"{key}={value}"


def rdn_lines(name: x509.Name) -> list[str]:
    """One line per RDN, in certificate order (how `show crypto pki certificates` lists them)."""
    return ["+".join(attr_text(a) for a in rdn) for rdn in name.rdns]


def one_line(name: x509.Name) -> str:
    """`ipaddress=1.1.1.1+hostname=r1,cn=r1,ou=x` (server requests list, CERT_INSTALL)."""
    return ",".join(rdn_lines(name))


def value_of(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    for attr in name:
        if attr.oid == oid:
            v = attr.value
            return v if isinstance(v, str) else v.decode("latin-1")
    return None
