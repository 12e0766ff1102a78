"""One emulated router: running/startup config, storage, syslog buffer, HTTP listener, clock authority, faults."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from iospki.lab.clock import Timer
from iospki.lab.config import ConfigNode, render
from iospki.lab.httpd import HttpHandler, HttpListener, HttpResponse, http_request
from iospki.lab.inventory import HostSpec
from iospki.lab.platforms import make_platform, serial_number
from iospki.lab.secrets import hash_secret
from iospki.lab.storage import Storage

if TYPE_CHECKING:
    from iospki.lab.lab import Lab

log = logging.getLogger("iospki.lab.device")

# drop-config: the session drops after 2 config lines (a push cut half-way); truncate-output: `show` output
# is cut after half its lines (a truncated read the parsers must reject)
# ntp-unreachable: the NTP source never answers, as after a reload with no reachable server: the clock is not
# authoritative ('*'). ntp-sync-lost: NTP was synchronised once, then lost: IOS keeps the clock authoritative and
# marks it '.', so PKI timers keep running (an unsynchronised clock drifts, it is not unknown).
FAULT_KINDS = (
    "ntp-unreachable",
    "ntp-sync-lost",
    "down",
    "bad-password",
    "drop-session",
    "slow",
    "drop-config",
    "truncate-output",
    "chunked",  # output streamed in 80-byte pieces 20 ms apart, as a slow device would
)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


async def call_hook(hook: Callable[..., Any], *args: Any) -> None:
    """Call a plugin hook (sync or async); log and swallow its exception so one router cannot kill the lab."""
    try:
        result = hook(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("hook %s failed", getattr(hook, "__qualname__", hook))


class Device:
    """State of one router. Plugins reach everything they need from here (see lab/PLUGIN.md)."""

    def __init__(self, lab: Lab, spec: HostSpec) -> None:
        self.lab = lab
        self.spec = spec
        self.name = spec.name
        self.address = spec.address
        self.port = spec.port
        self.platform = make_platform(spec.platform_family, spec.family, spec.model, spec.software)
        self.family = self.platform.family
        self.serial = serial_number(spec.name, self.platform)
        self.storage = Storage(lab.state_dir / "devices" / spec.name)
        self.running = ConfigNode("")
        self.state: dict[str, Any] = {}  # plugin-owned runtime state, cleared at reload
        self.faults: set[str] = set()
        self.sessions: set[Any] = set()
        self.log_buffer: deque[str] = deque(maxlen=2000)
        self.boot_time: datetime = lab.clock.now()  # on this router's clock
        self._booted_lab = lab.clock.now()  # on the lab clock: uptime does not jump with `clock set`
        self.reload_reason = "power-on"
        self.last_change: datetime | None = None
        self.last_change_user = ""
        self.last_saved: datetime | None = None
        self.file_prompt_quiet = False
        self._http_handler: HttpHandler | None = None
        self._http: HttpListener | None = None
        self._authoritative = False
        self.ntp_last_sync: datetime | None = None  # lab time NTP last synchronised (None: never since boot)
        self._ntp_lost_logged = False
        # `clock set`: this router's clock minus the lab clock. The hardware keeps it through a reload;
        # NTP takes it back to 0 at its next poll. clock_user_set: authoritative by `clock set` since boot.
        self.clock_offset = timedelta(0)
        self.clock_user_set = False
        self._ntp_correction: Timer | None = None
        self.booted = asyncio.Event()

    # -- identity ------------------------------------------------------------------------------------------
    @property
    def hostname(self) -> str:
        v = self.running.value("hostname")
        return v or "Router"

    @property
    def domain_name(self) -> str | None:
        return self.running.value("ip domain name") or self.running.value("ip domain-name")

    # -- clock -------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """This router's time: the lab clock plus what `clock set` moved it by."""
        return self.lab.clock.now() + self.clock_offset

    def schedule(self, at: datetime, callback: Callable[[], Awaitable[Any] | Any], name: str) -> Timer:
        """A timer owned by this device (cancelled when it reloads), due when this router's clock reads `at`."""
        return self.lab.clock.schedule(at - self.clock_offset, callback, f"{self.name}:{name}", owner=self)

    def uptime(self) -> timedelta:
        return self.lab.clock.now() - self._booted_lab

    async def set_clock(self, t: datetime, by: str) -> None:
        """`clock set`: move this router's clock to `t` (UTC). Its timers keep their device times, so a jump
        forward fires those it passes (in order) and a jump back delays them; the clock becomes authoritative."""
        old = self.now()
        shift = t - old
        self.clock_offset += shift
        self.lab.clock.shift_owner(self, -shift)
        self.syslog(
            f"%SYS-6-CLOCKUPDATE: System clock has been updated from {self.format_short(old)} to "
            f"{self.format_short(t)}, configured from {by}."
        )
        # authoritative from now on; the PKI engine's hook logs %PKI-6-AUTHORITATIVE_CLOCK (refresh below)
        self.clock_user_set = True
        if self.ntp_synced:
            # NTP steps the clock back to its source at the next poll (64 s in the lab)
            self.cancel(self._ntp_correction)
            self._ntp_correction = self.lab.clock.schedule(
                self.lab.clock.now() + timedelta(seconds=64),
                self._ntp_step,
                f"{self.name}:ntp-step",
                owner=self,
            )
        await self.refresh()

    async def _ntp_step(self) -> None:
        self._ntp_correction = None
        if self.ntp_synced and self.clock_offset:
            old = self.now()
            self.lab.clock.shift_owner(self, self.clock_offset)
            self.clock_offset = timedelta(0)
            self.clock_user_set = False  # NTP is the time source again
            self.syslog(  # the console form is verbatim (behaviour doc §1.7); this NTP form has no capture
                f"%SYS-6-CLOCKUPDATE: System clock has been updated from {self.format_short(old)} to "
                f"{self.format_short()}, configured from NTP."
            )

    def cancel(self, timer: Timer | None) -> None:
        self.lab.clock.cancel(timer)

    @property
    def ntp_servers(self) -> list[str]:
        return [" ".join(n.words[2:3]) for n in self.running.find_all("ntp server")]

    @property
    def ntp_synced(self) -> bool:
        return bool(self.ntp_servers) and not self.faults & {"ntp-unreachable", "ntp-sync-lost"}

    @property
    def ntp_sync_lost(self) -> bool:
        """NTP synchronised once since boot and is now lost (not by ntp-unreachable, which takes authority too)."""
        return (
            self.ntp_last_sync is not None
            and bool(self.ntp_servers)
            and "ntp-sync-lost" in self.faults
            and "ntp-unreachable" not in self.faults
        )

    @property
    def calendar_valid(self) -> bool:
        return self.running.find("clock calendar-valid") is not None

    @property
    def authoritative(self) -> bool:
        """True once NTP is synchronised (the lab clock is the source), still after a sync is lost, or with
        `clock calendar-valid`."""
        return self.ntp_synced or self.calendar_valid or self.ntp_sync_lost or self.clock_user_set

    @property
    def clock_mark(self) -> str:
        """IOS's prefix on clock and syslog times: '*' not authoritative, '.' authoritative but NTP unsynchronised."""
        if self.ntp_synced or self.calendar_valid or self.clock_user_set:
            return ""
        return "." if self.ntp_sync_lost else "*"

    @property
    def time_source(self) -> str:
        """The second line of `show clock detail`."""
        if self.clock_user_set:
            return "Time source is user configuration"
        if self.ntp_synced or self.ntp_sync_lost:
            return "Time source is NTP"
        return "Time source is hardware calendar" if self.calendar_valid else "No time source"

    def tz(self) -> tuple[str, timedelta]:
        """(zone name, offset) from `clock timezone NAME H [M]`."""
        v = self.running.value("clock timezone")
        if not v:
            return "UTC", timedelta(0)
        parts = v.split()
        try:
            hours = int(parts[1]) if len(parts) > 1 else 0
            minutes = int(parts[2]) if len(parts) > 2 else 0
        except ValueError:
            return parts[0], timedelta(0)
        sign = -1 if hours < 0 else 1
        return parts[0], timedelta(hours=hours, minutes=sign * minutes)

    def local(self, t: datetime | None = None) -> tuple[datetime, str]:
        name, off = self.tz()
        t = (t or self.now()).astimezone(timezone.utc) + off
        return t, name

    def format_clock(self, t: datetime | None = None) -> str:
        """'*10:15:32.123 UTC Fri Nov 27 2026' (leading '*' until the clock is authoritative)."""
        lt, name = self.local(t)
        return (
            f"{self.clock_mark}{lt:%H:%M:%S}.{lt.microsecond // 1000:03d} {name} "
            f"{DAYS[lt.weekday()]} {MONTHS[lt.month - 1]} {lt.day} {lt.year}"
        )

    def format_short(self, t: datetime | None = None) -> str:
        """'10:15:32 UTC Fri Nov 27 2026' as in `! Last configuration change at ...`."""
        lt, name = self.local(t)
        return f"{lt:%H:%M:%S} {name} {DAYS[lt.weekday()]} {MONTHS[lt.month - 1]} {lt.day} {lt.year}"

    # -- syslog ------------------------------------------------------------------------------------------
    def syslog(self, message: str) -> None:
        """Add '%FAC-SEV-MNEMONIC: text' to the logging buffer with a lab timestamp ('*'/'.' as `show clock`).

        The stamp follows `service timestamps log datetime [msec] [localtime] [show-timezone] [year]`: UTC
        unless `localtime`, as on IOS."""
        line = self.running.find("service timestamps log datetime")
        opts = set(line.words[4:]) if line is not None else {"msec"}  # absent: the factory default here
        if "localtime" in opts:
            lt, zone = self.local()
        else:
            lt, zone = self.now().astimezone(timezone.utc), "UTC"
        stamp = f"{self.clock_mark}{MONTHS[lt.month - 1]} {lt.day:2d}"
        stamp += f" {lt.year}" if "year" in opts else ""
        stamp += f" {lt:%H:%M:%S}"
        stamp += f".{lt.microsecond // 1000:03d}" if "msec" in opts else ""
        stamp += f" {zone}" if "show-timezone" in opts else ""
        self.log_buffer.append(f"{stamp}: {message}")

    # -- configuration ---------------------------------------------------------------------------------------
    def running_text(self, header: bool = True) -> str:
        """The configuration as IOS prints it: comment header, `version`, body, `end`."""
        lines: list[str] = []
        if self.last_change is not None:
            who = self.last_change_user or "console"
            lines.append(f"! Last configuration change at {self.format_short(self.last_change)} by {who}")
            if self.last_saved is not None:
                lines.append(f"! NVRAM config last updated at {self.format_short(self.last_saved)} by {who}")
            lines.append("!")
        lines += [f"version {self._version_line()}", *render(self.running), "end"]
        text = "\n".join(lines) + "\n"
        if not header:
            return text
        return f"Building configuration...\n\nCurrent configuration : {len(text.encode())} bytes\n!\n" + text

    def _version_line(self) -> str:
        sw = self.platform.software
        parts = sw.split(".")
        return f"{int(parts[0])}.{int(''.join(c for c in parts[1].split('(')[0] if c.isdigit()) or 0)}"

    def startup_text(self) -> str | None:
        if self.storage.exists("nvram", "startup-config"):
            return self.storage.read("nvram", "startup-config").decode(errors="replace")
        return None

    def save_startup(self) -> int:
        self.last_saved = self.now()
        text = self.running_text(header=False)
        self.storage.write("nvram", "startup-config", text.encode())
        return len(text.encode())

    def initial_config(self) -> str:
        """Factory config from the inventory (first boot of a lab with a fresh state dir)."""
        s = self.spec
        lines = [
            "service timestamps debug datetime msec",
            "service timestamps log datetime msec",
            f"hostname {s.name}",
            "boot-start-marker",
            "boot-end-marker",
            "logging buffered 51200 informational",
            f"enable secret 9 {hash_secret(s.secret)}" if s.secret else "no enable secret",
            "no aaa new-model",
        ]
        if s.data.get("domain_name"):
            lines.append(f"ip domain name {s.data['domain_name']}")
        lines += [
            f"username {s.username} privilege {s.privilege} secret 9 {hash_secret(s.password)}",
            "interface Loopback0",
            f" ip address {s.address} 255.255.255.255",
            f"interface {self.platform.interfaces[0]}",
            f" ip address {s.address} 255.0.0.0",
            " negotiation auto" if self.family == "iosxe" else " duplex auto",
        ]
        for extra in self.platform.interfaces[1:]:
            lines += [f"interface {extra}", " no ip address", " shutdown"]
        lines += [
            "ip forward-protocol nd",
            "no ip http server",
            "ip scp server enable",
            "ip ssh version 2",
            "line con 0",
            " stopbits 1",
            "line vty 0 4",
            " login local",
            " transport input ssh",
        ]
        return "\n".join(lines) + "\nend\n"

    # -- HTTP --------------------------------------------------------------------------------------------
    def set_http_handler(self, handler: HttpHandler | None) -> None:
        """The handler behind this router's `ip http server` (the PKI engine's SCEP server)."""
        self._http_handler = handler

    @property
    def vty_lines(self) -> int:
        """Concurrent SSH sessions allowed: up to the highest line of the `line vty A [B]` blocks (0 4 = 5)."""
        top = -1
        for node in self.running.find_all("line vty"):
            nums = [int(w) for w in node.words[2:4] if w.isdigit()]
            if nums:
                top = max(top, *nums)
        return top + 1 if top >= 0 else 5

    @property
    def http_port(self) -> int:
        v = self.running.value("ip http port")
        try:
            return int(v) if v else 80
        except ValueError:
            return 80

    @property
    def http_enabled(self) -> bool:
        return self.running.find("ip http server") is not None

    @property
    def http_running(self) -> bool:
        return self._http is not None and self._http.running

    async def _reconcile_http(self) -> None:
        want = self.http_enabled and "down" not in self.faults
        port = self.http_port
        if self._http is not None and (not want or self._http.port != port):
            await self._http.stop()
            self._http = None
        if want and self._http is None:
            listener = HttpListener(self.address, port, lambda: self._http_handler, self.name)
            try:
                await listener.start()
                self._http = listener
            except OSError as exc:
                self.syslog(f"%HTTP-3-INIT_FAIL: HTTP server failed to start on port {port}: {exc.strerror}")

    async def http_request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpResponse:
        """HTTP from this router (source address = its own address). Raises HttpError on failure."""
        return await http_request(
            method,
            url,
            params=params,
            body=body,
            headers=headers,
            timeout=timeout,
            source_address=self.address,
        )

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Reconcile side effects of the running config: HTTP listener, clock authority (+ hooks)."""
        await self._reconcile_http()
        if self.ntp_synced:
            if (
                self.ntp_last_sync is None or self._ntp_lost_logged
            ):  # first sync since boot, or back after a loss
                self._ntp_lost_logged = False
                self.syslog(f"%NTP-5-PEERSYNC: NTP synced to peer {self.ntp_servers[0]}")
            self.ntp_last_sync = self.now()
        elif self.ntp_last_sync is not None and not self._ntp_lost_logged:
            self._ntp_lost_logged = True
            self.syslog("%NTP-4-UNSYNC: NTP sync is lost")
        if not self.ntp_servers:
            self.ntp_last_sync = None
        now_auth = self.authoritative
        if now_auth and not self._authoritative:
            self._authoritative = True
            for hook in self.lab.registry.authoritative_hooks:
                await call_hook(hook, self)
        elif not now_auth:
            self._authoritative = False

    async def boot(self, reason: str = "power-on") -> None:
        from iospki.lab.engine import ConfigEngine  # engine imports device types

        self.reload_reason = reason
        self.boot_time = self.now()
        self._booted_lab = self.lab.clock.now()
        self.state = {}
        self.running = ConfigNode("")
        self._authoritative = False
        self.ntp_last_sync = None
        self._ntp_lost_logged = False
        self.clock_user_set = (
            False  # the offset stays (hardware clock); the authority of `clock set` does not
        )
        self._ntp_correction = None
        self.file_prompt_quiet = False
        text = self.startup_text()
        if text is None:
            text = self.initial_config()
            self.storage.write("nvram", "startup-config", text.encode())
        engine = ConfigEngine(self, None)
        await engine.apply_text(text, notify=False)
        self.last_change = None
        self.log_buffer.clear()
        self.syslog("%SYS-5-RESTART: System restarted --")
        for hook in self.lab.registry.device_start_hooks:
            await call_hook(hook, self)
        await self.refresh()
        self.booted.set()

    async def stop(self) -> None:
        for hook in self.lab.registry.device_stop_hooks:
            await call_hook(hook, self)
        self.lab.clock.cancel_owner(self)
        if self._http is not None:
            await self._http.stop()
            self._http = None

    async def reload(self) -> None:
        for s in list(self.sessions):
            s.close()
        await self.stop()
        await self.boot("reload")
