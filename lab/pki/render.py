"""`show crypto pki ...` outputs, running-config chain blocks, in the real IOS / IOS-XE formats.

Formats are copied from the real captures in shared/fixtures/real and ios-pki-behaviour.md §3.
`family` is "ios" (classic 15.x) or "iosxe".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .ca import CertificateServer, ios_time, serial_hex
from .clock import utc
from .keys import Keyring
from .names import UNSTRUCTURED_ADDRESS, UNSTRUCTURED_NAME, one_line, rdn_lines, value_of
from .timers import PkiTimers
from .trustpoint import Trustpoint, fingerprint_md5, fingerprint_sha1

SESSION_CLEANUP = timedelta(minutes=15)
DAY = timedelta(days=1)
# TRUSTPOOL: every IOS-XE capture (genie golden outputs 1, 2 and csr8kv, muninn basic; device clocks from 2020 to
# 2026) shows it due on 2029-04-25 ~01:55:41Z, the built-in Cisco trustpool bundle's renewal point; the seed's
# classic IOS shows the timer too (inside `PKI Timers`). The same time on classic IOS is inferred.
TRUSTPOOL_AT = datetime(2029, 4, 25, 1, 55, 41, tzinfo=timezone.utc)


@dataclass
class View:
    """What render needs from one device."""

    family: str
    now: datetime
    keyring: Keyring
    timers: PkiTimers
    trustpoints: list[Trustpoint] = field(default_factory=list)
    servers: list[CertificateServer] = field(default_factory=list)
    boot: datetime | None = None


# ---------------------------------------------------------------------------- helpers
def _sig_name(cert: x509.Certificate | x509.CertificateRevocationList) -> str:
    oid = cert.signature_algorithm_oid._name  # e.g. sha256WithRSAEncryption
    table = {
        "sha256WithRSAEncryption": "SHA256 with RSA Encryption",
        "sha384WithRSAEncryption": "SHA384 with RSA Encryption",
        "sha512WithRSAEncryption": "SHA512 with RSA Encryption",
        "sha1WithRSAEncryption": "SHA1 with RSA Encryption",
        "md5WithRSAEncryption": "MD5 with RSA Encryption",
    }
    return table.get(oid, oid)


def _hex_words(data: bytes, per_line: int = 8) -> list[str]:
    h = data.hex().upper()
    words = [h[i : i + 8] for i in range(0, len(h), 8)]
    return [" ".join(words[i : i + per_line]) for i in range(0, len(words), per_line)]


def _ski(cert: x509.Certificate) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return " ".join(_hex_words(ext.value.digest))


def _aki(cert: x509.Certificate) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    kid = ext.value.key_identifier
    return " ".join(_hex_words(kid)) if kid else None


def _subject_lines(name: x509.Name) -> list[str]:
    out = []
    host = value_of(name, UNSTRUCTURED_NAME)
    ip = value_of(name, UNSTRUCTURED_ADDRESS)
    sn = value_of(name, NameOID.SERIAL_NUMBER)
    if host:
        out.append(f"    Name: {host}")
    if ip:
        out.append(f"    IP Address: {ip}")
    if sn:
        out.append(f"    Serial Number: {sn}")
    return out + [f"    {line}" for line in rdn_lines(name)]


@dataclass
class _Section:
    header: str
    cert: x509.Certificate
    trustpoints: list[str]
    ca: bool
    renew: datetime | None = None
    installed: datetime | None = None
    key_label: str | None = None
    storage: str | None = None  # `Storage: nvram:...` (a CA server's own CA certificate)


def _cert_block(s: _Section, verbose: bool, family: str) -> list[str]:
    c = s.cert
    out = [s.header, "  Status: Available"]
    if verbose:
        out.append("  Version: 3")
    out += [
        f"  Certificate Serial Number (hex): {serial_hex(c.serial_number)}",
        f"  Certificate Usage: {'Signature' if s.ca else 'General Purpose'}",
        "  Issuer:",
        *[f"    {line}" for line in rdn_lines(c.issuer)],
        "  Subject:",
        *(_subject_lines(c.subject) if not s.ca else _ca_subject_lines(s.header, c.subject)),
        "  Validity Date:",
        f"    start date: {ios_time(c.not_valid_before_utc)}",
        f"    end   date: {ios_time(c.not_valid_after_utc)}",
    ]
    if s.renew is not None:
        out.append(f"    renew date: {ios_time(s.renew)}")
    if verbose:
        pub = c.public_key()
        bits = pub.key_size if isinstance(pub, rsa.RSAPublicKey) else 0
        out += [
            "  Subject Key Info:",
            "    Public Key Algorithm: rsaEncryption",
            f"    RSA Public Key: ({bits} bit)",
            f"  Signature Algorithm: {_sig_name(c)}",
            f"  Fingerprint MD5: {fingerprint_md5(c)} ",
            f"  Fingerprint SHA1: {fingerprint_sha1(c)} ",
            "  X509v3 extensions:",
        ]
        if s.ca:
            out += [
                "    X509v3 Key Usage: 86000000",
                "      Digital Signature",
                "      Key Cert Sign",
                "      CRL Signature",
            ]
        else:
            out += ["    X509v3 Key Usage: A0000000", "      Digital Signature", "      Key Encipherment"]
        ski, aki = _ski(c), _aki(c)
        if ski:
            out.append(f"    X509v3 Subject Key ID: {ski} ")
        if s.ca:
            out += ["    X509v3 Basic Constraints:", "        CA: TRUE"]
        if aki:
            out.append(f"    X509v3 Authority Key ID: {aki} ")
        out.append("    Authority Info Access:")
        if s.installed is not None:
            out.append(f"  Cert install time: {ios_time(s.installed)} ")
    out.append(f"  Associated Trustpoints: {' '.join(s.trustpoints)} ")
    if s.storage:
        out.append(f"  Storage: {s.storage}")
    if verbose and s.key_label:
        out.append(f"  Key Label: {s.key_label}")
    return out


def _ca_subject_lines(header: str, name: x509.Name) -> list[str]:
    """A CA certificate's subject. The seed's `CA Certificate (Rollover)` has a `Name: <cn>` line above the RDNs
    (the current CA certificate beside it has none)."""
    lines = [f"    {line}" for line in rdn_lines(name)]
    cn = value_of(name, NameOID.COMMON_NAME)
    if header == "CA Certificate (Rollover)" and cn:
        lines.insert(0, f"    Name: {cn}")
    return lines


def ca_storage(cert: x509.Certificate) -> str:
    """`nvram:<name>#<serial>CA.cer` as real CA servers show it (seed `RootCA#1CA.cer`, `CA-ROOT#1CA.cer`,
    `CA#1CA.cer`): the CA's common name without blanks, cut to 12 characters (`CiscoLicensi#1CA.cer`), and the
    serial in hex without leading zeros."""
    cn = (value_of(cert.subject, NameOID.COMMON_NAME) or "CA").replace(" ", "")[:12]
    return f"nvram:{cn}#{cert.serial_number:X}CA.cer"


def _fp_key(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def certificates(view: View, verbose: bool = False, only: str | None = None) -> str:
    sections: list[_Section] = []
    by_fp: dict[bytes, _Section] = {}

    def add(header: str, cert: x509.Certificate | None, tp: str, ca: bool, **kw: object) -> None:
        if cert is None:
            return
        key = _fp_key(cert) + header.encode()
        if key in by_fp:
            by_fp[key].trustpoints.append(tp)
            return
        s = _Section(header, cert, [tp], ca, **kw)  # type: ignore[arg-type]
        by_fp[key] = s
        sections.append(s)

    for tp in view.trustpoints:
        if only and tp.name != only:
            continue
        add(
            "Certificate",
            tp.cert,
            tp.name,
            False,
            renew=tp.renew_at if tp.cfg.auto_enroll_percent is not None else None,
            installed=tp.installed_at,
            key_label=tp.key_label,
        )
        add(
            "Certificate (Rollover)",
            tp.cert_rollover,
            tp.name,
            False,
            installed=None,
            key_label=tp._rollover_key or tp.key_label,
        )
        add("CA Certificate (Rollover)", tp.ca_rollover, tp.name, True)
        add("CA Certificate", tp.ca, tp.name, True, installed=tp.ca_installed_at)
    for cs in view.servers:
        if only and cs.name != only:
            continue
        add("CA Certificate (Rollover)", cs.rollover_cert, cs.name, True)
        add(
            "CA Certificate",
            cs.ca_cert,
            cs.name,
            True,
            installed=cs.ca_cert.not_valid_before_utc if cs.ca_cert else None,
            storage=ca_storage(cs.ca_cert) if cs.ca_cert else None,
        )
    out: list[str] = []
    for s in sections:
        out += _cert_block(s, verbose, view.family)
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


# ---------------------------------------------------------------------------- timers
def countdown(delta: timedelta) -> str:
    ms_total = max(0, int(delta.total_seconds() * 1000))
    d, rem = divmod(ms_total, 86_400_000)
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


def next_expiry_alert(end: datetime, now: datetime) -> datetime | None:
    """Expiry alerts (behaviour doc §1.6): from 60 days before `end`, weekly until a week is left, then daily.
    The next one after `now`, or None when no alert is left before `end`."""
    first = end - 60 * DAY
    if now < first:
        return first
    weekly = first + ((now - first) // (7 * DAY) + 1) * (7 * DAY)
    daily = end - (((end - now) - timedelta(microseconds=1)) // DAY) * DAY
    nxt = weekly if weekly < end - 7 * DAY else max(daily, end - 7 * DAY)
    return nxt if now < nxt < end else None


def _expiry_alerts(view: View) -> list[tuple[datetime, str]]:
    """`Expiry Alert Timers` (IOS-XE): ID(tp) for an identity certificate, CA(tp) for a CA certificate that is
    not self-signed (the doc: no alerts for self-signed certificates; the csr8kv capture shows no CA(client) for
    its self-signed root), CS(name) for a certificate server. The ID alerts stop once auto-enroll has a rollover
    certificate starting no later than the current one ends."""
    found: list[tuple[datetime, str]] = []

    def add(cert: x509.Certificate | None, label: str) -> None:
        at = next_expiry_alert(cert.not_valid_after_utc, view.now) if cert is not None else None
        if at is not None:
            found.append((at, label))

    for tp in view.trustpoints:
        covered = (
            tp.cfg.auto_enroll
            and tp.cert is not None
            and tp.cert_rollover is not None
            and tp.cert_rollover.not_valid_before_utc <= tp.cert.not_valid_after_utc
        )
        if not covered and (tp.cert is None or tp.cert.issuer != tp.cert.subject):
            add(tp.cert, f"ID({tp.name})")
        if tp.ca is not None and tp.ca.issuer != tp.ca.subject:
            add(tp.ca, f"CA({tp.name})")
    for cs in view.servers:
        add(cs.ca_cert, f"CS({cs.name})")
    return found


def timers(view: View) -> str:
    now = view.now
    groups: dict[str, list[tuple[datetime, str]]] = {
        "PKI Timers": [],
        "Expiry Alert Timers": [],
        "Trustpool Timers": [],
        "CS Timers": [],
    }
    boot = view.boot or now
    # SESSION CLEANUP runs every 15 minutes from boot; computed, not scheduled (it has no PKI effect)
    periods = int((now - boot) / SESSION_CLEANUP) + 1
    groups["PKI Timers"].append((boot + periods * SESSION_CLEANUP, "SESSION CLEANUP"))
    if view.family != "ios":  # classic IOS has no expiry-alert timers section
        groups["Expiry Alert Timers"] = _expiry_alerts(view)
    if now < TRUSTPOOL_AT:  # IOS-XE: its own section; classic IOS (seed): among the PKI timers
        groups["Trustpool Timers" if view.family != "ios" else "PKI Timers"].append((TRUSTPOOL_AT, "TRUSTPOOL"))
    for t in view.timers.timers.values():
        if t.section in groups:
            groups[t.section].append((t.at, t.name))
    out: list[str] = []
    xe = view.family != "ios"
    for section, items in groups.items():
        if not items:
            continue
        items.sort()
        out.append(section)

        def line(at: datetime, label: str | None) -> str:
            cd = countdown(at - now).rjust(16)
            iso = f"  ({utc(at):%Y-%m-%dT%H:%M:%SZ})" if xe else ""
            return f"|{cd}{iso}" + (f" {label}" if xe and label else (f"  {label}" if label else ""))

        out.append(line(items[0][0], None))
        out += ["  " + line(at, label) for at, label in items]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- trustpoints
def trustpoints(view: View, status: bool = False, only: str | None = None) -> str:
    out: list[str] = []
    for cs in view.servers:
        if cs.ca_cert is None or (only and cs.name != only):
            continue
        if status:
            out += _tp_status(
                cs.name, cs.ca_cert, None, "Yes", "None", None, cs.keyring.get(cs.name) is not None
            )
        else:
            out += [
                f"Trustpoint {cs.name}:",
                "    Subject Name:",
                f"    {one_line(cs.ca_cert.subject)}",
                f"          Serial Number (hex): {serial_hex(cs.ca_cert.serial_number)}",
                "    Certificate configured.",
                "",
            ]
    for tp in view.trustpoints:
        if only and tp.name != only:
            continue
        if status:
            req = "Yes" if tp.cert is not None or tp.pending is not None else "None"
            out += _tp_status(
                tp.name,
                tp.ca,
                tp.cert,
                "Yes" if tp.ca else "No",
                req,
                tp.last_status,
                tp.dev.keyring.get(tp.key_label) is not None,
            )
            continue
        out.append(f"Trustpoint {tp.name}:")
        if tp.ca is not None:
            out += [
                "    Subject Name:",
                f"    {one_line(tp.ca.subject)}",
                f"          Serial Number (hex): {serial_hex(tp.ca.serial_number)}",
                "    Certificate configured.",
            ]
        if tp.cfg.enrollment_url:
            url = tp.cfg.enrollment_url.rstrip("/")
            if url.count(":") == 1:  # no port given: IOS prints the default one
                url = url + ":80"
            out.append(f"    SCEP URL: {url}/cgi-bin")
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def _tp_status(
    name: str,
    ca: x509.Certificate | None,
    cert: x509.Certificate | None,
    auth: str,
    req: str,
    last: str | None,
    keys: bool,
) -> list[str]:
    out = [f"Trustpoint {name}:"]
    if ca is not None:
        out += [
            "  Issuing CA certificate configured:",
            "    Subject Name:",
            f"     {one_line(ca.subject)}",
            f"    Fingerprint MD5: {fingerprint_md5(ca)} ",
            f"    Fingerprint SHA1: {fingerprint_sha1(ca)} ",
        ]
    if cert is not None:
        out += [
            "  Router General Purpose certificate configured:",
            "    Subject Name:",
            f"     {one_line(cert.subject)}",
            f"    Fingerprint MD5: {fingerprint_md5(cert)} ",
            f"    Fingerprint SHA1: {fingerprint_sha1(cert)} ",
        ]
    if last:
        out.append(f"  Last enrollment status: {last}")
    out += [
        "  State:",
        f"    Keys generated ............. {'Yes (General Purpose, non-exportable)' if keys else 'No'}",
        f"    Issuing CA authenticated ....... {auth}",
        f"    Certificate request(s) ..... {req}",
        "",
    ]
    return out


# ---------------------------------------------------------------------------- keys
def mypubkey(view: View, label: str | None = None) -> str:
    out: list[str] = []
    for kp in view.keyring.keys.values():
        if label and kp.label != label:
            continue
        out.append(f"% Key pair was generated at: {ios_time(kp.generated_at)}")
        out.append(f"Key name: {kp.label}")
        if view.family == "ios":
            out += [
                "Key type: RSA KEYS",
                " Storage Device: not specified",
                " Usage: General Purpose Key",
                f" Key is {'' if kp.exportable else 'not '}exportable.",
            ]
        else:
            out += [
                f"Key type: RSA KEYS      {kp.bits} bits",
                " Storage Device: private-config",
                " Usage: General Purpose Key",
                f" Key is {'' if kp.exportable else 'not '}exportable. Redundancy enabled.",
            ]
        out.append(" Key Data:")
        out += [f"  {line}" for line in _hex_words(kp.public_der())]
    return "\n".join(out) + ("\n" if out else "")


# ---------------------------------------------------------------------------- server
def server(view: View, name: str | None = None) -> str:
    out: list[str] = []
    for cs in view.servers:
        if name and cs.name != name:
            continue
        serving, reason = cs.status()
        out.append(f"Certificate Server {cs.name}:")
        out.append(f"    Status: {reason}")
        state = "enabled" if serving else ("check failed" if cs.enabled else "disabled")
        out.append(f"    State: {state}")
        if cs.enabled:
            out.append('    Server\'s configuration is locked  (enter "shut" to unlock it)')
        else:
            out.append('    Server\'s configuration is unlocked  (enter "no shut" to lock it)')
        out.append(f"    Issuer name: {cs.cfg.issuer}")
        if cs.ca_cert is not None:
            out.append(f"    CA cert fingerprint: {fingerprint_md5(cs.ca_cert)} ")
        out.append(f"    Granting mode is: {cs.cfg.grant}")
        if cs.ca_cert is not None:
            out.append(f"    Last certificate issued serial number (hex): {cs.last_serial:X}")
            out.append(f"    CA certificate expiration timer: {ios_time(cs.ca_cert.not_valid_after_utc)}")
            if cs.crl is not None:
                out.append(f"    CRL NextUpdate timer: {ios_time(cs.crl.next_update_utc or view.now)}")
        out.append(f"    Current primary storage dir: {cs.cfg.database_url}")
        level = {
            "minimum": "Minimum - no cert data written to storage",
            "names": "Names - serial number and subject name written as <serialnum>.cnm",
            "complete": "Complete - all issued certs written as <serialnum>.cer",
        }[cs.cfg.database_level]
        out.append(f"    Database Level: {level}")
        if cs.rollover_cert is not None:
            # the seed's CS after the rollover CA is generated: these three lines come before the Auto-Rollover
            # line, and say "certificate" (the seed's PDF copy loses the indentation: the lab keeps the block's)
            out += [
                "    Rollover status: available for rollover",
                f"    Rollover CA certificate fingerprint: {fingerprint_md5(cs.rollover_cert)} ",
                f"    Rollover CA certificate expiration time: {ios_time(cs.rollover_cert.not_valid_after_utc)}",
            ]
        if cs.cfg.auto_rollover is not None:
            days = int(cs.cfg.auto_rollover.total_seconds() // 86400)
            out.append(f"    Auto-Rollover configured, overlap period {days} days")
            at = cs.autorollover_at()
            if at is not None and cs.rollover_cert is None:
                out.append(f"    Autorollover timer: {ios_time(at)}")
    return "\n".join(out) + ("\n" if out else "")


def server_requests(cs: CertificateServer) -> str:
    hdr = [
        "ReqID  State      Fingerprint                      SubjectName",
        "--------------------------------------------------------------",
    ]
    out = [
        "Enrollment Request Database:",
        "",
        "Subordinate CA certificate requests:",
        *hdr,
        "",
        "RA certificate requests:",
        *hdr,
        "",
        "Router certificates requests:",
        *hdr,
    ]
    for r in sorted(cs.requests.values(), key=lambda r: -r.req_id):
        out.append(f"{r.req_id:<6} {r.state:<10} {r.fingerprint} {r.subject}")
    return "\n".join(out) + "\n"


def server_certificates(cs: CertificateServer) -> str:
    out = ["Serial Issued date              Expire date               Subject Name"]
    for i in sorted(cs.issued.values(), key=lambda i: i.serial):
        out.append(f"{i.serial:<7X} {ios_time(i.issued):<24} {ios_time(i.expires):<25} {i.subject}")
    return "\n".join(out) + "\n"


def server_crl(cs: CertificateServer) -> str:
    crl = cs.crl
    if crl is None:
        return "% CRL not available\n"
    der = crl.public_bytes(serialization.Encoding.DER)
    out = [
        "Certificate Revocation List:",
        f"    Issuer: {one_line(crl.issuer)}",
        f"    This Update: {ios_time(crl.last_update_utc)}",
        f"    Next Update: {ios_time(crl.next_update_utc or crl.last_update_utc)}",
        f"    Number of CRL entries: {len(list(crl))}",
        f"    CRL size: {len(der)} bytes",
    ]
    for rc in crl:
        out += [
            f"    Serial Number (hex): {serial_hex(rc.serial_number)}",
            f"    Revocation Date: {ios_time(rc.revocation_date_utc)}",
        ]
    return "\n".join(out) + "\n"


def crls(view: View) -> str:
    """`show crypto pki crls`: CRLs in the parsed CRL cache (fetched by `crypto pki crl request`) and, on a
    certificate server, its own CRL."""
    entries: list[tuple[x509.CertificateRevocationList, datetime]] = []
    seen: set[bytes] = set()
    for tp in view.trustpoints:
        if tp.crl is not None and tp.crl_downloaded_at is not None:
            entries.append((tp.crl, tp.crl_downloaded_at))
    for cs in view.servers:
        if cs.crl is not None:
            entries.append((cs.crl, cs.crl.last_update_utc))
    out: list[str] = []
    size = 0
    for crl, at in entries:
        der = crl.public_bytes(serialization.Encoding.DER)
        if der in seen:
            continue
        seen.add(der)
        size += len(der)
        out += [
            "CRL Issuer Name:",
            f"    {one_line(crl.issuer)}",
            f"    LastUpdate: {ios_time(crl.last_update_utc)}",
            f"    NextUpdate: {ios_time(crl.next_update_utc or crl.last_update_utc)}",
            "",
            f"    CRL downloaded at: {ios_time(at)}",
            "",
            "    Retrieved from CRL Distribution Point:",
            "      ** CDP Not Published - Retrieved via SCEP",
            "",
            f" CRL DER is {len(der)} bytes",
            " CRL is stored in parsed CRL cache",
            "",
            "",
        ]
    if out:
        out += [
            f"Parsed CRL cache current size is {size} bytes",
            "Parsed CRL cache maximum size is 65536 bytes",
        ]
    return "\n".join(out) + ("\n" if out else "")


# ---------------------------------------------------------------------------- running config
def chain_block(tp_name: str, certs: list[tuple[str, x509.Certificate]]) -> list[str]:
    """`crypto pki certificate chain TP` with `certificate [ca] [rollover] SERIAL` + hex dump + quit."""
    lines = [f"crypto pki certificate chain {tp_name}"]
    for kind, cert in certs:
        lines.append(f" certificate {kind + ' ' if kind else ''}{serial_hex(cert.serial_number)}")
        for row in _hex_words(cert.public_bytes(serialization.Encoding.DER)):
            lines.append(f"  {row}")
        lines.append("  \tquit")
    return lines


def chain_certs(tp: Trustpoint) -> list[tuple[str, x509.Certificate]]:
    out: list[tuple[str, x509.Certificate]] = []
    if tp.cert is not None:
        out.append(("", tp.cert))
    if tp.cert_rollover is not None:
        out.append(("rollover", tp.cert_rollover))
    if tp.ca is not None:
        out.append(("ca", tp.ca))
    if tp.ca_rollover is not None:
        out.append(("ca rollover", tp.ca_rollover))
    return out


def parse_chain(lines: list[str]) -> list[tuple[str, x509.Certificate]]:
    """Inverse of chain_block's body: reads `certificate ...` children and their hex back to certificates."""
    out: list[tuple[str, x509.Certificate]] = []
    kind: str | None = None
    hexbuf: list[str] = []

    def flush() -> None:
        if kind is not None and hexbuf:
            with contextlib.suppress(ValueError):
                out.append((kind, x509.load_der_x509_certificate(bytes.fromhex("".join(hexbuf)))))

    for raw in lines:
        s = raw.strip()
        if s.startswith("certificate "):
            flush()
            words = s.split()[1:-1]
            kind, hexbuf = " ".join(words), []
        elif s == "quit":
            flush()
            kind, hexbuf = None, []
        elif kind is not None:
            hexbuf.append(s.replace(" ", ""))
    flush()
    return out
