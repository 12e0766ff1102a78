"""The configuration engine: one line at a time, as IOS config mode does, for the CLI and for config files.

Used by `configure terminal`, `copy X running-config`, `configure replace`, and at boot (startup config), so
that every path changes the running config the same way.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iospki.lab.config import ConfigNode, parse_lines
from iospki.lab.context import BatchTerminal, CommandError, ConfigChange, ConfigContext, Terminal
from iospki.lab.device import call_hook
from iospki.lab.registry import Command, Match, Outcome, resolve

if TYPE_CHECKING:
    from iospki.lab.device import Device

log = logging.getLogger("iospki.lab.engine")

INVALID = "% Invalid input detected at '^' marker."


def redact(line: str) -> str:
    """A command for the lab log: its first words only, since later words may be passwords."""
    words = line.split()
    return " ".join(words[:3]) + (" ..." if len(words) > 3 else "")


def word_columns(line: str) -> list[int]:
    cols: list[int] = []
    prev_space = True
    for i, ch in enumerate(line):
        if ch.isspace():
            prev_space = True
        elif prev_space:
            cols.append(i)
            prev_space = False
    return cols


def error_text(outcome: Outcome, line: str, offset: int, word_offset: int = 0) -> str:
    """IOS error output for a line that did not resolve; offset = prompt length (caret alignment)."""
    if outcome.kind == "ambiguous":
        return f'% Ambiguous command:  "{line.strip()}"\n'
    if outcome.kind == "incomplete":
        return "% Incomplete command.\n\n"
    cols = word_columns(line)
    idx = outcome.position + word_offset
    col = cols[idx] if idx < len(cols) else len(line.rstrip())
    return " " * (offset + col) + "^\n" + INVALID + "\n\n"


@dataclass
class Frame:
    mode: str
    node: ConfigNode
    indent: int = -1  # indentation of the line that opened the block (config files)


class ConfigEngine:
    """Config-mode state of one session (or one batch run) on one device."""

    def __init__(
        self,
        device: Device,
        term: Terminal | None,
        run_exec: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.device = device
        self.term: Terminal = term if term is not None else BatchTerminal()
        self.run_exec = run_exec
        self.stack: list[Frame] = [Frame("config", device.running)]
        self.errors = 0
        self.applied = 0

    # ConfigEngineLike
    @property
    def mode(self) -> str:
        return self.stack[-1].mode

    @property
    def node(self) -> ConfigNode:
        return self.stack[-1].node

    def push(self, mode: str, node: ConfigNode, indent: int = -1) -> None:
        self.stack.append(Frame(mode, node, indent))

    def pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()

    def reset(self) -> None:
        self.stack = [Frame("config", self.device.running)]

    # -- one line -------------------------------------------------------------------------------------------
    async def apply_line(self, line: str, indent: int | None = None, prompt_len: int = 0) -> str:
        """Apply one line. Returns 'ok', 'error', 'end' (leave config mode) or 'exit' (exit from global)."""
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            return "ok"
        self._current_indent = indent if indent is not None else -1
        if indent is not None:
            # config files: a line indented no deeper than a block's opener is outside that block
            while len(self.stack) > 1 and indent <= self.stack[-1].indent:
                self.stack.pop()
        words = stripped.split()
        first = words[0].lower()
        if first == "end" and len(words) == 1:
            return "end"
        if first in ("exit", "quit") and len(words) == 1:
            if len(self.stack) > 1:
                self.stack.pop()
                return "ok"
            return "exit" if first == "exit" else "ok"
        if first == "do" and len(words) > 1:
            if self.run_exec is not None and self.term.interactive:
                await self.run_exec(stripped[stripped.lower().index("do") + 2 :].strip())
            return "ok"
        negated = first == "no" and len(words) > 1
        body = words[1:] if negated else words
        word_offset = 1 if negated else 0
        reg = self.device.lab.registry
        # Current mode first, then its ancestors (a global command typed in a sub-mode leaves the sub-mode).
        first_failure: Outcome | None = None
        for depth in range(len(self.stack) - 1, -1, -1):
            frame = self.stack[depth]
            nofallback = depth < len(self.stack) - 1 and indent != 0
            commands = reg.view("config-nofallback" if nofallback else "config", frame.mode)
            outcome = resolve(commands, body)
            if outcome.kind == "ok" and depth > 0 and indent is None:
                outcome = self._prefer_exact_parent(outcome, body, depth)
                if outcome.kind == "parent":
                    continue
            if outcome.kind == "ok":
                if depth != len(self.stack) - 1:
                    if indent is not None and indent > 0 and self._permissive(self.stack[-1].mode):
                        break  # an indented line in a file belongs to its block
                    del self.stack[depth + 1 :]
                assert outcome.command is not None and outcome.match is not None
                return await self._run(outcome.command, outcome.match, negated, stripped, prompt_len)
            if first_failure is None:
                first_failure = outcome
            if depth == len(self.stack) - 1 and self._permissive(frame.mode) and depth > 0:
                # unknown line in a permissive sub-mode: unless a parent mode knows it, keep it verbatim
                continue
        assert first_failure is not None
        if len(self.stack) > 1 and self._permissive(self.mode):
            self._store_verbatim(stripped, negated, body)
            await self._changed(ConfigChange("line", " ".join(body), negated, self.mode, self.node))
            return "ok"
        self.errors += 1
        self.term.write(
            error_text(
                first_failure, stripped, prompt_len, word_offset if first_failure.kind == "invalid" else 0
            )
        )
        return "error"

    def _prefer_exact_parent(self, outcome: Outcome, body: list[str], depth: int) -> Outcome:
        """`ip domain name X` typed in (ca-trustpoint) abbreviates `ip-address` there, but a parent mode
        has `ip` spelled out: IOS's parser ends up in the parent mode, so do we."""
        assert outcome.command is not None
        if outcome.command.tokens and outcome.command.tokens[0] == body[0].lower():
            return outcome
        reg = self.device.lab.registry
        for up in range(depth - 1, -1, -1):
            commands = reg.view("config-nofallback", self.stack[up].mode)
            parent = resolve(commands, body)
            if (
                parent.kind == "ok"
                and parent.command is not None
                and parent.command.tokens[0] == body[0].lower()
            ):
                return Outcome("parent")
        return outcome

    def _permissive(self, mode: str) -> bool:
        spec = self.device.lab.registry.modes.get(mode)
        return spec is not None and spec.permissive

    def _store_verbatim(self, stripped: str, negated: bool, body: list[str]) -> None:
        if negated:
            if self.node.remove(" ".join(body)) == 0:
                self.node.set_line(stripped)
        else:
            self.node.remove("no " + " ".join(body))
            self.node.set_line(stripped)

    async def _run(self, cmd: Command, m: Match, negated: bool, stripped: str, prompt_len: int) -> str:
        m.negated = negated
        ctx = ConfigContext(self.device, self.term, self, m.line)
        mode_before = self.mode
        try:
            if cmd.handler is None:
                self._default_apply(ctx, cmd, m, negated)
            else:
                result = cmd.handler(ctx, m)
                if inspect.isawaitable(result):
                    result = await result
                if isinstance(result, str) and result:
                    self.term.write(result if result.endswith("\n") else result + "\n")
        except CommandError as exc:
            self.errors += 1
            msg = exc.message
            self.term.write(msg if msg.endswith("\n") else msg + "\n")
            return "error"
        except Exception:
            self.errors += 1
            log.exception("%s: config handler failed for %r", self.device.name, redact(stripped))
            self.term.write("% Internal error while processing the command\n")
            return "error"
        self.applied += 1
        await self._changed(ConfigChange("line", m.line, negated, mode_before, self.node))
        return "ok"

    def _default_apply(self, ctx: ConfigContext, cmd: Command, m: Match, negated: bool) -> None:
        line = m.line
        if negated:
            removed = ctx.node.remove(line)
            if removed == 0 and cmd.key is not None:
                removed = ctx.node.remove(" ".join(line.split()[: cmd.key]))
            # `no ip http server` is shown as such; an unmodelled `no X` is kept when there was no X
            if cmd.store_no and (removed == 0 or not cmd.fallback):
                ctx.node.set_line("no " + line)
            return
        ctx.node.remove("no " + " ".join(line.split()[: cmd.key or len(line.split())]))
        if cmd.submode is not None:
            node = ctx.node.set_line(line, cmd.key, block=True)
            self.push(cmd.submode, node, getattr(self, "_current_indent", -1))
        else:
            ctx.node.set_line(line, cmd.key)

    async def _changed(self, change: ConfigChange) -> None:
        dev = self.device
        if not isinstance(self.term, BatchTerminal) or getattr(self, "_notify", True):
            dev.last_change = dev.now()
            dev.last_change_user = self.term.user or dev.last_change_user
        if getattr(self, "_bulk", False):
            return
        for hook in dev.lab.registry.config_change_hooks:
            await call_hook(hook, dev, change)
        await dev.refresh()

    # -- files ---------------------------------------------------------------------------------------------
    async def apply_text(self, text: str, notify: bool = True) -> int:
        """Apply a config file line by line (indentation marks block membership). Returns the error count."""
        self._bulk = True
        self._notify = notify
        self.reset()
        try:
            for indent, line in parse_lines(text):
                if line == "end":
                    continue
                result = await self.apply_line(line, indent=indent)
                if result in ("end", "exit"):
                    self.reset()
        finally:
            self._bulk = False
            self.reset()
        if notify:
            dev = self.device
            for hook in dev.lab.registry.config_change_hooks:
                await call_hook(hook, dev, ConfigChange("bulk"))
            await dev.refresh()
        return self.errors
