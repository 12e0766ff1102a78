"""The short cuts inside the certificates fast path (issue 13 §1) give what the general code gives.

`_from_match` reads every group of the two section regexes by name lists, spells the verbose conversions
out, keeps key usage names by a set decided at import and reads a one-line DN without a loop; each is
pinned here against the code it stands in for, and whole outputs against the line scanner."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iospki.models import Certificate
from iospki.parsers import ParseError
from iospki.parsers.certificates import (
    _BLOCK_GROUPS,
    _FAST,
    _FAST_V,
    _KEY_USAGES,
    _KU_MEMBERS,
    _PLAIN_ORDER,
    _VERBOSE_ORDER,
    _dn_into,
    _from_match,
    _key_usages,
    _members,
    _values_of,
    parse_certificates,
)


def test_the_verbose_pattern_adds_value_lines_and_blocks_only() -> None:
    """Every group the verbose pattern adds is a line the scanner converts to one field, or a block."""
    added = set(_VERBOSE_ORDER) - set(_PLAIN_ORDER)
    assert set(_PLAIN_ORDER) < set(_VERBOSE_ORDER)
    assert added == (set(_values_of(_FAST_V)) - set(_values_of(_FAST))) | _BLOCK_GROUPS
    assert set(_values_of(_FAST)) == {"renew", "storage"}


def test_every_key_usage_name_is_kept_by_the_set() -> None:
    """The set stands in for `_members`' checks; a name those checks refused would fall out of it."""
    assert _KU_MEMBERS == _KEY_USAGES and len(_KU_MEMBERS) == 9


_KU_LINES = st.sampled_from(
    [
        *sorted(_KEY_USAGES),
        "Digital signature",
        "Key Label",
        "X509v3 Subject Key ID",
        "Certificate Policies",
        "R1#",
        "*Mar  1 00:01:02.123: %SYS-5-CONFIG_I: Configured",
        "",
        " ",
    ]
)


@given(
    st.lists(st.tuples(st.sampled_from(["", "  ", "\t", "      "]), _KU_LINES, st.sampled_from(["", " "])))
)
def test_key_usage_block_is_read_as_members_reads_it(lines: list[tuple[str, str, str]]) -> None:
    block = "".join(f"{a}{b}{c}\n" for a, b, c in lines)
    assert _key_usages(block) == _members(block, _KEY_USAGES.__contains__)


_DN_LINE = st.sampled_from(
    [
        "cn=CA",
        "CN = tpca-root",
        "hostname=R14+ipaddress=14.14.14.14",
        "ou=A\x0b",
        "o=x,y",
        "name=n1",
        "serialNumber=FOC1",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "    ", "\t"]), _DN_LINE, st.sampled_from(["", " ", "\t "])),
        min_size=1,
        max_size=4,
    )
)
def test_a_dn_block_is_read_as_the_scanner_reads_it(lines: list[tuple[str, str, str]]) -> None:
    """`_dn_into` (with its one-line short cut) against the scanner, on a subject block after a `Name:` line
    (a DN attribute `name` then joins that line's value, as the scanner joins it)."""
    block = "".join(f"{a}{b}{c}\n" for a, b, c in lines)
    text = _section("CA Certificate", "01", False).replace(
        "  Subject:\n    cn=CA\n", "  Subject:\n    Name: pre\n" + block
    )
    (strict,) = parse_certificates(text, fast=False).certificates
    fields = {"name": "pre"}
    assert (_dn_into(block, fields), fields) == (strict.subject, strict.subject_fields)


def _section(header: str, serial: str, verbose: bool) -> str:
    extra = (
        "  Subject Key Info:\n    Public Key Algorithm: rsaEncryption\n    RSA Public Key: (2048 bit)\n"
        "  Signature Algorithm: SHA256 with RSA Encryption\n  Fingerprint MD5: 91B6C6D8 A70FD984 \n"
        "  X509v3 extensions:\n    X509v3 Key Usage: 86000000\n      Digital Signature\n      Key Cert Sign\n"
        "    X509v3 Basic Constraints:\n        CA: TRUE\n    Authority Info Access:\n"
        "  Cert install time: 07:58:35 UTC Jul 21 2026 \n"
        if verbose
        else ""
    )
    return (
        f"{header}\n  Status: Available\n  Certificate Serial Number (hex): {serial}\n"
        "  Certificate Usage: Signature\n  Issuer:\n    cn=CA\n  Subject:\n    cn=CA\n  Validity Date:\n"
        "    start date: 07:58:35 UTC Jul 21 2026\n    end   date: 07:58:35 UTC Jul 20 2029\n"
        f"{extra}  Associated Trustpoints: TP \n\n"
    )


@given(st.lists(st.booleans(), min_size=1, max_size=5))
def test_plain_and_verbose_sections_in_any_order_read_as_the_scanner_reads_them(kinds: list[bool]) -> None:
    """The fast path tries first the regex that read the previous section; any mix gives the scanner's
    certificates, each read by one of the two regexes (not handed to the scanner)."""
    text = "".join(_section("CA Certificate", f"{i:02X}", v) for i, v in enumerate(kinds))
    fast = parse_certificates(text)
    assert fast == parse_certificates(text, fast=False)
    assert [c.version is not None or c.key_type is not None for c in fast.certificates] == kinds
    pos, read = 0, 0
    while (m := _FAST.match(text, pos) or _FAST_V.match(text, pos)) is not None:
        pos, read = m.end(), read + 1
    assert read == len(kinds) and pos == len(text)


_EVERY_LINE = """Certificate
  Status: Available
  Version: 3
  Certificate Serial Number (hex): 0A
  Certificate Usage: General Purpose
  Issuer:
    cn=CA
  Subject:
    Name: r1.example
    hostname=r1.example
  CRL Distribution Points:
    http://10.0.0.1/ca.crl
  Validity Date:
    start date: 07:58:35 UTC Jul 21 2026
    end   date: 07:58:35 UTC Jul 21 2027
    renew date: 19:58:35 UTC Apr 2 2027
  Subject Key Info:
    Public Key Algorithm: rsaEncryption
    RSA Public Key: (4096 bit)
  Signature Algorithm: SHA256 with RSA Encryption
  Fingerprint MD5: 91B6C6D8 A70FD984 6EC27664 FBFAF155
  Fingerprint SHA1: 77CC891A 6ED67B69 FB512215 0AB9169D CD7D3F02
  X509v3 extensions:
    X509v3 Key Usage: A0000000
      Digital Signature
      Key Encipherment
    X509v3 Subject Key ID: F1EAA3E9 5FCCB595
    X509v3 Basic Constraints:
        CA: FALSE
    X509v3 Authority Key ID: E40D167B D5CCEA4C
    Authority Info Access:
        CA ISSUERS: http://10.0.0.1/ca.cer
    Extended Key Usage:
        Client Auth
  Cert install time: 08:01:02 UTC Jul 21 2026
  Cert install time in nsec: 1784620862000000000
  Associated Trustpoints: TP Trustpool
  Key Label: r1.example
  Key storage device: private config
  Storage: nvram:CA#A.cer
"""


def test_a_section_with_every_verbose_line_is_read_by_the_regex_as_the_scanner_reads_it() -> None:
    """Every group of the verbose pattern holds a value here, each distinct: two names swapped in
    `_from_match`'s unpacking would put a value in the wrong field and differ from the scanner."""
    m = _FAST_V.fullmatch(_EVERY_LINE)
    assert m is not None and None not in m.groups()
    c = Certificate.model_validate(_from_match(m))  # not the scanner behind it
    assert parse_certificates(_EVERY_LINE, fast=False).certificates == [c]
    assert parse_certificates(_EVERY_LINE).certificates == [c]
    unset = [f for f in type(c).model_fields if getattr(c, f) in (None, [], {})]
    assert unset == ["request_fingerprint_md5", "request_fingerprint_sha1", "subject_alt_names"], unset


def test_fields_the_model_refuses_send_the_text_to_the_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path's fields are validated together with the output; would the model refuse one (it does
    not: each is built with its model type), the scanner reads the whole text and names the section."""
    import iospki.parsers.certificates as certificates

    built = certificates._from_match

    def bad_version(m: re.Match[str]) -> dict[str, Any]:
        fields = built(m)
        fields["version"] = "three"
        return fields

    monkeypatch.setattr(certificates, "_from_match", bad_version)
    assert parse_certificates(_EVERY_LINE) == parse_certificates(_EVERY_LINE, fast=False)
    assert parse_certificates(_EVERY_LINE).certificates[0].version == 3


# _EVERY_LINE in the units the verbose pattern takes or leaves out whole (True: optional there)
_UNITS: list[tuple[bool, str]] = [
    (False, "Certificate\n  Status: Available\n"),
    (True, "  Version: 3\n"),
    (
        False,
        "  Certificate Serial Number (hex): 0A\n  Certificate Usage: General Purpose\n  Issuer:\n    cn=CA\n",
    ),
    (False, "  Subject:\n"),
    (True, "    Name: r1.example\n"),
    (True, "    hostname=r1.example\n"),
    (True, "  CRL Distribution Points:\n    http://10.0.0.1/ca.crl\n"),
    (
        False,
        "  Validity Date:\n    start date: 07:58:35 UTC Jul 21 2026\n    end   date: 07:58:35 UTC Jul 21 2027\n",
    ),
    (True, "    renew date: 19:58:35 UTC Apr 2 2027\n"),
    (True, "  Subject Key Info:\n    Public Key Algorithm: rsaEncryption\n    RSA Public Key: (4096 bit)\n"),
    (True, "  Signature Algorithm: SHA256 with RSA Encryption\n"),
    (True, "  Fingerprint MD5: 91B6C6D8 A70FD984 6EC27664 FBFAF155\n"),
    (True, "  Fingerprint SHA1: 77CC891A 6ED67B69 FB512215 0AB9169D CD7D3F02\n"),
    (True, "  X509v3 extensions:\n"),
    (True, "    X509v3 Key Usage: A0000000\n      Digital Signature\n      Key Encipherment\n"),
    (True, "    X509v3 Subject Key ID: F1EAA3E9 5FCCB595\n"),
    (True, "    X509v3 Basic Constraints:\n        CA: FALSE\n"),
    (True, "    X509v3 Authority Key ID: E40D167B D5CCEA4C\n"),
    (True, "    Authority Info Access:\n        CA ISSUERS: http://10.0.0.1/ca.cer\n"),
    (True, "    Extended Key Usage:\n        Client Auth\n"),
    (True, "  Cert install time: 08:01:02 UTC Jul 21 2026\n"),
    (True, "  Cert install time in nsec: 1784620862000000000\n"),
    (False, "  Associated Trustpoints: TP Trustpool\n"),
    (True, "  Key Label: r1.example\n"),
    (True, "  Key storage device: private config\n"),
    (True, "  Storage: nvram:CA#A.cer\n"),
]


def test_the_units_make_the_every_line_section() -> None:
    assert "".join(u for _opt, u in _UNITS) == _EVERY_LINE


_EXTENSIONS = _UNITS.index((True, "  X509v3 extensions:\n"))  # the blocks after it sit under it


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.booleans(), min_size=len(_UNITS), max_size=len(_UNITS)),
    st.integers(0, 60),
    st.sampled_from(["", "\t", " \t"]),
)
def test_any_optional_lines_left_out_the_regex_still_reads_the_section(
    keep: list[bool], at: int, indent: str
) -> None:
    """Every optional line or block of the verbose pattern is possessive (never given back): with any of them
    left out the section is still one match of the pattern (an optional part can not have taken what a later
    part needed), read as the scanner reads it; a tab in a line's indentation sends it to the scanner."""
    if not keep[_EXTENSIONS]:
        keep[_EXTENSIONS + 1 : _EXTENSIONS + 7] = [False] * 6
    text = "".join(u for (optional, u), k in zip(_UNITS, keep, strict=True) if k or not optional)
    lines = text.split("\n")
    i = at % (len(lines) - 1)
    if indent:
        lines[i] = indent + lines[i].lstrip(" ")
    text = "\n".join(lines)
    assert _outcome(text, True) == _outcome(text, False), text
    if not indent:
        assert _FAST_V.fullmatch(text) is not None, text


def _outcome(text: str, fast: bool) -> object:
    try:
        return parse_certificates(text, fast=fast)
    except ParseError:
        return "ParseError"
