"""Shared fixtures: a fresh fake Sinch server per test and a client pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from numbers_async import NumbersClient
from numbers_async.testing import FakeNumbersServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeNumbersServer]:
    async with FakeNumbersServer() as server:
        yield server


@pytest.fixture
async def client(fake: FakeNumbersServer) -> AsyncIterator[NumbersClient]:
    async with fake.client() as numbers_client:
        yield numbers_client


def api_requests(fake: FakeNumbersServer) -> list[str]:
    """Routes of every Numbers API request the fake saw (token endpoint left out)."""
    return [r.route for r in fake.requests if r.route != "token"]


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polling the fake's counters), or fail."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")
