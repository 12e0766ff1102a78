"""`show crypto pki trustpool` into `TrustpoolOutput`, and
`show crypto pki trustpool | count Downloaded` into `TrustpoolCountOutput`.

The trustpool prints the section layout of `show crypto pki certificates` (header,
Status, serial, Issuer/Subject DN blocks, Validity Date, Associated Trustpoints, Storage)
plus two things that output does not have:

* a `Trustpool: Built-In|Downloaded` line per section;
* DN values that contain a comma, which IOS-XE breaks onto a deeper-indented line of their
  own (`o=VeriSign` / `     Inc.` for `o=VeriSign, Inc.`).

Both are taken out here (the pool line kept per section, the value joined back to its DN
line, each replaced by a blank line so line numbers stay those of the input) and the rest
goes through the certificates parser, so its strictness applies unchanged."""

from __future__ import annotations

import re

from iospki.models import TrustpoolCertificate, TrustpoolCountOutput, TrustpoolOutput

from .base import ParseError, register
from .certificates import HEADERS, SUBJECT_KEYS, parse_certificates
from .lines import device_lines, require_content
from .noise import normalize

COMMAND = "show crypto pki trustpool"
COUNT = "show crypto pki trustpool | count Downloaded"

_POOL = re.compile(r"Trustpool: (?P<source>\S.*)")
_COUNT = re.compile(r"Number of lines which match regexp = (?P<n>\d+)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_trustpool_lines(
    lines: list[str],
) -> tuple[list[str], list[str | None], list[int], ParseError | None]:
    """(certificate lines, pool source per section, section start line numbers, first misplaced
    pool line as an error to raise unless the certificates parser finds an earlier bad line).

    In the certificate lines each `Trustpool:` line and each DN continuation is blank
    (the continuation is joined to its DN line with ', ')."""
    out = list(lines)
    sources: list[str | None] = []
    starts: list[int] = []
    problem: ParseError | None = None
    dn_open = False  # after 'Issuer:'/'Subject:' while its DN lines follow
    last_dn: tuple[int, int] | None = None  # (index, indentation) of the DN line a continuation extends
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s:
            continue
        key = s.partition(":")[0]
        if s in HEADERS:
            sources.append(None)
            starts.append(i + 1)
            dn_open, last_dn = False, None
            continue
        if dn_open and "=" in key:
            last_dn = (i, _indent(raw))
            continue
        if last_dn is not None and ":" not in s and "=" not in s and _indent(raw) > last_dn[1]:
            out[last_dn[0]] = out[last_dn[0]].rstrip() + ", " + s
            out[i] = ""
            continue
        last_dn = None
        dn_open = s in ("Issuer:", "Subject:") or (dn_open and key in SUBJECT_KEYS)
        if m := _POOL.fullmatch(s):
            out[i] = ""
            if problem is not None:
                continue
            if not sources:
                problem = ParseError(COMMAND, "'Trustpool:' line outside any certificate section", raw, i + 1)
            elif sources[-1] is not None:
                problem = ParseError(COMMAND, "a second 'Trustpool:' line in one section", raw, i + 1)
            else:
                sources[-1] = m["source"].strip()
    return out, sources, starts, problem


@register(r"(?:show|sh) crypto pki trustpool")
def parse_trustpool(text: str, platform: str | None = None) -> TrustpoolOutput:
    lines = normalize(text).split("\n")
    cert_lines, sources, starts, problem = split_trustpool_lines(lines)
    try:
        certs = parse_certificates("\n".join(cert_lines), platform).certificates
    except ParseError as exc:  # the first bad line wins; name this command and the line as printed
        if (
            problem is not None
            and problem.lineno is not None
            and problem.lineno < (exc.lineno or len(lines) + 1)
        ):
            raise problem from None
        line = lines[exc.lineno - 1] if exc.lineno else None
        raise ParseError(COMMAND, exc.reason, line, exc.lineno) from None
    if problem is not None:
        raise problem
    if len(certs) != len(sources):  # one section per header on both sides; a mismatch is a bug here
        raise ParseError(COMMAND, f"{len(certs)} certificates read from {len(sources)} sections")
    out = []
    for cert, source, start in zip(certs, sources, starts, strict=True):
        if source is None:  # every trustpool section prints it: a missing one is a cut or deleted line
            raise ParseError(COMMAND, "section has no 'Trustpool:' line", lines[start - 1], start)
        out.append(TrustpoolCertificate(**dict(cert), source=source))
    return TrustpoolOutput(certificates=out)


@register(r"(?:show|sh) crypto pki trustpool \| count downloaded")
def parse_trustpool_count(text: str, platform: str | None = None) -> TrustpoolCountOutput:
    lines = device_lines(text)
    require_content(COUNT, lines)
    found: int | None = None
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        m = _COUNT.fullmatch(s)
        if m is None or found is not None:
            raise ParseError(COUNT, "unexpected line", raw, no)
        found = int(m["n"])
    if found is None:  # unreachable after require_content; keeps the type narrow without assert
        raise ParseError(COUNT, "empty output")
    return TrustpoolCountOutput(downloaded=found)
