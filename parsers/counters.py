"""`show crypto pki counters` into `PkiCounters`.

Twelve `Label: N` lines. A table lookup, not TTP: every line must be one of the known
labels, each once, and all twelve must be there (both real IOS-XE captures print all of
them; a missing one is a cut or deleted line, not a zero)."""

from __future__ import annotations

import re

from iospki.models import PkiCounters

from .base import ParseError, register
from .lines import device_lines, require_content

COMMAND = "show crypto pki counters"

_FIELDS = {
    "PKI Sessions Started": "sessions_started",
    "PKI Sessions Ended": "sessions_ended",
    "PKI Sessions Active": "sessions_active",
    "Successful Validations": "successful_validations",
    "Failed Validations": "failed_validations",
    "Bypassed Validations": "bypassed_validations",
    "Pending Validations": "pending_validations",
    "CRLs checked": "crls_checked",
    "CRL - fetch attempts": "crl_fetch_attempts",
    "CRL - failed attempts": "crl_failed_attempts",
    "CRL - rejected busy fetching": "crl_rejected_busy_fetching",
    "AAA authorizations": "aaa_authorizations",
}
_LINE = re.compile(r"(?P<label>[^:]+?)\s*:\s*(?P<n>\d+)")


@register(r"(?:show|sh) crypto pki counters?")
def parse_counters(text: str, platform: str | None = None) -> PkiCounters:
    lines = device_lines(text)
    require_content(COMMAND, lines)
    values: dict[str, int] = {}
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        m = _LINE.fullmatch(s)
        field = _FIELDS.get(" ".join(m["label"].split())) if m else None
        if m is None or field is None:
            raise ParseError(COMMAND, "unexpected line", raw, no)
        if field in values:
            raise ParseError(COMMAND, f"a second {m['label']!r} line", raw, no)
        values[field] = int(m["n"])
    missing = [label for label, field in _FIELDS.items() if field not in values]
    if missing:
        raise ParseError(COMMAND, f"no {', '.join(repr(x) for x in missing)} line (truncated output?)")
    return PkiCounters(**values)
