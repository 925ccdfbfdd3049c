"""Slow-drip bodies (a byte at a time) against ``Timeouts``.

``read`` bounds the silence between bytes, ``total`` one attempt, ``deadline`` the whole
call; a drip that never goes quiet for long must still be cut by ``total`` and
``deadline``. Elapsed times are checked as upper bounds with room for a busy machine.
"""

from __future__ import annotations

import time

import pytest

from numbers_async import NumbersTimeoutError, RetryPolicy, Timeouts

from .server import PHONE, HostileServer, drip

ONE_ATTEMPT = RetryPolicy(attempts=1)
QUICK = RetryPolicy(backoff=0.01, max_backoff=0.02)
SLACK = 1.5  # seconds a loaded machine may add


async def test_drip_slower_than_the_read_timeout_is_a_timeout(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", drip(0.5))
    started = time.monotonic()
    async with hostile_server.client(
        retry=ONE_ATTEMPT, timeouts=Timeouts(read=0.1, total=30)
    ) as client:
        with pytest.raises(NumbersTimeoutError):
            await client.active_numbers.get(PHONE)
    assert time.monotonic() - started < 0.1 + SLACK
    assert hostile_server.api_calls() == [("GET", "get_active")]


async def test_drip_within_the_read_timeout_is_cut_by_the_total_timeout(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", drip(0.02))  # ~400 bytes: about 8 s in all
    started = time.monotonic()
    async with hostile_server.client(
        retry=ONE_ATTEMPT, timeouts=Timeouts(read=1.0, total=0.5)
    ) as client:
        with pytest.raises(NumbersTimeoutError):
            await client.active_numbers.get(PHONE)
    assert time.monotonic() - started < 0.5 + SLACK
    assert hostile_server.api_calls() == [("GET", "get_active")]


async def test_drip_on_every_attempt_is_cut_by_the_call_deadline(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", drip(0.02))
    started = time.monotonic()
    async with hostile_server.client(
        retry=QUICK, timeouts=Timeouts(read=1.0, total=0.4, deadline=1.0)
    ) as client:
        with pytest.raises(NumbersTimeoutError):
            await client.active_numbers.get(PHONE)
    assert time.monotonic() - started < 1.0 + SLACK
    # Attempts of 0.4 s fit at most three times into 1 s: the fourth is never started.
    assert 1 <= len(hostile_server.api_calls()) <= 3
    assert set(hostile_server.api_calls()) == {("GET", "get_active")}


async def test_drip_on_a_processed_rent_is_reconciled_after_the_timeout(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent", drip(0.02), times=1)
    async with hostile_server.client(retry=QUICK, timeouts=Timeouts(total=0.4)) as client:
        number = await client.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    # Timed out after sending: maybe processed. The retry finds it taken; the GET settles it.
    assert hostile_server.api_calls() == [
        ("POST", "rent"),
        ("POST", "rent"),
        ("GET", "get_active"),
    ]


async def test_drip_on_the_token_endpoint_is_cut_by_the_call_deadline(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("token", drip(0.06), times=1)  # ~90 bytes: about 5.4 s if never cut
    started = time.monotonic()
    async with hostile_server.client(retry=QUICK, timeouts=Timeouts(deadline=1.0)) as client:
        with pytest.raises(NumbersTimeoutError):
            await client.callbacks.get()
    assert time.monotonic() - started < 1.0 + SLACK
    assert hostile_server.api_calls() == []
