"""`iospki verify --before SNAP [--after SNAP]`: prove from two collections that renewals/rollovers happened.

Per host and trustpoint that held an identity certificate before: a valid one is still there (nothing that
was valid is missing), its serial is new, its issuer is the trustpoint's CA (the old CA or, after rollover
day, the CA that was the rollover CA before), its validity moved forward, the chain holds (issuer = CA
subject, dates inside the CA's), and the key changed when the inventory says `regenerate` and the renewal was
auto-enroll's (`regenerate` governs those only: a manual `crypto pki enroll` keeps the key, rulebook C7).
Without --after, a fresh collection is taken from the devices now (`--cluster`: on the Dask cluster).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

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
    open_inventory,
    select,
    status_cell,
    table,
)
from iospki.models import Certificate, CertKind
from iospki.operations.collection import collect_into
from iospki.operations.intent import host_intent
from iospki.operations.inventory import InventoryError, host_groups, load_nornir
from iospki.pki.inputs import is_capped, timer_time
from iospki.state import store
from iospki.state.loader import HostState, load_host

Check = tuple[str, str, str, bool, str]  # host, trustpoint, check, ok, detail


def _dn(s: str | None) -> str:
    return re.sub(r"\s*,\s*", ",", (s or "").strip().lower())


def _valid(c: Certificate | None, now: datetime | None) -> bool:
    if c is None or c.start is None or c.end is None:
        return False
    return now is None or c.start <= now < c.end


def _key_data(st: HostState, label: str) -> str | None:
    for k in st.keys:
        if k.name == label and not k.rollover:
            return k.key_data
    return None


# a certificate issued this much before the auto-enroll time the device showed was not auto-enroll's doing (the
# CA's clock, which dates the certificate, may differ from the client's by up to this much)
_AUTO_SLACK = timedelta(minutes=10)


def _manual_renewal(before: HostState, after: HostState, tp: str) -> str | None:
    """Why the identity certificate of `tp` was renewed by hand, or None when the renewal may have been
    auto-enroll's (also when the collections do not say: the inventory's `regenerate` then governs, as before).
    Manual: the before collection showed the auto-enroll time (RENEW, or for a certificate capped at the CA's
    end its SHADOW, C9) and the new certificate was issued before it, or it showed no such timer at all."""
    ident, ca = before.cert(tp, CertKind.identity), before.cert(tp, CertKind.ca)
    new, new_ca = after.cert(tp, CertKind.identity), after.cert(tp, CertKind.ca)
    if before.timers is None or ident is None or new is None or new.start is None:
        return None
    if before.cert(tp, CertKind.identity, rollover=True) is not None or (
        ca is not None and new_ca is not None and new_ca.serial != ca.serial
    ):
        return None  # a rollover: the shadow renewal's certificate (C4, C6), auto-enroll's
    timer = before.timer("RENEW", tp) or (before.timer("SHADOW", tp) if is_capped(before, tp) else None)
    if timer is None:
        return "no auto-enroll renewal was armed"
    due = timer_time(before, timer)
    if due is not None and new.start < due - _AUTO_SLACK:
        return f"issued before auto-enroll's time {due:%Y-%m-%d %H:%M:%S} UTC"
    return None


def verify_views(
    before_state: HostState,
    after_state: HostState,
    regenerate: dict[str, tuple[bool, str | None]] | None = None,
    rollover_fps: set[str] | None = None,
) -> list[Check]:
    """Checks for one host; `regenerate` maps trustpoint -> (regenerate set, key label) from the inventory;
    `rollover_fps` are the MD5 fingerprints of the rollover CA certificates the CA servers held before.
    Times are compared and shown as the devices printed them (`HostState.printed`): the details then quote
    what an operator sees on each router."""
    h = before_state.host
    out: list[Check] = []
    if before_state.collection_error:
        return [(h, "-", "collected before", False, before_state.collection_error)]
    if after_state.collection_error:
        return [(h, "-", "collected after", False, after_state.collection_error)]
    before, after = before_state.printed, after_state.printed
    servers = {s.name for s in before.servers} | {s.name for s in after.servers}
    for s in before.servers:
        a = next((x for x in after.servers if x.name == s.name), None)
        if a is None:
            out.append((h, s.name, "CA server present", False, "missing after"))
            continue
        if s.rollover_fingerprint and a.ca_fingerprint:
            out.append(
                (
                    h,
                    s.name,
                    "rollover CA became active",
                    a.ca_fingerprint == s.rollover_fingerprint,
                    f"active {a.ca_fingerprint}, rollover was {s.rollover_fingerprint}",
                )
            )
        elif s.ca_fingerprint and a.ca_fingerprint and s.ca_fingerprint != a.ca_fingerprint:
            out.append(
                (
                    h,
                    s.name,
                    "CA certificate",
                    False,
                    f"changed from {s.ca_fingerprint} to {a.ca_fingerprint} without a rollover",
                )
            )
    for tp in before.trustpoints():
        if tp in servers:
            continue
        b_id = next(iter(before.certs(tp, "identity")), None)
        if not _valid(b_id, before.now):
            continue  # nothing valid to follow
        assert b_id is not None
        a_id = next(iter(after.certs(tp, "identity")), None)
        a_ca = next(iter(after.certs(tp, "ca")), None)
        if not _valid(a_id, after.now):
            why = "no identity certificate" if a_id is None else f"#{a_id.serial} not valid at {after.now}"
            out.append(
                (h, tp, "valid identity certificate", False, f"was #{b_id.serial} to {b_id.end}; now {why}")
            )
            continue
        assert a_id is not None
        out.append((h, tp, "valid identity certificate", True, f"#{a_id.serial} {a_id.start} to {a_id.end}"))
        out.append((h, tp, "new serial", a_id.serial != b_id.serial, f"{b_id.serial} -> {a_id.serial}"))
        out.append(
            (
                h,
                tp,
                "validity moved forward",
                bool(a_id.end and b_id.end and a_id.end > b_id.end),
                f"end {b_id.end} -> {a_id.end}",
            )
        )
        # expected issuers: the CA of before, or the rollover CA of before (after rollover day)
        b_ca = next(iter(before.certs(tp, "ca")), None)
        b_roll = next(iter(before.certs(tp, "ca", rollover=True)), None)
        expected = {_dn(c.subject) for c in (b_ca, b_roll) if c is not None}
        out.append(
            (
                h,
                tp,
                "issuer is the expected CA",
                _dn(a_id.issuer) in expected or not expected,
                f"{a_id.issuer}",
            )
        )
        if a_ca is None:
            out.append((h, tp, "chain valid", False, "no CA certificate"))
        else:
            ok = (
                _dn(a_id.issuer) == _dn(a_ca.subject)
                and _valid(a_ca, after.now)
                and bool(a_id.end and a_ca.end and a_id.end <= a_ca.end)
            )
            out.append((h, tp, "chain valid", ok, f"CA #{a_ca.serial} {a_ca.subject} to {a_ca.end}"))
            if b_ca is not None and a_ca.serial != b_ca.serial:
                fp = (a_ca.fingerprint_md5 or "").replace(" ", "").upper()
                same = (b_roll is not None and a_ca.serial == b_roll.serial and a_ca.end == b_roll.end) or (
                    bool(fp) and fp in (rollover_fps or set())
                )
                detail = f"CA #{b_ca.serial} -> #{a_ca.serial} {fp}".strip()
                out.append((h, tp, "new CA is the former rollover CA", same, detail))
        regen, label = (regenerate or {}).get(tp, (False, None))
        if regen:
            out.append(_key_check(before_state, after_state, tp, label or (a_id.key_label or tp)))
    return out


def _key_check(before: HostState, after: HostState, tp: str, label: str) -> Check:
    """`regenerate` (C7): an auto-enroll renewal replaces the key pair; a manual renewal keeps it."""
    h = before.host
    manual = _manual_renewal(before, after, tp)
    check = "key kept (manual renewal)" if manual is not None else "key replaced (regenerate)"
    kb, ka = _key_data(before, label), _key_data(after, label)
    if kb is None or ka is None:
        return (h, tp, check, False, f"key {label} not shown in show crypto key mypubkey rsa")
    detail = f"key {label} {'changed' if kb != ka else 'unchanged'}"
    if manual is None:
        return (h, tp, check, kb != ka, detail)
    return (h, tp, check, kb == ka, f"{detail}: {manual}; regenerate governs auto-enroll renewals only")


@closing
def verify(
    before: Path = typer.Option(..., "--before", help="collection taken before"),
    after: Path = typer.Option(None, "--after", help="collection taken after (default: collect now)"),
    inventory: str = INVENTORY_OPT,
    limit: str = LIMIT_OPT,
    as_json: bool = JSON_OPT,
    cluster: str = CLUSTER_OPT,
) -> None:
    """Compare two collections and prove renewals/rollovers happened (exit 1 when a check fails).

    Without --after the after collection is taken now, on the cluster with --cluster (read-only: a lost
    worker's hosts are collected by another worker of their site); with --after no device is read."""
    try:
        b_hosts = store.hosts(before)
    except store.StoreError as exc:
        fail_usage(str(exc))
    regen: dict[str, dict[str, tuple[bool, str | None]]] = {}
    selected: set[str] | None = None
    try:
        nr = load_nornir(inventory)
    except InventoryError:
        if limit:
            fail_usage(f"--limit needs a usable inventory ({inventory or 'built-in'})")
    else:
        if limit:  # names, globs, groups; a term that matches nothing exits 2 naming it
            selected = set(select(nr.inventory.hosts, limit, host_groups(nr)))
        try:
            for n, host in nr.inventory.hosts.items():
                if selected is None or n in selected:
                    intent = host_intent(dict(host.items()))
                    regen[n] = {t.name: (t.regenerate, t.key_label) for t in intent.trustpoints}
        except ValueError:
            if limit:
                fail_usage(f"--limit needs a usable inventory ({inventory or 'built-in'})")
    if after is None:
        ctx = open_inventory(inventory, limit, cluster=cluster)
        after = Path(f"{before}-after-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")
        collect_into(ctx, after)
    try:
        a_hosts = set(store.hosts(after))
    except store.StoreError as exc:
        fail_usage(str(exc))
    checks: list[Check] = []
    b_states = {h: load_host(before, h) for h in b_hosts}
    rollover_fps = {
        s.rollover_fingerprint for st in b_states.values() for s in st.servers if s.rollover_fingerprint
    }
    for h in b_hosts:
        if selected is not None and h not in selected:
            continue
        if h not in a_hosts:
            checks.append((h, "-", "collected after", False, "host missing from the after collection"))
            continue
        checks += verify_views(b_states[h], load_host(after, h), regen.get(h), rollover_fps)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "before": str(before),
                    "after": str(after),
                    "checks": [
                        dict(host=a, trustpoint=b, check=c, ok=d, detail=e) for a, b, c, d, e in checks
                    ],
                },
                default=str,
            )
        )
    else:
        console.print(
            table(
                f"Verify {before} -> {after}",
                ["host", "trustpoint", "check", "result", "detail"],
                [[a, b, c, status_cell(d), e] for a, b, c, d, e in checks],
            )
        )
    hosts_failed = any(not ok and c.startswith("collected") for _, _, c, ok, _ in checks)
    if hosts_failed:
        raise typer.Exit(EXIT_HOSTS)
    if not checks:
        console.print("[yellow]nothing to verify: no host held a valid identity certificate before[/yellow]")
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK if all(ok for _, _, _, ok, _ in checks) else EXIT_FINDINGS)
