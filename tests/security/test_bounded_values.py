"""Item 4 of the review: values from trusted places (configuration, the API, Redis) bounded.

Each gives a library error (or a bounded, warned fallback) within a second: never a bare
``ValueError`` from deep inside aiohttp, never a wait of hours.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

import pytest
import redis.asyncio as aioredis

from numbers_async import (
    InvalidInputError,
    NumbersClient,
    RateLimitedError,
    RetryPolicy,
)
from numbers_async.redis import RedisRateLimiter
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import RedisServer

from .resp import GarbageRedis

# --- user info in base_url / auth_url -----------------------------------------------------------


@pytest.mark.parametrize("argument", ["base_url", "auth_url"])
@pytest.mark.parametrize(
    "origin",
    [
        "https://user:SECRET-PW@numbers.example",
        "https://user@numbers.example",
        "https://:SECRET-PW@numbers.example:8443",
    ],
)
def test_user_info_in_an_origin_is_refused_at_construction(argument: str, origin: str) -> None:
    # Before: accepted, and every call then failed with aiohttp's bare ValueError
    # ("Cannot combine AUTHORIZATION header with AUTH argument or credentials encoded in URL").
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("project", "key", "secret", **{argument: origin})  # type: ignore[arg-type]

    assert caught.value.argument == argument
    assert "user info" in caught.value.rule
    assert "SECRET-PW" not in str(caught.value)


# --- Retry-After from the API -------------------------------------------------------------------


@pytest.mark.parametrize("ceiling", [3600.5, 86_400.0, 1e9, math.inf])
def test_max_retry_after_has_a_documented_ceiling(ceiling: float) -> None:
    # Before: any value, infinity included, was accepted, so a server's Retry-After could
    # hold a call for days (or forever) once a caller raised the setting.
    with pytest.raises(InvalidInputError) as caught:
        RetryPolicy(max_retry_after=ceiling)

    assert caught.value.argument == "RetryPolicy.max_retry_after"
    assert "at most 3600 seconds" in caught.value.rule
    assert RetryPolicy(max_retry_after=3600).max_retry_after == 3600


@pytest.mark.parametrize("retry_after", ["86400", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_a_retry_after_beyond_the_ceiling_fails_the_call_within_a_second(
    fake: FakeNumbersServer, retry_after: str
) -> None:
    fake.inject(Fault.status(429, retry_after=retry_after), route="list_regions")
    policy = RetryPolicy(max_retry_after=3600, backoff=0.01)

    started = time.monotonic()
    async with fake.client(retry=policy) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.available_regions.list()

    # A bound of seconds, not the hours asked for: generous for a loaded 2-core machine.
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 3600


# --- the shared rate limit's state in Redis -------------------------------------------------------

RATE_KEY = "numbers_async:rate:project"


@pytest.mark.parametrize("field", ["paused", "tat"])
async def test_a_schedule_far_in_the_future_in_redis_is_reset_within_a_second(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    # Before: the limiter slept until then (about 31 years for this value).
    redis = aioredis.from_url(redis_server.url)
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=100, key="project")
    try:
        far = round((time.time() + 1e9) * 1_000_000)
        await redis.hset(RATE_KEY, field, far)

        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="numbers_async"):
            await asyncio.wait_for(limiter.acquire(), 5)
            await asyncio.wait_for(limiter.acquire(), 5)

        # One slot of 10 ms after the reset; a second leaves room for a loaded machine.
        assert time.monotonic() - started < 1.0
        assert limiter.shared
        assert "was reset" in caplog.text
        assert await redis.hget(RATE_KEY, "paused") is None
        assert int(await redis.hget(RATE_KEY, "tat") or 0) < far
    finally:
        await limiter.aclose()
        await redis.aclose()


async def test_a_pause_shared_over_a_far_future_one_is_taken_as_given(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.from_url(redis_server.url)
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=100, key="project")
    try:
        await redis.hset(RATE_KEY, "paused", round((time.time() + 1e9) * 1_000_000))
        await limiter._share_pause(0.2)  # what pause() starts in the background
        left = int(await redis.hget(RATE_KEY, "paused") or 0) / 1e6 - time.time()
        assert 0 < left < 5  # the new 0.2 s pause, not the corrupt one
    finally:
        await limiter.aclose()
        await redis.aclose()


GARBAGE_REPLIES = {
    "not numbers": b"*4\r\n$3\r\nabc\r\n:1\r\n:0\r\n:0\r\n",
    "not a list": b":5\r\n",
    "too short": b"*2\r\n:1\r\n:2\r\n",
    "a null": b"*4\r\n$-1\r\n:0\r\n:0\r\n:0\r\n",
    "a wait of a day": b"*4\r\n:86400000000\r\n:0\r\n:0\r\n:0\r\n",
    "a pause of years": b"*4\r\n:0\r\n:99999999999999999\r\n:0\r\n:0\r\n",
}


@pytest.mark.parametrize("reply", list(GARBAGE_REPLIES.values()), ids=list(GARBAGE_REPLIES))
@pytest.mark.parametrize("hello", [False, True], ids=["resp2", "garbage-hello"])
async def test_a_garbage_reply_from_redis_is_a_warned_fallback_within_a_second(
    reply: bytes, hello: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: a bare ValueError, TypeError or AttributeError (redis-py's, on a HELLO answered
    # +OK) out of acquire(), so out of every call; or a sleep as long as the reply said.
    async with GarbageRedis(reply, hello=hello) as server:
        limiter = RedisRateLimiter.from_url(server.url, rate=50, key="project", timeout=1)
        try:
            started = time.monotonic()
            with caplog.at_level(logging.WARNING, logger="numbers_async"):
                await asyncio.wait_for(limiter.acquire(), 5)
            assert time.monotonic() - started < 1.0  # a loopback round trip, generously
        finally:
            await limiter.aclose()
    assert not limiter.shared  # limiting this process alone until Redis makes sense again
    assert "Redis is unreachable (" in caplog.text
    if not hello:  # the script's reply itself was read, and refused
        assert "unexpected reply" in caplog.text or "beyond MAX_AHEAD" in caplog.text
        if reply == GARBAGE_REPLIES["not numbers"]:  # the refused reply is quoted
            assert "an unexpected reply \"[b'abc', 1, 0, 0]\"" in caplog.text


async def test_a_client_whose_redis_answers_garbage_still_completes_its_calls(
    fake: FakeNumbersServer,
) -> None:
    async with GarbageRedis(GARBAGE_REPLIES["not numbers"]) as server:
        limiter = RedisRateLimiter.from_url(server.url, rate=50, key="project", timeout=1)
        try:
            async with fake.client(rate_limit=limiter) as client:
                regions = await asyncio.wait_for(client.available_regions.list(), 5)
        finally:
            await limiter.aclose()
    assert regions
