"""Requests the server processed and then answered 5xx (``Fault.status_after``).

A retry after such an answer meets the changed state; these tests see a double rent in
the fake's ``rent_counts`` if the client ever made one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from numbers_async import AmbiguousOutcomeError, NumbersClient, RateLimitedError, RetryPolicy
from numbers_async._retry import maybe_processed
from numbers_async.testing import FakeNumbersServer, Fault

QUICK = RetryPolicy(backoff=0.01, max_backoff=0.02)
GATEWAY_ERRORS = (500, 502, 503, 504)


@pytest.fixture
async def client(fake: FakeNumbersServer) -> AsyncIterator[NumbersClient]:
    async with fake.client(retry=QUICK) as numbers_client:
        yield numbers_client


def statuses(fake: FakeNumbersServer, route: str) -> list[int]:
    return [r.status for r in fake.requests_for(route)]


async def first_available(client: NumbersClient) -> str:
    (number,) = await client.available_numbers.search("US", "LOCAL", size=1)
    return number.phone_number


@pytest.mark.parametrize("code", GATEWAY_ERRORS)
async def test_rent_processed_then_5xx_is_rented_once_and_reconciled(
    fake: FakeNumbersServer, client: NumbersClient, code: int
) -> None:
    phone = await first_available(client)
    fake.inject(Fault.status_after(code), route="rent", times=1)
    number = await client.available_numbers.rent(phone)
    assert number.phone_number == phone
    assert fake.rent_counts[phone] == 1
    assert sum(fake.rent_counts.values()) == 1
    # The retry meets "not available"; the GET finds the number owned.
    assert statuses(fake, "rent") == [code, 404]
    assert statuses(fake, "get_active") == [200]


@pytest.mark.parametrize("code", GATEWAY_ERRORS)
async def test_release_processed_then_5xx_settles_as_done(
    fake: FakeNumbersServer, client: NumbersClient, code: int
) -> None:
    (phone,) = fake.add_active_numbers(1)
    fake.inject(Fault.status_after(code), route="release", times=1)
    released = await client.active_numbers.release(phone)
    assert released.phone_number == phone
    assert phone not in fake.active
    assert statuses(fake, "release") == [code, 404]


@pytest.mark.parametrize("code", GATEWAY_ERRORS)
async def test_rent_any_processed_then_5xx_is_ambiguous_and_rents_once(
    fake: FakeNumbersServer, client: NumbersClient, code: int
) -> None:
    fake.inject(Fault.status_after(code), route="rent_any", times=1)
    with pytest.raises(AmbiguousOutcomeError) as caught:
        await client.available_numbers.rent_any("US", "LOCAL")
    assert caught.value.operation == "available_numbers.rent_any"
    assert sum(fake.rent_counts.values()) == 1
    assert statuses(fake, "rent_any") == [code]


async def test_release_processed_then_429_settles_as_done(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    (phone,) = fake.add_active_numbers(1)
    fake.inject(Fault.status_after(429), route="release", times=1)
    released = await client.active_numbers.release(phone)
    assert released.phone_number == phone
    assert phone not in fake.active
    assert statuses(fake, "release") == [429, 404]


async def test_release_processed_then_5xx_then_429_settles_as_done(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    (phone,) = fake.add_active_numbers(1)
    fake.inject(Fault.status_after(503), route="release", times=1)
    fake.inject(Fault.status(429), route="release", times=1)
    released = await client.active_numbers.release(phone)
    assert released.phone_number == phone
    assert phone not in fake.active
    assert statuses(fake, "release") == [503, 429, 404]


async def test_release_processed_then_429_until_out_of_attempts_is_ambiguous(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    (phone,) = fake.add_active_numbers(1)
    fake.inject(Fault.status_after(503), route="release", times=1)
    fake.inject(Fault.status(429), route="release", times=None)
    with pytest.raises(AmbiguousOutcomeError) as caught:
        await client.active_numbers.release(phone)
    # Not the known failure the last 429 suggests: the first attempt may have released it.
    assert maybe_processed(caught.value)
    assert isinstance(caught.value.__cause__, RateLimitedError)
    assert phone not in fake.active
    assert statuses(fake, "release") == [503, 429, 429, 429]


async def test_read_answered_5xx_then_429_until_out_of_attempts_is_rate_limited(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    fake.inject(Fault.status(503), route="get_callbacks", times=1)
    fake.inject(Fault.status(429), route="get_callbacks", times=None)
    with pytest.raises(RateLimitedError):
        await client.callbacks.get()
    assert statuses(fake, "get_callbacks") == [503, 429, 429, 429]
