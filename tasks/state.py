"""Small readers of the few device facts the tasks decide on (the full parsing is `iospki.parsers`)."""

from __future__ import annotations

import re
from dataclasses import dataclass


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


def _fp(s: str) -> str:
    return re.sub(r"\s+", "", s).upper()


def server_state(text: str, name: str) -> ServerState | None:
    """State of server `name` from `show crypto pki server`, None when it is not there."""
    blocks = re.split(r"(?m)^Certificate Server\s+", text)
    for b in blocks[1:]:
        head, _, body = b.partition("\n")
        if head.strip().rstrip(":") != name:
            continue
        st = ServerState(name)
        if m := re.search(r"(?m)^\s*Status:\s*(.+?)\s*$", body):
            st.status = m.group(1)
        if m := re.search(r"(?m)^\s*CA cert fingerprint:\s*([0-9A-Fa-f ]+?)\s*$", body):
            st.ca_fingerprint = _fp(m.group(1))
        if m := re.search(r"(?m)^\s*Rollover status:\s*(.+?)\s*$", body):
            st.rollover_status = m.group(1)
        if m := re.search(r"(?m)^\s*Rollover CA cert fingerprint:\s*([0-9A-Fa-f ]+?)\s*$", body):
            st.rollover_fingerprint = _fp(m.group(1))
        return st
    return None


def cert_sections(text: str) -> list[tuple[str, str]]:
    """[(section header, status)] of `show crypto pki certificates [TP]`, e.g. ('CA Certificate (Rollover)', 'Available')."""
    out = []
    for m in re.finditer(
        r"(?m)^((?:CA |Router Self-Signed |RA \w+ )?Certificate(?: \(Rollover\))?)\s*\n\s*Status:\s*(\S+)",
        text,
    ):
        out.append((m.group(1), m.group(2)))
    return out


def has_identity(text: str) -> bool:
    return any(
        sec in ("Certificate", "Certificate (Rollover)") and st.lower() == "available"
        for sec, st in cert_sections(text)
    )


def has_ca(text: str) -> bool:
    return any(sec.startswith("CA Certificate") for sec, _ in cert_sections(text))


def pending_request(text: str) -> bool:
    return any(st.lower() == "pending" for _, st in cert_sections(text))


def poll_pending(timers: str, trustpoint: str) -> bool:
    """A `POLL <trustpoint>` timer in `show crypto pki timers`: an enrollment request is pending at the CA
    (e.g. the auto initial enrollment IOS starts on `crypto pki authenticate` when `auto-enroll` is set)."""
    return re.search(rf"(?m)\bPOLL\s+{re.escape(trustpoint)}\s*$", timers) is not None


def identity_serials(text: str) -> list[str]:
    """Serial numbers of the identity certificates (not CA) in `show crypto pki certificates`."""
    serials = []
    for m in re.finditer(r"(?ms)^(Certificate(?: \(Rollover\))?)\s*\n(.*?)(?=^\S|\Z)", text):
        if s := re.search(r"Certificate Serial Number(?: \(hex\))?:\s*(\S+)", m.group(2)):
            serials.append(s.group(1).upper())
    return serials
