"""The PKI part of `show running-config` / `show startup-config` (also `| section crypto
pki` and similar filters) into `RunningConfig`.

Why a line-oriented state machine and not TTP: IOS config is a list of column-0 commands
with indented children, so the block structure is one `startswith(" ")` test away; what
TTP would add (regex capture) is a `split()` here, while TTP would silently drop the lines
this parser must act on: the hex dump of `crypto pki certificate chain` (skipped, but
anything else inside a chain is an error), `banner` bodies (skipped to their delimiter),
and text that is not a config at all (rejected naming the first such line). Password
values are never stored and never quoted in errors (lines with a password are redacted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from iospki.models import RunningConfig

from .base import ParseError, register
from .noise import is_noise, normalize, split_lines

COMMAND = "show running-config"

# hex words separated by blanks; possessive quantifiers and no nested repeat, so one bad
# character fails in linear time (`(?:[0-9A-F]{2,8}\s*)+` backtracked exponentially)
_HEX_LINE = re.compile(r"[0-9A-Fa-f]{2,}+(?:\s++[0-9A-Fa-f]{2,}+)*+\s*+")
_CHAIN_KINDS = {
    (): "certificate",
    ("self-signed",): "self-signed",
    ("ca",): "ca",
    ("rollover",): "rollover",
    ("ca", "rollover"): "ca-rollover",
}
# lines a config printout starts with, or that only a config has
_PREAMBLE = re.compile(
    r"Building configuration\.\.\.|Current configuration ?: ?\d+ bytes|Using \d+ out of \d+ bytes.*"
    r"|Load for five secs: .*|(?:Time source is [\w ]+|No time source), .*"
)
_ANCHORS = ("!", "end", "version ", "hostname ", "crypto ", "interface ", "ip ", "ntp ", "clock ", "service ")
_COMMAND_WORD = re.compile(r"[a-z0-9][a-z0-9\-_.]*")


def _redact(line: str) -> str:
    """A config line fit for an error message: any secret after `password`/`secret` removed."""
    return re.sub(r"\b(password|secret|key)\b.*", r"\1 <redacted>", line)


def _lifetime(args: list[str], unit: str) -> timedelta:
    """`lifetime certificate 365 [H [M]]` (days first) or `lifetime crl 24 [M]` (hours first)."""
    nums = [int(a) for a in args]
    if unit == "days":
        if not 1 <= len(nums) <= 3:
            raise ValueError("expected <days> [<hours> [<minutes>]]")
        d, h, m = (nums + [0, 0])[:3]
        return timedelta(days=d, hours=h, minutes=m)
    if not 1 <= len(nums) <= 2:
        raise ValueError("expected <hours> [<minutes>]")
    h, m = (nums + [0])[:2]
    return timedelta(hours=h, minutes=m)


def _server_setting(srv: dict[str, Any], words: list[str]) -> None:
    w0 = words[0]
    rest = words[1:]
    if w0 == "no":
        if rest == ["shutdown"]:
            srv["shutdown"] = False
        elif rest[:2] == ["database", "archive"]:
            srv["database_archive"] = None
        return
    if w0 == "shutdown":
        srv["shutdown"] = True
    elif w0 == "database" and rest:
        if rest[0] == "level" and len(rest) > 1:
            srv["database_level"] = rest[1]
        elif rest[0] == "url" and len(rest) > 1:
            srv["database_url"] = " ".join(rest[1:])
        elif rest[0] == "archive" and len(rest) > 1:
            srv["database_archive"] = rest[1]
            srv["database_archive_password_set"] = "password" in rest
    elif w0 == "issuer-name" and rest:
        srv["issuer_name"] = " ".join(rest)
    elif w0 == "grant" and rest:
        if rest[:2] == ["auto", "rollover"] and len(rest) > 2:
            srv.setdefault("grant_auto_rollover", []).append(rest[2])
        else:
            srv["grant"] = " ".join(rest)
    elif w0 == "lifetime" and len(rest) >= 2:
        what, args = rest[0], rest[1:]
        if what == "certificate":
            srv["lifetime_certificate"] = _lifetime(args, "days")
        elif what == "ca-certificate":
            srv["lifetime_ca_certificate"] = _lifetime(args, "days")
        elif what == "crl":
            srv["lifetime_crl"] = _lifetime(args, "hours")
        elif what == "enrollment-request":
            srv["lifetime_enrollment_request"] = _lifetime(args, "hours")
    elif w0 == "auto-rollover":
        srv["auto_rollover"] = _lifetime(rest, "days") if rest else timedelta(days=30)
    elif w0 == "hash" and rest:
        srv["hash"] = rest[0]
    elif w0 == "cdp-url" and rest:
        srv["cdp_url"] = " ".join(rest)
    elif w0 == "mode" and rest:
        srv["mode"] = rest[0]


def _trustpoint_setting(tp: dict[str, Any], words: list[str]) -> None:
    w0 = words[0]
    rest = words[1:]
    if w0 == "enrollment" and rest:
        if rest[0] == "url" and len(rest) > 1:
            tp["enrollment_url"] = rest[1]
        elif rest[0] == "mode" and len(rest) > 1:
            tp["enrollment_mode"] = rest[1]
        elif rest[0] == "retry" and len(rest) > 2:
            if rest[1] == "count":
                tp["enrollment_retry_count"] = int(rest[2])
            elif rest[1] == "period":
                tp["enrollment_retry_period"] = int(rest[2])
        elif rest[0] in ("selfsigned", "terminal", "profile", "pkcs12"):
            tp["enrollment_mode"] = rest[0]
    elif w0 == "serial-number":
        tp["serial_number"] = rest[0] if rest else ""
    elif w0 == "ip-address" and rest:
        tp["ip_address"] = " ".join(rest)
    elif w0 == "fqdn" and rest:
        tp["fqdn"] = rest[0]
    elif w0 == "subject-name" and rest:
        tp["subject_name"] = " ".join(rest)
    elif w0 == "revocation-check":
        tp["revocation_check"] = rest
    elif w0 == "rsakeypair" and rest:
        tp["rsakeypair"] = rest[0]
        if len(rest) > 1:
            tp["rsakeypair_size"] = int(rest[1])
    elif w0 == "auto-enroll":
        tp["auto_enroll"] = True
        for a in rest:
            if a == "regenerate":
                tp["auto_enroll_regenerate"] = True
            else:
                tp["auto_enroll_percent"] = int(a)
    elif w0 == "password":
        tp["password_set"] = True  # the value is never kept
    elif w0 == "hash" and rest:
        tp["hash"] = rest[0]
    elif w0 == "no" and rest == ["auto-enroll"]:
        tp["auto_enroll"] = False


# block kind -> its list in RunningConfig; each block stays a dict until the one `RunningConfig.model_validate`
# at the end validates them all (one call into pydantic instead of one a block and one a chain certificate)
_BLOCK_LISTS = {"server": "servers", "trustpoint": "trustpoints", "chain": "chains"}


@register(
    r"(?:show|sh) (?:running-config|running|run|startup-config|start)(?: .*)?",
    r"more system:running-config(?: .*)?",
)
def parse_running_config(text: str, platform: str | None = None, *, fast: bool = True) -> RunningConfig:
    """Parse the PKI-relevant part of a running or startup configuration. `fast=False` skips the fast
    path (the tests compare both)."""
    if fast:
        quick = _fast(text)
        if quick is not None:
            return quick
    return _read(enumerate(split_lines(text), 1))


def _read(numbered: Iterable[tuple[int, str]], proved: bool = False) -> RunningConfig:
    """The line state machine over (line number, line) pairs: the strict path over every line, the fast
    path (`_fast`) over the lines that can change the model (`proved`: see below)."""
    # `proved`: the fast path's regexes have shown what this loop would check on each column-0 line it is
    # given (`_fast`): the first command and an anchor line came before, and none of them is a `!` comment,
    # noise, preamble, error (`%`) or banner line; each is a lower-case command word followed by a blank.
    # So the loop starts as after the first command and an anchor, and skips those tests.
    seen, anchors = proved, int(proved)
    cfg: dict[str, Any] = {"ntp_servers": [], "servers": [], "trustpoints": [], "chains": []}
    block: str | None = None  # "server", "trustpoint", "chain", "other"
    current: dict[str, Any] = {}
    banner_end: str | None = None
    for lineno, raw in numbered:
        if banner_end is not None:
            if banner_end in raw:
                banner_end = None
            continue
        line = raw.rstrip()
        s = line.strip()
        if not s:
            continue
        indented = line[0] in " \t"
        if indented and block == "chain" and not proved and _HEX_LINE.fullmatch(s):
            continue  # most of a config's lines: the chain's hex dump (what the branch below accepts; `_fast` took
            # the dump out of the picked lines)
        words = s.split()
        try:
            if indented or (block == "chain" and words[0] in ("certificate", "quit")):
                # a child line of the open block
                if block == "server":
                    _server_setting(current, words)
                elif block == "trustpoint":
                    _trustpoint_setting(current, words)
                elif block == "chain":
                    if words[0] == "certificate":
                        kind = _CHAIN_KINDS.get(tuple(words[1:-1]))
                        if kind is None or len(words) < 2:
                            raise ValueError("unknown certificate entry")
                        current["certificates"].append({"serial": words[-1].upper(), "kind": kind})
                    elif s != "quit" and not _HEX_LINE.fullmatch(s):
                        raise ValueError("not a certificate hex dump line")
                elif block is None and not seen:
                    if is_noise(s, True) or _PREAMBLE.fullmatch(s):
                        continue
                    raise ValueError("indented line before any config command")
                continue
            # a column-0 line closes the open block
            if block in _BLOCK_LISTS:
                cfg[_BLOCK_LISTS[block]].append(current)
            block, current = None, {}
            if not proved:
                if s[0] == "!":
                    anchors += 1
                    continue
                if _PREAMBLE.fullmatch(s) or is_noise(s, not seen):
                    anchors += s.startswith(("Building", "Current", "Using"))
                    continue
                if s[0] == "%":
                    raise ParseError(COMMAND, "the device reported an error", _redact(raw), lineno)
                if not _COMMAND_WORD.fullmatch(words[0]):
                    raise ValueError("not a configuration command")
                seen = True
                anchors += (s + " ").startswith(_ANCHORS)
            w0, rest = words[0], words[1:]
            if w0 == "crypto" and rest[:1] == ["pki"] and len(rest) >= 3:
                if rest[1] == "server":
                    # IOS prints ` shutdown` for a stopped server and nothing for a running one
                    # (the cs-server `show` of an enabled CS lists no shutdown line, behaviour doc
                    # §3.4); a pasted ` no shutdown` is read too
                    block, current = "server", {"name": rest[2], "shutdown": False}
                elif rest[1] == "trustpoint":
                    block, current = "trustpoint", {"name": rest[2]}
                elif rest[1:3] == ["certificate", "chain"] and len(rest) >= 4:
                    block, current = "chain", {"trustpoint": rest[3], "certificates": []}
                else:
                    block = "other"
            elif w0 == "hostname" and rest:
                cfg["hostname"] = rest[0]
            elif w0 == "ip" and rest:
                _ip_setting(cfg, rest)
            elif w0 == "no" and rest[:2] == ["ip", "http"]:
                if rest[2:] == ["server"]:
                    cfg["ip_http_server"] = False
                elif rest[2:] == ["secure-server"]:
                    cfg["ip_http_secure_server"] = False
            elif w0 == "clock" and rest:
                if rest[0] == "calendar-valid":
                    cfg["clock_calendar_valid"] = True
                elif rest[0] == "timezone" and len(rest) > 1:
                    cfg["clock_timezone"] = " ".join(rest[1:])
            elif w0 == "ntp" and rest:
                if rest[0] == "server":
                    args = rest[1:]
                    if args[:1] == ["vrf"]:
                        args = args[2:]
                    if args[:1] in (["ip"], ["ipv6"]):
                        args = args[1:]
                    if not args:
                        raise ValueError("ntp server without an address")
                    cfg["ntp_servers"].append(args[0])
                elif rest[0] == "master":
                    cfg["ntp_master"] = True
            elif w0 == "banner" and len(rest) >= 2:
                # banner <type> <delim>text<delim>; the body may span lines
                body = s.split(None, 2)[2]
                delim = body[:2] if body.startswith("^C") else body[0]
                if delim not in body[len(delim) :]:
                    banner_end = delim
            else:
                block = "other"
        except ParseError:
            raise
        except (ValueError, IndexError) as exc:
            raise ParseError(COMMAND, str(exc) or "bad value", _redact(raw), lineno) from None
    if block in _BLOCK_LISTS:
        cfg[_BLOCK_LISTS[block]].append(current)
    if not seen or anchors == 0:
        raise ParseError(COMMAND, "no configuration commands found (not a config?)")
    return RunningConfig.model_validate(cfg)


# Fast path: most of a config is lines the model never reads (interfaces, lines, `!`, certificate hex dumps).
# The state machine skips them anyway, once it has checked them; here one regex pass in C (`_FAST_SCAN`)
# checks every column-0 line and picks the few blocks that can change the model, and `_read` runs over
# their lines only. The text qualifies when (checked on "\n" + text + "\n") it opens with blank, `!` and
# preamble lines (`_FAST_HEAD`) and then no column-0 line is odd (`odd` below): every column-0 line is a `!`
# comment or a lower-case command word that ends at a blank (a prompt's first word ends at '#', '>' or '(';
# a syslog line starts with a digit, '*' or a capital) and no banner (its text is free: `_cut_banners` first
# takes each banner out as `_read` skips it); indented lines belong to the block above them. Such a text has
# no noise line, no error line and no banner, so `_read` does the same over the picked lines as over all of
# them (and may skip the column-0 tests these regexes did: `_read(proved=True)`): a skipped column-0 line would
# only have closed the open block (the next picked line closes it too) and opened a block whose indented lines
# `_read` ignores. The first command must not read as noise (a command echo: `_read` checks that before the
# output only). Anything else: the strict path decides.
_FAST_HEAD = re.compile(
    r"\n(?:(?:Building configuration\.\.\.|Current configuration ?: ?\d+ bytes|![^\n]*+|)[ \t]*\n)*(?=[a-z])"
)
# the lines a block owns: indented or blank ones, and the column-0 `certificate`/`quit` lines of a chain
_FAST_OWNED = r"(?:\n(?:[ \t][^\n]*+|(?=\n)|(?:certificate|quit)(?=[ \t\n])[^\n]*+))*+"
# a column-0 command that can change the model or make `_read` raise: its words as `str.split` cuts them
# (blanks are `\s`, the characters `str.isspace` names), so a command `_read` acts on is never left out
_S = r"[^\S\n]++"
_FAST_COMMAND = (
    rf"crypto{_S}pki{_S}(?:server|trustpoint|certificate)|hostname[ \t]|ip{_S}(?:http|domain)|no{_S}ip{_S}http"
    rf"|clock{_S}(?:calendar-valid|timezone)|ntp{_S}(?:server|master)"
)
# at each line start, one of: a certificate chain (`chain`: its head line, `owned`: the lines it owns); a
# column-0 command `_read` acts on (`_FAST_COMMAND`) with the lines it owns (`pick`); an odd column-0 line
# (`odd`: the text is not for this path). The lines a picked block owns are never odd (they are indented,
# blank, or `certificate`/`quit` and a blank), so no odd line hides inside a match. The other commands
# (interfaces, `ip route`, ...) open a block whose lines `_read` ignores, and raise nothing.
_FAST_SCAN = re.compile(  # `(?![ \t\n!])`: a line none of the three can match fails at its first character
    rf"\n(?![ \t\n!])(?:(?P<chain>crypto pki certificate chain [^\n]*+)(?P<owned>{_FAST_OWNED})"
    rf"|(?P<pick>(?:{_FAST_COMMAND})[^\n]*+{_FAST_OWNED})"
    r"|(?P<odd>[^a-z! \t\n]|[a-z][a-z0-9\-_.]*+[^a-z0-9\-_. \t\n]|banner[ \t\n]))"
)
# the lines of a chain `_read` acts on: its `certificate` entries and any other `quit` line (group 1, split out of
# the hex dump); a bare `quit` (blanks aside) is split out too but not kept: in a chain `_read` does nothing on it.
# `(?=[ \t]*+[cq])`: a hex line fails at its first digit, once
_FAST_ENTRY = re.compile(
    r"\n(?=[ \t]*+[cq])(?:[ \t]*+quit[ \t]*+(?![^\n])|([ \t]*+(?:certificate|quit)(?![^ \t\n])[^\n]*+))"
)
# a line `_read` counts as a sign of a config (`_ANCHORS`, `_PREAMBLE`)
_FAST_ANCHOR = re.compile(
    r"\n(?:!|end|Building|Current|(?:version|hostname|crypto|interface|ip|ntp|clock|service)(?: |[ \t]*\n))"
)


def _fast(text: str) -> RunningConfig | None:
    """The model `_read` gives over every line, read from the lines that matter; None: the strict path decides."""
    wrapped = "\n" + normalize(text) + "\n"
    head = _FAST_HEAD.match(wrapped)
    if head is None:
        return None
    first = wrapped[head.end() : wrapped.index("\n", head.end())].strip()
    if is_noise(first, True):
        return None
    if "\nbanner" in wrapped:  # nearly every production config has one
        wrapped = wrapped[: head.end() - 1] + _cut_banners(wrapped[head.end() - 1 :])
    if _FAST_ANCHOR.search(wrapped) is None:
        return None
    picked: list[str] = []
    # findall: a tuple of the four groups a match (a group that did not take part is ''), no match objects
    for chain, owned, pick, _odd in _FAST_SCAN.findall(wrapped, head.end() - 1):
        if pick:
            picked += pick.split("\n")
        elif chain:
            # The lines a chain owns other than its entries are indented or blank (`_FAST_OWNED`); `_read` skips
            # them when each is a `_HEX_LINE`: hex words of two or more digits. bytes.fromhex accepts only hex
            # digit pairs between ASCII blanks (a subset of `_HEX_LINE`'s): it proves them all in one C call, and
            # an odd-length word (which IOS never prints) leaves the text to the strict path.
            parts = _FAST_ENTRY.split(owned)
            try:
                bytes.fromhex("".join(parts[::2]))
            except ValueError:
                return None
            picked.append(chain)
            picked += filter(None, parts[1::2])
        else:
            return None  # an odd line
    try:
        return _read(enumerate(picked, 1), proved=True)
    except (ParseError, ValueError):
        return None  # the strict path names the line


# a column-0 banner command with its type and the start of its text (`_read`: `banner <type> <delim>text<delim>`)
_FAST_BANNER = re.compile(r"\nbanner[ \t][^\n]*+")


def _cut_banners(text: str) -> str:
    """`text` (a newline, then the lines) with each column-0 banner, its line and the lines `_read` skips as its
    text, replaced by one `banner-cut` line: a command `_read` would read as a block of its own that sets nothing
    (as the banner line does: it closes the block above it), neither picked nor odd nor a sign of a config (nor is
    a banner). A banner `_read` does not read as one (fewer than two words after `banner`) stays, and `_FAST_SCAN`
    finds it odd."""
    out: list[str] = []
    pos = 0
    while (m := _FAST_BANNER.search(text, pos)) is not None:
        words = m[0].strip().split(None, 2)
        if len(words) < 3:
            break
        body = words[2]
        delim = body[:2] if body.startswith("^C") else body[0]
        end = m.end()
        if (
            delim not in body[len(delim) :]
        ):  # the text runs up to the first later line that holds the delimiter
            at = text.find(delim, end)
            end = len(text) - 1 if at < 0 else text.index("\n", at)
        out += (text[pos : m.start()], "\nbanner-cut")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _ip_setting(cfg: dict[str, Any], rest: list[str]) -> None:
    if rest[0] == "http" and len(rest) > 1:
        if rest[1] == "server":
            cfg["ip_http_server"] = True
        elif rest[1] == "secure-server":
            cfg["ip_http_secure_server"] = True
        elif rest[1] == "port" and len(rest) > 2:
            cfg["ip_http_port"] = int(rest[2])
    elif rest[0] == "domain-name" and len(rest) > 1:
        cfg["domain_name"] = rest[-1]
    elif rest[0] == "domain" and rest[1:2] == ["name"] and len(rest) > 2:
        cfg["domain_name"] = rest[-1]  # `ip domain name [vrf X] NAME`
