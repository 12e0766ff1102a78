"""The certificate server: `show crypto pki server [NAME]`, `... NAME requests`,
`... NAME certificates` and `... NAME crl`."""

from __future__ import annotations

import re
from datetime import datetime

from iospki.models import (
    CAServer,
    Crl,
    EnrollmentRequest,
    IssuedCertificate,
    IssuedCertificatesOutput,
    RequestsOutput,
    RevokedEntry,
    ServersOutput,
)

from .base import ParseError, register
from .ios_time import TimeFormatError, parse_ios_time
from .lines import (
    check_placed,
    compile_all,
    compile_rules,
    device_lines,
    is_empty,
    stripped_text,
    verify_landed,
)
from .noise import normalize
from .ttp_runner import as_list, run_template

SERVER = "show crypto pki server"
REQUESTS = "show crypto pki server requests"
ISSUED = "show crypto pki server certificates"
CRL = "show crypto pki server crl"

_T = r"\d{1,2}:\d\d:\d\d(?:\.\d+)? \S+ (?:[A-Z][a-z]{2} )?[A-Z][a-z]{2} +\d{1,2} \d{4}"
_SERVER_HEAD = re.compile(r"Certificate Server (\S+?):")
_SERVER_RULES = compile_rules(
    (_SERVER_HEAD.pattern, ("name",)),
    (r"Status: [^,]+", ("status",)),
    (r"Status: [^,]+, .+", ("status", "status_reason")),
    (r"State: .+", ("state",)),
    (r"Server's configuration is (?:locked|unlocked)\b.*", ("lock",)),
    (r"Issuer name: .+", ("issuer",)),
    (r"CA cert fingerprint: [0-9A-Fa-f ]+", ("ca_fingerprint",)),
    (r"Upper CA cert fingerprint: [0-9A-Fa-f ]+", ("upper_ca_fingerprint",)),
    (r"RA cert fingerprint: [0-9A-Fa-f ]+", ("ra_fingerprint",)),
    (r"Server configured in .+ mode", ("mode",)),
    (r"Granting mode is: .+", ("grant_mode",)),
    (r"Last certificate issued serial number \(hex\): [0-9A-Fa-f]+", ("last_serial",)),
    (r"Last certificate issued serial number: 0x[0-9A-Fa-f]+", ("last_serial",)),  # 12.4T
    (rf"CA certificate expiration timer: {_T}", ("ca_expires",)),
    (rf"CRL NextUpdate timer: {_T}", ("crl_next_update",)),
    (r"Current primary storage dir: .+", ("storage_dir",)),
    (r"Current storage dir: .+", ("storage_dir",)),  # 12.4T
    (r"Current storage dir for \.crl files: .+", ("crl_storage_dir",)),
    (r"Database Level: \w+\b.*", ("database_level",)),
    (r"Rollover status: .+", ("rollover_status",)),
    (r"Rollover CA cert(?:ificate)? fingerprint: [0-9A-Fa-f ]+", ("rollover_fingerprint",)),
    (rf"Rollover CA cert(?:ificate)? expiration time: {_T}", ("rollover_expires",)),
    (r"Auto-Rollover configured, overlap period \d+ days", ("auto_rollover_days",)),
    (rf"Autorollover timer: {_T}", ("autorollover_at",)),
)
_SERVER_GRAMMAR = tuple(rx for rx, _ in _SERVER_RULES)


def _fp(val: str | None) -> str | None:
    return "".join(val.split()).upper() if val else None


class _Times:
    """Parses IOS times of one output, remembering the zone name printed with them."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.tz: str | None = None

    def __call__(self, val: str | None) -> datetime | None:
        if not val:
            return None
        try:
            when, tz = parse_ios_time(val)
        except TimeFormatError as exc:
            raise ParseError(self.command, str(exc), val) from None
        self.tz = self.tz or tz
        return when


# Fast path: servers in the usual layout (each line optional, in the order IOS prints them,
# values starting and ending with a non-blank, no noise or blank line inside a block) are read by
# one `match` of `_FAST_SERVER` per server, without TTP. A record that misses a line a running CA
# always prints, or anything else, goes to the strict path, which names the line.
_V = r"\S(?:[^\n]*\S)?"  # a value as TTP captures it from a stripped line
_HEX_WORDS = r"[0-9A-Fa-f]+(?: [0-9A-Fa-f]+)*"


def _line(body: str) -> str:
    return rf"(?:[ \t]*{body}[ \t]*\n)?"


_FAST_SERVER = re.compile(
    r"[ \t]*Certificate Server (?P<name>\S+?):[ \t]*\n"
    + _line(rf"Status: (?P<status>[^,\s]+(?: [^,\s]+)*)(?:, (?P<status_reason>{_V}))?")
    + _line(rf"State: (?P<state>{_V})")
    + _line(r"Server's configuration is (?P<lock>locked|unlocked)(?: [^\n]*)?")
    + _line(rf"Issuer name: (?P<issuer>{_V})")
    + _line(rf"Upper CA cert fingerprint: (?P<upper_ca_fingerprint>{_HEX_WORDS})")
    + _line(rf"CA cert fingerprint: (?P<ca_fingerprint>{_HEX_WORDS})")
    + _line(r"Server configured in (?P<mode>\S+) mode")
    + _line(rf"RA cert fingerprint: (?P<ra_fingerprint>{_HEX_WORDS})")
    + _line(rf"Granting mode is: (?P<grant_mode>{_V})")
    + _line(
        r"Last certificate issued serial number (?:\(hex\): (?P<last_serial>[0-9A-Fa-f]+)"
        r"|: 0x(?P<last_serial_0x>[0-9A-Fa-f]+))"
    )
    + _line(rf"CA certificate expiration timer: (?P<ca_expires>{_T})")
    + _line(rf"CRL NextUpdate timer: (?P<crl_next_update>{_T})")
    + _line(rf"Current (?:primary )?storage dir: (?P<storage_dir>{_V})")
    + _line(rf"Current storage dir for \.crl files: (?P<crl_storage_dir>{_V})")
    + _line(r"Database Level: (?P<database_level>\w+)(?: [^\n]*)?")
    + _line(rf"Rollover status: (?P<rollover_status>{_V})")
    + _line(rf"Rollover CA cert(?:ificate)? fingerprint: (?P<rollover_fingerprint>{_HEX_WORDS})")
    + _line(rf"Rollover CA cert(?:ificate)? expiration time: (?P<rollover_expires>{_T})")
    + _line(r"Auto-Rollover configured, overlap period (?P<auto_rollover_days>\d+) days")
    + _line(rf"Autorollover timer: (?P<autorollover_at>{_T})")
    + r"(?:[ \t]*\n)*"  # blank lines between servers and at the end
)


def _fast_server(text: str) -> ServersOutput | None:
    """Every server of `text` read by `_FAST_SERVER`, or None: the strict path decides."""
    norm = normalize(text) + "\n"
    pos = len(norm) - len(norm.lstrip())
    if pos == len(norm):
        return None
    servers: list[CAServer] = []
    while pos < len(norm):
        m = _FAST_SERVER.match(norm, pos)
        if m is None:
            return None
        rec = {k: v for k, v in m.groupdict().items() if v is not None}
        if "last_serial_0x" in rec:
            rec["last_serial"] = rec.pop("last_serial_0x")
        if len(rec) < 2 or _missing_lines(rec):
            return None  # a server without lines, or a cut one: the strict path names it
        try:
            servers.append(_server(rec))
        except ParseError:
            return None
        pos = m.end()
    return ServersOutput(servers=servers)


@register(r"(?:show|sh) crypto pki server(?: \S+)?")
def parse_server(text: str, platform: str | None = None, *, fast: bool = True) -> ServersOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast_server(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    if is_empty(lines):
        return ServersOutput()
    check_placed(SERVER, lines, _SERVER_GRAMMAR)
    first = next(ln for ln in lines if ln.strip())
    if not _SERVER_HEAD.fullmatch(first.strip()):
        raise ParseError(SERVER, "output does not start with 'Certificate Server NAME:'", first, 1)
    names = [m[1] for ln in lines if (m := _SERVER_HEAD.fullmatch(ln.strip()))]
    raw = run_template("server", stripped_text(lines))
    blocks: list[list[str]] = []
    starts: list[int] = []
    for no, ln in enumerate(lines, 1):
        if _SERVER_HEAD.fullmatch(ln.strip()):
            blocks.append([])
            starts.append(no)
        if blocks:
            blocks[-1].append(ln)
    raw_servers = as_list(raw.get("servers"))
    if [s.get("name") for s in raw_servers] != names:
        raise ParseError(SERVER, f"placed {len(raw_servers)} of {len(names)} servers")
    for block, start, rec in zip(blocks, starts, raw_servers, strict=True):
        verify_landed(SERVER, block, _SERVER_RULES, rec, start)
        if sum(1 for ln in block if ln.strip()) < 2:  # every server prints lines under its name
            raise ParseError(
                SERVER, f"server {rec['name']!r} has no lines (truncated output?)", block[0], start
            )
    for block, start, rec in zip(blocks, starts, raw_servers, strict=True):
        _check_server_complete(rec, block[0], start)
    return ServersOutput(servers=[_server(s) for s in raw_servers])


def _server(s: dict[str, str]) -> CAServer:
    """One server's record (TTP's or the fast path's: the same keys) as a model."""
    t = _Times(SERVER)
    mode = s.get("mode")
    return CAServer(
        name=s["name"],
        status=s.get("status"),
        status_reason=s.get("status_reason"),
        state=s.get("state"),
        locked={"locked": True, "unlocked": False}.get(s.get("lock", "")),
        issuer=s.get("issuer"),
        ca_fingerprint=_fp(s.get("ca_fingerprint")),
        grant_mode=s.get("grant_mode"),
        last_serial=s.get("last_serial"),
        ca_expires=t(s.get("ca_expires")),
        crl_next_update=t(s.get("crl_next_update")),
        storage_dir=s.get("storage_dir"),
        crl_storage_dir=s.get("crl_storage_dir"),
        database_level=s["database_level"].lower() if s.get("database_level") else None,
        auto_rollover_days=int(s["auto_rollover_days"]) if s.get("auto_rollover_days") else None,
        autorollover_at=t(s.get("autorollover_at")),
        rollover_status=s.get("rollover_status"),
        rollover_fingerprint=_fp(s.get("rollover_fingerprint")),
        rollover_expires=t(s.get("rollover_expires")),
        ra_mode=bool(mode and mode.upper() == "RA"),
        mode=mode.lower() if mode else None,
        ra_fingerprint=_fp(s.get("ra_fingerprint")),
        upper_ca_fingerprint=_fp(s.get("upper_ca_fingerprint")),
        tz=t.tz,
    )


def _check_server_complete(rec: dict[str, str], head: str, lineno: int) -> None:
    """Lines every real capture of a running CA prints together: a missing one is a cut or
    deleted line, and reading on would report a server without its expiry or CRL times as
    fine. Kept to what the captures show: an RA-mode server prints no CA timers, one capture
    of one has no Status line, and a disabled server may not print its grant mode, so each
    rule keys on a line that implies the other."""
    missing = _missing_lines(rec)
    if missing:
        raise ParseError(
            SERVER,
            f"server {rec['name']!r} has no {', '.join(missing)} line (truncated output?)",
            head,
            lineno,
        )


def _missing_lines(rec: dict[str, str]) -> list[str]:
    """The lines `_check_server_complete` requires that `rec` lacks."""
    missing = []
    if not (rec.get("status") or "").startswith("disabled") and not rec.get("grant_mode"):
        missing.append("'Granting mode is:'")
    if rec.get("last_serial"):  # a CA that issued certificates has a CA certificate and a CRL
        missing += [
            f"'{label}'"
            for key, label in (
                ("ca_expires", "CA certificate expiration timer"),
                ("crl_next_update", "CRL NextUpdate timer"),
            )
            if not rec.get(key)
        ]
    if not rec.get("status") and (rec.get("ca_expires") or rec.get("crl_next_update")):
        missing.append("'Status:'")
    return missing


_ROW = r"\d+\s+\S+\s+[0-9A-Fa-f]{32}(?:\s+.*)?"
_REQ_GRAMMAR = compile_all(
    r"Enrollment Request Database:",
    r"(?:Subordinate CA|RA|Router) certificates? requests:",
    r"ReqID\s+State\s+Fingerprint\s+SubjectName",
    r"-{10,}",
    _ROW,
)
_SECTION = {"subordinate ca": "subordinate-ca", "ra": "ra", "router": "router"}


# Fast path: the usual layout (the database line, then each table's name, column header and rule
# followed by its rows; blank lines between tables) proved by one fullmatch, read by one finditer.
_FAST_TABLE = (
    r"[ \t]*(?:Subordinate CA|RA|Router) certificates? requests:[ \t]*\n"
    r"[ \t]*ReqID +State +Fingerprint +SubjectName[ \t]*\n"
    r"[ \t]*-{10,}[ \t]*\n"
    r"(?:[ \t]*\d+ +\S+ +[0-9A-Fa-f]{32}(?: +[^\n]*)?\n)*"
)
_FAST_REQUESTS = re.compile(rf"\s*(?:[ \t]*Enrollment Request Database:[ \t]*\n)?(?:\s*{_FAST_TABLE})+\s*")
_FAST_REQ_LINE = re.compile(
    r"^[ \t]*(?:(?P<table>Subordinate CA|RA|Router) certificates? requests:"
    r"|(?P<req_id>\d+) +(?P<state>\S+) +(?P<fp>[0-9A-Fa-f]{32})(?: +(?P<subject>[^\n]*))?$)",
    re.M,
)


def _request(
    section: str, req_id: str, state: str, fingerprint: str, subject: str | None
) -> EnrollmentRequest:
    return EnrollmentRequest(
        section=section,
        req_id=int(req_id),
        state=state,
        fingerprint=fingerprint.upper(),
        subject=(subject or "").strip() or None,
    )


def _fast_requests(text: str) -> RequestsOutput | None:
    """The tables of `text` read in C (see `_FAST_REQUESTS`), or None: the strict path decides."""
    norm = normalize(text) + "\n"
    if _FAST_REQUESTS.fullmatch(norm) is None:
        return None
    reqs: list[EnrollmentRequest] = []
    section = ""
    for m in _FAST_REQ_LINE.finditer(norm):
        if m["table"] is not None:
            section = _SECTION[m["table"].lower()]
        else:
            reqs.append(_request(section, m["req_id"], m["state"], m["fp"], m["subject"]))
    return RequestsOutput(requests=reqs)


@register(r"(?:show|sh) crypto pki server \S+ requests")
def parse_requests(text: str, platform: str | None = None, *, fast: bool = True) -> RequestsOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast_requests(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    if is_empty(lines):
        return RequestsOutput()
    check_placed(REQUESTS, lines, _REQ_GRAMMAR)
    expected = sum(1 for ln in lines if re.fullmatch(_ROW, ln.strip()))
    if not any(_REQ_GRAMMAR[1].fullmatch(ln.strip()) for ln in lines):
        raise ParseError(REQUESTS, "no request table header found", lines[0], 1)
    raw = run_template("server_requests", stripped_text(lines))
    reqs: list[EnrollmentRequest] = []
    for table in as_list(raw.get("tables")):
        section = _SECTION.get(table["table"].split(" certificate")[0].lower())
        if section is None:
            raise ParseError(REQUESTS, "unknown request table", table["table"])
        for row in as_list(table.get("rows")):
            reqs.append(
                _request(section, row["req_id"], row["state"], row["fingerprint"], row.get("subject"))
            )
    if len(reqs) != expected:
        raise ParseError(
            REQUESTS, f"placed {len(reqs)} of {expected} request lines (a row before its table header?)"
        )
    return RequestsOutput(requests=reqs)


_ISSUED_ROW = rf"[0-9A-Fa-f]+\s+{_T}\s+{_T}(?:\s+.*)?"
_ISSUED_GRAMMAR = compile_all(r"Serial\s+Issued date\s+Expire date\s+Subject Name", _ISSUED_ROW)


# Fast path: the table in the layout IOS prints (one header, then rows of serial, two times and a subject,
# blanks between the fields) read by one regex in C, without TTP. Times and rows are narrowed to what the
# TTP template itself matches (no fraction, no weekday; a subject present), so every row read here is one
# the strict path reads the same way; `_issued_model` builds the model for both paths. Anything else
# (noise, an echo, a row without a subject, a tab) goes to the strict path, which names the line.
_TTP_T = r"\d{1,2}:\d\d:\d\d [^\s]+ [A-Z][a-z]{2} +\d{1,2} \d{4}"  # the template's time (`server_certificates.ttp`)
_FAST_ISSUED_ROW = re.compile(
    rf"[ ]*+(?P<serial>[0-9A-Fa-f]++) ++(?P<issued>{_TTP_T}) ++(?P<expires>{_TTP_T}) ++(?P<subject>[^\s](?:[^\n]*[^\s])?)[ ]*(?:\n|\Z)"
)
_FAST_ISSUED = re.compile(
    rf"\n*+[ ]*+Serial +Issued date +Expire date +Subject Name[ ]*+\n(?P<rows>(?:{_FAST_ISSUED_ROW.pattern})*+)\s*+"
)


def _issued_model(rows: list[dict[str, str]]) -> IssuedCertificatesOutput:
    """The model of the table rows (TTP's fields as strings), for the fast and the strict path alike."""
    certs: list[IssuedCertificate] = []
    for row in rows:
        t = _Times(ISSUED)
        certs.append(
            IssuedCertificate(
                serial=row["serial"].upper(),
                issued=t(row["issued"]),
                expires=t(row["expires"]),
                tz=t.tz,
                subject=(row.get("subject") or "").strip() or None,
            )
        )
    return IssuedCertificatesOutput(certificates=certs)


def _fast_issued(text: str) -> IssuedCertificatesOutput | None:
    """The table in its usual layout (`_FAST_ISSUED`), or None: the strict path decides."""
    m = _FAST_ISSUED.fullmatch(normalize(text))
    if m is None:
        return None
    return _issued_model([r.groupdict() for r in _FAST_ISSUED_ROW.finditer(m["rows"])])


@register(r"(?:show|sh) crypto pki server \S+ certificates")
def parse_issued(text: str, platform: str | None = None, *, fast: bool = True) -> IssuedCertificatesOutput:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast_issued(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    if is_empty(lines):
        return IssuedCertificatesOutput()
    check_placed(ISSUED, lines, _ISSUED_GRAMMAR)
    expected = sum(1 for ln in lines if re.fullmatch(_ISSUED_ROW, ln.strip()))
    raw = run_template("server_certificates", stripped_text(lines))
    out = _issued_model(as_list(raw.get("rows")))  # a bad time is named before a count that does not add up
    if len(out.certificates) != expected:
        raise ParseError(ISSUED, f"placed {len(out.certificates)} of {expected} certificate lines")
    return out


_CRL_GRAMMAR = compile_all(
    r"Certificate Revocation List:",
    r"Issuer: .+",
    rf"This Update: {_T}",
    rf"Next Update: {_T}",
    r"Number of CRL entries: \d+",
    r"CRL size: \d+ bytes",
    r"Serial Number \(hex\): [0-9A-Fa-f]+",
    rf"Revocation Date: {_T}",
)
_CRL_RULES = tuple(
    zip(
        _CRL_GRAMMAR[1:6],
        [("issuer",), ("this_update",), ("next_update",), ("entries",), ("size_bytes",)],
        strict=True,
    )
)


_CRL_REQUIRED = (("issuer", "Issuer"), ("this_update", "This Update"), ("next_update", "Next Update"))


# Fast path: the CRL in the layout IOS prints (the header, the five lines in order, then serial/date pairs)
# read by one regex in C, without TTP; values as TTP takes them from the stripped lines, times as the
# grammar's. `_crl_model` builds the model and makes the count checks for both paths. Anything else
# (an echo, noise, a line out of order, a tab) goes to the strict path, which names the line.
_FAST_CRL = re.compile(
    r"\n*+[ ]*+Certificate Revocation List:[ ]*+\n"
    r"[ ]*+Issuer: (?P<issuer>[^\s](?:[^\n]*[^\s])?)[ ]*\n"
    rf"[ ]*+This Update: (?P<this_update>{_T})[ ]*+\n"
    rf"[ ]*+Next Update: (?P<next_update>{_T})[ ]*+\n"
    r"[ ]*+Number of CRL entries: (?P<entries>\d++)[ ]*+\n"
    r"[ ]*+CRL size: (?P<size_bytes>\d++) bytes[ ]*+(?:\n|\Z)"
    rf"(?P<revoked>(?:[ ]*+Serial Number \(hex\): [0-9A-Fa-f]++[ ]*+\n[ ]*+Revocation Date: {_T}[ ]*+(?:\n|\Z))*+)"
    r"\s*+"
)
_FAST_REVOKED = re.compile(rf"Serial Number \(hex\): (?P<serial>[0-9A-Fa-f]++)[ ]*+\n[ ]*+Revocation Date: (?P<revoked_at>{_T})")


def _crl_model(c: dict[str, object], serials: int, last: str, lineno: int) -> Crl:
    """The model of one CRL block (TTP's fields as strings), for the fast and the strict path alike;
    `serials`: the serial lines of the output (each must be placed); `last`, `lineno`: the line to name."""
    missing = [label for key, label in _CRL_REQUIRED if not c.get(key)]
    if missing:  # every CRL prints these: a header alone is a cut-off output, not an empty CRL
        raise ParseError(CRL, f"CRL without {', '.join(missing)} (truncated output?)", last, lineno)
    t = _Times(CRL)
    revoked = [
        RevokedEntry(serial=str(r["serial"]).upper(), revoked_at=t(r.get("revoked_at")))
        for r in as_list(c.get("revoked"))
    ]
    if len(revoked) != serials:
        raise ParseError(CRL, f"placed {len(revoked)} of {serials} revoked entries")
    entries = c.get("entries")
    if entries and int(str(entries)) != len(revoked):
        raise ParseError(
            CRL, f"the CRL has {entries} entries but {len(revoked)} are listed (truncated output?)"
        )
    size = c.get("size_bytes")
    return Crl(
        issuer=_str(c.get("issuer")),
        this_update=t(_str(c.get("this_update"))),
        next_update=t(_str(c.get("next_update"))),
        entries=int(str(entries)) if entries else None,
        size_bytes=int(str(size)) if size else None,
        revoked=revoked,
        tz=t.tz,
    )


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _fast_crl(text: str) -> Crl | None:
    """The CRL in its usual layout (`_FAST_CRL`), or None: the strict path decides."""
    m = _FAST_CRL.fullmatch(normalize(text))
    if m is None:
        return None
    c: dict[str, object] = m.groupdict()
    rows = [r.groupdict() for r in _FAST_REVOKED.finditer(m["revoked"])]
    c["revoked"] = rows
    try:
        return _crl_model(c, len(rows), "", 0)
    except ParseError:
        return None  # e.g. a count that does not add up: the strict path names it


@register(r"(?:show|sh) crypto pki server \S+ crl")
def parse_server_crl(text: str, platform: str | None = None, *, fast: bool = True) -> Crl:
    """`fast=False` skips the fast path (the tests compare both)."""
    if fast:
        quick = _fast_crl(text)
        if quick is not None:
            return quick
    lines = device_lines(text)
    check_placed(CRL, lines, _CRL_GRAMMAR)
    heads = sum(1 for ln in lines if _CRL_GRAMMAR[0].fullmatch(ln.strip()))
    if heads != 1:
        raise ParseError(
            CRL, f"expected one 'Certificate Revocation List:' header, found {heads}", lines[0], 1
        )
    serials = sum(1 for ln in lines if _CRL_GRAMMAR[6].fullmatch(ln.strip()))
    raw = run_template("server_crl", stripped_text(lines))
    crls = as_list(raw.get("crl"))
    if len(crls) != 1:
        raise ParseError(CRL, "no CRL block found", lines[0], 1)
    c = crls[0]
    verify_landed(CRL, lines, _CRL_RULES, c)
    return _crl_model(c, serials, lines[-1], len(lines))
