"""The audit rules as frozen data: id, severity, title, rationale, remedy.

The ids are stable: reports, JUnit case names and CI configurations use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    rationale: str
    remedy: str


_W, _C, _I = Severity.warning, Severity.critical, Severity.info

RULES: tuple[Rule, ...] = (
    Rule(
        "clock-not-authoritative",
        _C,
        "Clock is not authoritative",
        "PKI timers (RENEW, SHADOW, CS timers) do not run until the clock is authoritative (NTP sync, "
        "`clock calendar-valid` or `ntp master`); renewals and rollovers silently stop.",
        "ntp server <address>   (or: clock calendar-valid)",
    ),
    Rule(
        "clock-skew",
        _W,
        "Clock differs from its CA server's clock",
        "PKI times are absolute and each box reads them on its own clock. A client behind its CA sees each "
        "new certificate as not yet valid for the difference and renews that much late; a client ahead "
        "renews early, sees certificates (the CA's too) end early, and can ask for its shadow certificate "
        "before the rollover CA exists. Measured from `show clock` and the times the collector read it.",
        "ntp server <address> on the client and on the CA server (the same source)",
    ),
    Rule(
        "ca-server-not-serving",
        _C,
        "Certificate server not serving",
        "A disabled server, `State: check failed` or no `ip http server` means no SCEP: no enrollment, "
        "renewal or GetNextCACert.",
        "ip http server; crypto pki server <name> / no shutdown",
    ),
    Rule(
        "auto-rollover-missing",
        _W,
        "CA server without auto-rollover",
        "Without `auto-rollover` no rollover CA is generated: at the CA's end every certificate it issued "
        "ends and clients no longer trust it.",
        "crypto pki server <name> / auto-rollover <days>",
    ),
    Rule(
        "rollover-overlap-short-autoenroll",
        _C,
        "Rollover overlap too short for auto-enroll clients",
        "A client with `auto-enroll P` makes its shadow renewal at P% of its capped certificate; it finds "
        "the rollover CA only if the overlap is at least (1 - P/100) x certificate lifetime. The shadow "
        "renewal is not retried.",
        "crypto pki server <name> / auto-rollover <days>",
    ),
    Rule(
        "rollover-overlap-short-shadow",
        _W,
        "Rollover overlap too short for the CA shadow timer",
        "Trustpoints ask for the rollover CA (GetNextCACert) at 90% of the CA lifetime; with an overlap "
        "under 10% of the CA lifetime the rollover CA does not exist yet and there is no retry.",
        "crypto pki server <name> / auto-rollover <days>",
    ),
    Rule(
        "renew-timer-missing",
        _C,
        "Auto-enroll without a RENEW or SHADOW timer",
        "auto-enroll is configured but the device shows neither RENEW nor SHADOW for the trustpoint: the "
        "certificate will not be renewed (a failed or rejected renewal is not retried).",
        "crypto pki enroll <trustpoint>",
    ),
    Rule(
        "autoenroll-at-expiry",
        _W,
        "auto-enroll without a percentage",
        "`auto-enroll` without P renews only when the certificate has already expired, leaving no margin.",
        "crypto pki trustpoint <tp> / auto-enroll 80 regenerate",
    ),
    Rule(
        "cert-expiring",
        _W,
        "Certificate expiring soon",
        "An identity or CA certificate ends within the threshold and no renewal or rollover is in place.",
        "crypto pki enroll <trustpoint>   (or configure auto-enroll / auto-rollover)",
    ),
    Rule(
        "cert-expired",
        _C,
        "Certificate expired",
        "An identity or CA certificate has ended and was not replaced.",
        "crypto pki enroll <trustpoint>",
    ),
    Rule(
        "rollover-ca-missing",
        _C,
        "Rollover CA certificate missing on a client",
        "The server holds a rollover CA certificate and the client's shadow time has passed, but the client "
        "has no `CA Certificate (Rollover)`: from rollover day it does not trust the active CA.",
        "crypto pki authenticate <trustpoint>   (after the rollover: re-authenticate and re-enroll)",
    ),
    Rule(
        "ca-fingerprint-mismatch",
        _C,
        "Client CA certificate is not the server's",
        "The CA certificate a trustpoint holds is not the one its CA server uses (re-keyed or replaced CA, "
        "or a different CA of the same name).",
        "no crypto pki trustpoint <tp>; re-create, crypto pki authenticate <tp>, crypto pki enroll <tp>",
    ),
    Rule(
        "trustpoint-not-enrolled",
        _W,
        "Trustpoint not enrolled",
        "The trustpoint is not authenticated, has no identity certificate, or has a request pending.",
        "crypto pki authenticate <tp>; crypto pki enroll <tp>",
    ),
    Rule(
        "requests-pending",
        _W,
        "Enrollment requests waiting for a manual grant",
        "A manual-grant server holds pending requests; they expire after `lifetime enrollment-request`.",
        "crypto pki server <name> grant <id|all>   (or: crypto pki server <name> / grant auto)",
    ),
    Rule(
        "lifetime-exceeds-ca",
        _W,
        "Certificate lifetime longer than the CA lifetime",
        "Every certificate is capped at the CA's end, so all clients land on shadow renewals.",
        "crypto pki server <name> / lifetime certificate <days>",
    ),
    Rule(
        "crl-stale",
        _W,
        "CRL past its next update",
        "A CRL whose next update is in the past fails revocation checks (`revocation-check crl`).",
        "crypto pki crl request <tp>   (server: check `lifetime crl` and that the server runs)",
    ),
    Rule(
        "weak-crypto",
        _W,
        "Weak signature or key",
        "MD5 or SHA-1 signatures and RSA keys under 2048 bits are rejected by current peers.",
        "crypto pki server <name> / hash sha256; crypto key generate rsa modulus 2048 label <label>",
    ),
    Rule(
        "software-unsupported",
        _W,
        "Software older than needed for auto-enroll/auto-rollover",
        "The seed tech note names the first releases with working PKI timers: ISR-G1 15.1(4)M, ISR-G2 "
        "15.4(3)M, IOS-XE 3.15 / 15.5(2)S.",
        "upgrade the software",
    ),
    Rule(
        "host-unreachable",
        _C,
        "Host not collected",
        "The host could not be reached or its collection failed; it was not audited.",
        "check reachability and credentials, then collect again",
    ),
    Rule(
        "parse-error",
        _C,
        "Output could not be parsed",
        "An output of the host could not be parsed; checks needing it were not made for this host.",
        "collect again; if it persists, report the output",
    ),
)

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
FAILURE_KINDS = frozenset({"host-unreachable", "parse-error"})
