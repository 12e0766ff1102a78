"""`iospki scep probe [URL]`: GetCACaps, GetCACert (fingerprints) and GetNextCACert from the jump host.

With a URL, that CA; without one, every CA server of the inventory that `--limit` selects (its HTTP address).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from iospki import scep_probe
from iospki.intent import enrollment_url_for

from .toolkit import (
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    LIMIT_OPT,
    console,
    fail_usage,
    open_inventory,
    table,
)

app = typer.Typer(no_args_is_help=True, help="SCEP checks from the jump host.")


def _rows(res: scep_probe.ProbeResult) -> list[list[str]]:
    rows = [["GetCACaps", res.caps_error or " ".join(res.caps)]]
    for c in res.ca_certs:
        rows.append(
            [
                "GetCACert",
                f"{c.subject} #{c.serial} {c.not_before:%Y-%m-%d} to {c.not_after:%Y-%m-%d}\nMD5 {c.md5}\nSHA1 {c.sha1}",
            ]
        )
    if res.ca_error:
        rows.append(["GetCACert", res.ca_error])
    for c in res.next_ca_certs:
        sig = {
            True: "signed by current CA",
            False: "NOT signed by the current CA",
            None: "signature not checked",
        }[res.next_ca_signature_ok]
        rows.append(
            [
                "GetNextCACert",
                f"{c.subject} #{c.serial} {c.not_before:%Y-%m-%d} to {c.not_after:%Y-%m-%d}\nMD5 {c.md5}\nSHA1 {c.sha1}\n{sig}",
            ]
        )
    if res.next_ca_error:
        rows.append(["GetNextCACert", f"none: {res.next_ca_error}"])
    return rows


@app.command()
def probe(
    url: str = typer.Argument(
        None,
        help="CA URL, e.g. http://10.0.0.1:80 (IOS path /cgi-bin/pkiclient.exe is added); default: the inventory's CA servers",
    ),
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    timeout: float = typer.Option(10.0, "--timeout"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exit 0 when every CA answers GetCACaps and GetCACert; 3 when one cannot be reached; 1 when GetNextCACert
    returns a certificate that is not signed by the current CA."""
    targets: list[tuple[str, str]] = []  # (label, url)
    if url:
        try:
            scep_probe.scep_url(url)
        except scep_probe.ScepProbeError as exc:
            fail_usage(str(exc))
        targets.append((url, url))
    else:
        ctx = open_inventory(inventory, limit)
        for h in ctx.nr.inventory.hosts:
            ca = ctx.intents[h].ca_server
            if ca is not None:
                targets.append((f"{h} ({ca.name})", enrollment_url_for(ctx.addr(h), ca.http_port)))
        if not targets:
            fail_usage("no URL given and no CA server among the selected hosts")
    results: list[tuple[str, scep_probe.ProbeResult]] = [
        (label, scep_probe.probe(u, timeout)) for label, u in targets
    ]
    if as_json:
        data: Any = results[0][1].as_dict() if url else {label: r.as_dict() for label, r in results}
        console.print_json(json.dumps(data, default=str))
    else:
        for label, res in results:
            console.print(table(f"SCEP probe {label}: {res.url}", ["operation", "result"], _rows(res)))
    if any(r.caps_error and r.ca_error for _, r in results):
        raise typer.Exit(EXIT_HOSTS)
    if any(r.ca_error or r.next_ca_signature_ok is False for _, r in results):
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)
