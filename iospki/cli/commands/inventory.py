"""`iospki inventory validate|show`: check the PKI intent in the inventory, list hosts."""

from __future__ import annotations

import json

import typer

from iospki.cli.kit import (
    EXIT_OK,
    EXIT_USAGE,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    console,
    err_console,
    fail_usage,
    table,
)
from iospki.operations.intent import validate_inventory
from iospki.operations.inventory import (
    InventoryError,
    credential_errors,
    host_table,
    inventory_problems,
    load_nornir,
)

app = typer.Typer(no_args_is_help=True, help="Inspect and validate the Nornir inventory and its PKI intent.")


@app.command()
def validate(inventory: str = INVENTORY_OPT, limit: str = LIMIT_OPT, as_json: bool = JSON_OPT) -> None:
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
