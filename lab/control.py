"""Control channel: HTTP/JSON on 127.0.0.1 (status, clock, faults, timers, stop)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from iospki.lab.clock import parse_duration, parse_time
from iospki.lab.lab import Lab


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, indent=1), content_type="application/json")


def _clock(lab: Lab, **extra: Any) -> dict[str, Any]:
    return {"now": lab.clock.now().isoformat(), "rate": lab.clock.rate, **extra}


def make_app(lab: Lab, stop: asyncio.Event) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/status")
    async def status(request: web.Request) -> web.Response:
        return _json(lab.status())

    @routes.get("/clock")
    async def clock_show(request: web.Request) -> web.Response:
        return _json(_clock(lab))

    @routes.post("/clock")
    async def clock_change(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            action = body.get("action")
            if action == "set":
                fired = await lab.clock.set(parse_time(str(body["time"])))
            elif action == "advance":
                fired = await lab.clock.advance(parse_duration(str(body["by"])))
            elif action == "rate":
                lab.clock.set_rate(float(body["rate"]))
                fired = 0
            else:
                return _json({"error": f"unknown clock action {action!r} (set, advance, rate)"}, 400)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(_clock(lab, fired=fired))

    @routes.post("/fault")
    async def fault(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            await lab.set_fault(str(body["host"]), str(body["kind"]), bool(body["on"]))
        except KeyError as exc:
            return _json({"error": str(exc).strip("'\"")}, 404)
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            return _json({"error": str(exc)}, 400)
        d = lab.devices[str(body["host"])]
        return _json({"host": d.name, "faults": sorted(d.faults)})

    @routes.get("/timers")
    async def timers(request: web.Request) -> web.Response:
        host = request.query.get("host")
        owner = lab.devices.get(host) if host else None
        if host and owner is None:
            return _json({"error": f"no such lab host: {host}"}, 404)
        return _json([{"at": t.at.isoformat(), "name": t.name} for t in lab.clock.pending(owner)][:10000])

    @routes.post("/stop")
    async def stop_lab(request: web.Request) -> web.Response:
        stop.set()
        return _json({"stopping": True})

    app = web.Application()
    app.add_routes(routes)
    return app


async def start_control(lab: Lab, stop: asyncio.Event, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(lab, stop), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
