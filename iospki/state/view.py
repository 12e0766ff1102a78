"""A host's PKI state read back from a stored collection (for `status` and `verify`).

Each stored output is parsed with `iospki.parsers`; an output that does not parse becomes an entry in
`errors` (never a crash, never a silently empty view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from iospki.models import (
    CAServer,
    Certificate,
    CertificatesOutput,
    Clock,
    KeyPair,
    KeysOutput,
    ServersOutput,
    Timer,
    TimersOutput,
)
from iospki.state import store

M = TypeVar("M", bound=BaseModel)


@dataclass
class HostView:
    host: str
    error: str | None = None  # the host failed at collection time
    clock: Clock | None = None
    certificates: list[Certificate] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    servers: list[CAServer] = field(default_factory=list)
    keys: list[KeyPair] = field(default_factory=list)
    facts: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # command -> parse error

    @property
    def now(self) -> datetime | None:
        return self.clock.time if self.clock else None

    def trustpoints(self) -> list[str]:
        names: list[str] = []
        for c in self.certificates:
            for tp in c.trustpoints:
                if tp not in names:
                    names.append(tp)
        return names

    def certs(self, trustpoint: str, kind: str, rollover: bool = False) -> list[Certificate]:
        """Certificates of `trustpoint`; kind 'identity' or 'ca'."""
        return [
            c
            for c in self.certificates
            if trustpoint in c.trustpoints
            and c.kind.value == kind
            and c.rollover == rollover
            and (c.status or "").lower() != "pending"
        ]

    def timers_for(self, target: str) -> list[Timer]:
        return [t for t in self.timers if t.target == target]


def _parse(
    host: str,
    outputs: dict[str, str],
    command: str,
    model: type[M],
    errors: dict[str, str],
    family: str | None,
) -> M | None:
    from iospki.parsers import ParseError, parse

    text = outputs.get(command)
    if text is None:
        return None
    try:
        got = parse(command, text, family)
    except ParseError as exc:
        errors[command] = str(exc)
        return None
    except Exception as exc:  # a parser bug: report it against this host and output
        errors[command] = f"{type(exc).__name__}: {exc}"
        return None
    if not isinstance(got, model):
        errors[command] = f"parser returned {type(got).__name__}, expected {model.__name__}"
        return None
    return got


def load_view(root: Path | str, host: str) -> HostView:
    """The parsed PKI state of `host` in the collection at `root`."""
    view = HostView(host=host)
    view.error = store.read_error(root, host)
    try:
        outputs = store.read_outputs(root, host)
    except store.StoreError as exc:
        view.error = view.error or str(exc)
        return view
    if not outputs:
        view.error = view.error or "no outputs collected"
        return view
    facts = store.read_json(root, host, "facts")
    view.facts = facts if isinstance(facts, dict) else None
    family = "iosxe" if "show crypto pki timers detail" in outputs else None
    e = view.errors
    view.clock = _parse(host, outputs, "show clock detail", Clock, e, family)
    certs = _parse(host, outputs, "show crypto pki certificates verbose", CertificatesOutput, e, family)
    if certs is None:
        certs = _parse(host, outputs, "show crypto pki certificates", CertificatesOutput, e, family)
    view.certificates = certs.certificates if certs else []
    timers_cmd = (
        "show crypto pki timers detail"
        if "show crypto pki timers detail" in outputs
        else "show crypto pki timers"
    )
    timers = _parse(host, outputs, timers_cmd, TimersOutput, e, family)
    view.timers = timers.timers if timers else []
    servers = _parse(host, outputs, "show crypto pki server", ServersOutput, e, family)
    view.servers = servers.servers if servers else []
    keys = _parse(host, outputs, "show crypto key mypubkey rsa", KeysOutput, e, family)
    view.keys = keys.keys if keys else []
    return view


def load_collection(root: Path | str) -> dict[str, HostView]:
    return {h: load_view(root, h) for h in store.hosts(root)}
