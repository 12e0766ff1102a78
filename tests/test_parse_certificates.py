"""`show crypto pki certificates [verbose]`: every real fixture, the seed's outputs, genie's
expected JSON, synthetic rollover/RA/subordinate sections and the rejection of foreign text.

The expected values are read from the raw text with the test's own regexes (not the
parser's), so a section the parser drops or mis-reads makes the counts or values differ."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pytest

from iospki.models import CertificatesOutput, CertKind
from iospki.parsers import ParseError, parse
from tests.parse_support import parse_as

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL = SHARED / "fixtures" / "real"
BENCH = SHARED / "fixtures" / "bench"
CMD: Final = "show crypto pki certificates"


def _fixture_files() -> list[Path]:
    if not REAL.is_dir():
        return []
    files = [
        p
        for p in sorted(REAL.glob("**/show_crypto_pki_certificates*/*.txt"))
        if "pem_server" not in p.parts[-2]  # another command (PEM dump)
    ]
    return files + sorted(BENCH.glob("show_crypto_pki_certificates_*.txt"))


FILES = _fixture_files()


def _need_shared() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"reference material not found at {SHARED}")


# ---- independent readings of the raw text -------------------------------------------------

HEADER = re.compile(r"^\s*((?:CA |Router Self-Signed |RA \w+ )?Certificate(?: \([^)]*\))?)\s*$", re.M)
SERIAL = re.compile(r"Certificate Serial Number \(hex\):\s*(\S+)")
TPS = re.compile(r"Associated Trustpoints?:[ \t]*(.*?)[ \t]*$", re.M)
START = re.compile(r"start date:\s*(.+?)\s*$", re.M)
END = re.compile(r"end\s+date:\s*(.+?)\s*$", re.M)


def _ios_time(s: str) -> datetime:
    hms, _tz, mon, day, year = s.split()
    return datetime.strptime(f"{hms} {mon} {day} {year}", "%H:%M:%S %b %d %Y")


def _sections(text: str) -> list[str]:
    """Raw text cut at each section header (the test's own split)."""
    starts = [m.start() for m in HEADER.finditer(text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)], strict=True)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_fixture_every_certificate_recovered(path: Path) -> None:
    text = path.read_text()
    out = parse(CMD, text)
    assert isinstance(out, CertificatesOutput)
    sections = _sections(text)
    assert len(sections) > 0
    assert len(out.certificates) == len(sections), (
        "certificate count differs from section headers in the text"
    )
    for cert, raw in zip(out.certificates, sections, strict=True):
        assert cert.section == HEADER.search(raw).group(1)  # type: ignore[union-attr]
        m = SERIAL.search(raw)
        assert cert.serial == (m.group(1).upper() if m else None)
        tps = TPS.search(raw)
        assert tps, raw
        names = tps.group(1).split()
        assert cert.trustpoints == [n for n in names if n != "Trustpool"]
        assert cert.trustpool == ("Trustpool" in names)
        if "Status: Pending" in raw:
            assert cert.kind is CertKind.request
            assert cert.request_fingerprint_md5 and len(cert.request_fingerprint_md5) == 32
            continue
        assert cert.start == _ios_time(START.search(raw).group(1))  # type: ignore[union-attr]
        assert cert.end == _ios_time(END.search(raw).group(1))  # type: ignore[union-attr]
        assert cert.tz == START.search(raw).group(1).split()[1]  # type: ignore[union-attr]
        # every DN line of the issuer block is kept, in order
        issuer_block = re.search(r"Issuer:[ \t]*\n(.*?)\n\s*Subject:", raw, re.S)
        assert issuer_block
        dn = [ln.strip() for ln in issuer_block.group(1).splitlines() if "=" in ln]
        assert cert.issuer == ",".join(dn)
        assert cert.issuer_fields["cn"] in cert.issuer


def _genie_certs(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every certificate dict in a genie result, with the keys leading to it."""
    found: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    if isinstance(node, dict):
        if "serial_number_in_hex" in node or ("serial" in node and "usage" in node):
            found.append((path, node))
        else:
            for k, v in node.items():
                found += _genie_certs(v, path + (k,))
    elif isinstance(node, list):
        for v in node:
            found += _genie_certs(v, path)
    return found


GENIE_TYPES = {
    "certificate": CertKind.identity,
    "ca_certificate": CertKind.ca,
    "router_self_signed_certificate": CertKind.self_signed,
}
GENIE_JSON = (
    [
        p
        for p in sorted(REAL.glob("genie/show_crypto_pki_certificates*/*.genie.json"))
        if "pem" not in p.parent.name
    ]
    if REAL.is_dir()
    else []
)


@pytest.mark.parametrize("path", GENIE_JSON, ids=lambda p: p.name)
def test_every_certificate_genie_found_is_present(path: Path) -> None:
    expected = json.loads(path.read_text())
    out = parse(CMD, path.with_name(path.name.replace(".genie.json", ".txt")).read_text())
    genie = _genie_certs(expected)
    assert genie, "no certificates in the genie file (the walk is wrong)"
    for keys, g in genie:
        serial = (g.get("serial_number_in_hex") or g.get("serial") or "").upper()
        kind = GENIE_TYPES[keys[-1]]
        mine = [c for c in out.certificates if c.serial == serial and c.kind is kind]
        assert mine, f"genie's {keys[-1]} {serial} missing"
        if "trustpoints" in keys:  # non-verbose schema: trustpoints.<tp>.associated_trustpoints.<type>
            tp = keys[keys.index("trustpoints") + 1]
            assert any(tp in c.trustpoints for c in mine)
        if "usage" in g:
            assert mine[0].usage == g["usage"]
        if isinstance(g.get("subject"), dict) and "cn" in g["subject"]:
            assert any(c.subject_fields.get("cn") == g["subject"]["cn"] for c in mine)


# ---- specific values ------------------------------------------------------------------


def _read(rel: str) -> str:
    _need_shared()
    return (REAL / rel).read_text()


def test_sudi_legacy_selfsigned_with_noise_lines() -> None:
    # repeated echo lines and a syslog line glued to the command precede the output
    out = parse(CMD, _read("other/show_crypto_pki_certificates/c3850_sudi_legacy_selfsigned_apollo.txt"))
    kinds = [c.kind for c in out.certificates]
    assert kinds == [CertKind.identity] * 2 + [CertKind.ca] * 4 + [CertKind.self_signed]
    sudi = out.certificates[0]
    assert sudi.serial == "1476CFCE00000003B911"
    assert sudi.subject_fields["serial_number"] == "PID:WS-C3850-24P SN:FOC2126L1BE"
    assert sudi.subject_fields["serialNumber"] == "PID:WS-C3850-24P SN:FOC2126L1BE"
    assert sudi.crl_distribution_points == ["http://www.cisco.com/security/pki/crl/cmca2.crl"]
    root = out.certificates[3]
    assert root.end == datetime(1901, 10, 7, 6, 32, 2)  # 2099 overflow as printed
    assert root.trustpoints == ["CISCO_IDEVID_SUDI0"] and root.trustpool
    ss = out.certificates[-1]
    assert ss.section == "Router Self-Signed Certificate"
    assert ss.storage == "nvram:IOS-Self-Sig#1.cer"


def test_ip_address_and_multivalued_rdn() -> None:
    out = parse(CMD, _read("other/show_crypto_pki_certificates/ios154_r14_ipaddr_multirdn.txt"))
    c = out.certificates[0]
    assert c.subject == "hostname=R14+ipaddress=14.14.14.14,cn=R14,ou=R19,o=mydomain,c=RU"
    assert c.subject_fields["ip_address"] == "14.14.14.14"
    assert c.subject_fields["hostname"] == "R14"
    assert c.subject_fields["ipaddress"] == "14.14.14.14"
    assert c.tz == "MSK" and c.start == datetime(2023, 12, 27, 15, 40, 50)


def test_pending_request_block() -> None:
    out = parse(CMD, _read("other/show_crypto_pki_certificates/ios_r18_pending_request_tz_msk.txt"))
    ca, req = out.certificates
    assert ca.kind is CertKind.ca and ca.storage == "nvram:R14CA#1CA.cer"
    assert req.kind is CertKind.request and req.status == "Pending"
    assert req.serial is None and req.usage == "General Purpose"
    assert req.request_fingerprint_md5 == "ADE7603B384EC983E8BACA123C9C5458"
    assert req.request_fingerprint_sha1 == "C2285675D6C3181253BCFA45842DA65BCFE1555F"
    assert req.trustpoints == ["VPN"] and req.subject_fields == {"name": "R18"}


def test_dotted_trustpoint_renew_date_storage() -> None:
    out = parse(CMD, _read("ntc/show_crypto_pki_certificates/cisco_ios_show_crypto_pki_certificates_1.txt"))
    c = out.certificates[0]
    assert c.trustpoints == ["caserver.domain.com"]
    assert c.renew == datetime(2023, 4, 10, 9, 19, 52)
    assert c.storage == "nvram:certfile.cer"
    assert c.issuer_fields["e"] == "email.address@domain.com"


def test_unindented_ie3100_with_trailing_spaces() -> None:
    out = parse(CMD, _read("genie/show_crypto_pki_certificates/iosxe_rv1__golden_output.txt"))
    assert [c.serial for c in out.certificates] == [
        "03612596745103596F2C",
        "0A6475524CD8617C62",
        "019A335878CE16C1C1",
        "0A6475524CD8617C62",
    ]
    assert out.certificates[0].subject_fields["ou"] == "ACT-2 Lite SUDI"
    assert out.certificates[0].end == datetime(2099, 8, 9, 20, 58, 26)


def test_verbose_fields() -> None:
    out = parse_as(
        CertificatesOutput,
        "show crypto pki certificates verbose 4k_keypair",
        _read("other/show_crypto_pki_certificates_verbose/iosxe_vg400_4k_keypair.txt"),
    )
    ident, ca = out.certificates
    assert ident.version == 3 and ident.key_size == 4096 and ident.key_type == "rsaEncryption"
    assert ident.signature_algorithm == "SHA256 with RSA Encryption"
    assert ident.fingerprint_md5 == "5C2556ED55BA2D9C47CE2668B1927DF7"
    assert ident.fingerprint_sha1 == "42CD404B43BF7AD0AD516F90565087D404277F15"
    assert ident.key_usage == ["Digital Signature", "Key Encipherment"] and ident.key_usage_hex == "A0000000"
    assert ident.subject_key_id == "6B466F52A518B5E7902DAFA7658D15FE57B2E541"
    assert ident.install_time == datetime(2024, 2, 19, 22, 35, 39)
    assert ident.key_label == "4k_keypair" and ident.key_storage == "private config"
    assert ca.basic_constraints_ca is True
    assert ca.trustpoints == ["4k_keypair", "TP_IP6", "4k"]


def test_verbose_san_eku_aia_install_ns() -> None:
    subj = parse_as(
        CertificatesOutput,
        "show crypto pki certificates verbose openssl_test",
        _read("genie/show_crypto_pki_certificates_verbose/iosxe__golden_output_subj.txt"),
    ).certificates[0]
    assert subj.subject_alt_names == ["IP Address: 100.100.100.1", "OtherNames:"]
    assert subj.install_time_ns == 1637402622832948992
    c9300 = parse(
        "show crypto pki certificates verbose",
        _read("muninn/show_crypto_pki_certificates_verbose/iosxe_001_basic_c9300.txt"),
    ).certificates[0]
    assert c9300.extended_key_usage == ["Client Auth", "Server Auth"]
    assert c9300.authority_info_access == ["CA ISSUERS: http://www.cisco.com/security/pki/certs/cmca.cer"]
    cml = parse_as(
        CertificatesOutput,
        "show crypto pki certificates verbose CA-ROOT",
        _read("other/show_crypto_pki_certificates_verbose/iosxe_cml_ca_root.txt"),
    ).certificates[0]
    assert cml.install_time == datetime(2026, 2, 22, 0, 8, 38)  # printed at column 0
    assert cml.trustpoints == ["CA-ROOT-SELF", "CA-ROOT"]
    assert cml.signature_algorithm == "MD5 with RSA Encryption"


def test_json_contract() -> None:
    out = parse(CMD, _read("other/show_crypto_pki_certificates/ios_r15_tz_moscow_word.txt"))
    doc = json.loads(out.model_dump_json())
    c = doc["certificates"][0]
    assert c["kind"] == "identity" and c["rollover"] is False
    assert c["start"] == "2024-11-14T23:32:02" and c["tz"] == "Moscow"
    assert c["serial"] == "02" and c["trustpoints"] == ["VPN"]
    assert doc["certificates"][1]["kind"] == "ca"


# ---- the seed (a Dutch machine translation with NBSPs and doubled line breaks) ----------


def _seed_block(start_marker: str) -> str:
    _need_shared()
    seed = next((SHARED / "seed").glob("*.txt")).read_text()
    i = seed.index(start_marker)
    j = seed.index("Root-CA#", i + len(start_marker))  # the next prompt ends the output
    return seed[i:j]


def test_seed_ca_server_before_rollover() -> None:
    out = parse(CMD, _seed_block("Root-CA#show crypto pki certificates"))
    (ca,) = out.certificates
    assert ca.kind is CertKind.ca and not ca.rollover and ca.serial == "01"
    assert ca.subject == "cn=RootCA,ou=TAC,o=Cisco"
    assert ca.start == datetime(2015, 10, 9, 13, 14, 16) and ca.end == datetime(2017, 10, 8, 13, 14, 16)
    assert ca.tz == "CET" and ca.trustpoints == ["ROOTCA"]


def test_seed_ca_server_with_rollover_certificate() -> None:
    # this block also carries the `terminal exec prompt timestamp` banner lines
    out = parse(CMD, _seed_block("Root-CA# show crypto pki certificates"))
    roll, cur = out.certificates
    assert roll.section == "CA Certificate (Rollover)" and roll.kind is CertKind.ca and roll.rollover
    assert roll.serial == "03" and roll.start == cur.end == datetime(2017, 10, 8, 13, 14, 16)
    assert roll.end == datetime(2019, 10, 8, 13, 14, 16) and roll.subject_fields["name"] == "RootCA"
    assert cur.serial == "01" and cur.storage == "nvram:RootCA#1CA.cer"


# ---- synthetic sections (formats from the behaviour doc §2.3 / §7) ----------------------

ROLLOVER_CLIENT = """\
client#show crypto pki certificates client
Certificate
  Status: Available
  Certificate Serial Number (hex): 05
  Certificate Usage: General Purpose
  Issuer:
    cn=ROOTCA
  Subject:
    Name: client.example.com
    hostname=client.example.com
  Validity Date:
    start date: 10:00:00 UTC Jan 1 2024
    end   date: 10:00:00 UTC Jan 1 2026
    renew date: 10:00:00 UTC Aug 1 2025
  Associated Trustpoints: client

Certificate (Rollover)
  Status: Available
  Certificate Serial Number (hex): 06
  Certificate Usage: General Purpose
  Issuer:
    cn=ROOTCA
  Subject:
    Name: client.example.com
    hostname=client.example.com
  Validity Date:
    start date: 10:00:00 UTC Jan 1 2026
    end   date: 10:00:00 UTC Jan 1 2027
  Associated Trustpoints: client

CA Certificate (Rollover)
  Status: Available
  Certificate Serial Number (hex): 07
  Certificate Usage: Signature
  Issuer:
    cn=ROOTCA
  Subject:
    cn=ROOTCA
  Validity Date:
    start date: 10:00:00 UTC Jan 1 2026
    end   date: 10:00:00 UTC Jan 1 2028
  Associated Trustpoints: client

CA Certificate
  Status: Available
  Certificate Serial Number: 0x01
  Certificate Usage: Signature
  Issuer:
    cn=ROOTCA
  Subject:
    cn=ROOTCA
  Validity Date:
    start date: 10:00:00 UTC Jan 1 2024
    end   date: 10:00:00 UTC Jan 1 2026
  Associated Trustpoints: client ROOTCA.lab
client#
"""


def test_synthetic_rollover_sections() -> None:
    out = parse_as(CertificatesOutput, "show crypto pki certificates client", ROLLOVER_CLIENT)
    got = [(c.kind, c.rollover, c.serial) for c in out.certificates]
    assert got == [
        (CertKind.identity, False, "05"),
        (CertKind.identity, True, "06"),
        (CertKind.ca, True, "07"),
        (CertKind.ca, False, "01"),  # old "0x" serial format
    ]
    assert out.certificates[0].renew == datetime(2025, 8, 1, 10, 0)
    assert out.certificates[3].trustpoints == ["client", "ROOTCA.lab"]


def _one(header: str, usage: str = "Signature") -> str:
    return (
        f"{header}\n  Status: Available\n  Certificate Serial Number (hex): 1A\n  Certificate Usage: {usage}\n"
        "  Issuer:\n    cn=ROOT\n  Subject:\n    cn=SUB\n  Validity Date:\n"
        "    start date: 13:14:16 IST Oct 8 2017\n    end   date: 13:14:16 IST Oct 8 2019\n"
        "  Associated Trustpoints: sub\n\n"
    )


@pytest.mark.parametrize(
    ("header", "kind", "rollover"),
    [
        ("Certificate (subordinate CA certificate)", CertKind.subordinate_ca, False),
        ("Certificate (subordinate CA certificate, Rollover)", CertKind.subordinate_ca, True),
        ("Certificate (RA mode CS certificate)", CertKind.ra_mode_cs, False),
        ("Certificate (RA mode CS certificate, Rollover)", CertKind.ra_mode_cs, True),
        ("RA Signature Certificate", CertKind.ra_signature, False),
        ("RA KeyEncipher Certificate", CertKind.ra_encryption, False),
        ("Router Self-Signed Certificate", CertKind.self_signed, False),
    ],
)
def test_synthetic_section_kinds(header: str, kind: CertKind, rollover: bool) -> None:
    (c,) = parse(CMD, _one(header)).certificates
    assert (c.section, c.kind, c.rollover) == (header, kind, rollover)
    assert c.tz == "IST" and c.start == datetime(2017, 10, 8, 13, 14, 16) and c.serial == "1A"


def test_session_noise_is_tolerated() -> None:
    text = "\r\n".join(
        [
            "R1#show crypto pki certificates",
            "Load for five secs: 0%/0%; one minute: 0%; five minutes: 0%",
            "Time source is NTP, 13:14:46.820 CET Mon Jul 10 2017",
            *_one("CA Certificate").splitlines()[:6],
            " --More-- \x08\x08\x08\x08\x08\x08\x08\x08\x08        \x08\x08\x08\x08\x08\x08\x08\x08\x08"
            + _one("CA Certificate").splitlines()[6],
            "*Mar  1 00:01:02.123: %SYS-5-CONFIG_I: Configured from console by console",
            *_one("CA Certificate").splitlines()[7:],
            "R1#",
        ]
    )
    (c,) = parse(CMD, text).certificates
    assert c.subject == "cn=SUB" and c.trustpoints == ["sub"]


def test_empty_output_means_no_certificates() -> None:
    assert parse(CMD, "R1#show crypto pki certificates\nR1#").certificates == []


# ---- rejection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bad_line"),
    [
        ("hello world\nthis is not it\n", "hello world"),
        ("Certificate Server ROOTCA:\n    Status: enabled\n", "Certificate Server ROOTCA:"),
        ("hostname R1\n!\ncrypto pki trustpoint TP\n enrollment url http://1.1.1.1\n", "hostname R1"),
        (_one("CA Certificate") + "  Fingerprint of doom\n", "Fingerprint of doom"),
        (_one("CA Certificate").replace("    cn=SUB\n", "    cn=SUB\n    random words\n"), "random words"),
        ("% Invalid input detected at '^' marker.\n", "% Invalid input detected at '^' marker."),
        (_one("CA Certificate").replace("13:14:16 IST Oct 8 2019", "13:14:16 IST Foo 8 2019"), "end   date"),
    ],
)
def test_foreign_text_is_rejected_naming_the_line(text: str, bad_line: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(CMD, text)
    assert exc.value.line is not None and bad_line in exc.value.line
    assert exc.value.lineno is not None and "cannot parse" in str(exc.value)


def test_truncated_section_is_rejected() -> None:
    text = _one("CA Certificate").split("  Validity Date:")[0]
    with pytest.raises(ParseError, match="no validity end date"):
        parse(CMD, text)


# ---- the two paths agree ------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_path_equals_line_scanner(path: Path) -> None:
    from iospki.parsers.certificates import parse_certificates

    text = path.read_text()
    assert parse_certificates(text) == parse_certificates(text, fast=False)


def test_every_truncation_parses_or_raises_parse_error() -> None:
    from iospki.parsers.certificates import parse_certificates

    lines = _read(
        "other/show_crypto_pki_certificates/c3850_sudi_legacy_selfsigned_apollo.clean.txt"
    ).splitlines()
    outcomes = set()
    for cut in range(len(lines)):
        text = "\n".join(lines[:cut])
        try:
            fast = parse_certificates(text)
        except ParseError:
            with pytest.raises(ParseError):
                parse_certificates(text, fast=False)
            outcomes.add("error")
        else:
            assert fast == parse_certificates(text, fast=False)
            outcomes.add("ok")
    assert outcomes == {"ok", "error"}


# ---- the other projects' expected results ------------------------------------------------

NTC_EXPECTED = sorted(REAL.glob("ntc/show_crypto_pki_certificates/*.expected.yml")) if REAL.is_dir() else []


@pytest.mark.parametrize("path", NTC_EXPECTED, ids=lambda p: p.name)
def test_ntc_expected_rows_match(path: Path) -> None:
    import yaml

    rows = yaml.safe_load(path.read_text())["parsed_sample"]
    out = parse(CMD, path.with_name(path.name.replace(".expected.yml", ".txt")).read_text())
    assert len(out.certificates) == len(rows)
    for cert, row in zip(out.certificates, rows, strict=True):
        assert cert.section == row["certificate_type"] and cert.serial == row["serial_number"]
        assert cert.status == row["status"] and cert.usage == row["certificate_usage"]
        for attr in ("e", "cn", "ou", "o", "l", "st", "c"):
            assert cert.issuer_fields.get(attr, "") == row[f"issuer_{attr}"]
            assert cert.subject_fields.get(attr, "") == row[f"subject_{attr}"]
        assert cert.subject_fields.get("name", "") == row.get("subject_name", "")
        assert cert.subject_fields.get("hostname", "") == row.get("subject_hostname", "")
        assert (cert.crl_distribution_points or [""])[0] == row["crl_distribution_point"]
        assert cert.start == _ios_time(row["start_date"]) and cert.end == _ios_time(row["end_date"])
        assert cert.renew == (_ios_time(row["renew_date"]) if row["renew_date"] else None)
        assert cert.trustpoints == row["associated_trustpoints"].split()
        assert cert.storage == row["storage"]


def test_muninn_expected_certificates_match() -> None:
    path = REAL / "muninn/show_crypto_pki_certificates/ios_001_basic.expected.json"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    expected = json.loads(path.read_text())["trustpoints"]
    out = parse(CMD, path.with_name("ios_001_basic.txt").read_text())
    seen = 0
    for tp, sections in expected.items():
        for section, e in sections.items():
            (mine,) = [c for c in out.certificates if c.section == section and tp in c.trustpoints]
            assert mine.serial == e["serial_number"] and mine.usage == e["usage"]
            assert (
                mine.issuer_fields == e["issuer"]
                and mine.subject_fields | e["subject"] == mine.subject_fields
            )
            assert mine.start == _ios_time(e["validity_date"]["start_date"])
            if "subject_name" in e:
                assert mine.subject_fields["name"] == e["subject_name"]
            seen += 1
    assert seen == len(out.certificates)


def test_shuffled_lines_never_crash() -> None:
    """Lines of a real output in random orders: a model or ParseError, nothing else."""
    import random

    lines = _read("genie/show_crypto_pki_certificates_verbose/iosxe__golden_output_csr.txt").splitlines()
    rnd = random.Random(7)
    for _ in range(300):
        rnd.shuffle(lines)
        with contextlib.suppress(ParseError):
            parse(CMD, "\n".join(lines))


def test_error_names_the_right_line_number_in_a_later_section() -> None:
    text = "R1#show crypto pki certificates\n" + _one("CA Certificate") * 3 + _one("Certificate")
    lines = text.split("\n")
    target = [i for i, ln in enumerate(lines) if "cn=SUB" in ln][2]  # third section's subject
    lines[target] = "    what is this line"
    with pytest.raises(ParseError) as exc:
        parse(CMD, "\n".join(lines))
    assert exc.value.lineno == target + 1 and exc.value.line == "    what is this line"


def test_fast_regex_groups_are_in_the_order_the_builder_unpacks() -> None:
    from iospki.parsers.certificates import _FAST, _FAST_V, _PLAIN_ORDER, _VERBOSE_ORDER

    assert _FAST.groups == len(_FAST.groupindex) == 13  # no unnamed groups
    assert list(_FAST.groupindex) == [
        "hdr", "status", "serial", "usage", "issuer", "skeys", "subject",
        "cdp", "start", "end", "renew", "tps", "storage",
    ]  # fmt: skip
    assert tuple(_FAST.groupindex) == _PLAIN_ORDER
    assert _FAST_V.groups == len(_FAST_V.groupindex) == len(_VERBOSE_ORDER) == 30
    assert tuple(_FAST_V.groupindex) == _VERBOSE_ORDER


def test_dn_lines_with_spaces_around_equals() -> None:
    text = _one("CA Certificate").replace("    cn=SUB\n", "    CN = tpca-root\n    O = Company\n")
    (c,) = parse(CMD, text).certificates
    assert (
        c.subject_fields == {"CN": "tpca-root", "O": "Company"} and c.subject == "CN = tpca-root,O = Company"
    )


@pytest.mark.parametrize(
    ("printed", "tz"),
    [
        ("13:14:16 UTC Oct 8 2017", "UTC"),
        ("13:14:16.500 IST Sun Oct 8 2017", "IST"),
        ("13:14:16 Oct 8 2017", None),
    ],
)
def test_time_formats(printed: str, tz: str | None) -> None:
    text = _one("CA Certificate").replace("13:14:16 IST Oct 8 2017", printed)
    (c,) = parse(CMD, text).certificates
    assert c.start is not None and c.start.replace(microsecond=0) == datetime(2017, 10, 8, 13, 14, 16)
    assert c.tz == tz


def test_an_empty_subject_dn_is_empty_not_missing() -> None:
    """A certificate issued with an empty subject (a third-party CA that keeps only the alternative
    names; micromdm scepserver does this) prints `Subject:` with no DN line: the subject is the empty DN,
    on the fast path and the scanner alike; a missing `Subject:` line stays an error."""
    text = (
        "Certificate\n  Status: Available\n  Certificate Serial Number (hex): 02\n"
        "  Certificate Usage: General Purpose\n  Issuer:\n    c=US\n    o=Third Party CA\n"
        "  Subject:\n  Validity Date:\n    start date: 14:09:18 UTC Dec 2 2026\n"
        "    end   date: 14:09:18 UTC Dec 2 2027\n  Associated Trustpoints: EXT \n"
    )
    out = parse("show crypto pki certificates", text)
    assert [(c.serial, c.subject, c.issuer) for c in out.certificates] == [("02", "", "c=US,o=Third Party CA")]
    # with a Storage line too
    odd = text.replace("  Associated Trustpoints: EXT \n", "  Associated Trustpoints: EXT \n  Storage: nvram:x#2.cer\n")
    assert parse("show crypto pki certificates", odd).certificates[0].subject == ""
    with pytest.raises(ParseError):
        parse("show crypto pki certificates", text.replace("  Subject:\n", ""))
