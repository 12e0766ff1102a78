"""The PKI part of `show running-config`: the seed's configuration snippets, a synthetic full
configuration with every setting, unit handling of lifetimes, chains, secrets and rejection."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from iospki.models import RunningConfig
from iospki.parsers import ParseError, parse

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CMD = "show running-config"

FULL = """\
R1#show running-config
Building configuration...

Current configuration : 4242 bytes
!
! Last configuration change at 10:00:00 UTC Mon Jan 1 2024
!
version 15.4
service timestamps debug datetime msec
hostname CA-R1
!
boot-start-marker
boot-end-marker
!
enable secret 9 $9$notarealhash
!
clock timezone CET 1 0
clock calendar-valid
!
ip domain name lab.example
!
crypto pki server CA-R1
 database level names
 database url nvram:
 database archive pem password 0 Sup3rSecret
 issuer-name CN=CA-R1,OU=Lab,O=Example
 grant auto
 grant auto rollover ca-cert
 lifetime crl 24
 lifetime enrollment-request 168
 lifetime certificate 1 2 3
 lifetime ca-certificate 730
 auto-rollover
 hash sha256
 cdp-url http://192.0.2.1/cgi-bin/pkiclient.exe?operation=GetCRL
 no shutdown
!
crypto pki server SUB
 mode sub-cs
 lifetime crl 1 30
 auto-rollover 10 12 30
 shutdown
!
crypto pki server RUNNING
 grant none
!
crypto pki trustpoint CA-R1
 revocation-check crl
 rsakeypair CA-R1
!
crypto pki trustpoint client.tp
 enrollment mode ra
 enrollment url http://127.10.0.1:80
 enrollment retry count 5
 enrollment retry period 2
 serial-number none
 ip-address 127.10.0.2
 fqdn r2.lab.example
 subject-name CN=r2.lab.example, OU=Lab
 revocation-check crl none
 rsakeypair client-key 2048
 auto-enroll 70 regenerate
 password 7 0822455D0A16
 hash sha256
!
crypto pki trustpoint SLA-TrustPoint
 enrollment pkcs12
 revocation-check crl
!
crypto pki trustpoint SELF
 enrollment selfsigned
 serial-number
 auto-enroll
!
crypto pki certificate chain CA-R1
 certificate ca 01
  30820237 308201A0 A0030201 02020101 300D0609 2A864886 F70D0101 04050030
  5054EA21 99CCE4F3 40B471FE DEB4BB38 AC3ACD48 4CDDCBC9 9829D3
  \tquit
 certificate ca rollover 03
  30820237 308201A0
  \tquit
crypto pki certificate chain client.tp
 certificate 0A
  3082
  \tquit
 certificate rollover 0B
  3082
  \tquit
crypto pki certificate chain SELF
 certificate self-signed 01
  3082
  \tquit
!
interface GigabitEthernet0/0
 ip address 127.10.0.1 255.255.255.0
 description Status: not a certificate line
!
banner motd ^C
Authorized access only!
Certificate
  Status: Available
^C
ip http server
ip http port 8080
no ip http secure-server
!
ntp master 3
ntp server vrf MGMT 127.10.0.5 prefer
ntp server 127.10.0.6
!
username admin privilege 15 password 0 AlsoSecret
line vty 0 4
 transport input ssh
!
end

R1#"""


@pytest.fixture(scope="module")
def full() -> RunningConfig:
    out = parse(CMD, FULL)
    assert isinstance(out, RunningConfig)
    return out


def test_globals(full: RunningConfig) -> None:
    assert full.hostname == "CA-R1" and full.domain_name == "lab.example"
    assert full.ip_http_server and not full.ip_http_secure_server and full.ip_http_port == 8080
    assert full.clock_calendar_valid and full.clock_timezone == "CET 1 0"
    assert full.ntp_master and full.ntp_servers == ["127.10.0.5", "127.10.0.6"]


def test_server_block(full: RunningConfig) -> None:
    ca, sub, running = full.servers
    assert ca.name == "CA-R1" and ca.shutdown is False
    assert ca.database_level == "names" and ca.database_url == "nvram:"
    assert ca.database_archive == "pem" and ca.database_archive_password_set
    assert ca.issuer_name == "CN=CA-R1,OU=Lab,O=Example" and ca.grant == "auto"
    assert ca.grant_auto_rollover == ["ca-cert"]
    assert ca.lifetime_crl == timedelta(hours=24)  # crl lifetime is in hours
    assert ca.lifetime_enrollment_request == timedelta(hours=168)
    assert ca.lifetime_certificate == timedelta(days=1, hours=2, minutes=3)
    assert ca.lifetime_ca_certificate == timedelta(days=730)
    assert ca.auto_rollover == timedelta(days=30)  # no argument: 30 days
    assert ca.hash == "sha256" and ca.cdp_url is not None and ca.cdp_url.endswith("GetCRL")
    assert sub.mode == "sub-cs" and sub.shutdown is True
    assert running.shutdown is False and running.grant == "none"  # IOS prints no line for a running CS
    assert sub.lifetime_crl == timedelta(hours=1, minutes=30)
    assert sub.auto_rollover == timedelta(days=10, hours=12, minutes=30)
    assert sub.grant is None and sub.lifetime_certificate is None


def test_trustpoint_blocks(full: RunningConfig) -> None:
    cs, client, sla, self_tp = full.trustpoints
    assert sla.name == "SLA-TrustPoint" and sla.enrollment_mode == "pkcs12"
    assert cs.name == "CA-R1" and cs.rsakeypair == "CA-R1" and cs.revocation_check == ["crl"]
    assert client.name == "client.tp"
    assert client.enrollment_mode == "ra" and client.enrollment_url == "http://127.10.0.1:80"
    assert (client.enrollment_retry_count, client.enrollment_retry_period) == (5, 2)
    assert client.serial_number == "none" and client.ip_address == "127.10.0.2"
    assert client.fqdn == "r2.lab.example" and client.subject_name == "CN=r2.lab.example, OU=Lab"
    assert client.revocation_check == ["crl", "none"]
    assert (client.rsakeypair, client.rsakeypair_size) == ("client-key", 2048)
    assert client.auto_enroll and client.auto_enroll_percent == 70 and client.auto_enroll_regenerate
    assert client.password_set and client.hash == "sha256"
    assert self_tp.enrollment_mode == "selfsigned" and self_tp.serial_number == ""
    assert self_tp.auto_enroll and self_tp.auto_enroll_percent is None and not self_tp.auto_enroll_regenerate


def test_chains_skip_hex(full: RunningConfig) -> None:
    chains = {c.trustpoint: [(x.kind, x.serial) for x in c.certificates] for c in full.chains}
    assert chains == {
        "CA-R1": [("ca", "01"), ("ca-rollover", "03")],
        "client.tp": [("certificate", "0A"), ("rollover", "0B")],
        "SELF": [("self-signed", "01")],
    }


def test_secrets_never_kept(full: RunningConfig) -> None:
    dumped = full.model_dump_json()
    for secret in ("Sup3rSecret", "0822455D0A16", "AlsoSecret", "notarealhash"):
        assert secret not in dumped


def test_section_filter_output() -> None:
    text = "R1#show running-config | section crypto pki\ncrypto pki server CA\n no shutdown\n"
    out = parse("show running-config | section crypto pki", text)
    assert [s.name for s in out.servers] == ["CA"] and out.servers[0].shutdown is False  # type: ignore[attr-defined]


def test_startup_config_preamble() -> None:
    text = "Using 1234 out of 262144 bytes\n!\nhostname R9\nip http secure-server\nend\n"
    out = parse("show startup-config", text)
    assert out.hostname == "R9" and out.ip_http_secure_server


# ---- the seed (PDF text: NBSPs, blank lines between lines, uneven indentation) ----------


def _seed_between(start: str, stop: str) -> str:
    if not SHARED.is_dir():
        pytest.skip(f"reference material not found at {SHARED}")
    seed = next((SHARED / "seed").glob("*.txt")).read_text()
    i = seed.index(start)
    return seed[i : seed.index(stop, i)]


def test_seed_server_config() -> None:
    text = _seed_between("crypto pki server ROOTCA", "De auto-omloop")
    out = parse(CMD, text)
    (srv,) = out.servers  # type: ignore[attr-defined]
    assert srv.name == "ROOTCA" and srv.database_level == "complete"
    assert srv.database_archive == "pkcs12" and srv.database_archive_password_set
    assert srv.issuer_name == "CN=RootCA,OU=TAC,O=Cisco" and srv.grant == "auto"
    assert srv.lifetime_certificate == timedelta(days=365)
    assert srv.lifetime_ca_certificate == timedelta(days=730)
    # the seed's own value (its address is not repeated here: nothing in the repo names a private address)
    assert srv.database_url == re.search(r"database url (\S+)", text).group(1)  # type: ignore[union-attr]
    assert srv.database_url.startswith("ftp://") and srv.database_url.endswith("/DB/ROOTCA/")
    assert srv.auto_rollover == timedelta(days=90)
    assert "01100F175804575D72" not in out.model_dump_json()


def test_seed_trustpoint_config() -> None:
    text = _seed_between("crypto pki trustpoint Root-CA", "Hier staat")
    out = parse(CMD, text)
    (tp,) = out.trustpoints  # type: ignore[attr-defined]
    assert tp.enrollment_url == re.search(r"enrollment url (\S+)", text).group(1)  # type: ignore[union-attr]
    assert (
        tp.enrollment_url.startswith("http://")
        and tp.enrollment_url.endswith(":80")
        and tp.serial_number == ""
    )
    assert tp.ip_address == "none" and tp.subject_name == "CN=spoke-1.cisco.com,OU=CVO"
    assert tp.revocation_check == ["crl"] and tp.rsakeypair == "spoke-1-RSA"
    assert tp.auto_enroll and tp.auto_enroll_percent == 80 and tp.password_set
    assert "Rev0cati0n" not in out.model_dump_json()


def test_seed_certificate_chain() -> None:
    out = parse(
        "show run | section chain ROOTCA", _seed_between("crypto pki certificate chain ROOTCA", "Handmatig")
    )
    (chain,) = out.chains  # type: ignore[attr-defined]
    assert chain.trustpoint == "ROOTCA"
    assert [(c.kind, c.serial) for c in chain.certificates] == [("ca-rollover", "03"), ("ca", "01")]


# ---- rejection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Certificate\n  Status: Available\n  Certificate Serial Number (hex): 01\n", "Certificate"),
        ("Hello, this is not a config.\n", "Hello, this is not a config."),
        (
            "hostname R1\ncrypto pki server CA\n lifetime certificate forever\n",
            "lifetime certificate forever",
        ),
        ("crypto pki certificate chain TP\n certificate ca 01\n  3082 ZZZZ\n", "3082 ZZZZ"),
        ("hostname R1\nntp server\n", "ntp server"),
    ],
)
def test_not_a_config_is_rejected(text: str, bad: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(CMD, text)
    assert exc.value.line is not None and bad in exc.value.line


def test_lowercase_words_without_any_config_anchor_are_rejected() -> None:
    with pytest.raises(ParseError, match="no configuration commands"):
        parse(CMD, "lorem ipsum dolor\nsit amet\n")


def test_error_lines_are_redacted() -> None:
    text = "crypto pki certificate chain TP\n certificate ca 01\n  password 0 hunter2\n"
    with pytest.raises(ParseError) as exc:
        parse(CMD, text)
    assert "hunter2" not in str(exc.value) and "<redacted>" in str(exc.value)


# ---- the fast path's own shortcuts (issue 13 §1): each case is read by `_fast` or left to the strict path,
# and the result (model or ParseError) is the strict path's

_CLIENT = """\
Building configuration...

Current configuration : 1200 bytes
!
version 15.1
hostname r1
ip domain name lab.test
ip access-list extended ACL
 permit ip any any
 deny ip any any
crypto pki trustpoint TP
 enrollment url http://127.0.0.1:80
 revocation-check none
crypto pki certificate chain TP
 certificate 02
  308202FD 308201E5 A0030201
  0D310B30 06
  \tquit
 certificate ca 01
  3082 02F8
  \tquit
!
interface Loopback0
 ip address 127.0.0.2 255.255.255.255
!
end
"""


def _both(text: str) -> tuple[object, object]:
    from iospki.parsers.running_config import _fast, parse_running_config

    def strict() -> object:
        try:
            return parse_running_config(text, None, fast=False)
        except ParseError:
            return "ParseError"

    return _fast(text), strict()


@pytest.mark.parametrize(
    ("old", "new", "taken"),
    [
        ("", "", True),  # the usual layout
        ("ip domain name", "ip \t domain name", True),  # blanks as str.split cuts them
        ("ip domain name", "ip\x0bdomain name", True),
        ("ip domain name", "ip  \x0c domain name", True),
        ("ip domain name", "ip#domain name", False),  # an odd column-0 line
        ("ip domain name", "ip domainname", True),  # picked (a prefix), read as `_read` reads it
        ("ip access-list", "ip http port 8o\nip access-list", False),  # `_read` raises on a picked line
        ("ip access-list", "ntp server\nip access-list", False),
        ("  0D310B30 06", "  0D310B30 6", False),  # a one-digit hex word: `_read` raises
        ("  0D310B30 06", "  0D310B30 066", False),  # an odd-length word: left to the strict path
        ("  0D310B30 06", "  0D310B30 06\n\n   \n", True),  # blank lines in the dump
        ("  0D310B30 06", "0d310b30 06", False),  # a column-0 line ends the chain: not a hex line
        ("  0D310B30 06", "  0D310B30 XY", False),
        ("  \tquit\n certificate ca", "  \tquit x\n certificate ca", False),
        (" certificate ca 01", "certificate ca 01", True),  # a column-0 entry stays in the chain
        (" certificate ca 01", " certificate\x0bca 01", False),
        ("  3082 02F8\n  \tquit\n!", "  3082 02F8\n  \tquit", True),  # the chain runs up to `interface`
        ("  3082 02F8\n  \tquit\n!", "  3082 02F8\nquit", True),  # a last column-0 `quit`
        (" revocation-check none", " revocation-check none\n AB CD", True),  # not a chain: a setting
    ],
)
def test_fast_path_shortcuts_give_the_strict_result(old: str, new: str, taken: bool) -> None:
    assert old in _CLIENT
    quick, strict = _both(_CLIENT.replace(old, new, 1))
    assert (quick is not None) == taken, strict
    if quick is not None:
        assert quick == strict
    assert isinstance(strict, RunningConfig) or not taken


@pytest.mark.parametrize(
    ("banner", "taken"),
    [
        ("banner motd ^C\nAuthorized access only!\n10:00 Maintenance\n^C\n", True),
        ("banner motd ^C Authorized access only ^C\n", True),  # on one line
        ("banner login #\nNo entry\n#\n", True),  # a one-character delimiter
        (
            "banner exec ^C\ncrypto pki trustpoint EVIL\n enrollment url http://x\n^C\n",
            True,
        ),  # text, not config
        ("banner motd ^C\nhi\n^Chostname evil\n", True),  # the closing line is all banner
        ("banner motd ^C\nhi\n^C\n revocation-check crl\n", True),  # no longer in the trust point above
        ("banner motd ^C\nnever closed\nhostname evil\n", True),
        ("banner motd\n", False),  # not a banner to `_read`: the strict path decides
        ("banner\n", False),
        ("banner\x0bmotd ^C x ^C\n", False),
        ("banner motd ^C\nx\n^C\nbanner login ^C\ny\n^C\n", True),
    ],
)
def test_fast_path_reads_configs_with_banners(banner: str, taken: bool) -> None:
    """A banner's text is cut out as `_read` skips it (issue 13 §1): the strict model, and no line of the
    text read as config."""
    text = _CLIENT.replace("!\ninterface", banner + "!\ninterface", 1).replace(
        " revocation-check none\n", "", 1
    )
    quick, strict = _both(text)
    assert (quick is not None) == taken, strict
    if quick is not None:
        assert quick == strict
        assert isinstance(quick, RunningConfig)
        assert [tp.name for tp in quick.trustpoints] == ["TP"] and quick.hostname == "r1"
