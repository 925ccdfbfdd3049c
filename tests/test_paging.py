"""Paging through active numbers: every item once, resume, max_items, bounded requests."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from numbers_async import NumbersClient, Page
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

    async def stuck(token: str | None, deadline_at: float | None) -> Page:
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
