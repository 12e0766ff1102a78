"""Configuration as state: a hierarchical list of lines with parent blocks, as IOS shows it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass
class ConfigNode:
    """One configuration line and, for a block (`interface X`, `crypto pki trustpoint TP`), its children."""

    line: str
    children: list[ConfigNode] = field(default_factory=list)
    block: bool = False  # opens a sub-mode (shown followed by `!` at top level)
    _cached: tuple[str, list[str]] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def words(self) -> list[str]:
        return self.line.split()

    def _lower_words(self) -> list[str]:
        cached = self._cached
        if cached is None or cached[0] is not self.line:
            cached = (self.line, self.line.lower().split())
            self._cached = cached
        return cached[1]

    def startswith(self, words: list[str], lowered: bool = False) -> bool:
        own = self._lower_words()
        n = len(words)
        if len(own) < n:
            return False
        return own[:n] == (words if lowered else [w.lower() for w in words])

    def find(self, prefix: str) -> ConfigNode | None:
        """First child whose words start with `prefix` (case-insensitive, whole words)."""
        words = prefix.lower().split()
        for c in self.children:
            if c.startswith(words, lowered=True):
                return c
        return None

    def find_all(self, prefix: str) -> list[ConfigNode]:
        words = prefix.lower().split()
        return [c for c in self.children if c.startswith(words, lowered=True)]

    def value(self, prefix: str) -> str | None:
        """The rest of the first child line starting with `prefix`: value('enrollment url') -> 'http://...'."""
        node = self.find(prefix)
        if node is None:
            return None
        return " ".join(node.words[len(prefix.split()) :])

    def has(self, line: str) -> bool:
        return any(c.line.strip().lower() == line.strip().lower() for c in self.children)

    def set_line(self, line: str, key: int | None = None, block: bool = False) -> ConfigNode:
        """Add `line`; with `key`, first replace a child whose first `key` words are the same (set semantics)."""
        words = line.split()
        if key is None:
            for c in self.children:
                if c.line.split() == words:
                    c.block = c.block or block
                    return c
        else:
            head = [w.lower() for w in words[:key]]
            for i, c in enumerate(self.children):
                if c.startswith(head, lowered=True):
                    new = ConfigNode(line, c.children if block else [], block)
                    self.children[i] = new
                    return new
        node = ConfigNode(line, [], block)
        self.children.append(node)
        return node

    def remove(self, prefix: str) -> int:
        """Remove children whose words start with `prefix`; returns how many."""
        words = prefix.lower().split()
        before = len(self.children)
        self.children = [c for c in self.children if not c.startswith(words, lowered=True)]
        return before - len(self.children)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, ConfigNode]]:
        for c in self.children:
            yield depth, c
            yield from c.walk(depth + 1)

    def copy(self) -> ConfigNode:
        return ConfigNode(self.line, [c.copy() for c in self.children], self.block)


# Top-level order as IOS prints it (first words -> rank); unknown lines keep their place among equals.
_ORDER = [
    "version",
    "service",
    "platform",
    "hostname",
    "boot-start-marker",
    "boot",
    "boot-end-marker",
    "vrf",
    "logging",
    "no logging",
    "enable",
    "aaa",
    "no aaa",
    "clock",
    "ip domain",
    "no ip domain",
    "ip name-server",
    "login",
    "ipv6",
    "multilink",
    "crypto pki trustpoint",
    "crypto pki server",
    "crypto pki certificate map",
    "crypto pki certificate chain",
    "crypto",
    "license",
    "diagnostic",
    "memory",
    "file",
    "archive",
    "username",
    "redundancy",
    "spanning-tree",
    "interface",
    "router",
    "ip forward-protocol",
    "ip http",
    "no ip http",
    "ip scp",
    "ip ssh",
    "ip route",
    "ip",
    "no ip",
    "access-list",
    "snmp-server",
    "control-plane",
    "banner",
    "line",
    "ntp",
    "end",
]


def _rank(node: ConfigNode) -> int:
    return _rank_line(node.line.lower())


@lru_cache(maxsize=8192)
def _rank_line(low: str) -> int:
    best = -1
    best_len = -1
    for i, key in enumerate(_ORDER):
        if (low == key or low.startswith(key + " ")) and len(key) > best_len:
            best, best_len = i, len(key)
    return best if best >= 0 else _ORDER.index("ip")


def render(root: ConfigNode) -> list[str]:
    """Lines of the configuration body (between the header and `end`), IOS style."""
    out: list[str] = []
    nodes = sorted(root.children, key=_rank)
    prev_block = True
    prev_rank = -1
    for node in nodes:
        rank = _rank(node)
        if node.block or prev_block or (rank != prev_rank and rank >= _ORDER.index("interface")):
            out.append("!")
        out.append(node.line)
        for depth, child in node.walk(1):
            out.append(" " * depth + child.line)
        prev_block = node.block
        prev_rank = rank
    out.append("!")
    return out


def parse_lines(text: str) -> list[tuple[int, str]]:
    """(indent, stripped line) for each meaningful line of a config file (comments and `end` dropped)."""
    result: list[tuple[int, str]] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip():
            continue
        stripped = raw.strip()
        if stripped.startswith("!"):
            continue
        if stripped in ("end",) and raw == raw.lstrip():
            continue
        if stripped.startswith(("Building configuration", "Current configuration")):
            continue
        indent = len(raw) - len(raw.lstrip(" \t"))
        result.append((indent, stripped))
    return result
