"""Load the Nornir inventory of a directory, with credentials from the environment and a `--limit` filter.

    nr = load_nornir("inventory", limit="r*,!r3")

Credentials: `IOSPKI_USERNAME`, `IOSPKI_PASSWORD`, `IOSPKI_ENABLE_SECRET` override what the inventory
holds (the nornir-utils way); the inventory files may hold throwaway credentials only for `lab: true` hosts.
A non-lab host without a password from the environment is a configuration error.
CA passphrase and challenge password come from `IOSPKI_CA_PASSPHRASE` / `IOSPKI_CHALLENGE_PASSWORD`
(lab defaults only for lab hosts), see `pki_secrets()`.
"""

from __future__ import annotations

import fnmatch
import importlib.resources
import logging
import os
import re
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from netutils.lib_mapper import NAPALM_LIB_MAPPER_REVERSE
from nornir.core import Nornir
from nornir.core.inventory import ConnectionOptions, Host

from iospki.operations import settings
from iospki.operations.nornir_start import start_nornir
from iospki.state.store import host_name_problem

# The built-in lab inventory: the top-level `inventory/` folder, shipped as the package data
# `iospki.builtin_inventory`, so an installed toolkit (not only a checkout) finds it from any directory.
DEFAULT_INVENTORY = Path(str(importlib.resources.files("iospki.builtin_inventory")))

# Throwaway secrets of the built-in lab; used only for hosts whose data says `lab: true`.
LAB_CA_PASSPHRASE = "lab-only-ca-passphrase"
LAB_CHALLENGE_PASSWORD = "lab-only-challenge"

ENV_USERNAME = "IOSPKI_USERNAME"
ENV_PASSWORD = "IOSPKI_PASSWORD"
ENV_ENABLE = "IOSPKI_ENABLE_SECRET"
ENV_CA_PASSPHRASE = "IOSPKI_CA_PASSPHRASE"
ENV_CHALLENGE = "IOSPKI_CHALLENGE_PASSWORD"
ENV_MAX_HOSTS = settings.MAX_HOSTS.name  # hosts worked on at once (overrides the runner's num_workers)
ENV_KNOWN_HOSTS = "IOSPKI_KNOWN_HOSTS"  # OpenSSH known_hosts file: host keys are then checked strictly


class InventoryError(ValueError):
    """The inventory cannot be used (missing files, bad YAML, missing credentials, a limit that matches nothing)."""


@dataclass(frozen=True)
class PkiSecrets:
    ca_passphrase: str | None
    challenge_password: str | None

    def values(self) -> list[str]:
        return [s for s in (self.ca_passphrase, self.challenge_password) if s]


def _empty_ssh_config() -> str:
    # A developer's ~/.ssh/config (ProxyJump ...) must not leak into connections.
    path = Path(tempfile.gettempdir()) / "iospki-empty-ssh-config"
    if not path.exists():
        path.write_text("")
    return str(path)


def _quiet_nornir_logs() -> None:
    # Nornir logs every failed task with its traceback; the commands report failures themselves.
    log = logging.getLogger("nornir")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    log.propagate = False


def load_nornir(
    inventory: str | Path | None = None, limit: str | None = None, num_workers: int | None = None
) -> Nornir:
    """Nornir over the SimpleInventory in `inventory` (a directory holding config.yaml), filtered by `limit`."""
    _quiet_nornir_logs()
    inv_dir = Path(inventory) if inventory else DEFAULT_INVENTORY
    cfg_file = inv_dir / "config.yaml"
    if not inv_dir.is_dir():
        raise InventoryError(f"inventory directory {inv_dir} does not exist")
    cfg: dict[str, Any] = {}
    if cfg_file.exists():
        try:
            cfg = yaml.safe_load(cfg_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InventoryError(f"{cfg_file}: not valid YAML: {exc}") from None
    inv_cfg = dict(cfg.get("inventory") or {"plugin": "SimpleInventory"})
    opts = dict(inv_cfg.get("options") or {})
    for key, default in (
        ("host_file", "hosts.yaml"),
        ("group_file", "groups.yaml"),
        ("defaults_file", "defaults.yaml"),
    ):
        p = inv_dir / str(opts.get(key, default))
        if key == "host_file" and not p.exists():
            raise InventoryError(f"{p} does not exist")
        opts[key] = str(p)
    inv_cfg["options"] = opts
    runner = dict(cfg.get("runner") or {"plugin": "threaded", "options": {"num_workers": 20}})
    try:
        env_workers = settings.count(settings.MAX_HOSTS)
    except settings.SettingError as exc:  # not a silent 20 at once when the operator asked for fewer
        raise InventoryError(str(exc)) from None
    if not num_workers and env_workers is not None:
        num_workers = env_workers  # N: at most this many hosts at once
    if num_workers:
        runner["options"] = {**(runner.get("options") or {}), "num_workers": num_workers}
    try:
        nr = start_nornir(  # InitNornir, with NAPALM imported only when a host opens a NAPALM session
            inventory=inv_cfg,
            runner=runner,
            logging={"enabled": False},
            ssh={"config_file": _empty_ssh_config()},
        )
    except Exception as exc:  # ruamel/yaml parse errors, wrong types in the files
        kind = "not valid YAML" if "yaml" in type(exc).__module__.lower() else type(exc).__name__
        msg = " ".join(str(exc).split())
        raise InventoryError(f"inventory {inv_dir}: {kind}: {msg[:300]}") from None
    bad = [f"host {n!r}: {why}" for n in nr.inventory.hosts if (why := host_name_problem(n))]
    if bad:
        # a host name becomes a folder under collections and backups: refuse before anything runs
        raise InventoryError(f"inventory {inv_dir}: {'; '.join(bad)} (host names must be safe file names)")
    for host in nr.inventory.hosts.values():
        apply_credentials(host)
        map_platforms(host)
        apply_known_hosts(host, inv_dir)
    if limit:
        nr = apply_limit(nr, limit)
    return nr


def is_lab(host: Host) -> bool:
    return bool(host.get("lab", False))


def apply_credentials(host: Host) -> None:
    """Environment credentials override the inventory's; non-lab hosts must get theirs from somewhere real."""
    user = os.environ.get(ENV_USERNAME)
    password = os.environ.get(ENV_PASSWORD)
    secret = os.environ.get(ENV_ENABLE)
    if user:
        host.username = user
    if password:
        host.password = password
    if secret is not None:
        set_connection_extras(host, {"secret": secret})
    if not is_lab(host) and not password:
        # Inventory-held passwords are for the lab only.
        host.password = None
    if not is_lab(host) and not host.password:
        host.data["_credential_error"] = (
            f"{host.name}: no password: set {ENV_PASSWORD} (and {ENV_USERNAME}, {ENV_ENABLE})"
        )


KNOWN_HOSTS_FILE = "known_hosts"  # default for non-lab hosts, in the inventory directory (keyscan writes it)


def apply_known_hosts(host: Host, inv_dir: Path) -> None:
    """SSH host keys are checked against a known_hosts file: IOSPKI_KNOWN_HOSTS, else `known_hosts: FILE` in the
    host data (relative to the inventory), else, for a non-lab host, `<inventory>/known_hosts`. An unknown or
    changed key refuses the connection before authentication. A non-lab host with no such file is refused
    before anything connects (`_host_key_error`, reported by `credential_errors`): its key could not be checked,
    so its password and enable secret would go to whoever answers. `iospki inventory keyscan` writes the file.
    A lab host without a file connects unchecked; the lab writes `<state>/known_hosts` to trust it explicitly."""
    host.data.pop("_host_key_error", None)
    path = os.environ.get(ENV_KNOWN_HOSTS) or host.get("known_hosts")
    if not path and is_lab(host):
        return
    file = Path(str(path or KNOWN_HOSTS_FILE)).expanduser()
    if not file.is_absolute():
        file = inv_dir / file
    if not file.is_file() and not is_lab(host):
        where = "no known_hosts file" if not path else f"known_hosts file {file} does not exist"
        host.data["_host_key_error"] = (
            f"{host.name}: {where}, so its SSH host key cannot be checked (nothing sent): run "
            f"`iospki inventory keyscan --inventory {inv_dir}` and compare the fingerprints, "
            f"or set {ENV_KNOWN_HOSTS}"
        )
        return
    set_connection_extras(
        host,
        {"ssh_strict": True, "system_host_keys": False, "alt_host_keys": True, "alt_key_file": str(file)},
    )


def set_connection_extras(host: Host, values: dict[str, Any]) -> None:
    """Set netmiko arguments (`extras`) and the same NAPALM ones (`extras.optional_args`) on `host`, on top of
    the extras it resolves from its groups and defaults (copied to the host level so the groups stay shared)."""
    for plugin in ("netmiko", "napalm"):
        extras = dict(host.get_connection_parameters(plugin).extras or {})
        if plugin == "netmiko":
            extras.update(values)
        else:
            extras["optional_args"] = {**(extras.get("optional_args") or {}), **values}
        co = host.connection_options.get(plugin)
        if co is None:
            host.connection_options[plugin] = ConnectionOptions(extras=extras)
        else:
            co.extras = extras


def map_platforms(host: Host) -> None:
    """Derive the NAPALM driver from the netmiko platform (netutils) where the inventory does not say."""
    nm = host.connection_options.get("netmiko")
    np_ = host.connection_options.get("napalm")
    netmiko_platform = (nm.platform if nm else None) or host.platform
    if np_ is not None and not np_.platform and netmiko_platform:
        np_.platform = NAPALM_LIB_MAPPER_REVERSE.get(netmiko_platform, netmiko_platform)


def credential_errors(nr: Nornir) -> list[str]:
    """Why hosts must not be connected to: a missing password, or a host key that cannot be checked."""
    return [
        str(h.data[key])
        for h in nr.inventory.hosts.values()
        for key in ("_credential_error", "_host_key_error")
        if h.data.get(key)
    ]


def summarize_errors(errors: list[str]) -> str:
    """`credential_errors` as one line: hosts with the same reason named together.

    >>> summarize_errors(["r1: no password", "r2: no password", "r3: other"])
    'r1, r2: no password; r3: other'
    """
    by_reason: dict[str, list[str]] = {}
    for e in errors:
        host, _, reason = e.partition(": ")
        by_reason.setdefault(reason, []).append(host)
    return "; ".join(f"{', '.join(hosts)}: {reason}" for reason, hosts in by_reason.items())


def pki_secrets(host: Host) -> PkiSecrets:
    ca = os.environ.get(ENV_CA_PASSPHRASE) or (LAB_CA_PASSPHRASE if is_lab(host) else None)
    ch = os.environ.get(ENV_CHALLENGE) or (LAB_CHALLENGE_PASSWORD if is_lab(host) else None)
    return PkiSecrets(ca, ch)


def all_secrets(nr: Nornir) -> list[str]:
    """Every secret in play (for redaction of stored outputs and logs)."""
    out: set[str] = set()
    for h in nr.inventory.hosts.values():
        if h.password:
            out.add(h.password)
        for plugin in ("netmiko", "napalm"):
            extras = h.get_connection_parameters(plugin).extras or {}
            s = extras.get("secret") or (extras.get("optional_args") or {}).get("secret")
            if s:
                out.add(str(s))
        out.update(pki_secrets(h).values())
    return sorted((s for s in out if len(s) >= 3), key=len, reverse=True)


def _all_groups(host: Host) -> set[str]:
    seen: set[str] = set()
    stack = list(host.groups)
    while stack:
        g = stack.pop()
        if g.name not in seen:
            seen.add(g.name)
            stack.extend(g.groups)
    return seen


_GLOB = re.compile(r"[*?\[]")  # what makes an fnmatch pattern more than a plain name


def select_names(groups_of: Mapping[str, Collection[str]], limit: str) -> list[str]:
    """The names of `groups_of` (name -> its groups) that `limit` selects: comma/space separated names, globs
    or groups; `!term` excludes. A term that matches nothing is an error naming it.

    >>> select_names({"r1": ["branch"], "r2": ["branch"], "ca1": ["ca_server"]}, "branch,!r2")
    ['r1']
    """
    terms = [t for t in limit.replace(",", " ").split() if t]
    if not terms:
        raise InventoryError("--limit is empty")
    include = [t for t in terms if not t.startswith("!")]
    exclude = [t[1:] for t in terms if t.startswith("!")]
    # Each term is resolved once against an index (name -> itself, group -> its hosts) rather than tried
    # against every host: a runbook's `--limit` of 1,000 names over 10,000 hosts was 71 s of CPU that way.
    members: dict[str, list[str]] = {}
    for name, groups in groups_of.items():
        for g in groups:
            members.setdefault(g, []).append(name)

    def hosts_of(term: str) -> set[str]:
        if not _GLOB.search(term):  # a plain name or group: two lookups
            return ({term} if term in groups_of else set()) | set(members.get(term, ()))
        match = re.compile(fnmatch.translate(term)).match  # case-sensitive, as fnmatchcase
        found = {n for n in groups_of if match(n)}
        for g in members:
            if match(g):
                found.update(members[g])
        return found

    def union(ts: list[str]) -> set[str]:
        out: set[str] = set()
        for t in ts:
            hit = hosts_of(t) if t else set()
            if not hit:
                raise InventoryError(f"--limit term {t!r} matches no host or group")
            out |= hit
        return out

    chosen, dropped = union(include), union(exclude)
    selected = [n for n in groups_of if (not include or n in chosen) and n not in dropped]
    if not selected:
        raise InventoryError(f"--limit {limit!r} selects no host")
    return selected


def host_groups(nr: Nornir) -> dict[str, set[str]]:
    """Every host of `nr` with all its groups (parents of groups included)."""
    return {n: _all_groups(h) for n, h in nr.inventory.hosts.items()}


def limit_hosts(nr: Nornir, limit: str) -> list[str]:
    """Host names of `nr` selected by `limit` (see `select_names`)."""
    return select_names(host_groups(nr), limit)


def apply_limit(nr: Nornir, limit: str) -> Nornir:
    names = set(limit_hosts(nr, limit))
    return nr.filter(filter_func=lambda h: h.name in names)


def inventory_problems(nr: Nornir) -> list[tuple[str, str]]:
    """Inventory-wide errors of `inventory validate`: no hosts at all, and two hosts on one
    address:port (one device twice, or a copy-paste slip: work meant for one host would reach
    the other). (host, message) pairs; '-' when no host is to blame."""
    hosts = nr.inventory.hosts
    if not hosts:
        return [("-", "the inventory holds no hosts (hosts.yaml is empty)")]
    by_target: dict[tuple[str, int], list[str]] = {}
    for name, h in hosts.items():
        by_target.setdefault((str(h.hostname or name), int(h.port or 22)), []).append(name)
    return [
        (name, f"address {addr}:{port} is also used by {', '.join(n for n in names if n != name)}")
        for (addr, port), names in by_target.items()
        if len(names) > 1
        for name in names
    ]


def host_table(nr: Nornir) -> list[dict[str, Any]]:
    """One row per host for `iospki inventory show` (no secrets)."""
    rows = []
    for h in nr.inventory.hosts.values():
        groups = sorted(_all_groups(h))
        rows.append(
            {
                "host": h.name,
                "address": h.hostname,
                "port": h.port,
                "platform": h.get("platform_family"),
                "netmiko": h.get_connection_parameters("netmiko").platform,
                "napalm": h.get_connection_parameters("napalm").platform,
                "family": h.get("family"),
                # roles from the role groups, or from the intent itself
                "roles": sorted(
                    {g for g in groups if g in ("ca_server", "pki_client")}
                    | ({"ca_server"} if h.get("ca_server") else set())
                    | ({"pki_client"} if h.get("trustpoints") else set())
                ),
                "groups": groups,
                "lab": is_lab(h),
            }
        )
    return rows
