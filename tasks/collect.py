"""Task: run the PKI show commands on a host and store raw outputs, parsed JSON and NAPALM facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nornir.core.task import Result, Task

from iospki.operations import interrupt
from iospki.state import store

from .connection import show

BASE_COMMANDS = [
    "show version",
    "show clock detail",
    "show ntp status",
    "show running-config",
    "show crypto pki certificates",
    "show crypto pki certificates verbose",
    "show crypto pki trustpoints",
    "show crypto pki trustpoints status",
    "show crypto key mypubkey rsa",
    "show crypto pki timers",
    # failed validations are an early sign of a broken chain (a peer or a renewal the CA refused)
    "show crypto pki counters",
]
# the trustpool only where the platform has it (behaviour doc §5: IOS-XE): a command a device refuses is
# recorded as an error of the host, so classic IOS is not asked
IOSXE_COMMANDS = ["show crypto pki timers detail", "show crypto pki trustpool"]


def pki_commands(family: str | None, ca_servers: Iterable[str] = ()) -> list[str]:
    """The commands collected for a host of `family` ('ios'/'iosxe') serving `ca_servers`."""
    cmds = list(BASE_COMMANDS)
    if family == "iosxe":
        cmds += IOSXE_COMMANDS
    for name in ca_servers:
        cmds += server_commands(name)
    return list(dict.fromkeys(cmds))


def server_commands(name: str) -> list[str]:
    """The commands that read certificate server `name`."""
    return [
        "show crypto pki server",
        f"show crypto pki server {name} requests",
        f"show crypto pki server {name} certificates",
    ]


def _follow_version(cmds: list[str], skip: set[str], model: Any, inventory_family: str | None) -> None:
    """The device's own `show version` settles the family-only commands the inventory's `family` chose:
    asking classic IOS for its (absent) trustpool would store a refusal (an error of the host), and an IOS-XE
    host the inventory does not describe is still read in full."""
    family = getattr(model, "family", None)
    if family is None or family == inventory_family:
        return
    if family == "ios":
        skip.update(IOSXE_COMMANDS)
    elif family == "iosxe":
        cmds.extend(c for c in IOSXE_COMMANDS if c not in cmds)


def _servers_in(model: Any) -> list[str]:
    """Names of the `crypto pki server` blocks in a parsed running-config (none for anything else)."""
    servers = getattr(model, "servers", None) or []
    return [s.name for s in servers if getattr(s, "name", None)]


def _parse(command: str, text: str, family: str | None) -> tuple[Any, str | None]:
    from iospki.parsers import ParseError, UnknownCommand, parse

    try:
        return parse(command, text, family), None
    except UnknownCommand:
        return None, None
    except ParseError as exc:  # also a parser's own bug: `parse` turns it into a ParseError
        return None, str(exc)


def collect_pki(
    task: Task,
    output: str | Path,
    ca_servers: Iterable[str] = (),
    secrets: Iterable[str] = (),
    facts: bool = True,
    commands: list[str] | None = None,
) -> Result:
    """Store `DIR/<host>/<command>.txt` (redacted) for every PKI command, `<command>.json` for those that parse,
    `parse_errors.json` for those that do not, and `facts.json` from NAPALM get_facts.
    Result: {'commands': [...], 'parse_errors': {...}, 'facts': {...} | None}."""
    with store.durable_batch():  # the host's files: one data flush and one directory fsync, not two per file
        return _collect(task, output, ca_servers, secrets, facts, commands)


def _collect(
    task: Task,
    output: str | Path,
    ca_servers: Iterable[str],
    secrets: Iterable[str],
    facts: bool,
    commands: list[str] | None,
) -> Result:
    family = task.host.get("family")
    cmds = commands or pki_commands(family, ca_servers)
    # a CA server the inventory does not mark (or marks under another name) is still read:
    # the running config says which servers the box has
    discover = commands is None
    secrets = list(secrets)
    store.clear_error(output, task.host.name)
    errors: dict[str, str] = {}
    read_times: dict[str, list[str]] = {}  # command -> [sent, answered] on the jump host's clock (UTC)
    skip: set[str] = set()  # chosen from the inventory, dropped by the device's `show version`
    for cmd in cmds:  # grows while iterating when the running config names a server
        if cmd in skip:
            continue
        sent = datetime.now(timezone.utc)
        raw = show(task, cmd, read_timeout=60)
        read_times[cmd] = [sent.isoformat(), datetime.now(timezone.utc).isoformat()]
        text = store.redact(raw, secrets)  # once: what is stored is what is parsed
        store.write_output(output, task.host.name, cmd, text, redacted=True)
        if "% Invalid input detected" in text or "% Incomplete command" in text:
            errors[cmd] = "the device rejected the command: " + next(
                ln.strip() for ln in text.splitlines() if ln.strip().startswith("%")
            )
            continue
        model, err = _parse(cmd, text, family)
        if discover and cmd == "show version" and model is not None:
            _follow_version(cmds, skip, model, family)
        if discover and cmd == "show running-config" and model is not None:
            cmds.extend(c for name in _servers_in(model) for c in server_commands(name) if c not in cmds)
        if model is not None:
            store.write_json(
                output,
                task.host.name,
                store.command_filename(cmd)[:-4],
                model.model_dump(mode="json"),
                secrets,
            )
        if err:
            errors[cmd] = err
    store.write_json(output, task.host.name, store.PARSE_ERRORS, errors, secrets)
    # when each output was read: the audit compares device clocks (show clock) across hosts with it
    store.write_json(output, task.host.name, store.READ_TIMES, read_times, secrets)
    got: dict[str, Any] | None = None
    if facts:
        interrupt.check("NAPALM get_facts")  # not through cli(): the facts' session is NAPALM's own
        try:
            napalm = task.host.get_connection("napalm", task.nornir.config)
            got = dict(napalm.get_facts())
            store.write_json(output, task.host.name, store.FACTS, got, secrets)
        except Exception as exc:  # facts are extra: record why, keep the PKI outputs
            errors["napalm get_facts"] = f"{type(exc).__name__}: {exc}"
            store.write_json(output, task.host.name, store.PARSE_ERRORS, errors, secrets)
    cmds = [c for c in cmds if c not in skip]
    return Result(host=task.host, result={"commands": cmds, "parse_errors": errors, "facts": got})
