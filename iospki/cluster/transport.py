"""Results on their way back from a worker: plain data, secrets replaced, exceptions by name.

A Nornir `Result` holds its `Host` (with the password the worker resolved) and arbitrary objects; what comes
back to the client is a list of `WireResult`s -- name, result, changed, diff, failed, severity, and the
exception as (class path, redacted message) -- that the client turns into Results of ITS hosts again.

    >>> e = rebuild_exception(("nornir.core.exceptions", "NornirSubTaskError"), "boom")
    >>> type(e).__name__, str(e), isinstance(e, RemoteTaskError)
    ('NornirSubTaskError', 'boom', True)
    >>> type(rebuild_exception(("builtins", "ConnectionRefusedError"), "refused")).__name__
    'ConnectionRefusedError'
    >>> e = rebuild_exception(("iospki.operations.interrupt", "Interrupted"), "interrupted (Ctrl-C) before x")
    >>> type(e).__module__, str(e)
    ('iospki.operations.interrupt', 'interrupted (Ctrl-C) before x')
    >>> replace_secrets({"a": ["x hunter2 y"], "b": 3}, ["hunter2"])
    {'a': ['x <redacted> y'], 'b': 3}
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nornir.core.inventory import Host
from nornir.core.task import MultiResult, Result

from iospki.state.store import REDACTED


class RemoteTaskError(RuntimeError):
    """An exception raised on a worker whose class cannot be rebuilt on the client; named like the original."""


@dataclass
class WireResult:
    name: str | None
    result: Any = None
    changed: bool = False
    diff: str = ""
    failed: bool = False
    severity_level: int = logging.INFO
    exception: tuple[tuple[str, str], str] | None = None  # ((module, class name), message)


@dataclass
class Outcome:
    """One host's run on a worker, as sent back. `state`: 'done', 'unknown' (a changing task that a dead
    worker had started: never re-sent), 'interrupted' (the run was stopped before the host started: its
    device untouched) or 'refused' (the worker would not run it, `reason` says why). `sent`: the config
    exchanges that reached the device (`iospki.operations.interrupt.changes`)."""

    host: str
    state: str
    results: list[WireResult] = field(default_factory=list)
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # store parameter -> {file: text}
    reason: str = ""
    worker: str = ""
    sent: list[str] = field(default_factory=list)


def replace_secrets(value: Any, secrets: list[str]) -> Any:
    """`value` with every literal secret in its strings replaced (dicts, lists, tuples walked)."""
    if not secrets:
        return value
    if isinstance(value, str):
        for s in secrets:
            if s in value:
                value = value.replace(s, REDACTED)
        return value
    if isinstance(value, dict):
        return {replace_secrets(k, secrets): replace_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(replace_secrets(v, secrets) for v in value)
    return value


def to_wire(mr: MultiResult, secrets: list[str]) -> list[WireResult]:
    out = []
    for r in mr:
        exc = None
        if r.exception is not None:
            cls = type(r.exception)
            exc = ((cls.__module__, cls.__qualname__), replace_secrets(str(r.exception), secrets))
        out.append(
            WireResult(
                name=r.name,
                result=replace_secrets(r.result, secrets),
                changed=bool(r.changed),
                diff=replace_secrets(r.diff or "", secrets),
                failed=bool(r.failed),
                severity_level=int(r.severity_level),
                exception=exc,
            )
        )
    return out


def rebuild_exception(where: tuple[str, str], message: str) -> BaseException:
    """The original exception class when it is importable and its instance can say `message` (built with it,
    or -- a constructor that words its own message, e.g. Interrupted -- given it as its args); else a
    RemoteTaskError subclass of the same name (so callers that look at the class name still see it)."""
    module, qualname = where
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if isinstance(cls, type) and issubclass(cls, Exception):
            for exc in _instances(cls, message):
                if type(exc) is cls and str(exc) == message:
                    return exc
    except Exception:  # not importable here
        pass
    stand_in: type[RemoteTaskError] = type(qualname.rsplit(".", 1)[-1], (RemoteTaskError,), {"__module__": module})
    return stand_in(message)


def _instances(cls: type[Exception], message: str) -> Iterator[Exception]:
    with contextlib.suppress(Exception):  # a constructor that wants other arguments
        yield cls(message)
    with contextlib.suppress(Exception):
        bare = cls.__new__(cls)
        bare.args = (message,)
        yield bare


def from_wire(host: Host, task_name: str, results: list[WireResult]) -> MultiResult:
    mr = MultiResult(task_name)
    for w in results:
        exc = rebuild_exception(*w.exception) if w.exception else None
        r = Result(
            host=host,
            result=w.result,
            changed=w.changed,
            diff=w.diff,
            failed=w.failed,
            exception=exc,
            severity_level=w.severity_level,
        )
        r.name = w.name  # type: ignore[assignment]  # nornir types Result.name as None
        mr.append(r)
    return mr


def failed_result(host: Host, task_name: str, reason: str, exc: BaseException | None = None) -> MultiResult:
    """A host the cluster did not (or not verifiably) run: failed, with `reason` naming host and cause."""
    mr = MultiResult(task_name)
    r = Result(host=host, result=reason, failed=True, exception=exc or ClusterError(reason), severity_level=40)
    r.name = task_name  # type: ignore[assignment]  # nornir types Result.name as None
    mr.append(r)
    return mr


class ClusterError(RuntimeError):
    """The cluster could not run a host (no worker for its site, worker lost, secret in the payload...)."""


class OutcomeUnknown(ClusterError):
    """A changing task (config push, enrollment, rollover) was running on a worker that died: it may or may
    not have reached the device, and it is never sent again."""
