"""A listing asks for the page after next before decoding a page, and cleans up after itself.

While the caller waits for page 2, the request for page 3 goes out as soon as page 2's
answer is read, before page 2's numbers are decoded. These tests watch that through the
order in which the server receives the requests, never through timing: page 2's first
answer does not decode, so it is asked for again, and whether page 3's request arrives
before that retry or after it says whether it was sent before page 2 was decoded.

Why the order is not a race: page 3's request is written to the socket in the event loop
turn in which page 2's decode fails, and the retry can only be written after its backoff
timer fires, in a later turn; the server (in the same loop, over loopback) reads requests
in the order their bytes arrive, on connections in the same keep-alive state.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from numbers_async import ApiError, DecodeError, NumbersClient, RetryPolicy
from numbers_async.models import ActiveNumber

from .server import Hit, HostileServer, active_number

#: One attempt: a page that does not decode ends the listing.
ONE_ATTEMPT = RetryPolicy(attempts=1)
#: A page that does not decode is asked for again, at once.
RETRY = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.001)
#: How long a test waits for something the client under test is expected to do; reached
#: only when the client is wrong, so generous for a loaded 2-core machine.
PATIENCE = 10.0

Answer = tuple[list[Any], str] | int  # (numbers, next page token), or an error status


def number(index: int) -> str:
    return f"+1202555{index:04d}"


def good(first: int, count: int, following: str) -> Answer:
    return [active_number(number(first + i)) for i in range(count)], following


def bad(following: str) -> Answer:
    # The second number's phoneNumber is not a string: decoding the page fails there.
    return [active_number(number(9000)), {**active_number(number(9001)), "phoneNumber": 5}], (
        following
    )


class Pages:
    """The listing's pages: each token's answers in turn (the last repeated).

    ``held`` tokens are answered only once ``release`` is set; ``answered`` is set for a
    token once its answer is made. A token's answers after its first wait (boundedly) for
    the token ``later[token]`` to be answered. The server logs every request on arrival.
    """

    def __init__(
        self,
        plan: dict[str | None, list[Answer]],
        *,
        held: tuple[str, ...] = (),
        later: dict[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.held = held
        self.later = later or {}
        self.asked: dict[str | None, int] = dict.fromkeys(plan, 0)
        self.release = asyncio.Event()
        self.arrived: dict[str | None, asyncio.Event] = {t: asyncio.Event() for t in plan}
        self.answered: dict[str | None, asyncio.Event] = {t: asyncio.Event() for t in plan}

    async def __call__(self, hit: Hit) -> web.StreamResponse:
        token = hit.received.page_token
        self.arrived[token].set()
        if token in self.held:
            await self.release.wait()
        self.asked[token] += 1
        if self.asked[token] > 1 and token in self.later:
            # Reached at once when the client is right; the bound is for a wrong client.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.answered[self.later[token]].wait(), PATIENCE)
        answers = self.plan[token]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        self.answered[token].set()
        if isinstance(answer, int):
            error = {"code": answer, "message": "no", "status": "INVALID_ARGUMENT"}
            return web.json_response({"error": error}, status=answer)
        items, following = answer
        return web.json_response({"activeNumbers": items, "nextPageToken": following})


def tokens_sent(server: HostileServer) -> list[str | None]:
    return [r.page_token for r in server.requests_for("list_active")]


def fetches_in_flight() -> list[asyncio.Task[Any]]:
    """The client's page fetches still running (each page is one ``Sender.send`` task)."""
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Sender.send"]  # type: ignore[union-attr]


@pytest.fixture
async def reported() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the running loop's exception handler during the test (and a collection).

    "Task was destroyed but it is pending!" and "Future exception was never retrieved"
    are reported there, not as warnings, when the task or future is garbage collected.
    """
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
        gc.collect()
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert seen == []


def client(server: HostileServer, retry: RetryPolicy) -> NumbersClient:
    return server.client(retry=retry)


async def test_the_page_after_next_is_requested_before_a_page_s_numbers_are_decoded(
    hostile_server: HostileServer, reported: list[dict[str, Any]]
) -> None:
    pages = Pages(
        {None: [good(0, 2, "p2")], "p2": [bad("p3"), good(20, 2, "p3")], "p3": [good(30, 1, "")]}
    )
    hostile_server.on("list_active", pages)
    async with client(hostile_server, RETRY) as numbers_client:
        listed = [n.phone_number async for n in numbers_client.active_numbers.list()]
    assert listed == [number(i) for i in (0, 1, 20, 21, 30)]
    # Page 3 was asked for while page 2's first answer was being decoded (it failed):
    # before page 2 was asked for again, and once (its answer was kept for the caller).
    assert tokens_sent(hostile_server) == [None, "p2", "p3", "p2"]


async def test_an_error_on_the_page_asked_for_early_is_raised_when_the_caller_reaches_it(
    hostile_server: HostileServer, reported: list[dict[str, Any]]
) -> None:
    pages = Pages(
        {None: [good(0, 2, "p2")], "p2": [bad("p3"), good(20, 2, "p3")], "p3": [400]},
        later={"p2": "p3"},  # page 2's retry is answered after page 3's error
    )
    hostile_server.on("list_active", pages)
    seen: list[str] = []

    async def walk(numbers_client: NumbersClient) -> None:
        async for item in numbers_client.active_numbers.list():
            seen.append(item.phone_number)

    async with client(hostile_server, RETRY) as numbers_client:
        with pytest.raises(ApiError) as caught:
            await walk(numbers_client)
    # Page 3 failed while the caller still waited for page 2: every number of page 2
    # reached the caller first, and the error was raised where page 3 would begin.
    assert seen == [number(i) for i in (0, 1, 20, 21)]
    assert caught.value.status == 400
    assert tokens_sent(hostile_server) == [None, "p2", "p3", "p2"]


async def test_a_page_that_does_not_decode_names_the_path_and_the_early_request_is_cancelled(
    hostile_server: HostileServer, reported: list[dict[str, Any]]
) -> None:
    pages = Pages(
        {None: [good(0, 2, "p2")], "p2": [bad("p3")], "p3": [good(30, 1, "")]}, held=("p3",)
    )
    hostile_server.on("list_active", pages)
    try:
        async with client(hostile_server, ONE_ATTEMPT) as numbers_client:
            with pytest.raises(DecodeError, match=r"activeNumbers\[1\]\.phoneNumber") as caught:
                await numbers_client.active_numbers.list().collect()
            # Page 3's request (sent before page 2 was decoded) was cancelled and awaited.
            assert fetches_in_flight() == []
    finally:
        pages.release.set()
    assert caught.value.status == 200


async def test_leaving_a_listing_early_cancels_the_page_in_flight(
    hostile_server: HostileServer, reported: list[dict[str, Any]]
) -> None:
    pages = Pages(
        {None: [good(0, 2, "p2")], "p2": [good(20, 2, "p3")], "p3": [good(30, 1, "")]}, held=("p3",)
    )
    hostile_server.on("list_active", pages)
    try:
        async with client(hostile_server, ONE_ATTEMPT) as numbers_client:
            listing = numbers_client.active_numbers.list().pages()
            held: list[ActiveNumber] = []
            async with contextlib.aclosing(listing):
                async for page in listing:
                    held.extend(page.items)
                    if page.next_page_token == "p3":
                        await asyncio.wait_for(pages.arrived["p3"].wait(), PATIENCE)
                        break
            assert fetches_in_flight() == []  # page 3's, cancelled and awaited
    finally:
        pages.release.set()
    assert [n.phone_number for n in held] == [number(i) for i in (0, 1, 20, 21)]
    assert tokens_sent(hostile_server) == [None, "p2", "p3"]


async def test_a_listing_s_query_is_encoded_once_and_each_page_carries_its_token(
    hostile_server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.parse

    from numbers_async import _groups, _operations

    encoded: list[object] = []

    def counting(query: Any, *args: Any, **kwargs: Any) -> str:
        encoded.append(query)
        return urllib.parse.urlencode(query, *args, **kwargs)

    for module in (_groups, _operations):  # the listing's and the requests' encoding
        monkeypatch.setattr(module, "urlencode", counting, raising=False)
    odd = "a b+c/é"  # a space, a plus, a slash and a non-ASCII letter: all encoded
    pages = Pages(
        {None: [good(0, 1, odd)], odd: [good(10, 1, "x=y&z")], "x=y&z": [good(20, 1, "")]}
    )
    hostile_server.on("list_active", pages)
    async with client(hostile_server, ONE_ATTEMPT) as numbers_client:
        listing = numbers_client.active_numbers.list(
            region_code="US", number_type="LOCAL", capabilities=["SMS"], page_size=1
        )
        listed = [n.phone_number async for n in listing]
    assert listed == [number(0), number(10), number(20)]
    assert len(encoded) == 1
    filters = [("regionCode", "US"), ("type", "LOCAL"), ("capability", "SMS"), ("pageSize", "1")]
    queries = [list(r.query) for r in hostile_server.requests_for("list_active")]
    assert [sorted(q for q in query if q[0] != "pageToken") for query in queries] == [
        sorted(filters)
    ] * 3
    assert tokens_sent(hostile_server) == [None, odd, "x=y&z"]
