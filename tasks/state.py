"""The few device facts the tasks decide on, read through `iospki.parsers` (the one parser of device output).

An output that is an IOS message (`% Certificate server 'X' is not known`) means the device has none of
the thing asked for; an output that does not parse is a TaskFailed naming the command, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from iospki.models import Certificate, CertKind, RequestsOutput
from iospki.parsers import ParseError, parse

from .connection import TaskFailed


@dataclass
class ServerState:
    name: str
    status: str | None = None  # 'enabled', 'disabled, HTTP Server is disabled' ...
    ca_fingerprint: str | None = None  # MD5, upper hex, no spaces
    rollover_status: str | None = None
    rollover_fingerprint: str | None = None

    @property
    def enabled(self) -> bool:
        return (self.status or "").split(",")[0].strip().lower() == "enabled"


T = TypeVar("T")


def _read(parsed: Callable[[], T]) -> T:
    """`parsed()`, an output that does not parse a TaskFailed naming the command."""
    try:
        return parsed()
    except ParseError as exc:
        raise TaskFailed(str(exc)) from None


def _ios_message(text: str) -> bool:
    """The output is only IOS '% ...' message lines (the thing asked for does not exist). Not for
    `show crypto key mypubkey`, whose blocks start with '% Key pair was generated at: ...'."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return bool(lines) and all(ln.startswith("%") for ln in lines)


def server_state(text: str, name: str) -> ServerState | None:
    """State of server `name` from `show crypto pki server [NAME]`, None when it is not there."""
    if _ios_message(text):
        return None
    servers = _read(lambda: parse("show crypto pki server", text)).servers
    srv = next((s for s in servers if s.name == name), None)
    if srv is None:
        return None
    status = f"{srv.status}, {srv.status_reason}" if srv.status and srv.status_reason else srv.status
    return ServerState(name, status, srv.ca_fingerprint, srv.rollover_status, srv.rollover_fingerprint)


def _certificates(text: str) -> list[Certificate]:
    """The certificates of `show crypto pki certificates [TP]` (none for an IOS message)."""
    if _ios_message(text):
        return []
    return _read(lambda: parse("show crypto pki certificates", text)).certificates


def cert_sections(text: str) -> list[tuple[str, str]]:
    """[(section header, status)] of `show crypto pki certificates [TP]`, e.g. ('CA Certificate (Rollover)', 'Available')."""
    return [(c.section, c.status or "") for c in _certificates(text)]


def has_identity(text: str) -> bool:
    return any(
        c.kind is CertKind.identity and (c.status or "").lower() == "available" for c in _certificates(text)
    )


def has_ca(text: str) -> bool:
    return any(c.kind is CertKind.ca for c in _certificates(text))


def pending_request(text: str) -> bool:
    return any((c.status or "").lower() == "pending" for c in _certificates(text))


def poll_pending(timers: str, trustpoint: str) -> bool:
    """A `POLL <trustpoint>` timer in `show crypto pki timers`: an enrollment request is pending at the CA
    (e.g. the auto initial enrollment IOS starts on `crypto pki authenticate` when `auto-enroll` is set)."""
    if _ios_message(timers):
        return False
    found = _read(lambda: parse("show crypto pki timers", timers)).timers
    return any(t.kind == "POLL" and t.target == trustpoint for t in found)


def identity_serials(text: str) -> list[str]:
    """Serial numbers of the identity certificates (not CA) in `show crypto pki certificates`."""
    return [c.serial.upper() for c in _certificates(text) if c.kind is CertKind.identity and c.serial]


def rollover_key(keys: str, server: str) -> bool:
    """The `NAME#` key pair of a CA rollover is in `show crypto key mypubkey rsa`."""
    found = _read(lambda: parse("show crypto key mypubkey rsa", keys)).keys
    return any(k.name == f"{server}#" for k in found)


def pending_request_ids(text: str, server: str) -> list[int]:
    """Ids of the requests waiting for a grant in `show crypto pki server NAME requests`."""
    if _ios_message(text):
        return []
    command = f"show crypto pki server {server} requests"
    got = _read(lambda: parse(command, text))
    if not isinstance(got, RequestsOutput):  # the registry maps this command to RequestsOutput
        raise TaskFailed(f"{command}: parsed as {type(got).__name__}")
    return [r.req_id for r in got.requests if r.state.lower() == "pending"]
