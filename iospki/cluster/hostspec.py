"""A host as it travels to a cluster worker: its inventory data without any secret, and its site.

The client holds the whole inventory (possibly with lab passwords in it); a worker gets one `HostSpec` per
host and re-resolves the credentials from its own environment (`IOSPKI_*`), as `load_nornir` does on a single
jump host. Secret-looking keys are dropped wherever they sit (host data, connection extras, NAPALM
optional_args), so a password in the inventory never leaves the client.

    >>> scrub({"a": 1, "secret": "x", "optional_args": {"secret": "y", "port": 22}, "ca": {"passphrase": "p"}})
    {'a': 1, 'optional_args': {'port': 22}, 'ca': {}}
    >>> site_resource("dc-east")
    'site-dc-east'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nornir.core.inventory import ConnectionOptions, Defaults, Host

from iospki.operations import inventory as inv

# Keys whose values are credentials (matched anywhere in the key, case-insensitive).
_SECRET_KEY = re.compile(r"password|secret|passphrase|passwd|community|key[_-]?string|token|private[_-]?key", re.I)
SITE_KEY = "site"
SITE_GROUP_PREFIXES = ("site-", "site_")
RESOURCE_PREFIX = "site-"
_PLUGINS = ("netmiko", "napalm")


def scrub(value: Any) -> Any:
    """`value` with every secret-named key removed (dicts and lists walked recursively)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not (isinstance(k, str) and _SECRET_KEY.search(k))}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def site_of(host: Host) -> str | None:
    """The host's site: the `site` data key (inherited from groups), else a group named `site-<name>`."""
    site = host.get(SITE_KEY)
    if site:
        return str(site)
    for group in sorted(inv._all_groups(host)):
        for prefix in SITE_GROUP_PREFIXES:
            if group.startswith(prefix) and len(group) > len(prefix):
                return group[len(prefix) :]
    return None


def site_resource(site: str) -> str:
    """The Dask worker resource that says "this worker reaches site `site`" (`--resources site-<site>=N`)."""
    return RESOURCE_PREFIX + site


@dataclass(frozen=True)
class HostSpec:
    name: str
    hostname: str | None
    port: int | None
    platform: str | None
    username: str | None
    data: dict[str, Any] = field(default_factory=dict)
    connection_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    site: str | None = None


def host_spec(host: Host) -> HostSpec:
    """The secret-free description of `host` (data and connection options resolved through its groups)."""
    data = {k: v for k, v in host.items() if k != "_credential_error"}
    options: dict[str, dict[str, Any]] = {}
    for plugin in _PLUGINS:
        p = host.get_connection_parameters(plugin)
        options[plugin] = {
            "hostname": p.hostname,
            "port": p.port,
            "username": p.username,
            "platform": p.platform,
            "extras": scrub(dict(p.extras or {})),
        }
    return HostSpec(
        name=host.name,
        hostname=host.hostname,
        port=host.port,
        platform=host.platform,
        username=host.username,
        data=scrub(data),
        connection_options=options,
        groups=tuple(sorted(inv._all_groups(host))),
        site=site_of(host),
    )


def worker_host(spec: HostSpec) -> Host:
    """Rebuild the Nornir host on a worker, credentials from the worker's own environment (and the lab's
    throwaway defaults for `lab: true` hosts, exactly as on a single jump host)."""
    host = Host(
        name=spec.name,
        hostname=spec.hostname,
        username=spec.username,
        password=None,
        port=spec.port,
        platform=spec.platform,
        data=dict(spec.data),
        connection_options={
            plugin: ConnectionOptions(
                hostname=o["hostname"],
                port=o["port"],
                username=o["username"],
                platform=o["platform"],
                extras=dict(o["extras"]),
            )
            for plugin, o in spec.connection_options.items()
        },
        defaults=Defaults(),
    )
    inv.apply_credentials(host)
    if not inv.is_lab(host) and not host.password:
        host.data["_credential_error"] = (
            f"{spec.name}: no password on this worker: set {inv.ENV_PASSWORD} in the worker's environment"
        )
    if os.environ.get(inv.ENV_KNOWN_HOSTS):  # the jump host's own known_hosts wins over the client's path
        inv.apply_known_hosts(host, Path.cwd())
    return host
