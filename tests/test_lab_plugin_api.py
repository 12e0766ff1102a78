"""The plugin API (lab/PLUGIN.md) exercised by a small test plugin, with a real lab in a background thread
and real SSH/HTTP clients: exec/config commands, questions with hidden input, sub-modes, hooks, timers
in lab-time order, HTTP listener + client, storage across reload."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler

from iospki.lab.context import ConfigContext, ExecContext
from iospki.lab.device import Device
from iospki.lab.httpd import HttpError
from iospki.lab.inventory import load_inventory
from iospki.lab.lab import Lab
from iospki.lab.registry import Match
from tests.lab_fixture import write_inventory
from tests.netmiko_text import send_text

pytestmark = pytest.mark.lab

START = datetime(2027, 1, 1, tzinfo=timezone.utc)


class Recorder:
    def __init__(self) -> None:
        self.fired: list[tuple[str, str, datetime]] = []
        self.changes: list[tuple[str, str]] = []
        self.authoritative: list[str] = []
        self.starts: list[str] = []


def install(lab: Lab, rec: Recorder) -> None:
    reg = lab.registry

    async def ask_cmd(ctx: ExecContext, m: Match) -> str:
        ok = await ctx.ask("% Do you accept this certificate? [yes/no]: ", default="no")
        if not ok.lower().startswith("y"):
            return "% Not accepted."
        pw = await ctx.ask("Password: ", hide=True)
        ctx.device.storage.write("nvram", "demo.txt", f"len={len(pw)}".encode())
        ctx.device.syslog("%PKI-6-DEMO: accepted")
        return f"Accepted {m.arg('name')}"

    def timers_cmd(ctx: ExecContext, m: Match) -> str:
        dev = ctx.device
        base = dev.now()
        for label, days in (("C", 30), ("A", 10), ("B", 20)):

            async def fire(label: str = label) -> None:
                await asyncio.sleep(0)  # async callbacks are awaited in order
                rec.fired.append((dev.name, label, dev.now()))
                if label == "A":  # a timer scheduled inside the jump still fires inside it, in order
                    dev.schedule(
                        dev.now() + timedelta(days=5),
                        lambda: rec.fired.append((dev.name, "A+5", dev.now())),
                        "A+5",
                    )

            dev.schedule(base + timedelta(days=days), fire, f"DEMO {label}")
        return "scheduled"

    def demo_server(ctx: ConfigContext, m: Match) -> None:
        if m.negated:
            ctx.remove(f"demo server {m.arg('name')}")
            return
        ctx.enter("demo-srv")

    def demo_size(ctx: ConfigContext, m: Match) -> None:
        size = m.arg("n") or ""
        if not size.isdigit() or int(size) > 100:
            ctx.reject("% Size must be 1-100")
        ctx.set_line(key=1)

    async def http_handler(
        method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        return (
            200,
            {"Content-Type": "text/plain"},
            f"{method} {path} {query.get('operation', '')} {len(body)}".encode(),
        )

    async def fetch_cmd(ctx: ExecContext, m: Match) -> str:
        try:
            resp = await ctx.device.http_request("GET", m.arg("url") or "", params={"operation": "GetCACaps"})
        except HttpError as exc:
            return f"% fetch failed: {exc}"
        return f"{resp.status} {resp.body.decode()}"

    def on_start(dev: Device) -> None:
        rec.starts.append(dev.name)
        dev.set_http_handler(http_handler)

    def crash_cmd(ctx: ExecContext, m: Match) -> str:
        raise RuntimeError("plugin bug")

    def crash_cfg(ctx: ConfigContext, m: Match) -> None:
        raise RuntimeError("plugin bug in config")

    def crash_timer(ctx: ExecContext, m: Match) -> str:
        ctx.device.schedule(ctx.device.now(), lambda: 1 / 0, "CRASH")
        return "armed"

    reg.exec("demo crash ...", crash_cmd)
    reg.config("demo crash <secret...>", crash_cfg)
    reg.exec("demo crashtimer", crash_timer)
    reg.exec("demo ask <name>", ask_cmd)
    reg.exec("demo timers", timers_cmd)
    reg.exec("demo fetch <url>", fetch_cmd)
    reg.config("demo server <name>", demo_server)
    reg.mode("demo-srv", permissive=False)
    reg.config("size <n>", demo_size, mode="demo-srv")
    reg.config("label <text...>", mode="demo-srv", key=1)
    reg.on_device_start(on_start)
    reg.on_config_change(lambda dev, ch: rec.changes.append((dev.name, ch.kind)))
    reg.on_authoritative(lambda dev: rec.authoritative.append(dev.name))


class ThreadLab:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.run(self.lab.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def plab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadLab, Recorder, dict[str, Any]]]:
    base: Path = tmp_path_factory.mktemp("plab")
    hosts = write_inventory(base / "inv", [("p1", "csr1k"), ("p2", "isr_g2")])
    lab = Lab(load_inventory(base / "inv"), base / "state", start=START, rate=1.0, plugins=())
    rec = Recorder()
    install(lab, rec)
    tl = ThreadLab(lab)
    tl.run(lab.start())
    try:
        yield tl, rec, hosts
    finally:
        tl.close()


def test_question_hidden_answer_storage_syslog(plab: tuple[ThreadLab, Recorder, dict[str, Any]]) -> None:
    tl, rec, hosts = plab
    with ConnectHandler(**hosts["p1"].netmiko()) as c:
        out = send_text(c, "demo ask TP", expect_string=r"\[yes/no\]: ")
        assert out.rstrip().endswith("% Do you accept this certificate? [yes/no]:")
        out = send_text(c, "yes", expect_string=r"Password: ")
        out = send_text(c, "s3cret-value", expect_string=r"p1#", cmd_verify=False)
        assert "Accepted TP" in out and "s3cret-value" not in out
        assert "demo.txt" in send_text(c, "dir nvram:")
        assert "len=12" in send_text(c, "more nvram:demo.txt")
        assert "%PKI-6-DEMO: accepted" in send_text(c, "show logging | include DEMO")
        out = send_text(c, "demo ask TP", expect_string=r"\[yes/no\]: ")
        assert "% Not accepted." in send_text(c, "no", expect_string=r"p1#")


def test_config_submode_reject_and_hooks(plab: tuple[ThreadLab, Recorder, dict[str, Any]]) -> None:
    tl, rec, hosts = plab
    with ConnectHandler(**hosts["p2"].netmiko()) as c:
        out = c.send_config_set(
            ["demo server S1", "size 10", "label first", "label second one", "size 500", "bogus line"]
        )
        assert "p2(demo-srv)#" in out
        assert "% Size must be 1-100" in out
        assert "% Invalid input detected at '^' marker." in out  # non-permissive mode
        sec = send_text(c, "show running-config | section demo server")
        assert sec.splitlines() == ["demo server S1", " size 10", " label second one"]
    assert ("p2", "line") in rec.changes


def test_timers_fire_in_lab_time_order_on_advance(plab: tuple[ThreadLab, Recorder, dict[str, Any]]) -> None:
    tl, rec, hosts = plab
    with ConnectHandler(**hosts["p1"].netmiko()) as c:
        assert send_text(c, "demo timers").strip() == "scheduled"
    t0 = tl.lab.clock.now()
    fired = tl.run(tl.lab.clock.advance(timedelta(days=25)))
    got = [(label, at) for host, label, at in rec.fired if host == "p1"]
    assert [label for label, _ in got] == ["A", "A+5", "B"]
    assert fired == 3
    # each callback saw the clock at exactly its own due time
    a, a5, b = (at for _, at in got)
    assert (
        a5 - a == timedelta(days=5)
        and timedelta(days=9.99) < a - t0 <= timedelta(days=10)
        and b - a == timedelta(days=10)
    )
    assert tl.lab.clock.now() - t0 >= timedelta(days=25)
    tl.run(tl.lab.clock.advance(timedelta(days=10)))
    assert [label for host, label, _ in rec.fired if host == "p1"][-1] == "C"


def test_authoritative_hook_and_clock_star(plab: tuple[ThreadLab, Recorder, dict[str, Any]]) -> None:
    tl, rec, hosts = plab
    with ConnectHandler(**hosts["p2"].netmiko()) as c:
        assert send_text(c, "show clock").startswith("*")
        c.send_config_set(["clock calendar-valid"])
        assert not send_text(c, "show clock").startswith("*")
    assert "p2" in rec.authoritative


def test_http_listener_follows_config(plab: tuple[ThreadLab, Recorder, dict[str, Any]]) -> None:
    tl, rec, hosts = plab
    p1 = hosts["p1"]
    url = f"http://{p1.address}:18089/cgi-bin/pkiclient.exe"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    with ConnectHandler(**p1.netmiko()) as c:
        c.send_config_set(["ip http server", "ip http port 18089"])
        with urllib.request.urlopen(url + "?operation=GetCACert", timeout=5) as resp:
            assert resp.read() == b"GET /cgi-bin/pkiclient.exe GetCACert 0"
        # a router's own HTTP client reaching another router's listener, from inside the lab loop
        with ConnectHandler(**hosts["p2"].netmiko()) as c2:
            assert (
                send_text(c2, f"demo fetch {url}").strip() == "200 GET /cgi-bin/pkiclient.exe GetCACaps 0"
            )
            assert "% fetch failed" in send_text(c2, "demo fetch http://192.0.2.1/x")  # never leaves 127/8
        c.send_config_set(["no ip http server"])
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_plugin_exceptions_never_kill_session_or_lab(
    plab: tuple[ThreadLab, Recorder, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    tl, rec, hosts = plab
    with ConnectHandler(**hosts["p2"].netmiko()) as c:
        assert "% Internal error" in send_text(c, "demo crash with password Hunter2Secret")
        out = c.send_config_set(["demo crash password Hunter2Secret"])
        assert "% Internal error" in out
        assert send_text(c, "demo crashtimer").strip() == "armed"
        deadline = time.monotonic() + 5
        while tl.lab.clock.errors == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tl.lab.clock.errors >= 1
        assert "%LAB-3-TIMER_FAILED: timer CRASH failed: ZeroDivisionError" in send_text(c,
            "show logging | include LAB"
        )
        assert "p2 uptime is" in send_text(c, "show version")
    assert "Hunter2Secret" not in caplog.text and "plugin bug" in caplog.text  # logged, without the secret
