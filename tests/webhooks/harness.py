"""A real events endpoint (aiohttp.web or FastAPI on uvicorn) on 127.0.0.1, and a client.

A plain module (not conftest) so that tests can import its names.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from numbers_async.webhooks import SIGNATURE_HEADER, compute_signature
from numbers_async.webhooks.aiohttp import events_handler

EVENTS_PATH = "/sinch/events"
# Shaped like a real one (docs/api-facts.md#callbacks: ^[a-zA-Z0-9-]{32,64}$) so a leak
# would be recognisable.
ENDPOINT_SECRET = "whsec-0123456789abcdefABCDEF0123456789"

SIGN = "sign the body with ENDPOINT_SECRET"  # default for EventsEndpoint.post(signature=...)

Stop = Callable[[], Awaitable[None]]


class EventsEndpoint:
    """One receiver under test, reachable over loopback HTTP."""

    def __init__(self, framework: str, session: aiohttp.ClientSession) -> None:
        self.framework = framework
        self.secret = ENDPOINT_SECRET
        self._session = session
        self._url = ""
        self._stop: Stop | None = None

    async def start(self, on_event: Any, **options: Any) -> None:
        """Serve a receiver for ``on_event``; ``secret`` defaults to ``ENDPOINT_SECRET``."""
        options.setdefault("secret", ENDPOINT_SECRET)
        start = start_aiohttp if self.framework == "aiohttp" else start_fastapi
        self._url, self._stop = await start(on_event, options)

    async def stop(self) -> None:
        """Shut the server down, running the receiver's cleanup (on_cleanup or lifespan)."""
        stop, self._stop = self._stop, None
        if stop is not None:
            await asyncio.wait_for(stop(), 10)

    async def post(
        self,
        body: bytes | AsyncIterable[bytes],
        *,
        signature: str | None = SIGN,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """POST ``body`` as Sinch would; returns the status and the response text."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if signature is SIGN:
            assert isinstance(body, bytes), "sign streamed bodies explicitly"
            sent[SIGNATURE_HEADER] = compute_signature(body, ENDPOINT_SECRET)
        elif signature is not None:
            sent[SIGNATURE_HEADER] = signature
        async with self._session.post(self._url, data=body, headers=sent) as response:
            return response.status, await response.text()


async def start_aiohttp(on_event: Any, options: dict[str, Any]) -> tuple[str, Stop]:
    handler = events_handler(on_event, **options)
    app = web.Application()
    handler.setup(app, EVENTS_PATH)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return f"http://127.0.0.1:{port}{EVENTS_PATH}", runner.cleanup


async def start_fastapi(on_event: Any, options: dict[str, Any]) -> tuple[str, Stop]:
    from fastapi import FastAPI

    from numbers_async.webhooks.fastapi import events_router

    app = FastAPI()
    app.include_router(events_router(on_event, path=EVENTS_PATH, **options))
    sock = loopback_socket()
    port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{EVENTS_PATH}", await serve_uvicorn(app, sock)


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1, so the port is known before serving."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve_uvicorn(app: Any, sock: socket.socket) -> Stop:
    """Serve an ASGI app on ``sock`` with uvicorn (lifespan on); returns how to stop it."""
    import uvicorn

    config = uvicorn.Config(
        app, log_config=None, log_level="warning", lifespan="on", http="h11", ws="none"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1000):
        if server.started:
            break
        if serving.done():
            serving.result()  # startup failed: raise its error here
        await asyncio.sleep(0.01)
    else:
        server.should_exit = True
        await serving
        raise AssertionError("uvicorn did not start within 10 s")

    async def stop() -> None:
        server.should_exit = True
        await serving

    return stop
