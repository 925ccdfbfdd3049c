"""Lifecycle edges: calls after close, close while calls are in flight, a second loop."""

from __future__ import annotations

import asyncio

import pytest

from numbers_async import NumbersError, errors

from .operations import OPERATIONS, Operation
from .server import PHONE, HostileServer, delayed


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


async def test_call_after_close_of_a_used_client_raises_client_closed_error(
    hostile_server: HostileServer,
) -> None:
    closed_error = client_closed_error()
    async with hostile_server.client() as client:
        await client.callbacks.get()
    with pytest.raises(closed_error):
        await client.callbacks.get()
    assert hostile_server.routes() == ["token", "get_callbacks"]


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


async def test_close_timeout_cuts_off_a_rent_as_ambiguous(hostile_server: HostileServer) -> None:
    hostile_server.on("rent", delayed(5.0))
    client = hostile_server.client()
    rent = asyncio.ensure_future(client.available_numbers.rent(PHONE))
    await wait_until_received(hostile_server, "rent")
    await client.aclose(timeout=0.2)
    with pytest.raises(errors.AmbiguousOutcomeError) as caught:
        await rent
    assert caught.value.operation == "available_numbers.rent"
    assert "closed" in str(caught.value)
    # Cut off once: no second rent and no reconciling GET on a closed client.
    assert hostile_server.api_calls() == [("POST", "rent")]


async def test_close_timeout_cuts_off_a_read_with_client_closed_error(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", delayed(5.0))
    client = hostile_server.client()
    read = asyncio.ensure_future(client.active_numbers.get(PHONE))
    await wait_until_received(hostile_server, "get_active")
    await client.aclose(timeout=0.2)
    with pytest.raises(client_closed_error()):
        await read
    assert hostile_server.api_calls() == [("GET", "get_active")]


async def test_close_timeout_must_not_be_negative(hostile_server: HostileServer) -> None:
    client = hostile_server.client()
    with pytest.raises(errors.InvalidInputError) as caught:
        await client.aclose(timeout=-1)
    assert caught.value.argument == "timeout"
    await client.aclose()
