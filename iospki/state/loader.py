"""A host's stored outputs parsed into one typed `HostState`: the one loader of the toolkit.

Each stored output is parsed with `iospki.parsers.parse`; the model type it yields selects the
merge rule (`_MERGE`). A parse failure of one output becomes an entry in `HostState.errors` and
`parse_errors` (the rest of the host is still used); a host recorded as failed by `collect` has
`unreachable` set. Nothing here raises for bad device output.

Times: the parsed models are device-local (as printed); `HostState` holds UTC copies of them
(`devicetime.to_utc`), so audit and forecast compare hosts in different zones exactly. The models
as printed stay in `HostState.printed` for the commands that show an operator what the device
shows (`status`, `verify`). Facts that two outputs carry (a CA server's overlap and grant mode,
the platform) are reconciled here, once (`CAFacts`, `software_family`).
"""

from __future__ import annotations

import fnmatch
import functools
import gc
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from iospki.gc_pause import PAUSED
from iospki.models import (
    CAServer,
    CAServerConfig,
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
    PkiCounters,
    RequestsOutput,
    RunningConfig,
    ServersOutput,
    Timer,
    TimersOutput,
    Trustpoint,
    TrustpointsOutput,
    TrustpointStatus,
    TrustpointStatusOutput,
    TrustpoolCertificate,
    TrustpoolOutput,
    Version,
    normalize_fingerprint,
)
from iospki.parsers import PLATFORMS, ParseError, UnknownCommand, parse
from iospki.parsers.base import ParserFunc, lookup, run_parser
from iospki.parsers.config_facts import config_complete
from iospki.state import devicetime, platforms, store


@dataclass
class Printed:
    """The dated outputs of one host as the device printed them: times on the device's clock, zone in `tz`.

    `status` and `verify` show these, so an operator sees the times the router's own CLI shows (as they
    always have); everything that compares times reads the UTC copies on `HostState`."""

    clock: Clock | None = None
    certificates: list[Certificate] = field(default_factory=list)
    servers: list[CAServer] = field(default_factory=list)
    keys: list[KeyPair] = field(default_factory=list)

    @property
    def now(self) -> datetime | None:
        return self.clock.time if self.clock else None

    def trustpoints(self) -> list[str]:
        """Trustpoint names in the order the certificates name them."""
        names: list[str] = []
        for c in self.certificates:
            for tp in c.trustpoints:
                if tp not in names:
                    names.append(tp)
        return names

    def certs(self, trustpoint: str, kind: str, rollover: bool = False) -> list[Certificate]:
        """Certificates of `trustpoint` of `kind` ('identity', 'ca' ...), pending requests left out."""
        return [
            c
            for c in self.certificates
            if trustpoint in c.trustpoints
            and c.kind.value == kind
            and c.rollover == rollover
            and (c.status or "").lower() != "pending"
        ]


@dataclass(frozen=True)
class CAFacts:
    """One certificate server (served, or configured), with the facts that two outputs carry reconciled once.

    Overlap: the running config's exact `auto-rollover` wins, `show crypto pki server`'s whole days fill in.
    Grant mode: as `show` says, else the config. CA fingerprint: `show`'s, else the MD5 of the server's own
    CA certificate (`show crypto pki certificates verbose`), normalised (`models.normalize_fingerprint`)."""

    name: str
    shown: CAServer | None  # `show crypto pki server` (UTC)
    config: CAServerConfig | None
    auto_rollover: timedelta | None  # `auto-rollover` overlap; None: not configured
    grant: str  # 'auto', 'manual', 'none' ... as the device says
    shown_fingerprints: tuple[str, ...] = ()  # `show`: the CA's and the rollover CA's, normalised
    certificate_fingerprint: str = ""  # MD5 of the server's own CA certificate, normalised ('' unknown)

    @property
    def active(self) -> bool:
        """Served, or configured and not shut down: a CA the forecast runs."""
        return self.shown is not None or (self.config is not None and not self.config.shutdown)

    @property
    def ca_fingerprint(self) -> str:
        """The CA certificate's fingerprint, reconciled ('' when neither output says)."""
        shown = normalize_fingerprint(self.shown.ca_fingerprint) if self.shown else ""
        return shown or self.certificate_fingerprint

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """Every fingerprint this server's CA answers to: shown (CA, rollover CA), then its certificate's."""
        return tuple(dict.fromkeys(f for f in (*self.shown_fingerprints, self.certificate_fingerprint) if f))


@dataclass
class HostState:
    """One host of a collection. Every time on it is UTC (`zones` says how each was converted), except
    `printed`, which keeps the dated models as the device printed them."""

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
    counters: PkiCounters | None = None  # None: `show crypto pki counters` was not collected
    trustpool: list[TrustpoolCertificate] | None = None  # None: not collected (classic IOS has no trustpool)
    facts: dict[str, Any] = field(default_factory=dict)
    software: str | None = None
    platform: str | None = None  # 'ios' or 'iosxe' when known
    model: str | None = None
    software_family: str | None = None  # isr_g1 / isr_g2 / iosxe: `platforms.software_family`
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    parse_errors: dict[str, str] = field(default_factory=dict)  # command -> why its output did not parse
    unreachable: str | None = None
    no_outputs: bool = False  # the collection holds no output of this host
    zones: devicetime.Zones | None = None  # how this host's local times were converted to UTC
    config_complete: bool = True  # False: the stored running-config has no final `end` (cut off)
    # command -> (sent, answered) on the collector's clock, naive UTC (`read_times.json`)
    read_times: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    printed: Printed = field(default_factory=Printed)  # the dated outputs as printed (device-local)
    ca_servers: list[CAFacts] = field(default_factory=list)  # served or configured (`active`: not shut down)
    # required output (`REQUIRED_OUTPUTS`) -> why it is not usable ('not collected', 'unreadable: ...')
    incomplete: dict[str, str] = field(default_factory=dict)
    interrupted: str | None = None  # why the whole collection is not trusted (meta.json marks it interrupted)

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

    @property
    def gaps(self) -> str | None:
        """Why this host's data is incomplete (an interrupted collection, required outputs missing or
        unreadable), one line naming the commands; None when it is complete. Audit and forecast must not
        read a gap as "nothing wrong"."""
        parts = [self.interrupted] if self.interrupted else []
        missing = [c for c, why in self.incomplete.items() if why == NOT_COLLECTED]
        if missing:
            parts.append(f"required outputs not collected: {', '.join(missing)}")
        parts += [f"{c} {why}" for c, why in self.incomplete.items() if why != NOT_COLLECTED]
        return "; ".join(parts) or None

    @property
    def unpredictable(self) -> str | None:
        """Why the forecast cannot predict this host (failed, no outputs, interrupted, or an output it needs
        missing or unreadable), else None."""
        needs = {r.command for r in REQUIRED_OUTPUTS if r.forecast_needs}
        if self.collection_error or self.interrupted or needs & set(self.incomplete):
            return self.collection_error or self.gaps
        return None

    @property
    def collection_error(self) -> str | None:
        """Why nothing of this host can be shown: it failed at collection time or left no outputs."""
        return self.unreachable or ("no outputs collected" if self.no_outputs else None)

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
            sent, answered = pair
            sent, answered = datetime.fromisoformat(str(sent)), datetime.fromisoformat(str(answered))
        except (TypeError, ValueError):
            continue
        sent, answered = _naive_utc(sent), _naive_utc(answered)
        if answered >= sent:
            out[str(cmd)] = (sent, answered)
    return out


def _naive_utc(t: datetime) -> datetime:
    """`t.astimezone(timezone.utc).replace(tzinfo=None)` for an aware `t` (combine: a sixth of replace's cost)."""
    if not t.tzinfo:
        return t
    u = t.astimezone(timezone.utc)
    return datetime.combine(u.date(), u.time())


# --------------------------------------------------------------------------- required outputs

NOT_COLLECTED = "not collected"


@dataclass(frozen=True)
class RequiredOutput:
    """An output without which a host cannot be audited or forecast (`collect` reads each; see
    `iospki.tasks.collect`). Any stored command its parser reads counts: `show clock` for
    `show clock detail`, `... certificates verbose` or `... timers detail` for the plain command."""

    command: str  # as `collect` reads it (the name a finding gives)
    needed: Callable[[HostState], bool] = lambda state: True
    # the forecast cannot run without it; timers it can: the simulator arms them from the running config
    # as IOS does, so a host without `show crypto pki timers` is predicted (and still fails the audit)
    forecast_needs: bool = True


def _serves_ca(state: HostState) -> bool:
    # `collect` reads the server of every `crypto pki server` block its running config has
    return state.config is not None and bool(state.config.servers)


REQUIRED_OUTPUTS: tuple[RequiredOutput, ...] = (
    RequiredOutput("show clock detail"),
    RequiredOutput("show running-config"),
    RequiredOutput("show crypto pki certificates"),
    RequiredOutput("show crypto pki timers", forecast_needs=False),
    RequiredOutput("show crypto pki server", _serves_ca),
)


# which parser reads a command: looked up once per spelling, not once per host (large collections)
_parser_of = functools.lru_cache(maxsize=4096)(lookup)


@functools.lru_cache(maxsize=4096)
def _is_running_config(command: str) -> bool:
    return " ".join(command.lower().split()).startswith(("show run", "sh run"))


def _incomplete(state: HostState, read: dict[ParserFunc, str | None]) -> dict[str, str]:
    """Required output -> why it is unusable, from `read` (parser -> None when one of its outputs parsed,
    else the first error): collected by other means or cut short, a host must not pass for complete."""
    out: dict[str, str] = {}
    for req in REQUIRED_OUTPUTS:
        if not req.needed(state):
            continue
        func = _parser_of(req.command)
        if func not in read:
            out[req.command] = NOT_COLLECTED
        elif read[func] is not None:
            out[req.command] = f"unreadable: {read[func]}"
    return out


# --------------------------------------------------------------------------- merge rules, one per model type


def _merge_clock(state: HostState, command: str, model: Clock) -> None:
    # `show clock detail` carries the time source: prefer it
    if state.clock is None or model.source:
        state.clock = model


def _merge_ntp(state: HostState, command: str, model: NtpStatus) -> None:
    state.ntp = model


def _merge_config(state: HostState, command: str, model: RunningConfig) -> None:
    state.config = model


def _merge_certificates(state: HostState, command: str, model: CertificatesOutput) -> None:
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


def _merge_timers(state: HostState, command: str, model: TimersOutput) -> None:
    # `timers` and `timers detail` list the same timers; keep the one with absolute times
    def dated(ts: list[Timer]) -> int:
        return sum(t.at is not None for t in ts)

    if state.timers is None or (dated(model.timers), len(model.timers)) > (
        dated(state.timers),
        len(state.timers),
    ):
        state.timers = list(model.timers)


def _merge_servers(state: HostState, command: str, model: ServersOutput) -> None:
    names = {s.name for s in state.servers}
    state.servers.extend(s for s in model.servers if s.name not in names)


def _merge_requests(state: HostState, command: str, model: RequestsOutput) -> None:
    state.requests[_server_of(command)] = model.requests


def _merge_issued(state: HostState, command: str, model: IssuedCertificatesOutput) -> None:
    state.issued[_server_of(command)] = model.certificates


def _merge_crls(state: HostState, command: str, model: CrlsOutput) -> None:
    state.crls.extend(model.crls)


def _merge_trustpoint_status(state: HostState, command: str, model: TrustpointStatusOutput) -> None:
    state.trustpoint_status = model.trustpoints


def _merge_trustpoints(state: HostState, command: str, model: TrustpointsOutput) -> None:
    state.trustpoints = model.trustpoints


def _merge_keys(state: HostState, command: str, model: KeysOutput) -> None:
    state.keys.extend(model.keys)


def _merge_counters(state: HostState, command: str, model: PkiCounters) -> None:
    state.counters = model


def _merge_trustpool(state: HostState, command: str, model: TrustpoolOutput) -> None:
    state.trustpool = list(model.certificates)


def _merge_version(state: HostState, command: str, model: Version) -> None:
    # `show version` is the device's own word: it overrides NAPALM's facts (applied later with `or`)
    state.software, state.platform = model.software, model.family
    if model.model:
        state.model = model.model


# Each parsed model type and where it goes; a model without a rule (e.g. `show crypto pki server X crl`'s
# `Crl`, the trustpool's `| count Downloaded`) is parsed (so a bad output is still reported) but not kept.
_MERGE: dict[type[BaseModel], Callable[[HostState, str, Any], None]] = {
    Clock: _merge_clock,
    NtpStatus: _merge_ntp,
    RunningConfig: _merge_config,
    CertificatesOutput: _merge_certificates,
    TimersOutput: _merge_timers,
    ServersOutput: _merge_servers,
    RequestsOutput: _merge_requests,
    IssuedCertificatesOutput: _merge_issued,
    CrlsOutput: _merge_crls,
    TrustpointStatusOutput: _merge_trustpoint_status,
    TrustpointsOutput: _merge_trustpoints,
    KeysOutput: _merge_keys,
    Version: _merge_version,
    PkiCounters: _merge_counters,
    TrustpoolOutput: _merge_trustpool,
}


def _server_of(command: str) -> str:
    """NAME of `show crypto pki server NAME requests|certificates|crl`, its case kept as typed ('' otherwise)."""
    words = command.split()
    lower = [w.lower() for w in words]
    server_sub = lower[1:4] == ["crypto", "pki", "server"] and lower[5:] in (
        ["requests"],
        ["certificates"],
        ["crl"],
    )
    return words[4] if len(words) == 6 and lower[0] in ("show", "sh") and server_sub else ""


def _apply_facts(state: HostState, facts: dict[str, Any]) -> None:
    state.facts.update(facts)
    osv = facts.get("os_version")
    if isinstance(osv, str) and osv and not (state.software and state.platform):
        # NAPALM's os_version is the release line of `show version`: read by the same parser (not when the
        # device's own `show version` gave both already: they win, the parse would change nothing)
        version: str | None = None
        family: str | None = None
        try:
            line = parse("show version", osv)
            version, family = line.software, line.family
        except ParseError:
            pass  # not a release line: the text itself is the best software name there is
        state.software = state.software or version or osv
        state.platform = state.platform or family
    for key in ("model", "platform_family", "software"):
        val = facts.get(key)
        if isinstance(val, str) and val:
            if key == "model":
                state.model = state.model or val
            elif key == "software":
                state.software = state.software or val
            else:
                state.facts.setdefault("platform_family", val)


def _ca_facts(state: HostState) -> list[CAFacts]:
    """The certificate servers a host serves or has configured (also shut down), facts reconciled."""
    names = [s.name for s in state.servers]
    if state.config is not None:
        names += [s.name for s in state.config.servers if s.name not in names]
    out = []
    for name in names:
        shown = next((s for s in state.servers if s.name == name), None)
        cfg = state.server_config(name)
        # the running config's `auto-rollover` is exact (days and more); `show` prints whole days
        overlap = cfg.auto_rollover if cfg is not None else None
        if overlap is None and shown is not None and shown.auto_rollover_days is not None:
            overlap = timedelta(days=shown.auto_rollover_days)
        grant = (shown.grant_mode if shown else None) or (cfg.grant if cfg else None) or "manual"
        fps = (shown.ca_fingerprint, shown.rollover_fingerprint) if shown else ()
        own = state.cert(name, CertKind.ca)
        out.append(
            CAFacts(
                name,
                shown,
                cfg,
                overlap,
                grant,
                tuple(normalize_fingerprint(f) for f in fps if normalize_fingerprint(f)),
                normalize_fingerprint(own.fingerprint_md5 if own else None),
            )
        )
    return out


def load_host(root: Path | str, host: str, files: store.HostFiles | None = None) -> HostState:
    """Parse everything stored for `host` (never raises for bad device output). `files`: what
    `store.read_host(root, host)` gives, when the caller has it already (a cluster worker gets it from the
    client: `iospki.cluster.analysis`)."""
    state = HostState(host)
    config_text = ""
    try:
        files = files if files is not None else store.read_host(root, host)  # one listing, no stat per file
        state.unreachable, outputs = files.error, files.outputs
    except (OSError, store.StoreError) as exc:
        state.unreachable = f"cannot read stored outputs: {exc}"
        return state
    read: dict[ParserFunc, str | None] = {}  # parser -> None once one of its outputs parsed, else the error
    for command in sorted(outputs):
        text = outputs[command]
        state.commands.append(command)
        if _is_running_config(command):
            config_text = text
        try:
            func = _parser_of(command)
            if state.platform not in PLATFORMS:  # as `parse` checks it (`show version` sets it)
                raise ParseError(command, f"unknown platform {state.platform!r} (ios or iosxe)")
            model = run_parser(func, command, text, state.platform)  # `parse` without its second lookup
        except UnknownCommand:
            continue
        except ParseError as exc:  # also a parser's own bug: `parse` reports it as a ParseError
            state.errors.append(f"{command}: {exc}")
            state.parse_errors[command] = str(exc)
            if read.get(func, "") is not None:
                read.setdefault(func, f"{command} did not parse")
            continue
        read[func] = None
        merge = _MERGE.get(type(model))
        if merge is not None:
            merge(state, command, model)
    for p in files.json:
        try:
            data = json.loads(store.read_bytes(p).decode("utf-8"))  # as `p.read_text(encoding="utf-8")`
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
    state.no_outputs = not outputs
    if not outputs and state.unreachable is None:
        state.errors.append("no stored outputs for this host")
    _to_utc(state, config_text)
    # a read that timed out keeps the head of the config only: `ip http server` and other late
    # lines are then missing, which must not read as "not configured"
    state.config_complete = not config_text or config_complete(config_text)
    # the platform: what the device says (`show version`, NAPALM), else the platforms table
    fam = state.facts.get("platform_family")
    named = fam if isinstance(fam, str) else None
    row = platforms.by_name(named) or platforms.by_model(state.model)
    state.platform = state.platform or (row.family if row else None)
    if named is None and row is not None:  # the row `software_family` would find again by the model
        state.software_family = row.software_family
    else:
        state.software_family = platforms.software_family(named, state.model, state.platform)
    state.ca_servers = _ca_facts(state)
    if state.unreachable is None:
        state.incomplete = _incomplete(state, read)
    return state


def _to_utc(state: HostState, config_text: str) -> None:
    """UTC copies of every parsed time (timers already are UTC): see `iospki.state.devicetime`.

    The parsed models stay as printed in `state.printed`; the state's own fields get the copies."""
    zones = devicetime.from_config(config_text)
    clock = state.clock
    if clock is not None and clock.tz and clock.tz not in zones.offsets:
        timer = next((t for t in state.timers or [] if t.at is not None), None)
        if timer is not None and timer.at is not None:
            off = devicetime.measure(clock.time, timer.at - timedelta(seconds=timer.remaining_seconds))
            if off is not None:
                zones.offsets[clock.tz] = off
                zones.source = "measured (show clock against the timers' UTC)"
    # the lists as parsed: the state's own fields get new ones below
    state.printed = Printed(clock, state.certificates, state.servers, state.keys)

    def utc(objs: list[Any]) -> list[Any]:
        return [devicetime.to_utc(o, zones) for o in objs]

    state.clock = devicetime.to_utc(clock, zones) if clock is not None else None
    state.ntp = devicetime.to_utc(state.ntp, zones) if state.ntp is not None else None
    state.certificates = utc(state.certificates)
    state.servers = utc(state.servers)
    state.crls = utc(state.crls)
    state.keys = utc(state.keys)
    state.trustpool = utc(state.trustpool) if state.trustpool is not None else None
    state.issued = {name: utc(certs) for name, certs in state.issued.items()}
    state.zones = zones


def _gc_quiet(load: Callable[..., list[HostState]]) -> Callable[..., list[HostState]]:
    """Run a collection load with the cyclic garbage collector off, then freeze what it built.

    A load allocates millions of long-lived objects (models, datetimes, strings) and no cycles
    worth collecting (models and states are trees; refcounting frees them). With the collector on,
    its full passes walk everything loaded so far again and again, and after the load every pass
    the forecast or the audit triggers walks all of it once more: measured, the forecast of 10,000
    hosts grew super-linearly. `gc.freeze()` moves the loaded objects out of the collector's view
    (they are still freed by refcount when dropped); objects built later are collected as usual."""

    @functools.wraps(load)
    def run(*args: Any, **kwargs: Any) -> list[HostState]:
        with PAUSED:
            try:
                return load(*args, **kwargs)
            finally:
                gc.freeze()  # still paused: nothing is collected between the load and the freeze

    return run


@_gc_quiet
def load_collection(
    root: Path | str,
    limit: list[str] | None = None,
    load: Callable[[list[str]], Iterable[HostState]] | None = None,
) -> list[HostState]:
    """All hosts of a collection (optionally only those named or matching globs in `limit`).

    A collection `collect` marked interrupted (meta.json) marks every host; a host its meta.json names
    that has no folder (deleted, or never reached before a kill) is a host with nothing collected.
    Without meta.json (outputs gathered by other means) the folders are the hosts. `load`: what loads the
    host folders, given their names, in that order (default `load_host` each, here; `--cluster`: the
    workers, `iospki.cluster.analysis`)."""
    meta, problem = _meta(root)
    folders = set(store.hosts(root))
    names = sorted(folders | _meta_hosts(meta))
    if limit:
        names = [h for h in names if any(fnmatch.fnmatchcase(h, pat) for pat in limit)]
    interrupted = problem or (
        "the collection was interrupted (meta.json: interrupted); its outputs may be missing or stale"
        if meta is not None and meta.get(store.INTERRUPTED) is True
        else None
    )
    present = [h for h in names if h in folders]  # `store.hosts` listed them as folders: no stat per host
    loaded = iter(load(present) if load is not None else (load_host(root, h) for h in present))
    states = []
    for h in names:
        if h in folders:
            st = next(loaded)
        else:
            st = HostState(h, no_outputs=True)
            st.incomplete = {r.command: NOT_COLLECTED for r in REQUIRED_OUTPUTS if r.needed(st)}
        st.interrupted = interrupted
        states.append(st)
    return states


def _meta(root: Path | str) -> tuple[dict[str, Any] | None, str | None]:
    """meta.json (None when absent: outputs gathered by other means) and why it is unusable, if it is."""
    try:
        return store.read_meta(root), None
    except (OSError, ValueError) as exc:
        return None, f"meta.json is unreadable ({exc}): it cannot say that the collection finished"


def _meta_hosts(meta: dict[str, Any] | None) -> set[str]:
    """The hosts meta.json names (planned, ok, failed) that are usable as folder names."""
    if meta is None:
        return set()
    names = [h for key in ("hosts_planned", "hosts_ok", "hosts_failed") for h in meta.get(key) or []]
    return {h for h in names if isinstance(h, str) and store.host_name_problem(h) is None}
