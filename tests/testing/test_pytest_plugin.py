"""The ``fake_numbers_server`` fixture that users enable with ``pytest_plugins``."""

from __future__ import annotations

import aiohttp

from numbers_async.testing import FakeNumbersServer

pytest_plugins = ["numbers_async.testing.pytest_plugin"]


async def test_fixture_yields_a_started_server(fake_numbers_server: FakeNumbersServer) -> None:
    url = f"{fake_numbers_server.url}/v1/nothing"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 404
    assert [r.route for r in fake_numbers_server.requests] == ["unknown"]
