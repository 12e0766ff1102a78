"""The delete-each-line-in-turn run (issue 12 §3): for every output, delete one line at a time,
parse, and classify what came back. A deletion must give a ParseError, or a model a real
device could have printed; the two silent failures counted here are

* merged: fewer records than before, and not just the record the deleted line was (a
  section that lost its header swallowed into its neighbour);
* nulled: a critical field (one the audit and forecast decide on) that had a value is now
  None, without an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from iospki.parsers import ParseError, parse

# model class name -> fields the toolkit decides on (expiry, renewal, CRL freshness, timers)
CRITICAL: dict[str, tuple[str, ...]] = {
    "Certificate": ("serial", "start", "end", "issuer", "status", "subject"),
    "CAServer": ("status", "ca_expires", "crl_next_update", "grant_mode"),
    "Crl": ("issuer", "this_update", "next_update"),
    "IssuedCertificate": ("issued", "expires"),
    "Timer": ("remaining_seconds",),
    "KeyPair": ("key_size",),
    "Clock": ("time",),
    "NtpStatus": ("stratum",),
    "TrustpointStatus": ("ca_authenticated",),
    "EnrollmentRequest": ("state",),
    # none for the running-config models: a config without any one child line is still a
    # valid config (IOS omits defaults), so a deleted setting cannot be told from real output
}


@dataclass
class Outcome:
    runs: int = 0
    errors: int = 0  # ParseError: the deletion was noticed
    merged: list[str] = field(default_factory=list)
    nulled: list[str] = field(default_factory=list)


def _records(model: BaseModel) -> list[BaseModel]:
    """Every record in a parsed model (the model itself and the items of its lists), depth first."""
    out = [model]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for v in items:
            if isinstance(v, BaseModel):
                out += _records(v)
    return out


def _lists(model: BaseModel) -> dict[str, list[Any]]:
    return {n: v for n in type(model).model_fields if isinstance(v := getattr(model, n), list)}


def nulls(model: BaseModel) -> int:
    """Critical fields that are None, plus certificate subjects that are the empty DN (a `Subject:` line
    with no DN line under it reads as the empty DN, which a deleted DN line can also produce)."""
    return sum(
        (value := getattr(r, f)) is None or (f == "subject" and value == "")
        for r in _records(model)
        for f in CRITICAL.get(type(r).__name__, ())
    )


def merged(before: BaseModel, after: BaseModel) -> bool:
    """A list lost records, and what is left is not the old list minus whole records."""
    old, new = _lists(before), _lists(after)
    for name, items in old.items():
        got = new.get(name, [])
        if len(got) < len(items):
            rest = list(items)
            for x in got:
                if x not in rest:
                    return True
                rest.remove(x)
    return False


def deletions(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, deleted line, text without it) for every non-blank line."""
    lines = text.split("\n")
    for i, ln in enumerate(lines):
        if ln.strip():
            yield i + 1, ln, "\n".join(lines[:i] + lines[i + 1 :])


def run(name: str, command: str, text: str, outcome: Outcome) -> None:
    base = parse(command, text)
    base_nulls = nulls(base)
    for lineno, line, cut in deletions(text):
        outcome.runs += 1
        try:
            got = parse(command, cut)
        except ParseError:
            outcome.errors += 1
            continue
        where = f"{name}:{lineno}: {line.strip()}"
        if merged(base, got):
            outcome.merged.append(where)
        elif nulls(got) > base_nulls:
            outcome.nulled.append(where)
