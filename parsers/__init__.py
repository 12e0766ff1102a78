"""Parsers for `show crypto pki ...` and friends: TTP templates for the short outputs, a regex
fast path plus line scanner for certificates, line parsers for the rest (README says why).

>>> from iospki.parsers import parse
>>> parse("show clock", "*10:15:00.123 UTC Mon Mar 4 2024").authoritative
False
"""

from __future__ import annotations

if __name__ != "iospki.parsers":  # one path per file: this folder is only ever `iospki.parsers`
    raise ImportError(f"import iospki.parsers, not {__name__} (the folder is mapped into the iospki package)")

from typing import Literal, overload

from pydantic import BaseModel

from iospki.models import (
    CertificatesOutput,
    Clock,
    CrlDownloadOutput,
    CrlsOutput,
    KeysOutput,
    NtpStatus,
    PemOutput,
    PkiCounters,
    RunningConfig,
    ServersOutput,
    TimersOutput,
    TrustpointsOutput,
    TrustpointStatusOutput,
    TrustpoolCountOutput,
    TrustpoolOutput,
    Version,
)

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
    version,  # noqa: F401  (registers show version)
)
from .base import ParseError, UnknownCommand, lookup, normalize_command, registered, run_parser

__all__ = ["ParseError", "UnknownCommand", "parse", "registered", "normalize_command"]

PLATFORMS = (None, "ios", "iosxe")

# The canonical commands the toolkit collects, each with the model its parser returns: `parse` called with
# one of these literals is typed with that model, so callers need no isinstance checks. Other spellings
# (`sh clock`, `show crypto pki server NAME requests`) still parse, typed as BaseModel.
_Clock = Literal["show clock", "show clock detail"]
_Certificates = Literal["show crypto pki certificates", "show crypto pki certificates verbose"]
_Timers = Literal["show crypto pki timers", "show crypto pki timers detail"]
_Config = Literal["show running-config", "show startup-config"]
_Keys = Literal["show crypto key mypubkey rsa"]


@overload
def parse(command: _Clock, text: str, platform: str | None = None) -> Clock: ...
@overload
def parse(command: Literal["show ntp status"], text: str, platform: str | None = None) -> NtpStatus: ...
@overload
def parse(command: _Config, text: str, platform: str | None = None) -> RunningConfig: ...
@overload
def parse(command: _Certificates, text: str, platform: str | None = None) -> CertificatesOutput: ...
@overload
def parse(command: _Timers, text: str, platform: str | None = None) -> TimersOutput: ...
@overload
def parse(
    command: Literal["show crypto pki server"], text: str, platform: str | None = None
) -> ServersOutput: ...
@overload
def parse(
    command: Literal["show crypto pki trustpoints"], text: str, platform: str | None = None
) -> TrustpointsOutput: ...
@overload
def parse(
    command: Literal["show crypto pki trustpoints status"], text: str, platform: str | None = None
) -> TrustpointStatusOutput: ...
@overload
def parse(command: _Keys, text: str, platform: str | None = None) -> KeysOutput: ...
@overload
def parse(command: Literal["show crypto pki crls"], text: str, platform: str | None = None) -> CrlsOutput: ...
@overload
def parse(command: Literal["show version"], text: str, platform: str | None = None) -> Version: ...
@overload
def parse(
    command: Literal["show crypto pki counters"], text: str, platform: str | None = None
) -> PkiCounters: ...
@overload
def parse(
    command: Literal["show crypto pki trustpool"], text: str, platform: str | None = None
) -> TrustpoolOutput: ...
@overload
def parse(
    command: Literal["show crypto pki trustpool | count Downloaded"], text: str, platform: str | None = None
) -> TrustpoolCountOutput: ...
@overload
def parse(
    command: Literal["show crypto pki certificates pem"], text: str, platform: str | None = None
) -> PemOutput: ...
@overload
def parse(
    command: Literal["show crypto pki crls download"], text: str, platform: str | None = None
) -> CrlDownloadOutput: ...
@overload
def parse(command: str, text: str, platform: str | None = None) -> BaseModel: ...


def parse(command: str, text: str, platform: str | None = None) -> BaseModel:
    """Parse `text`, the output of `command`, into its pydantic model.

    `platform` is 'ios', 'iosxe' or None. Every parser reads the IOS 15.x and IOS-XE
    formats alike, so the platform is only checked, never needed. Raises UnknownCommand (a
    ParseError) for a command no parser reads, and ParseError for an unknown platform, text
    that is not that command's output, and a parser that fails on it in any other way.

    >>> parse("show clock", "x", platform="junos")
    Traceback (most recent call last):
    ...
    iospki.parsers.base.ParseError: cannot parse 'show clock': unknown platform 'junos' (ios or iosxe)
    >>> parse("show crypto pki nonsense", "x")
    Traceback (most recent call last):
    ...
    iospki.parsers.base.UnknownCommand: cannot parse 'show crypto pki nonsense': no parser for this command
    """
    func = lookup(command)
    if platform not in PLATFORMS:
        raise ParseError(command, f"unknown platform {platform!r} (ios or iosxe)")
    return run_parser(func, command, text, platform)
