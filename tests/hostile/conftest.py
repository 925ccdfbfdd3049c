"""The ``hostile_server`` fixture: a fresh misbehaving server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .server import HostileServer


@pytest.fixture
async def hostile_server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server
