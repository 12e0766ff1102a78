"""aiohttp glue for :class:`ScepServer`: a request handler and a loopback-only standalone site.

The lab's per-router HTTP listener can mount :func:`scep_handler` itself; tests, the benchmark and the
interop runner use :func:`start_scep_site`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from iospki.lab.scep.server import ScepServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def scep_handler(server: ScepServer) -> Handler:
    """An aiohttp handler answering every SCEP path (``*/pkiclient.exe``, ``/scep``) through ``server``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read() if request.method == "POST" else b""
        query = {k: v for k, v in request.query.items()}
        resp = await server.handle(request.method, request.path, query, body)
        return web.Response(status=resp.status, body=resp.body, content_type=resp.content_type)

    return handle


def scep_app(server: ScepServer) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    handler = scep_handler(server)
    app.router.add_route("GET", "/{tail:.*}", handler)
    app.router.add_route("POST", "/{tail:.*}", handler)
    return app


def _require_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"SCEP lab server must bind a loopback address, not {host}")


async def start_scep_site(
    server: ScepServer, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """Serve ``server`` on host:port (loopback only; port 0 picks a free one). Returns (runner, port);
    stop it with ``await runner.cleanup()``."""
    _require_loopback(host)
    runner = web.AppRunner(scep_app(server), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = runner.addresses
    bound = addresses[0][1] if addresses else port
    return runner, int(bound)
