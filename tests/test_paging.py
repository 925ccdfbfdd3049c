"""Paging through active numbers: every item once, resume, max_items, bounded requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import pytest

from numbers_async import (
    ActiveNumber,
    AttemptEvent,
    DecodeError,
    NumbersClient,
    Page,
    RetryPolicy,
)
from numbers_async._transport import TransportResponse
from numbers_async.testing import FakeNumbersServer, MockTransport
from numbers_async.testing._transport import MockResponse

from .conftest import eventually


@pytest.mark.parametrize("final_page_token", ["empty", "absent"])
async def test_1050_numbers_in_pages_of_100_are_each_listed_once_in_11_requests(
    final_page_token: Literal["empty", "absent"],
) -> None:
    async with FakeNumbersServer(final_page_token=final_page_token) as fake:
        owned = fake.add_active_numbers(1050)
        async with fake.client() as client:
            listed = [n.phone_number async for n in client.active_numbers.list(page_size=100)]
        assert sorted(listed) == sorted(owned)
        assert len(listed) == len(set(listed)) == 1050
        assert len(fake.requests_for("list_active")) == 11


async def test_pages_expose_tokens_and_total_size(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(25)
    pages = [page async for page in client.active_numbers.list(page_size=10).pages()]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert all(p.total_size == 25 for p in pages)
    assert pages[0].next_page_token
    assert pages[-1].next_page_token is None


async def test_a_listing_resumes_from_a_saved_page_token(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    owned = sorted(fake.add_active_numbers(30))
    pager = client.active_numbers.list(page_size=10).pages()
    first = await anext(pager)
    await pager.aclose()
    assert first.next_page_token is not None
    rest = [
        n.phone_number
        async for n in client.active_numbers.list(page_size=10, page_token=first.next_page_token)
    ]
    assert [n.phone_number for n in first.items] + rest == owned


async def test_max_items_stops_early_without_fetching_more_pages(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(50)
    listed = await client.active_numbers.list(page_size=10, max_items=15).collect()
    assert len(listed) == 15
    assert len(fake.requests_for("list_active")) == 2


async def test_max_items_at_a_page_boundary_fetches_no_extra_page(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(50)
    pages = [p async for p in client.active_numbers.list(page_size=10, max_items=20).pages()]
    assert [len(p.items) for p in pages] == [10, 10]
    assert len(fake.requests_for("list_active")) == 2


async def test_filters_apply_across_pages(client: NumbersClient, fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(12, region_code="US", number_type="LOCAL", prefix="+1555")
    fake.add_active_numbers(7, region_code="GB", number_type="MOBILE", prefix="+447700")
    gb = await client.active_numbers.list(region_code="GB", page_size=3).collect()
    assert len(gb) == 7
    assert all(n.region_code == "GB" for n in gb)


async def test_an_empty_project_lists_nothing_in_one_request(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    assert await client.active_numbers.list().collect() == []
    assert len(fake.requests_for("list_active")) == 1


async def test_every_iteration_starts_again(client: NumbersClient, fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(5)
    pager = client.active_numbers.list(page_size=2)
    assert len(await pager.collect()) == len(await pager.collect()) == 5


async def test_a_server_repeating_its_page_token_is_stopped() -> None:
    from numbers_async import ActiveNumber, ActiveNumbersPager, DecodeError

    async def stuck(token: str | None, deadline_at: float | None, ahead: object) -> Page:
        return Page(items=(ActiveNumber(phone_number="+12025550134"),), next_page_token="same")

    pager = ActiveNumbersPager(stuck, page_token=None, max_items=None)
    with pytest.raises(DecodeError, match="page token"):
        await pager.collect()


async def test_the_next_page_is_fetched_while_the_caller_holds_the_current_one(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(30)
    pages = client.active_numbers.list(page_size=10).pages()
    await anext(pages)
    await eventually(lambda: len(fake.requests_for("list_active")) == 2)  # page 2 on its way
    await pages.aclose()  # closing early cancels or collects the prefetch
    assert len(fake.requests_for("list_active")) == 2


async def test_the_next_page_is_requested_before_the_caller_finishes_the_current_one() -> None:
    def answer(method: str, url: str, headers: object, body: object) -> MockResponse:
        last = "pageToken" in url
        page = {
            "activeNumbers": [{"phoneNumber": "+12025550100" if last else "+12025550199"}],
            "nextPageToken": "" if last else "next",
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(page)

    transport = MockTransport(answer)
    async with NumbersClient("p", "key", "secret", auth="basic", transport=transport) as client:
        pages = client.active_numbers.list().pages()
        await pages.__anext__()
        requested_while_holding_the_first_page = len(transport.requests)
        await pages.aclose()
    assert requested_while_holding_the_first_page == 2


# --- the page after next is requested before a page's items are decoded ------------------------


class Pages:
    """A listing served from a MockTransport: each token's queue of answers, in order.

    ``pages[token]`` is a list of (items, next token) answers, the last one repeated;
    ``None`` is the first page's token. Every page token asked for is kept in ``asked``.
    An answer comes after ``TURNS`` turns of the event loop, as from a server: a caller
    that does not hold on to its page is waiting for the next one by then.
    """

    TURNS = 10

    def __init__(self, pages: dict[str | None, list[tuple[list[object], str]]]) -> None:
        self.pages = pages
        self.asked: list[str | None] = []

    async def __call__(self, method: str, url: str, headers: object, body: object) -> MockResponse:
        query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
        token = query.get("pageToken")
        self.asked.append(token)
        for _ in range(self.TURNS):
            await asyncio.sleep(0)
        answers = self.pages[token]
        items, next_token = answers.pop(0) if len(answers) > 1 else answers[0]
        page = {"activeNumbers": items, "nextPageToken": next_token}
        return 200, {"Content-Type": "application/json"}, json.dumps(page)


def numbers(first: int, count: int) -> list[object]:
    return [{"phoneNumber": f"+1202555{first + i:04d}"} for i in range(count)]


def listing_client(pages: Pages, **options: object) -> NumbersClient:
    transport = MockTransport(pages)
    return NumbersClient("p", "key", "secret", auth="basic", transport=transport, **options)  # type: ignore[arg-type]


ONE_ATTEMPT = RetryPolicy(attempts=1)
QUICK = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.001)
BAD_ITEM: list[object] = [{"phoneNumber": "+12025550001"}, {"phoneNumber": 5}]


async def test_the_page_after_next_is_requested_before_a_page_s_items_are_decoded() -> None:
    # Page 2 names page 3, then fails to decode: page 3 was asked for by then, because a
    # caller waiting for page 2 gets page 3's request sent before page 2's items decode.
    pages = Pages({None: [(numbers(0, 2), "p2")], "p2": [(BAD_ITEM, "p3")], "p3": [([], "")]})
    async with listing_client(pages, retry=ONE_ATTEMPT) as client:
        with pytest.raises(DecodeError, match=r"activeNumbers\[1\]\.phoneNumber"):
            await client.active_numbers.list().collect()
    assert pages.asked == [None, "p2", "p3"]


async def test_no_more_than_one_page_is_requested_ahead_of_the_caller() -> None:
    pages = Pages({None: [(numbers(0, 2), "p2")]})
    for index in range(2, 6):
        pages.pages[f"p{index}"] = [(numbers(index * 10, 2), f"p{index + 1}")]
    pages.pages["p6"] = [([], "")]
    async with listing_client(pages) as client:
        listing = client.active_numbers.list().pages()
        await anext(listing)  # page 2 was requested while page 1 arrived
        for _ in range(3 * Pages.TURNS):  # the caller holds page 1: page 2 arrives
            await asyncio.sleep(0)
        assert pages.asked == [None, "p2"]
        await anext(listing)
        for _ in range(3 * Pages.TURNS):
            await asyncio.sleep(0)
        assert pages.asked == [None, "p2", "p3"]
        rest = [page async for page in listing]
    assert len(rest) == 4
    assert pages.asked == [None, "p2", "p3", "p4", "p5", "p6"]


async def test_a_page_whose_items_do_not_decode_is_retried_and_its_next_page_kept() -> None:
    pages = Pages(
        {
            None: [(numbers(0, 2), "p2")],
            "p2": [(BAD_ITEM, "p3"), (numbers(20, 2), "p3")],
            "p3": [(numbers(30, 1), "")],
        }
    )
    async with listing_client(pages, retry=QUICK) as client:
        listed = [n.phone_number async for n in client.active_numbers.list()]
    assert listed == [f"+1202555{i:04d}" for i in (0, 1, 20, 21, 30)]
    # Page 3 was asked for once, early, and its answer used after page 2's retry.
    assert pages.asked == [None, "p2", "p3", "p2"]


async def test_a_retried_page_naming_another_next_page_is_followed_there() -> None:
    pages = Pages(
        {
            None: [(numbers(0, 1), "p2")],
            "p2": [(BAD_ITEM, "stale"), (numbers(20, 1), "p3")],
            "stale": [(numbers(90, 1), "")],
            "p3": [(numbers(30, 1), "")],
        }
    )
    async with listing_client(pages, retry=QUICK) as client:
        listed = [n.phone_number async for n in client.active_numbers.list()]
    assert listed == ["+12025550000", "+12025550020", "+12025550030"]
    assert pages.asked == [None, "p2", "stale", "p2", "p3"]  # the stale one was dropped


async def test_a_page_looping_back_is_not_requested_ahead() -> None:
    pages = Pages({None: [(numbers(0, 1), "p2")], "p2": [(numbers(20, 1), "p2")]})
    async with listing_client(pages) as client:
        with pytest.raises(DecodeError, match="already followed"):
            await client.active_numbers.list().collect()
    assert pages.asked == [None, "p2"]


async def test_a_listing_cancelled_while_a_page_decodes_ends_that_page_s_exchange(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Page 3's request goes out after page 2's answer is read and before page 2 is decoded;
    # cancelling the caller right then (as the transport is asked for page 3) cancels page
    # 2's call in its decoding. The exchange that brought page 2 is ended as cancelled (a
    # watched call logs it), not left open.
    consumer: asyncio.Task[list[ActiveNumber]] | None = None

    class Cancelling(MockTransport):
        async def request(self, method: str, url: str, *args: Any) -> TransportResponse:
            if "pageToken=p3" in url and consumer is not None:
                consumer.cancel()
            return await super().request(method, url, *args)

    pages = Pages({None: [(numbers(0, 1), "p2")], "p2": [(numbers(20, 1), "p3")]})
    pages.pages["p3"] = [([], "")]
    caplog.set_level("DEBUG", logger="numbers_async.http")  # a watched call
    transport = Cancelling(pages)
    async with NumbersClient("p", "k", "s", auth="basic", transport=transport) as client:
        consumer = asyncio.ensure_future(client.active_numbers.list().collect())
        with pytest.raises(asyncio.CancelledError):
            await consumer
    exchanges = [m for m in caplog.messages if m.startswith("active_numbers.list attempt 1: GET")]
    assert [m.split(" -> ")[1].split(" in ")[0] for m in exchanges] == [
        "200",  # page 1
        "CancelledError",  # page 2, answered, cancelled while decoding
        "CancelledError",  # page 3, cancelled while in flight
    ], caplog.messages


# --- memory: a page's numbers are freed before the next page is decoded --------------------


def _page_of(count: int, first: int, token: str | None) -> Page:
    numbers = tuple(ActiveNumber(phone_number=f"+1202555{first + i:04d}") for i in range(count))
    return Page(items=numbers, next_page_token=token)


@pytest.mark.parametrize("how", ["numbers", "pages"])
async def test_a_listing_lets_go_of_a_page_before_the_next_one_is_decoded(how: str) -> None:
    """The caller is done with page 1 and waits for page 2: by the time page 2 is decoded
    (here: built), nothing in the pager still holds page 1's numbers, so a page's numbers
    and the next page's parsed JSON are never alive together."""
    import weakref

    from numbers_async import ActiveNumbersPager

    first: list[weakref.ref[ActiveNumber]] = []
    alive_when_decoding: list[int] = []

    async def fetch(token: str | None, deadline_at: float | None, ahead: object) -> Page:
        if token is None:
            page = _page_of(3, 0, "p2")
            first.extend(weakref.ref(number) for number in page.items)
            return page
        await asyncio.sleep(0.05)  # the caller has gone through page 1 meanwhile
        alive_when_decoding.append(sum(ref() is not None for ref in first))
        return _page_of(2, 3, None)

    pager = ActiveNumbersPager(fetch, page_token=None, max_items=None)
    seen: list[str] = []
    if how == "numbers":
        async for number in pager:
            seen.append(number.phone_number)
            del number  # the caller keeps nothing
    else:
        async for page in pager.pages():
            seen.extend(number.phone_number for number in page.items)
            del page
    assert len(seen) == 5
    # Iterating numbers, the pager may still hold the last one it handed out (as a
    # caller's own loop variable does); page 1 as a whole is gone.
    assert alive_when_decoding == ([1] if how == "numbers" else [0])


def test_a_page_decoded_from_its_own_parse_takes_its_numbers_out_as_it_goes() -> None:
    from numbers_async._convert import structure
    from numbers_async._responses import decode_object

    def body() -> dict[str, Any]:
        numbers = [{"phoneNumber": f"+1202555000{i}", "regionCode": "US"} for i in range(3)]
        return {"activeNumbers": numbers, "nextPageToken": "next"}

    kept, consumed = body(), body()
    assert decode_object(200, b"", consumed, Page, consume=True) == structure(kept, Page)
    assert consumed["activeNumbers"] == [None, None, None]  # each freed once decoded
    assert kept == body()  # decoding data it was given changes nothing in it


@pytest.mark.parametrize("consume", [False, True])
def test_a_bad_number_on_a_page_is_named_by_its_index(consume: bool) -> None:
    from numbers_async._responses import decode_object

    same = {"phoneNumber": "+12025550000"}
    numbers: list[Any] = [same, {"phoneNumber": "+12025550001"}, same, {"phoneNumber": 5}]
    data = {"activeNumbers": numbers}
    with pytest.raises(Exception, match=r"activeNumbers\[3\]\.phoneNumber"):
        decode_object(200, b"{}", data, Page, consume=consume)


async def test_a_watched_listing_cancelled_while_a_page_waits_to_be_decoded_is_cancelled() -> None:
    """Page 1 has arrived and its items wait one loop turn (page 2's request goes out
    first); the caller is cancelled in that turn: it sees its ``CancelledError``, and page
    1's exchange is abandoned (no ``response`` event for it), whatever watches the call."""
    consumer: asyncio.Task[Any] | None = None
    responses: list[str] = []

    def answer(method: str, url: str, headers: object, body: object) -> MockResponse:
        if "pageToken" in url:  # page 2's request: page 1 is waiting to be decoded
            assert consumer is not None
            consumer.cancel()
        page = {"activeNumbers": [{"phoneNumber": "+12025550199"}], "nextPageToken": "next"}
        return 200, {"Content-Type": "application/json"}, json.dumps(page)

    async def response(event: AttemptEvent) -> None:
        responses.append("page 2" if "pageToken" in event.url else "page 1")

    transport = MockTransport(answer)
    async with NumbersClient(
        "p",
        "key",
        "secret",
        auth="basic",
        transport=transport,
        event_hooks={"response": [response]},
    ) as client:
        consumer = asyncio.create_task(client.active_numbers.list().collect())
        with pytest.raises(asyncio.CancelledError):
            await consumer
    assert len(transport.requests) == 2  # page 1, then page 2
    assert "page 1" not in responses  # its exchange was abandoned before its hook ran
