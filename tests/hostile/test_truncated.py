"""Truncated 2xx bodies: on a read, and on the reconcile GET after a lost rent.

Two kinds of truncation: a body cut short but framed as complete (``Content-Length`` of
the half that was sent), and a connection dropped mid-body (the framing says more was
coming). Either way a read is retried like a 5xx.
"""

from __future__ import annotations

import pytest

from numbers_async import AmbiguousOutcomeError, RetryPolicy

from .server import PHONE, HostileServer, cut_mid_body, reset, truncated_json

QUICK = RetryPolicy(backoff=0.01, max_backoff=0.02)


async def test_truncated_json_on_a_read_is_retried(hostile_server: HostileServer) -> None:
    hostile_server.on("get_active", truncated_json(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.active_numbers.get(PHONE)
    assert number.phone_number == PHONE
    assert hostile_server.api_calls() == [("GET", "get_active"), ("GET", "get_active")]


async def test_truncated_json_on_a_listing_page_is_retried(hostile_server: HostileServer) -> None:
    hostile_server.on("list_active", truncated_json(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        numbers = await client.active_numbers.list().collect()
    assert [n.phone_number for n in numbers] == [PHONE]
    assert hostile_server.api_calls() == [("GET", "list_active"), ("GET", "list_active")]


async def test_connection_dropped_mid_body_on_a_read_is_retried(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", cut_mid_body(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.active_numbers.get(PHONE)
    assert number.phone_number == PHONE
    assert hostile_server.api_calls() == [("GET", "get_active"), ("GET", "get_active")]


async def test_truncated_reconcile_get_after_a_lost_rent_is_retried(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent", reset(), times=1)  # rented, then the response is lost
    hostile_server.on("get_active", truncated_json(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    assert hostile_server.rented == {PHONE}
    assert hostile_server.api_calls() == [
        ("POST", "rent"),  # processed, connection dropped
        ("POST", "rent"),  # 404: no longer available
        ("GET", "get_active"),  # truncated
        ("GET", "get_active"),  # owned: the first rent went through
    ]


async def test_reconcile_get_dropped_mid_body_after_a_lost_rent_is_retried(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent", reset(), times=1)
    hostile_server.on("get_active", cut_mid_body(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    assert hostile_server.api_calls() == [
        ("POST", "rent"),
        ("POST", "rent"),
        ("GET", "get_active"),
        ("GET", "get_active"),
    ]


async def test_truncated_json_on_a_processed_rent_is_reconciled(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent", truncated_json(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    # Processed, so the body is no evidence either way: one GET settles it, no second rent.
    assert hostile_server.api_calls() == [("POST", "rent"), ("GET", "get_active")]


async def test_truncated_json_on_a_processed_rent_any_is_ambiguous(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent_any", truncated_json(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError):
            await client.available_numbers.rent_any("US", "LOCAL")
    assert hostile_server.api_calls() == [("POST", "rent_any")]
