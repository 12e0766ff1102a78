"""`iospki audit` and `iospki forecast`: offline from a collection, or live (collect first)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from iospki.audit import AuditResult, Severity, run_audit
from iospki.cli.kit import (
    CLUSTER_OPT,
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_OK,
    INVENTORY_OPT,
    JSON_OPT,
    LIMIT_OPT,
    closing,
    console,
    err_console,
    fail_usage,
    fail_write,
    inventory_groups,
    open_inventory,
    select,
)
from iospki.forecast import Forecast, forecast_states
from iospki.forecast.model import Unpredictable
from iospki.operations.collection import collect_into
from iospki.pki.timers import parse_duration
from iospki.reports import formats, render, write_report
from iospki.state import store
from iospki.state.loader import HostState, load_collection

if TYPE_CHECKING:
    from iospki.cluster.analysis import ClusterAnalysis

FORMATS = ("table", *formats("audit"))


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        fail_usage(f"--at {at!r}: not an ISO date/time (e.g. 2026-03-01T12:00:00)")
    # device times are naive: compare like with like
    return t.replace(tzinfo=None)


@contextlib.contextmanager
def analysis(offline: Path | None, cluster: str | None) -> Iterator[ClusterAnalysis | None]:
    """`--offline` with `--cluster`: the stored hosts are loaded and parsed, and the forecast runs, on the
    cluster (`iospki.cluster.analysis`: the same code, elsewhere); an unusable cluster is one line, exit 2,
    and one that fails during the analysis one line, exit 3. Otherwise None: everything here."""
    if offline is None or not cluster:
        yield None
        return
    from iospki.cluster import ClusterError
    from iospki.cluster.analysis import open_analysis

    try:
        remote = open_analysis(cluster)
    except ClusterError as exc:
        fail_usage(str(exc))
    with remote:
        try:
            yield remote
        except ClusterError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(EXIT_HOSTS) from None


def _load(
    offline: Path | None,
    inventory: str | None,
    limit: str | None,
    cluster: str | None = None,
    remote: ClusterAnalysis | None = None,
) -> tuple[list[HostState], set[str]]:
    """All hosts of the collection (context for cross-host checks) and the names `--limit` selects
    (offline: by the groups of `--inventory` when it is given, else by names and globs). `cluster`: the
    `--cluster` address (None: this machine); `remote`: offline, where the hosts are loaded (`analysis`)."""
    if offline is not None:
        try:  # its folders, and the hosts its meta.json names
            states = remote.load(offline) if remote else load_collection(offline)
        except store.StoreError as exc:
            fail_usage(str(exc))
        if not states:
            fail_usage(f"no hosts in {offline}")
        groups = inventory_groups(inventory) if limit else None
        return states, set(select([s.host for s in states], limit, groups))
    ctx = open_inventory(inventory, limit, cluster=cluster)  # live: collected on the cluster with --cluster
    try:  # a full or read-only temporary directory: one line, not a traceback
        tmp = Path(tempfile.mkdtemp(prefix="iospki-audit-"))  # private (0700), as every collection
    except OSError as exc:
        fail_write(store.WriteFailed(tempfile.gettempdir(), exc))
    try:
        collect_into(ctx, tmp, description="collect for audit")
    except store.WriteFailed as exc:
        fail_write(exc)
    err_console.print(f"collected into {tmp}")
    states = load_collection(tmp)
    return states, {s.host for s in states}


def _outages(fc: Forecast) -> None:
    """The predicted outage windows as a table (`audit` and `forecast`)."""
    o = Table(title="predicted outages")
    for col in ("host", "trustpoint", "from", "until", "reason"):
        o.add_column(col)
    for x in fc.outages:
        o.add_row(
            x.host,
            x.trustpoint,
            x.start.isoformat(sep=" "),
            x.end.isoformat(sep=" ") if x.end else "open",
            f"[red]{x.reason}[/]",
        )
    console.print(o)


def _unpredictable(hosts: list[Unpredictable]) -> None:
    """The hosts the forecast left out, and why (`audit` and `forecast`)."""
    t = Table(title="not predicted (the forecast says nothing about these hosts)")
    for col in ("host", "reason"):
        t.add_column(col, overflow="fold")
    for u in hosts:
        t.add_row(u.host, f"[red]{u.reason}[/]")
    console.print(t)


def _save(path: Path, data: str | bytes) -> None:
    """Write a report (atomic, mode from the umask); an unusable path is one line and exit 2 or 3."""
    try:
        write_report(path, data)
    except store.WriteFailed as exc:
        fail_write(exc)
    err_console.print(f"wrote {path}")


def _table(result: AuditResult) -> None:
    t = Table(title="iospki audit", show_lines=False)
    for col in ("severity", "rule", "host", "target", "finding", "impact", "remedy"):
        t.add_column(col, overflow="fold")
    style = {"critical": "red", "warning": "yellow", "info": "cyan"}
    for f in result.findings:
        t.add_row(
            f"[{style[f.severity.value]}]{f.severity.value}[/]",
            f.rule,
            f.host,
            f.target or "",
            f.message,
            f.impact_at.isoformat(sep=" ") if f.impact_at else "",
            f.remedy,
        )
    console.print(t)
    fc = result.forecast
    if fc is not None and fc.outages:
        _outages(fc)
    if fc is not None and fc.unpredictable:
        _unpredictable(fc.unpredictable)
    console.print(_counts(result))


def _counts(result: AuditResult) -> str:
    n = len(result.findings)
    return f"{len(result.hosts)} hosts, {len(result.failed_hosts)} failed, {n} finding{'s' if n != 1 else ''}"


@closing
def audit(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    offline: Path = typer.Option(None, "--offline", help="audit a stored collection (iospki collect layout)"),
    cluster: str = CLUSTER_OPT,
    at: str = typer.Option(None, "--at", help="ISO time to use as 'now' instead of each device's clock"),
    fmt: str = typer.Option("table", "--format", "-f", help="|".join(FORMATS)),
    output: Path = typer.Option(None, "--output", "-o", help="write the report here instead of stdout"),
    fail_on: str = typer.Option(
        "warning", "--fail-on", help="info|warning|critical: exit 1 at or above this"
    ),
    threshold: str = typer.Option("30d", "--threshold", help="cert-expiring threshold, e.g. 30d"),
    horizon: str = typer.Option("3y", "--horizon", help="forecast horizon for outages in reports"),
    skew_tolerance: str = typer.Option(
        "60s", "--skew-tolerance", help="clock-skew: client vs CA server clock differences up to this are fine"
    ),
    list_rules: bool = typer.Option(
        False, "--list-rules", help="print the rules (id, severity, title) and exit"
    ),
) -> None:
    """Audit PKI state: timer dependencies, rollover readiness, expiry, crypto, software."""
    if list_rules:
        from iospki.audit import RULES

        if fmt == "json":
            typer.echo(
                json.dumps(
                    [
                        {
                            "id": r.id,
                            "severity": r.severity.value,
                            "title": r.title,
                            "rationale": r.rationale,
                            "remedy": r.remedy,
                        }
                        for r in RULES
                    ],
                    indent=2,
                )
            )
        else:
            t = Table(title="iospki audit rules")
            for col in ("id", "severity", "title", "remedy"):
                t.add_column(col, overflow="fold")
            for r in RULES:
                t.add_row(r.id, r.severity.value, r.title, r.remedy)
            console.print(t)
        raise typer.Exit(EXIT_OK)
    if fmt not in FORMATS:
        fail_usage(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    try:
        sev = Severity(fail_on)
    except ValueError:
        fail_usage(f"--fail-on {fail_on!r}: choose info, warning or critical")
    try:
        thr, hor, skew = parse_duration(threshold), parse_duration(horizon), parse_duration(skew_tolerance)
    except ValueError as exc:
        fail_usage(str(exc))
    when = _parse_at(at)
    with analysis(offline, cluster) as remote:
        states, chosen = _load(offline, inventory, limit, cluster, remote)
        forecaster = remote.forecast if remote else forecast_states
        result = run_audit(
            states, at=when, threshold=thr, horizon=hor, only=chosen, skew_tolerance=skew, forecaster=forecaster
        )
    if fmt == "table":
        if output is not None:
            _save(output, render(result, "markdown"))
        _table(result)
    else:
        text = render(result, fmt)
        if output is not None:
            _save(output, text)
            err_console.print(_counts(result))  # the report went to a file: say what it holds
        else:
            typer.echo(text, nl=False)
    if result.failed_hosts:
        raise typer.Exit(EXIT_HOSTS)
    raise typer.Exit(EXIT_FINDINGS if result.at_or_above(sev) else EXIT_OK)


@closing
def forecast(
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    offline: Path = typer.Option(None, "--offline", help="forecast from a stored collection"),
    cluster: str = CLUSTER_OPT,
    at: str = typer.Option(None, "--at", help="ISO start time (default: the latest device clock)"),
    horizon: str = typer.Option("3y", "--horizon", help="how far ahead, e.g. 3y, 800d"),
    as_json: bool = JSON_OPT,
    picture: Path = typer.Option(None, "--picture", help="also write the timeline picture (.png or .svg)"),
) -> None:
    """Every future PKI event per device, through CA rollovers, and the outage windows.

    Hosts that failed or whose collection is incomplete are listed as not predicted ("unpredictable" in
    the JSON) and the command exits 3: "no outages" is never said of a host that was not predicted."""
    try:
        hor = parse_duration(horizon)
    except ValueError as exc:
        fail_usage(str(exc))
    when = _parse_at(at)
    with analysis(offline, cluster) as remote:
        states, chosen = _load(offline, inventory, limit, cluster, remote)
        fc = (remote.forecast if remote else forecast_states)(states, at=when, horizon=hor)
    failed = [s.host for s in states if s.failed and s.host in chosen]
    fc.events = [e for e in fc.events if e.host in chosen]
    fc.outages = [o for o in fc.outages if o.host in chosen]
    fc.leave_out({s.host: why for s in states if s.host in chosen and (why := s.unpredictable)})
    if picture is not None:
        from iospki.reports import timeline

        result = run_audit(states, at=when, horizon=hor, rules=(), only=chosen)
        result.forecast = fc
        fmt = "png" if picture.suffix.lower() == ".png" else "svg"
        _save(picture, timeline.render(result, fmt))
    if as_json:
        doc = fc.to_json()
        doc["hosts_failed"] = failed
        typer.echo(json.dumps(doc, indent=2))
    else:
        t = Table(title=f"forecast {fc.start.isoformat(sep=' ')} .. {fc.until.isoformat(sep=' ')}")
        for col in ("at", "host", "subject", "event", "detail"):
            t.add_column(col, overflow="fold")
        bad = {"SHADOW RENEWAL FAILED", "SHADOW FAILED", "RENEW FAILED", "CERT END", "CA CERT END"}
        for e in fc.events:
            ev = f"[red]{e.event}[/]" if e.event in bad else e.event
            t.add_row(e.at.isoformat(sep=" "), e.host, e.subject, ev, e.detail)
        console.print(t)
        if fc.outages:
            _outages(fc)
        if fc.unpredictable:
            _unpredictable(fc.unpredictable)
            if not fc.outages:
                console.print(
                    f"no outages predicted for the other hosts; {len(fc.unpredictable)} not predicted"
                )
        elif not fc.outages:
            console.print("no outages predicted")
        for n in fc.notes:
            err_console.print(f"note: {n}")
    if failed:
        err_console.print(f"[red]hosts failed:[/red] {', '.join(failed)}")
    if fc.unpredictable:
        raise typer.Exit(EXIT_HOSTS)
    raise typer.Exit(EXIT_FINDINGS if fc.outages else EXIT_OK)
