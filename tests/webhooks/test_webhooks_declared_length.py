"""A delivery whose Content-Length is over the limit is refused on that header alone."""

from __future__ import annotations

import asyncio
import logging

import pytest

from numbers_async.webhooks import NumbersEvent

from .harness import EventsEndpoint


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    endpoint: EventsEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue, max_body_size=1024)
    body = b"x" * 2000

    with caplog.at_level(logging.WARNING, logger="numbers_async"):
        status, _ = await endpoint.post(body)

    assert (status, queue.qsize()) == (413, 0)
    assert "rejected an event: Content-Length 2000 is too large" in caplog.messages
