"""One IOS CLI session on an SSH shell channel: raw input, exact echo, prompts, modes, pipes, questions."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from typing import TYPE_CHECKING, Any

from iospki.lab.context import CommandError, ExecContext
from iospki.lab.engine import ConfigEngine, error_text, redact
from iospki.lab.registry import help_for, resolve

if TYPE_CHECKING:
    from iospki.lab.device import Device

log = logging.getLogger("iospki.lab.shell")

CTRL_Z = "\x1a"
CTRL_C = "\x03"
HELP = "\x00?"  # marks a `?` in the line queue: context help for the text before it
MORE = " --More-- "
MORE_ERASE = "\b" * len(MORE) + " " * len(MORE) + "\b" * len(MORE)  # IOS rubs the marker out
CANCEL = "\x00^C"  # Ctrl-C outside a question: the typed text is dropped
PIPES = ("include", "exclude", "begin", "section", "count")
MAX_LINE = 4096  # characters kept of one input line; the rest is dropped (IOS's line buffer is bounded too)


class Aborted(CommandError):
    """Ctrl-C at a question: the command stops, nothing more happens, the prompt comes back."""

    def __init__(self) -> None:
        super().__init__("^C")


class SessionClosed(BaseException):
    """The user's connection went away while a command waited for input. A BaseException, like
    CancelledError, so that `except Exception` in a command handler cannot swallow it."""


class PipeTerm:
    """Collects a command's output so a `| include ...` filter can run over it."""

    def __init__(self, session: CliSession) -> None:
        self.session = session
        self.parts: list[str] = []
        self.interactive = session.interactive
        self.user, self.peer, self.line_name = session.user, session.peer, session.line_name

    def write(self, text: str) -> None:
        self.parts.append(text)

    async def read_answer(self, hide: bool) -> str:
        self.session.write("".join(self.parts))
        self.parts.clear()
        return await self.session.read_answer(hide)


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error:  # IOS treats what it cannot parse as literal text
        return re.compile(re.escape(pattern))


def _sections(lines: list[str]) -> list[list[str]]:
    """Top-level lines, each with the indented lines below it."""
    out: list[list[str]] = []
    for ln in lines:
        if ln.startswith(" ") and out:
            out[-1].append(ln)
        else:
            out.append([ln])
    return out


def apply_pipe(text: str, kind: str, pattern: str) -> str:
    lines = text.split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]
    if kind == "section":
        # `| section [include|exclude] RX`: a section is shown whole when its header or any of its lines match
        words = pattern.split(None, 1)
        exclude = False
        if len(words) == 2 and words[0].lower() in ("include", "exclude", "i", "in", "e", "ex"):
            exclude = words[0].lower().startswith("e")
            pattern = words[1]
        rx = _regex(pattern)
        keep = [sec for sec in _sections(lines) if any(rx.search(x) for x in sec) != exclude]
        return "".join(x + "\n" for sec in keep for x in sec)
    rx = _regex(pattern)
    if kind == "include":
        out = [ln for ln in lines if rx.search(ln)]
    elif kind == "exclude":
        out = [ln for ln in lines if not rx.search(ln)]
    elif kind == "begin":
        first = next((i for i, ln in enumerate(lines) if rx.search(ln)), len(lines))
        out = lines[first:]
    else:  # count
        return f"Number of lines which match regexp = {sum(1 for ln in lines if rx.search(ln))}\n"
    return "".join(x + "\n" for x in out)


class CliSession:
    """State machine of one interactive session. `feed()` gets raw input; output goes to `writer`."""

    interactive = True

    def __init__(self, device: Device, writer: Any, user: str, peer: str, privilege: int) -> None:
        self.device = device
        self.writer = writer
        self.user = user
        self.peer = peer
        self.privilege = privilege
        self.line_name = "vty0"
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self._buf: list[str] = []
        self._partial = ""
        self._last_cr = False
        self.engine: ConfigEngine | None = None  # set while in config mode
        self.closed = False
        self._eof = False  # the client sent EOF
        self._chunks: asyncio.Task[None] | None = None  # pending streamed output (fault chunked)
        self.config_lines = 0  # config lines received (fault drop-config)
        self.terminal_length = 24
        self.terminal_width = 80
        self.asking = False  # a command waits for an answer (Ctrl-C aborts it)
        self._echoed = 0  # characters of the line being typed already echoed (by a `?` help re-display)
        self._more: asyncio.Future[str] | None = None  # waiting for the key that answers --More--

    # -- output ------------------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        self._buf.append(text)

    def flush(self) -> None:
        if not self._buf or self.closed:
            self._buf.clear()
            return
        data = "".join(self._buf).replace("\r\n", "\n").replace("\n", "\r\n")
        self._buf.clear()
        if "chunked" in self.device.faults or self._chunks is not None:
            # a streaming device: small pieces with pauses, to expose clients that stop reading too early
            previous = self._chunks
            self._chunks = asyncio.get_running_loop().create_task(self._write_chunked(data, previous))
            return
        self._write(data)

    def _write(self, data: str) -> None:
        try:
            self.writer.write(data)
        except Exception:  # channel gone
            self.closed = True

    async def _write_chunked(self, data: str, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await previous
        for i in range(0, len(data), 80):
            self._write(data[i : i + 80])
            await asyncio.sleep(0.02)
        if self._chunks is asyncio.current_task():
            self._chunks = None

    @property
    def prompt(self) -> str:
        host = self.device.hostname
        if self.engine is not None:
            return f"{host}({self.engine.mode})#"
        return f"{host}{'#' if self.privilege >= 15 else '>'}"

    # -- input -------------------------------------------------------------------------------------------
    def feed(self, data: str) -> None:
        """Split raw input into lines: \\r, \\n and \\r\\n each end a line once; Ctrl-Z is its own line."""
        for ch in data:
            if self._more is not None and not self._more.done():
                self._more.set_result(ch)  # the key that answers --More-- is not part of any line
                self._last_cr = ch == "\r"
                continue
            if ch == "\n" and self._last_cr:
                self._last_cr = False
                continue
            self._last_cr = ch == "\r"
            if ch in "\r\n":
                self.lines.put_nowait(self._partial)
                self._partial = ""
            elif ch == CTRL_Z:
                self.lines.put_nowait(self._partial + CTRL_Z)
                self._partial = ""
            elif ch == "?" and not self.asking:
                # IOS answers `?` at once, then shows the prompt with the line typed so far, to go on typing
                self.lines.put_nowait(self._partial + HELP)
            elif ch == CTRL_C:
                self._partial = ""
                self.lines.put_nowait(CTRL_C if self.asking else CANCEL)
            elif ch in ("\x08", "\x7f"):
                self._partial = self._partial[:-1]
            elif ch == "\x00":
                continue
            elif len(self._partial) < MAX_LINE:
                self._partial += ch

    def eof(self) -> None:
        """The client sent EOF (or vanished): lines already received still run, then the session ends."""
        self._eof = True
        self._stop_more()
        self.lines.put_nowait("\x04")

    def _stop_more(self) -> None:
        if self._more is not None and not self._more.done():
            self._more.set_result("")

    async def _next_line(self) -> str:
        self.flush()
        line = await self.lines.get()
        if line == "\x04" and (self.closed or self._eof):
            raise SessionClosed()
        return line

    async def read_answer(self, hide: bool) -> str:
        self.asking = True
        try:
            line = await self._next_line()
        finally:
            self.asking = False
        if line in (CTRL_C, CANCEL):
            raise Aborted()
        self.write(("" if hide else line.replace(CTRL_Z, "")) + "\n")
        return line.replace(CTRL_Z, "")

    # -- main loop ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        self.write("\n" + self.prompt)
        try:
            while not self.closed:
                line = await self._next_line()
                if line.endswith(HELP):
                    self.context_help(line[: -len(HELP)])
                    continue
                if line == CANCEL:
                    if self._echoed:  # text shown by a help re-display is abandoned
                        self.write("^C\n" + self.prompt)
                        self._echoed = 0
                    continue
                line_echo, self._echoed = line[self._echoed :], 0
                if "slow" in self.device.faults:
                    await asyncio.sleep(0.5)
                if "drop-session" in self.device.faults:
                    break
                if self.engine is not None and "drop-config" in self.device.faults and line.strip():
                    self.config_lines += 1
                    if self.config_lines > 2:
                        break
                self.write(line_echo.replace(CTRL_Z, "^Z") + "\n")
                try:
                    keep = await self.handle_line(line)
                except SessionClosed:
                    raise
                except Exception:  # one command's bug never kills the session or the lab
                    log.exception("%s: command %r failed", self.device.name, redact(line))
                    self.write("% Internal error\n\n")
                    keep = True
                if not keep:
                    break
                self.write(self.prompt)
        except SessionClosed:
            pass
        finally:
            self.flush()
            if self._chunks is not None:  # let a streamed answer finish before the channel closes
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._chunks), 30)
            self.closed = True

    def context_help(self, typed: str) -> None:
        """`?`: the choices at this point of the line, then the prompt and the line again."""
        text = typed.lstrip()
        words = text.split()
        prefix = "" if not text or text[-1] == " " else words.pop()
        lw = [w.lower() for w in words]
        if self.engine is not None:
            reg = self.device.lab.registry
            if lw[:1] == ["do"]:
                found = help_for(reg.view("exec"), words[1:], prefix)
            else:
                found = help_for(
                    reg.view("config", self.engine.mode), words[1:] if lw[:1] == ["no"] else words, prefix
                )
                if found is None or not words:  # a global command also works from a sub-mode
                    glob = (
                        help_for(reg.view("config"), words, prefix) if self.engine.mode != "config" else None
                    )
                    found = (found or []) + [x for x in (glob or []) if x not in (found or [])] or found
        else:
            view = "exec" if self.privilege >= 15 else "exec-user"
            found = help_for(self.device.lab.registry.view(view), words, prefix)
        self.write(typed[self._echoed :] + "?\n")
        self._echoed = len(typed)
        if found is None:
            self.write("% Unrecognized command\n")
        elif prefix:
            self.write("  ".join(found) + "\n\n")
        else:
            self.write("".join(f"  {x}\n" for x in found) + "\n")
        self.write(self.prompt + typed)

    async def handle_line(self, line: str) -> bool:
        """Returns False when the session ends."""
        if self.engine is not None:
            return await self._config_line(line)
        stripped = line.replace(CTRL_Z, "").strip()
        if not stripped:
            return True
        return await self.run_exec(stripped)

    async def _config_line(self, line: str) -> bool:
        assert self.engine is not None
        ctrl_z = line.endswith(CTRL_Z)
        text = line.replace(CTRL_Z, "")
        result = "ok"
        if text.strip():
            result = await self.engine.apply_line(text, prompt_len=len(self.prompt))
        if ctrl_z or result in ("end", "exit"):
            self.leave_config()
        return True

    def enter_config(self) -> None:
        self.engine = ConfigEngine(self.device, self, self._do_exec)
        self.config_lines = 0

    def leave_config(self) -> None:
        self.engine = None
        self.device.syslog(
            f"%SYS-5-CONFIG_I: Configured from console by {self.user} on {self.line_name} ({self.peer})"
        )

    async def _do_exec(self, line: str) -> None:
        await self.run_exec(line, from_config=True)

    async def run_exec(self, stripped: str, from_config: bool = False) -> bool:
        cmd_text, pipe = stripped, None
        if "|" in stripped:
            cmd_text, _, pipe_text = stripped.partition("|")
            cmd_text = cmd_text.rstrip()
            pw = pipe_text.split(None, 1)
            kind = next((p for p in PIPES if pw and p.startswith(pw[0].lower())), None)
            if kind is None or len(pw) < 2 and kind != "count":
                self.write(error_text_for_pipe(stripped, len(self.prompt)))
                return True
            pipe = (kind, pw[1] if len(pw) > 1 else ".*")
        words = cmd_text.split()
        if not words:
            return True
        reg = self.device.lab.registry
        commands = reg.view("exec" if self.privilege >= 15 else "exec-user")
        outcome = resolve(commands, words)
        if outcome.kind != "ok":
            offset = len(self.prompt) + (3 if from_config else 0)
            self.write(error_text(outcome, cmd_text, offset))
            return True
        assert outcome.command is not None and outcome.match is not None
        truncate = "truncate-output" in self.device.faults and words[0].lower().startswith("sh")
        paged = self.terminal_length > 0
        term: Any = PipeTerm(self) if pipe or truncate or paged else self
        ctx = ExecContext(self.device, term, privileged=self.privilege >= 15)
        ctx.session = self
        try:
            result = outcome.command.handler(ctx, outcome.match)
            if inspect.isawaitable(result):
                result = await result
        except CommandError as exc:
            term.write(exc.message if exc.message.endswith("\n") else exc.message + "\n")
            result = None
        if isinstance(result, str) and result:
            term.write(result if result.endswith("\n") else result + "\n")
        if term is not self:
            text = "".join(term.parts)
            if pipe:
                text = apply_pipe(text, pipe[0], pipe[1])
            elif truncate:
                kept = text.splitlines(keepends=True)
                text = "".join(kept[: len(kept) // 2])
            await self.page(text)
        if result is False:
            return False
        return not self.closed

    async def page(self, text: str) -> None:
        """Write command output a screen at a time (`terminal length N`, 0 = no paging), as IOS does:
        ' --More-- ' after N-1 lines; space shows the next screen, Enter one more line, any other key stops."""
        lines = text.splitlines(keepends=True)
        screen = max(1, self.terminal_length - 1)
        if self.terminal_length <= 0 or len(lines) <= screen:
            self.write(text)
            return
        self.write("".join(lines[:screen]))
        shown = screen
        while shown < len(lines):
            self.write(MORE)
            key = await self._key()
            self.write(MORE_ERASE)
            if key == " ":
                step = screen
            elif key in ("\r", "\n"):
                step = 1
            else:
                self.write("\n" if not lines[shown - 1].endswith("\n") else "")
                return
            self.write("".join(lines[shown : shown + step]))
            shown += step

    async def _key(self) -> str:
        """One keystroke (for --More--); '' when the session is ending."""
        if self.closed or self._eof:
            return ""
        self.flush()
        self._more = asyncio.get_running_loop().create_future()
        try:
            return await self._more
        finally:
            self._more = None

    def close(self) -> None:
        """Close from the lab side (reload, lab stop, drop-session fault)."""
        self.closed = True
        self._stop_more()
        self.lines.put_nowait("\x04")


def error_text_for_pipe(line: str, offset: int) -> str:
    col = line.index("|") + 1
    while col < len(line) and line[col] == " ":
        col += 1
    return " " * (offset + col) + "^\n% Invalid input detected at '^' marker.\n\n"
