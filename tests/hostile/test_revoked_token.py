"""A bearer token revoked before it expires: 401 without ``error="expired"``.

The client drops the cached token, fetches a new one once (single-flight) and replays the
call once; a second 401 is an ``AuthenticationError``.
"""

from __future__ import annotations

import asyncio

import pytest

from numbers_async import AuthenticationError, RetryPolicy

from .server import PHONE, HostileServer, unauthorized

QUICK = RetryPolicy(backoff=0.01, max_backoff=0.02)


def sent(server: HostileServer) -> list[tuple[str, str | None]]:
    """(route, bearer token) of every request."""
    return [(r.route, r.bearer) for r in server.received]


async def test_revoked_token_is_refetched_once_and_the_call_replayed(
    hostile_server: HostileServer,
) -> None:
    async with hostile_server.client(retry=QUICK) as client:
        await client.callbacks.get()
        hostile_server.revoke("tok-1")
        number = await client.active_numbers.get(PHONE)
    assert number.phone_number == PHONE
    assert sent(hostile_server) == [
        ("token", None),
        ("get_callbacks", "tok-1"),
        ("get_active", "tok-1"),  # 401, not "expired"
        ("token", None),
        ("get_active", "tok-2"),
    ]


async def test_second_401_after_refetching_is_an_authentication_error(
    hostile_server: HostileServer,
) -> None:
    hostile_server.revoke_every_token = True
    async with hostile_server.client(retry=QUICK) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.active_numbers.get(PHONE)
    assert caught.value.status == 401
    assert sent(hostile_server) == [
        ("token", None),
        ("get_active", "tok-1"),
        ("token", None),
        ("get_active", "tok-2"),
    ]


async def test_concurrent_calls_on_a_revoked_token_share_one_refetch(
    hostile_server: HostileServer,
) -> None:
    async with hostile_server.client(retry=QUICK) as client:
        await client.callbacks.get()
        hostile_server.revoke("tok-1")
        numbers = await asyncio.gather(*(client.active_numbers.get(PHONE) for _ in range(5)))
    assert [n.phone_number for n in numbers] == [PHONE] * 5
    assert hostile_server.routes().count("token") == 2
    replays = [r.bearer for r in hostile_server.requests_for("get_active") if r.bearer == "tok-2"]
    assert len(replays) == 5


async def test_expired_token_is_refreshed_and_the_call_replayed(
    hostile_server: HostileServer,
) -> None:
    expired = unauthorized('Bearer error="invalid_token", error_description="token expired"')
    hostile_server.on("get_active", expired, times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.active_numbers.get(PHONE)
    assert number.phone_number == PHONE
    assert sent(hostile_server) == [
        ("token", None),
        ("get_active", "tok-1"),
        ("token", None),
        ("get_active", "tok-2"),
    ]
