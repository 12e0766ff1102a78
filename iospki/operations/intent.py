"""PKI intent: what the inventory says each router should be (pydantic models of host/group data).

The intent lives in the Nornir host/group `data`:

    ca_server:   {name, issuer, lifetime_ca_days, lifetime_certificate_days, auto_rollover_days, grant, ...}
    trustpoints: [{name, ca_server: <host>, auto_enroll_percent, regenerate, key_label, key_size, ...}]
    ntp_servers: [addr, ...]   or   calendar_valid: true
    domain_name: lab.example

`validate_inventory()` checks every host's data and the cross-host rules (a trustpoint names an existing
CA server host; its enrollment URL matches that server's HTTP address).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iospki.models import normalize_fingerprint


class _Intent(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CAServerIntent(_Intent):
    """`crypto pki server NAME` and every option the seed uses."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,32}$")
    issuer: str | None = Field(default=None, description="issuer-name, e.g. CN=RootCA,OU=TAC,O=Cisco")
    lifetime_ca_days: int | None = Field(default=None, ge=1, le=7305)
    lifetime_certificate_days: int | None = Field(default=None, ge=1, le=7305)
    lifetime_crl_hours: int | None = Field(default=None, ge=1, le=336)
    lifetime_enrollment_request_hours: int | None = Field(default=None, ge=1, le=1000)
    auto_rollover_days: int | None = Field(default=None, ge=1, description="overlap; None = no auto-rollover")
    grant: Literal["auto", "manual", "none"] = "manual"
    grant_pending: bool = Field(
        default=False,
        description="with grant manual: the toolkit grants pending requests during deploy/renew",
    )
    database_level: Literal["minimum", "names", "complete"] | None = None
    database_url: str | None = None
    database_archive: Literal["pkcs12", "pem"] | None = Field(
        default=None, description="archive format; its password comes from IOSPKI_CA_PASSPHRASE"
    )
    hash: Literal["md5", "sha1", "sha256", "sha384", "sha512"] | None = None
    cdp_url: str | None = None
    http_port: int = Field(default=80, ge=1, le=65535)

    @model_validator(mode="after")
    def _lifetimes(self) -> CAServerIntent:
        ca = self.lifetime_ca_days or 1095
        cert = self.lifetime_certificate_days or 365
        if cert > ca:
            raise ValueError(f"lifetime_certificate_days ({cert}) exceeds lifetime_ca_days ({ca})")
        if self.auto_rollover_days is not None and self.auto_rollover_days >= ca:
            raise ValueError(
                f"auto_rollover_days ({self.auto_rollover_days}) must be shorter than the CA lifetime ({ca})"
            )
        return self


_FP = re.compile(r"^[0-9A-Fa-f]{32}$|^[0-9A-Fa-f]{40}$")


class TrustpointIntent(_Intent):
    """`crypto pki trustpoint NAME` on a client."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-.]{1,64}$")
    ca_server: str = Field(description="inventory host name of the CA server this trustpoint enrolls with")
    enrollment_url: str | None = Field(default=None, description="default: http://<CA host>:<http_port>")
    auto_enroll_percent: int | None = Field(default=None, ge=1, le=100)
    auto_enroll: bool = Field(default=True, description="False: no auto-enroll line at all")
    regenerate: bool = False
    key_label: str | None = None
    key_size: int = Field(default=2048, ge=512, le=4096)
    subject: str | None = Field(default=None, description="subject-name, e.g. CN=r1.lab,O=iospki")
    serial_number: bool = False
    ip_address: str | None = Field(default="none", description="ip-address line; 'none' skips the question")
    revocation_check: str = "none"
    expected_ca_fingerprint: str | None = Field(
        default=None, description="MD5 (32 hex) or SHA1 (40 hex) of the CA"
    )
    enrollment_retry_count: int | None = Field(default=None, ge=1, le=100)
    enrollment_retry_period: int | None = Field(default=None, ge=1, le=60, description="minutes")

    @field_validator("expected_ca_fingerprint")
    @classmethod
    def _fp(cls, v: str | None) -> str | None:
        if v is None:
            return None
        n = normalize_fingerprint(v)
        if not _FP.match(n):
            raise ValueError(
                "expected_ca_fingerprint must be an MD5 (32 hex digits) or SHA1 (40 hex digits) fingerprint"
            )
        return n

    @field_validator("revocation_check")
    @classmethod
    def _rc(cls, v: str) -> str:
        allowed = {"none", "crl", "ocsp"}
        words = v.split()
        if not words or any(w not in allowed for w in words):
            raise ValueError(f"revocation_check must be words from {sorted(allowed)}, got {v!r}")
        return v


class HostIntent(_Intent):
    """The PKI-relevant data of one host (unknown keys elsewhere in host data are ignored)."""

    lab: bool = False
    domain_name: str | None = None
    ntp_servers: list[str] = Field(default_factory=list)
    calendar_valid: bool = False
    ca_server: CAServerIntent | None = None
    trustpoints: list[TrustpointIntent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> HostIntent:
        names = [t.name for t in self.trustpoints]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate trustpoint names: {sorted(dup)}")
        if self.ca_server and self.ca_server.name in names:
            raise ValueError(
                f"trustpoint {self.ca_server.name!r} collides with the CA server's own trustpoint"
            )
        return self

    @property
    def clock_source_ok(self) -> bool:
        return bool(self.ntp_servers) or self.calendar_valid


INTENT_KEYS = set(HostIntent.model_fields)


def host_intent(data: Mapping[str, Any]) -> HostIntent:
    """Build a HostIntent from a host's resolved data (keys that are not intent are ignored)."""
    return HostIntent.model_validate({k: v for k, v in data.items() if k in INTENT_KEYS})


class IntentError(ValueError):
    """Inventory data that is not valid intent; `problems` holds `(host, message)` pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{h}: {m}" for h, m in problems))


def enrollment_url_for(ca_address: str, http_port: int) -> str:
    return f"http://{ca_address}:{http_port}" if http_port != 80 else f"http://{ca_address}"


def _url_host_port(url: str) -> tuple[str, int] | None:
    m = re.match(r"^https?://(\[[^\]]+\]|[^/:]+)(?::(\d+))?(/.*)?$", url)
    if not m:
        return None
    return m.group(1), int(m.group(2) or (443 if url.startswith("https") else 80))


def validate_inventory(
    hosts: Mapping[str, tuple[str, Mapping[str, Any]]],
) -> tuple[dict[str, HostIntent], list[tuple[str, str]]]:
    """Validate every host's intent and the cross-host rules.

    `hosts` maps host name -> (address, resolved data). Returns (intents of the valid hosts, problems) where
    problems is a list of (host, message); an empty list means the inventory is valid.
    """
    intents: dict[str, HostIntent] = {}
    problems: list[tuple[str, str]] = []
    for name, (_addr, data) in hosts.items():
        try:
            intents[name] = host_intent(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                problems.append((name, f"{loc}: {err['msg']}" if loc else err["msg"]))
    for name, intent in intents.items():
        if (intent.ca_server or intent.trustpoints) and not intent.clock_source_ok:
            problems.append(
                (
                    name,
                    "no clock source: set ntp_servers or calendar_valid (PKI timers need an authoritative clock)",
                )
            )
        for tp in intent.trustpoints:
            ca = intents.get(tp.ca_server)
            if tp.ca_server not in hosts:
                problems.append(
                    (name, f"trustpoint {tp.name}: ca_server {tp.ca_server!r} is not a host in the inventory")
                )
                continue
            if ca is None:
                continue  # that host's own errors are reported already
            if ca.ca_server is None:
                problems.append((name, f"trustpoint {tp.name}: host {tp.ca_server!r} has no ca_server"))
                continue
            addr = hosts[tp.ca_server][0]
            if tp.enrollment_url is not None:
                hp = _url_host_port(tp.enrollment_url)
                if hp is None:
                    problems.append(
                        (
                            name,
                            f"trustpoint {tp.name}: enrollment_url {tp.enrollment_url!r} is not an http URL",
                        )
                    )
                elif hp != (addr, ca.ca_server.http_port):
                    problems.append(
                        (
                            name,
                            f"trustpoint {tp.name}: enrollment_url {tp.enrollment_url} does not match CA server "
                            f"{tp.ca_server} HTTP address {addr}:{ca.ca_server.http_port}",
                        )
                    )
    return intents, problems


def trustpoint_url(tp: TrustpointIntent, ca_address: str, ca: CAServerIntent) -> str:
    return tp.enrollment_url or enrollment_url_for(ca_address, ca.http_port)
