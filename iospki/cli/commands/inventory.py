"""`iospki inventory validate|show|keyscan`: check the PKI intent in the inventory, list hosts, fetch SSH host keys."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from iospki.cli.kit import (
    EXIT_HOSTS,
    EXIT_OK,
    EXIT_USAGE,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    console,
    err_console,
    fail_usage,
    no_cluster_opt,
    refuse_cluster,
    table,
)
from iospki.cli.usage import CommandGroup
from iospki.operations import hostkeys
from iospki.operations.intent import validate_inventory
from iospki.operations.inventory import (
    DEFAULT_INVENTORY,
    InventoryError,
    credential_errors,
    host_table,
    inventory_problems,
    load_nornir,
)

app = typer.Typer(
    cls=CommandGroup,
    no_args_is_help=True,
    help="Inspect and validate the Nornir inventory and its PKI intent; fetch SSH host keys.",
)


@app.command("validate")
def check_inventory(inventory: str = INVENTORY_OPT, limit: str = LIMIT_OPT, as_json: bool = JSON_OPT) -> None:
    """Validate host data (PKI intent) and cross-host rules; exit 0 when valid, 2 otherwise."""
    try:
        full = load_nornir(inventory)
        nr = load_nornir(inventory, limit) if limit else full
    except InventoryError as exc:
        fail_usage(str(exc))
    hosts = {n: (str(h.hostname), dict(h.items())) for n, h in full.inventory.hosts.items()}
    intents, problems = validate_inventory(hosts)
    problems += [(e.split(":", 1)[0], e.split(":", 1)[1].strip()) for e in credential_errors(nr)]
    selected = set(nr.inventory.hosts)
    problems = [(h, m) for h, m in problems if h in selected]
    problems += inventory_problems(full)  # inventory-wide: reported whatever --limit selects
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "valid": not problems,
                    "hosts": sorted(selected),
                    "problems": [{"host": h, "problem": m} for h, m in problems],
                }
            )
        )
    else:
        cas = sum(1 for n in selected if n in intents and intents[n].ca_server)
        tps = sum(len(intents[n].trustpoints) for n in selected if n in intents)
        if problems:
            console.print(table("Inventory problems", ["host", "problem"], problems))
        else:
            console.print(f"inventory valid: {len(selected)} hosts, {cas} CA servers, {tps} trustpoints")
    raise typer.Exit(EXIT_USAGE if problems else EXIT_OK)


@app.command()
def show(inventory: str = INVENTORY_OPT, limit: str = LIMIT_OPT, as_json: bool = JSON_OPT) -> None:
    """List hosts with address, platform, drivers (netmiko/NAPALM) and roles; never credentials."""
    try:
        nr = load_nornir(inventory, limit)
    except InventoryError as exc:
        fail_usage(str(exc))
    rows = host_table(nr)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    console.print(
        table(
            "Inventory",
            ["host", "address", "port", "platform", "netmiko", "napalm", "roles", "lab"],
            [
                [
                    r["host"],
                    r["address"],
                    r["port"],
                    r["platform"],
                    r["netmiko"],
                    r["napalm"],
                    ",".join(r["roles"]),
                    r["lab"],
                ]
                for r in rows
            ],
        )
    )
    if not rows:
        err_console.print("no hosts")


_KEYSCAN_NO_CLUSTER = (
    "it writes this machine's known_hosts, and workers check keys against their own (IOSPKI_KNOWN_HOSTS): "
    "run keyscan on each jump host"
)


@app.command()
def keyscan(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    output: Path = typer.Option(
        None, "--output", "-o", metavar="FILE", help="known_hosts file to write (default: <inventory>/known_hosts)"
    ),
    accept_new: bool = typer.Option(
        False,
        "--accept-new",
        help="write new keys without asking (trust on first use: recorded as such in the file and the output)",
    ),
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", help="per host, for the key exchange"),
    cluster: str = no_cluster_opt(_KEYSCAN_NO_CLUSTER),
) -> None:
    """Fetch each host's SSH host key (key exchange only: nothing is authenticated or sent), print its
    SHA256 fingerprint for you to compare with the router's, and add the confirmed keys to a known_hosts
    file. A key that differs from the one in the file is never replaced. Exit 0 all keys known or
    written, 2 not confirmed, 3 a host unreachable or its key changed. Runs on this machine only (no
    --cluster): the known_hosts it writes is this machine's."""
    refuse_cluster(cluster, "inventory keyscan", _KEYSCAN_NO_CLUSTER)
    try:
        nr = load_nornir(inventory, limit)
    except InventoryError as exc:
        fail_usage(str(exc))
    inv_dir = Path(inventory) if inventory else DEFAULT_INVENTORY
    path = output or inv_dir / hostkeys.DEFAULT_FILE
    known = hostkeys.known_keys(path)
    scans = [
        hostkeys.fetch_key(name, str(h.hostname or name), int(h.port or 22), timeout)
        for name, h in nr.inventory.hosts.items()
    ]
    states = {s.host: hostkeys.status(s, known) for s in scans}
    rows = [
        [s.host, s.name, s.key_type or "-", s.fingerprint, states[s.host] + (f": {s.error}" if s.error else "")]
        for s in scans
    ]
    console.print(table(f"SSH host keys ({path})", ["host", "address", "type", "fingerprint", "status"], rows))
    for s in scans:
        if states[s.host] == "changed":
            err_console.print(
                f"[red]error:[/red] {s.host}: the host key at {s.name} CHANGED ({s.fingerprint}); the file keeps the "
                f"old key: find out why before removing its line from {path}"
            )
    # one line per address:port and key, even when two host names point there
    new = list({s.line(): s for s in scans if states[s.host] == "new"}.values())
    if new and not accept_new:
        console.print("Compare each fingerprint with the router's own before trusting it.")
        try:
            ok = typer.confirm(f"Add {len(new)} key(s) to {path}?", default=False)
        except typer.Abort:
            ok = False
        if not ok:
            fail_usage(f"nothing written to {path}: keys not confirmed (or pass --accept-new to trust on first use)")
    if new:
        try:
            hostkeys.record(path, new, accepted_unconfirmed=accept_new)
        except OSError as exc:
            err_console.print(f"[red]error:[/red] cannot write {path}: {exc.strerror or exc}")
            raise typer.Exit(EXIT_HOSTS) from None
        how = "trusted on first use (--accept-new), not confirmed" if accept_new else "confirmed"
        console.print(f"{len(new)} key(s) {how}, written to {path}")
    bad = sorted(h for h, st in states.items() if st in ("changed", "unreachable"))
    raise typer.Exit(EXIT_HOSTS if bad else EXIT_OK)
