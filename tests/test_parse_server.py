"""`show crypto pki server [NAME]`, `... requests`, `... certificates`, `... crl`: real outputs,
genie's expectations, the seed's rollover output and the behaviour notes' samples."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from iospki.models import Crl, IssuedCertificatesOutput, RequestsOutput, ServersOutput
from iospki.parsers import ParseError, parse
from tests.parse_support import fixture_ids, fixtures, read, seed_block

SERVERS = fixtures("show_crypto_pki_server")
REQUESTS = fixtures("show_crypto_pki_server_requests")
CRLS = fixtures("show_crypto_pki_server_crl")


def _genie(path: Path) -> dict | None:  # type: ignore[type-arg]
    p = path.with_name(path.name.replace(".txt", ".genie.json"))
    return json.loads(p.read_text()) if p.is_file() else None


def _nospace(s: str) -> str:
    return "".join(s.split())


@pytest.mark.parametrize("path", SERVERS, ids=fixture_ids(SERVERS))
def test_real_server_outputs(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki server", text)
    assert isinstance(out, ServersOutput)
    assert [s.name for s in out.servers] == re.findall(r"^Certificate Server (\S+):\s*$", text, re.M)
    # every "Key: value" line of the raw text landed somewhere
    for srv in out.servers:
        for m in re.finditer(r"^\s*(Granting mode is|Current primary storage dir): (.+?)\s*$", text, re.M):
            assert m[2] in (srv.grant_mode, srv.storage_dir)
    genie = _genie(path)
    if genie:
        for name, exp in genie["server"].items():
            srv = next(s for s in out.servers if s.name == name)
            pairs = {
                "status": srv.status,
                "state": srv.state,
                "issuer": srv.issuer,
                "grant_mode": srv.grant_mode,
                "last_serial_num": srv.last_serial,
                "primary_storage": srv.storage_dir,
                "fingerprint": srv.ca_fingerprint,
                "ra_fingerprint": srv.ra_fingerprint,
            }
            for key, mine in pairs.items():
                if key in exp:
                    want = _nospace(exp[key]) if "fingerprint" in key else exp[key]
                    assert mine == want, key
            if exp.get("ca_type") == "RA":
                assert srv.ra_mode and srv.mode == "ra"
            for key, mine_dt in (
                ("ca_expiry_timer", srv.ca_expires),
                ("crl_next_update_timer", srv.crl_next_update),
                ("auto_rollover_timer", srv.autorollover_at),
            ):
                if key in exp:
                    assert mine_dt == datetime.strptime(exp[key], "%H:%M:%S %Z %b %d %Y"), key


def test_csr8kv_auto_rollover() -> None:
    path = next((p for p in SERVERS if p.name == "iosxe__golden_output_csr8kv.txt"), None)
    if path is None:
        pytest.skip("fixture absent")
    (srv,) = parse("show crypto pki server root", read(path)).servers  # type: ignore[attr-defined]
    assert srv.auto_rollover_days == 1
    assert srv.autorollover_at == datetime(2025, 1, 3, 12, 58, 34)
    assert srv.ca_expires == datetime(2025, 1, 4, 12, 58, 34) and srv.tz == "UTC"
    assert srv.database_level == "complete" and srv.locked is True


def test_seed_rollover_lines() -> None:
    out = parse("show crypto pki server", seed_block("Root-CA# show crypto pki server", "Root-CA# show run"))
    (srv,) = out.servers
    assert srv.name == "ROOTCA" and srv.issuer == "CN=RootCA,OU=TAC,O=Cisco"
    assert srv.rollover_status == "available for rollover"
    assert srv.rollover_fingerprint == "031904DCF4FAD1FD8A866373C63CE20F"
    assert srv.rollover_expires == datetime(2019, 10, 8, 13, 14, 16)
    assert srv.auto_rollover_days == 90 and srv.storage_dir == "unix:/iosca-root/" and srv.tz == "CET"


TWO_SERVERS = """\
CA-Server#show crypto pki server
Certificate Server Trust-CA:
    Status: disabled, HTTP Server is disabled
    State: check failed
    Server's configuration is locked  (enter "shut" to unlock it)
    Issuer name: CN=cisco L=NewZealand C=NZ
    CA cert fingerprint: 8C2EA580 AD3B0A93 7649299A 14D6E7CF\x20
    Granting mode is: manual
    Last certificate issued serial number (hex): 1
    CA certificate expiration timer: 18:05:13 UTC Mar 10 2029
    CRL NextUpdate timer: 00:05:13 UTC Mar 12 2026
    Current primary storage dir: nvram:
    Database Level: Minimum - no cert data written to storage
Certificate Server sub.ca:
    Status: enabled
    State: enabled
    Server's configuration is locked  (enter "shut" to unlock it)
    Issuer name: CN=sub
    CA cert fingerprint: 779DB914 822A6E71 33EF87A9 9684D5EB
    Upper CA cert fingerprint: 56068029 4A003DFF 3D6B7B9B D7AC9AFD
    Granting mode is: auto
    Current primary storage dir: flash:
    Database Level: Complete - all issued certs written as <serialnum>.cer
    Rollover status: available for rollover
        Rollover CA cert fingerprint: 031904DC F4FAD1FD 8A866373 C63CE20F
        Rollover CA certificate expiration time: 13:14:16 GMT Oct 8 2019
    Auto-Rollover configured, overlap period 30 days
    Autorollover timer: 13:14:16 GMT Sep 8 2017
CA-Server#"""


def test_two_servers_check_failed_and_rollover() -> None:
    a, b = parse("show crypto pki server", TWO_SERVERS).servers
    assert (a.name, a.status, a.status_reason, a.state) == (
        "Trust-CA",
        "disabled",
        "HTTP Server is disabled",
        "check failed",
    )
    assert a.ca_fingerprint == "8C2EA580AD3B0A937649299A14D6E7CF" and a.database_level == "minimum"
    assert a.rollover_status is None and a.auto_rollover_days is None
    assert b.name == "sub.ca" and b.upper_ca_fingerprint == "560680294A003DFF3D6B7B9BD7AC9AFD"
    assert b.rollover_fingerprint == "031904DCF4FAD1FD8A866373C63CE20F"
    assert b.rollover_expires == datetime(2019, 10, 8, 13, 14, 16) and b.autorollover_at == datetime(
        2017, 9, 8, 13, 14, 16
    )
    assert b.auto_rollover_days == 30 and b.tz == "GMT"


@pytest.mark.parametrize(
    "text",
    [
        "Certificate Server X:\n    Status: enabled\n    Fancy new line: 1\n",
        "    Status: enabled\n",
        "% Certificate Server not configured\n",
    ],
)
def test_server_garbage_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse("show crypto pki server", text)


@pytest.mark.parametrize("path", REQUESTS, ids=fixture_ids(REQUESTS))
def test_real_requests(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki server CA requests", text)
    assert isinstance(out, RequestsOutput)
    rows = re.findall(r"^(\d+)\s+(\w+)\s+([0-9A-F]{32})\s+(.*?)\s*$", text, re.M)
    assert [(str(r.req_id), r.state, r.fingerprint, r.subject) for r in out.requests] == rows
    genie = _genie(path)
    if genie:
        for section, reqs in genie["request"].items():
            for rid, exp in reqs.items():
                mine = [
                    r for r in out.requests if r.section == section.replace("_", "-") and r.req_id == int(rid)
                ]
                assert mine and mine[0].state == exp["state"] and mine[0].subject == exp["subject_name"]


def test_requests_sections_and_values() -> None:
    text = """R12#show crypto pki server R12 requests
Enrollment Request Database:

Subordinate CA certificate requests:
ReqID  State      Fingerprint                      SubjectName
--------------------------------------------------------------

RA certificate requests:
ReqID  State      Fingerprint                      SubjectName
--------------------------------------------------------------
7      granted    744566E755B84AEE18A86DF715D8EE33 hostname=pki-reg2.cisco.com,cn=R1 C=pki

Router certificates requests:
ReqID  State      Fingerprint                      SubjectName
--------------------------------------------------------------
3      pending    DCA83FF8BB8BF209C8CF0A933B4D7BAD serialNumber=67109312+hostname=R28.CHOKURDACH
2      pending    7E45F866CE223D17463622FC17DD0F6E serialNumber=67109296+hostname=R27.LABITNANGI
"""
    out = parse("show crypto pki server R12 requests", text)
    got = [(r.section, r.req_id, r.state) for r in out.requests]  # type: ignore[attr-defined]
    assert got == [("ra", 7, "granted"), ("router", 3, "pending"), ("router", 2, "pending")]
    with pytest.raises(ParseError):
        parse(
            "show crypto pki server R12 requests", "3      pending    DCA83FF8BB8BF209C8CF0A933B4D7BAD cn=x\n"
        )


def test_issued_certificates() -> None:
    text = """R12#show crypto pki server R12 certificates
Serial Issued date              Expire date               Subject Name
1       05:52:21 UTC Mar 24 2025 05:52:21 UTC Mar 23 2028  cn=R12
2       06:14:56 UTC Mar 24 2025 06:14:56 UTC Mar 24 2026  serialNumber=67109088+hostname=R14.moscow.ru
"""
    out = parse("show crypto pki server R12 certificates", text)
    assert isinstance(out, IssuedCertificatesOutput)
    assert [(c.serial, c.issued, c.expires, c.subject) for c in out.certificates] == [
        ("1", datetime(2025, 3, 24, 5, 52, 21), datetime(2028, 3, 23, 5, 52, 21), "cn=R12"),
        (
            "2",
            datetime(2025, 3, 24, 6, 14, 56),
            datetime(2026, 3, 24, 6, 14, 56),
            "serialNumber=67109088+hostname=R14.moscow.ru",
        ),
    ]
    with pytest.raises(ParseError):
        parse("show crypto pki server R12 certificates", text + "3 garbage\n")


@pytest.mark.parametrize("path", CRLS, ids=fixture_ids(CRLS))
def test_real_server_crl(path: Path) -> None:
    text = read(path)
    out = parse("show crypto pki server ios_rootca crl", text)
    assert isinstance(out, Crl)
    exp = _genie(path)["crl"]  # type: ignore[index]
    assert out.issuer == exp["issuer"] and out.entries == exp["number_of_crl_entries"]
    assert out.size_bytes == exp["crl_size_bytes"] and out.tz == "IST"
    assert out.next_update == datetime.strptime(exp["next_update"].replace(" IST", ""), "%H:%M:%S %b %d %Y")
    assert [(r.serial, r.revoked_at) for r in out.revoked] == [
        (
            e["serial_number_in_hex"],
            datetime.strptime(e["revocation_date"].replace(" IST", ""), "%H:%M:%S %b %d %Y"),
        )
        for e in exp["revoked_certificates"]
    ]
    assert len(out.revoked) == len(re.findall(r"Serial Number \(hex\)", text))


def test_syslog_and_prompts_interleaved_are_skipped() -> None:
    text = """R1#show crypto pki server
Certificate Server CA:
    Status: enabled
*Mar  1 00:00:12.123: %PKI-6-CS_GRANT_AUTO: All enrollment requests will be automatically granted.
    State: enabled
R1#
    Granting mode is: auto
R1#"""
    (srv,) = parse("show crypto pki server", text).servers
    assert (srv.name, srv.status, srv.state, srv.grant_mode) == ("CA", "enabled", "enabled", "auto")


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ("show crypto pki server", "servers"),
        ("show crypto pki server CA requests", "requests"),
        ("show crypto pki server CA certificates", "certificates"),
        ("show crypto pki crls", "crls"),
        ("show crypto pki trustpoints", "trustpoints"),
        ("show crypto pki trustpoints status", "trustpoints"),
        ("show crypto key mypubkey rsa", "keys"),
        ("show crypto pki timers", "timers"),
    ],
)
def test_empty_list_output_means_none(command: str, field: str) -> None:
    # IOS prints nothing when there is no server/trustpoint/key/CRL: an empty list, not an error
    out = parse(command, f"R1#{command}\r\nR1#")
    assert getattr(out, field) == []


@pytest.mark.parametrize("command", ["show clock", "show ntp status", "show crypto pki server CA crl"])
def test_empty_output_of_always_printing_commands_is_an_error(command: str) -> None:
    with pytest.raises(ParseError, match="empty output"):
        parse(command, f"R1#{command}\nR1#")


def test_a_line_the_template_missed_is_an_error_not_a_drop() -> None:
    from iospki.parsers.lines import verify_landed
    from iospki.parsers.server import _SERVER_RULES

    block = ["Certificate Server CA:", "    Status: enabled", "    Granting mode is: auto"]
    verify_landed(
        "show crypto pki server",
        block,
        _SERVER_RULES,
        {"name": "CA", "status": "enabled", "grant_mode": "auto"},
    )
    with pytest.raises(ParseError, match="grant_mode") as exc:
        verify_landed("show crypto pki server", block, _SERVER_RULES, {"name": "CA", "status": "enabled"})
    assert exc.value.line is not None and "Granting mode" in exc.value.line


def test_older_ios_serial_and_storage_lines() -> None:
    # 12.4T-era wording: serial number with 0x and no "(hex)", "Current storage dir:"
    text = """Certificate Server routercert:
    Status: enabled, configured
    CA cert fingerprint: 5A856122 4051347F 99B7E5A1 4A2D8B1A
    Granting mode is: auto
    Last certificate issued serial number: 0x1A
    CA certificate expiration timer: 17:04:52 GMT Sep 29 2006
    CRL NextUpdate timer: 17:04:52 GMT Oct 1 2004
    Current storage dir: nvram:
    Database Level: Minimum - no cert data written to storage
"""
    (srv,) = parse("show crypto pki server", text).servers
    assert (srv.status, srv.status_reason, srv.last_serial, srv.storage_dir) == (
        "enabled",
        "configured",
        "1A",
        "nvram:",
    )


def test_unlocked_server_and_bare_database_level() -> None:
    text = """Certificate Server CA:
    Status: disabled
    State: disabled
    Server's configuration is unlocked
    Database Level: Names
"""
    (srv,) = parse("show crypto pki server", text).servers
    assert (srv.locked, srv.database_level, srv.status) == (False, "names", "disabled")


def test_more_pager_remnants_do_not_join_lines() -> None:
    erase = "\x08" * 10 + " " * 10 + "\x08" * 10
    text = (
        "R1#show crypto pki server\r\nCertificate Server CA:\r\n    Status: enabled\r\n"
        f" --More-- {erase}    State: enabled   \r\n    Granting mode is: auto\r\nR1#"
    )
    (srv,) = parse("show crypto pki server", text).servers
    assert (srv.status, srv.state, srv.grant_mode) == ("enabled", "enabled", "auto")
