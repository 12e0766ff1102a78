"""Shared machinery for the parsers: the command registry and ParseError (input clean-up is
in `noise`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel


class ParseError(ValueError):
    """Raised when text cannot be parsed as the output of `command`.

    `line` is the first line that could not be placed (or None when the whole text is
    wrong, e.g. empty or an unknown command).
    """

    def __init__(self, command: str, message: str, line: str | None = None, lineno: int | None = None):
        self.command = command
        self.reason = message
        self.line = line
        self.lineno = lineno
        where = f" at line {lineno}: {line.strip()[:120]!r}" if line is not None else ""
        super().__init__(f"cannot parse {command!r}: {message}{where}")


ParserFunc = Callable[[str, "str | None"], BaseModel]
_REGISTRY: dict[str, ParserFunc] = {}
F = TypeVar("F", bound=ParserFunc)


def normalize_command(command: str) -> str:
    """Lower-case, single-spaced command text, e.g. 'show crypto pki timers detail'."""
    return " ".join(command.lower().split())


def register(*commands: str) -> Callable[[F], F]:
    """Register a parser for one or more command patterns (regular expressions over the normalized command)."""

    def deco(func: F) -> F:
        for c in commands:
            _REGISTRY[c] = func
        return func

    return deco


def lookup(command: str) -> ParserFunc:
    cmd = normalize_command(command)
    for pattern, func in _REGISTRY.items():
        if re.fullmatch(pattern, cmd):
            return func
    raise ParseError(command, "no parser for this command")


def registered() -> list[str]:
    return sorted(_REGISTRY)
