"""Page tokens seen before in the same listing end it with an error.

The server's chain of tokens is bounded (``page_chain``'s ``limit``), so a client that
never notices a cycle still stops, with duplicated numbers instead of an error.
"""

from __future__ import annotations

import pytest

from numbers_async import NumbersClient, NumbersError

from .server import HostileServer, page_chain


def tokens_sent(server: HostileServer) -> list[str | None]:
    return [r.page_token for r in server.requests_for("list_active")]


async def test_tokens_cycling_a_b_a_end_the_listing_with_an_error(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("list_active", page_chain({None: "A", "A": "B", "B": "A"}))
    async with hostile_server.client() as client:
        with pytest.raises(NumbersError) as caught:
            await client.active_numbers.list().collect()
    assert "A" in str(caught.value)
    assert tokens_sent(hostile_server) == [None, "A", "B"]


async def test_tokens_cycling_back_to_the_first_page_end_the_listing_with_an_error(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("list_active", page_chain({None: "A", "A": "B", "B": "C", "C": "B"}))
    seen: list[str | None] = []

    async def walk(client: NumbersClient) -> None:
        async for page in client.active_numbers.list().pages():
            seen.append(page.next_page_token)

    async with hostile_server.client() as client:
        with pytest.raises(NumbersError):
            await walk(client)
    assert seen == ["A", "B", "C"]
    assert tokens_sent(hostile_server) == [None, "A", "B", "C"]


async def test_token_repeating_the_one_sent_ends_the_listing_with_an_error(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("list_active", page_chain({None: "A", "A": "A"}))
    async with hostile_server.client() as client:
        with pytest.raises(NumbersError):
            await client.active_numbers.list().collect()
    assert tokens_sent(hostile_server) == [None, "A"]


async def test_chain_of_distinct_tokens_is_followed_to_its_end(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("list_active", page_chain({None: "A", "A": "B"}))
    async with hostile_server.client() as client:
        numbers = await client.active_numbers.list().collect()
    assert len({n.phone_number for n in numbers}) == 3
    assert tokens_sent(hostile_server) == [None, "A", "B"]
