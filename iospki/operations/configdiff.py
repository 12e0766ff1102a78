"""Parent-aware comparison of intended IOS config lines with a running config (the deploy diff).

    >>> running = "hostname R1\\ncrypto pki trustpoint TP\\n enrollment url http://1.1.1.1\\n"
    >>> missing_lines(running, ["crypto pki trustpoint TP", " enrollment url http://1.1.1.1", " auto-enroll 80"])
    ['crypto pki trustpoint TP', ' auto-enroll 80']
    >>> missing_lines(running, ["hostname R1"])
    []
    >>> missing_lines("crypto pki server CA\\n grant auto\\n", ["crypto pki server CA", " lifetime certificate 365"])
    []
    >>> missing_lines("crypto pki server CA\\n lifetime certificate 200\\n", ["crypto pki server CA", " lifetime certificate 365"])
    ['crypto pki server CA', ' lifetime certificate 365']

A child line counts as present only under the same parent block; a block whose children are all present
is not pushed again, which makes a second deploy a no-op.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Values that IOS never shows as typed (secrets are shown encrypted) are compared by their prefix.
_PREFIX_ONLY = (re.compile(r"^(database archive \S+ password)\b"), re.compile(r"^(password)\b"))
_ALIASES = ((re.compile(r"^ip domain-name "), "ip domain name "),)

# Values IOS treats as defaults and may leave out of `show running-config`: wanted and absent (with no other
# value for the same setting configured) counts as present, else a second deploy would push them forever.
_DEFAULTS: dict[str, frozenset[str]] = {
    "crypto pki server": frozenset(
        {
            "lifetime certificate 365",
            "lifetime ca-certificate 1095",
            "lifetime enrollment-request 168",
            "lifetime crl 6",
            "database level minimum",
            "database url nvram:",
            "hash md5",
        }
    ),
    "crypto pki trustpoint": frozenset({"revocation-check crl"}),
}


def _default_absent(parent: str, child: str, children: list[str]) -> bool:
    """True when `child` is an IOS default of `parent`'s kind and no other value of that setting is configured."""
    kind = next((k for k in _DEFAULTS if parent.startswith(k + " ")), None)
    if kind is None or child not in _DEFAULTS[kind]:
        return False
    setting = child.rsplit(" ", 1)[0] + " "
    return not any(c.startswith(setting) for c in children)


def _norm(line: str) -> str:
    s = " ".join(line.split())
    for rx, repl in _ALIASES:
        s = rx.sub(repl, s)
    for rx in _PREFIX_ONLY:
        m = rx.match(s)
        if m:
            return m.group(1)
    return s


def config_tree(text_or_lines: str | Iterable[str]) -> dict[str, list[str]]:
    """{top-level line: [child lines]} (normalized); deeper lines are folded into their depth-1 child."""
    lines = text_or_lines.splitlines() if isinstance(text_or_lines, str) else list(text_or_lines)
    tree: dict[str, list[str]] = {}
    parent: str | None = None
    for raw in lines:
        if (
            not raw.strip()
            or raw.strip() == "!"
            or raw.startswith(("Building configuration", "Current configuration"))
        ):
            continue
        if raw[0] in " \t":
            if parent is not None and raw.startswith(" ") and not raw.startswith("  "):
                tree[parent].append(_norm(raw))
            continue
        parent = _norm(raw)
        tree.setdefault(parent, [])
    return tree


def missing_lines(running: str, desired: list[str]) -> list[str]:
    """The lines of `desired` (indented children under their parent) that `running` lacks, ready to push."""
    have = config_tree(running)
    out: list[str] = []
    blocks: list[tuple[str, list[str]]] = []
    for line in desired:
        if not line.strip():
            continue
        if line[0] == " ":
            if not blocks:
                raise ValueError(f"child line {line!r} without a parent")
            blocks[-1][1].append(line)
        else:
            blocks.append((line, []))
    for parent, children in blocks:
        key = _norm(parent)
        if key not in have:
            out.append(parent)
            out.extend(children)
            continue
        absent = [
            c for c in children if _norm(c) not in have[key] and not _default_absent(key, _norm(c), have[key])
        ]
        if absent:
            out.append(parent)
            out.extend(absent)
    return out


def unified(missing: list[str]) -> str:
    """The diff as `+` lines (what would be added)."""
    return "\n".join(f"+{ln}" for ln in missing)
