"""Report formats by name. A writer module registers each of its formats with `@writer(subject, name)`;
the registry imports every module of `iospki.reports` once, so a new format is one new module (and its
test) and nothing else.

Subjects: "audit" (an `AuditResult`: `iospki audit --format NAME`) and "validation" (the result of
`iospki lab validate`, every format written into its output folder).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from iospki.state.store import atomic_write_bytes, shared_mode

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Writer:
    subject: str
    name: str
    render: Callable[[Any], str | bytes]
    filename: str  # its file in an output folder ("" for a format printed or written where asked)


_WRITERS: dict[tuple[str, str], Writer] = {}
_LOADED = False


def writer(subject: str, name: str, filename: str = "") -> Callable[[F], F]:
    """Register the decorated function as format `name` of `subject`."""

    def register(fn: F) -> F:
        key = (subject, name)
        if key in _WRITERS and _WRITERS[key].render is not fn:
            raise ValueError(f"report format {subject}/{name} registered twice")
        _WRITERS[key] = Writer(subject, name, fn, filename)
        return fn

    return register


def _load() -> None:
    """Import every writer module of this package (modules register themselves when imported)."""
    global _LOADED
    if _LOADED:
        return
    import iospki.reports as package

    for mod in pkgutil.iter_modules(package.__path__):
        if not mod.ispkg:
            importlib.import_module(f"{package.__name__}.{mod.name}")
    _LOADED = True


def writers(subject: str) -> list[Writer]:
    """The writers of `subject`, in module then definition order."""
    _load()
    return [w for w in _WRITERS.values() if w.subject == subject]


def formats(subject: str) -> tuple[str, ...]:
    return tuple(w.name for w in writers(subject))


def get(subject: str, name: str) -> Writer:
    _load()
    try:
        return _WRITERS[(subject, name)]
    except KeyError:
        raise ValueError(
            f"unknown report format {name!r} (choose from {', '.join(formats(subject))})"
        ) from None


def render(result: Any, fmt: str, subject: str = "audit") -> str:
    """A text report of `result` in format `fmt`."""
    out = get(subject, fmt).render(result)
    if isinstance(out, bytes):
        raise ValueError(f"report format {subject}/{fmt} is binary: use write()")
    return out


def write(result: Any, fmt: str, path: Path, subject: str = "audit") -> Path:
    """Write the report into `path` (text or binary, as the format is): see `write_report`."""
    return write_report(path, get(subject, fmt).render(result))


def write_report(path: Path, data: str | bytes) -> Path:
    """Write a report atomically (no partial file under its name, ever) with the mode the umask gives:
    a report is read by others (node_exporter's textfile collector, a web server), unlike a raw
    collection, which stays private. A failure is a `store.WriteFailed` naming the path and the cause."""
    return atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data, shared_mode())
