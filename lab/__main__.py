"""`python -m iospki.lab up|down|status|clock|fault|timers|serve`.

`up` starts ONE background process (`serve`) holding every router, waits until all accept connections and
writes `<state>/lab.json` (pid, control URL, hosts). The other commands talk to that process's control
channel on 127.0.0.1.

One lab per state directory (`statelock`): a second `up` on a directory whose lab runs fails with one line
naming the directory and the lab's pid, exit 3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from iospki.lab import statelock

STATE_FILE = "lab.json"


class LabCliError(Exception):
    pass


class LabUsageError(LabCliError):
    """A command the lab refused as given (unknown fault or host, bad time): exit 2, as every iospki usage error."""


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state or ".lab").resolve()


def read_state(state_dir: Path) -> dict[str, Any]:
    path = state_dir / STATE_FILE
    if not path.is_file():
        raise LabCliError(f"no lab running for state dir {state_dir} (no {STATE_FILE}); run `up` first")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        if not isinstance(data, dict) or "control" not in data or "pid" not in data:
            raise ValueError("no pid/control entry")
    except (OSError, ValueError) as exc:
        raise LabCliError(f"lab state file {path} is unreadable ({exc}); run `down`, then `up`") from exc
    return data


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def control(state_dir: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    state = read_state(state_dir)
    url = state["control"] + path
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {state.get('token', '')}"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=3600) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            msg = json.loads(exc.read()).get("error", str(exc))
        except Exception:
            msg = str(exc)
        raise (LabUsageError if exc.code in (400, 404) else LabCliError)(msg) from exc
    except (urllib.error.URLError, OSError) as exc:
        pid = int(state.get("pid", 0) or 0)
        if pid and not _alive(pid):  # the lab died or was killed: say so, not just "connection refused"
            raise LabCliError(
                f"the lab (pid {pid}) is not running any more; {state_dir / STATE_FILE} is stale: "
                "run `down` to clear it, then `up`"
            ) from exc
        reason = getattr(exc, "reason", exc)
        raise LabCliError(f"lab control channel {url} unreachable: {reason}") from exc


# -- serve (the background process) ---------------------------------------------------------------------------
async def serve(args: argparse.Namespace) -> int:
    from iospki.lab.clock import parse_time
    from iospki.lab.control import start_control
    from iospki.lab.inventory import load_inventory
    from iospki.lab.lab import Lab

    state_dir = _state_dir(args)
    # one lab per state directory: the lock `up` took and handed over, or (started directly) our own
    lock = statelock.inherited()
    if lock is None:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = statelock.acquire(state_dir)
    statelock.record_pid(lock, os.getpid())
    specs = load_inventory(Path(args.inventory))
    start = parse_time(args.start) if args.start else None
    plugins = tuple(p for p in args.plugins.split(",") if p) if args.plugins is not None else None
    lab = Lab(specs, state_dir, start=start, rate=args.rate, plugins=plugins)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await lab.start()
    token = secrets.token_urlsafe(32)  # the control channel's key: only readers of the 0600 state file hold it
    runner, port = await start_control(lab, stop, token)
    state = {
        "pid": os.getpid(),
        "control": f"http://127.0.0.1:{port}",
        "token": token,
        "inventory": str(Path(args.inventory).resolve()),
        "state_dir": str(state_dir),
        "started": time.time(),
        "plugins": lab.plugins,
        "plugin_errors": lab.plugin_errors,
        "hosts": [
            {
                "name": d.name,
                "address": d.address,
                "port": d.port,
                "family": d.family,
                "platform_family": d.platform.platform_family,
            }
            for d in lab.devices.values()
        ],
    }
    tmp = state_dir / (STATE_FILE + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # created 0600 (never briefly readable by others): it holds the control token
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(state, indent=1))
    tmp.replace(state_dir / STATE_FILE)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / STATE_FILE).unlink()
        await lab.stop()
        await runner.cleanup()
    return 0


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- client commands -----------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = statelock.acquire(state_dir)  # StateBusy: another lab runs from here (exit 3)
    try:
        return _up(args, state_dir, lock)
    finally:
        os.close(lock)  # the lab process holds it now (or nothing started and it is free again)


def _up(args: argparse.Namespace, state_dir: Path, lock: int) -> int:
    existing = state_dir / STATE_FILE
    if existing.is_file():
        old = json.loads(existing.read_text())
        if _alive(int(old.get("pid", 0))):
            raise LabCliError(
                f"a lab is already running from {state_dir} (pid {old['pid']}); run `down` first"
            )
        existing.unlink()
    from iospki.lab.inventory import load_inventory

    specs = load_inventory(Path(args.inventory))  # fail fast, in the foreground, on a bad inventory
    cmd = [
        sys.executable,
        "-m",
        "iospki.lab",
        "serve",
        "--inventory",
        str(Path(args.inventory).resolve()),
        "--state",
        str(state_dir),
        "--rate",
        str(args.rate),
    ]
    if args.start:
        cmd += ["--start", args.start]
    if args.plugins is not None:
        cmd += ["--plugins", args.plugins]
    log_path = state_dir / "lab.log"
    with open(log_path, "ab") as log_fh:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=log_fh,
            start_new_session=True,
            close_fds=True,
            pass_fds=(lock,),  # the state directory's lock goes on to the lab process
            env={**os.environ, statelock.FD_ENV: str(lock)},
        )
    statelock.record_pid(lock, proc.pid)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise LabCliError(f"lab process exited with code {proc.returncode}; log {log_path}:\n{tail}")
        if existing.is_file():
            break
        time.sleep(0.05)
    else:
        proc.terminate()
        raise LabCliError(f"lab did not come up within {args.timeout} s; see {log_path}")
    state = read_state(state_dir)
    for h in state["hosts"]:  # every router must answer with an SSH banner before `up` returns
        with socket.create_connection((h["address"], h["port"]), timeout=10) as sock:
            sock.settimeout(10)
            if not sock.recv(64).startswith(b"SSH-"):
                raise LabCliError(f"host {h['name']}: {h['address']}:{h['port']} does not speak SSH")
    if not args.quiet:
        print(
            f"lab up: {len(specs)} routers, pid {state['pid']}, control {state['control']}, state {state_dir}"
        )
        for err in state.get("plugin_errors", []):
            print(f"warning: plugin {err}", file=sys.stderr)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    try:
        state = read_state(state_dir)
    except LabCliError as exc:
        if (state_dir / STATE_FILE).exists():  # unreadable: nothing to stop, clear it so `up` can start
            (state_dir / STATE_FILE).unlink()
            print(f"removed {state_dir / STATE_FILE}: {exc}")
        else:
            print(f"no lab running for {state_dir}")
        return 0
    pid = int(state["pid"])
    with contextlib.suppress(LabCliError):
        control(state_dir, "POST", "/stop", {})
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        time.sleep(1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_FILE).unlink()
    print(f"lab down (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = control(_state_dir(args), "GET", "/status")
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    print(format_status(st))
    return 0


def _clock_word(h: dict[str, Any]) -> str:
    """What a person reading `lab status` needs: is this router's clock trusted, and from where."""
    mark = h.get("clock_mark", "" if h["authoritative"] else "*")
    source = h.get("clock", "")
    if mark == "*":
        return "NOT SET (*)"
    if mark == ".":
        return "ntp lost (.)"
    return "calendar" if "calendar" in source else "ntp"


def format_status(st: dict[str, Any]) -> str:
    """`lab status` as a table: one router per line, then a one-line summary."""
    now = str(st["now"]).replace("T", " ")[:19]
    rate = float(st["rate"])
    pace = "real time" if rate == 1 else ("stopped" if rate == 0 else f"x{rate:g}")
    out = [
        f"Lab (pid {st['pid']}): clock {now} UTC, {pace}; timers pending {st['timers_pending']}, "
        f"fired {st['timers_fired']}, failed {st['timer_errors']}",
    ]
    if st.get("plugin_errors"):
        out.append("plugin errors: " + "; ".join(str(e) for e in st["plugin_errors"]))
    head = ("NAME", "ADDRESS:PORT", "PLATFORM", "MODEL", "SOFTWARE", "CLOCK", "HTTP", "SSH", "FAULTS")
    rows = [head]
    for h in st["hosts"]:
        rows.append(
            (
                str(h["name"]),
                f"{h['address']}:{h['port']}",
                str(h["platform_family"]),
                str(h["model"]),
                str(h["software"]),
                _clock_word(h),
                str(h["http"] or "off"),
                str(h.get("sessions", 0)),
                ", ".join(h.get("faults", [])) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    hosts = st["hosts"]
    unset = sum(1 for h in hosts if _clock_word(h).startswith("NOT"))
    faulty = sum(1 for h in hosts if h.get("faults"))
    out.append(
        f"{len(hosts)} router{'s' * (len(hosts) != 1)}; {sum(int(h.get('sessions', 0)) for h in hosts)} SSH sessions; "
        f"{unset} without an authoritative clock; {faulty} with faults"
    )
    return "\n".join(out)


def cmd_clock(args: argparse.Namespace) -> int:
    sd = _state_dir(args)
    if args.action == "show":
        res = control(sd, "GET", "/clock")
    elif args.action == "set":
        res = control(sd, "POST", "/clock", {"action": "set", "time": args.value})
    elif args.action == "advance":
        res = control(sd, "POST", "/clock", {"action": "advance", "by": args.value})
    else:
        res = control(sd, "POST", "/clock", {"action": "rate", "rate": args.value})
    extra = f"  (timers fired: {res['fired']})" if "fired" in res else ""
    print(f"{res['now']}  rate {res['rate']}{extra}")
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    res = control(
        _state_dir(args),
        "POST",
        "/fault",
        {"host": args.host, "kind": args.kind, "on": args.state_word == "on"},
    )
    print(f"{res['host']}: faults {', '.join(res['faults']) or 'none'}")
    return 0


def cmd_timers(args: argparse.Namespace) -> int:
    path = "/timers" + (f"?host={args.host}" if args.host else "")
    for t in control(_state_dir(args), "GET", path):
        print(f"{t['at']}  {t['name']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m iospki.lab", description="The iospki lab twin.")
    p.add_argument("--state", help="state directory (default .lab in the current directory)")
    # `serve` (the background process `up` starts) is left out of the help: no help= and not in the metavar
    sub = p.add_subparsers(dest="command", required=True, metavar="{up,down,status,clock,fault,timers}")

    def with_state(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--state", default=argparse.SUPPRESS, help="state directory (default .lab)")
        return sp

    for name in ("up", "serve"):
        sp = with_state(sub.add_parser(name, help="start the lab") if name == "up" else sub.add_parser(name))
        sp.add_argument(
            "--inventory", help="Nornir SimpleInventory directory (default: the built-in lab, from any directory)"
        )
        sp.add_argument("--start", help="lab start time (ISO 8601; default: now)")
        sp.add_argument("--rate", type=float, default=1.0, help="lab seconds per real second")
        sp.add_argument("--plugins", help="comma-separated plugin modules (default iospki.lab.pki)")
        if name == "up":
            sp.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every router (default 120)")
            sp.add_argument("--quiet", action="store_true", help="no summary once the lab is up")
    with_state(sub.add_parser("down", help="stop the lab"))
    st = with_state(sub.add_parser("status", help="list routers"))
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    ck = with_state(sub.add_parser("clock", help="show|set ISO|advance 90d|rate R"))
    ck.add_argument("action", choices=["show", "set", "advance", "rate"])
    ck.add_argument("value", nargs="?")
    ft = with_state(sub.add_parser("fault", help="HOST KIND on|off"))
    ft.add_argument("host")
    ft.add_argument("kind")
    ft.add_argument("state_word", choices=["on", "off"])
    tm = with_state(sub.add_parser("timers", help="pending device timers"))
    tm.add_argument("--host", help="this router only (default: every router)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "inventory", "") is None:  # up/serve without --inventory
        from iospki.lab.inventory import builtin_inventory

        args.inventory = str(builtin_inventory())
    try:
        if args.command == "serve":
            _raise_nofile()
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
            logging.getLogger("asyncssh").setLevel(logging.WARNING)
            profile = os.environ.get("IOSPKI_LAB_PROFILE")  # developer aid: cProfile dump of the lab process
            if profile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
                try:
                    return asyncio.run(serve(args))
                finally:
                    prof.disable()
                    prof.dump_stats(profile)
            try:
                return asyncio.run(serve(args))
            except Exception as exc:  # LabStartError, InventoryError: one line in the log, exit 2
                logging.getLogger("iospki.lab").error("lab failed to start: %s", exc)
                return 2
        if args.command == "clock" and args.action != "show" and not args.value:
            raise LabUsageError(f"clock {args.action} needs a value")
        handler = {
            "up": cmd_up,
            "down": cmd_down,
            "status": cmd_status,
            "clock": cmd_clock,
            "fault": cmd_fault,
            "timers": cmd_timers,
        }[args.command]
        return handler(args)
    except statelock.StateBusy as exc:  # exit 3: the environment (a running lab) is in the way
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except LabCliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, LabUsageError) else 1
    except Exception as exc:  # inventory errors etc.: one clear line, no traceback
        if args.command == "serve":
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
