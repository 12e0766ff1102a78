"""The numbers an operator exports (`IOSPKI_MAX_HOSTS`, `IOSPKI_RETRIES`, `IOSPKI_CA_ENROLL_LIMIT`,
`IOSPKI_STOP_GRACE`), read and checked in one place.

A value the variable cannot take used to fall back to the default without a word: an operator who exported
`IOSPKI_CA_ENROLL_LIMIT=one` to spare a weak CA server got 8 enrollments at once, and `IOSPKI_MAX_HOSTS=5x`
ran 20 hosts at once. Now every command that talks to devices checks them before it touches a host (`problems`;
the CLI exits 2 with one line naming the variable and its value), and a reader that meets a bad value later (a
retry on a cluster worker, whose environment is its own) raises `SettingError` naming it, which fails that
host with the reason. An exported empty value counts as unset (`export IOSPKI_RETRIES=` is how a shell unsets
for one command).

    >>> count(RETRIES, {"IOSPKI_RETRIES": " 5 "}), count(RETRIES, {}), count(RETRIES, {"IOSPKI_RETRIES": ""})
    (5, None, None)
    >>> count(RETRIES, {"IOSPKI_RETRIES": "five"})
    Traceback (most recent call last):
    ...
    iospki.operations.settings.SettingError: IOSPKI_RETRIES='five': not a whole number of at least 1
    >>> seconds(STOP_GRACE, {"IOSPKI_STOP_GRACE": "2.5"}), seconds(STOP_GRACE, {})
    (2.5, 90.0)
    >>> problems({"IOSPKI_CA_ENROLL_LIMIT": "0", "IOSPKI_STOP_GRACE": "-1", "IOSPKI_MAX_HOSTS": "4"})
    ["IOSPKI_CA_ENROLL_LIMIT='0': not a whole number of at least 1", "IOSPKI_STOP_GRACE='-1': not a number of seconds of at least 0"]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingError(ValueError):
    """An exported setting holds a value its variable cannot take (the message names both)."""


@dataclass(frozen=True)
class Count:
    """A whole number of at least 1 (hosts, attempts, enrollments); unset, the caller's default applies."""

    name: str
    meaning: str


@dataclass(frozen=True)
class Seconds:
    """A finite number of seconds of at least 0."""

    name: str
    default: float
    meaning: str


MAX_HOSTS = Count("IOSPKI_MAX_HOSTS", "hosts worked on at once (overrides the runner's num_workers)")
RETRIES = Count("IOSPKI_RETRIES", "attempts of an operation that is safe to repeat")
CA_ENROLL_LIMIT = Count("IOSPKI_CA_ENROLL_LIMIT", "enrollments against one CA server at a time")
STOP_GRACE = Seconds(
    "IOSPKI_STOP_GRACE", 90.0, "seconds a cluster host already started may take to report back after Ctrl-C"
)
ALL: tuple[Count | Seconds, ...] = (MAX_HOSTS, RETRIES, CA_ENROLL_LIMIT, STOP_GRACE)


def _raw(name: str, env: Mapping[str, str] | None) -> str:
    return (os.environ if env is None else env).get(name, "").strip()


def count(setting: Count, env: Mapping[str, str] | None = None) -> int | None:
    """The value of `setting` in `env` (default: this process's environment), or None when unset."""
    raw = _raw(setting.name, env)
    if not raw:
        return None
    # int() would also take "+5", "5_0" and "٥": a count is plain ASCII digits
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise SettingError(f"{setting.name}={raw!r}: not a whole number of at least 1")
    return int(raw)


def seconds(setting: Seconds, env: Mapping[str, str] | None = None) -> float:
    """The value of `setting` in `env` (default: this process's environment), or its default when unset."""
    raw = _raw(setting.name, env)
    if not raw:
        return setting.default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise SettingError(f"{setting.name}={raw!r}: not a number of seconds of at least 0")
    return value


def problems(env: Mapping[str, str] | None = None) -> list[str]:
    """One line per exported setting that holds a value it cannot take (empty: all usable)."""
    found: list[str] = []
    for s in ALL:
        try:
            count(s, env) if isinstance(s, Count) else seconds(s, env)
        except SettingError as exc:
            found.append(str(exc))
    return found
