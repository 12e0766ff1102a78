"""`iospki status [HOST] [--json]`: one readable screen of PKI state per host and trustpoint.

Live by default (collects into a temporary directory); `--offline DIR` reads a stored collection.
Exit 0 all good, 1 a trustpoint without a valid identity certificate or a non-authoritative clock,
3 hosts unreachable/failed.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from iospki.cli.commands.audit import analysis
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
    fail_usage,
    inventory_groups,
    open_inventory,
    select,
    table,
)
from iospki.models import Certificate, Timer
from iospki.operations.collection import collect_into
from iospki.state import store
from iospki.state.loader import HostState, load_host


def _cert(c: Certificate | None, now: datetime | None) -> dict[str, Any] | None:
    if c is None:
        return None
    days = round((c.end - now).total_seconds() / 86400, 1) if c.end and now else None
    return {
        "serial": c.serial,
        "subject": c.subject,
        "issuer": c.issuer,
        "start": c.start.isoformat() if c.start else None,
        "end": c.end.isoformat() if c.end else None,
        "renew": c.renew.isoformat() if c.renew else None,
        "days_left": days,
        "status": c.status,
    }


def _when(t: Timer, now: datetime | None) -> str:
    """Absolute time of a timer: as IOS-XE prints it, or the device clock plus the countdown (classic IOS)."""
    if t.at:
        return t.at.isoformat()
    if now is not None:
        return (now + timedelta(seconds=t.remaining_seconds)).replace(microsecond=0).isoformat()
    return f"in {t.remaining_seconds:.0f}s"


def host_status(st: HostState) -> dict[str, Any]:
    """The JSON shape of one host's status.

    Times are shown as the device printed them (`HostState.printed`, device-local), so they read like
    the router's own CLI; timers are UTC as IOS prints them. The UTC copies are for comparing hosts."""
    v = st.printed
    timers = st.timers or []
    now = v.now
    out: dict[str, Any] = {
        "host": st.host,
        "error": st.collection_error,
        "clock": v.clock.time.isoformat() if v.clock else None,
        "clock_authoritative": v.clock.authoritative if v.clock else None,
        "clock_source": v.clock.source if v.clock else None,
        "clock_ntp_lost": v.clock.ntp_unsynced if v.clock else None,
        "parse_errors": st.parse_errors,
        "trustpoints": [],
        "servers": [],
    }
    server_names = {s.name for s in v.servers}
    for tp in v.trustpoints():
        if tp in server_names:
            continue  # the CA server's own trustpoint is shown with the server
        ca = next(iter(v.certs(tp, "ca")), None)
        ident = next(iter(v.certs(tp, "identity")), None)
        tp_timers = {t.kind: _when(t, now) for t in timers if t.target == tp}
        out["trustpoints"].append(
            {
                "name": tp,
                "ca": _cert(ca, now),
                "identity": _cert(ident, now),
                "ca_rollover": _cert(next(iter(v.certs(tp, "ca", rollover=True)), None), now),
                "identity_rollover": _cert(next(iter(v.certs(tp, "identity", rollover=True)), None), now),
                "timers": {k: tp_timers[k] for k in ("RENEW", "SHADOW", "POLL") if k in tp_timers},
            }
        )
    for s in v.servers:
        cs = {t.kind: _when(t, now) for t in timers if t.section.startswith("CS")}
        out["servers"].append(
            {
                "name": s.name,
                "status": s.status,
                "state": s.state,
                "grant_mode": s.grant_mode,
                "ca_fingerprint": s.ca_fingerprint,
                "ca_expires": s.ca_expires.isoformat() if s.ca_expires else None,
                "auto_rollover_days": s.auto_rollover_days,
                "autorollover_at": s.autorollover_at.isoformat() if s.autorollover_at else None,
                "rollover_status": s.rollover_status,
                "rollover_fingerprint": s.rollover_fingerprint,
                "rollover_expires": s.rollover_expires.isoformat() if s.rollover_expires else None,
                "cs_timers": cs,
            }
        )
    return out


def _problem(h: dict[str, Any], now_ok: bool = True) -> bool:
    if h["clock_authoritative"] is False:
        return True
    for tp in h["trustpoints"]:
        ident = tp["identity"]
        if ident is None or (ident["days_left"] is not None and ident["days_left"] <= 0):
            return True
    return False


def _short(c: dict[str, Any] | None) -> str:
    if not c:
        return "-"
    end = (c["end"] or "?")[:10]
    days = f" ({c['days_left']:.0f}d)" if c["days_left"] is not None else ""
    return f"#{c['serial']} to {end}{days}"


def render(hosts: list[dict[str, Any]]) -> None:
    rows = []
    for h in hosts:
        if h["error"]:
            rows.append([h["host"], "[red]unreachable/failed[/red]", "", "", "", "", h["error"]])
            continue
        # the clock's authority decides whether PKI timers and certificate dates can be trusted
        clock = (h["clock"] or "?")[:19] + (f" {h['clock_source']}" if h.get("clock_source") else "")
        if not h["clock_authoritative"]:
            clock += " [red](not authoritative)[/red]"
        elif h.get("clock_ntp_lost"):
            clock += " [yellow](NTP sync lost)[/yellow]"
        for s in h["servers"]:
            roll = s["rollover_status"] or "none"
            if s["rollover_expires"]:
                roll += f" (to {s['rollover_expires'][:10]})"
            timers = " ".join(f"{k}={v[:16]}" for k, v in s["cs_timers"].items())
            rows.append(
                [
                    h["host"],
                    clock,
                    f"CS {s['name']}",
                    f"{s['status']}; CA to {(s['ca_expires'] or '?')[:10]}",
                    roll,
                    timers,
                    "",
                ]
            )
        for tp in h["trustpoints"]:
            roll = " / ".join(
                x
                for x in (
                    _short(tp["ca_rollover"]) if tp["ca_rollover"] else "",
                    _short(tp["identity_rollover"]) if tp["identity_rollover"] else "",
                )
                if x
            )
            timers = " ".join(f"{k}={v[:16]}" for k, v in tp["timers"].items())
            rows.append(
                [
                    h["host"],
                    clock,
                    tp["name"],
                    f"CA {_short(tp['ca'])}; ID {_short(tp['identity'])}",
                    roll or "-",
                    timers,
                    "",
                ]
            )
        if not h["servers"] and not h["trustpoints"]:
            rows.append([h["host"], clock, "-", "no PKI", "", "", ""])
        if h["parse_errors"]:
            rows[-1][-1] = f"{len(h['parse_errors'])} outputs not parsed"
    console.print(
        table(
            "PKI status",
            ["host", "clock", "trustpoint/server", "certificates", "rollover", "next timers", "note"],
            rows,
        )
    )


@closing
def status(
    host: str = typer.Argument(None, help="one host (default: all selected by --limit)"),
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    as_json: bool = JSON_OPT,
    offline: Path = typer.Option(
        None, "--offline", help="read this stored collection instead of the devices"
    ),
    cluster: str = CLUSTER_OPT,
) -> None:
    """Per host and trustpoint: CA/identity/rollover certificates, next RENEW/SHADOW/POLL, CS state, clock."""
    if offline is not None:
        try:
            names = store.hosts(offline)
        except store.StoreError as exc:
            fail_usage(str(exc))
        if host:
            if host not in names:
                fail_usage(f"host {host!r} is not in the collection {offline}")
            names = [host]
        elif limit:
            names = select(names, limit, inventory_groups(inventory))
        with analysis(offline, cluster) as remote:
            if remote is not None:  # loaded, parsed and shown as JSON on the workers
                shown = remote.map_hosts(offline, names, host_status)
                data = [shown[h] for h in names]
            else:
                data = [host_status(load_host(offline, h)) for h in names]
    else:
        ctx = open_inventory(inventory, host or limit, cluster=cluster)
        with tempfile.TemporaryDirectory(prefix="iospki-status-") as tmpdir:
            tmp = Path(tmpdir)
            collect_into(ctx, tmp, facts=False, description="status")
            data = [host_status(load_host(tmp, h)) for h in ctx.nr.inventory.hosts]
    if as_json:
        console.print_json(json.dumps(data))
    else:
        render(data)
    if any(h["error"] for h in data):
        raise typer.Exit(EXIT_HOSTS)
    raise typer.Exit(EXIT_FINDINGS if any(_problem(h) for h in data) else EXIT_OK)
