"""Command registry: IOS-style patterns with abbreviations, and the matcher that resolves typed lines.

Pattern syntax (words separated by spaces):
  keyword        a literal keyword; the user may type any unambiguous prefix (`sh` for `show`)
  <name>         one argument word, available as m.args["name"]
  <name...>      one or more remaining words, joined with spaces, as m.args["name"]
  ...            zero or more remaining words, as m.rest (list)
  [word]         an optional keyword; [<name>] an optional argument
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iospki.lab.context import ConfigContext, ExecContext
    from iospki.lab.device import Device

ExecHandler = Callable[["ExecContext", "Match"], Awaitable[Any] | Any]
ConfigHandler = Callable[["ConfigContext", "Match"], Awaitable[Any] | Any]
DeviceHook = Callable[["Device"], Awaitable[Any] | Any]


@dataclass
class Match:
    """What a typed line matched: args by name, keywords present, trailing words."""

    pattern: str
    words: list[str]
    args: dict[str, str] = field(default_factory=dict)
    keywords: set[str] = field(default_factory=set)
    rest: list[str] = field(default_factory=list)
    negated: bool = False  # config mode: the line started with `no`
    line: str = ""  # canonical line: keywords spelled out, without `no`

    def has(self, keyword: str) -> bool:
        return keyword in self.keywords

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.args.get(name, default)


@dataclass
class Command:
    pattern: str
    tokens: list[str]
    handler: Any
    privileged: bool = True
    key: int | None = None
    submode: str | None = None
    hidden: bool = False
    order: int = 0
    fallback: bool = False  # catch-all for valid-looking global lines; never pulls a line out of a sub-mode
    store_no: bool = False  # `no X` is kept as a line when there is no X to remove (`no ip http server`)
    rest_at: int = 1 << 30  # index of the first `...`/`<x...>` token

    def __post_init__(self) -> None:
        for i, tok in enumerate(self.tokens):
            if _is_rest(tok):
                self.rest_at = i
                break


@dataclass
class ModeSpec:
    name: str  # also the prompt text: R1(<name>)#
    permissive: bool = True  # unknown lines are kept verbatim as children


@dataclass
class Outcome:
    kind: str  # ok | invalid | incomplete | ambiguous | empty
    command: Command | None = None
    match: Match | None = None
    position: int = 0  # index of the offending word (invalid)


def expand(pattern: str) -> list[list[str]]:
    """All token lists of a pattern with its optional parts present or absent."""
    parts = pattern.split()
    choices: list[list[str | None]] = []
    for p in parts:
        if p.startswith("[") and p.endswith("]"):
            choices.append([p[1:-1], None])
        else:
            choices.append([p])
    out: list[list[str]] = []
    for combo in itertools.product(*choices):
        toks = [t for t in combo if t is not None]
        if toks not in out:
            out.append(toks)
    return out


def _is_arg(tok: str) -> bool:
    return tok.startswith("<") and tok.endswith(">")


def _is_rest(tok: str) -> bool:
    return tok == "..." or (tok.startswith("<") and tok.endswith("...>"))


# id(list) -> (the list, its length, {first keyword: commands}, commands starting with an argument)
_INDEX: dict[int, tuple[list[Command], int, dict[str, list[Command]], list[Command]]] = {}


def indexed(commands: list[Command]) -> list[Command]:
    """Register a long-lived command list for fast resolution by its first keyword."""
    by_first: dict[str, list[Command]] = {}
    wild: list[Command] = []
    for c in commands:
        if not c.tokens:
            continue
        if c.tokens[0][0] in "<.":
            wild.append(c)
        else:
            by_first.setdefault(c.tokens[0], []).append(c)
    _INDEX[id(commands)] = (commands, len(commands), by_first, wild)
    return commands


def resolve(commands: list[Command], words: list[str]) -> Outcome:
    """Resolve typed words against commands the IOS way (prefix keywords, keyword beats argument)."""
    if not words:
        return Outcome("empty")
    first = words[0].lower()
    index = _INDEX.get(id(commands))
    if index is not None and index[0] is commands and index[1] == len(commands):
        cands = list(index[3])
        for key, group in index[2].items():
            if key.startswith(first):
                cands.extend(group)
    else:
        cands = [c for c in commands if c.tokens and (c.tokens[0].startswith(first) or c.tokens[0][0] in "<.")]
    for i, w in enumerate(words):
        lw = w.lower()
        kw_hits: dict[str, bool] = {}
        survivors: list[Command] = []
        for cmd in cands:
            if cmd.rest_at <= i:  # a rest token swallowed this word
                survivors.append(cmd)
                continue
            toks = cmd.tokens
            if i >= len(toks):
                continue
            tok = toks[i]
            if tok[0] == "<":
                survivors.append(cmd)
            elif tok.startswith(lw):
                kw_hits[tok] = kw_hits.get(tok, False) or tok == lw
                survivors.append(cmd)
        if not survivors:
            return Outcome("invalid", position=i)
        chosen: str | None = None
        if kw_hits:
            exact = [k for k, ex in kw_hits.items() if ex]
            if exact:
                chosen = exact[0]
            elif len(kw_hits) == 1:
                chosen = next(iter(kw_hits))
            else:
                arg_alive = any(
                    c.rest_at > i and i < len(c.tokens) and c.tokens[i][0] == "<" for c in survivors
                )
                if not arg_alive:
                    return Outcome("ambiguous", position=i)
        if chosen is not None:
            survivors = [
                c for c in survivors if c.rest_at <= i or i >= len(c.tokens) or c.tokens[i] == chosen
            ]
        elif kw_hits:  # ambiguous keywords but an argument can take the word
            survivors = [
                c for c in survivors if c.rest_at > i and i < len(c.tokens) and c.tokens[i][0] == "<"
            ]
        cands = survivors
    complete = []
    n = len(words)
    for cmd in cands:
        toks = cmd.tokens
        if n == len(toks) or cmd.rest_at < n or (n == len(toks) - 1 and toks[n] == "..."):
            complete.append((cmd, toks))
    if not complete:
        return Outcome("incomplete")

    def specificity(item: tuple[Command, list[str]]) -> tuple[int, int, int]:
        cmd, toks = item
        kws = sum(1 for t in toks[:n] if not _is_arg(t) and t != "...")
        return (-kws, 0 if len(toks) == n else 1, -cmd.order)  # later registrations (plugins) win ties

    complete.sort(key=specificity)
    cmd, toks = complete[0]
    m = Match(cmd.pattern, list(words))
    canonical: list[str] = []
    for i, tok in enumerate(toks):
        if tok == "...":
            m.rest = list(words[i:])
            canonical.extend(words[i:])
            break
        if _is_rest(tok):
            m.args[tok[1:-4]] = " ".join(words[i:])
            canonical.extend(words[i:])
            break
        if i >= n:
            break
        if _is_arg(tok):
            m.args[tok[1:-1]] = words[i]
            canonical.append(words[i])
        else:
            m.keywords.add(tok)
            canonical.append(tok)
    m.line = " ".join(canonical)
    return Outcome("ok", cmd, m)


class Registry:
    """Everything the CLI knows: built-in commands plus those plugins register (see lab/PLUGIN.md)."""

    def __init__(self) -> None:
        self.exec_commands: list[Command] = []
        self.config_commands: dict[str, list[Command]] = {"config": []}
        self.modes: dict[str, ModeSpec] = {"config": ModeSpec("config", permissive=False)}
        self.config_change_hooks: list[Callable[..., Any]] = []
        self.device_start_hooks: list[DeviceHook] = []
        self.device_stop_hooks: list[DeviceHook] = []
        self.authoritative_hooks: list[DeviceHook] = []
        self._order = itertools.count()
        self._views: dict[tuple[str, str], list[Command]] = {}

    def view(self, kind: str, mode: str = "config") -> list[Command]:
        """Cached, indexed command lists: kind exec (privileged), exec-user, config (all), config-nofallback."""
        key = (kind, mode)
        cached = self._views.get(key)
        if cached is not None:
            return cached
        if kind == "exec":
            cmds = list(self.exec_commands)
        elif kind == "exec-user":
            cmds = [c for c in self.exec_commands if not c.privileged]
        elif kind == "config":
            cmds = list(self.config_commands.get(mode, []))
        else:
            cmds = [c for c in self.config_commands.get(mode, []) if not c.fallback]
        self._views[key] = indexed(cmds)
        return cmds

    def exec(
        self, pattern: str, handler: ExecHandler, *, privileged: bool = True, hidden: bool = False
    ) -> None:
        """Register an exec-mode command. privileged=False makes it available at `R1>` too."""
        self._views.clear()
        for toks in expand(pattern):
            self.exec_commands.append(
                Command(pattern, toks, handler, privileged=privileged, hidden=hidden, order=next(self._order))
            )

    def config(
        self,
        pattern: str,
        handler: ConfigHandler | None = None,
        *,
        mode: str = "config",
        key: int | None = None,
        submode: str | None = None,
        store_no: bool = False,
        fallback: bool = False,
    ) -> None:
        """Register a configuration command in `mode` ("config" = global, or a sub-mode name).

        handler None: the line is stored in the current block (replacing a line with the same first `key`
        words when key is given; `no ...` removes it). submode: the line opens a block and enters that mode.
        """
        if mode not in self.modes:
            self.mode(mode)
        if submode is not None and submode not in self.modes:
            self.mode(submode)
        self._views.clear()
        for toks in expand(pattern):
            self.config_commands.setdefault(mode, []).append(
                Command(
                    pattern,
                    toks,
                    handler,
                    key=key,
                    submode=submode,
                    store_no=store_no,
                    fallback=fallback,
                    order=next(self._order),
                )
            )

    def mode(self, name: str, *, permissive: bool = True) -> ModeSpec:
        """Declare a config sub-mode; its prompt is `HOST(<name>)#`."""
        spec = self.modes.get(name)
        if spec is None:
            spec = ModeSpec(name, permissive)
            self.modes[name] = spec
            self.config_commands.setdefault(name, [])
        else:
            spec.permissive = permissive
        return spec

    def on_config_change(self, hook: Callable[..., Any]) -> None:
        """hook(device, change: ConfigChange) after each applied config line, file copy, replace or reload."""
        self.config_change_hooks.append(hook)

    def on_device_start(self, hook: DeviceHook) -> None:
        """hook(device) when a device boots (lab start and every reload), after its startup config is applied."""
        self.device_start_hooks.append(hook)

    def on_device_stop(self, hook: DeviceHook) -> None:
        """hook(device) before a device reloads or the lab stops."""
        self.device_stop_hooks.append(hook)

    def on_authoritative(self, hook: DeviceHook) -> None:
        """hook(device) when the device's clock becomes authoritative (NTP sync or `clock calendar-valid`)."""
        self.authoritative_hooks.append(hook)


def help_for(commands: list[Command], words: list[str], prefix: str) -> list[str] | None:
    """Context help (`?`): what may follow the complete `words`; with `prefix`, the keywords it starts.

    Returns the entries in registry order ('<cr>' when the words already form a command), or None when
    the words match nothing (IOS: '% Unrecognized command')."""
    n = len(words)
    found: list[str] = []
    matched = False
    lp = prefix.lower()
    for cmd in commands:
        toks = cmd.tokens
        if cmd.hidden or cmd.fallback or not toks:
            continue
        ok = True
        for i, w in enumerate(words):
            if cmd.rest_at <= i:
                break
            if i >= len(toks) or not (toks[i][0] == "<" or toks[i].startswith(w.lower())):
                ok = False
                break
        if not ok:
            continue
        entry: str | None
        if cmd.rest_at <= n:
            entry = "LINE" if not prefix else None
            matched = True
        elif n < len(toks):
            tok = toks[n]
            if tok[0] == "<":
                entry = tok.replace("...", "") if not prefix else None
            else:
                entry = tok if tok.startswith(lp) else None
            matched = matched or entry is not None
        else:
            entry = "<cr>" if not prefix else None
            matched = matched or entry is not None
        if entry is not None and entry not in found:
            found.append(entry)
    if not matched:
        return None
    if "<cr>" in found:  # IOS lists <cr> last
        found.remove("<cr>")
        found.append("<cr>")
    return found
