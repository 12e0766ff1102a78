"""A client trustpoint (`crypto pki trustpoint TP`): configuration, certificates and timers.

Implements rules.md C1-C9 and P1 as a device does: RENEW (auto-enroll P), SHADOW (CA certificate at 90 %, or
the shadow renewal of a capped identity certificate, C9), POLL (pending requests, doubling back-off, P1),
shadow renewal for an identity certificate that ends with the CA, promotion
of the rollover certificates at the old CA's end, `regenerate` with `LABEL#` keys, and a rejected
renewal that stops RENEW. CA contact goes through a `ScepClientApi` (real SCEP over HTTP in the lab).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, NameOID

from iospki.lab.scep.client import self_signed_signer
from iospki.lab.scep.messages import signed_by

from .clock import utc
from .counters import PkiCounters
from .keys import KeyPair, Keyring
from .names import UNSTRUCTURED_ADDRESS, UNSTRUCTURED_NAME, NameError_, one_line, parse_dn
from .timers import PkiTimers
from .transport import ClientResult, ScepClientApi, ScepUnavailable

# P1: the seed states no ceiling for the doubling POLL period; 60 minutes is inferred (the documented upper
# end of `enrollment retry period` on IOS XR, behaviour doc §1.4), so that 999 retries do not run for years.
POLL_CAP = timedelta(minutes=60)


def poll_period(first: timedelta, answered_pending: int) -> timedelta:
    """P1 (seed, POLL): after PENDING the POLL timer runs the retry period (60 s by default); each GetCertInitial
    answered PENDING sets the next one to 1, 2, 4 ... times that period, so the polls come 1, 2, 4, 8 ... minutes
    after the request. `answered_pending` counts the GetCertInitial answers so far (0 after the PKCSReq)."""
    factor: int = 2 ** min(max(answered_pending - 1, 0), 16)  # int ** int is typed Any; the power is >= 0
    return min(first * factor, max(first, POLL_CAP))


class TpError(ValueError):
    """An IOS error line for the CLI."""


@dataclass
class TpConfig:
    name: str
    enrollment_url: str | None = None
    enrollment_mode: str | None = None  # ra | terminal | selfsigned
    retry_count: int = 999
    retry_period: int = 1  # minutes
    serial_number: bool | None = None  # None: ask at enroll time
    ip_address: str | None = None  # address, or "none"
    password: str | None = None
    subject_name: str | None = None
    fqdn: str | None = None  # name, or "none"
    revocation_check: str = "crl"
    rsakeypair: str | None = None
    key_bits: int | None = None
    auto_enroll: bool = False
    auto_enroll_percent: int | None = None
    regenerate: bool = False

    def apply(self, line: str) -> None:
        words = line.split()
        neg = bool(words) and words[0] == "no"
        if neg:
            words = words[1:]
        if not words:
            return
        head, args = words[0], words[1:]
        if head == "enrollment":
            if args[:1] == ["url"]:
                self.enrollment_url = None if neg else (args[1] if len(args) > 1 else None)
                if not neg and self.enrollment_url is None:
                    raise TpError("% Incomplete command.")
            elif args[:2] == ["retry", "count"] and (neg or (len(args) == 3 and args[2].isdigit())):
                self.retry_count = 999 if neg else int(args[2])
            elif args[:2] == ["retry", "period"] and (neg or (len(args) == 3 and args[2].isdigit())):
                self.retry_period = 1 if neg else max(1, int(args[2]))
            elif args[:1] == ["mode"] or args[:1] in (["terminal"], ["selfsigned"]):
                self.enrollment_mode = None if neg else (args[-1] if args else None)
            else:
                raise TpError("% Invalid input detected")
        elif head == "serial-number":
            self.serial_number = None if neg else (args[:1] != ["none"])
        elif head == "ip-address":
            self.ip_address = None if neg else (args[0] if args else None)
        elif head == "password":
            rest = args[1:] if len(args) > 1 and args[0] in ("0", "7") else args
            self.password = None if neg else (" ".join(rest) or None)
        elif head == "subject-name":
            if neg:
                self.subject_name = None
            else:
                text = line.split("subject-name", 1)[1].strip()
                try:
                    parse_dn(text)
                except NameError_ as exc:
                    raise TpError(str(exc)) from None
                self.subject_name = text
        elif head == "fqdn":
            self.fqdn = None if neg else (args[0] if args else None)
        elif head == "revocation-check":
            self.revocation_check = "crl" if neg else " ".join(args)
        elif head == "rsakeypair":
            if neg:
                self.rsakeypair, self.key_bits = None, None
            elif args:
                self.rsakeypair = args[0]
                self.key_bits = int(args[1]) if len(args) > 1 and args[1].isdigit() else None
            else:
                raise TpError("% Incomplete command.")
        elif head == "auto-enroll":
            if neg:
                self.auto_enroll, self.auto_enroll_percent, self.regenerate = False, None, False
            else:
                pct = [a for a in args if a.isdigit()]
                if pct and not 1 <= int(pct[0]) <= 100:
                    raise TpError("% Invalid input detected")
                self.auto_enroll = True
                self.auto_enroll_percent = int(pct[0]) if pct else None
                self.regenerate = "regenerate" in args
        # everything else (usage, eku, vrf, source interface, hash, chain-validation...) is kept in the
        # running config by the lab core and has no effect here


@dataclass
class DeviceCtx:
    """What a trustpoint needs from its router."""

    keyring: Keyring
    timers: PkiTimers
    scep: ScepClientApi
    syslog: Callable[[str], None]
    fqdn: Callable[[], str]
    serial: Callable[[], str]
    family: str = "iosxe"
    default_bits: int = 2048
    changed: Callable[[], None] = lambda: None  # certificates/keys changed: persist, rewrite the chain block
    counters: PkiCounters = field(default_factory=PkiCounters)  # `show crypto pki counters`


@dataclass
class Pending:
    kind: str  # enroll | renew | shadow
    transaction_id: str
    key_label: str
    subject: x509.Name
    recipient: x509.Certificate
    attempts: int = 0


def _fp(data: bytes, algo: hashes.HashAlgorithm) -> str:
    h = hashes.Hash(algo)
    h.update(data)
    hexs = h.finalize().hex().upper()
    return " ".join(hexs[i : i + 8] for i in range(0, len(hexs), 8))


def fingerprint_md5(cert: x509.Certificate) -> str:
    return _fp(cert.public_bytes(serialization.Encoding.DER), hashes.MD5())


def fingerprint_sha1(cert: x509.Certificate) -> str:
    return _fp(cert.public_bytes(serialization.Encoding.DER), hashes.SHA1())


def iso(dt: datetime) -> str:
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


class Trustpoint:
    def __init__(self, config: TpConfig, dev: DeviceCtx) -> None:
        self.cfg = config
        self.dev = dev
        self.ca: x509.Certificate | None = None
        self.ca_rollover: x509.Certificate | None = None
        self.cert: x509.Certificate | None = None
        self.cert_rollover: x509.Certificate | None = None
        self.installed_at: datetime | None = None
        self.ca_installed_at: datetime | None = None
        self.renew_at: datetime | None = None
        self.renew_stopped = False
        self.pending: Pending | None = None
        self.last_status: str | None = None
        self._rollover_key: str | None = None
        self.renew_retries = 0  # RENEW attempts that found the CA unreachable
        self.crl: x509.CertificateRevocationList | None = None  # parsed CRL cache (volatile, as on IOS)
        self.crl_downloaded_at: datetime | None = None
        self.events: list[tuple[datetime, str]] = []  # (time, what) for tests and `debug`-like views
        # (install or activation time, certificate, "install" | "rollover" | "activate")
        self.history: list[tuple[datetime, x509.Certificate, str]] = []

    # ------------------------------------------------------------------ helpers
    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def key_label(self) -> str:
        return self.cfg.rsakeypair or self.dev.fqdn()

    def now(self) -> datetime:
        return utc(self.dev.timers.sched.now())

    def _log(self, what: str) -> None:
        self.events.append((self.now(), what))

    def _url(self) -> str:
        if not self.cfg.enrollment_url:
            raise TpError(f"% Trustpoint {self.name}: enrollment URL not configured")
        return self.cfg.enrollment_url

    def _timer(self, kind: str) -> str:
        return f"{kind} {self.name}"

    def capped(self) -> bool:
        """The identity certificate ends with (or after) its CA certificate: the CS capped it (S2)."""
        return (
            self.cert is not None
            and self.ca is not None
            and self.cert.not_valid_after_utc >= self.ca.not_valid_after_utc
        )

    def _shadow_renews(self) -> bool:
        """C9 (seed, "RENEW en SHADOW"): after installing a certificate IOS compares its end with the CA's end;
        the same end arms a SHADOW timer (the shadow renewal) instead of RENEW. Only for auto-enroll."""
        return self.cfg.auto_enroll and not self.renew_stopped and self.capped()

    def renew_timer(self) -> str:
        """The name of the timer that carries the next auto-enroll renewal: `SHADOW tp` for a capped
        certificate (C9), `RENEW tp` otherwise."""
        return self._timer("SHADOW" if self.capped() else "RENEW")

    def cancel_renew(self) -> None:
        """No auto-enroll renewal any more: RENEW goes, and a C9 SHADOW gives way to the CA shadow at 90 %."""
        self.dev.timers.cancel(self._timer("RENEW"))
        self.renew_at = None
        self._arm_shadow()

    # ------------------------------------------------------------------ authenticate
    async def fetch_ca(self) -> x509.Certificate:
        """GetCACert for `crypto pki authenticate` (the CLI asks the fingerprint question)."""
        try:
            with self.dev.counters.session():
                return await self.dev.scep.get_ca_cert(self._url(), self.name)
        except ScepUnavailable as exc:
            raise TpError(
                f"% Error in receiving Certificate Authority certificate: status = FAIL, cert length = 0 ({exc})"
            ) from None

    async def accept_ca(self, ca: x509.Certificate) -> None:
        self.ca = ca
        self.ca_installed_at = self.now()
        self._log("ca-installed")
        self._arm_shadow()
        self.dev.changed()
        if self.cfg.auto_enroll and self.cert is None and self.pending is None:
            self.dev.syslog(f"%PKI-6-CERT_ENROLL_AUTO: Auto initial enrollment for trustpoint {self.name}")
            await self.enroll(challenge=self.cfg.password, include_serial=bool(self.cfg.serial_number))

    # ------------------------------------------------------------------ requests
    def _subject(self, include_serial: bool, ip: str | None) -> x509.Name:
        rdn: list[x509.NameAttribute[str | bytes]] = []
        if include_serial:
            rdn.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, self.dev.serial()))
        if ip and ip != "none":
            rdn.append(x509.NameAttribute(UNSTRUCTURED_ADDRESS, ip))
        fqdn = (
            self.cfg.fqdn
            if self.cfg.fqdn not in (None, "none")
            else (None if self.cfg.fqdn == "none" else self.dev.fqdn())
        )
        if fqdn:
            rdn.append(x509.NameAttribute(UNSTRUCTURED_NAME, fqdn))
        rdns = [x509.RelativeDistinguishedName(rdn)] if rdn else []
        if self.cfg.subject_name:
            rdns += [x509.RelativeDistinguishedName([a]) for a in parse_dn(self.cfg.subject_name)]
        if not rdns:
            rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(UNSTRUCTURED_NAME, self.dev.fqdn())])]
        return x509.Name(rdns)

    def _csr(
        self, subject: x509.Name, key: rsa.RSAPrivateKey, challenge: str | None
    ) -> x509.CertificateSigningRequest:
        b = x509.CertificateSigningRequestBuilder().subject_name(subject)
        if challenge:
            b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
        return b.sign(key, hashes.SHA256())

    def _self_signed(self, subject: x509.Name, key: rsa.RSAPrivateKey) -> x509.Certificate:
        return self_signed_signer(key, subject, self.now())

    def _key(self, label: str, fresh: bool = False) -> KeyPair:
        kp = self.dev.keyring.get(label)
        if kp is None or fresh:
            kp = self.dev.keyring.generate(label, self.cfg.key_bits or self.dev.default_bits, self.now())
        return kp

    def last_subject(self, include_serial: bool, ip: str | None) -> x509.Name:
        return self._subject(include_serial, ip)

    async def enroll(
        self,
        challenge: str | None,
        include_serial: bool,
        ip: str | None = None,
        subject: x509.Name | None = None,
    ) -> ClientResult:
        """Initial (or manual re-) enrollment: PKCSReq signed with a self-signed certificate."""
        if self.ca is None:
            raise TpError("% You must authenticate the Certificate Authority before you can enroll with it.")
        subject = subject or self._subject(include_serial, ip or self.cfg.ip_address)
        kp = self._key(self.key_label)
        csr = self._csr(subject, kp.key, challenge)
        signer = self._self_signed(subject, kp.key)
        tid = secrets.token_hex(16).upper()
        self._log("enroll")
        return await self._send("enroll", csr, kp, signer, kp.key, self.ca, "PKCSReq", tid)

    async def _send(
        self,
        kind: str,
        csr: x509.CertificateSigningRequest,
        kp: KeyPair,
        signer: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        recipient: x509.Certificate,
        message_type: str,
        tid: str,
    ) -> ClientResult:
        if self.dev.family != "ios":
            # IOS-XE logs the fingerprints of every request it sends (classic IOS only prints a CRYPTO_PKI line)
            der = csr.public_bytes(serialization.Encoding.DER)
            self.dev.syslog(
                "%PKI-6-CSR_FINGERPRINT:\n"
                f"                      CSR Fingerprint MD5 : {hashlib.md5(der).hexdigest().upper()}\n"
                f"                      CSR Fingerprint SHA1: {hashlib.sha1(der).hexdigest().upper()}"
            )
        try:
            with self.dev.counters.session():
                res = await self.dev.scep.enroll(
                    self._url(), csr, kp.key, signer, signer_key, recipient, message_type, tid
                )
        except ScepUnavailable:
            res = ClientResult("FAILURE", fail_info="unreachable")
        await self._result(kind, res, Pending(kind, tid, kp.label, csr.subject, recipient))
        return res

    async def _result(self, kind: str, res: ClientResult, pend: Pending) -> None:
        if res.status == "SUCCESS" and res.cert is not None and not self._validated(res.cert, pend):
            return
        if res.status == "SUCCESS" and res.cert is not None:
            self.pending = None
            self.dev.timers.cancel(self._timer("POLL"))
            self.last_status = "Granted"
            if kind == "shadow":
                self._install_rollover(res.cert, pend.key_label)
            else:
                self._install(res.cert, pend.key_label)
        elif res.status == "PENDING":
            self.last_status = "Pending"
            self.pending = pend
            self._arm_poll()
        elif res.fail_info == "unreachable":
            # not a rejection (C8 does not apply): the CA did not answer; retry after the retry period
            self.pending = None
            self.last_status = "Failed"
            self._log(f"{kind}-unreachable")
            if pend.key_label.endswith("#"):
                self.dev.keyring.delete(pend.key_label)
            self.dev.syslog("%PKI-3-SOCKETSEND: Failed to send out message to CA server.")
            self._retry_renew(kind)
        else:
            self.pending = None
            self.dev.timers.cancel(self._timer("POLL"))
            self.last_status = "Failed"
            self._log(f"{kind}-failed:{res.fail_info}")
            if kind == "renew":
                # C8: a renewal the CA rejects stops RENEW; only a manual enroll renews from now on.
                self.renew_stopped = True
                self.dev.timers.cancel(self._timer("RENEW"))
                self.renew_at = None
            if pend.key_label.endswith("#"):
                self.dev.keyring.delete(pend.key_label)
            self.dev.syslog(
                "%PKI-6-CERTREJECT: Certificate enrollment request was rejected by Certificate Authority"
            )

    def _validated(self, cert: x509.Certificate, pend: Pending) -> bool:
        """The returned certificate is checked against the CA certificate the request went to (named and
        signed by it) before it is installed (`show crypto pki counters`); one that fails is not installed."""
        if self.dev.counters.validated(signed_by(cert, pend.recipient)):
            return True
        self.pending = None
        self.dev.timers.cancel(self._timer("POLL"))
        self.last_status = "Failed"
        self._log(f"{pend.kind}-failed:validation")
        if pend.key_label.endswith("#"):
            self.dev.keyring.delete(pend.key_label)
        self.dev.syslog("%PKI-3-CERTRETFAIL: Certificate enrollment failed.")
        return False

    def _retry_renew(self, kind: str) -> None:
        if kind not in ("renew", "shadow") or self.renew_stopped:
            return
        self.renew_retries += 1
        if self.renew_retries > self.cfg.retry_count:
            self.renew_at = None
            return
        at = self.now() + timedelta(minutes=self.cfg.retry_period)
        self.renew_at = at
        self.dev.timers.arm(self.renew_timer(), at, self._renew)

    # ------------------------------------------------------------------ install
    def _install(self, cert: x509.Certificate, key_label: str) -> None:
        if key_label.endswith("#"):
            self.dev.keyring.rename(key_label, key_label[:-1])
        self.cert = cert
        self.renew_retries = 0
        self.installed_at = self.now()
        self.history.append((self.installed_at, cert, "install"))
        self._log("cert-installed")
        self._syslog_install(cert)
        self._arm_renew()
        self.dev.changed()

    def _install_rollover(self, cert: x509.Certificate, key_label: str) -> None:
        self.cert_rollover = cert
        self._rollover_key = key_label
        self.history.append((self.now(), cert, "rollover"))
        self._log("rollover-cert-installed")
        self.dev.syslog(
            f"%PKI-6-CERT_SHADOW_INSTALL: A rollover ID certificate has been installed under\n"
            f"                      Trustpoint   : {self.name}\n"
            f"                      Issuer-name  : {one_line(cert.issuer)}\n"
            f"                      Subject-name : {one_line(cert.subject)}\n"
            f"                      Serial-number: {cert.serial_number:02X}\n"
            f"                      Start-date   : {iso(cert.not_valid_before_utc)}\n"
            f"                      End-date     : {iso(cert.not_valid_after_utc)}"
            if self.dev.family != "ios"
            else f"%PKI-6-CERT_SHADOW_INSTALL: A rollover ID certificate has been installed under trustpoint {self.name}"
        )
        self.dev.syslog(
            '%PKI-4-NOSHADOWAUTOSAVE: Configuration was modified.  Issue "write memory" to save new IOS PKI shadow certificate'
        )
        self._arm_promotion()
        self.dev.changed()

    def _syslog_install(self, cert: x509.Certificate) -> None:
        if self.dev.family == "ios":
            self.dev.syslog("%PKI-6-CERTRET: Certificate received from Certificate Authority")
            return
        self.dev.syslog(
            "%PKI-6-CERT_INSTALL: An ID certificate has been installed under\n"
            f"                      Trustpoint   : {self.name}\n"
            f"                      Issuer-name  : {one_line(cert.issuer)}\n"
            f"                      Subject-name : {one_line(cert.subject)}\n"
            f"                      Serial-number: {cert.serial_number:02X}\n"
            f"                      End-date     : {iso(cert.not_valid_after_utc)}"
        )

    # ------------------------------------------------------------------ timers
    def _arm_renew(self) -> None:
        self.dev.timers.cancel(self._timer("RENEW"))
        self.renew_at = None
        shadow = self.dev.timers.timers.get(self._timer("SHADOW"))
        if shadow is not None and shadow.callback == self._renew and not self._shadow_renews():
            self._arm_shadow()  # a C9 SHADOW of a certificate that is gone: back to the CA shadow at 90 %
        if not self.cfg.auto_enroll or self.renew_stopped or self.cert is None or self.installed_at is None:
            return
        t0, end = self.installed_at, self.cert.not_valid_after_utc
        if self.cfg.auto_enroll_percent is None:
            at = end
        else:
            secs = int((end - t0).total_seconds() * self.cfg.auto_enroll_percent / 100)
            at = t0 + timedelta(seconds=secs)
        self.renew_at = at
        if self._shadow_renews():
            # C9: a capped certificate arms SHADOW at the auto-enroll percentage, and leaves no RENEW
            self.dev.timers.arm(self._timer("SHADOW"), at, self._renew)
        else:
            self.dev.timers.arm(self._timer("RENEW"), at, self._renew)

    def _arm_shadow(self) -> None:
        """The CA-certificate shadow (GetNextCACert) at 90 % of the CA's life (seed, GetCACaps section; the
        csr8kv capture arms it beside RENEW on an auto-enroll trustpoint). A capped certificate's own SHADOW
        (C9) takes the name instead: it fetches the rollover CA as part of the shadow renewal."""
        if self.ca is None or self._shadow_renews():
            return
        nb, na = self.ca.not_valid_before_utc, self.ca.not_valid_after_utc
        at = nb + timedelta(seconds=int((na - nb).total_seconds() * 9 // 10))
        self.dev.timers.arm(self._timer("SHADOW"), at, self._shadow)

    def _arm_poll(self) -> None:
        answered = self.pending.attempts if self.pending is not None else 0
        period = poll_period(timedelta(minutes=self.cfg.retry_period), answered)
        self.dev.timers.arm(self._timer("POLL"), self.now() + period, self._poll)

    def _arm_promotion(self) -> None:
        if self.ca is None:
            return
        # Not an IOS-visible timer: the switch-over at the old CA's end (C6).
        self.dev.timers.arm(f"ROLLOVER {self.name}", self.ca.not_valid_after_utc, self._promote, "internal")

    async def _renew(self) -> None:
        if self.cert is None or self.ca is None:
            return
        if self.cert.not_valid_after_utc < self.ca.not_valid_after_utc:
            await self._ordinary_renewal()
        else:
            await self._shadow_renewal()

    def _renew_key(self) -> KeyPair:
        if self.cfg.regenerate:
            return self._key(self.key_label + "#", fresh=True)
        return self._key(self.key_label)

    async def _ordinary_renewal(self) -> None:
        assert self.cert is not None and self.ca is not None
        cur = self._key(self.key_label)
        self.dev.syslog(f"%PKI-6-CERTRENEWAUTO: Renewing the router certificate for trustpoint {self.name}")
        self._log("renew")
        kp = self._renew_key()
        csr = self._csr(self.cert.subject, kp.key, self.cfg.password)
        tid = secrets.token_hex(16).upper()
        if self.now() >= self.cert.not_valid_after_utc:
            # `auto-enroll` without a percentage renews at expiry: an expired certificate cannot sign a
            # RenewalReq, so the request is a new PKCSReq signed with a self-signed certificate of the new key
            await self._send(
                "renew",
                csr,
                kp,
                self._self_signed(self.cert.subject, kp.key),
                kp.key,
                self.ca,
                "PKCSReq",
                tid,
            )
            return
        await self._send("renew", csr, kp, self.cert, cur.key, self.ca, "RenewalReq", tid)

    async def _get_next_ca(self, raise_unreachable: bool = False) -> x509.Certificate | None:
        assert self.ca is not None
        try:
            with self.dev.counters.session():
                nxt = await self.dev.scep.get_next_ca_cert(self._url(), self.name, self.ca)
        except ScepUnavailable:
            if raise_unreachable:
                raise
            nxt = None
        if nxt is not None and self.ca_rollover is None:
            self.ca_rollover = nxt
            self._log("rollover-ca-installed")
            self._arm_promotion()
            self.dev.changed()
        return self.ca_rollover

    async def _shadow_renewal(self) -> None:
        """C4: the identity certificate ends with the CA: enroll for the rollover CA."""
        assert self.cert is not None
        self._log("shadow-renew")
        try:
            nxt = await self._get_next_ca(raise_unreachable=True)
        except ScepUnavailable:
            self._log("shadow-unreachable")
            self.dev.syslog("%PKI-3-SOCKETSEND: Failed to send out message to CA server.")
            self._retry_renew("shadow")
            return
        if nxt is None:
            self._log("shadow-renew-failed")
            self.renew_at = None
            self.dev.syslog(
                f"%PKI-3-GETNEXTCACERT_FAIL: Shadow renewal for trustpoint {self.name} failed: "
                "the CA has no rollover certificate (GetNextCACert)"
            )
            return
        cur = self._key(self.key_label)
        kp = self._renew_key()
        csr = self._csr(self.cert.subject, kp.key, self.cfg.password)
        await self._send("shadow", csr, kp, self.cert, cur.key, nxt, "PKCSReq", secrets.token_hex(16).upper())

    async def _shadow(self) -> None:
        """C5: GetNextCACert at 90 % of the CA's life; install it if it exists, otherwise nothing."""
        self._log("shadow")
        if self.ca is not None and self.ca_rollover is None:
            await self._get_next_ca()

    async def _poll(self) -> None:
        p = self.pending
        if p is None:
            return
        if self.ca is not None and self.now() >= self.ca.not_valid_after_utc:
            # P1 (seed): the polls go on up to the retry count "or until the CA certificate expires"
            self.pending = None
            self.last_status = "Failed"
            self._log("poll-gave-up")
            return
        p.attempts += 1
        self._log("poll")
        kp = self._key(p.key_label)
        signer = (
            self.cert
            if (p.kind != "enroll" and self.cert is not None)
            else self._self_signed(p.subject, kp.key)
        )
        signer_key = self._key(self.key_label).key if p.kind != "enroll" and self.cert is not None else kp.key
        try:
            with self.dev.counters.session():
                res = await self.dev.scep.poll(
                    self._url(), kp.key, signer, signer_key, p.recipient, p.transaction_id, p.subject
                )
        except ScepUnavailable:
            res = ClientResult("PENDING")
        if res.status == "PENDING" and p.attempts >= self.cfg.retry_count:
            self.pending = None
            self.last_status = "Failed"
            self._log("poll-gave-up")
            return
        await self._result(p.kind, res, p)

    def _promote(self) -> None:
        """C6: at the old CA's end the rollover certificates become the active ones."""
        if self.ca_rollover is None:
            return
        self.ca, self.ca_rollover = self.ca_rollover, None
        self.ca_installed_at = self.now()
        if self.cert_rollover is not None:
            label = self._rollover_key or self.key_label
            if label.endswith("#") and self.dev.keyring.get(label) is not None:
                self.dev.keyring.rename(label, label[:-1])
            self.cert, self.cert_rollover = self.cert_rollover, None
            self.installed_at = self.cert.not_valid_before_utc
            self.history.append((self.installed_at, self.cert, "activate"))
            self._log("rollover-activated")
            self.dev.syslog(
                f"%PKI-6-CERT_ROLLOVER_ACTIVE: A rollover ID certificate has been activated under trustpoint "
                f"{self.name} replacing the previous ID certificate."
            )
            self._arm_renew()
        else:
            self._log("rollover-ca-only")
            self.dev.timers.cancel(self._timer("RENEW"))
            self.renew_at = None
        self._arm_shadow()
        self.dev.changed()

    async def fetch_crl(self) -> x509.CertificateRevocationList:
        """`crypto pki crl request TP`: GetCRL over SCEP, signed with the identity certificate."""
        if self.ca is None:
            raise TpError(f"% Trustpoint {self.name} is not authenticated.")
        get_crl = getattr(self.dev.scep, "get_crl", None)
        if get_crl is None:
            raise TpError("% CRL retrieval is not supported by this transport.")
        kp = self._key(self.key_label)
        signer = self.cert if self.cert is not None else self._self_signed(self.ca.subject, kp.key)
        self.dev.counters.crl_fetch_attempts += 1
        try:
            with self.dev.counters.session():
                crl: x509.CertificateRevocationList | None = await get_crl(self._url(), signer, kp.key, self.ca)
        except ScepUnavailable:
            crl = None
        if crl is None:
            self.dev.counters.crl_failed_attempts += 1
            raise TpError(f"% CRL request for trustpoint {self.name} failed.")
        self.crl, self.crl_downloaded_at = crl, self.now()
        self.dev.syslog(f"%PKI-6-CRL_DOWNLOAD: CRL for trustpoint {self.name} downloaded via SCEP")
        return crl

    # ------------------------------------------------------------------ lifecycle
    def zeroize(self) -> None:
        """`no crypto pki trustpoint`: certificates and timers go (keys stay, as on IOS)."""
        for kind in ("RENEW", "SHADOW", "POLL", "ROLLOVER"):
            self.dev.timers.cancel(self._timer(kind))
        self.ca = self.ca_rollover = self.cert = self.cert_rollover = None
        self.pending = None

    def config_changed(self) -> None:
        """auto-enroll changed: re-arm RENEW from the current install time."""
        if self.cert is not None and self.renew_at is None and not self.renew_stopped:
            self._arm_renew()
        elif not self.cfg.auto_enroll:
            self.cancel_renew()

    def snapshot(self) -> dict[str, Any]:
        pem = serialization.Encoding.PEM

        def c(x: x509.Certificate | None) -> str | None:
            return x.public_bytes(pem).decode() if x is not None else None

        return {
            "ca": c(self.ca),
            "ca_rollover": c(self.ca_rollover),
            "cert": c(self.cert),
            "cert_rollover": c(self.cert_rollover),
            "installed_at": self.installed_at.isoformat() if self.installed_at else None,
            "ca_installed_at": self.ca_installed_at.isoformat() if self.ca_installed_at else None,
            "renew_at": self.renew_at.isoformat() if self.renew_at else None,
            "renew_stopped": self.renew_stopped,
            "rollover_key": self._rollover_key,
            "last_status": self.last_status,
        }

    def restore(self, d: dict[str, Any]) -> None:
        def c(x: str | None) -> x509.Certificate | None:
            return x509.load_pem_x509_certificate(x.encode()) if x else None

        def t(x: str | None) -> datetime | None:
            return datetime.fromisoformat(x) if x else None

        self.ca, self.ca_rollover = c(d.get("ca")), c(d.get("ca_rollover"))
        self.cert, self.cert_rollover = c(d.get("cert")), c(d.get("cert_rollover"))
        self.installed_at, self.ca_installed_at = t(d.get("installed_at")), t(d.get("ca_installed_at"))
        self.renew_at = t(d.get("renew_at"))
        self.renew_stopped = bool(d.get("renew_stopped"))
        self._rollover_key = d.get("rollover_key")
        self.last_status = d.get("last_status")

    def resume(self) -> None:
        """After a reload: re-arm from the persisted state (the persisted renew date is kept)."""
        if self.ca is not None:
            self._arm_shadow()
        if self.ca_rollover is not None:
            self._arm_promotion()
        if self.renew_at is not None and self.cfg.auto_enroll and not self.renew_stopped:
            self.dev.timers.arm(self.renew_timer(), self.renew_at, self._renew)
