"""Parsers for `show crypto pki ...` and friends: TTP templates for the short outputs, a regex
fast path plus line scanner for certificates, line parsers for the rest (README says why).

>>> from iospki.parsers import parse
>>> parse("show clock", "*10:15:00.123 UTC Mon Mar 4 2024").authoritative
False
"""

from __future__ import annotations

if __name__ != "iospki.parsers":  # one path per file: this folder is only ever `iospki.parsers`
    raise ImportError(f"import iospki.parsers, not {__name__} (the folder is mapped into the iospki package)")

from pydantic import BaseModel

from . import (
    certificates,  # noqa: F401  (registers show crypto pki certificates [verbose] [TP])
    clock,  # noqa: F401  (registers show clock, show ntp status)
    counters,  # noqa: F401  (registers show crypto pki counters)
    crl_download,  # noqa: F401  (registers show crypto pki crls download)
    crls,  # noqa: F401  (registers show crypto pki crls)
    keys,  # noqa: F401  (registers show crypto key mypubkey rsa [NAME])
    pem,  # noqa: F401  (registers show crypto pki certificates pem [TP])
    running_config,  # noqa: F401  (registers show running-config / startup-config)
    server,  # noqa: F401  (registers show crypto pki server [NAME] [requests|certificates|crl])
    timers,  # noqa: F401  (registers show crypto pki timers)
    trustpoints,  # noqa: F401  (registers show crypto pki trustpoints [NAME] [status])
    trustpool,  # noqa: F401  (registers show crypto pki trustpool [| count Downloaded])
)
from .base import ParseError, lookup, normalize_command, registered

__all__ = ["ParseError", "parse", "registered", "normalize_command"]

PLATFORMS = (None, "ios", "iosxe")


def parse(command: str, text: str, platform: str | None = None) -> BaseModel:
    """Parse `text`, the output of `command`, into its pydantic model.

    `platform` is 'ios', 'iosxe' or None. Every parser reads the IOS 15.x and IOS-XE
    formats alike, so the platform is only checked, never needed. Raises ParseError for
    unknown commands, an unknown platform and text that is not that command's output.

    >>> parse("show clock", "x", platform="junos")
    Traceback (most recent call last):
    ...
    iospki.parsers.base.ParseError: cannot parse 'show clock': unknown platform 'junos' (ios or iosxe)
    """
    func = lookup(command)
    if platform not in PLATFORMS:
        raise ParseError(command, f"unknown platform {platform!r} (ios or iosxe)")
    try:
        return func(text, platform)
    except ParseError as exc:
        if exc.command == command:
            raise
        # name the command as the caller gave it (the parser knows only its generic form)
        raise ParseError(command, exc.reason, exc.line, exc.lineno) from None
