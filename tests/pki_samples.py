"""Device outputs in the real IOS formats (behaviour doc §3, fixtures/real), for audit tests and the benchmark.

These write a collection (`iospki.state.store` layout) of one CA server host and its clients
with explicit dates, so a test states the situation it checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from iospki.state import store


def ios_time(t: datetime, tz: str = "UTC") -> str:
    """'06:14:56 UTC Mar 24 2025' (no zero padding of the day)."""
    return f"{t:%H:%M:%S} {tz} {t:%b} {t.day} {t.year}"


def clock(t: datetime, authoritative: bool = True) -> str:
    return f"{'' if authoritative else '*'}{t:%H:%M:%S}.123 UTC {t:%a %b} {t.day} {t.year}\n"


def ntp_status(synced: bool, offset_ms: float | None = None) -> str:
    if synced:
        return (
            "Clock is synchronized, stratum 2, reference is 127.10.0.254\n"
            "nominal freq is 250.0000 Hz, actual freq is 249.9980 Hz, precision is 2**10\n"
        ) + (
            f"clock offset is {offset_ms:.4f} msec, root delay is 1.00 msec\n"
            if offset_ms is not None
            else ""
        )
    return (
        "Clock is unsynchronized, stratum 16, no reference clock\n"
        "nominal freq is 1000.0003 Hz, actual freq is 1000.4923 Hz, precision is 2**13\n"
    )


def fingerprint(seed: str) -> str:
    h = hashlib.md5(seed.encode()).hexdigest().upper()  # noqa: S324 - a sample fingerprint, not security
    return " ".join(h[i : i + 8] for i in range(0, 32, 8))


@dataclass
class Cert:
    section: str  # 'Certificate', 'CA Certificate', 'Certificate (Rollover)', 'CA Certificate (Rollover)'
    serial: int
    issuer: str
    subject: str
    start: datetime
    end: datetime
    trustpoint: str
    renew: datetime | None = None
    hostname: str | None = None
    key_bits: int = 2048
    signature: str = "SHA256 with RSA Encryption"
    fp_seed: str | None = None


def certificates(certs: list[Cert]) -> str:
    out: list[str] = []
    for c in certs:
        ca = c.section.startswith("CA")
        out += [
            c.section,
            "  Status: Available",
            f"  Certificate Serial Number (hex): {c.serial:02X}",
            f"  Certificate Usage: {'Signature' if ca else 'General Purpose'}",
            "  Issuer:",
            f"    {c.issuer}",
            "  Subject:",
        ]
        if not ca and c.hostname:
            out += [f"    Name: {c.hostname}", f"    hostname={c.hostname}"]
        else:
            out.append(f"    {c.subject}")
        out += [
            "  Validity Date:",
            f"    start date: {ios_time(c.start)}",
            f"    end   date: {ios_time(c.end)}",
        ]
        if c.renew is not None:
            out.append(f"    renew date: {ios_time(c.renew)}")
        out += [
            "  Subject Key Info:",
            "    Public Key Algorithm: rsaEncryption",
            f"    RSA Public Key: ({c.key_bits} bit)",
            f"  Signature Algorithm: {c.signature}",
            f"  Fingerprint MD5: {fingerprint(c.fp_seed or f'{c.subject}{c.start.isoformat()}')} ",
        ]
        out += [f"  Associated Trustpoints: {c.trustpoint} ", ""]
    return "\n".join(out)


def countdown(delta: timedelta) -> str:
    total_ms = int(delta.total_seconds() * 1000)
    d, rem = divmod(total_ms, 86_400_000)
    h, rem = divmod(rem, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    if d:
        return f"{d}d{h:2d}:{m:02d}:{s:02d}.{ms:03d}"
    if h:
        return f"{h}:{m:02d}:{s:02d}.{ms:03d}"
    if m:
        return f"{m}:{s:02d}.{ms:03d}"
    return f"{s}.{ms:03d}"


def timers_detail(now: datetime, pki: list[tuple[datetime, str]], cs: list[tuple[datetime, str]]) -> str:
    """IOS-XE `show crypto pki timers detail` (device clock in UTC)."""
    out: list[str] = []
    for header, items in (("PKI Timers", pki), ("CS Timers", cs)):
        items = sorted(items)
        if not items:
            continue
        out.append(header)

        def line(at: datetime, label: str | None) -> str:
            return f"|{countdown(at - now):>16}  ({at:%Y-%m-%dT%H:%M:%SZ})" + (f" {label}" if label else "")

        out.append(line(*items[0][:1], None))
        out += ["  " + line(at, label) for at, label in items]
    return "\n".join(out) + "\n"


@dataclass
class Server:
    name: str
    ca_start: datetime
    ca_end: datetime
    lifetime_cert_days: int = 365
    lifetime_ca_days: int = 730
    auto_rollover_days: int | None = 90
    grant: str = "auto"
    rollover_end: datetime | None = None
    shutdown: bool = False
    http: bool = True
    hash: str | None = None
    crl_next: datetime | None = None
    pending: list[str] = field(default_factory=list)


def server_show(s: Server, now: datetime) -> str:
    serving = s.http and not s.shutdown
    out = [
        f"Certificate Server {s.name}:",
        f"    Status: {'enabled' if serving else 'disabled, HTTP Server is disabled'}",
        f"    State: {'enabled' if serving else 'check failed'}",
        '    Server\'s configuration is locked  (enter "shut" to unlock it)',
        f"    Issuer name: CN={s.name}",
        f"    CA cert fingerprint: {fingerprint(s.name + s.ca_start.isoformat())} ",
        f"    Granting mode is: {s.grant}",
        "    Last certificate issued serial number (hex): 5",
        f"    CA certificate expiration timer: {ios_time(s.ca_end)}",
        f"    CRL NextUpdate timer: {ios_time(s.crl_next or now + timedelta(hours=6))}",
        "    Current primary storage dir: nvram:",
        "    Database Level: Complete - all issued certs written as <serialnum>.cer",
    ]
    if s.auto_rollover_days is not None:
        out.append(f"    Auto-Rollover configured, overlap period {s.auto_rollover_days} days")
        out.append(f"    Autorollover timer: {ios_time(s.ca_end - timedelta(days=s.auto_rollover_days))}")
    if s.rollover_end is not None:
        out += [
            "    Rollover status: available for rollover",
            f"        Rollover CA cert fingerprint: {fingerprint(s.name + 'rollover')} ",
            f"        Rollover CA certificate expiration time: {ios_time(s.rollover_end)}",
        ]
    return "\n".join(out) + "\n"


def requests(pending: list[str]) -> str:
    """`show crypto pki server NAME requests` with `pending` subjects waiting."""
    head = "ReqID  State      Fingerprint                      SubjectName\n" + "-" * 62 + "\n"
    rows = "".join(
        f"{i + 1:<6} pending    {hashlib.md5(sub.encode()).hexdigest().upper()} {sub}\n"  # noqa: S324
        for i, sub in enumerate(pending)
    )
    return (
        "Enrollment Request Database:\n\nSubordinate CA certificate requests:\n"
        + head
        + "\nRA certificate requests:\n"
        + head
        + "\nRouter certificates requests:\n"
        + head
        + rows
    )


@dataclass
class Client:
    host: str
    trustpoint: str = "client"
    percent: int | None = 80
    auto: bool = True
    regenerate: bool = True
    id_start: datetime | None = None
    id_end: datetime | None = None
    renew: datetime | None = None
    rollover_ca: bool = False
    rollover_id: tuple[datetime, datetime] | None = None
    authoritative: bool = True
    timers: bool = True
    tp_timers: bool = True  # False: RENEW/SHADOW missing from the timers
    key_bits: int = 2048
    ca_override: tuple[datetime, datetime] | None = None  # a CA certificate other than the server's
    ca_fp_seed: str | None = None
    clock_skew: timedelta = timedelta(0)  # this client's `show clock` minus the CA's
    read_window: timedelta = timedelta(milliseconds=400)  # how long the collector waited for `show clock`
    ntp_offset_ms: float | None = (
        None  # `clock offset is ... msec` in show ntp status (source minus this clock)
    )


def running_config(
    hostname: str,
    servers: list[Server] = (),  # type: ignore[assignment]
    clients: list[Client] = (),  # type: ignore[assignment]
    calendar_valid: bool = True,
    http: bool = True,
    ca_url: str = "http://127.10.0.1:80",
) -> str:
    out = [
        "Building configuration...",
        "",
        "Current configuration : 2048 bytes",
        "!",
        f"hostname {hostname}",
        "!",
    ]
    if calendar_valid:
        out.append("clock calendar-valid")
    out += ["ntp server 127.10.0.254", "!"]
    if http:
        out.append("ip http server")
    for s in servers:
        out += [f"crypto pki server {s.name}", " database level complete", f" issuer-name CN={s.name}"]
        if s.grant == "auto":
            out.append(" grant auto")
        out += [
            f" lifetime certificate {s.lifetime_cert_days}",
            f" lifetime ca-certificate {s.lifetime_ca_days}",
        ]
        if s.auto_rollover_days is not None:
            out.append(f" auto-rollover {s.auto_rollover_days}")
        if s.hash:
            out.append(f" hash {s.hash}")
        if not s.shutdown:
            out.append(" no shutdown")
        out += ["!", f"crypto pki trustpoint {s.name}", " revocation-check crl", f" rsakeypair {s.name}", "!"]
    for c in clients:
        out += [
            f"crypto pki trustpoint {c.trustpoint}",
            f" enrollment url {ca_url}",
            " serial-number none",
            " ip-address none",
            " revocation-check none",
            f" rsakeypair {c.trustpoint}-key {c.key_bits}",
        ]
        if c.auto:
            pct = f" {c.percent}" if c.percent is not None else ""
            out.append(f" auto-enroll{pct}{' regenerate' if c.regenerate else ''}")
        out.append("!")
    out += ["end", ""]
    return "\n".join(out)


@dataclass
class Site:
    server: Server
    clients: list[Client] = field(default_factory=list)
    ca_host: str = "CA"
    ca_ntp_offset_ms: float | None = None
    # the collector's clock minus the devices' (a lab clock moved ahead, a jump host without NTP);
    # None: no read_times.json, as in collections made before iospki recorded it
    collector_offset: timedelta | None = timedelta(days=-400, seconds=7)


def write_read_time(
    root: Path, host: str, device_now: datetime, offset: timedelta, window: timedelta
) -> None:
    """`read_times.json` as `collect` writes it: `show clock` answered at device time `device_now`."""
    mid = device_now + offset
    sent, answered = mid - window / 2, mid + window / 2
    store.write_json(
        root,
        host,
        store.READ_TIMES,
        {"show clock": [f"{sent.isoformat()}+00:00", f"{answered.isoformat()}+00:00"]},
    )


def write_site(root: Path, site: Site, now: datetime) -> None:
    """Write the CA host and every client of `site` as collected at device time `now`."""
    s = site.server
    ca_cn = f"cn={s.name}"
    ca_seed = s.name + s.ca_start.isoformat()
    ca_certs = [Cert("CA Certificate", 1, ca_cn, ca_cn, s.ca_start, s.ca_end, s.name, fp_seed=ca_seed)]
    if s.rollover_end is not None:
        ca_certs.insert(
            0, Cert("CA Certificate (Rollover)", 1, ca_cn, ca_cn, s.ca_end, s.rollover_end, s.name)
        )
    store.write_output(root, site.ca_host, "show clock", clock(now))
    if site.collector_offset is not None:
        write_read_time(root, site.ca_host, now, site.collector_offset, timedelta(milliseconds=300))
    store.write_output(root, site.ca_host, "show ntp status", ntp_status(True, site.ca_ntp_offset_ms))
    store.write_output(root, site.ca_host, "show crypto pki server", server_show(s, now))
    store.write_output(root, site.ca_host, "show crypto pki certificates verbose", certificates(ca_certs))
    store.write_output(root, site.ca_host, f"show crypto pki server {s.name} requests", requests(s.pending))
    store.write_output(
        root, site.ca_host, "show running-config", running_config(site.ca_host, [s], http=s.http)
    )
    cs = [(s.ca_end, "CS CERT EXPIRE")]
    if s.auto_rollover_days is not None and s.rollover_end is None:
        cs.append((s.ca_end - timedelta(days=s.auto_rollover_days), "CS SHADOW CERT GENERATION"))
    store.write_output(
        root,
        site.ca_host,
        "show crypto pki timers detail",
        timers_detail(now, [], [c for c in cs if c[0] > now]),
    )
    for i, c in enumerate(site.clients):
        certs: list[Cert] = []
        ca_start, ca_end = c.ca_override or (s.ca_start, s.ca_end)
        if c.id_start is not None and c.id_end is not None:
            certs.append(
                Cert(
                    "Certificate",
                    2 + i,
                    ca_cn,
                    c.host,
                    c.id_start,
                    c.id_end,
                    c.trustpoint,
                    c.renew,
                    hostname=f"{c.host}.lab",
                    key_bits=c.key_bits,
                )
            )
        if c.rollover_id is not None:
            certs.append(
                Cert(
                    "Certificate (Rollover)",
                    100 + i,
                    ca_cn,
                    c.host,
                    *c.rollover_id,
                    c.trustpoint,
                    hostname=f"{c.host}.lab",
                )
            )
        if c.rollover_ca and s.rollover_end is not None:
            certs.append(
                Cert("CA Certificate (Rollover)", 1, ca_cn, ca_cn, s.ca_end, s.rollover_end, c.trustpoint)
            )
        certs.append(
            Cert(
                "CA Certificate",
                1,
                ca_cn,
                ca_cn,
                ca_start,
                ca_end,
                c.trustpoint,
                fp_seed=c.ca_fp_seed or (s.name + ca_start.isoformat()),
            )
        )
        store.write_output(root, c.host, "show clock", clock(now + c.clock_skew, c.authoritative))
        if site.collector_offset is not None:
            write_read_time(root, c.host, now, site.collector_offset, c.read_window)
        store.write_output(root, c.host, "show ntp status", ntp_status(c.authoritative, c.ntp_offset_ms))
        store.write_output(root, c.host, "show crypto pki certificates verbose", certificates(certs))
        store.write_output(
            root,
            c.host,
            "show running-config",
            running_config(c.host, clients=[c], calendar_valid=c.authoritative),
        )
        if c.timers:
            pki: list[tuple[datetime, str]] = [(now + timedelta(minutes=5), "SESSION CLEANUP")]
            # rulebook C9: a certificate capped at the CA's end renews by a SHADOW timer (the shadow renewal), and
            # that SHADOW takes the place of the CA shadow at 90 %
            capped = c.auto and c.id_end is not None and c.id_end >= ca_end
            if c.auto and c.id_end is not None and c.rollover_id is None and c.tp_timers:
                pki.append((c.renew or c.id_end, f"{'SHADOW' if capped else 'RENEW'} {c.trustpoint}"))
            if not c.rollover_ca and c.tp_timers and not capped:
                shadow = ca_start + (ca_end - ca_start) * 9 / 10
                if shadow > now:
                    pki.append((shadow.replace(microsecond=0), f"SHADOW {c.trustpoint}"))
            store.write_output(
                root,
                c.host,
                "show crypto pki timers detail",
                timers_detail(now, [p for p in pki if p[0] > now], []),
            )
