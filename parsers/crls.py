"""`show crypto pki crls` (the client's CRL cache) into `CrlsOutput`.

A line state machine: the issuer DN and the distribution points sit on the lines after
their headers, which only their position identifies."""

from __future__ import annotations

import re
from typing import Any

from iospki.models import Crl, CrlsOutput

from .base import ParseError, register
from .ios_time import TimeFormatError, parse_ios_time
from .lines import device_lines

COMMAND = "show crypto pki crls"

_FIELDS = {
    "this_update": re.compile(r"LastUpdate: (?P<v>.+)"),
    "next_update": re.compile(r"NextUpdate: (?P<v>.+)"),
    "downloaded_at": re.compile(r"CRL downloaded at: (?P<v>.+)"),
}
_DER = re.compile(r"CRL DER is (?P<n>\d+) bytes")
_STORED = re.compile(r"CRL is (?P<v>stored .+|not stored.*)")
_CACHE = re.compile(r"Parsed CRL cache (?P<which>current|maximum) size is (?P<n>\d+) bytes")
_CDP = re.compile(r"(?:\*\* (?P<note>.+)|(?P<url>(?:https?|ldap|tftp|ftp|scp)://\S+|\S+:\S*))")


@register(r"(?:show|sh) crypto pki crls?")
def parse_crls(text: str, platform: str | None = None) -> CrlsOutput:
    lines = device_lines(text)
    crls: list[dict[str, Any]] = []
    cache: dict[str, int] = {}
    expect = ""  # 'issuer' after 'CRL Issuer Name:', 'cdp' after 'Retrieved from ...:'
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        if s == "CRL Issuer Name:":
            crls.append({"retrieved_from": [], "_at": (raw, no)})
            expect = "issuer"
            continue
        if m := _CACHE.fullmatch(s):
            cache[m["which"]] = int(m["n"])
            expect = ""
            continue
        if not crls:
            raise ParseError(COMMAND, "output does not start with 'CRL Issuer Name:'", raw, no)
        crl = crls[-1]
        if expect == "issuer":
            if "=" not in s:
                raise ParseError(COMMAND, "expected the issuer DN after 'CRL Issuer Name:'", raw, no)
            crl["issuer"], expect = s, ""
            continue
        for key, rx in _FIELDS.items():
            if m := rx.fullmatch(s):
                if key in crl:  # the next CRL's 'CRL Issuer Name:' line is missing: never merge two
                    raise ParseError(COMMAND, f"a second {s.split(':')[0]} line in one CRL", raw, no)
                try:
                    crl[key], tz = parse_ios_time(m["v"])
                except TimeFormatError as exc:
                    raise ParseError(COMMAND, str(exc), raw, no) from None
                crl["tz"] = crl.get("tz") or tz
                expect = ""
                break
        else:
            if s == "Retrieved from CRL Distribution Point:":
                expect = "cdp"
            elif expect == "cdp" and (m := _CDP.fullmatch(s)):
                crl["retrieved_from"].append(m["note"] or m["url"])
            elif m := _DER.fullmatch(s):
                crl["size_bytes"], expect = int(m["n"]), ""
            elif m := _STORED.fullmatch(s):
                crl["cache_status"], expect = m["v"], ""
            else:
                raise ParseError(COMMAND, "unexpected line", raw, no)
    if expect == "issuer":
        raise ParseError(COMMAND, "output ends after 'CRL Issuer Name:'", lines[-1], len(lines))
    for c in crls:  # IOS prints both for every cached CRL; a missing one is a cut or deleted line
        line, lineno = c.pop("_at")  # its 'CRL Issuer Name:' line, named in the error
        for key, name in (("this_update", "LastUpdate"), ("next_update", "NextUpdate")):
            if key not in c:
                raise ParseError(
                    COMMAND,
                    f"CRL of {c.get('issuer')!r} has no {name} line (truncated output?)",
                    line,
                    lineno,
                )
    return CrlsOutput(
        crls=[Crl(**c) for c in crls],
        cache_current_bytes=cache.get("current"),
        cache_max_bytes=cache.get("maximum"),
    )
