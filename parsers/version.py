"""`show version` into `Version`: the software release, the family (IOS or IOS-XE), the model, the uptime.

A line parser, not a grammar of every line: `show version` carries free text that differs per image and
licence (the cryptography notice, the GPL notice of IOS-XE, licence tables, memory and interface counts).
Those lines are passed over; what the toolkit decides on must be there and well formed: a
`Version <release>` field (else ParseError), and an uptime line, when printed, whose every part is a known
unit. The first `Version` wins: IOS-XE prints `Cisco IOS XE Software, Version 16.09.05` before the IOS line
`Version 16.9.5` and the GPL notice's `Version 2.0`.

>>> v = parse_version("Cisco IOS XE Software, Version 17.03.04a\\n"
...                   "r4 uptime is 1 week, 2 days, 3 hours, 4 minutes\\n"
...                   "cisco CSR1000V (VXE) processor (revision VXE) with 2071829K/3075K bytes of memory.\\n")
>>> v.software, v.family, v.model, v.hostname, v.uptime_seconds
('17.03.04a', 'iosxe', 'CSR1000V', 'r4', 788640)
"""

from __future__ import annotations

import re

from iospki.models import Version

from .base import ParseError, numbered, register
from .lines import device_lines, require_content

COMMAND = "show version"

_VERSION = re.compile(r"\bVersion\s+([0-9][\w.()]*)", re.IGNORECASE)
# "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version ..." and the IOS-XE form with a train name
_IMAGE = re.compile(r"Cisco IOS Software(?: \[[^\]]*\])?, (.+?), Version\b")
_UPTIME = re.compile(r"(\S+) uptime is (.+)")
_UNIT = re.compile(r"(\d+) (year|week|day|hour|minute|second)s?")
_SECONDS = {"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
# "Cisco CISCO2911/K9 (revision 1.0) with ...", "cisco ISR4451-X/K9 (2RU) processor with ... bytes of memory."
_MODEL = re.compile(r"[Cc]isco (\S+) .*(?:processor|bytes of memory)")
_IMAGE_FILE = re.compile(r'System image file is "([^"]+)"')
_BOARD_ID = re.compile(r"Processor board ID (\S+)")
_REGISTER = re.compile(r"Configuration register is (\S+)")
_RELOAD = re.compile(r"(?:Last reload reason: |System returned to ROM by )(.+)")


def _uptime_seconds(text: str, line: str, lineno: int) -> int:
    parts = [p.strip() for p in text.split(",")]
    total = 0
    for p in parts:
        m = _UNIT.fullmatch(p)
        if m is None:
            raise ParseError(COMMAND, f"unknown uptime part {p!r}", line, lineno)
        total += int(m[1]) * _SECONDS[m[2]]
    return total


@register(r"(?:show|sh) ver(?:sion)?")
def parse_version(text: str, platform: str | None = None) -> Version:
    lines = device_lines(text)
    require_content(COMMAND, lines)
    found: dict[str, str] = {}
    uptime: tuple[str, str, int] | None = None
    for no, ln in numbered(lines):
        s = ln.strip()
        if "software" not in found and (m := _VERSION.search(s)):
            found["software"] = m[1].rstrip(",")
        if "image" not in found and (m := _IMAGE.search(s)):
            found["image"] = m[1]
        if uptime is None and (m := _UPTIME.fullmatch(s)):
            uptime = (m[1], m[2], no)
        for key, rx in (
            ("model", _MODEL),
            ("system_image", _IMAGE_FILE),
            ("processor_board_id", _BOARD_ID),
            ("config_register", _REGISTER),
            ("reload_reason", _RELOAD),
        ):
            if key not in found and (m := rx.match(s)):
                found[key] = m[1]
    if "software" not in found:
        raise ParseError(COMMAND, "no 'Version <release>' field: not the output of show version")
    joined = "\n".join(lines)
    # IOS-XE names itself ("IOS XE", "IOS-XE"); classic IOS only says "IOS"
    family = "iosxe" if re.search(r"IOS[ -]XE", joined) else ("ios" if "IOS" in joined else None)
    hostname = up = None
    up_s: int | None = None
    if uptime is not None:
        hostname, up, no = uptime
        up_s = _uptime_seconds(up, lines[no - 1], no)
    return Version(
        software=found["software"],
        family=family,
        image=found.get("image"),
        model=found.get("model"),
        hostname=hostname,
        uptime=up,
        uptime_seconds=up_s,
        system_image=found.get("system_image"),
        processor_board_id=found.get("processor_board_id"),
        config_register=found.get("config_register"),
        reload_reason=found.get("reload_reason"),
    )
