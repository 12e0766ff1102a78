"""Shared machinery for the parsers: the command registry, ParseError and UnknownCommand, and `run_parser`,
which turns a parser's own bug into a ParseError naming the command (input clean-up is in `noise`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
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


class UnknownCommand(ParseError):
    """No parser is registered for the command: callers skip such outputs instead of reporting them."""

    def __init__(self, command: str):
        super().__init__(command, "no parser for this command")


ParserFunc = Callable[[str, "str | None"], BaseModel]
_REGISTRY: dict[str, ParserFunc] = {}
# command as given -> its parser: a collection asks for the same few commands for every host, and
# trying each registered pattern costs about 20 us a time (emptied when a parser registers)
_FOUND: dict[str, ParserFunc] = {}
F = TypeVar("F", bound=ParserFunc)


def normalize_command(command: str) -> str:
    """Lower-case, single-spaced command text, e.g. 'show crypto pki timers detail'."""
    return " ".join(command.lower().split())


def register(*commands: str) -> Callable[[F], F]:
    """Register a parser for one or more command patterns (regular expressions over the normalized command)."""

    def deco(func: F) -> F:
        for c in commands:
            _REGISTRY[c] = func
        _FOUND.clear()
        return func

    return deco


def lookup(command: str) -> ParserFunc:
    found = _FOUND.get(command)
    if found is not None:
        return found
    cmd = normalize_command(command)
    for pattern, func in _REGISTRY.items():
        if re.fullmatch(pattern, cmd):
            if len(_FOUND) < 4096:  # bounded: commands come from stored file names
                _FOUND[command] = func
            return func
    raise UnknownCommand(command)


def registered() -> list[str]:
    return sorted(_REGISTRY)


# (line number, line) of the line loop a parser is in (`numbered`): `run_parser` names it when the parser fails
_CURRENT: ContextVar[tuple[int, str] | None] = ContextVar("iospki_parser_line", default=None)


class numbered:  # noqa: N801 - used like `enumerate`
    """`enumerate(lines, start)` for a parser's line loop that lets `run_parser` name the line a parser bug
    met: the last line handed out stays recorded until the loop runs to its end (then the line of an outer
    loop is back). An iterator object, not a generator: a generator would be closed, and its record undone,
    while the exception unwinds the parser, before `run_parser` sees it."""

    def __init__(self, lines: Iterable[str], start: int = 1) -> None:
        self._lines = enumerate(lines, start)
        self._outer = _CURRENT.get()

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self

    def __next__(self) -> tuple[int, str]:
        try:
            no, ln = next(self._lines)
        except StopIteration:
            _CURRENT.set(self._outer)
            raise
        _CURRENT.set((no, ln))
        return no, ln


def run_parser(func: ParserFunc, command: str, text: str, platform: str | None) -> BaseModel:
    """`func(text, platform)`, every failure a ParseError naming `command` as the caller gave it.

    A parser raises ParseError for text it does not accept; anything else escaping it (IndexError,
    KeyError, a pydantic ValidationError ...) is a parser bug met on unexpected input. Callers catch
    ParseError only, so it becomes one, naming the last line a `numbered` loop of the parser handed out."""
    token = _CURRENT.set(None)
    try:
        return func(text, platform)
    except ParseError as exc:
        if exc.command == command:
            raise
        # name the command as the caller gave it (the parser knows only its generic form)
        raise ParseError(command, exc.reason, exc.line, exc.lineno) from None
    except Exception as exc:  # the point: no parser bug escapes as anything but a ParseError
        at = _CURRENT.get()
        line, lineno = (at[1], at[0]) if at is not None else (None, None)
        raise ParseError(command, f"parser failed: {type(exc).__name__}: {exc}", line, lineno) from exc
    finally:
        _CURRENT.reset(token)
