"""``client.request`` on a hostile server: an answer lost after the work was done.

A createNumberOrder the server processed and then lost the answer to: sent with
``idempotent=False`` it is never sent again (``AmbiguousOutcomeError``); the same request
said ``idempotent=True`` is retried, and the server creates a second order, as its
caller accepted.
"""

from __future__ import annotations

import pytest

from numbers_async import AmbiguousOutcomeError, DecodeError, RetryPolicy

from .server import HostileServer, number_order, reset, truncated_json

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)
CREATE = "numberOrders:createNumberOrder"
DE_LOCAL = {"regionCode": "DE", "numberType": "LOCAL"}


async def test_a_lost_answer_to_a_non_idempotent_post_is_ambiguous(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("create_number_order", reset(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError):
            await client.request("POST", CREATE, json=DE_LOCAL, idempotent=False)
    assert hostile_server.orders == ["order-1"]  # processed once, never sent again


async def test_a_truncated_answer_to_a_non_idempotent_post_is_ambiguous(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("create_number_order", truncated_json(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.request("POST", CREATE, json=DE_LOCAL, idempotent=False)
    assert isinstance(caught.value.__cause__, DecodeError)
    assert hostile_server.orders == ["order-1"]


async def test_the_same_post_said_idempotent_is_retried(hostile_server: HostileServer) -> None:
    hostile_server.on("create_number_order", reset(), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        raw = await client.request("POST", CREATE, json=DE_LOCAL, idempotent=True)
    assert hostile_server.orders == ["order-1", "order-2"]  # the caller said that is fine
    assert raw.parsed == number_order("order-2")
    assert raw.retries == 1
