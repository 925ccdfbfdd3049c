"""The example applications, served for real on loopback against the fake Sinch server.

Each test runs for both examples: rent through the app's HTTP endpoint, let the fake
complete provisioning and POST the signed event to the app, then look at what the app's
event handler received.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from examples import aiohttp_app
from numbers_async import NumbersClient
from numbers_async.testing import FakeNumbersServer
from numbers_async.webhooks import EventStatus, EventType, FailureCode, NumbersEvent

from .webhooks.harness import loopback_socket, serve_uvicorn

ROOT = Path(__file__).parent.parent
# Shaped as the API requires (^[a-zA-Z0-9-]{32,64}$).
SECRET = "example-app-0123456789abcdefABCDEF"
OTHER_SECRET = "someone-else-0123456789abcdefABCDEF"
SERVICE_PLAN = "example-service-plan"


@dataclass
class RunningApp:
    """An example app being served, and what its event handler has received so far."""

    url: str
    received: list[NumbersEvent]

    async def rent(self, json: dict[str, Any] | None = None) -> tuple[int, Any]:
        """POST /numbers/rent; returns the status and the decoded JSON (or text) answer."""
        # A session per call, closed at once: no keep-alive connection holds up shutdown.
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.post(f"{self.url}/numbers/rent", json=json) as response,
        ):
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


ServeApp = Callable[..., AbstractAsyncContextManager[RunningApp]]


@asynccontextmanager
async def serve_aiohttp_app(
    client_factory: Callable[[], NumbersClient], hmac_secret: str
) -> AsyncIterator[RunningApp]:
    sock = loopback_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = aiohttp_app.create_app(
        public_url=url,
        hmac_secret=hmac_secret,
        service_plan_id=SERVICE_PLAN,
        client_factory=client_factory,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield RunningApp(url, app[aiohttp_app.RECEIVED])
    finally:
        await runner.cleanup()  # runs the cleanup context and the events handler's cleanup


@asynccontextmanager
async def serve_fastapi_app(
    client_factory: Callable[[], NumbersClient], hmac_secret: str
) -> AsyncIterator[RunningApp]:
    from examples import fastapi_app

    sock = loopback_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = fastapi_app.create_app(
        public_url=url,
        hmac_secret=hmac_secret,
        service_plan_id=SERVICE_PLAN,
        client_factory=client_factory,
    )
    stop = await serve_uvicorn(app, sock)
    try:
        yield RunningApp(url, app.state.received)
    finally:
        await stop()  # runs the lifespan's shutdown, the events router's included


@pytest.fixture(params=["aiohttp", "fastapi"])
def serve_app(request: pytest.FixtureRequest) -> ServeApp:
    """Serve one example app: ``async with serve_app(client_factory, secret) as app``."""
    if request.param == "fastapi":
        pytest.importorskip("fastapi")
        pytest.importorskip("uvicorn")
        return serve_fastapi_app
    return serve_aiohttp_app


async def set_project_secret(fake: FakeNumbersServer, secret: str) -> None:
    async with fake.client() as client:
        await client.callbacks.update(secret)


# -- renting ------------------------------------------------------------------------------------


async def test_rent_endpoint_rents_any_number_with_the_apps_events_url_as_callback(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    async with serve_app(fake.client, SECRET) as app:
        status, answer = await app.rent()

    assert status == 200
    number = fake.active[answer["phone_number"]]
    assert number["callbackUrl"] == f"{app.url}/sinch/events"
    assert number["smsConfiguration"]["scheduledProvisioning"]["servicePlanId"] == SERVICE_PLAN
    assert fake.rent_counts[answer["phone_number"]] == 1


async def test_rent_endpoint_rents_the_phone_number_given(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    phone = max(
        p for p, n in fake.available.items() if (n["regionCode"], n["type"]) == ("US", "LOCAL")
    )
    async with serve_app(fake.client, SECRET) as app:
        status, answer = await app.rent({"phone_number": phone})

    assert (status, answer) == (200, {"phone_number": phone})
    assert fake.rent_counts[phone] == 1


async def test_rent_endpoint_answers_400_to_a_phone_number_that_is_not_e164(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    async with serve_app(fake.client, SECRET) as app:
        status, _ = await app.rent({"phone_number": "555-0100"})

    assert status == 400
    assert fake.requests_for("rent") == []


async def test_the_app_uses_one_client_for_its_lifetime_and_closes_it_at_shutdown(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    clients: list[NumbersClient] = []

    def client_factory() -> NumbersClient:
        clients.append(fake.client())
        return clients[-1]

    async with serve_app(client_factory, SECRET) as app:
        for _ in range(3):
            status, _ = await app.rent()
            assert status == 200
        assert not clients[0].closed

    (client,) = clients
    assert client.closed


# -- receiving events ---------------------------------------------------------------------------


async def test_provisioning_event_of_a_rented_number_reaches_the_app_handler_once_verified(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    await set_project_secret(fake, SECRET)
    async with serve_app(fake.client, SECRET) as app:
        _, answer = await app.rent()
        fake.complete_provisioning(answer["phone_number"])
        await fake.wait_for_callbacks()
    # The app has shut down, so every event handler it started has finished.

    (event,) = app.received
    assert isinstance(event, NumbersEvent)
    assert event.resource_id == answer["phone_number"]
    assert event.event_type is EventType.PROVISIONING_TO_SMS_PLATFORM
    assert event.status is EventStatus.SUCCEEDED
    (delivery,) = fake.callback_deliveries
    assert delivery.status == 200
    assert delivery.signature is not None
    assert delivery.json()["eventId"] == event.event_id


async def test_failed_provisioning_reaches_the_app_handler_with_its_failure_code(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    await set_project_secret(fake, SECRET)
    async with serve_app(fake.client, SECRET) as app:
        await app.rent()
        fake.complete_provisioning(fail=True, error_codes=["INSUFFICIENT_BALANCE"])
        await fake.wait_for_callbacks()

    (event,) = app.received
    assert (event.status, event.failure_code) == (
        EventStatus.FAILED,
        FailureCode.INSUFFICIENT_BALANCE,
    )


async def test_duplicate_deliveries_of_an_event_reach_the_app_handler_once(
    serve_app: ServeApp,
) -> None:
    async with FakeNumbersServer(callback_duplicates=2) as fake:
        await set_project_secret(fake, SECRET)
        async with serve_app(fake.client, SECRET) as app:
            await app.rent()
            fake.complete_provisioning()
            await fake.wait_for_callbacks()

    assert [d.status for d in fake.callback_deliveries] == [200, 200, 200]
    assert len(app.received) == 1


async def test_event_signed_with_another_secret_is_answered_401_and_never_reaches_the_app(
    serve_app: ServeApp,
) -> None:
    async with FakeNumbersServer(callback_attempts=2, callback_backoff=0.01) as fake:
        await set_project_secret(fake, OTHER_SECRET)
        async with serve_app(fake.client, SECRET) as app:
            await app.rent()
            fake.complete_provisioning()
            await fake.wait_for_callbacks()

    assert [d.status for d in fake.callback_deliveries] == [401, 401]
    assert app.received == []


async def test_unsigned_event_is_answered_401_and_never_reaches_the_app(
    fake: FakeNumbersServer, serve_app: ServeApp
) -> None:
    # The project has no callback secret, so the fake sends its events unsigned.
    async with serve_app(fake.client, SECRET) as app:
        await app.rent()
        fake.complete_provisioning()
        await fake.wait_for_callbacks()

    assert {d.status for d in fake.callback_deliveries} == {401}
    assert app.received == []


# -- the README shows the tested code -----------------------------------------------------------


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert match is not None, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_receiving_events_code_is_the_aiohttp_example_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", readme_section("Receiving events"), re.DOTALL)
    example = (ROOT / "examples" / "aiohttp_app.py").read_text()

    assert blocks, "the section shows the example's code"
    for block in blocks:
        assert block in example
    assert "def create_app(" in "".join(blocks)
