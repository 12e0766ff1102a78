"""`show version` parsing, and the typed parse API: UnknownCommand, parser bugs as ParseError naming the line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from iospki.lab.platforms import make_platform, serial_number, show_version
from iospki.models import Version
from iospki.parsers import ParseError, UnknownCommand, parse

# An ISR G2 as IOS 15.x prints it: licence tables and the long cryptography notice between the fields
# (layout as in Cisco's published `show version` examples; numbers changed).
ISR_G2 = """\
Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.4(3)M10, RELEASE SOFTWARE (fc1)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2019 by Cisco Systems, Inc.
Compiled Thu 14-Nov-19 18:02 by prod_rel_team

ROM: System Bootstrap, Version 15.0(1r)M15, RELEASE SOFTWARE (fc1)

branch-rtr uptime is 1 year, 12 weeks, 3 days, 2 hours, 41 minutes
System returned to ROM by power-on
System restarted at 09:12:44 CET Tue Mar 3 2026
System image file is "flash0:c2900-universalk9-mz.SPA.154-3.M10.bin"
Last reload type: Normal Reload
Last reload reason: power-on



This product contains cryptographic features and is subject to United
States and local country laws governing import, export, transfer and
use. Delivery of Cisco cryptographic products does not imply
third-party authority to import, export, distribute or use encryption.
Importers, exporters, distributors and users are responsible for
compliance with U.S. and local country laws. By using this product you
agree to comply with applicable laws and regulations. If you are unable
to comply with U.S. and local laws, return this product immediately.

A summary of U.S. laws governing Cisco cryptographic products may be found at:
http://www.cisco.com/wwl/export/crypto/tool/stqrg.html

If you require further assistance please contact us by sending email to
export@cisco.com.
Cisco CISCO2911/K9 (revision 1.0) with 483328K/40960K bytes of memory.
Processor board ID FTX1234A5BC
3 Gigabit Ethernet interfaces
1 terminal line
1 Virtual Private Network (VPN) Module
DRAM configuration is 64 bits wide with parity enabled.
255K bytes of non-volatile configuration memory.
250880K bytes of ATA System CompactFlash 0 (Read/Write)


License Info:

License UDI:

-------------------------------------------------
Device#   PID                   SN
-------------------------------------------------
*0        CISCO2911/K9          FTX1234A5BC



Technology Package License Information for Module:'c2900'

-----------------------------------------------------------------
Technology    Technology-package           Technology-package
              Current       Type           Next reboot
------------------------------------------------------------------
ipbase        ipbasek9      Permanent      ipbasek9
security      securityk9    Permanent      securityk9
uc            None          None           None
data          None          None           None

Configuration register is 0x2102

branch-rtr#"""


def test_isr_g2_with_licence_tables_and_legal_text() -> None:
    v = parse("show version", "branch-rtr#show version\n" + ISR_G2)
    assert isinstance(v, Version)
    assert (v.software, v.family, v.model, v.hostname) == ("15.4(3)M10", "ios", "CISCO2911/K9", "branch-rtr")
    assert v.image == "C2900 Software (C2900-UNIVERSALK9-M)"
    assert v.uptime_seconds == 365 * 86400 + 12 * 7 * 86400 + 3 * 86400 + 2 * 3600 + 41 * 60
    assert v.system_image == "flash0:c2900-universalk9-mz.SPA.154-3.M10.bin"
    assert (v.processor_board_id, v.config_register, v.reload_reason) == ("FTX1234A5BC", "0x2102", "power-on")


@pytest.mark.parametrize(
    "platform_family, family, software, model",
    [
        ("ISR-G1", "ios", "15.1(4)M12a", "2811"),
        ("ISR-G2", "ios", "15.4(3)M10", "CISCO2911/K9"),
        ("ISR4K", "iosxe", "16.09.05", "ISR4451-X/K9"),
        ("ASR1k", "iosxe", "16.12.04", "ASR1001-X"),
        ("CSR1k", "iosxe", "17.03.04a", "CSR1000V"),
    ],
)
def test_every_lab_platform(platform_family: str, family: str, software: str, model: str) -> None:
    """The lab twin's `show version` of each platform (IOS-XE prints the GPL notice's 'Version 2.0' too)."""
    p = make_platform(platform_family, None, None, None)
    text = show_version("r9", p, timedelta(weeks=3, hours=5, minutes=7), serial_number("r9", p), "reload")
    v = parse("show version", text)
    assert (v.software, v.family, v.model, v.hostname) == (software, family, model, "r9")
    assert v.uptime == "3 weeks, 5 hours, 7 minutes" and v.uptime_seconds == 3 * 604800 + 5 * 3600 + 7 * 60
    assert v.processor_board_id == serial_number("r9", p)


def test_release_line_alone_as_napalm_gives_it() -> None:
    v = parse(
        "show version", "C2900 Software (C2900-UNIVERSALK9-M), Version 15.4(3)M10, RELEASE SOFTWARE (fc1)"
    )
    assert (v.software, v.family, v.model, v.uptime_seconds) == ("15.4(3)M10", None, None, None)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty output"),
        ("% Invalid input detected at '^' marker.\n", "no 'Version <release>' field"),
        ("r1 uptime is 3 weeks\n", "no 'Version <release>' field"),
    ],
)
def test_not_show_version(text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason) as exc:
        parse("show version", text)
    assert not isinstance(exc.value, UnknownCommand)


def test_unknown_uptime_unit_names_its_line() -> None:
    with pytest.raises(ParseError) as exc:
        parse("sh ver", "Cisco IOS Software, Version 15.4(3)M10\nr1 uptime is 3 fortnights, 2 days\n")
    assert exc.value.command == "sh ver" and exc.value.lineno == 2 and "fortnights" in exc.value.reason


def test_unknown_command_is_a_parse_error_of_its_own_kind() -> None:
    with pytest.raises(UnknownCommand) as exc:
        parse("show crypto pki nonsense", "x")
    assert isinstance(exc.value, ParseError) and exc.value.command == "show crypto pki nonsense"
    with pytest.raises(ParseError) as bad:
        parse("show clock", "not a clock")
    assert not isinstance(bad.value, UnknownCommand)


def test_a_parser_bug_becomes_a_parse_error_naming_command_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything but ParseError escaping a parser is reported as a ParseError: callers catch one kind."""
    import iospki.parsers.version as version_parser

    class Boom:
        def match(self, s: str) -> None:
            if s.startswith("Processor board ID"):
                raise IndexError("simulated parser bug")

    monkeypatch.setattr(version_parser, "_BOARD_ID", Boom())
    with pytest.raises(ParseError) as exc:
        parse("show version", ISR_G2)
    e = exc.value
    assert e.command == "show version" and "IndexError: simulated parser bug" in e.reason
    assert e.line == "Processor board ID FTX1234A5BC" and e.lineno == ISR_G2.splitlines().index(e.line) + 1
    assert isinstance(e.__cause__, IndexError)
    # the line is forgotten once the parser returns: the next failure outside a line loop names none
    monkeypatch.setattr(version_parser, "_uptime_seconds", lambda *a: 1 // 0)
    with pytest.raises(ParseError) as exc2:
        parse("show version", "Cisco IOS Software, Version 15.4(3)M10\nr1 uptime is 3 weeks\n")
    assert "ZeroDivisionError" in exc2.value.reason and exc2.value.line is None
