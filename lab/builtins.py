"""Built-in IOS commands: exec (show, dir, copy, write, reload, ...) and global configuration."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timedelta, timezone

from iospki.lab.config import ConfigNode, parse_lines
from iospki.lab.context import BatchTerminal, ConfigChange, ConfigContext, ExecContext
from iospki.lab.device import DAYS, MONTHS, Device, call_hook
from iospki.lab.engine import ConfigEngine
from iospki.lab.platforms import show_version
from iospki.lab.registry import Match, Registry
from iospki.lab.secrets import hash_secret, verify_secret
from iospki.lab.storage import FILESYSTEMS, StorageError, split_path

REPLACE_QUESTION = (
    "This will apply all necessary additions and deletions\n"
    "to replace the current running configuration with the\n"
    "contents of the specified configuration file, which is\n"
    "assumed to be a complete configuration, not a partial\n"
    "configuration. Enter Y if you are sure you want to proceed. ? [no]: "
)


# ---------------------------------------------------------------------------------------------------------
# exec: session control
async def cmd_enable(ctx: ExecContext, m: Match) -> None:
    s = ctx.session
    if s is None or s.privilege >= 15:
        return
    stored = ctx.device.running.value("enable secret") or ctx.device.running.value("enable password")
    if stored is None:
        ctx.writeln("% No password set")
        return
    stored = stored.split()[-1]
    for _ in range(3):
        answer = await ctx.ask("Password: ", hide=True)
        if verify_secret(answer, stored) and "bad-password" not in ctx.device.faults:
            s.privilege = 15
            return
    ctx.writeln("% Bad secrets")
    ctx.writeln()


def cmd_disable(ctx: ExecContext, m: Match) -> None:
    if ctx.session is not None:
        ctx.session.privilege = 1


def cmd_exit(ctx: ExecContext, m: Match) -> bool:
    return False


def cmd_terminal(ctx: ExecContext, m: Match) -> None:
    s = ctx.session
    value = m.arg("n", "0") or "0"
    if not value.isdigit() or int(value) > 512:
        ctx.reject("% Invalid input detected at '^' marker.")
    if s is not None:
        if m.has("length"):
            s.terminal_length = int(value)
        else:
            s.terminal_width = int(value)


async def cmd_configure(ctx: ExecContext, m: Match) -> str | None:
    answer = await ctx.ask("Configuring from terminal, memory, or network [terminal]? ", default="terminal")
    choice = answer.strip().lower()
    if "terminal".startswith(choice):
        cmd_configure_terminal(ctx, m)
        return None
    if "memory".startswith(choice):
        text = ctx.device.startup_text() or ""
        await apply_config_text(ctx.device, ctx, text, replace=False)
        return None
    return '?Must be "terminal", "memory" or "network"'


async def cmd_clear_logging(ctx: ExecContext, m: Match) -> None:
    answer = await ctx.ask("Clear logging buffer [confirm]", default="y")
    if not answer.strip() or answer.strip().lower().startswith("y"):
        ctx.device.log_buffer.clear()


def cmd_show_http_status(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    return "\n".join(
        [
            f"HTTP server status: {'Enabled' if d.http_enabled else 'Disabled'}",
            f"HTTP server port: {d.http_port}",
            "HTTP server active supplementary listener ports:",
            "HTTP server authentication method: enable",
            "HTTP server auth-retry 0 time-window 0",
            "HTTP server digest algorithm: md5",
            "HTTP server access class: 0",
            "HTTP server IPv4 access class: None",
            "HTTP server base path:",
            "Maximum number of concurrent server connections allowed: 50",
            "Maximum number of secondary server connections allowed: 50",
            "Server idle time-out: 180 seconds",
            "Server life time-out: 180 seconds",
            "Server session idle time-out: 600 seconds",
            "Maximum number of requests allowed on a connection: 25",
            "Server linger time : 60 seconds",
            "HTTP server active session modules: ALL",
            "HTTP secure server capability: Present",
            f"HTTP secure server status: {'Enabled' if d.running.find('ip http secure-server') else 'Disabled'}",
        ]
    )


def cmd_configure_terminal(ctx: ExecContext, m: Match) -> None:
    ctx.writeln("Enter configuration commands, one per line.  End with CNTL/Z.")
    if ctx.session is not None:
        ctx.session.enter_config()


# ---------------------------------------------------------------------------------------------------------
# exec: show
def cmd_show_version(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    return show_version(d.hostname, d.platform, d.uptime(), d.serial, d.reload_reason)


def cmd_show_running(ctx: ExecContext, m: Match) -> str:
    return ctx.device.running_text()


def cmd_show_startup(ctx: ExecContext, m: Match) -> str:
    text = ctx.device.startup_text()
    if text is None:
        return "startup-config is not present"
    return f"Using {len(text.encode())} out of 2097152 bytes\n" + text


def cmd_show_clock(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    out = d.format_clock() + "\n"
    if m.has("detail"):
        out += d.time_source + "\n"
    return out


_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _month(word: str) -> int | None:
    """IOS takes a month as any unique prefix of its name ('sept', 'Nov')."""
    w = word.lower()
    hits = [i for i, name in enumerate(_MONTH_NAMES) if len(w) >= 1 and name.startswith(w)]
    return hits[0] + 1 if len(hits) == 1 else None


async def cmd_clock_set(ctx: ExecContext, m: Match) -> str | None:
    """`clock set hh:mm:ss DAY MONTH YEAR` (or `MONTH DAY YEAR`), in the zone of `clock timezone`."""
    words = [m.arg("time") or "", m.arg("a") or "", m.arg("b") or "", m.arg("year") or ""]
    tm = re.fullmatch(r"(\d{1,2}):(\d{1,2}):(\d{1,2})", words[0])
    hh, mm, ss = (int(v) for v in tm.groups()) if tm else (99, 0, 0)
    if hh > 23 or mm > 59 or ss > 59:
        return "% Invalid input detected at '^' marker."
    day_word, month_word = (words[1], words[2]) if words[1].isdigit() else (words[2], words[1])
    month = _month(month_word)
    if month is None or not day_word.isdigit() or not words[3].isdigit() or not 1993 <= int(words[3]) <= 2035:
        return "% Invalid input detected at '^' marker."
    try:
        local = datetime(int(words[3]), month, int(day_word), hh, mm, ss, tzinfo=timezone.utc)
    except ValueError:
        return "% Invalid input detected at '^' marker."
    d = ctx.device
    _, off = d.tz()
    await d.set_clock(local - off, f"console by {ctx.term.user} on {ctx.term.line_name} ({ctx.term.peer})")
    return None


NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01


def ntp_timestamp(t: datetime) -> str:
    """'E8E05A76.0F1A9FE8': NTP seconds and binary fraction, as `show ntp status` prints the reference time."""
    secs = t.timestamp() + NTP_EPOCH_OFFSET
    whole = int(secs)
    return f"{whole & 0xFFFFFFFF:08X}.{int((secs - whole) * 2**32) & 0xFFFFFFFF:08X}"


def _msec(value: float) -> str:
    """An NTP offset as IOS prints it (`0.0000`, `-12.5000`): never a negative zero, which no parser reads."""
    return f"{round(value, 4) + 0.0:.4f}"


def _ntp_time(d: Device, t: datetime) -> str:
    """'10:35:34.059 UTC Mon Oct 23 2023' in the device's zone."""
    lt, name = d.local(t)
    return (
        f"{lt:%H:%M:%S}.{lt.microsecond // 1000:03d} {name} {DAYS[lt.weekday()]} {MONTHS[lt.month - 1]} "
        f"{lt.day} {lt.year}"
    )


def cmd_show_ntp_status(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    if not d.ntp_servers:
        return "%NTP is not enabled."
    now = d.now()
    uptime = int(d.uptime().total_seconds() * 100)
    last = d.ntp_last_sync
    if d.ntp_synced:
        # the lab clock is the source: synced at the last refresh, polled every 64 s since
        ago = int((now - last).total_seconds()) % 64 if last is not None else 0
        ref = now - timedelta(seconds=ago)
        return (
            f"Clock is synchronized, stratum 2, reference is {d.ntp_servers[0]}\n"
            "nominal freq is 250.0000 Hz, actual freq is 250.0000 Hz, precision is 2**10\n"
            f"ntp uptime is {uptime} (1/100 of seconds), resolution is 4000\n"
            f"reference time is {ntp_timestamp(ref)} ({_ntp_time(d, ref)})\n"
            # NTP's offset is the source's time minus this clock: not 0 after a `clock set`, until the next poll
            f"clock offset is {_msec(-d.clock_offset.total_seconds() * 1000)} msec, root delay is 1.00 msec\n"
            "root dispersion is 2.00 msec, peer dispersion is 1.00 msec\n"
            "loopfilter state is 'CTRL' (Normal Controlled Loop), drift is 0.000000000 s/s\n"
            f"system poll interval is 64, last update was {ago} sec ago."
        )
    if last is not None:  # synchronised once since boot, then lost: the last reference is kept
        return (
            "Clock is unsynchronized, stratum 16, no reference clock\n"
            "nominal freq is 250.0000 Hz, actual freq is 250.0000 Hz, precision is 2**10\n"
            f"ntp uptime is {uptime} (1/100 of seconds), resolution is 4000\n"
            f"reference time is {ntp_timestamp(last)} ({_ntp_time(d, last)})\n"
            "clock offset is 0.0000 msec, root delay is 0.00 msec\n"
            "root dispersion is 18.84 msec, peer dispersion is 0.00 msec\n"
            "loopfilter state is 'SPIK' (Spike), drift is 0.000000000 s/s\n"
            f"system poll interval is 64, last update was {max(0, int((now - last).total_seconds()))} sec ago."
        )
    return (
        "Clock is unsynchronized, stratum 16, no reference clock\n"
        "nominal freq is 250.0000 Hz, actual freq is 250.0000 Hz, precision is 2**10\n"
        f"ntp uptime is {uptime} (1/100 of seconds), resolution is 4000\n"
        "reference time is 00000000.00000000 (00:00:00.000 UTC Mon Jan 1 1900)\n"
        "clock offset is 0.0000 msec, root delay is 0.00 msec\n"
        "root dispersion is 0.00 msec, peer dispersion is 0.00 msec\n"
        "loopfilter state is 'FSET' (Drift set from file), drift is 0.000000000 s/s\n"
        "system poll interval is 64, never updated."
    )


def cmd_show_ntp_assoc(ctx: ExecContext, m: Match) -> str:
    # IOS starts the table with an empty line; the lab clock is a stratum-1 source behind each server
    d = ctx.device
    lines = ["", "  address         ref clock       st   when   poll reach  delay  offset   disp"]
    for i, srv in enumerate(d.ntp_servers):
        if d.ntp_synced:
            mark = "*~" if i == 0 else "+~"
            lines.append(f"{mark}{srv:<15} .GPS.            1     10     64   377  1.000   0.000  1.000")
        else:
            lines.append(f" ~{srv:<15} .INIT.          16      -     64     0  0.000   0.000 15937.")
    lines.append(" * sys.peer, # selected, + candidate, - outlyer, x falseticker, ~ configured")
    return "\n".join(lines)


def cmd_show_logging(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    size = (d.running.value("logging buffered") or "8192").split()[0]
    size = size if size.isdigit() else "8192"
    head = [
        "Syslog logging: enabled (0 messages dropped, 0 messages rate-limited, 0 flushes, 0 overruns, "
        "xml disabled, filtering disabled)",
        "",
        "No Active Message Discriminator.",
        "",
        "",
        "",
        "No Inactive Message Discriminator.",
        "",
        "",
        "    Console logging: disabled",
        "    Monitor logging: level debugging, 0 messages logged, xml disabled,",
        "                     filtering disabled",
        f"    Buffer logging:  level informational, {len(d.log_buffer)} messages logged, xml disabled,",
        "                    filtering disabled",
        "    Exception Logging: size (4096 bytes)",
        "    Count and timestamp logging messages: disabled",
        "    Persistent logging: disabled",
        "",
        "No active filter modules.",
        "",
        "    Trap logging: level informational, 0 message lines logged",
        "        Logging Source-Interface:       VRF Name:",
        "",
        f"Log Buffer ({size} bytes):",
        "",
    ]
    return "\n".join(head + list(d.log_buffer)) + "\n"


def cmd_show_hosts(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    lines = []
    lines.append(f"Default domain is {d.domain_name}" if d.domain_name else "Default domain is not set")
    lines.append("Name/address lookup uses static mappings")
    lines += [
        "",
        "Codes: UN - unknown, EX - expired, OK - OK, ?? - revalidate",
        "       temp - temporary, perm - permanent",
        "       NA - Not Applicable None - Not defined",
        "",
        "Host                      Port  Flags      Age Type   Address(es)",
    ]
    return "\n".join(lines)


def interfaces(d: Device) -> list[tuple[str, str, bool]]:
    out = []
    for node in d.running.find_all("interface"):
        name = " ".join(node.words[1:])
        addr = node.value("ip address")
        ip = addr.split()[0] if addr else "unassigned"
        out.append((name, ip, node.find("shutdown") is None))
    return out


def cmd_show_ip_int_brief(ctx: ExecContext, m: Match) -> str:
    lines = ["Interface              IP-Address      OK? Method Status                Protocol"]
    for name, ip, up in interfaces(ctx.device):
        status = "up" if up else "administratively down"
        proto = "up" if up else "down"
        method = "manual" if ip != "unassigned" else "unset"
        lines.append(f"{name:<23}{ip:<16}YES {method:<7}{status:<22}{proto}")
    return "\n".join(lines)


def cmd_show_users(ctx: ExecContext, m: Match) -> str:
    lines = ["    Line       User       Host(s)              Idle       Location"]
    for s in ctx.device.sessions:
        mark = "*" if s is ctx.session else " "
        lines.append(f"{mark}{866:>3} {s.line_name:<10} {s.user:<10} idle                 00:00:00 {s.peer}")
    return "\n".join(lines)


def cmd_show_privilege(ctx: ExecContext, m: Match) -> str:
    lvl = ctx.session.privilege if ctx.session is not None else 15
    return f"Current privilege level is {lvl}"


# ---------------------------------------------------------------------------------------------------------
# exec: files
def _fs_line(d: Device, fs: str) -> str:
    total = FILESYSTEMS[fs]
    return f"{total} bytes total ({total - d.storage.used(fs)} bytes free)"


def _stamp(t: datetime) -> str:
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t.year} {t:%H:%M:%S} +00:00"


def cmd_dir(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    target = m.arg("path") or "flash:"
    try:
        fs, name = split_path(target)
    except StorageError:
        return f"%Error opening {target} (No such device)"
    files = d.storage.list(fs)
    if name:
        files = [f for f in files if f.name == name]
        if not files:
            return f"%Error opening {fs}:/{name} (No such file or directory)"
        header = f"Directory of {fs}:/{name}"
    else:
        header = f"Directory of {fs}:/"
    lines = [header, ""]
    for i, f in enumerate(d.storage.list(fs), start=1):
        if name and f.name != name:
            continue
        lines.append(f"{i:>5}  -rw-  {f.size:>10}  {_stamp(f.mtime)}  {f.name}")
    if not files:
        lines.append("No files in directory")
    lines += ["", _fs_line(d, fs)]
    return "\n".join(lines)


def cmd_verify_md5(ctx: ExecContext, m: Match) -> str:
    target = m.arg("path") or ""
    try:
        fs, name = split_path(target)
        data = ctx.device.storage.read(fs, name)
    except StorageError:
        return f"%Error opening {target} (No such file or directory)"
    dots = "." * max(1, min(60, len(data) // 4096 + 1))
    return f"{dots}Done!\nverify /md5 ({fs}:/{name}) = {hashlib.md5(data).hexdigest()}"


def cmd_more(ctx: ExecContext, m: Match) -> str:
    target = m.arg("path") or ""
    if target.lower() in ("system:running-config", "running-config"):
        return ctx.device.running_text(header=False)
    try:
        fs, name = split_path(target)
        return ctx.device.storage.read(fs, name).decode(errors="replace")
    except StorageError:
        return f"%Error opening {target} (No such file or directory)"


def cmd_delete(ctx: ExecContext, m: Match) -> str | None:
    target = m.arg("path") or ""
    try:
        fs, name = split_path(target)
        if not ctx.device.storage.delete(fs, name):
            return f"%Error deleting {fs}:/{name} (No such file or directory)"
    except StorageError:
        return f"%Error deleting {target} (No such file or directory)"
    return None


def _copy_stats(n: int, started: float) -> str:
    secs = max(time.monotonic() - started, 0.001)
    return f"{n} bytes copied in {secs:.3f} secs ({int(n / secs)} bytes/sec)"


async def apply_config_text(d: Device, ctx: ExecContext, text: str, replace: bool) -> int:
    """Run a config file through the config engine (merge), or replace the running config with it."""
    term = BatchTerminal(ctx.term.user, ctx.term.peer, ctx.term.line_name)
    if replace:
        d.running.children = []
    engine = ConfigEngine(d, term)
    errors = await engine.apply_text(text)
    for chunk in term.output:
        ctx.write(chunk)
    d.syslog(
        f"%SYS-5-CONFIG_I: Configured from console by {ctx.term.user} on {ctx.term.line_name} "
        f"({ctx.term.peer})"
    )
    return errors


async def cmd_copy(ctx: ExecContext, m: Match) -> str | None:
    d = ctx.device
    src, dst = (m.arg("src") or ""), (m.arg("dst") or "")
    ls, ld = src.lower(), dst.lower()
    started = time.monotonic()
    quiet = d.running.find("file prompt quiet") is not None

    async def confirm(default_name: str) -> str:
        """The destination name: IOS asks unless `file prompt quiet`; Return keeps the default."""
        if quiet:
            return default_name
        answer = await ctx.ask(f"Destination filename [{default_name}]? ", default=default_name)
        return answer.strip() or default_name

    def read_src() -> bytes:
        if ls in ("running-config", "system:running-config"):
            return d.running_text(header=False).encode()
        if ls in ("startup-config", "nvram:startup-config"):
            return (d.startup_text() or "").encode()
        if ls in ("null:", "null:/"):
            return b""
        fs, name = split_path(src)
        return d.storage.read(fs, name)

    try:
        data = read_src()
    except StorageError:
        return f"%Error opening {src} (No such file or directory)"
    if ld in ("running-config", "system:running-config"):
        await confirm("running-config")
        await apply_config_text(d, ctx, data.decode(errors="replace"), replace=False)
        return _copy_stats(len(data), started)
    if ld in ("startup-config", "nvram:startup-config"):
        await confirm("startup-config")
        if ls in ("running-config", "system:running-config"):
            d.save_startup()
            return "Building configuration...\n[OK]"
        d.storage.write("nvram", "startup-config", data)
        return _copy_stats(len(data), started)
    try:
        fs, name = split_path(dst)
        if not name:
            name = split_path(src)[1] if ":" in src else src
        name = split_path(await confirm(name), fs)[1]
        d.storage.write(fs, name, data)
    except StorageError as exc:
        return f"%Error opening {dst} ({exc})"
    return _copy_stats(len(data), started)


async def cmd_write(ctx: ExecContext, m: Match) -> str:
    if m.has("erase"):
        ctx.device.storage.delete("nvram", "startup-config")
        return (
            "Erasing the nvram filesystem will remove all configuration files! Continue? [confirm][OK]\n"
            "Erase of nvram: complete"
        )
    ctx.device.save_startup()
    return "Building configuration...\n[OK]"


async def cmd_configure_replace(ctx: ExecContext, m: Match) -> str | None:
    d = ctx.device
    target = m.arg("path") or ""
    try:
        fs, name = split_path(target)
        text = d.storage.read(fs, name).decode(errors="replace")
    except StorageError:
        return f"%Error opening {target} (No such file or directory)"
    if "force" not in [w.lower() for w in m.rest]:
        answer = await ctx.ask(REPLACE_QUESTION, default="no")
        if not answer.strip().lower().startswith("y"):
            return None
    if not any(ln.startswith("hostname") for _, ln in parse_lines(text)):
        return "%Error: not a valid config file (no hostname)"
    snapshot = d.running.copy()
    rest = [w.lower() for w in m.rest]
    if "timer" in rest:
        idx = rest.index("timer")
        minutes = rest[idx + 1] if idx + 1 < len(rest) else ""
        if not minutes.isdigit():
            return "% Incomplete command."
        err = _arm_revert(ctx, int(minutes), snapshot)
        if err:
            return err
    errors = await apply_config_text(d, ctx, text, replace=True)
    if errors and "revert" in [w.lower() for w in m.rest]:
        d.running.children = snapshot.children
        await notify_bulk(d)  # the PKI engine re-reads the restored config (trustpoints, servers)
        await d.refresh()
        return "The original configuration has been successfully restored."
    return "Total number of passes: 1\nRollback Done"


def _arm_revert(ctx: ExecContext, minutes: int, snapshot: ConfigNode) -> str | None:
    """`... revert timer N`: the running config goes back to `snapshot` unless `configure confirm` comes first."""
    d = ctx.device
    if _archive(d) is None:
        return "%Please turn config archive on"
    old = d.state.get("_revert")
    if old is not None:
        d.cancel(old["timer"])

    async def revert() -> None:
        pending = d.state.pop("_revert", None)
        if pending is None:
            return
        d.running.children = pending["snapshot"].children
        d.syslog(
            "%ARCHIVE_DIFF-5-ROLLBK_CNFMD_CHG_TIMER_EXPIRED: Rollback confirmed change timer expired; reverting"
        )
        await notify_bulk(d)
        await d.refresh()

    d.state["_revert"] = {
        "snapshot": snapshot,
        "configured": d.now(),
        "minutes": minutes,
        "user": ctx.term.user,
        "timer": d.schedule(d.now() + timedelta(minutes=minutes), revert, "ARCHIVE REVERT"),
    }
    return None


def cmd_configure_terminal_revert(ctx: ExecContext, m: Match) -> str | None:
    minutes = m.arg("minutes") or ""
    if not minutes.isdigit() or not 1 <= int(minutes) <= 120:
        return "% Invalid input detected at '^' marker."
    err = _arm_revert(ctx, int(minutes), ctx.device.running.copy())
    if err:
        return err
    cmd_configure_terminal(ctx, m)
    return None


def cmd_configure_confirm(ctx: ExecContext, m: Match) -> str | None:
    pending = ctx.device.state.pop("_revert", None)
    if pending is None:
        return "%No Rollback Confirmed Change pending"
    ctx.device.cancel(pending["timer"])
    return None


async def cmd_configure_revert_now(ctx: ExecContext, m: Match) -> str | None:
    d = ctx.device
    pending = d.state.pop("_revert", None)
    if pending is None:
        return "%No Rollback Confirmed Change pending"
    d.cancel(pending["timer"])
    d.running.children = pending["snapshot"].children
    await notify_bulk(d)
    await d.refresh()
    return "Rollback Done"


def cmd_show_rollback_timer(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    pending = d.state.get("_revert")
    if _archive(d) is None:
        return "Archive feature not enabled"
    if pending is None:
        return "%No Rollback Confirmed Change pending"
    return (
        f"Time configured: {d.format_short(pending['configured'])}\n"
        "Timer type: Revert\n"
        f"Timer value: {pending['minutes']} min\n"
        f"User: {pending['user']}"
    )


def _archive(d: Device) -> ConfigNode | None:
    node = d.running.find("archive")
    if node is None or node.find("path") is None:
        return None
    return node


def cmd_show_archive(ctx: ExecContext, m: Match) -> str:
    node = _archive(ctx.device)
    if node is None:
        return "Archive feature not enabled"
    path = node.value("path") or "flash:archive"
    maximum = node.value("maximum") or "10"
    return (
        f"The maximum archive configurations allowed is {maximum}.\n"
        "There are currently 0 archive configurations saved.\n"
        f"The next archive file will be named {path}-1\n"
        " Archive #  Name\n"
        "   1       \n   2       \n   3       "
    )


def _tree(text: str) -> ConfigNode:
    root = ConfigNode("")
    stack: list[tuple[int, ConfigNode]] = [(-1, root)]
    for indent, line in parse_lines(text):
        while len(stack) > 1 and indent <= stack[-1][0]:
            stack.pop()
        node = ConfigNode(line)
        stack[-1][1].children.append(node)
        stack.append((indent, node))
    return root


def _norm(line: str, ignorecase: bool) -> str:
    line = " ".join(line.split())
    return line.lower() if ignorecase else line


def incremental_diff(
    running: ConfigNode, candidate: ConfigNode, ignorecase: bool, depth: int = 0
) -> list[str]:
    """Lines of `candidate` not in `running`, parent-aware: a new block brings all its children."""
    out: list[str] = []
    have = {_norm(c.line, ignorecase): c for c in running.children}
    for c in candidate.children:
        key = _norm(c.line, ignorecase)
        match = have.get(key)
        pad = " " * depth
        if match is None:
            if (
                c.line.startswith("no ")
                and not any(
                    _norm(x.line, ignorecase).startswith(_norm(c.line[3:], ignorecase))
                    for x in running.children
                )
                and c.line[3:].split()[:1] != ["shutdown"]
            ):
                continue  # `no X` when there is no X: nothing to change
            out.append(pad + c.line)
            for d2, child in c.walk(depth + 1):
                out.append(" " * d2 + child.line)
        elif c.children:
            sub = incremental_diff(match, c, ignorecase, depth + 1)
            if sub:
                out.append(pad + c.line)
                out.extend(sub)
    return out


def cmd_incremental_diffs(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    target = m.arg("path") or ""
    try:
        fs, name = split_path(target)
        text = d.storage.read(fs, name).decode(errors="replace")
    except StorageError:
        return f"%Error opening {target} (No such file or directory)"
    lines = incremental_diff(d.running, _tree(text), ignorecase="ignorecase" in [w.lower() for w in m.rest])
    if not lines:
        return "!List of Commands:\nend\n!No changes were found"
    return "!List of Commands:\n" + "\n".join(lines) + "\nend"


def cmd_archive_differences(ctx: ExecContext, m: Match) -> str:
    d = ctx.device

    def load(path: str) -> ConfigNode:
        if path.lower() in ("system:running-config", "running-config", "system:/running-config"):
            return d.running
        fs, name = split_path(path)
        return _tree(d.storage.read(fs, name).decode(errors="replace"))

    try:
        a, b = load(m.arg("a") or ""), load(m.arg("b") or "")
    except StorageError as exc:
        return f"%Error opening file ({exc})"
    plus = incremental_diff(a, b, False)
    minus = incremental_diff(b, a, False)
    if not plus and not minus:
        return "!Contextual Config Diffs:\n!No changes were found"
    out = ["!Contextual Config Diffs:"]
    out += ["+" + ln if not ln.startswith(" ") else " +" + ln.strip() for ln in plus]
    out += ["-" + ln if not ln.startswith(" ") else " -" + ln.strip() for ln in minus]
    return "\n".join(out)


async def cmd_reload(ctx: ExecContext, m: Match) -> bool | None:
    d = ctx.device
    if d.last_change is not None and (d.last_saved is None or d.last_change > d.last_saved):
        answer = await ctx.ask("\nSystem configuration has been modified. Save? [yes/no]: ")
        if answer.strip().lower().startswith("y"):
            d.save_startup()
            ctx.writeln("Building configuration...\n[OK]")
    answer = await ctx.ask("Proceed with reload? [confirm]", default="y")
    if answer.strip() and not answer.strip().lower().startswith("y"):
        return None
    if ctx.session is not None:
        ctx.session.flush()
    d.lab.spawn(d.reload())
    return False


def cmd_show_flash(ctx: ExecContext, m: Match) -> str:
    return cmd_dir(ctx, Match("dir", [], {"path": "flash:"}))


def cmd_show_file_systems(ctx: ExecContext, m: Match) -> str:
    d = ctx.device
    lines = ["File Systems:", "", "       Size(b)       Free(b)      Type  Flags  Prefixes"]
    for fs, mark in (("flash", "*"), ("nvram", " ")):
        total = FILESYSTEMS[fs]
        lines.append(f"{mark} {total:>13} {total - d.storage.used(fs):>13}      disk     rw   {fs}:")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# config
def cfg_username(ctx: ConfigContext, m: Match) -> str | None:
    name = m.arg("name") or ""
    if m.negated:
        ctx.remove(f"username {name}")
        return None
    words = m.rest
    privilege = "1"
    secret: str | None = None
    i = 0
    while i < len(words):
        w = words[i].lower()
        if w == "privilege" and i + 1 < len(words):
            privilege = words[i + 1]
            i += 2
        elif w in ("secret", "password"):
            rest = words[i + 1 :]
            if len(rest) >= 2 and rest[0] in ("0", "5", "8", "9"):
                secret = hash_secret(rest[1]) if rest[0] == "0" else rest[1]
            elif rest:
                secret = hash_secret(rest[0])
            break
        else:
            i += 1
    if secret is None:
        return "% Incomplete command."
    line = (
        f"username {name} privilege {privilege} secret 9 {secret}"
        if privilege != "1"
        else f"username {name} secret 9 {secret}"
    )
    ctx.node.set_line(line, key=2)
    return None


def cfg_enable_secret(ctx: ConfigContext, m: Match) -> str | None:
    if m.negated:
        ctx.remove("enable secret")
        return None
    words = m.rest
    if not words:
        return "% Incomplete command."
    if len(words) >= 2 and words[0] in ("0", "5", "8", "9"):
        value = hash_secret(words[1]) if words[0] == "0" else words[1]
    else:
        value = hash_secret(words[-1])
    ctx.node.set_line(f"enable secret 9 {value}", key=2)
    return None


def cfg_clock_timezone(ctx: ConfigContext, m: Match) -> str | None:
    if m.negated:
        ctx.remove("clock timezone")
        return None
    try:
        int(m.arg("hours") or "")
        if m.arg("minutes") is not None:
            int(m.arg("minutes") or "")
    except ValueError:
        ctx.reject("% Invalid input detected at '^' marker.")
    ctx.set_line(key=2)
    return None


def cfg_http_port(ctx: ConfigContext, m: Match) -> None:
    if m.negated:
        ctx.remove("ip http port")
        return
    port = m.arg("port") or ""
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        ctx.reject("% Invalid input detected at '^' marker.")
    ctx.set_line(key=3)


def cfg_ntp_server(ctx: ConfigContext, m: Match) -> None:
    if m.negated:
        ctx.remove(f"ntp server {m.arg('addr')}")
        return
    ctx.node.remove(f"ntp server {m.arg('addr')}")
    ctx.set_line()


def register_builtins(reg: Registry) -> None:
    ex = reg.exec
    ex("enable", cmd_enable, privileged=False)
    ex("disable", cmd_disable)
    ex("exit", cmd_exit, privileged=False)
    ex("logout", cmd_exit, privileged=False)
    ex("quit", cmd_exit, privileged=False)
    ex("terminal length <n>", cmd_terminal, privileged=False)
    ex("terminal width <n>", cmd_terminal, privileged=False)
    ex("configure terminal", cmd_configure_terminal)
    ex("configure terminal revert timer <minutes>", cmd_configure_terminal_revert)
    ex("configure confirm", cmd_configure_confirm)
    ex("configure revert now", cmd_configure_revert_now)
    ex("show archive config rollback timer", cmd_show_rollback_timer)
    ex("configure", cmd_configure)
    ex("clear logging", cmd_clear_logging)
    ex("show ip http server status", cmd_show_http_status)
    ex("configure replace <path> ...", cmd_configure_replace)
    ex("show version", cmd_show_version, privileged=False)
    ex("show running-config ...", cmd_show_running)
    ex("show startup-config", cmd_show_startup)
    ex("show clock [detail]", cmd_show_clock, privileged=False)
    ex("clock set <time> <a> <b> <year>", cmd_clock_set)
    ex("show ntp status", cmd_show_ntp_status, privileged=False)
    ex("show ntp associations [detail]", cmd_show_ntp_assoc, privileged=False)
    ex("show logging", cmd_show_logging)
    ex("show hosts", cmd_show_hosts, privileged=False)
    ex("show ip interface brief", cmd_show_ip_int_brief, privileged=False)
    ex("show users", cmd_show_users, privileged=False)
    ex("show privilege", cmd_show_privilege, privileged=False)
    ex("show archive", cmd_show_archive)
    ex("show archive config incremental-diffs <path> ...", cmd_incremental_diffs)
    ex("show archive config differences <a> <b> ...", cmd_archive_differences)
    ex("show flash:", cmd_show_flash)
    ex("show file systems", cmd_show_file_systems)
    ex("dir [<path>]", cmd_dir)
    ex("verify /md5 <path> ...", cmd_verify_md5)
    ex("more <path>", cmd_more)
    ex("delete <path>", cmd_delete)
    ex("delete /force <path>", cmd_delete)
    ex("copy <src> <dst>", cmd_copy)
    ex("write [memory]", cmd_write)
    ex("write erase", cmd_write)
    ex("reload", cmd_reload)

    cf = reg.config
    for mode in (
        "config-if",
        "config-line",
        "config-archive",
        "ca-trustpoint",
        "cs-server",
        "config-cert-chain",
        "ca-certmap",
        "config-router",
        "config-cp",
        "config-red",
        "config-ext-nacl",
        "config-std-nacl",
        "config-vrf",
        "config-pubkey-chain",
        "config-pubkey-key",
        "config-pubkey",
    ):
        reg.mode(mode, permissive=True)
    cf("hostname <name>", key=1)
    cf("ip domain name <name>", key=3)
    cf("ip domain-name <name>", key=2)
    cf("ip domain lookup", store_no=True)
    cf("ip http server", store_no=True)
    cf("ip http secure-server", store_no=True)
    cf("ip http port <port>", cfg_http_port)
    cf("ip http authentication <kind...>", key=3)
    cf("ip scp server enable", store_no=True)
    cf("ntp server <addr> ...", cfg_ntp_server)
    cf("clock calendar-valid")
    cf("clock timezone <zone> <hours> [<minutes>]", cfg_clock_timezone)
    cf("username <name> ...", cfg_username)
    cf("enable secret ...", cfg_enable_secret)
    cf("logging buffered ...", key=2)
    cf("service timestamps log ...", key=3)  # one setting: a new line replaces the old
    cf("service timestamps debug ...", key=3)
    cf("file prompt quiet", key=2)
    cf("file prompt", key=2)
    cf("interface <name...>", submode="config-if")
    cf("line <name...>", submode="config-line")
    cf("archive", submode="config-archive")
    cf("path <url>", mode="config-archive", key=1)
    cf("maximum <n>", mode="config-archive", key=1)
    cf("ip address <addr> <mask>", mode="config-if", key=2)
    cf("ip address dhcp", mode="config-if", key=2)
    cf("description <text...>", mode="config-if", key=1)
    cf("shutdown", mode="config-if")
    cf("crypto pki trustpoint <name>", submode="ca-trustpoint")
    cf("crypto pki server <name>", submode="cs-server")
    cf("crypto pki certificate chain <name>", submode="config-cert-chain")
    cf("crypto pki certificate map <name> <seq>", submode="ca-certmap")
    cf("router <proto...>", submode="config-router")
    cf("control-plane", submode="config-cp")
    cf("redundancy", submode="config-red")
    cf("ip access-list extended <name>", submode="config-ext-nacl")
    cf("ip access-list standard <name>", submode="config-std-nacl")
    cf("vrf definition <name>", submode="config-vrf")
    # Valid-looking global lines the lab does not model: kept verbatim (they never pull a line out of a block).
    for word in (
        "version",
        "service",
        "boot-start-marker",
        "boot-end-marker",
        "boot",
        "platform",
        "license",
        "diagnostic",
        "memory",
        "multilink",
        "spanning-tree",
        "login",
        "aaa",
        "ipv6",
        "access-list",
        "snmp-server",
        "ip",
        "logging",
        "crypto",
        "subscriber",
        "security",
        "hw-module",
        "virtual-service",
        "mpls",
        "cdp",
        "lldp",
        "track",
        "event",
        "alias",
        "banner",
        "vtp",
        "enable",
        "no",
    ):
        cf(f"{word} ...", fallback=True, store_no=True)


async def notify_bulk(d: Device) -> None:
    for hook in d.lab.registry.config_change_hooks:
        await call_hook(hook, d, ConfigChange("bulk"))
