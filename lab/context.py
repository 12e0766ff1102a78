"""What a command handler gets: the device, output, questions, errors, and (config mode) the current block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from iospki.lab.config import ConfigNode

if TYPE_CHECKING:
    from iospki.lab.device import Device


class CommandError(Exception):
    """Raise (or call ctx.reject) to refuse a line with an IOS error message, e.g. '% Incomplete command.'."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Terminal(Protocol):
    """The session side a context talks to (an SSH shell, or a batch source such as `copy flash: running`)."""

    interactive: bool
    user: str
    peer: str
    line_name: str  # vty0, console

    def write(self, text: str) -> None: ...

    async def read_answer(self, hide: bool) -> str: ...


class BatchTerminal:
    """Config from a file or at boot: output is collected, questions get their default answer."""

    interactive = False

    def __init__(self, user: str = "", peer: str = "", line_name: str = "console") -> None:
        self.user, self.peer, self.line_name = user, peer, line_name
        self.output: list[str] = []

    def write(self, text: str) -> None:
        self.output.append(text)

    async def read_answer(self, hide: bool) -> str:
        return ""


class ExecContext:
    """Context of an exec-mode command."""

    def __init__(self, device: Device, term: Terminal, privileged: bool) -> None:
        self.device = device
        self.term = term
        self.privileged = privileged
        self.session: Any = None  # the CliSession for interactive exec commands (None in batch)

    @property
    def interactive(self) -> bool:
        return self.term.interactive

    def write(self, text: str) -> None:
        """Write output; use "\\n" for newlines (the SSH layer sends CRLF)."""
        self.term.write(text)

    def writeln(self, text: str = "") -> None:
        self.term.write(text + "\n")

    async def ask(self, question: str, *, hide: bool = False, default: str = "") -> str:
        """Write `question` WITHOUT a newline and wait for the answer line (hidden: no echo, for passwords).

        In batch mode (config file, boot) returns `default` at once. An empty answer returns `default` too.
        """
        self.term.write(question)
        if not self.term.interactive:
            self.term.write("\n")
            return default
        answer = await self.term.read_answer(hide)
        return answer if answer.strip() else default

    def reject(self, message: str) -> None:
        """Refuse the command with an IOS error message (no state should have changed)."""
        raise CommandError(message)


@dataclass
class ConfigChange:
    """Passed to on_config_change hooks. kind: line | bulk (copy to running, configure replace, reload)."""

    kind: str
    line: str = ""
    negated: bool = False
    mode: str = "config"
    block: ConfigNode | None = None


class ConfigContext(ExecContext):
    """Context of a config-mode command: `node` is the block the line belongs to (the root at global level)."""

    def __init__(self, device: Device, term: Terminal, engine: ConfigEngineLike, line: str) -> None:
        super().__init__(device, term, privileged=True)
        self.engine = engine
        self.line = line

    @property
    def mode(self) -> str:
        return self.engine.mode

    @property
    def node(self) -> ConfigNode:
        return self.engine.node

    def set_line(self, line: str | None = None, key: int | None = None) -> ConfigNode:
        """Store `line` (default: the typed line) in the current block; key = set semantics (see Registry)."""
        return self.node.set_line(line if line is not None else self.line, key)

    def remove(self, prefix: str) -> int:
        return self.node.remove(prefix)

    def enter(self, mode: str, line: str | None = None, key: int | None = None) -> ConfigNode:
        """Open (or re-open) block `line` in the current block and enter sub-mode `mode`."""
        node = self.node.set_line(line if line is not None else self.line, key, block=True)
        node.block = True
        self.engine.push(mode, node)
        return node

    def exit_mode(self) -> None:
        self.engine.pop()


class ConfigEngineLike(Protocol):
    @property
    def mode(self) -> str: ...

    @property
    def node(self) -> ConfigNode: ...

    def push(self, mode: str, node: ConfigNode) -> None: ...

    def pop(self) -> None: ...
