"""The audit's rule type, its severities, and the three rules the engine raises itself.

A rule is frozen data (id, severity, title, rationale, remedy) bound to its check function. Every checked
rule is written next to its check in `iospki.audit.checks` with `@rule(...)`, so adding one is one
decorated function there (and its test); `engine.RULES` lists them all. The ids are stable: reports,
JUnit case names and CI configurations use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


# (checks.Context, HostState) -> the hits; typed loosely here so this module needs neither
Check = Callable[[Any, Any], Iterator[Any]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    rationale: str
    remedy: str
    check: Check | None = field(default=None, compare=False, repr=False)  # None: raised by the engine


HOST_UNREACHABLE = Rule(
    "host-unreachable",
    Severity.critical,
    "Host not collected",
    "The host could not be reached or its collection failed; it was not audited.",
    "check reachability and credentials, then collect again",
)
PARSE_ERROR = Rule(
    "parse-error",
    Severity.critical,
    "Output could not be parsed",
    "An output of the host could not be parsed; checks needing it were not made for this host.",
    "collect again; if it persists, report the output",
)
COLLECTION_INCOMPLETE = Rule(
    "collection-incomplete",
    Severity.critical,
    "Collection incomplete",
    "Outputs the audit needs (clock, running-config, certificates, timers, and the certificate server of a"
    " CA) are missing or unreadable, or the collection was interrupted: what is missing cannot be checked,"
    " so the host must not pass as clean.",
    "collect again (the finding names the missing commands)",
)
FAILURE_RULES: tuple[Rule, ...] = (HOST_UNREACHABLE, PARSE_ERROR, COLLECTION_INCOMPLETE)
FAILURE_KINDS = frozenset(r.id for r in FAILURE_RULES)
