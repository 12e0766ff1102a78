"""`iospki scep probe URL`: GetCACaps, GetCACert (fingerprints) and GetNextCACert from the jump host."""

from __future__ import annotations

import json

import typer

from iospki import scep_probe

from .toolkit import EXIT_FINDINGS, EXIT_HOSTS, EXIT_OK, console, fail_usage, table

app = typer.Typer(no_args_is_help=True, help="SCEP checks from the jump host.")


@app.command()
def probe(
    url: str = typer.Argument(
        ..., help="CA URL, e.g. http://10.0.0.1:80 (IOS path /cgi-bin/pkiclient.exe is added)"
    ),
    timeout: float = typer.Option(10.0, "--timeout"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exit 0 when the CA answers GetCACaps and GetCACert; 3 when it cannot be reached; 1 when GetNextCACert
    returns a certificate that is not signed by the current CA."""
    try:
        scep_probe.scep_url(url)
    except scep_probe.ScepProbeError as exc:
        fail_usage(str(exc))
    res = scep_probe.probe(url, timeout)
    if as_json:
        console.print_json(json.dumps(res.as_dict(), default=str))
    else:
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
        console.print(table(f"SCEP probe {res.url}", ["operation", "result"], rows))
    if res.caps_error and res.ca_error:
        raise typer.Exit(EXIT_HOSTS)
    if res.ca_error or res.next_ca_signature_ok is False:
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)
