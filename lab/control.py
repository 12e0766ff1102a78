"""Control channel: HTTP/JSON on 127.0.0.1 (status, clock, faults, timers, stop).

Every request carries `Authorization: Bearer <token>`, the token kept in the 0600 state file (`lab.json`), so
another local user cannot inject faults or stop the lab; and its Host header must name a loopback address, so a
web page in the user's browser cannot reach it by DNS rebinding (issue 12 §8).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from iospki.lab.clock import parse_duration, parse_time
from iospki.lab.lab import Lab


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, indent=1), content_type="application/json")


def _clock(lab: Lab, **extra: Any) -> dict[str, Any]:
    return {"now": lab.clock.now().isoformat(), "rate": lab.clock.rate, **extra}


def loopback_host(host: str | None) -> bool:
    """A Host header that names a loopback address (`127.0.0.1:8080`, `[::1]:80`, `localhost`)."""
    if not host:
        return False
    name = host.strip()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(token: str) -> Any:  # an aiohttp middleware (its Middleware protocol type is not exported)
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not loopback_host(request.headers.get("Host")):
            return _json({"error": "refused: the Host header must name a loopback address"}, 403)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return _json({"error": "refused: missing or wrong control token (see the lab state file)"}, 401)
        return await handler(request)

    return guard


def make_app(lab: Lab, stop: asyncio.Event, token: str) -> web.Application:
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

    app = web.Application(middlewares=[_guard(token)])
    app.add_routes(routes)
    return app


async def start_control(
    lab: Lab, stop: asyncio.Event, token: str, port: int = 0
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(lab, stop, token), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
