"""Lifecycle edges: calls after close, close while calls are in flight, a second loop."""

from __future__ import annotations

import asyncio

import pytest

from numbers_async import NumbersError, errors

from .operations import OPERATIONS, Operation
from .server import PHONE, HostileServer, delayed

NO_CLOSED_ERROR = "issue 10: a call after aclose() raises a bare RuntimeError"
CLOSE_CUTS_CALLS = "issue 10: aclose() closes the session under calls in flight"
SECOND_LOOP = "issue 10: a client used from a second event loop fails deep inside aiohttp"


def client_closed_error() -> type[NumbersError]:
    error: object = getattr(errors, "ClientClosedError", None)
    assert error is not None, "numbers_async.errors.ClientClosedError does not exist"
    assert isinstance(error, type)
    assert issubclass(error, NumbersError)
    return error


async def wait_until_received(server: HostileServer, route: str) -> None:
    for _ in range(500):
        if server.requests_for(route):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server never received {route}")


@pytest.mark.xfail(strict=True, reason=NO_CLOSED_ERROR)
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
async def test_call_after_close_raises_client_closed_error(
    hostile_server: HostileServer, operation: Operation
) -> None:
    closed_error = client_closed_error()
    client = hostile_server.client()
    await client.aclose()
    with pytest.raises(closed_error):
        await operation.call(client)
    assert hostile_server.received == []


@pytest.mark.xfail(strict=True, reason=NO_CLOSED_ERROR)
async def test_call_after_close_of_a_used_client_raises_client_closed_error(
    hostile_server: HostileServer,
) -> None:
    closed_error = client_closed_error()
    async with hostile_server.client() as client:
        await client.callbacks.get()
    with pytest.raises(closed_error):
        await client.callbacks.get()
    assert hostile_server.routes() == ["token", "get_callbacks"]


@pytest.mark.xfail(strict=True, reason=CLOSE_CUTS_CALLS)
async def test_close_while_a_rent_is_in_flight_lets_it_finish(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent", delayed(0.5))
    client = hostile_server.client()
    rent = asyncio.ensure_future(client.available_numbers.rent(PHONE))
    await wait_until_received(hostile_server, "rent")
    await client.aclose()
    finished_before_close_returned = rent.done()
    number = await rent
    assert finished_before_close_returned
    assert number.phone_number == PHONE
    assert hostile_server.api_calls() == [("POST", "rent")]
    assert hostile_server.rented == {PHONE}


@pytest.mark.xfail(strict=True, reason=CLOSE_CUTS_CALLS)
async def test_close_while_a_read_is_in_flight_lets_it_finish(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", delayed(0.5))
    client = hostile_server.client()
    read = asyncio.ensure_future(client.active_numbers.get(PHONE))
    await wait_until_received(hostile_server, "get_active")
    await client.aclose()
    finished_before_close_returned = read.done()
    number = await read
    assert finished_before_close_returned
    assert number.phone_number == PHONE
    assert hostile_server.api_calls() == [("GET", "get_active")]


@pytest.mark.xfail(strict=True, reason=SECOND_LOOP)
async def test_client_used_from_a_second_event_loop_raises_numbers_error(
    hostile_server: HostileServer,
) -> None:
    async with hostile_server.client() as client:
        await client.callbacks.get()  # the client now belongs to this loop

        async def from_another_loop() -> BaseException | None:
            try:
                await asyncio.wait_for(client.callbacks.get(), timeout=10)
            except BaseException as exc:  # noqa: BLE001 - returned to the test to inspect
                return exc
            return None

        raised = await asyncio.to_thread(asyncio.run, from_another_loop())
    assert isinstance(raised, NumbersError), repr(raised)
    assert "loop" in str(raised).lower()
    assert hostile_server.routes() == ["token", "get_callbacks"]
