"""The lab: devices, shared clock, command registry, plugins, SSH listeners. Runs in one asyncio process."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncssh

from iospki.lab.builtins import register_builtins
from iospki.lab.clock import LabClock, Timer
from iospki.lab.device import FAULT_KINDS, Device
from iospki.lab.inventory import HostSpec
from iospki.lab.registry import Registry
from iospki.lab.ssh import start_ssh

log = logging.getLogger("iospki.lab")

DEFAULT_PLUGINS = ("iospki.lab.pki",)


class LabStartError(Exception):
    pass


class Lab:
    def __init__(
        self,
        specs: list[HostSpec],
        state_dir: Path,
        start: datetime | None = None,
        rate: float = 1.0,
        plugins: tuple[str, ...] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.clock = LabClock(start, rate)
        self.clock.on_error = self._timer_error
        self.registry = Registry()
        register_builtins(self.registry)
        self.plugins: list[str] = []
        self.plugin_errors: list[str] = []
        self._plugin_names = DEFAULT_PLUGINS if plugins is None else plugins
        self.devices: dict[str, Device] = {}
        self._specs = specs
        self._servers: list[Any] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def _timer_error(self, timer: Timer, exc: BaseException) -> None:
        dev = timer.owner
        if isinstance(dev, Device):
            dev.syslog(
                f"%LAB-3-TIMER_FAILED: timer {timer.name.split(':', 1)[-1]} failed: {type(exc).__name__}"
            )

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background coroutine; its exception is logged, never lost or fatal."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def load_plugins(self) -> None:
        for name in self._plugin_names:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name is not None and name.startswith(exc.name):
                    continue  # the plugin package does not exist (yet)
                log.exception("plugin %s failed to import", name)
                self.plugin_errors.append(f"{name}: {exc}")
                continue
            except Exception as exc:
                log.exception("plugin %s failed to import", name)
                self.plugin_errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            setup = getattr(module, "setup", None)
            if setup is None:  # the package may keep its wiring in a `plugin` submodule
                try:
                    setup = getattr(importlib.import_module(f"{name}.plugin"), "setup", None)
                except ModuleNotFoundError as exc:
                    if exc.name != f"{name}.plugin":
                        self.plugin_errors.append(f"{name}.plugin: {exc}")
                        log.exception("plugin %s.plugin failed to import", name)
                except Exception as exc:
                    self.plugin_errors.append(f"{name}.plugin: {type(exc).__name__}: {exc}")
                    log.exception("plugin %s.plugin failed to import", name)
            if setup is None:
                continue
            try:
                setup(self)
                self.plugins.append(name)
            except Exception as exc:
                log.exception("plugin %s setup failed", name)
                self.plugin_errors.append(f"{name}: setup: {type(exc).__name__}: {exc}")

    def host_key(self) -> asyncssh.SSHKey:
        path = self.state_dir / "ssh_host_key"
        if path.is_file():
            return asyncssh.read_private_key(str(path))
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
        os.chmod(path, 0o600)
        return key

    async def start(self) -> None:
        self.clock.start()
        self.load_plugins()
        key = self.host_key()
        for spec in self._specs:
            self.devices[spec.name] = Device(self, spec)
        results = await asyncio.gather(*(d.boot() for d in self.devices.values()), return_exceptions=True)
        for d, res in zip(self.devices.values(), results, strict=True):
            if isinstance(res, BaseException):  # one bad startup config never stops the lab
                log.error("%s: boot failed: %r; running with the configuration applied so far", d.name, res)
        for d in self.devices.values():
            try:
                self._servers.append(await start_ssh(d, key))
            except OSError as exc:
                raise LabStartError(f"host {d.name}: cannot listen on {d.address}:{d.port}: {exc.strerror}") from exc
        self.write_known_hosts(key)

    def write_known_hosts(self, key: asyncssh.SSHKey) -> None:
        """`<state>/known_hosts`: every router's host key, so the toolkit can trust the lab explicitly
        (OpenSSH format, `[address]:port` when the port is not 22)."""
        pub = key.export_public_key("openssh").decode().split()
        lines = []
        for d in self.devices.values():
            where = d.address if d.port == 22 else f"[{d.address}]:{d.port}"
            lines.append(f"{where} {pub[0]} {pub[1]}\n")
        tmp = self.state_dir / "known_hosts.tmp"
        tmp.write_text("".join(lines))
        tmp.replace(self.state_dir / "known_hosts")

    async def stop(self) -> None:
        for srv in self._servers:
            srv.close()
        for d in self.devices.values():
            for s in list(d.sessions):
                s.close()
            await d.stop()
        await self.clock.stop()
        for t in list(self._tasks):
            t.cancel()

    async def set_fault(self, host: str, kind: str, on: bool) -> None:
        if host not in self.devices:
            raise KeyError(f"no such lab host: {host}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})")
        d = self.devices[host]
        if on:
            d.faults.add(kind)
            if kind in ("drop-session", "down"):
                for s in list(d.sessions):
                    s.close()
        else:
            d.faults.discard(kind)
        await d.refresh()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "now": self.clock.now().isoformat(),
            "rate": self.clock.rate,
            "timers_pending": len(self.clock.pending()),
            "timers_fired": self.clock.fired,
            "timer_errors": self.clock.errors,
            "plugins": self.plugins,
            "plugin_errors": self.plugin_errors,
            "hosts": [
                {
                    "name": d.name,
                    "hostname": d.hostname,
                    "address": d.address,
                    "port": d.port,
                    "family": d.family,
                    "platform_family": d.platform.platform_family,
                    "model": d.platform.model,
                    "software": d.platform.software,
                    "authoritative": d.authoritative,
                    # ntp | hardware calendar | no time source
                    "clock": d.time_source.removeprefix("Time source is ").lower(),
                    "clock_mark": d.clock_mark,
                    "sessions": len(d.sessions),
                    "http": d.http_port if d.http_running else None,
                    "faults": sorted(d.faults),
                }
                for d in self.devices.values()
            ],
        }
