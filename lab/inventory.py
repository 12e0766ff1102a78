"""Read a Nornir SimpleInventory with plain yaml: hosts, groups (with inheritance) and defaults."""

from __future__ import annotations

import importlib.resources
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class InventoryError(Exception):
    pass


@dataclass
class HostSpec:
    name: str
    address: str
    port: int
    username: str
    password: str
    secret: str
    family: str | None
    platform_family: str | None
    model: str | None
    software: str | None
    privilege: int = 15
    data: dict[str, Any] = field(default_factory=dict)


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InventoryError(f"{path}: expected a mapping at top level")
    return loaded


class _Resolver:
    def __init__(self, groups: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.groups = groups
        self.defaults = defaults

    def group_chain(self, names: list[str], seen: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Groups in Nornir precedence order: each group before its own parents, depth first."""
        out: list[dict[str, Any]] = []
        for n in names:
            if n in seen:
                raise InventoryError(f"group loop through {n!r}")
            g = self.groups.get(n)
            if g is None:
                raise InventoryError(f"unknown group {n!r}")
            g = g or {}
            out.append(g)
            out.extend(self.group_chain(list(g.get("groups") or []), (*seen, n)))
        return out

    def attr(self, host: dict[str, Any], chain: list[dict[str, Any]], key: str) -> Any:
        for src in [host, *chain, self.defaults]:
            if src.get(key) is not None:
                return src[key]
        return None

    def data(self, host: dict[str, Any], chain: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for src in reversed([host, *chain, self.defaults]):
            merged.update(src.get("data") or {})
        return merged

    def extras(self, host: dict[str, Any], chain: list[dict[str, Any]], conn: str) -> dict[str, Any]:
        for src in [host, *chain, self.defaults]:
            co = (src.get("connection_options") or {}).get(conn) or {}
            if co.get("extras") is not None:
                return dict(co["extras"])
        return {}


def builtin_inventory() -> Path:
    """The built-in lab's inventory: the top-level `inventory/` folder, installed as the package data
    `iospki.builtin_inventory` (a wheel install has no checkout to find it in). `up` defaults to it as the
    toolkit's `--inventory` does; the lab and the toolkit share these data files, never code."""
    return Path(str(importlib.resources.files("iospki.builtin_inventory")))


def load_inventory(directory: Path, only_lab: bool = True) -> list[HostSpec]:
    """Hosts of the inventory in `directory` whose resolved data has `lab: true` (all hosts if not only_lab)."""
    directory = Path(directory)
    config = _load(directory / "config.yaml")
    opts = ((config.get("inventory") or {}).get("options")) or {}
    hosts = _load(directory / opts.get("host_file", "hosts.yaml"))
    groups = _load(directory / opts.get("group_file", "groups.yaml"))
    defaults = _load(directory / opts.get("defaults_file", "defaults.yaml"))
    if not hosts:
        raise InventoryError(f"{directory}: no hosts (hosts.yaml missing or empty)")
    res = _Resolver(groups, defaults)
    specs: list[HostSpec] = []
    seen: set[tuple[str, int]] = set()
    for name, host in hosts.items():
        host = host or {}
        try:
            chain = res.group_chain(list(host.get("groups") or []))
        except InventoryError as exc:
            raise InventoryError(f"host {name}: {exc}") from exc
        data = res.data(host, chain)
        if only_lab and not data.get("lab"):
            continue
        address = str(res.attr(host, chain, "hostname") or "")
        try:
            ip = ipaddress.ip_address(address)
        except ValueError as exc:
            raise InventoryError(f"host {name}: hostname {address!r} is not an IP address") from exc
        if ip not in ipaddress.ip_network("127.0.0.0/8"):
            raise InventoryError(f"host {name}: address {address} is outside 127.0.0.0/8; the lab refuses it")
        port = int(res.attr(host, chain, "port") or 22)
        if (address, port) in seen:
            raise InventoryError(f"host {name}: {address}:{port} is used by another host")
        seen.add((address, port))
        nm = res.extras(host, chain, "netmiko")
        na = res.extras(host, chain, "napalm")
        secret = (
            nm.get("secret") or (na.get("optional_args") or {}).get("secret") or data.get("enable_secret")
        )
        if len(name) > 16:
            raise InventoryError(f"host {name}: name longer than 16 characters (netmiko cuts prompts at 16)")
        specs.append(
            HostSpec(
                name=str(name),
                address=address,
                port=port,
                username=str(res.attr(host, chain, "username") or "admin"),
                password=str(res.attr(host, chain, "password") or ""),
                secret=str(secret or ""),
                family=data.get("family"),
                platform_family=data.get("platform_family"),
                model=None if data.get("model") is None else str(data.get("model")),
                software=None if data.get("software") is None else str(data.get("software")),
                privilege=int(data.get("lab_privilege", 15)),
                data=data,
            )
        )
    if not specs:
        raise InventoryError(f"{directory}: no host has `lab: true` in its data")
    return specs
