"""`show crypto pki certificates [verbose] [TP]` into `CertificatesOutput`.

Why not TTP here: TTP does Python work for every regex match (about 5 us each), so even a
ten-line template takes ~17 ms on the 200-certificate benchmark input (under 60 parses/s),
far below the target of genie's schema-less speed (~218/s here). Two paths instead:

* fast path: a section in the common non-verbose layout is read by ONE regex match
  (`_FAST`, C speed) that also proves every line of the section is placed and that the
  next thing is another section header or the end;
* general path (`_scan`): one pass over the lines with one dict lookup per line (the text
  before the first ':' selects the handler) for verbose sections, pending requests,
  unusual orders and session noise. A line that is no known key and does not fit the
  sub-block it sits in (issuer/subject DN, CRL DP URL, key usage names ...) raises
  ParseError naming it. Indentation is ignored (IE-3100 prints none).

Both paths give identical models on every fixture (tests compare them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from iospki.models import Certificate, CertificatesOutput, CertKind

from .base import ParseError, register
from .ios_time import MONTHS
from .noise import is_noise, normalize

COMMAND = "show crypto pki certificates"

# --------------------------------------------------------------------------- section headers

_KIND_BY_PREFIX = {
    "": CertKind.identity,
    "CA": CertKind.ca,
    "Router Self-Signed": CertKind.self_signed,
    # RA section names: no capture in the fixtures; the names follow IOS usage (unverified)
    "RA Signature": CertKind.ra_signature,
    "RA KeyEncipher": CertKind.ra_encryption,
    "RA Encryption": CertKind.ra_encryption,
}
_KIND_BY_PAREN = {
    "subordinate CA certificate": CertKind.subordinate_ca,
    "RA mode CS certificate": CertKind.ra_mode_cs,
}


def _headers() -> dict[str, tuple[CertKind, bool]]:
    """Every section header IOS prints -> (kind, rollover)."""
    out: dict[str, tuple[CertKind, bool]] = {}
    for prefix, kind in _KIND_BY_PREFIX.items():
        base = f"{prefix} Certificate".strip()
        out[base] = (kind, False)
        out[f"{base} (Rollover)"] = (kind, True)
    for paren, kind in _KIND_BY_PAREN.items():
        out[f"Certificate ({paren})"] = (kind, False)
        out[f"Certificate ({paren}, Rollover)"] = (kind, True)
    return out


HEADERS = _headers()

# --------------------------------------------------------------------------- line keys
# The text before the first ':' of a stripped line selects what the line is. Codes are
# small ints so the hot loop is a dict lookup plus an int comparison chain.
(
    K_STATUS,
    K_SERIAL,
    K_USAGE,
    K_ISSUER,
    K_SUBJECT,
    K_CDP,
    K_VALIDITY,
    K_START,
    K_END,
    K_TRUSTPOINTS,  # codes up to here are the frequent ones (first branch of the loop)
    K_SERIAL_OLD,
    K_RENEW,
    K_STORAGE,
    K_VERSION,
    K_SKI_BLOCK,
    K_PK_ALG,
    K_PK_SIZE,
    K_SIG_ALG,
    K_FP_MD5,
    K_FP_SHA1,
    K_EXTENSIONS,
    K_KU,
    K_SKID,
    K_AKID,
    K_BASIC,
    K_CA_FLAG,
    K_SAN,
    K_AIA,
    K_EKU,
    K_X509_OTHER,
    K_INSTALL,
    K_INSTALL_NS,
    K_KEY_LABEL,
    K_KEY_STORAGE,
    K_REQ_MD5,
    K_REQ_SHA1,
    K_HEADER,
    K_SUBJ_NAME,
    K_SUBJ_IP,
    K_SUBJ_SN,
) = range(40)

KEYS: dict[str, int] = {
    "Status": K_STATUS,
    "Certificate Serial Number (hex)": K_SERIAL,
    "Certificate Serial Number": K_SERIAL_OLD,
    "Certificate Usage": K_USAGE,
    "Key Usage": K_USAGE,  # pending requests
    "Issuer": K_ISSUER,
    "Subject": K_SUBJECT,
    "CRL Distribution Points": K_CDP,
    "Validity Date": K_VALIDITY,
    "start date": K_START,
    "end   date": K_END,
    "end date": K_END,
    "renew date": K_RENEW,
    "Associated Trustpoints": K_TRUSTPOINTS,
    "Associated Trustpoint": K_TRUSTPOINTS,
    "Storage": K_STORAGE,
    "Version": K_VERSION,
    "Subject Key Info": K_SKI_BLOCK,
    "Public Key Algorithm": K_PK_ALG,
    "RSA Public Key": K_PK_SIZE,
    "EC Public Key": K_PK_SIZE,
    "DSA Public Key": K_PK_SIZE,
    "Signature Algorithm": K_SIG_ALG,
    "Fingerprint MD5": K_FP_MD5,
    "Fingerprint SHA1": K_FP_SHA1,
    "X509v3 extensions": K_EXTENSIONS,
    "X509v3 Key Usage": K_KU,
    "X509v3 Subject Key ID": K_SKID,
    "X509v3 Authority Key ID": K_AKID,
    "X509v3 Basic Constraints": K_BASIC,
    "CA": K_CA_FLAG,
    "X509v3 Subject Alternative Name": K_SAN,
    "Authority Info Access": K_AIA,
    "Extended Key Usage": K_EKU,
    "X509v3 Extended Key Usage": K_EKU,
    "Cert install time": K_INSTALL,
    "Cert install time in nsec": K_INSTALL_NS,
    "Key Label": K_KEY_LABEL,
    "Key storage device": K_KEY_STORAGE,
    "Certificate Request Fingerprint MD5": K_REQ_MD5,
    "Certificate Request Fingerprint SHA1": K_REQ_SHA1,
}
for _h in HEADERS:
    KEYS[_h] = K_HEADER
# only inside Subject: (pending requests list them without DN lines)
SUBJECT_KEYS = {"Name": K_SUBJ_NAME, "IP Address": K_SUBJ_IP, "Serial Number": K_SUBJ_SN}
KEYS.update(SUBJECT_KEYS)
_SUBJECT_FIELD = {K_SUBJ_NAME: "name", K_SUBJ_IP: "ip_address", K_SUBJ_SN: "serial_number"}

# lines a section prints at most once: a second one means the next section's header is
# missing (two certificates would merge silently into one)
_ONCE = {
    K_STATUS: "Status",
    K_SERIAL: "serial number",
    K_SERIAL_OLD: "serial number",
    K_ISSUER: "Issuer",
    K_SUBJECT: "Subject",
    K_VALIDITY: "Validity Date",
    K_START: "start date",
    K_END: "end date",
    K_TRUSTPOINTS: "Associated Trustpoints",
}

# sub-blocks whose member lines are not "key: value" lines
C_NONE, C_DN, C_CDP, C_KU, C_EKU, C_SAN, C_AIA, C_X509_OTHER = range(8)
_OTHER_EXTENSIONS = {"Subject Information Access", "Certificate Policies", "Netscape Cert Type"}
# a DN attribute line: cn=..., serialNumber=..., hostname=R14+ipaddress=1.2.3.4
_RDN_SPLIT = re.compile(r"\+(?=[A-Za-z][\w.\-]*=)")
# member lines of the verbose sub-blocks: anything else there is a foreign line, not a member
_URI = re.compile(r"[A-Za-z][\w+.\-]*:")  # CRL DP: http://..., ldap:///...
_KEY_USAGES = frozenset(
    {
        "Digital Signature",
        "Non Repudiation",
        "Key Encipherment",
        "Data Encipherment",
        "Key Agreement",
        "Key Cert Sign",
        "CRL Signature",
        "Encipher Only",
        "Decipher Only",
    }
)
_EKU_NAME = re.compile(r"[A-Z][\w\-]*(?: [A-Za-z][\w\-]*)*|\d+(?:\.\d+)+")  # 'Client Auth' or an OID

_WEEKDAYS = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}


# A host prints each date more than once (the plain and the verbose output, install times) and every host of
# a CA prints the CA certificate's dates: each string is read once. Results are immutable; errors not cached.
@functools.lru_cache(maxsize=8192)
def _time(value: str) -> tuple[datetime, str | None]:
    """'13:14:16 UTC Oct 8 2017' -> (datetime(2017, 10, 8, 13, 14, 16), 'UTC').
    Raises ValueError (turned into ParseError by the caller). A split-based twin of
    `ios_time.parse_ios_time`, about 3x faster: this runs twice per certificate.

    >>> _time("13:14:16.500 IST Sun Oct 8 2017")
    (datetime.datetime(2017, 10, 8, 13, 14, 16, 500000), 'IST')
    >>> _time("13:14:16 Oct 8 2017")
    (datetime.datetime(2017, 10, 8, 13, 14, 16), None)
    """
    parts = value.split()
    if len(parts) < 4:
        raise ValueError(value)
    hms = parts[0].lstrip("*.").split(":")
    sec, _, frac = hms[2].partition(".")
    micro = int((frac + "000000")[:6]) if frac else 0
    dt = datetime(
        int(parts[-1]), MONTHS[parts[-3]], int(parts[-2]), int(hms[0]), int(hms[1]), int(sec), micro
    )
    if len(parts) == 5 and parts[1] not in _WEEKDAYS:  # the usual 'HH:MM:SS TZ Mon D YYYY'
        return dt, parts[1]
    zone = [p for p in parts[1:-3] if p not in _WEEKDAYS]  # 'UTC Mon Oct 8 2017' style
    return dt, " ".join(zone) or None


def _hex(value: str) -> str:
    return "".join(value.split()).upper()


def _finish(
    cert: dict[str, Any],
    issuer: list[str],
    subject: list[str],
    lineno: int | None,
    subject_seen: bool = False,
) -> Certificate:
    if issuer:
        cert["issuer"] = ",".join(issuer)
    if subject:
        cert["subject"] = ",".join(subject)
    elif subject_seen and cert.get("status") != "Pending":
        # a `Subject:` line with no DN lines under it: the certificate's subject is the empty DN (X.509
        # allows it, e.g. a third-party CA that keeps only the alternative names); a pending request
        # prints no DN lines by design and keeps None
        cert["subject"] = ""
    try:
        return Certificate.model_validate(cert)
    except ValidationError as exc:
        where = f" ending before line {lineno}" if lineno else ""
        raise ParseError(
            COMMAND, f"section {cert['section']!r}{where} is malformed: {exc.errors()[0]['msg']}"
        ) from None


def _old_serial(value: str) -> str:
    """'0x15' (older images) -> '15'."""
    v = value.upper()
    return v[2:] if v.startswith("0X") else v


def _bits(value: str) -> int:
    """'(2048 bit)' -> 2048."""
    return int(value.strip("()").split()[0])


# lines whose stripped value fills one field: line code -> (field, converter)
_VALUE_FIELDS: dict[int, tuple[str, Callable[[str], Any]]] = {
    K_STORAGE: ("storage", str),
    K_RENEW: ("renew", lambda v: _time(v)[0]),
    K_SERIAL_OLD: ("serial", _old_serial),
    K_VERSION: ("version", int),
    K_PK_ALG: ("key_type", str),
    K_PK_SIZE: ("key_size", _bits),
    K_SIG_ALG: ("signature_algorithm", str),
    K_FP_MD5: ("fingerprint_md5", _hex),
    K_FP_SHA1: ("fingerprint_sha1", _hex),
    K_SKID: ("subject_key_id", _hex),
    K_AKID: ("authority_key_id", _hex),
    K_CA_FLAG: ("basic_constraints_ca", lambda v: v.upper() == "TRUE"),
    K_INSTALL: ("install_time", lambda v: _time(v)[0]),
    K_INSTALL_NS: ("install_time_ns", int),
    K_KEY_LABEL: ("key_label", str),
    K_KEY_STORAGE: ("key_storage", str),
    K_REQ_MD5: ("request_fingerprint_md5", _hex),
    K_REQ_SHA1: ("request_fingerprint_sha1", _hex),
}
# header lines of sub-blocks whose member lines are not "key: value" lines
_BLOCK_CTX = {K_SAN: C_SAN, K_AIA: C_AIA, K_EKU: C_EKU}


def _scan(lines: list[str], first_lineno: int) -> list[Certificate]:
    """The general path: one pass over `lines` (numbered from `first_lineno`)."""
    certs: list[Certificate] = []
    cert: dict[str, Any] = {}
    issuer: list[str] = []
    subject: list[str] = []
    dn: list[str] = issuer  # the DN being read (issuer or subject)
    fields: dict[str, str] = {}
    seen: set[str] = set()  # the _ONCE lines of the open section
    head = ("", 0)  # the open section's header line and its number
    ctx = C_NONE
    get = KEYS.get
    lineno = first_lineno - 1
    for raw in lines:
        lineno += 1
        s = raw.strip()
        if not s:
            continue
        key, sep, val = s.partition(":")
        if ctx == C_DN and "=" in key:
            # DN attribute line(s): cn=R14, hostname=R14+ipaddress=14.14.14.14
            dn.append(s)
            _rdns_into(s, fields)
            continue
        code = get(key)
        if code is None and sep:
            key = " ".join(key.split())
            code = get(key)
        if code is None or (ctx == C_SAN and code >= K_SUBJ_NAME):
            # session noise, or a member line of the current sub-block
            if is_noise(s, not cert):
                continue
            if not cert:
                if s[0] == "%":
                    raise ParseError(COMMAND, "the device reported an error", raw, lineno)
                raise ParseError(COMMAND, "line outside any certificate section", raw, lineno)
            if key.startswith("X509v3 ") or key in _OTHER_EXTENSIONS:
                ctx = C_X509_OTHER  # an extension this parser does not model: skip its body
            elif ctx == C_CDP and _URI.match(s):
                cert["crl_distribution_points"].append(s)
            elif ctx == C_KU and s in _KEY_USAGES:
                cert["key_usage"].append(s)
            elif ctx == C_EKU and _EKU_NAME.fullmatch(s):
                cert["extended_key_usage"].append(s)
            elif ctx == C_SAN and sep:
                cert["subject_alt_names"].append(" ".join(s.replace(" :", ":").split()))
            elif ctx == C_AIA and sep:
                cert["authority_info_access"].append(" ".join(s.split()))
            elif ctx != C_X509_OTHER:
                raise ParseError(COMMAND, "line does not belong to a certificate section", raw, lineno)
            continue
        if not cert and code != K_HEADER:
            raise ParseError(COMMAND, "line outside any certificate section", raw, lineno)
        prev, ctx = ctx, C_NONE
        once = _ONCE.get(code)
        if once is not None:
            if once in seen:
                raise ParseError(
                    COMMAND,
                    f"section {cert['section']!r} has a second {once} line (a section header missing?)",
                    raw,
                    lineno,
                )
            seen.add(once)
        try:
            if code <= K_TRUSTPOINTS:
                if code == K_START:
                    cert["start"], cert["tz"] = _time(val)
                elif code == K_END:
                    cert["end"], tz = _time(val)
                    cert.setdefault("tz", tz)
                elif code == K_SUBJECT:
                    ctx, dn, fields = C_DN, subject, cert["subject_fields"]
                elif code == K_ISSUER:
                    ctx, dn, fields = C_DN, issuer, cert["issuer_fields"]
                elif code == K_STATUS:
                    val = val.strip()
                    cert["status"] = val
                    if val == "Pending" and cert["kind"] is CertKind.identity:
                        cert["kind"] = CertKind.request
                elif code == K_SERIAL:
                    cert["serial"] = val.strip().upper()
                elif code == K_USAGE:
                    cert["usage"] = val.strip()
                elif code == K_TRUSTPOINTS:
                    tps = val.split()
                    if "Trustpool" in tps:
                        tps.remove("Trustpool")
                        cert["trustpool"] = True
                    cert["trustpoints"] = tps
                elif code == K_CDP:
                    ctx = C_CDP
                    if val.strip():
                        cert["crl_distribution_points"].append(val.strip())
                # K_VALIDITY: nothing to keep
                continue
            if code == K_HEADER:
                if cert:
                    certs.append(_complete(_finish(cert, issuer, subject, lineno, "Subject" in seen), *head))
                head = (raw, lineno)
                kind, rollover = HEADERS[s]
                cert = {
                    "section": s,
                    "kind": kind,
                    "rollover": rollover,
                    "subject_fields": {},
                    "issuer_fields": {},
                    "crl_distribution_points": [],
                    "key_usage": [],
                    "extended_key_usage": [],
                    "subject_alt_names": [],
                    "authority_info_access": [],
                }
                issuer, subject = [], []
                seen = set()
                continue
            val = val.strip()
            if code >= K_SUBJ_NAME:
                if prev != C_DN or dn is not subject:
                    raise ParseError(COMMAND, f"{key!r} outside the Subject block", raw, lineno)
                cert["subject_fields"][_SUBJECT_FIELD[code]] = val
                ctx = C_DN
            elif code in _VALUE_FIELDS:
                field, convert = _VALUE_FIELDS[code]
                cert[field] = convert(val)
            elif code == K_KU:
                cert["key_usage_hex"] = _hex(val) or None
                ctx = C_KU
            elif code in _BLOCK_CTX:
                ctx = _BLOCK_CTX[code]
            # K_SKI_BLOCK, K_EXTENSIONS, K_BASIC: headers of blocks whose lines are keyed
        except (ValueError, KeyError, IndexError) as exc:
            if isinstance(exc, ParseError):
                raise
            raise ParseError(COMMAND, f"bad value ({type(exc).__name__})", raw, lineno) from None
    if cert:
        certs.append(_complete(_finish(cert, issuer, subject, None, "Subject" in seen), *head))
    return certs


@register(
    # IOS: [TP [verbose]]; IOS-XE: verbose [TP]; `pem` is a keyword there (parsers/pem.py), never a TP
    r"(?:show|sh) crypto pki certificates?(?: verbose)?(?: (?!pem(?: |$))\S+)?(?: verbose)?",
)
def parse_certificates(text: str, platform: str | None = None, *, fast: bool = True) -> CertificatesOutput:
    """Parse `show crypto pki certificates [verbose] [TP]` (IOS and IOS-XE).

    The text is cut at the section headers (one C-level regex pass). A section in the
    common layout, plain or verbose (IOS-XE's order), is read by one match of `_FAST` or
    `_FAST_V` (which also proves that every line of it is placed); any other section
    (pending, noise lines inside, unusual order) goes through the line scanner `_scan`.
    `fast=False` sends everything through the scanner (the tests compare both paths)."""
    norm = normalize(text)
    first = _HEADER_LINE.search(norm) if fast else None
    # the scanner's certificates, and the fast path's as fields: validated together below (one validator call
    # for the output costs less than one per certificate, as the sections' own were)
    certs: list[Certificate | dict[str, Any]] = []
    if first is None:
        certs += _scan(norm.split("\n"), 1)
    else:
        pos = first.start()
        if norm[:pos].strip():
            # noise before the first section (echo, prompts): scanned, must hold no certificate
            certs += _scan(norm[:pos].split("\n"), 1)
        end = len(norm)
        counted_pos, counted_line = 0, 1  # line number of position counted_pos
        # the regex that read the previous section is tried first (a verbose output then never tries the
        # plain one); either gives the scanner's certificate, so the order changes the cost only
        first_try, then_try = _FAST, _FAST_V
        while pos < end:
            m = first_try.match(norm, pos)
            if m is None:
                m = then_try.match(norm, pos)
                if m is not None:
                    first_try, then_try = then_try, first_try
            if m is not None:
                try:
                    certs.append(_from_match(m))
                    pos = m.end()
                    continue
                except (ValueError, KeyError, IndexError):
                    pass  # a bad value: the scanner below names the line
            nxt = _HEADER_LINE.search(norm, pos + 1)
            stop = nxt.start() if nxt else end
            counted_line += norm.count("\n", counted_pos, pos)  # incremental: O(n) overall
            counted_pos = pos
            certs += _scan(norm[pos:stop].split("\n"), counted_line)
            pos = stop
    try:
        out: CertificatesOutput = _OUTPUT.validate_python({"certificates": certs})
    except ValidationError:
        if not fast:
            raise
        # not met: the fast path builds each field with its model type. Would a section's fields be refused,
        # the scanner reads the text and names that section (as a failed section fell back before)
        return parse_certificates(text, platform, fast=False)
    _check_complete(out.certificates)
    return out


# `CertificatesOutput(certificates=...)` without the Python of `BaseModel.__init__` around it
_OUTPUT = CertificatesOutput.__pydantic_validator__


# One regex for a whole section in the usual layout, plain or verbose (IOS-XE's order), indented by any number of
# spaces or none (IE-3100); a tab sends the section to the scanner (no capture has one).
# Every repeat and optional part is possessive (`*+`, `++`, `?+`: it never gives back what it took). What can
# follow each one cannot start with what it takes: indentation comes before a letter, a line's rest before its
# newline, and every optional line or block starts with a key of its own that nothing after it starts with (DN
# and block member lines hold no ':' or no key, the lines after them all do). So giving back could never lead
# to a match and the language is the same, while re keeps no backtrack point (and no copy of the 60 group
# marks) per character and per optional line: the verbose pattern costs 30 % fewer instructions (Python 3.11+).
_SP = r"[ \t]*+"  # section headers are found (`_HEADER_LINE`) with tabs too, as the scanner reads them
_IND = r" *+"
_EOL = r" *+\n"
_REST = r"[^\n]*+"  # the rest of a line
_HEADER_LINE = re.compile(
    r"^"
    + _SP
    + "(?:"
    + "|".join(re.escape(h) for h in sorted(HEADERS, key=len, reverse=True))
    + ")"
    + _SP
    + "$",
    re.M,
)
_HDR_ALT = "(?:" + "|".join(re.escape(h) for h in sorted(HEADERS, key=len, reverse=True)) + ")"


def _line(key: str, group: str) -> str:
    """`KEY: value` on a line of its own, the value captured whole (stripped in Python, as `_scan` strips it)."""
    return _IND + re.escape(key) + rf": (?P<{group}>{_REST})\n"


def _hex_line(key: str, group: str) -> str:
    """`KEY: 91B6C6D8 A70FD984 ...`: upper-case hex digits and spaces only (anything else: the scanner), so that
    dropping the spaces is what `_hex` makes of it."""
    return _IND + re.escape(key) + rf": (?P<{group}>[0-9A-F ]*+)\n"


def _opt(*parts: str) -> str:
    return "(?:" + "".join(parts) + ")?+"


def _block(key: str) -> str:
    """A line that only opens a block (`KEY:`, nothing after it)."""
    return _IND + re.escape(key) + ":" + _EOL


_DN_LINES = r"(?:" + _IND + r"[A-Za-z][\w.\-]*+=" + _REST + r"\n)"
# member lines of the verbose blocks, each checked in Python as `_scan` checks it (`_members`)
_MEMBER = r"(?:" + _IND + r"[A-Za-z][^\n:]*+\n)"
_AIA_MEMBER = r"(?:" + _IND + r"(?:CA ISSUERS|OCSP): " + _REST + r"\n)"


def _section_pattern(verbose: bool) -> re.Pattern[str]:
    """One regex for a whole section in the usual layout: `show crypto pki certificates`, or with `verbose`
    its verbose form in IOS-XE's order (every verbose line optional, as older images leave some out).
    Greedy `_REST` captures (trailing spaces are stripped in Python): lazy ones backtrack per char."""

    def v(*parts: str) -> str:  # verbose only
        return _opt(*parts) if verbose else ""

    return re.compile(
        _IND
        + r"(?P<hdr>"
        + _HDR_ALT
        + r")"
        + _EOL
        + _line("Status", "status")
        + v(_line("Version", "version"))
        + _IND
        + r"Certificate Serial Number \(hex\): (?P<serial>\S++)"
        + _EOL
        + _line("Certificate Usage", "usage")
        + _block("Issuer")
        + r"(?P<issuer>"
        + _DN_LINES
        + r"++)"
        + _block("Subject")
        + r"(?P<skeys>(?:"
        + _IND
        + r"(?:Name|IP Address|Serial Number): "
        + _REST
        + r"\n)*+)"
        + r"(?P<subject>"
        + _DN_LINES
        + r"*+)"
        + _opt(
            _block("CRL Distribution Points"),
            r"(?P<cdp>(?:",
            _IND,
            r"(?:https?|ldap|file|tftp|ftp)://",
            _REST,
            r"\n)++)",
        )
        + _block("Validity Date")
        + _line("start date", "start")
        + _line("end   date", "end")
        + _opt(_line("renew date", "renew"))
        + v(
            _block("Subject Key Info"),
            _line("Public Key Algorithm", "key_type"),
            _IND,
            r"(?:RSA|EC|DSA) Public Key: (?P<key_size>",
            _REST,
            r")\n",
        )
        + v(_line("Signature Algorithm", "signature_algorithm"))
        + v(_hex_line("Fingerprint MD5", "fingerprint_md5"))
        + v(_hex_line("Fingerprint SHA1", "fingerprint_sha1"))
        + v(
            _block("X509v3 extensions"),
            _opt(_hex_line("X509v3 Key Usage", "key_usage_hex"), r"(?P<key_usage>", _MEMBER, "*+)"),
            _opt(_hex_line("X509v3 Subject Key ID", "subject_key_id")),
            _opt(_block("X509v3 Basic Constraints"), _line("CA", "basic_constraints_ca")),
            _opt(_hex_line("X509v3 Authority Key ID", "authority_key_id")),
            _opt(_block("Authority Info Access"), r"(?P<aia>", _AIA_MEMBER, "*+)"),
            _opt(_IND, r"(?:X509v3 )?+Extended Key Usage:", _EOL, r"(?P<eku>", _MEMBER, "*+)"),
        )
        + v(_line("Cert install time", "install_time"))
        + v(_line("Cert install time in nsec", "install_time_ns"))
        # the last lines may end the text without a newline
        + _IND
        + r"Associated Trustpoints: (?P<tps>"
        + _REST
        + r")(?:\n|\Z)"
        + v(_IND, r"Key Label: (?P<key_label>", _REST, r")(?:\n|\Z)")
        + v(_IND, r"Key storage device: (?P<key_storage>", _REST, r")(?:\n|\Z)")
        + r"(?:"
        + _IND
        + r"Storage: (?P<storage>"
        + _REST
        + r")(?:\n|\Z))?+"
        + r"\s*+(?="
        + _IND
        + _HDR_ALT
        + _IND
        + r"(?:\n|\Z)|\Z)"  # the next section, or the end
    )


_FAST = _section_pattern(verbose=False)
_FAST_V = _section_pattern(verbose=True)
_SUBJ_LINE_KEYS = {key: _SUBJECT_FIELD[code] for key, code in SUBJECT_KEYS.items()}  # "Name" -> "name"


def _values_of(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """The groups of `pattern` whose stripped value fills one field as `_scan` converts it (`_VALUE_FIELDS`)."""
    return tuple(
        field
        for field, _convert in _VALUE_FIELDS.values()
        if field in pattern.groupindex
        and field != "serial"  # `serial` is the (hex) line's, not the old one's
    )


# `_from_match` unpacks `Match.groups()` (one C call) in the patterns' group order, named here (a test pins
# them to the patterns): a group added to a pattern must be added to its unpacking too
_PLAIN_ORDER = (
    "hdr", "status", "serial", "usage", "issuer", "skeys", "subject", "cdp", "start", "end", "renew", "tps",
    "storage",
)  # fmt: skip
_VERBOSE_ORDER = (
    "hdr", "status", "version", "serial", "usage", "issuer", "skeys", "subject", "cdp", "start", "end", "renew",
    "key_type", "key_size", "signature_algorithm", "fingerprint_md5", "fingerprint_sha1", "key_usage_hex",
    "key_usage", "subject_key_id", "basic_constraints_ca", "authority_key_id", "aia", "eku", "install_time",
    "install_time_ns", "tps", "key_label", "key_storage", "storage",
)  # fmt: skip
_BLOCK_GROUPS = frozenset({"key_usage_hex", "key_usage", "aia", "eku"})  # the verbose blocks


def _rdns_into(line: str, fields: dict[str, str]) -> None:
    """One stripped DN line into `fields` (a repeated attribute is comma-joined).

    >>> f = {"ou": "A"}; _rdns_into("hostname=R14+ipaddress=14.14.14.14", f); _rdns_into("ou = B", f); f
    {'ou': 'A,B', 'hostname': 'R14', 'ipaddress': '14.14.14.14'}
    """
    for part in _RDN_SPLIT.split(line) if "+" in line else (line,):
        attr, _, v = part.partition("=")
        attr, v = attr.strip(), v.strip()  # "CN = tpca-root" on some images
        fields[attr] = f"{fields[attr]},{v}" if attr in fields else v


def _dn_into(block: str, fields: dict[str, str]) -> str:
    """DN lines of a block -> the comma-joined DN, filling `fields` (as the scanner does).

    >>> f = {}; _dn_into("    cn=CA\\n", f), _dn_into("  c=US \\n\\to=X\\n", f), _dn_into("", f), f
    ('cn=CA', 'c=US,o=X', '', {'cn': 'CA', 'c': 'US', 'o': 'X'})
    """
    one = block.strip()
    if "\n" not in one and "+" not in one:
        # the usual DN of one line and one attribute (each line of a block holds a letter, so none strips to
        # nothing): `_rdns_into`'s work for it, inline (a call less, for each DN of each certificate)
        if one:
            attr, _, v = one.partition("=")
            attr, v = attr.strip(), v.strip()
            fields[attr] = f"{fields[attr]},{v}" if attr in fields else v
        return one
    dn = []
    for ln in block.split("\n"):
        s = ln.strip()
        if s:
            dn.append(s)
            _rdns_into(s, fields)
    return ",".join(dn)


def _members(block: str, accept: Callable[[str], object]) -> list[str] | None:
    """The member lines of a verbose block (key usages, extended key usages) as `_scan` keeps them, or None
    when one is a line `_scan` reads otherwise (a key of its own, session noise, another extension's
    header) or rejects: the scanner then decides."""
    out = []
    for ln in block.split("\n"):
        s = ln.strip()
        if not s:
            continue
        if (
            s in KEYS
            or s.startswith("X509v3 ")
            or s in _OTHER_EXTENSIONS
            or not accept(s)
            or is_noise(s, False)
        ):
            return None
        out.append(s)
    return out


# the key usage names `_members` keeps as they are (all nine; the test pins it): a set lookup per line
# instead of the checks (the checks look at the line alone, so their answer for a name never changes)
_KU_MEMBERS = frozenset(k for k in _KEY_USAGES if _members(k, _KEY_USAGES.__contains__) == [k])


def _key_usages(block: str) -> list[str] | None:
    """`_members(block, _KEY_USAGES.__contains__)`, with the per-name checks done once at import."""
    out = []
    for ln in block.split("\n"):
        s = ln.strip()
        if s:
            if s not in _KU_MEMBERS:
                return None
            out.append(s)
    return out


def _aia(block: str) -> list[str] | None:
    """`Authority Info Access:` member lines as `_scan` keeps them (None: one is session noise)."""
    out = []
    for ln in block.split("\n"):
        s = ln.strip()
        if s:
            if is_noise(s, False):
                return None
            out.append(" ".join(s.split()))
    return out


class _Fallback(ValueError):
    """A section the fast path does not read as `_scan` would: `_scan` reads it."""


def _from_match(m: re.Match[str]) -> dict[str, Any]:
    """The certificate of one `_FAST` or `_FAST_V` match, as the fields `Certificate` validates (the caller
    validates all of an output's at once): each value converted as `_scan` converts its line (`_VALUE_FIELDS`;
    spelled out, as a loop over converters costs twice as much). `_Fallback` (or the ValueError, KeyError or
    IndexError of a bad value) sends the section to the scanner."""
    verbose = m.re is _FAST_V
    if verbose:
        (
            hdr, status, version, serial, usage, issuer_b, skeys, subject_b, cdp, start_s, end_s, renew,
            key_type, key_size, signature_algorithm, md5, sha1, ku_hex, ku_b, skid, ca_flag, akid, aia_b, eku_b,
            install, install_ns, tps_s, key_label, key_storage, storage,
        ) = m.groups()  # fmt: skip
    else:
        hdr, status, serial, usage, issuer_b, skeys, subject_b, cdp, start_s, end_s, renew, tps_s, storage = (
            m.groups()
        )
    kind, rollover = HEADERS[hdr]
    start, tz = _time(start_s)
    end = _time(end_s)[0]
    status = status.strip()
    subject_fields: dict[str, str] = {}
    if skeys:
        for ln in skeys.split("\n"):
            k, sep, v = ln.strip().partition(": ")
            if sep:
                subject_fields[_SUBJ_LINE_KEYS[k]] = v.strip()
    issuer_fields: dict[str, str] = {}
    issuer = _dn_into(issuer_b, issuer_fields)
    # the pattern requires the `Subject:` line: with no DN lines under it the subject is the empty DN
    # (a pending request prints none by design and keeps None, as the scanner does)
    subject: str | None = _dn_into(subject_b, subject_fields)
    tps = tps_s.split()
    trustpool = "Trustpool" in tps
    if trustpool:
        tps.remove("Trustpool")
    cert: dict[str, Any] = {
        "section": hdr,
        "kind": CertKind.request if status == "Pending" and kind is CertKind.identity else kind,
        "rollover": rollover,
        "status": status,
        "serial": serial.upper(),
        "usage": usage.strip(),
        "issuer": issuer,
        "subject": subject or (None if status == "Pending" else ""),
        "subject_fields": subject_fields,
        "issuer_fields": issuer_fields,
        "start": start,
        "end": end,
        "tz": tz,
        "trustpoints": tps,
        "trustpool": trustpool,
    }
    if cdp:
        cert["crl_distribution_points"] = [x.strip() for x in cdp.split("\n") if x.strip()]
    if renew is not None:
        cert["renew"] = _time(renew.strip())[0]
    if storage is not None:
        cert["storage"] = storage.strip()
    if verbose:
        if version is not None:
            cert["version"] = int(version.strip())
        if key_type is not None:
            cert["key_type"] = key_type.strip()
            cert["key_size"] = _bits(key_size.strip())  # the two lines come together
        if signature_algorithm is not None:
            cert["signature_algorithm"] = signature_algorithm.strip()
        if md5 is not None:
            cert["fingerprint_md5"] = md5.replace(" ", "")  # `_hex_line`: what `_hex` gives
        if sha1 is not None:
            cert["fingerprint_sha1"] = sha1.replace(" ", "")
        if skid is not None:
            cert["subject_key_id"] = skid.replace(" ", "")
        if ca_flag is not None:
            cert["basic_constraints_ca"] = ca_flag.strip().upper() == "TRUE"
        if akid is not None:
            cert["authority_key_id"] = akid.replace(" ", "")
        if install is not None:
            cert["install_time"] = _time(install.strip())[0]
        if install_ns is not None:
            cert["install_time_ns"] = int(install_ns.strip())
        if key_label is not None:
            cert["key_label"] = key_label.strip()
        if key_storage is not None:
            cert["key_storage"] = key_storage.strip()
        if ku_hex is not None:
            cert["key_usage_hex"] = ku_hex.replace(" ", "") or None
            ku = _key_usages(ku_b)
            if ku is None:
                raise _Fallback
            cert["key_usage"] = ku
        if aia_b is not None:
            aia = _aia(aia_b)
            if aia is None:
                raise _Fallback
            cert["authority_info_access"] = aia
        if eku_b is not None:
            eku = _members(eku_b, _EKU_NAME.fullmatch)
            if eku is None:
                raise _Fallback
            cert["extended_key_usage"] = eku
    return cert


_REQUEST = (
    CertKind.request
)  # a module global: an enum member looked up on its class costs ~1,000 instructions


def _missing(c: Certificate) -> str | None:
    """What a section lacks of the lines that identify it (a cut or deleted line), or None."""
    if c.kind is _REQUEST:
        if not (c.request_fingerprint_md5 or c.request_fingerprint_sha1 or c.trustpoints):
            return "no fingerprint"
        return None
    # every installed certificate prints these (the usual case first: identity tests only, where `None in`
    # would compare each value with None)
    if (
        c.serial is not None
        and c.end is not None
        and c.start is not None
        and c.status is not None
        and c.issuer is not None
        and c.subject is not None
    ):
        return None
    for value, what in (
        (c.serial, "serial number"),
        (c.end, "validity end date"),
        (c.start, "validity start date"),
        (c.status, "Status line"),
        (c.issuer, "issuer name"),
        # the DN lines (every capture prints them, after any Name: lines); without this check a
        # deleted `Subject:` line would move the subject DN into the issuer
        (c.subject, "subject name"),
    ):
        if value is None:
            return f"no {what}"
    return None


def _complete(c: Certificate, header: str, lineno: int) -> Certificate:
    """`c`, or a ParseError naming its section's header line when it lacks an identifying line."""
    missing = _missing(c)
    if missing:
        kind = "pending request section" if c.kind is CertKind.request else "section"
        raise ParseError(COMMAND, f"{kind} {c.section!r} has {missing} (truncated output?)", header, lineno)
    return c


def _check_complete(certs: list[Certificate]) -> None:
    """A section without its identifying lines is a truncated or foreign output (the scanner
    names the header line; this is the net under both paths)."""
    for c in certs:
        missing = _missing(c)
        if missing:
            raise ParseError(COMMAND, f"section {c.section!r} has {missing} (truncated output?)")
