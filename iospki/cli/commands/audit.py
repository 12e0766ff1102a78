"""`iospki audit` and `iospki forecast`: offline from a collection, or live (collect first)."""

from __future__ import annotations

import fnmatch
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from iospki.audit import AuditResult, Severity, run_audit
from iospki.forecast import Forecast, forecast_states
from iospki.pki.timers import parse_duration
from iospki.reports import FORMATS, render
from iospki.state import store
from iospki.state.loader import HostState, load_collection

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_HOSTS = 0, 1, 2, 3

# wide tables when piped (CI logs); the terminal's width otherwise
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
_err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


def _usage(msg: str) -> typer.Exit:
    _err.print(f"[red]error:[/red] {msg}")
    return typer.Exit(EXIT_USAGE)


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _usage(f"--at {at!r}: not an ISO date/time (e.g. 2026-03-01T12:00:00)") from exc
    # device times are naive: compare like with like
    return t.replace(tzinfo=None)


def _select(names: list[str], limit: str | None) -> list[str]:
    if not limit:
        return names
    pats = [p.strip() for p in limit.split(",") if p.strip()]
    inc = [p for p in pats if not p.startswith("!")]
    exc = [p[1:] for p in pats if p.startswith("!")]
    chosen = [n for n in names if not inc or any(fnmatch.fnmatchcase(n, p) for p in inc)]
    return [n for n in chosen if not any(fnmatch.fnmatchcase(n, p) for p in exc)]


def _load(offline: Path | None, inventory: str | None, limit: str | None) -> tuple[list[HostState], set[str]]:
    """All hosts of the collection (context for cross-host checks) and the names `--limit` selects."""
    if offline is not None:
        try:
            names = store.hosts(offline)
        except store.StoreError as exc:
            raise _usage(str(exc)) from exc
        chosen = set(_select(names, limit))
        if not chosen:
            raise _usage(f"no hosts in {offline}" + (f" match --limit {limit}" if limit else ""))
        return load_collection(offline), chosen
    try:
        from iospki.cli.commands.collect import collect_into
        from iospki.cli.commands.toolkit import open_inventory
    except ImportError as exc:
        raise _usage("live audit needs `iospki collect` (not available yet); use --offline") from exc
    ctx = open_inventory(inventory, limit)
    tmp = Path(tempfile.mkdtemp(prefix="iospki-audit-"))
    collect_into(ctx, tmp, description="collect for audit")
    _err.print(f"collected into {tmp}")
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
    _out.print(o)


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
    _out.print(t)
    fc = result.forecast
    if fc is not None and fc.outages:
        _outages(fc)
    n = len(result.findings)
    _out.print(
        f"{len(result.hosts)} hosts, {len(result.failed_hosts)} failed, {n} finding{'s' if n != 1 else ''}"
    )


def audit(
    inventory: str = typer.Option(None, "--inventory", "-i", help="Nornir inventory directory (live mode)"),
    limit: str = typer.Option(
        None, "--limit", "-l", help="hosts: names or globs, '!x' excludes (comma separated)"
    ),
    offline: Path = typer.Option(None, "--offline", help="audit a stored collection (iospki collect layout)"),
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
            _out.print(t)
        raise typer.Exit(EXIT_OK)
    if fmt not in FORMATS:
        raise _usage(f"--format {fmt!r}: choose from {', '.join(FORMATS)}")
    try:
        sev = Severity(fail_on)
    except ValueError as exc:
        raise _usage(f"--fail-on {fail_on!r}: choose info, warning or critical") from exc
    try:
        thr, hor, skew = parse_duration(threshold), parse_duration(horizon), parse_duration(skew_tolerance)
    except ValueError as exc:
        raise _usage(str(exc)) from exc
    when = _parse_at(at)
    states, chosen = _load(offline, inventory, limit)
    result = run_audit(states, at=when, threshold=thr, horizon=hor, only=chosen, skew_tolerance=skew)
    if fmt == "table":
        if output is not None:
            output.write_text(render(result, "markdown"), encoding="utf-8")
        _table(result)
    else:
        text = render(result, fmt)
        if output is not None:
            store.atomic_write_text(output, text)
            _err.print(f"wrote {output}")
        else:
            typer.echo(text, nl=False)
    if result.failed_hosts:
        raise typer.Exit(EXIT_HOSTS)
    raise typer.Exit(EXIT_FINDINGS if result.at_or_above(sev) else EXIT_OK)


def forecast(
    inventory: str = typer.Option(None, "--inventory", "-i", help="Nornir inventory directory (live mode)"),
    limit: str = typer.Option(
        None, "--limit", "-l", help="hosts: names or globs, '!x' excludes (comma separated)"
    ),
    offline: Path = typer.Option(None, "--offline", help="forecast from a stored collection"),
    at: str = typer.Option(None, "--at", help="ISO start time (default: the latest device clock)"),
    horizon: str = typer.Option("3y", "--horizon", help="how far ahead, e.g. 3y, 800d"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    picture: Path = typer.Option(None, "--picture", help="also write the timeline picture (.png or .svg)"),
) -> None:
    """Every future PKI event per device, through CA rollovers, and the outage windows."""
    try:
        hor = parse_duration(horizon)
    except ValueError as exc:
        raise _usage(str(exc)) from exc
    when = _parse_at(at)
    states, chosen = _load(offline, inventory, limit)
    failed = [s.host for s in states if s.failed and s.host in chosen]
    fc = forecast_states(states, at=when, horizon=hor)
    fc.events = [e for e in fc.events if e.host in chosen]
    fc.outages = [o for o in fc.outages if o.host in chosen]
    if picture is not None:
        from iospki.reports import timeline

        result = run_audit(states, at=when, horizon=hor, rules=(), only=chosen)
        result.forecast = fc
        fmt = "png" if picture.suffix.lower() == ".png" else "svg"
        picture.write_bytes(timeline.render(result, fmt))
        _err.print(f"wrote {picture}")
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
        _out.print(t)
        if fc.outages:
            _outages(fc)
        else:
            _out.print("no outages predicted")
        for n in fc.notes:
            _err.print(f"note: {n}")
    if failed:
        _err.print(f"[red]hosts failed:[/red] {', '.join(failed)}")
        raise typer.Exit(EXIT_HOSTS)
    raise typer.Exit(EXIT_FINDINGS if fc.outages else EXIT_OK)
