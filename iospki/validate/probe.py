"""Worst-case probes (issue 11 §5, rule V1): for each distinct trustpoint design of an inventory, one extra
lab client that joins on the design's worst day.

Real clients join a running PKI on any day, and a design that survives only for clients enrolled on day 0
(the one phase where a short overlap happens to work) must not pass. `add_probes` writes a copy of the
inventory with one probe router per design: the platform groups of a client of that design, its trustpoint,
`validate_deploy_day` = the worst join day, on a free loopback address. The copy lives in a temporary folder
(the inventory's files hold the lab's credentials, which must not land in the validation's output).
"""

from __future__ import annotations

import copy
import ipaddress
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iospki.operations.intent import HostIntent
from iospki.operations.runner import Context
from iospki.pki.timers import DEFAULT_CA_LIFETIME, DEFAULT_CERT_LIFETIME
from iospki.validate.model import Probe, ValidateError
from iospki.validate.worstday import Design, margin, rollover_day, shadow_request_day, worst_join_day

DEPLOY_DAY_KEY = "validate_deploy_day"


@dataclass
class _Client:
    host: str
    trustpoint: str
    ca_host: str


def design_of(intents: dict[str, HostIntent], host: str, tp_name: str) -> Design | None:
    """The design of one client trustpoint (None when its CA server is not in the inventory)."""
    tp = next(t for t in intents[host].trustpoints if t.name == tp_name)
    ca_intent = intents.get(tp.ca_server)
    ca = ca_intent.ca_server if ca_intent is not None else None
    if ca is None:
        return None
    return Design(
        ca_days=ca.lifetime_ca_days or DEFAULT_CA_LIFETIME.days,
        overlap_days=ca.auto_rollover_days,
        cert_days=ca.lifetime_certificate_days or DEFAULT_CERT_LIFETIME.days,
        percent=tp.auto_enroll_percent if tp.auto_enroll else None,
        auto_enroll=tp.auto_enroll,
    )


def designs(intents: dict[str, HostIntent]) -> dict[Design, list[_Client]]:
    """Distinct designs -> their client trustpoints (host order, so the first client is stable)."""
    out: dict[Design, list[_Client]] = {}
    for host in sorted(intents):
        for tp in intents[host].trustpoints:
            d = design_of(intents, host, tp.name)
            if d is not None:
                out.setdefault(d, []).append(_Client(host, tp.name, tp.ca_server))
    return out


def _free_address(near: str, taken: set[str], port: int) -> str:
    """An address of `near`'s /24 in 127.0.0.0/8 that no host or server of the inventory uses and on which
    `port` (the lab's common SSH port) is free, from the top of the /24 down."""
    try:
        net = ipaddress.IPv4Network(f"{near}/24", strict=False)
    except ValueError:  # a host name: the lab refuses those anyway, start from a fixed block
        net = ipaddress.IPv4Network("127.240.0.0/24")
    if not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
        net = ipaddress.IPv4Network("127.240.0.0/24")
    for last in range(250, 1, -1):
        addr = str(net.network_address + last)
        if addr in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, port))
            except OSError:
                continue
        return addr
    raise ValidateError(f"no free loopback address for a probe client near {near}")


def _taken_addresses(ctx: Context) -> set[str]:
    taken: set[str] = set()
    for h in ctx.full.inventory.hosts.values():
        taken.add(str(h.hostname))
        for server in h.get("ntp_servers", None) or []:
            taken.add(str(server))
    return taken


def _host_file(inventory: Path) -> str:
    cfg_file = inventory / "config.yaml"
    cfg: dict[str, Any] = (yaml.safe_load(cfg_file.read_text()) or {}) if cfg_file.exists() else {}
    inv = cfg.get("inventory") or {}
    if str(inv.get("plugin", "SimpleInventory")) != "SimpleInventory":
        raise ValidateError(
            f"{inventory}: probes need a SimpleInventory (hosts.yaml); run with --as-deployed"
        )
    return str((inv.get("options") or {}).get("host_file", "hosts.yaml"))


def plan_probes(ctx: Context) -> tuple[list[Probe], list[str]]:
    """One probe per design with auto-rollover (its worst day by V1); notes for the designs not probed."""
    probes: list[Probe] = []
    notes: list[str] = []
    taken = _taken_addresses(ctx)
    names = set(ctx.full.inventory.hosts)
    for i, (d, clients) in enumerate(designs(ctx.intents).items(), start=1):
        like = sorted({c.host for c in clients})
        roll = rollover_day(d)
        if roll is None:
            notes.append(
                f"{d.describe()} ({', '.join(like)}): not probed, no auto-rollover means no rollover CA to "
                "find on any join day"
            )
            continue
        j = worst_join_day(d)
        name = f"probe{i}-day{j:g}".replace(".", "-")
        while name in names:
            name += "x"
        names.add(name)
        first = clients[0]
        ref = ctx.full.inventory.hosts[first.host]
        addr = _free_address(str(ref.hostname), taken, int(ref.port or 22))
        taken.add(addr)
        probes.append(
            Probe(
                host=name,
                trustpoint=first.trustpoint,
                like_host=first.host,
                clients=like,
                design=d.describe(),
                address=addr,
                join_day=j,
                shadow_day=round(shadow_request_day(d, j), 3),
                rollover_day=roll,
                margin_days=margin(d, j),
            )
        )
    return probes, notes


def write_probed_inventory(ctx: Context, inventory: Path, dst: Path, probes: list[Probe]) -> Path:
    """Copy `inventory` to `dst` with the probe hosts added to its hosts file; returns `dst`."""
    host_file = _host_file(inventory)
    shutil.copytree(inventory, dst, dirs_exist_ok=True)
    path = dst / host_file
    hosts: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    for p in probes:
        ref = ctx.full.inventory.hosts[p.like_host]
        entry = copy.deepcopy(hosts.get(p.like_host) or {})
        entry["hostname"] = p.address
        data = dict(entry.get("data") or {})
        data.pop("ca_server", None)
        # the design's trustpoint as its client has it (from the host, its groups or the defaults)
        tp = next(t for t in (ref.get("trustpoints") or []) if t.get("name") == p.trustpoint)
        data["trustpoints"] = [copy.deepcopy(dict(tp))]
        data[DEPLOY_DAY_KEY] = p.join_day
        entry["data"] = data
        hosts[p.host] = entry
    path.write_text(yaml.safe_dump(hosts, sort_keys=False))
    return dst
