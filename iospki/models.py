"""Typed data read from IOS/IOS-XE PKI outputs.

These models are the contract between the parsers (which fill them), the audit and
forecast (which read them) and the JSON that other tools consume (`iospki parse`).
Field names are stable: add fields, never rename them.

Times, as the parsers fill them, are naive datetimes on the device's own clock (device-local),
with the zone name the device printed beside them in `tz` (IOS prints abbreviations such as
UTC, GMT, IST, which are not unique world-wide, so a parser does not resolve them), except
`Timer.at`, which IOS prints in UTC. The loader (`iospki.state.loader`) resolves each device's
zones from its own config and gives audit and forecast copies in UTC (`tz` then reads 'UTC';
`iospki.state.devicetime` lists every dated model); the parsed objects stay device-local.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def normalize_fingerprint(fp: str | None) -> str:
    """The one form a fingerprint is kept and compared in: upper-case hex without spaces or colons.

    IOS prints '8434CA9A F98CC825 ...', people paste '84:34:ca:...'; '' stands for no fingerprint.

    >>> normalize_fingerprint("8434ca9a F98CC825:0A"), normalize_fingerprint(None)
    ('8434CA9AF98CC8250A', '')
    """
    # str.split() cuts at exactly the characters str.isspace() names; C speed (the audit calls this per client)
    return "".join((fp or "").upper().split()).replace(":", "")


class Model(BaseModel):
    """Base: forbid unknown fields so typos in parsers fail loudly."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- certificates


class CertKind(str, Enum):
    identity = "identity"
    ca = "ca"
    ra_signature = "ra-signature"
    ra_encryption = "ra-encryption"
    subordinate_ca = "subordinate-ca"
    ra_mode_cs = "ra-mode-cs"
    self_signed = "self-signed"
    request = "request"


class Certificate(Model):
    section: str = Field(description="the section header as printed, e.g. 'CA Certificate (Rollover)'")
    kind: CertKind
    rollover: bool = False
    status: str | None = None
    serial: str | None = Field(default=None, description="hex, upper case, no 0x")
    usage: str | None = None
    issuer: str | None = None
    subject: str | None = None
    subject_fields: dict[str, str] = Field(default_factory=dict, description="e.g. cn, hostname, o, serialNumber")
    start: datetime | None = None
    end: datetime | None = None
    renew: datetime | None = None
    tz: str | None = None
    trustpoints: list[str] = Field(default_factory=list)
    storage: str | None = None
    crl_distribution_points: list[str] = Field(default_factory=list)
    # pending requests
    request_fingerprint_md5: str | None = None
    request_fingerprint_sha1: str | None = None
    # verbose fields
    version: int | None = None
    key_type: str | None = None
    key_size: int | None = None
    signature_algorithm: str | None = None
    fingerprint_md5: str | None = None
    fingerprint_sha1: str | None = None
    key_usage: list[str] = Field(default_factory=list)
    extended_key_usage: list[str] = Field(default_factory=list)
    key_label: str | None = None
    install_time: datetime | None = None
    subject_key_id: str | None = None
    authority_key_id: str | None = None
    # added by the certificates parser (part A)
    issuer_fields: dict[str, str] = Field(default_factory=dict, description="e.g. cn, o, ou of the issuer")
    trustpool: bool = Field(default=False, description="'Trustpool' was listed among the trustpoints")
    key_usage_hex: str | None = None
    basic_constraints_ca: bool | None = None
    subject_alt_names: list[str] = Field(default_factory=list, description="e.g. 'IP Address:100.100.100.1'")
    authority_info_access: list[str] = Field(default_factory=list)
    install_time_ns: int | None = None
    key_storage: str | None = Field(default=None, description="'Key storage device:' (verbose)")


class CertificatesOutput(Model):
    certificates: list[Certificate] = Field(default_factory=list)


# --------------------------------------------------------------------------- timers


class Timer(Model):
    section: str = Field(description="e.g. 'PKI Timers', 'CS Timers', 'Expiry Alert Timers'")
    kind: str = Field(description="e.g. RENEW, SHADOW, POLL, CS SHADOW CERT GENERATION, ER EXPIRE, ID, CA, CS")
    target: str | None = Field(default=None, description="trustpoint, server, request id or issuer")
    remaining_seconds: float
    at: datetime | None = Field(default=None, description="absolute time when the device printed it (UTC)")
    label: str | None = Field(default=None, description="the timer's label as printed, e.g. 'CRL UPDATE *cn=root'")


class TimersOutput(Model):
    timers: list[Timer] = Field(default_factory=list)


# --------------------------------------------------------------------------- certificate server


class CAServer(Model):
    name: str
    status: str | None = None
    status_reason: str | None = Field(default=None, description="e.g. 'HTTP Server is disabled'")
    state: str | None = None
    locked: bool | None = None
    issuer: str | None = None
    ca_fingerprint: str | None = Field(default=None, description="MD5, upper case hex without spaces")
    grant_mode: str | None = None
    last_serial: str | None = None
    ca_expires: datetime | None = None
    crl_next_update: datetime | None = None
    tz: str | None = None
    storage_dir: str | None = None
    database_level: str | None = None
    auto_rollover_days: int | None = None
    autorollover_at: datetime | None = None
    rollover_status: str | None = None
    rollover_fingerprint: str | None = None
    rollover_expires: datetime | None = None
    ra_mode: bool = False
    mode: str | None = Field(default=None, description="root, subordinate or ra when printed")
    ra_fingerprint: str | None = Field(default=None, description="RA cert fingerprint (RA mode), hex without spaces")
    upper_ca_fingerprint: str | None = Field(default=None, description="Upper CA cert fingerprint (RA/sub CA)")
    crl_storage_dir: str | None = Field(default=None, description="Current storage dir for .crl files")


class ServersOutput(Model):
    servers: list[CAServer] = Field(default_factory=list)


class EnrollmentRequest(Model):
    section: str = Field(description="router, ra or subordinate-ca")
    req_id: int
    state: str
    fingerprint: str | None = None
    subject: str | None = None


class RequestsOutput(Model):
    requests: list[EnrollmentRequest] = Field(default_factory=list)


class IssuedCertificate(Model):
    serial: str
    issued: datetime | None = None
    expires: datetime | None = None
    tz: str | None = None
    subject: str | None = None


class IssuedCertificatesOutput(Model):
    certificates: list[IssuedCertificate] = Field(default_factory=list)


class RevokedEntry(Model):
    serial: str
    revoked_at: datetime | None = None


class Crl(Model):
    issuer: str | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    tz: str | None = None
    entries: int | None = None
    size_bytes: int | None = None
    revoked: list[RevokedEntry] = Field(default_factory=list)
    downloaded_at: datetime | None = None
    retrieved_from: list[str] = Field(default_factory=list, description="CDP URLs or the SCEP note")
    cache_status: str | None = Field(default=None, description="e.g. 'stored in parsed CRL cache'")


class CrlsOutput(Model):
    crls: list[Crl] = Field(default_factory=list)
    cache_current_bytes: int | None = None
    cache_max_bytes: int | None = None


# --------------------------------------------------------------------------- trustpoints and keys


class Trustpoint(Model):
    name: str
    subject: str | None = None
    serial: str | None = None
    certificate_configured: bool = False
    scep_url: str | None = None
    self_signed: bool = False
    key_label: str | None = None
    status: str | None = Field(default=None, description="other status lines as printed, e.g. 'Certificate configured.'")


class TrustpointsOutput(Model):
    trustpoints: list[Trustpoint] = Field(default_factory=list)


class TrustpointStatus(Model):
    name: str
    ca_configured: bool = False
    ca_subject: str | None = None
    ca_fingerprint_md5: str | None = None
    ca_fingerprint_sha1: str | None = None
    router_cert_configured: bool = False
    router_subject: str | None = None
    router_fingerprint_md5: str | None = None
    router_fingerprint_sha1: str | None = None
    last_enrollment_status: str | None = None
    keys_generated: bool | None = None
    keys_detail: str | None = None
    ca_authenticated: bool | None = None
    certificate_requests: str | None = None


class TrustpointStatusOutput(Model):
    trustpoints: list[TrustpointStatus] = Field(default_factory=list)


class KeyPair(Model):
    name: str
    generated_at: datetime | None = None
    tz: str | None = None
    key_type: str = "RSA"
    usage: str | None = None
    exportable: bool | None = None
    temporary: bool = False
    rollover: bool = Field(default=False, description="a NAME# key pair: the rollover/regenerate key")
    storage: str | None = None
    redundancy: str | None = None
    key_size: int | None = None
    key_data: str | None = None


class KeysOutput(Model):
    keys: list[KeyPair] = Field(default_factory=list)


# --------------------------------------------------------------------------- clock and NTP


class Clock(Model):
    time: datetime
    tz: str | None = None
    authoritative: bool = Field(description="False when IOS prints a leading '*'")
    ntp_unsynced: bool = Field(default=False, description="True for a leading '.': authoritative, NTP lost")
    source: str | None = Field(default=None, description="'Time source is NTP' etc. from show clock detail")


class NtpStatus(Model):
    synchronized: bool
    enabled: bool = Field(default=True, description="False for '%NTP is not enabled.'")
    stratum: int | None = None
    reference: str | None = None
    nominal_freq_hz: float | None = None
    actual_freq_hz: float | None = None
    precision: str | None = None
    uptime_seconds: float | None = None
    resolution: int | None = None
    reference_time: datetime | None = None
    tz: str | None = None
    offset_ms: float | None = None
    root_delay_ms: float | None = None
    root_dispersion_ms: float | None = None
    peer_dispersion_ms: float | None = None
    loopfilter_state: str | None = None
    drift: str | None = None
    poll_interval: int | None = None
    last_update_seconds: int | None = None


# --------------------------------------------------------------------------- software


class Version(Model):
    """`show version`: the software release and the box."""

    software: str = Field(description="the first 'Version' field as printed, e.g. 15.4(3)M10 or 17.03.04a")
    family: str | None = Field(default=None, description="iosxe when the text names IOS XE, ios when it names IOS")
    image: str | None = Field(default=None, description="e.g. 'C2900 Software (C2900-UNIVERSALK9-M)'")
    model: str | None = Field(default=None, description="e.g. CISCO2911/K9, ISR4451-X/K9, CSR1000V")
    hostname: str | None = None
    uptime: str | None = Field(default=None, description="as printed, e.g. '1 week, 2 days, 3 minutes'")
    uptime_seconds: int | None = None
    system_image: str | None = None
    processor_board_id: str | None = None
    config_register: str | None = None
    reload_reason: str | None = None


# --------------------------------------------------------------------------- running config


def iso_duration(td: timedelta) -> str:
    """An exact ISO 8601 duration: days, hours, minutes, seconds, never years or months.

    IOS lifetimes are day counts (`lifetime ca-certificate 730`). pydantic's own JSON form
    folds 365 days into 'P1Y', which every calendar-aware reader takes as a calendar year
    (730 days from 2026-12-02 end on 2028-12-01; 'P2Y' would say 2028-12-02).

    >>> iso_duration(timedelta(days=730)), iso_duration(timedelta(days=1, hours=2, minutes=3))
    ('P730D', 'P1DT2H3M')
    >>> iso_duration(timedelta(hours=24)), iso_duration(timedelta(seconds=90.5)), iso_duration(timedelta(0))
    ('P1D', 'PT1M30.5S', 'PT0S')
    """
    sign = "-" if td < timedelta(0) else ""
    td = abs(td)
    hours, rest = divmod(td.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    sec = f"{seconds}.{td.microseconds:06d}".rstrip("0") if td.microseconds else str(seconds)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M")) if v)
    time += f"{sec}S" if td.microseconds or seconds else ""
    if not td.days and not time:
        return "PT0S"
    return f"{sign}P" + (f"{td.days}D" if td.days else "") + (f"T{time}" if time else "")


# a timedelta whose JSON form is `iso_duration` (python mode keeps the timedelta)
ExactDuration = Annotated[timedelta, PlainSerializer(iso_duration, return_type=str, when_used="json")]


class CAServerConfig(Model):
    name: str
    shutdown: bool = True
    database_level: str | None = None
    database_url: str | None = None
    database_archive: str | None = Field(default=None, description="pkcs12 or pem; the password is never kept")
    database_archive_password_set: bool = False
    issuer_name: str | None = None
    grant: str | None = Field(default=None, description="auto, none, ra-auto; None means manual (the default)")
    grant_auto_rollover: list[str] = Field(
        default_factory=list, description="`grant auto rollover ca-cert|ra-cert` (kept apart from `grant`)"
    )
    lifetime_certificate: ExactDuration | None = None
    lifetime_ca_certificate: ExactDuration | None = None
    lifetime_crl: ExactDuration | None = None
    lifetime_enrollment_request: ExactDuration | None = None
    auto_rollover: ExactDuration | None = Field(default=None, description="overlap; None when not configured")
    hash: str | None = None
    cdp_url: str | None = None
    mode: str | None = Field(default=None, description="ra or sub-cs when configured")


class TrustpointConfig(Model):
    name: str
    enrollment_url: str | None = None
    enrollment_mode: str | None = Field(default=None, description="ra, selfsigned, terminal ...")
    enrollment_retry_count: int | None = None
    enrollment_retry_period: int | None = Field(default=None, description="minutes")
    serial_number: str | None = Field(default=None, description="'' for 'serial-number', 'none' for 'serial-number none'")
    ip_address: str | None = None
    fqdn: str | None = None
    subject_name: str | None = None
    revocation_check: list[str] = Field(default_factory=list)
    rsakeypair: str | None = None
    rsakeypair_size: int | None = None
    auto_enroll: bool = False
    auto_enroll_percent: int | None = None
    auto_enroll_regenerate: bool = False
    password_set: bool = Field(default=False, description="a challenge password is configured (value never kept)")
    hash: str | None = None


class ChainCertificate(Model):
    serial: str
    kind: str = Field(description="certificate, self-signed, ca, rollover, ca-rollover")


class CertificateChain(Model):
    trustpoint: str
    certificates: list[ChainCertificate] = Field(default_factory=list)


class RunningConfig(Model):
    """The PKI-relevant part of `show running-config`."""

    hostname: str | None = None
    domain_name: str | None = None
    ip_http_server: bool = False
    ip_http_secure_server: bool = False
    ip_http_port: int | None = None
    clock_calendar_valid: bool = False
    clock_timezone: str | None = None
    ntp_servers: list[str] = Field(default_factory=list)
    ntp_master: bool = False
    servers: list[CAServerConfig] = Field(default_factory=list)
    trustpoints: list[TrustpointConfig] = Field(default_factory=list)
    chains: list[CertificateChain] = Field(default_factory=list)


# --------------------------------------------------------------------------- more of `show crypto pki` (issue 11 §4)
# counters, trustpool (+ `| count Downloaded`), certificates pem, crls download


class PkiCounters(Model):
    """`show crypto pki counters`: PKI sessions and certificate validations since reload or clear."""

    sessions_started: int
    sessions_ended: int
    sessions_active: int
    successful_validations: int
    failed_validations: int = Field(description="peer certificates that failed validation (chain, expiry, revocation)")
    bypassed_validations: int
    pending_validations: int
    crls_checked: int
    crl_fetch_attempts: int
    crl_failed_attempts: int
    crl_rejected_busy_fetching: int
    aaa_authorizations: int


class TrustpoolCertificate(Certificate):
    """A trustpool CA certificate: the `show crypto pki certificates` section plus its pool line."""

    source: str = Field(description="the 'Trustpool:' line, e.g. Built-In or Downloaded")


class TrustpoolOutput(Model):
    certificates: list[TrustpoolCertificate] = Field(default_factory=list)


class TrustpoolCountOutput(Model):
    """`show crypto pki trustpool | count Downloaded`."""

    downloaded: int = Field(description="lines matching 'Downloaded': one 'Trustpool: Downloaded' per certificate")


class PemCertificate(Model):
    label: str = Field(description="as printed after '%', e.g. 'Self-signed CA certificate'")
    pem: str = Field(description="the BEGIN to END lines joined by newlines")


class PemTrustpoint(Model):
    name: str
    certificates: list[PemCertificate] = Field(default_factory=list)


class PemOutput(Model):
    """`show crypto pki certificates pem [TP]`."""

    trustpoints: list[PemTrustpoint] = Field(default_factory=list)


class CrlStaticDownload(Model):
    weekday: str = Field(description="e.g. Thursday")
    time: str = Field(description="HH:MM on the device clock")


class CrlDownloadOutput(Model):
    """`show crypto pki crls download`: the scheduled CRL downloads (settings are global)."""

    trustpoints: list[str] = Field(default_factory=list)
    static_times: list[CrlStaticDownload] = Field(default_factory=list)
    prepublish_minutes: int
    max_retry_attempts: int
    retry_interval_minutes: int
