"""Per-router HTTP listener (`ip http server`) and an async HTTP client for use inside timers and commands.

Both only ever touch 127.0.0.0/8. The CA router and its clients share one event loop, so nothing here blocks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

log = logging.getLogger("iospki.lab.http")

# (method, path, query, body) -> (status, headers, body)
HttpHandler = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, dict[str, str], bytes]]]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False


class HttpListener:
    """An aiohttp low-level server bound to one router address and port."""

    def __init__(
        self, address: str, port: int, handler: Callable[[], HttpHandler | None], owner: str
    ) -> None:
        if not is_loopback(address):
            raise ValueError(
                f"{owner}: refusing to listen on {address} (lab addresses must be in 127.0.0.0/8)"
            )
        self.address, self.port, self.owner = address, port, owner
        self._handler = handler
        self._server: asyncio.base_events.Server | None = None
        self._web: web.Server | None = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        handler = self._handler()
        if handler is None:
            return web.Response(status=404, text="Not Found\n")
        body = await request.read()
        query = {k: v for k, v in request.query.items()}
        try:
            status, headers, payload = await handler(request.method, request.path, query, body)
        except Exception:  # a plugin bug answers 500 and never kills the lab
            log.exception("%s: HTTP handler failed for %s %s", self.owner, request.method, request.path)
            return web.Response(status=500, text="Internal Server Error\n")
        return web.Response(status=status, headers=headers, body=payload)

    async def start(self) -> None:
        self._web = web.Server(self._handle, access_log=None)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._web, self.address, self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._web is not None:
            await self._web.shutdown(0.5)
            self._web = None

    @property
    def running(self) -> bool:
        return self._server is not None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class HttpError(Exception):
    """Connection refused, timeout, or a non-loopback URL: message names the URL and the cause."""


async def http_request(
    method: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    source_address: str | None = None,
) -> HttpResponse:
    """One HTTP request to a loopback URL. source_address binds the client side (a router's own address)."""
    host = urlsplit(url).hostname or ""
    if not is_loopback(host):
        raise HttpError(f"{url}: refusing to connect outside 127.0.0.0/8")
    connector = aiohttp.TCPConnector(
        local_addr=(source_address, 0) if source_address else None, force_close=True, limit=0
    )
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as session,
            session.request(method, url, params=params, data=body, headers=headers) as resp,
        ):
            payload = await resp.read()
            return HttpResponse(resp.status, {k: v for k, v in resp.headers.items()}, payload)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise HttpError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
