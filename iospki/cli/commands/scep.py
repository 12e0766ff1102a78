"""`iospki scep probe [URL]`: GetCACaps, GetCACert (fingerprints) and GetNextCACert from the jump host.

With a URL, that CA; without one, every CA server of the inventory that `--limit` selects (its HTTP address).
The inventory's CA servers are probed by a (read-only) Nornir task on each CA server's host: with `--cluster`
from a jump host of its site, which reaches it where the machine running iospki may not.
"""

from __future__ import annotations

import json
import re
from typing import Any

import typer
from nornir.core.task import Result, Task

from iospki.cli.kit import (
    CLUSTER_OPT,
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    console,
    err_console,
    fail_usage,
    open_inventory,
    refuse_cluster,
    table,
)
from iospki.cli.usage import CommandGroup
from iospki.cluster import read_only
from iospki.operations import scep_probe
from iospki.operations.intent import enrollment_url_for
from iospki.operations.runner import Context, failure, run

app = typer.Typer(cls=CommandGroup, no_args_is_help=True, help="SCEP checks from the jump host.")


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


def _fp(text: str) -> str:
    return re.sub(r"[^0-9A-F]", "", text.upper())


def pin_problems(
    res: scep_probe.ProbeResult, ca_fp: str | None, next_fp: str | None
) -> tuple[list[str], bool]:
    """Fingerprint pins: (problems, whether the next CA carries the expected fingerprint). A CA certificate
    is never accepted blindly: with a pin, only that certificate is the CA."""
    problems: list[str] = []
    if ca_fp and res.ca_certs and not any(_fp(ca_fp) in (c.md5, c.sha1) for c in res.ca_certs):
        got = ", ".join(f"MD5 {c.md5}" for c in res.ca_certs)
        problems.append(f"GetCACert: no certificate has the pinned fingerprint {_fp(ca_fp)} (got {got})")
    next_ok = False
    if next_fp and res.next_ca_certs:
        next_ok = any(_fp(next_fp) in (c.md5, c.sha1) for c in res.next_ca_certs)
        if not next_ok:
            got = ", ".join(f"MD5 {c.md5}" for c in res.next_ca_certs)
            problems.append(f"GetNextCACert: not the expected fingerprint {_fp(next_fp)} (got {got})")
    return problems, next_ok


@read_only
def _probe_task(task: Task, urls: dict[str, str], timeout: float) -> Result:
    """The SCEP probe of the host's CA server, over HTTP from where the task runs (no device session)."""
    return Result(host=task.host, result=scep_probe.probe(urls[task.host.name], timeout))


def _probe_servers(ctx: Context, timeout: float) -> list[tuple[str, scep_probe.ProbeResult]]:
    """Probe every selected CA server from its host's task (on a cluster: a worker of its site); a host that
    could not run it is a probe whose every operation failed with that reason (exit 3)."""
    urls, labels = {}, {}
    for h in ctx.nr.inventory.hosts:
        ca = ctx.intents[h].ca_server
        if ca is not None:
            urls[h] = enrollment_url_for(ctx.addr(h), ca.http_port)
            labels[h] = f"{h} ({ca.name})"
    if not urls:
        return []
    servers = ctx.nr.filter(filter_func=lambda host: host.name in urls)
    agg = run(servers, _probe_task, "SCEP probe", urls=urls, timeout=timeout)
    out = []
    for h in urls:  # in inventory order, as before
        mr = agg[h]
        if mr.failed:
            why = ctx.redact(failure(mr, ctx.nr.inventory.hosts[h])[0])
            res = scep_probe.ProbeResult(url=scep_probe.scep_url(urls[h]), caps_error=why, ca_error=why)
        else:
            res = mr[0].result
        out.append((labels[h], res))
    return out


@app.command()
def probe(
    cli: typer.Context,
    url: str = typer.Argument(
        None,
        help="CA URL, e.g. http://192.0.2.1:80 (IOS path /cgi-bin/pkiclient.exe is added); default: the inventory's CA servers",
    ),
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", help="per SCEP request to a CA"),
    as_json: bool = JSON_OPT,
    ca_fingerprint: str = typer.Option(
        None,
        "--ca-fingerprint",
        help="pinned MD5/SHA1 of the current CA certificate: any other CA is refused",
    ),
    next_fingerprint: str = typer.Option(
        None, "--next-fingerprint", help="expected MD5/SHA1 of the rollover CA certificate (GetNextCACert)"
    ),
    cluster: str = CLUSTER_OPT,
) -> None:
    """Exit 0 when every CA answers GetCACaps and GetCACert; 3 when one cannot be reached; 1 when GetNextCACert
    returns a certificate that is not signed by the current CA. With --cluster the inventory's CA servers are
    probed from a worker of their site; a URL has no site: it is probed from this machine (--cluster with a URL
    is refused, an IOSPKI_CLUSTER in the environment does not apply to it)."""
    targets: list[tuple[str, str]] = []  # (label, url)
    results: list[tuple[str, scep_probe.ProbeResult]] = []
    if url:
        source = cli.get_parameter_source("cluster")
        if source is None or source.name != "ENVIRONMENT":  # the operator's IOSPKI_CLUSTER is for devices
            refuse_cluster(cluster, "scep probe URL", "a URL has no site (name the inventory's CA servers with --limit)")
        try:
            scep_probe.scep_url(url)
        except scep_probe.ScepProbeError as exc:
            fail_usage(str(exc))
        targets.append((url, url))
    else:
        ctx = open_inventory(inventory, limit, cluster=cluster)
        results = _probe_servers(ctx, timeout)
        if not results:
            fail_usage("no URL given and no CA server among the selected hosts")
    results += [(label, scep_probe.probe(u, timeout)) for label, u in targets]
    if as_json:
        data: Any = results[0][1].as_dict() if url else {label: r.as_dict() for label, r in results}
        console.print_json(json.dumps(data, default=str))
    else:
        for label, res in results:
            console.print(table(f"SCEP probe {label}: {res.url}", ["operation", "result"], _rows(res)))
    pins = [(label, pin_problems(r, ca_fingerprint, next_fingerprint)) for label, r in results]
    for label, (problems, _) in pins:
        for msg in problems:
            err_console.print(f"[red]{label}:[/red] {msg}")
    if any(r.caps_error and r.ca_error for _, r in results):
        raise typer.Exit(EXIT_HOSTS)
    if any(problems for _, (problems, _) in pins):
        raise typer.Exit(EXIT_FINDINGS)
    # a next CA not signed by the current CA is accepted only when it carries the expected fingerprint
    for (_, r), (_, (_, by_fp)) in zip(results, pins, strict=True):
        if r.ca_error or (r.next_ca_signature_ok is False and not by_fp):
            raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)
