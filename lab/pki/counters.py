"""`show crypto pki counters`: what the router's PKI engine did since it booted.

Counted where the lab's engine does the thing a counter names, never made up:
* a PKI session is one exchange of the trustpoint with its CA (GetCACert for `crypto pki authenticate`,
  GetNextCACert, an enrolment or renewal request, a GetCertInitial poll, GetCRL), and on a certificate server
  one validation of a renewal request's signer; `Active` are those still running (an HTTP exchange under way);
* a validation is a certificate checked against the CA certificate that should have signed it: the
  certificate a CA returned, before it is installed, and on a CA server the certificate that signed a
  RenewalReq (issued by this CA, not revoked, not expired);
* `CRL - fetch attempts` / `failed attempts`: `crypto pki crl request` (GetCRL).
Bypassed/pending validations, CRLs checked (the lab checks no peer's revocation), busy fetches and AAA
authorisations stay 0: the lab does none of those. Counters start at 0 at every boot (the engine is rebuilt,
as IOS's counters are) and `clear crypto pki counters` zeroes them.

Layout: the real IOS-XE captures (genie `show_crypto_pki_counters`, muninn c9300), twelve `Label: N` lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields


@dataclass
class PkiCounters:
    sessions_started: int = 0
    sessions_ended: int = 0
    successful_validations: int = 0
    failed_validations: int = 0
    crl_fetch_attempts: int = 0
    crl_failed_attempts: int = 0

    @property
    def sessions_active(self) -> int:
        return self.sessions_started - self.sessions_ended

    @contextmanager
    def session(self) -> Iterator[None]:
        """One PKI session: started now, ended when the block leaves (also by an exception)."""
        self.sessions_started += 1
        try:
            yield
        finally:
            self.sessions_ended += 1

    def validated(self, ok: bool) -> bool:
        if ok:
            self.successful_validations += 1
        else:
            self.failed_validations += 1
        return ok

    def clear(self) -> None:
        """`clear crypto pki counters`; a session under way is still counted as active."""
        active = self.sessions_active
        for f in fields(self):
            setattr(self, f.name, 0)
        self.sessions_started = active

    def show(self) -> str:
        rows = (
            ("PKI Sessions Started", self.sessions_started),
            ("PKI Sessions Ended", self.sessions_ended),
            ("PKI Sessions Active", self.sessions_active),
            ("Successful Validations", self.successful_validations),
            ("Failed Validations", self.failed_validations),
            ("Bypassed Validations", 0),
            ("Pending Validations", 0),
            ("CRLs checked", 0),
            ("CRL - fetch attempts", self.crl_fetch_attempts),
            ("CRL - failed attempts", self.crl_failed_attempts),
            ("CRL - rejected busy fetching", 0),
            ("AAA authorizations", 0),
        )
        return "\n".join(f"{label}: {n}" for label, n in rows)
