"""The sender's order of work (auth -> rate gate -> slot -> send: a call waiting for its
token neither passes the gate nor holds a slot), pluggable rate limiters, and token
retries reported like any other, over real HTTP to the fake server."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from numbers_async import (
    AuthenticationError,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    NumbersClient,
    RateLimitedError,
    RateLimiter,
    RetryEvent,
    RetryPolicy,
    ServerError,
)
from numbers_async.testing import FakeNumbersServer, Fault

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)


class CountingLimiter:
    """A ``RateLimiter`` that lets everything through and counts what it was told."""

    def __init__(self) -> None:
        self.acquired = 0
        self.pauses: list[float] = []

    async def acquire(self) -> None:
        self.acquired += 1

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)


class HoldFirst:
    """A ``RateLimiter`` that holds the first request until ``release`` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire(self) -> None:
        self.calls += 1
        if self.calls == 1:
            self.holding.set()
            await self.release.wait()

    def pause(self, seconds: float) -> None:
        return None


def test_a_limiter_object_satisfies_the_protocol() -> None:
    assert isinstance(CountingLimiter(), RateLimiter)


async def test_a_limiter_is_asked_before_each_api_request_and_paused_on_429(
    fake: FakeNumbersServer,
) -> None:
    limiter = CountingLimiter()
    fake.inject(Fault.status(429, retry_after="0"), route="get_callbacks")
    async with fake.client(rate_limit=limiter, retry=QUICK) as client:
        await client.callbacks.get()
    assert limiter.acquired == 2  # the 429 and its retry; never the token request
    assert limiter.pauses == [0.0]
    assert fake.token_requests == 1


def test_a_rate_limit_that_is_neither_a_number_nor_a_limiter_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "s", rate_limit="fast")  # type: ignore[arg-type]
    assert caught.value.argument == "rate_limit"


async def test_a_request_waiting_at_the_rate_gate_holds_no_slot(fake: FakeNumbersServer) -> None:
    limiter = HoldFirst()
    async with fake.client(auth="basic", max_concurrency=1, rate_limit=limiter) as client:
        held = asyncio.create_task(client.callbacks.get())
        await limiter.holding.wait()
        # The only slot is free although one call is waiting at the gate.
        await asyncio.wait_for(client.callbacks.get(), timeout=5)
        assert not held.done()
        limiter.release.set()
        await held


@pytest.mark.parametrize("borrowed_connections", [None, 2])
async def test_a_token_refresh_under_a_full_slot_pool_does_not_deadlock(
    fake: FakeNumbersServer, borrowed_connections: int | None
) -> None:
    # Every slot-holder waits for the one token fetch, which takes no slot; with an
    # injected session whose pool is exactly max_concurrency, it still finds a connection.
    session = None
    if borrowed_connections is not None:
        connector = aiohttp.TCPConnector(limit=borrowed_connections)
        session = aiohttp.ClientSession(connector=connector)
    try:
        async with fake.client(max_concurrency=2, session=session) as client:
            await client.callbacks.get()
            fake.expire_tokens()
            fake.inject(Fault.latency(0.05), route="token")
            calls = (client.callbacks.get() for _ in range(40))
            results = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
    finally:
        if session is not None:
            await session.close()
    assert len(results) == 40
    assert fake.token_requests == 2


async def test_token_retries_are_reported_to_on_retry(fake: FakeNumbersServer) -> None:
    events: list[RetryEvent] = []
    fake.inject(Fault.status(429), route="token")
    async with fake.client(retry=RetryPolicy(on_retry=events.append)) as client:
        await client.callbacks.get()
    assert [(e.operation, e.attempt, e.reason) for e in events] == [("oauth2.token", 1, "HTTP 429")]
    assert isinstance(events[0].caused_by, RateLimitedError)


async def test_api_retries_carry_the_exception_that_caused_them(fake: FakeNumbersServer) -> None:
    events: list[RetryEvent] = []
    fake.inject(Fault.status(503, body="html"), route="get_callbacks")
    async with fake.client(retry=RetryPolicy(backoff=0.001, on_retry=events.append)) as client:
        await client.callbacks.get()
    assert [e.reason for e in events] == ["HTTP 503"]
    assert isinstance(events[0].caused_by, ServerError)
    assert events[0].caused_by.status == 503


async def test_an_api_error_names_the_operation_method_and_path(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=QUICK) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.active_numbers.release("+12025550100")
    error = caught.value
    assert (error.operation, error.method) == ("active_numbers.release", "POST")
    assert error.path == f"/v1/projects/{fake.project_id}/activeNumbers/+12025550100:release"


async def test_an_api_error_path_carries_no_query_string(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(400), route="search_available")
    async with fake.client(retry=QUICK) as client:
        with pytest.raises(InvalidArgumentError) as caught:
            await client.available_numbers.search("US", "LOCAL", pattern="+1206", size=3)
    error = caught.value
    assert (error.operation, error.method) == ("available_numbers.search", "GET")
    assert error.path == f"/v1/projects/{fake.project_id}/availableNumbers"


async def test_a_token_endpoint_error_names_the_token_request(fake: FakeNumbersServer) -> None:
    async with NumbersClient(
        fake.project_id, fake.key_id, "not-the-secret", base_url=fake.url, auth_url=fake.auth_url
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.callbacks.get()
    error = caught.value
    assert (error.operation, error.method, error.path) == ("oauth2.token", "POST", "/oauth2/token")
    assert "not-the-secret" not in repr(vars(error))
