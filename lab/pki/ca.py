"""The IOS certificate server (`crypto pki server NAME`): state, issuing, database and rollover.

Implements rules.md S1-S5 as a device does. Times come from the scheduler (seconds resolution).
The SCEP layer (lab/scep) reaches it through `submit()` / `poll()`; the CLI through the `cmd_*`
methods; `show` output is produced by render.py from this state.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from iospki.lab.scep.messages import challenge_password, signed_by

from .clock import Scheduler, utc
from .counters import PkiCounters
from .keys import KeyPair, Keyring
from .legacy_hash import HASH_NAMES, sign_certificate, sign_crl
from .names import NameError_, name_from_dn, one_line
from .timers import PkiTimers

DAY = timedelta(days=1)


class Storage(Protocol):
    """Device file storage (`nvram:x`, `flash:dir/x`)."""

    def read(self, path: str) -> bytes | None: ...

    def write(self, path: str, data: bytes) -> None: ...

    def delete(self, path: str) -> None: ...


class MemoryStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write(self, path: str, data: bytes) -> None:
        self.files[path] = data

    def delete(self, path: str) -> None:
        self.files.pop(path, None)


class CsError(ValueError):
    """An IOS error line for the CLI (starts with `%`)."""


def _span(args: list[str], units: tuple[timedelta, ...], what: str) -> timedelta:
    """`730` / `0 0 20` -> timedelta using the given units (days, hours, minutes or hours, minutes)."""
    if not args or len(args) > len(units) or not all(a.isdigit() for a in args):
        raise CsError(f"% Invalid {what} value")
    return sum((int(a) * u for a, u in zip(args, units, strict=False)), timedelta())


@dataclass
class CsConfig:
    name: str
    database_level: str = "minimum"
    database_url: str = "nvram:"
    archive_format: str | None = None  # pkcs12 | pem when `database archive` is set
    archive_password: str | None = None
    issuer_name: str | None = None
    grant: str = "manual"  # manual | auto | none
    lifetime_certificate: timedelta = field(default_factory=lambda: 365 * DAY)
    lifetime_ca: timedelta = field(default_factory=lambda: 1095 * DAY)
    lifetime_crl: timedelta = field(default_factory=lambda: timedelta(hours=6))
    lifetime_er: timedelta = field(default_factory=lambda: timedelta(hours=168))
    auto_rollover: timedelta | None = None
    hash: str = "sha256"
    shutdown: bool = True

    @property
    def issuer(self) -> str:
        return self.issuer_name or f"CN={self.name}"

    def apply(self, line: str) -> str | None:
        """One `(cs-server)` line. Returns a syslog line to emit, raises CsError on bad input."""
        words = line.split()
        neg = bool(words) and words[0] == "no"
        if neg:
            words = words[1:]
        if not words:
            return None
        head, args = words[0], words[1:]
        if head == "database":
            if args[:1] == ["level"] and len(args) == 2 and args[1] in ("minimum", "names", "complete"):
                self.database_level = "minimum" if neg else args[1]
            elif args[:1] == ["url"]:
                self.database_url = "nvram:" if neg or len(args) < 2 else args[-1]
            elif args[:1] == ["archive"]:
                if neg:
                    self.archive_format = self.archive_password = None
                elif len(args) >= 2 and args[1] in ("pkcs12", "pem"):
                    self.archive_format = args[1]
                    if "password" in args:
                        rest = args[args.index("password") + 1 :]
                        if rest and rest[0] in ("0", "7") and len(rest) > 1:
                            rest = rest[1:]
                        self.archive_password = " ".join(rest) or None
                else:
                    raise CsError("% Invalid input detected")
            else:
                raise CsError("% Invalid input detected")
        elif head == "issuer-name":
            if neg:
                self.issuer_name = None
            else:
                text = line.split("issuer-name", 1)[1].strip()
                try:
                    name_from_dn(text)
                except NameError_ as exc:
                    raise CsError(str(exc)) from None
                self.issuer_name = text
        elif head == "grant":
            if neg or args[:1] == ["manual"]:
                self.grant = "manual"
            elif args[:2] == ["auto", "rollover"] or args[:1] == ["ra-auto"]:
                pass  # sub-CA / RA rollover and RA auto-grant: no effect on router requests
            elif args[:1] == ["auto"]:
                self.grant = "auto"
                return "%PKI-6-CS_GRANT_AUTO: All enrollment requests will be automatically granted."
            elif args[:1] == ["none"]:
                self.grant = "none"
                return "%PKI-6-CS_REJECT_ALL: All enrollment requests will be automatically rejected."
            else:
                raise CsError("% Invalid input detected")
        elif head == "lifetime" and args:
            kind, vals = args[0], args[1:]
            d, h, m = DAY, timedelta(hours=1), timedelta(minutes=1)
            if kind == "certificate":
                self.lifetime_certificate = 365 * DAY if neg else _span(vals, (d, h, m), "lifetime")
            elif kind == "ca-certificate":
                self.lifetime_ca = 1095 * DAY if neg else _span(vals, (d, h, m), "lifetime")
            elif kind == "crl":
                self.lifetime_crl = timedelta(hours=6) if neg else _span(vals, (h, m), "lifetime")
            elif kind == "enrollment-request":
                self.lifetime_er = timedelta(hours=168) if neg else _span(vals, (h,), "lifetime")
            else:
                raise CsError("% Invalid input detected")
        elif head == "auto-rollover":
            units = (DAY, timedelta(hours=1), timedelta(minutes=1))
            self.auto_rollover = None if neg else (_span(args, units, "overlap") if args else 30 * DAY)
        elif head == "hash":
            if neg:
                self.hash = "sha256"
            elif args and args[0] in HASH_NAMES:
                self.hash = args[0]
            else:
                raise CsError("% Invalid input detected")
        elif head == "shutdown":
            self.shutdown = not neg
        elif head in ("serial-number", "cdp-url", "mode", "crl", "redundancy"):
            pass  # accepted and kept in the running config; no effect in the lab
        else:
            raise CsError("% Invalid input detected")
        return None

    def show_lines(self) -> list[str]:
        """`show` inside (cs-server): effective settings, defaults included."""
        out = [" serial-number 0x1", f" database level {self.database_level}"]
        if self.database_url != "nvram:":
            out.append(f" database url {self.database_url}")
        out.append(
            f" database archive {self.archive_format}" if self.archive_format else " no database archive"
        )
        out.append(f" issuer-name {self.issuer}")
        out.append(f" lifetime crl {_fmt_hours(self.lifetime_crl)}")
        out.append(f" lifetime certificate {_fmt_days(self.lifetime_certificate)}")
        out.append(f" lifetime ca-certificate {_fmt_days(self.lifetime_ca)}")
        out.append(f" lifetime enrollment-request {int(self.lifetime_er.total_seconds() // 3600)}")
        if self.auto_rollover is not None:
            out.append(f" auto-rollover {_fmt_days(self.auto_rollover)}")
        return out


def _fmt_days(td: timedelta) -> str:
    secs = int(td.total_seconds())
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    return f"{d} {h} {m}" if m else (f"{d} {h}" if h else f"{d}")


def _fmt_hours(td: timedelta) -> str:
    secs = int(td.total_seconds())
    h, rem = divmod(secs, 3600)
    m = rem // 60
    return f"{h} {m}" if m else f"{h}"


@dataclass
class Decision:
    """What the CA answers an enrollment: SUCCESS(cert) | PENDING | FAILURE(fail_info)."""

    status: str
    cert: x509.Certificate | None = None
    fail_info: str | None = None
    request_id: int | None = None
    issuer: x509.Certificate | None = None


@dataclass
class CsrData:
    """What the CA keeps of a request: subject, key, SAN. Not the CSR itself, whose challenge password
    attribute must not be stored anywhere."""

    subject: x509.Name
    public_key: rsa.RSAPublicKey
    san: x509.SubjectAlternativeName | None = None

    @classmethod
    def of(cls, csr: x509.CertificateSigningRequest | CsrData) -> CsrData:
        if isinstance(csr, CsrData):
            return csr
        key = csr.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise CsError("% Only RSA keys are supported")
        try:
            san: x509.SubjectAlternativeName | None = csr.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            san = None
        return cls(csr.subject, key, san)

    def to_json(self) -> dict[str, str | None]:
        return {
            "subject": self.subject.public_bytes().hex(),
            "key": self.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
            "san": None,
        }

    @classmethod
    def from_json(cls, d: dict[str, str | None]) -> CsrData:
        key = serialization.load_pem_public_key((d["key"] or "").encode())
        assert isinstance(key, rsa.RSAPublicKey)
        return cls(_name_from_der(bytes.fromhex(d["subject"] or "")), key)


def _name_from_der(der: bytes) -> x509.Name:
    # cryptography has no DER loader for a bare Name; asn1crypto reads it

    name = ax509.Name.load(der)
    attrs = []
    for rdn in name.chosen:
        attrs.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(x509.ObjectIdentifier(a["type"].dotted), a["value"].native) for a in rdn]
            )
        )
    return x509.Name(attrs)


@dataclass
class Request:
    req_id: int
    state: str  # pending | granted | denied
    fingerprint: str
    subject: str
    csr: CsrData
    transaction_id: str
    message_type: str
    for_rollover: bool
    received: datetime
    signer: x509.Certificate | None = None
    cert: x509.Certificate | None = None


@dataclass
class Issued:
    serial: int
    issued: datetime
    expires: datetime
    subject: str
    rollover: bool = False


OTP_DEFAULT_MINUTES = 60
OTP_MAX_MINUTES = 1440


class EnrollmentPasswords:
    """`crypto pki server NAME password generate [MINUTES]`: one one-time enrollment password at a time.

    Only keyed digests are kept (HMAC-SHA256 under a key drawn at start-up), in memory: the password itself is
    never stored, logged or written to nvram, and does not survive a reload. Digests of spent, expired or
    superseded passwords are remembered (bounded) so that their reuse is refused, not taken for a revocation
    password."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._current: tuple[bytes, datetime] | None = None
        self._old: OrderedDict[bytes, str] = OrderedDict()

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    def _retire(self, reason: str) -> None:
        if self._current is not None:
            self._old[self._current[0]] = reason
            while len(self._old) > 256:
                self._old.popitem(last=False)
        self._current = None

    def generate(self, now: datetime, minutes: int) -> str:
        self._retire("superseded")  # only one OTP is valid at a time
        password = secrets.token_hex(8).upper()
        self._current = (self._digest(password), now + timedelta(minutes=minutes))
        return password

    def outstanding(self, now: datetime) -> bool:
        if self._current is not None and now >= self._current[1]:
            self._retire("expired")
        return self._current is not None

    def check(self, password: str, now: datetime) -> str:
        """'valid' (and consumed), 'wrong' (an OTP is outstanding, this is not it), 'expired'/'used'/
        'superseded' (a password this server issued), or 'unknown' (no OTP outstanding, never issued here)."""
        digest = self._digest(password)
        if self.outstanding(now):
            assert self._current is not None
            if hmac.compare_digest(digest, self._current[0]):
                self._retire("used")
                return "valid"
            return self._old.get(digest, "wrong")
        return self._old.get(digest, "unknown")


_PASSWORD_REASON = {
    "wrong": "invalid enrollment password",
    "used": "enrollment password already used",
    "expired": "enrollment password expired",
    "superseded": "enrollment password replaced by a newer one",
}


def serial_hex(serial: int) -> str:
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else "0" + text


class CertificateServer:
    def __init__(
        self,
        config: CsConfig,
        keyring: Keyring,
        storage: Storage,
        timers: PkiTimers,
        syslog: Callable[[str], None],
        http_enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self.cfg = config
        self.keyring = keyring
        self.storage = storage
        self.timers = timers
        self.sched: Scheduler = timers.sched
        self.syslog = syslog
        self.http_enabled = http_enabled
        self.counters = PkiCounters()  # the router's, when its plugin sets it
        self.ca_cert: x509.Certificate | None = None
        self.rollover_cert: x509.Certificate | None = None
        self.last_serial = 0
        self.issued: dict[int, Issued] = {}
        self.revoked: dict[int, datetime] = {}
        self.requests: dict[int, Request] = {}
        self.next_req_id = 1
        self.crl: x509.CertificateRevocationList | None = None
        self.enabled = False
        self.transactions: dict[str, int] = {}
        self.certs: dict[int, x509.Certificate] = {}  # issued certificates kept in memory (SCEP GetCert)
        self.passwords = EnrollmentPasswords()
        self.on_change: Callable[[], None] = lambda: None  # the plugin persists state and the running config

    # ------------------------------------------------------------------ basics
    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def rollover_label(self) -> str:
        return self.name + "#"

    def now(self) -> datetime:
        return utc(self.sched.now())

    def ca_key(self) -> rsa.RSAPrivateKey:
        kp = self.keyring.get(self.name)
        if kp is None:
            raise CsError(f"% Certificate server {self.name}: signing key {self.name} is missing")
        return kp.key

    def rollover_key(self) -> rsa.RSAPrivateKey | None:
        kp = self.keyring.get(self.rollover_label)
        return kp.key if kp else None

    def status(self) -> tuple[bool, str]:
        """(serving, reason) as `show crypto pki server` states it."""
        if self.ca_cert is None or self.cfg.shutdown:
            return False, "disabled"
        if not self.http_enabled():
            return False, "disabled, HTTP Server is disabled"
        return True, "enabled"

    def _path(self, filename: str) -> str:
        url = self.cfg.database_url
        return url + filename if url.endswith((":", "/")) else url + "/" + filename


    # ------------------------------------------------------------------ enable / shutdown
    def needs_passphrase(self) -> bool:
        return self.ca_cert is None and not self.cfg.archive_password

    def no_shutdown(self, passphrase: str | None = None, key_bits: int = 2048) -> list[str]:
        """`no shutdown` in (cs-server). Returns the console lines (the dialog itself is the plugin's)."""
        out: list[str] = []
        self.cfg.shutdown = False
        if self.ca_cert is None:
            out.append("%Some server settings cannot be changed after CA certificate generation.")
            if self.keyring.get(self.name) is None:
                out.append(f"% Generating {key_bits} bit RSA keys, keys will be non-exportable...")
                self.keyring.generate(self.name, key_bits, self.now())
            self.ca_cert = self._make_ca_cert(self.ca_key(), self.now())
            self.last_serial = 1
            self.issued[1] = Issued(
                1,
                self.ca_cert.not_valid_before_utc,
                self.ca_cert.not_valid_after_utc,
                one_line(self.ca_cert.subject),
            )
            self._write_ser()
            password = self.cfg.archive_password or passphrase
            if self.cfg.archive_password:
                out.append("% Exporting Certificate Server signing certificate and keys...")
            if self.cfg.archive_format or self.cfg.archive_password:
                self._archive(self.name, self.ca_key(), self.ca_cert, password)
            out.append("")
        self.enabled = True
        self._issue_crl()
        self._arm_ca_timers()
        out.append("% Certificate Server enabled.")
        self.syslog("%PKI-6-CS_ENABLED: Certificate server now enabled.")
        self.on_change()
        return out

    def shutdown(self) -> list[str]:
        self.cfg.shutdown = True
        self.enabled = False
        self.timers.cancel_all("CS ")
        self.syslog("%PKI-6-CS_DISABLED: Certificate server now disabled.")
        return []

    def delete(self) -> None:
        """`no crypto pki server NAME`: CA certificate, key pairs, CRL and database files go."""
        self.timers.cancel_all("CS ")
        self.timers.cancel_all("ER EXPIRE")
        self.keyring.delete(self.name)
        self.keyring.delete(self.rollover_label)
        for s in list(self.issued):
            self.storage.delete(self._path(f"{serial_hex(s)}.cer"))
            self.storage.delete(self._path(f"{serial_hex(s)}.cnm"))
        for f in (".ser", ".crl", ".p12", "#.p12"):
            self.storage.delete(self._path(self.name + f))
        self.ca_cert = self.rollover_cert = None
        self.enabled = False

    # ------------------------------------------------------------------ certificates
    def _make_ca_cert(
        self, key: rsa.RSAPrivateKey, not_before: datetime, serial: int = 1
    ) -> x509.Certificate:
        subject = self.ca_cert.subject if self.ca_cert is not None else name_from_dn(self.cfg.issuer)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            ca_builder(
                subject, subject, key.public_key(), serial, not_before, not_before + self.cfg.lifetime_ca
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
        )
        return sign_certificate(builder, key, self.cfg.hash)

    def _next_serial(self) -> int:
        self.last_serial += 1
        self._write_ser()
        return self.last_serial

    def _write_ser(self) -> None:
        self.storage.write(
            self._path(self.name + ".ser"), f"db_version = 1\nlast_serial = 0x{self.last_serial:X}\n".encode()
        )

    def _archive(
        self, label: str, key: rsa.RSAPrivateKey, cert: x509.Certificate, password: str | None
    ) -> None:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        if self.cfg.archive_format == "pem":
            data = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
            )
            self.storage.write(self._path(label + ".pem"), data)
        else:
            self.storage.write(
                self._path(label + ".p12"),
                pkcs12.serialize_key_and_certificates(label.encode(), key, cert, None, enc),
            )

    def _sign(
        self,
        req: x509.CertificateSigningRequest | CsrData,
        ca: x509.Certificate,
        ca_key: rsa.RSAPrivateKey,
        not_before: datetime,
        not_after: datetime,
        rollover: bool,
    ) -> x509.Certificate:
        csr = CsrData.of(req)
        serial = self._next_serial()
        b = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca.subject)
            .public_key(csr.public_key)
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if csr.san is not None:
            b = b.add_extension(csr.san, critical=False)
        cert = sign_certificate(b, ca_key, self.cfg.hash)
        self.certs[serial] = cert
        self.issued[serial] = Issued(serial, not_before, not_after, one_line(csr.subject), rollover)
        if self.cfg.database_level in ("names", "complete"):
            self.storage.write(
                self._path(f"{serial_hex(serial)}.cnm"),
                f"subjectname_str = {one_line(csr.subject)}\nexpiration = {not_after:%Y%m%d%H%M%SZ}\n".encode(),
            )
        if self.cfg.database_level == "complete":
            self.storage.write(
                self._path(f"{serial_hex(serial)}.cer"), cert.public_bytes(serialization.Encoding.DER)
            )
        return cert

    def issue(
        self,
        csr: x509.CertificateSigningRequest | CsrData,
        for_rollover: bool = False,
        signer: x509.Certificate | None = None,
    ) -> x509.Certificate:
        """Issue now. S2 (capped at the CA's end) or, for a rollover request, S5."""
        assert self.ca_cert is not None
        now = self.now()
        ca_end = self.ca_cert.not_valid_after_utc
        life = self.cfg.lifetime_certificate
        if for_rollover:
            if self.rollover_cert is None or self.rollover_key() is None:
                raise CsError("no rollover CA certificate")
            used = timedelta()
            if signer is not None and self._issued_by_us(signer):
                used = signer.not_valid_after_utc - signer.not_valid_before_utc
            length = max(life - used, life / 10, timedelta(minutes=3))
            length = timedelta(seconds=int(length.total_seconds()))
            nb = ca_end
            na = min(nb + length, self.rollover_cert.not_valid_after_utc)
            key = self.rollover_key()
            assert key is not None
            return self._sign(csr, self.rollover_cert, key, nb, na, True)
        return self._sign(csr, self.ca_cert, self.ca_key(), now, min(now + life, ca_end), False)

    def _issued_by_us(self, cert: x509.Certificate) -> bool:
        for ca in (self.ca_cert, self.rollover_cert):
            if ca is None:
                continue
            if signed_by(cert, ca):
                return True
        return False

    # ------------------------------------------------------------------ enrollment (SCEP backend)
    def submit(
        self,
        csr: x509.CertificateSigningRequest,
        message_type: str,
        transaction_id: str,
        signer: x509.Certificate | None = None,
        for_rollover: bool = False,
    ) -> Decision:
        serving, _ = self.status()
        if not serving or self.ca_cert is None:
            return Decision("FAILURE", fail_info="badRequest")
        if not csr.is_signature_valid:
            return Decision("FAILURE", fail_info="badMessageCheck")
        old = self.transactions.get(transaction_id)
        if old is not None and old in self.requests:
            return self._answer(self.requests[old])
        if message_type == "RenewalReq":
            # the signer certificate is validated (a PKI session of its own: `show crypto pki counters`)
            with self.counters.session():
                self.counters.validated(
                    signer is not None
                    and self._issued_by_us(signer)
                    and not self._serial_revoked(signer)
                    and signer.not_valid_after_utc > self.now()
                )
            if signer is None or not self._issued_by_us(signer) or self._serial_revoked(signer):
                return Decision("FAILURE", fail_info="badRequest")
            if signer.not_valid_after_utc <= self.now():
                return Decision("FAILURE", fail_info="badTime")
        if for_rollover and self.rollover_cert is None:
            return Decision("FAILURE", fail_info="badRequest")
        if self.cfg.grant == "none":
            self.syslog(
                f"%PKI-6-CS_REJECT: Enrollment request from {one_line(csr.subject)} rejected (grant none)"
            )
            return Decision("FAILURE", fail_info="badRequest")
        otp = False
        if message_type != "RenewalReq":  # a renewal is authorised by its signer certificate, not a password
            password = challenge_password(csr)
            verdict = self.passwords.check(password, self.now()) if password else "none"
            if verdict in _PASSWORD_REASON:
                self.syslog(
                    f"%PKI-6-CS_REJECT: Enrollment request from {one_line(csr.subject)} rejected "
                    f"({_PASSWORD_REASON[verdict]})"
                )
                return Decision("FAILURE", fail_info="badRequest")
            otp = verdict == "valid"
        req = Request(
            self.next_req_id,
            "pending",
            hashlib.md5(csr.public_bytes(serialization.Encoding.DER)).hexdigest().upper(),
            one_line(csr.subject),
            CsrData.of(csr),
            transaction_id,
            message_type,
            for_rollover,
            self.now(),
            signer,
        )
        if self.cfg.grant == "auto" or otp:  # a valid one-time password grants at once, as `grant auto` does
            cert = self.issue(csr, for_rollover, signer)
            return Decision("SUCCESS", cert=cert, issuer=self.rollover_cert if for_rollover else self.ca_cert)
        self.next_req_id += 1
        self.requests[req.req_id] = req
        self.transactions[transaction_id] = req.req_id
        rid = req.req_id
        self.timers.arm(
            f"ER EXPIRE {rid}",
            req.received + self.cfg.lifetime_er,
            lambda: self._expire_request(rid),
            "CS Timers",
        )
        return Decision("PENDING", request_id=rid)

    def _serial_revoked(self, cert: x509.Certificate) -> bool:
        return cert.serial_number in self.revoked

    def _answer(self, req: Request) -> Decision:
        if req.state == "granted" and req.cert is not None:
            return Decision(
                "SUCCESS",
                cert=req.cert,
                request_id=req.req_id,
                issuer=self.rollover_cert if req.for_rollover else self.ca_cert,
            )
        if req.state == "denied":
            return Decision("FAILURE", fail_info="badRequest", request_id=req.req_id)
        return Decision("PENDING", request_id=req.req_id)

    def poll(self, transaction_id: str) -> Decision:
        rid = self.transactions.get(transaction_id)
        if rid is None or rid not in self.requests:
            return Decision("FAILURE", fail_info="badCertId")
        return self._answer(self.requests[rid])

    def _expire_request(self, rid: int) -> None:
        req = self.requests.pop(rid, None)
        if req is not None:
            self.transactions.pop(req.transaction_id, None)

    # ------------------------------------------------------------------ exec commands
    def _selected(self, which: str) -> list[int] | None:
        """`all` -> the pending request ids; `ID` -> [ID]; None for an unknown ID."""
        if which == "all":
            return [r.req_id for r in self.requests.values() if r.state == "pending"]
        if not which.isdigit() or int(which) not in self.requests:
            return None
        return [int(which)]

    def cmd_grant(self, which: str) -> list[str]:
        ids = self._selected(which)
        if ids is None:
            return [f"% Request {which} not found"]
        for rid in ids:
            req = self.requests[rid]
            if req.state != "pending":
                continue
            try:
                req.cert = self.issue(req.csr, req.for_rollover, req.signer)
                req.state = "granted"
            except CsError as exc:
                return [str(exc)]
        return []

    def cmd_reject(self, which: str) -> list[str]:
        ids = self._selected(which)
        if ids is None:
            return [f"% Request {which} not found"]
        for rid in ids:
            self.requests[rid].state = "denied"
        return []

    def cmd_remove(self, which: str) -> list[str]:
        ids = list(self.requests) if which == "all" else ([int(which)] if which.isdigit() else [])
        for rid in ids:
            self._expire_request(rid)
            self.timers.cancel(f"ER EXPIRE {rid}")
        return []

    def cmd_revoke(self, serial_text: str) -> list[str]:
        text = serial_text.lower()
        try:
            serial = int(text[2:], 16) if text.startswith("0x") else int(text)
        except ValueError:
            return [f"% Invalid serial number {serial_text}"]
        if serial not in self.issued or serial == 1:
            return [f"% Certificate {serial_hex(serial)} not found in the database"]
        if serial in self.revoked:
            return [f"% Certificate {serial_hex(serial)} is already revoked."]
        self.revoked[serial] = self.now()
        self._issue_crl()
        return [f"% Certificate {serial_hex(serial)} succesfully revoked."]

    def cmd_password_generate(self, minutes_text: str | None) -> list[str]:
        """`crypto pki server NAME password generate [MINUTES]` (1-1440, default 60, on the device clock).
        The password goes to the console only; the caller must not log the returned lines."""
        if minutes_text is None:
            minutes = OTP_DEFAULT_MINUTES
        elif minutes_text.isdigit() and 1 <= int(minutes_text) <= OTP_MAX_MINUTES:
            minutes = int(minutes_text)
        else:
            return [f"% Invalid input detected: minutes must be 1-{OTP_MAX_MINUTES}"]
        password = self.passwords.generate(self.now(), minutes)
        return [f"% New Enrollment password = {password}, valid for {minutes} minutes"]

    def cmd_rollover(self) -> list[str]:
        if self.ca_cert is None:
            return [f"% Certificate server {self.name} is not enabled"]
        if self.rollover_cert is not None:
            return ["% Rollover certificate already exists."]
        self.generate_rollover()
        return []

    def cmd_rollover_cancel(self) -> list[str]:
        if self.rollover_cert is None:
            return ["% No rollover certificate to cancel."]
        self.rollover_cert = None
        self.keyring.delete(self.rollover_label)
        self.storage.delete(self._path(self.rollover_label + ".p12"))
        self.on_change()
        return []

    # ------------------------------------------------------------------ timers and rollover
    def _arm_ca_timers(self) -> None:
        assert self.ca_cert is not None
        end = self.ca_cert.not_valid_after_utc
        self.timers.arm("CS CERT EXPIRE", end, self._cert_expire, "CS Timers")
        if self.cfg.auto_rollover is not None and self.rollover_cert is None:
            self.timers.arm(
                "CS SHADOW CERT GENERATION",
                end - self.cfg.auto_rollover,
                self._shadow_generation,
                "CS Timers",
            )
        else:
            self.timers.cancel("CS SHADOW CERT GENERATION")

    def rearm(self) -> None:
        if self.ca_cert is not None and self.enabled:
            self._arm_ca_timers()

    def autorollover_at(self) -> datetime | None:
        if self.ca_cert is None or self.cfg.auto_rollover is None:
            return None
        return self.ca_cert.not_valid_after_utc - self.cfg.auto_rollover

    def _shadow_generation(self) -> None:
        if self.rollover_cert is None and self.enabled:
            self.generate_rollover()

    def generate_rollover(self) -> None:
        """S3: key `NAME#` and the rollover CA certificate from the current CA's end."""
        assert self.ca_cert is not None
        bits = self.ca_key().key_size
        kp: KeyPair = self.keyring.generate(self.rollover_label, bits, self.now())
        self.rollover_cert = self._make_ca_cert(kp.key, self.ca_cert.not_valid_after_utc, self._next_serial())
        self.issued[self.last_serial] = Issued(
            self.last_serial,
            self.rollover_cert.not_valid_before_utc,
            self.rollover_cert.not_valid_after_utc,
            one_line(self.rollover_cert.subject),
            True,
        )
        self.timers.cancel("CS SHADOW CERT GENERATION")
        if self.cfg.archive_format or self.cfg.archive_password:
            self._archive(self.rollover_label, kp.key, self.rollover_cert, self.cfg.archive_password)
        self.syslog(
            f"%PKI-6-CS_ROLLOVER_AVAILABLE: CS Rollover certificate has been generated for {self.name}, "
            f"it will become active at {ios_time(self.rollover_cert.not_valid_before_utc)}"
        )
        self.on_change()

    def _cert_expire(self) -> None:
        """S4: at the CA's end the rollover CA (if any) becomes the active CA."""
        if self.rollover_cert is None:
            self.syslog(
                f"%PKI-4-CS_CERT_EXPIRED: CA certificate of certificate server {self.name} has expired"
            )
            return
        self.keyring.delete(self.name)
        self.keyring.rename(self.rollover_label, self.name)
        self.storage.delete(self._path(self.rollover_label + ".p12"))
        self.ca_cert, self.rollover_cert = self.rollover_cert, None
        if self.cfg.archive_format or self.cfg.archive_password:
            self._archive(self.name, self.ca_key(), self.ca_cert, self.cfg.archive_password)
        self.syslog(
            f"%PKI-6-CS_ROLLOVER_ACTIVE: CS Rollover certificate has been activated for {self.name}, "
            "replacing the previous CA certificate"
        )
        self._issue_crl()
        self._arm_ca_timers()
        self.on_change()

    def _issue_crl(self) -> None:
        assert self.ca_cert is not None
        now = self.now()
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_cert.subject)
            .last_update(now)
            .next_update(now + self.cfg.lifetime_crl)
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        )
        for serial, when in sorted(self.revoked.items()):
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        self.crl = sign_crl(b, self.ca_key(), self.cfg.hash)
        self.storage.write(self._path(self.name + ".crl"), self.crl.public_bytes(serialization.Encoding.DER))
        self.timers.arm("CS CRL UPDATE", now + self.cfg.lifetime_crl, self._issue_crl, "CS Timers")

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        pem = serialization.Encoding.PEM

        def cert_text(c: x509.Certificate | None) -> str | None:
            return c.public_bytes(pem).decode() if c is not None else None

        return {
            "ca": cert_text(self.ca_cert),
            "rollover": cert_text(self.rollover_cert),
            "last_serial": self.last_serial,
            "enabled": self.enabled,
            "issued": [
                [i.serial, i.issued.isoformat(), i.expires.isoformat(), i.subject, i.rollover]
                for i in self.issued.values()
            ],
            "revoked": [[s, t.isoformat()] for s, t in self.revoked.items()],
            "next_req_id": self.next_req_id,
            "requests": [
                {
                    "id": r.req_id,
                    "state": r.state,
                    "fp": r.fingerprint,
                    "subject": r.subject,
                    "csr": r.csr.to_json(),
                    "tid": r.transaction_id,
                    "type": r.message_type,
                    "rollover": r.for_rollover,
                    "received": r.received.isoformat(),
                    "signer": cert_text(r.signer),
                    "cert": cert_text(r.cert),
                }
                for r in self.requests.values()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        def load(text: str | None) -> x509.Certificate | None:
            return x509.load_pem_x509_certificate(text.encode()) if text else None

        self.ca_cert = load(data.get("ca"))
        self.rollover_cert = load(data.get("rollover"))
        self.last_serial = int(data.get("last_serial", 0))
        self.issued = {
            int(s): Issued(int(s), datetime.fromisoformat(a), datetime.fromisoformat(b), subj, bool(r))
            for s, a, b, subj, r in data.get("issued", [])
        }
        self.revoked = {int(s): datetime.fromisoformat(t) for s, t in data.get("revoked", [])}
        self.next_req_id = int(data.get("next_req_id", 1))
        self.requests = {}
        for r in data.get("requests", []):
            req = Request(
                r["id"],
                r["state"],
                r["fp"],
                r["subject"],
                CsrData.from_json(r["csr"]),
                r["tid"],
                r["type"],
                r["rollover"],
                datetime.fromisoformat(r["received"]),
                load(r.get("signer")),
                load(r.get("cert")),
            )
            self.requests[req.req_id] = req
            self.transactions[req.transaction_id] = req.req_id

    def resume(self) -> None:
        """After a reload: re-arm timers from the restored state when the server is enabled."""
        if self.ca_cert is None or self.cfg.shutdown:
            return
        self.enabled = True
        self._issue_crl()
        self._arm_ca_timers()
        for req in self.requests.values():
            rid = req.req_id
            self.timers.arm(
                f"ER EXPIRE {rid}",
                req.received + self.cfg.lifetime_er,
                functools.partial(self._expire_request, rid),
                "CS Timers",
            )


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    serial: int,
    start: datetime,
    end: datetime,
) -> x509.CertificateBuilder:
    """A CA certificate's body (CA: TRUE; digital signature, certificate and CRL signing), to sign."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    )


def ios_time(dt: datetime, tz: str = "UTC") -> str:
    """`05:52:21 UTC Mar 23 2028` (day not zero-padded)."""
    dt = utc(dt)
    return f"{dt:%H:%M:%S} {tz} {_MONTHS[dt.month - 1]} {dt.day} {dt.year}"
