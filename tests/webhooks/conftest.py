"""Fixtures for the webhooks tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from .harness import EventsEndpoint


@pytest.fixture(params=["aiohttp", "fastapi"])
async def endpoint(request: pytest.FixtureRequest) -> AsyncIterator[EventsEndpoint]:
    """An unstarted endpoint per framework; torn down client first, then the server."""
    if request.param == "fastapi":
        pytest.importorskip("fastapi")
        pytest.importorskip("uvicorn")
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        served = EventsEndpoint(request.param, session)
        try:
            yield served
        finally:
            await session.close()  # before the server, which waits for open connections
            await served.stop()
