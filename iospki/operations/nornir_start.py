"""Nornir started as `InitNornir` starts it, but with its connection plugins imported when a host first opens a
connection of that kind instead of up front.

    nr = start_nornir(inventory={...}, runner={...}, logging={"enabled": False})

`InitNornir` imports every installed connection plugin first; NAPALM's imports all NAPALM drivers (junos, eos,
nxos ...): about 0.7 s of CPU on every `iospki` command, also on those that never open a NAPALM session
(`collect --no-facts`, `status --offline`), more than bare netmiko spends importing itself.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, cast

from nornir.core import Nornir
from nornir.core.configuration import Config
from nornir.core.plugins.connections import ConnectionPlugin, ConnectionPluginRegister
from nornir.core.state import GlobalState
from nornir.init_nornir import load_inventory, load_runner

CONNECTIONS_GROUP = "nornir.plugins.connections"  # the entry point group InitNornir loads them from


class _Deferred(type):
    """The class of a stand-in for a connection plugin class: instantiating it imports the plugin and returns the
    plugin's own instance. It compares equal to the plugin class, so a later `InitNornir` in the same process
    (a runbook's own) registers the plugin again without a conflict."""

    _entry: metadata.EntryPoint

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.plugin()(*args, **kwargs)

    def plugin(cls) -> type:
        real: type = cls._entry.load()
        return real

    def __eq__(cls, other: object) -> bool:
        return other is cls or (
            isinstance(other, type) and not isinstance(other, _Deferred) and other is cls.plugin()
        )

    def __ne__(cls, other: object) -> bool:
        return not _Deferred.__eq__(cls, other)

    def __hash__(cls) -> int:
        return id(cls)


def register_connections() -> None:
    """Every installed Nornir connection plugin, registered under its name as a stand-in that imports it on first
    use; a name already registered (a real plugin, e.g. by an earlier InitNornir) is left as it is."""
    for entry in metadata.entry_points(group=CONNECTIONS_GROUP):
        if entry.name not in ConnectionPluginRegister.available:
            stand_in = _Deferred(f"Deferred[{entry.name}]", (), {"_entry": entry})
            # instantiating it gives the plugin's own instance, which is all Nornir does with a plugin class
            ConnectionPluginRegister.register(entry.name, cast("type[ConnectionPlugin]", stand_in))


def start_nornir(**config: Any) -> Nornir:
    """`InitNornir(**config)` (no config file, not a dry run) with the connection plugins registered lazily."""
    register_connections()
    cfg = Config.from_dict(**config)
    cfg.logging.configure()
    return Nornir(
        inventory=load_inventory(cfg), runner=load_runner(cfg), config=cfg, data=GlobalState(dry_run=False)
    )
