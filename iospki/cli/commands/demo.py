"""`iospki demo`: the whole lifecycle on a fresh lab, in a few minutes.

Starts the lab twin as a subprocess (`python -m iospki.lab up`, never imported), deploys, collects, shows
status, rolls the CA over on demand (with verification incl. GetNextCACert), advances the lab clock through
rollover day, collects again, verifies, runs audit + forecast, prints where the outputs are
and stops the lab (also on Ctrl-C and errors).

Each step runs in its own process group, so a Ctrl-C on the terminal reaches the demo alone: it passes the
signal on once to the `iospki` step running (which stops after its device exchanges and says what it
changed), starts no further step, stops the lab, prints the summary and exits 130.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import typer

from iospki.cli.kit import (
    EXIT_FINDINGS,
    EXIT_HOSTS,
    EXIT_MEANING,
    EXIT_OK,
    INVENTORY_OPT,
    LIMIT_OPT,
    console,
    err_console,
    no_cluster_opt,
    refuse_cluster,
    table,
)
from iospki.cluster import ENV_CLUSTER
from iospki.operations import interrupt
from iospki.operations.inventory import DEFAULT_INVENTORY

_RUNNING: list[subprocess.Popen[str]] = []  # the step that a Ctrl-C is passed on to


def _child(
    cmd: list[str], timeout: float, capture: bool, stoppable: bool
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in its own process group (a terminal's Ctrl-C must not reach it twice: from the terminal
    and from us); `stoppable` steps get our Ctrl-C passed on, the others (lab up/down) always finish."""
    pipe = subprocess.PIPE if capture else None
    # the steps drive the lab started here: an IOSPKI_CLUSTER of the operator's must not send them to a cluster
    env = {k: v for k, v in os.environ.items() if k != ENV_CLUSTER}
    proc = subprocess.Popen(cmd, stdout=pipe, stderr=pipe, text=True, start_new_session=True, env=env)
    if stoppable:
        _RUNNING.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    finally:
        if stoppable:
            _RUNNING.remove(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _pass_on_ctrl_c() -> None:
    for proc in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)


def _lab(state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "iospki.lab", *args, "--state", str(state)]
    return _child(cmd, timeout, capture=True, stoppable=args[0] not in ("up", "down"))


def _cli(*args: str, timeout: float = 600) -> int:
    """Run an `iospki` command in a child process (its own exit code, its own output on our terminal)."""
    cmd = [sys.executable, "-c", "from iospki.cli import main; main()", *args]
    return _child(cmd, timeout, capture=False, stoppable=True).returncode


def _step(
    title: str,
    fn: Callable[[], int],
    expect: tuple[int, ...] = (EXIT_OK,),
    log: list[tuple[str, int, bool, float]] | None = None,
) -> int:
    console.rule(f"[bold]{title}")
    t0 = time.monotonic()
    rc = fn()
    secs = time.monotonic() - t0
    meaning = "interrupted" if rc == interrupt.EXIT_INTERRUPTED else EXIT_MEANING.get(rc, "crashed")
    if rc in expect:
        mark = "[green]ok[/green]" + (f" (exit {rc}: {meaning}, expected here)" if rc else "")
    else:
        mark = f"[red]FAILED: exit {rc} ({meaning})[/red]"
    console.print(f"{mark} ({secs:.1f}s)")
    if log is not None:
        log.append((title, rc, rc in expect, secs))
    return rc


_NO_CLUSTER = "it starts a lab twin on this machine and drives only that"


def demo(
    inventory: str = INVENTORY_OPT,
    output: Path = typer.Option(
        None, "--output", "-o", help="where collections and reports go (default ./out/demo-<UTC time>)"
    ),
    advance: str = typer.Option(
        "731d", "--advance", help="how far to move the lab clock (through rollover day)"
    ),
    keep_lab: bool = typer.Option(False, "--keep-lab", help="leave the lab running at the end"),
    limit: str = LIMIT_OPT,  # the steps run on these hosts only; the lab starts them all
    cluster: str = no_cluster_opt(_NO_CLUSTER),
) -> None:
    """Fresh lab: deploy, collect, status, rollover, advance the clock through rollover day, collect, verify.

    On this machine only: no --cluster, and an IOSPKI_CLUSTER in the environment is not passed to its steps."""
    refuse_cluster(cluster, "demo", _NO_CLUSTER)
    inv = (Path(inventory) if inventory else DEFAULT_INVENTORY).resolve()
    out = (output or Path("out") / f"demo-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="iospki-demo-lab-"))
    inv_args = ["--inventory", str(inv), *(["--limit", limit] if limit else [])]
    failures: list[str] = []
    steps: list[tuple[str, int, bool, float]] = []  # (title, exit code, as expected, seconds)
    started = False
    # the whole demo stops cooperatively: a Ctrl-C goes on to the step running, never raises in here
    with interrupt.cooperative(on_stop=_pass_on_ctrl_c):
        try:
            console.rule("[bold]lab up")
            up = _lab(state, "up", "--inventory", str(inv))
            if up.returncode != 0:
                err_console.print(
                    f"[red]the lab did not start:[/red] {(up.stderr or up.stdout).strip()[-2000:]}"
                )
                raise typer.Exit(EXIT_HOSTS)
            started = True
            console.print(up.stdout.strip())
            _steps(inv, out, state, inv_args, advance, steps, failures)
        finally:
            if keep_lab and started and not interrupt.stopped():
                console.print(f"lab left running: python -m iospki.lab status --state {state}")
            else:  # also when `up` failed half-way: nothing of the demo is left running
                _lab(state, "down", timeout=60)
                shutil.rmtree(state, ignore_errors=True)
    if interrupt.stopped():
        failures.append("interrupted (Ctrl-C): no further step was started, the lab was stopped")
    _summary(out, steps, failures)


def _steps(
    inv: Path,
    out: Path,
    state: Path,
    inv_args: list[str],
    advance: str,
    steps: list[tuple[str, int, bool, float]],
    failures: list[str],
) -> None:
    """The demo's steps on a running lab; after a Ctrl-C none is started."""

    def check(title: str, args: list[str], expect: tuple[int, ...] = (EXIT_OK,)) -> int:
        if interrupt.stopped():
            return interrupt.EXIT_INTERRUPTED
        rc = _step(title, lambda: _cli(*args), expect, steps)
        if rc not in expect:
            failures.append(f"{title}: exit {rc}")
        return rc

    check("inventory validate", ["inventory", "validate", *inv_args])
    check("deploy --dry-run", ["deploy", "--dry-run", *inv_args, "--backup-dir", str(out / "backups")])
    check("deploy", ["deploy", *inv_args, "--backup-dir", str(out / "backups")])
    check(
        "deploy --dry-run again (every host 'in sync': a second deploy changes nothing)",
        ["deploy", "--dry-run", *inv_args],
    )
    check("collect (before)", ["collect", *inv_args, "--output", str(out / "before")])
    check("status", ["status", "--offline", str(out / "before")], (EXIT_OK, EXIT_FINDINGS))
    server = _first_ca(inv)
    if server:
        check(
            f"rollover {server} (on demand, verified with GetNextCACert)",
            ["rollover", server, "--yes", *inv_args],
        )
    # the collection that `verify` compares against must know the rollover CA (its fingerprint)
    check("collect (rollover pending)", [*["collect", *inv_args], "--output", str(out / "rollover")])
    if interrupt.stopped():
        return
    console.rule(f"[bold]lab clock advance {advance} (through rollover day)")
    t0 = time.monotonic()
    adv = _lab(state, "clock", "advance", advance, timeout=1800)
    console.print(f"lab clock now {(adv.stdout or adv.stderr).strip()} ({time.monotonic() - t0:.1f}s)")
    steps.append((f"lab clock advance {advance}", adv.returncode, adv.returncode == 0, time.monotonic() - t0))
    if adv.returncode != 0:
        failures.append(f"clock advance: {adv.stderr.strip()}")
    check("collect (after)", ["collect", *inv_args, "--output", str(out / "after")])
    check("status after rollover day", ["status", "--offline", str(out / "after")], (EXIT_OK, EXIT_FINDINGS))
    check(
        "verify rollover -> after (new serials, new CA = rollover CA, keys regenerated, chains valid)",
        ["verify", "--before", str(out / "rollover"), "--after", str(out / "after"), *inv_args],
    )
    audit = [
        "audit",
        "--offline",
        str(out / "after"),
        "--format",
        "html",
        "--output",
        str(out / "audit.html"),
    ]
    rc = check("audit (after)", audit, (EXIT_OK, EXIT_FINDINGS))
    # exit 1 is "findings", but a crash exits 1 too: the report must exist
    if rc in (EXIT_OK, EXIT_FINDINGS) and not (out / "audit.html").is_file():
        failures.append("audit (after): no report written")
    check("forecast (after)", ["forecast", "--offline", str(out / "after")], (EXIT_OK, EXIT_FINDINGS))


def _summary(out: Path, steps: list[tuple[str, int, bool, float]], failures: list[str]) -> None:
    if steps:
        console.rule("[bold]summary")
        console.print(
            table(
                "Demo steps",
                ["step", "result", "exit", "seconds"],
                [
                    [t, "[green]ok[/green]" if ok else "[red]FAILED[/red]", rc, f"{secs:.1f}"]
                    for t, rc, ok, secs in steps
                ],
            )
        )
    console.rule("[bold]outputs")
    for p in ("backups", "before", "rollover", "after", "audit.html"):
        if (out / p).exists():
            console.print(f"  {out / p}")
    if failures:
        err_console.print("[red]demo finished with problems:[/red] " + "; ".join(failures))
        raise typer.Exit(EXIT_FINDINGS)
    console.print("[green]demo complete[/green]")


def _first_ca(inv: Path) -> str | None:
    from iospki.operations.intent import host_intent
    from iospki.operations.inventory import load_nornir

    nr = load_nornir(inv)
    for n, h in nr.inventory.hosts.items():
        if host_intent(dict(h.items())).ca_server:
            return n
    return None
