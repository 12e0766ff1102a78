"""Parent-aware comparison of intended IOS config lines with a running config (the deploy diff).

    >>> running = "hostname R1\\ncrypto pki trustpoint TP\\n enrollment url http://1.1.1.1\\n"
    >>> missing_lines(running, ["crypto pki trustpoint TP", " enrollment url http://1.1.1.1", " auto-enroll 80"])
    ['crypto pki trustpoint TP', ' auto-enroll 80']
    >>> missing_lines(running, ["hostname R1"])
    []

A child line counts as present only under the same parent block; a block whose children are all present
is not pushed again, which makes a second deploy a no-op.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Values that IOS never shows as typed (secrets are shown encrypted) are compared by their prefix.
_PREFIX_ONLY = (re.compile(r"^(database archive \S+ password)\b"), re.compile(r"^(password)\b"))
_ALIASES = ((re.compile(r"^ip domain-name "), "ip domain name "),)


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
        absent = [c for c in children if _norm(c) not in have[key]]
        if absent:
            out.append(parent)
            out.extend(absent)
    return out


def unified(missing: list[str]) -> str:
    """The diff as `+` lines (what would be added)."""
    return "\n".join(f"+{ln}" for ln in missing)
