"""What the receivers answer besides the status, and how the FastAPI route is declared."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from numbers_async.webhooks import NumbersEvent

from .harness import ENDPOINT_SECRET, Stop, start_aiohttp, start_fastapi

Start = Callable[[Any, dict[str, Any]], Awaitable[tuple[str, Stop]]]


async def ignore(event: NumbersEvent) -> None:
    return None


@pytest.mark.parametrize("start", [start_aiohttp, start_fastapi], ids=["aiohttp", "fastapi"])
async def test_a_refusal_is_plain_text(start: Start) -> None:
    url, stop = await start(ignore, {"secret": ENDPOINT_SECRET})
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=b"{}", headers={"Content-Type": "application/json"}) as reply,
        ):
            text = await reply.text()
    finally:
        await stop()
    assert reply.status == 401  # no signature
    assert reply.content_type == "text/plain"
    assert text


def test_the_fastapi_route_is_post_sinch_events_with_a_summary() -> None:
    from fastapi import FastAPI

    from numbers_async.webhooks.fastapi import events_router

    app = FastAPI()
    app.include_router(events_router(ignore, secret=ENDPOINT_SECRET))
    paths = app.openapi()["paths"]
    assert list(paths) == ["/sinch/events"]
    assert list(paths["/sinch/events"]) == ["post"]
    assert paths["/sinch/events"]["post"]["summary"] == "Receive a Sinch number event"
