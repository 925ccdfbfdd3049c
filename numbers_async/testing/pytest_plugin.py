"""pytest fixture for tests against the fake Sinch Numbers server.

Enable it with ``pytest_plugins = ["numbers_async.testing.pytest_plugin"]`` in your root
``conftest.py``; it needs pytest-asyncio.

Examples:
    ```python
    async def test_rent(fake_numbers_server):
        async with fake_numbers_server.client() as client:
            number = await client.available_numbers.rent_any("US", "LOCAL")
        assert fake_numbers_server.rent_counts[number.phone_number] == 1
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator

try:
    import pytest_asyncio
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "numbers_async.testing.pytest_plugin needs pytest-asyncio: pip install pytest-asyncio"
    ) from exc

from ._fake import FakeNumbersServer

__all__ = ["fake_numbers_server"]


@pytest_asyncio.fixture
async def fake_numbers_server() -> AsyncIterator[FakeNumbersServer]:
    """A started ``FakeNumbersServer`` with default settings, closed after the test."""
    async with FakeNumbersServer() as server:
        yield server
