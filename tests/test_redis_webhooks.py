"""Two webhook receivers (aiohttp and FastAPI) behind one load balancer, sharing one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from numbers_async.redis import RedisEventDeduplicator
from numbers_async.webhooks import NumbersEvent
from tests.conftest import RedisServer, eventually
from tests.webhooks.harness import EventsEndpoint
from tests.webhooks.test_webhooks_http import body_of, make_event


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[list[EventsEndpoint]]:
    """An aiohttp receiver and a FastAPI receiver, not started yet."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        served = [EventsEndpoint("aiohttp", session), EventsEndpoint("fastapi", session)]
        try:
            yield served
        finally:
            await session.close()
            for endpoint in served:
                await endpoint.stop()


@pytest.fixture
async def deduplicators(redis_server: RedisServer) -> AsyncIterator[list[RedisEventDeduplicator]]:
    """One deduplicator per replica, each with its own connection to the shared Redis."""
    made = [RedisEventDeduplicator.from_url(redis_server.url, key="project-a") for _ in range(2)]
    yield made
    for deduplicator in made:
        await deduplicator.aclose()


async def test_an_event_delivered_to_both_replicas_is_handed_over_once(
    replicas: list[EventsEndpoint], deduplicators: list[RedisEventDeduplicator]
) -> None:
    queues: list[asyncio.Queue[NumbersEvent]] = [asyncio.Queue(), asyncio.Queue()]
    for endpoint, queue, deduplicator in zip(replicas, queues, deduplicators, strict=True):
        await endpoint.start(queue, deduplicate=deduplicator)
    body = body_of(make_event("evt-twice"))

    answers = [(await endpoint.post(body))[0] for endpoint in replicas]

    assert answers == [200, 200]
    assert [queue.qsize() for queue in queues] == [1, 0]


@pytest.mark.parametrize("acknowledge", ["received", "handled"])
async def test_an_event_whose_handler_failed_on_one_replica_is_handled_by_the_other(
    replicas: list[EventsEndpoint],
    deduplicators: list[RedisEventDeduplicator],
    acknowledge: str,
) -> None:
    handled: list[str] = []
    failed = asyncio.Event()

    async def failing(event: NumbersEvent) -> None:
        failed.set()
        raise RuntimeError("database briefly down")

    async def working(event: NumbersEvent) -> None:
        handled.append(f"{event.event_id}")

    await replicas[0].start(failing, deduplicate=deduplicators[0], acknowledge=acknowledge)
    await replicas[1].start(working, deduplicate=deduplicators[1], acknowledge=acknowledge)
    body = body_of(make_event("evt-retried"))

    first, _ = await replicas[0].post(body)
    await failed.wait()
    await asyncio.sleep(0.05)  # the failed claim is released right after the handler raised
    second, _ = await replicas[1].post(body)
    await eventually(lambda: bool(handled))

    assert (first, second) == (500 if acknowledge == "handled" else 200, 200)
    assert handled == ["evt-retried"]
