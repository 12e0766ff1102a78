"""The configuration in the audit's remedies, rendered from the same Jinja macros that deploy it
(`templates/lines.j2`), so a remedy says exactly what `iospki deploy` would configure.

A remedy writes a line inside a block as `parent / child`:

>>> server("ROOT", auto_rollover(73))
'crypto pki server ROOT / auto-rollover 73'
>>> trustpoint("client", auto_enroll(80, True))
'crypto pki trustpoint client / auto-enroll 80 regenerate'
"""

from __future__ import annotations

from iospki.templates import line


def server(name: str, *children: str) -> str:
    """`crypto pki server NAME`, with lines of its block."""
    return " / ".join((line("server", name), *children))


def trustpoint(name: str, *children: str) -> str:
    """`crypto pki trustpoint NAME`, with lines of its block."""
    return " / ".join((line("trustpoint", name), *children))


def auto_rollover(days: int | str) -> str:
    return line("auto_rollover", days)


def lifetime(kind: str, value: int | str) -> str:
    return line("lifetime", kind, value)


def auto_enroll(percent: int | str | None = None, regenerate: bool = False) -> str:
    return line("auto_enroll", percent, regenerate)


def grant(mode: str) -> str:
    return line("grant", mode)


def hash_(algorithm: str) -> str:
    return line("hash", algorithm)


def rsakeypair(label: str, size: int | str) -> str:
    return line("rsakeypair", label, size)


def ntp_server(address: str) -> str:
    return line("ntp_server", address)


CALENDAR_VALID = line("calendar_valid")
HTTP_SERVER = line("http_server")
