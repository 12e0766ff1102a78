"""A host's stored outputs parsed into one typed `HostState`.

Each stored output is parsed with `iospki.parsers.parse`; the model type it yields says
where it goes. A parse failure of one output becomes an entry in `HostState.errors` (the
rest of the host is still used); a host recorded as failed by `collect` has
`unreachable` set. Nothing here raises for bad device output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from iospki.models import (
    CAServer,
    Certificate,
    CertificatesOutput,
    CertKind,
    Clock,
    Crl,
    CrlsOutput,
    EnrollmentRequest,
    IssuedCertificate,
    IssuedCertificatesOutput,
    KeyPair,
    KeysOutput,
    NtpStatus,
    RequestsOutput,
    RunningConfig,
    ServersOutput,
    Timer,
    TimersOutput,
    Trustpoint,
    TrustpointsOutput,
    TrustpointStatus,
    TrustpointStatusOutput,
)
from iospki.state import devicetime, store

_SERVER_SUB = re.compile(r"^(?:show|sh) crypto pki server (\S+) (?:requests|certificates|crl)$")
_VERSION = re.compile(r"\bVersion\s+([0-9][\w.()]*)", re.IGNORECASE)


@dataclass
class HostState:
    host: str
    clock: Clock | None = None
    ntp: NtpStatus | None = None
    config: RunningConfig | None = None
    certificates: list[Certificate] = field(default_factory=list)
    certificates_collected: bool = False
    timers: list[Timer] | None = None  # None: timers were not collected
    servers: list[CAServer] = field(default_factory=list)
    requests: dict[str, list[EnrollmentRequest]] = field(default_factory=dict)
    issued: dict[str, list[IssuedCertificate]] = field(default_factory=dict)
    crls: list[Crl] = field(default_factory=list)
    trustpoints: list[Trustpoint] = field(default_factory=list)
    trustpoint_status: list[TrustpointStatus] = field(default_factory=list)
    keys: list[KeyPair] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    software: str | None = None
    platform: str | None = None  # 'ios' or 'iosxe' when known
    model: str | None = None
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreachable: str | None = None
    zones: devicetime.Zones | None = None  # how this host's local times were converted to UTC
    config_complete: bool = True  # False: the stored running-config has no final `end` (cut off)
    # command -> (sent, answered) on the collector's clock, naive UTC (`read_times.json`)
    read_times: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)

    def clock_offset(self) -> tuple[timedelta, timedelta] | None:
        """(device clock - collector clock, uncertainty) when `show clock` was read, or None.

        The device answered somewhere between sending the command and reading its answer: the middle
        of that window is the best estimate, half the window (plus the millisecond print) its error.
        Only the difference between two hosts' offsets means anything (a lab clock, or a jump host
        without NTP, shifts every offset alike)."""
        if self.clock is None or self.clock.tz != "UTC":
            return None
        window = next(
            (self.read_times[c] for c in self.commands if _is_show_clock(c) and c in self.read_times), None
        )
        if window is None:
            return None
        sent, answered = window
        half = (answered - sent) / 2
        return self.clock.time - (sent + half), half + timedelta(milliseconds=1)

    @property
    def now(self) -> datetime | None:
        """The device's own clock when collected."""
        return self.clock.time if self.clock else None

    @property
    def failed(self) -> bool:
        return self.unreachable is not None

    # -- lookups used by audit and forecast
    def certs(self, trustpoint: str, kind: CertKind, rollover: bool = False) -> list[Certificate]:
        return [
            c
            for c in self.certificates
            if c.kind == kind and c.rollover == rollover and trustpoint in c.trustpoints
        ]

    def cert(self, trustpoint: str, kind: CertKind, rollover: bool = False) -> Certificate | None:
        found = self.certs(trustpoint, kind, rollover)
        return found[0] if found else None

    def timer(self, kind: str, target: str | None) -> Timer | None:
        for t in self.timers or []:
            if t.kind == kind and (target is None or t.target == target):
                return t
        return None

    def server_config(self, name: str) -> Any:
        if self.config is None:
            return None
        return next((s for s in self.config.servers if s.name == name), None)

    def clock_authoritative(self) -> bool | None:
        """True/False when known from `show clock`, the config or NTP; None when nothing says."""
        if self.clock is not None:
            return self.clock.authoritative
        if self.ntp is not None and self.ntp.synchronized:
            return True
        if self.config is not None and (self.config.clock_calendar_valid or self.config.ntp_master):
            return True
        return None


SKEW_TOLERANCE = timedelta(seconds=60)


def clock_difference(a: HostState, b: HostState) -> tuple[timedelta, timedelta, str] | None:
    """(a's clock - b's clock, error, how it was measured), or None when nothing says.

    Both synchronised to the same NTP source: the difference of their NTP offsets (source minus local
    clock), which holds whatever the collector's clock does. Otherwise each `show clock` against the
    collector's clock at the moment it was read; that assumes the device clocks run at real rate."""
    na, nb = a.ntp, b.ntp
    if (
        na is not None
        and nb is not None
        and na.synchronized
        and nb.synchronized
        and na.reference
        and na.reference == nb.reference
        and na.offset_ms is not None
        and nb.offset_ms is not None
    ):
        diff = timedelta(milliseconds=nb.offset_ms - na.offset_ms)
        return diff, timedelta(milliseconds=100), f"NTP offsets (both synchronised to {na.reference})"
    mine, theirs = a.clock_offset(), b.clock_offset()
    if mine is None or theirs is None:
        return None
    return (
        mine[0] - theirs[0],
        mine[1] + theirs[1],
        "show clock against the collector's clock when each was read",
    )


def significant_clock_difference(
    a: HostState, b: HostState, tolerance: timedelta = SKEW_TOLERANCE
) -> timedelta | None:
    """a's clock - b's clock in whole seconds when it exceeds its measurement error plus `tolerance`;
    None otherwise (the two clocks are then taken as equal)."""
    measured = clock_difference(a, b)
    if measured is None or abs(measured[0]) - measured[1] <= tolerance:
        return None
    return timedelta(seconds=round(measured[0].total_seconds()))


def _is_show_clock(command: str) -> bool:
    return " ".join(command.lower().split()) in (
        "show clock",
        "show clock detail",
        "sh clock",
        "sh clock detail",
    )


def _read_times(data: Any) -> dict[str, tuple[datetime, datetime]]:
    """`read_times.json` -> {command: (sent, answered)} in naive UTC; bad entries are left out."""
    out: dict[str, tuple[datetime, datetime]] = {}
    if not isinstance(data, dict):
        return out
    for cmd, pair in data.items():
        try:
            sent, answered = (datetime.fromisoformat(str(v)) for v in pair)
        except (TypeError, ValueError):
            continue
        sent, answered = (
            (t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t) for t in (sent, answered)
        )
        if answered >= sent:
            out[str(cmd)] = (sent, answered)
    return out


def _merge(state: HostState, command: str, model: BaseModel) -> None:
    if isinstance(model, Clock):
        # `show clock detail` carries the time source: prefer it
        if state.clock is None or model.source:
            state.clock = model
    elif isinstance(model, NtpStatus):
        state.ntp = model
    elif isinstance(model, RunningConfig):
        state.config = model
    elif isinstance(model, CertificatesOutput):
        # verbose and per-trustpoint outputs repeat certificates: keep one per section+serial,
        # the most detailed version
        state.certificates_collected = True
        seen = {(c.section, c.serial, tuple(c.trustpoints)): i for i, c in enumerate(state.certificates)}
        for c in model.certificates:
            key = (c.section, c.serial, tuple(c.trustpoints))
            if key in seen:
                old = state.certificates[seen[key]]
                if (c.fingerprint_md5 or c.key_size) and not (old.fingerprint_md5 or old.key_size):
                    state.certificates[seen[key]] = c
            else:
                seen[key] = len(state.certificates)
                state.certificates.append(c)
    elif isinstance(model, TimersOutput):
        # `timers` and `timers detail` list the same timers; keep the one with absolute times
        def dated(ts: list[Timer]) -> int:
            return sum(t.at is not None for t in ts)

        if state.timers is None or (dated(model.timers), len(model.timers)) > (
            dated(state.timers),
            len(state.timers),
        ):
            state.timers = list(model.timers)
    elif isinstance(model, ServersOutput):
        names = {s.name for s in state.servers}
        state.servers.extend(s for s in model.servers if s.name not in names)
    elif isinstance(model, RequestsOutput):
        state.requests[_server_of(command)] = model.requests
    elif isinstance(model, IssuedCertificatesOutput):
        state.issued[_server_of(command)] = model.certificates
    elif isinstance(model, CrlsOutput):
        state.crls.extend(model.crls)
    elif isinstance(model, TrustpointStatusOutput):
        state.trustpoint_status = model.trustpoints
    elif isinstance(model, TrustpointsOutput):
        state.trustpoints = model.trustpoints
    elif isinstance(model, KeysOutput):
        state.keys.extend(model.keys)


def _server_of(command: str) -> str:
    m = _SERVER_SUB.match(" ".join(command.lower().split()))
    if not m:
        return ""
    # keep the server name's case as typed
    return command.split()[4] if len(command.split()) > 4 else m.group(1)


def _software_from_text(text: str) -> tuple[str | None, str | None]:
    m = _VERSION.search(text)
    version = m.group(1).rstrip(",") if m else None
    platform = None
    if re.search(r"IOS[ -]XE", text):
        platform = "iosxe"
    elif "IOS" in text:
        platform = "ios"
    return version, platform


def _apply_facts(state: HostState, facts: dict[str, Any]) -> None:
    state.facts.update(facts)
    osv = facts.get("os_version")
    if isinstance(osv, str) and osv:
        version, platform = _software_from_text(osv)
        state.software = state.software or version or osv
        state.platform = state.platform or platform
    for key in ("model", "platform_family", "software"):
        val = facts.get(key)
        if isinstance(val, str) and val:
            if key == "model":
                state.model = state.model or val
            elif key == "software":
                state.software = state.software or val
            else:
                state.facts.setdefault("platform_family", val)


def load_host(root: Path | str, host: str) -> HostState:
    """Parse everything stored for `host` (never raises for bad device output)."""
    from iospki.parsers import ParseError, parse

    state = HostState(host)
    config_text = ""
    try:
        state.unreachable = store.read_error(root, host)
        outputs = store.read_outputs(root, host)
    except (OSError, store.StoreError) as exc:
        state.unreachable = f"cannot read stored outputs: {exc}"
        return state
    for command in sorted(outputs):
        text = outputs[command]
        state.commands.append(command)
        norm = " ".join(command.lower().split())
        if norm.startswith(("show run", "sh run")):
            config_text = text
        if norm in ("show version", "sh version"):
            state.software, state.platform = _software_from_text(text)
            m = re.search(r"^[Cc]isco (\S+) .*(?:processor|bytes of memory)", text, re.MULTILINE)
            if m:
                state.model = m.group(1)
            continue
        try:
            model = parse(command, text, state.platform)
        except ParseError as exc:
            if "no parser for this command" in str(exc):
                continue
            state.errors.append(f"{command}: {exc}")
            continue
        except Exception as exc:  # a parser bug must not take the whole audit down
            state.errors.append(f"{command}: parser failed: {type(exc).__name__}: {exc}")
            continue
        _merge(state, command, model)
    hostdir = Path(root) / host
    for p in sorted(hostdir.glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            state.errors.append(f"{p.name}: unreadable JSON: {exc}")
            continue
        if p.stem == store.READ_TIMES:
            state.read_times = _read_times(data)
            continue
        if isinstance(data, dict):
            facts = data.get("facts") if isinstance(data.get("facts"), dict) else data
            if isinstance(facts, dict) and ("os_version" in facts or "platform_family" in facts):
                _apply_facts(state, facts)
    if not outputs and state.unreachable is None:
        state.errors.append("no stored outputs for this host")
    _to_utc(state, config_text)
    if config_text and not re.search(r"^end\s*$", config_text, re.MULTILINE):
        # a read that timed out keeps the head of the config only: `ip http server` and other late
        # lines are then missing, which must not read as "not configured"
        state.config_complete = False
    return state


def _to_utc(state: HostState, config_text: str) -> None:
    """Every parsed time in UTC (timers already are): see `iospki.state.devicetime`."""
    zones = devicetime.from_config(config_text)
    clock = state.clock
    if clock is not None and clock.tz and clock.tz not in zones.offsets:
        timer = next((t for t in state.timers or [] if t.at is not None), None)
        if timer is not None and timer.at is not None:
            off = devicetime.measure(clock.time, timer.at - timedelta(seconds=timer.remaining_seconds))
            if off is not None:
                zones.offsets[clock.tz] = off
                zones.source = "measured (show clock against the timers' UTC)"
    objs: list[Any] = [clock, state.ntp, *state.certificates, *state.servers, *state.crls, *state.keys]
    objs += [c for certs in state.issued.values() for c in certs]
    for obj in objs:
        if obj is not None:
            devicetime.convert(obj, zones)
    state.zones = zones


def load_collection(root: Path | str, limit: list[str] | None = None) -> list[HostState]:
    """All hosts of a collection (optionally only those named or matching globs in `limit`)."""
    import fnmatch

    names = store.hosts(root)
    if limit:
        names = [h for h in names if any(fnmatch.fnmatchcase(h, pat) for pat in limit)]
    return [load_host(root, h) for h in names]
