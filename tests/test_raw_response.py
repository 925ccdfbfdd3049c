"""``client.with_raw_response``: every operation's result with its answer; quotable errors.

Against the fake server, which answers every request with its own ``X-Request-Id`` and
records it (``RecordedRequest.request_id``): the id a result or an error shows must be the
one of the answer that gave it.
"""

from __future__ import annotations

import copy
import pickle
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from numbers_async import (
    ActiveNumber,
    AddressValidation,
    AmbiguousOutcomeError,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    EmergencyAddress,
    NotFoundError,
    NumbersClient,
    Page,
    RawActiveNumbersPager,
    RawResponse,
    RetryPolicy,
    ServerError,
    TransportError,
)
from numbers_async.testing import FakeNumbersServer, Fault
from numbers_async.testing._fake import RecordedRequest

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)
ADDRESS = EmergencyAddress(
    street_number="3500", street_info="Lenox Rd NE", city="Atlanta", state="GA", postal_code="30326"
)
HMAC = "h" * 40

Call = Callable[[NumbersClient, str, str], Awaitable[RawResponse[Any]]]

#: Every operation with a raw call, the route it sends, and what its result must be.
#: Each takes the client, an available number and an owned US voice number.
OPERATIONS: dict[str, tuple[Call, str, type | None]] = {
    "available_regions.list": (
        lambda c, free, owned: c.with_raw_response.available_regions.list(),
        "list_regions",
        list,
    ),
    "available_numbers.search": (
        lambda c, free, owned: c.with_raw_response.available_numbers.search("US", "LOCAL"),
        "search_available",
        list,
    ),
    "available_numbers.get": (
        lambda c, free, owned: c.with_raw_response.available_numbers.get(free),
        "get_available",
        AvailableNumber,
    ),
    "available_numbers.rent": (
        lambda c, free, owned: c.with_raw_response.available_numbers.rent(free),
        "rent",
        ActiveNumber,
    ),
    "available_numbers.rent_any": (
        lambda c, free, owned: c.with_raw_response.available_numbers.rent_any("US", "LOCAL"),
        "rent_any",
        ActiveNumber,
    ),
    "active_numbers.get": (
        lambda c, free, owned: c.with_raw_response.active_numbers.get(owned),
        "get_active",
        ActiveNumber,
    ),
    "active_numbers.update": (
        lambda c, free, owned: c.with_raw_response.active_numbers.update(owned, display_name="x"),
        "update_active",
        ActiveNumber,
    ),
    "active_numbers.release": (
        lambda c, free, owned: c.with_raw_response.active_numbers.release(owned),
        "release",
        ActiveNumber,
    ),
    "callbacks.get": (
        lambda c, free, owned: c.with_raw_response.callbacks.get(),
        "get_callbacks",
        CallbackConfiguration,
    ),
    "callbacks.update": (
        lambda c, free, owned: c.with_raw_response.callbacks.update(HMAC),
        "update_callbacks",
        CallbackConfiguration,
    ),
    "emergency_addresses.validate": (
        lambda c, free, owned: c.with_raw_response.emergency_addresses.validate(
            owned, ADDRESS, display_name="HQ"
        ),
        "validate_emergency_address",
        AddressValidation,
    ),
    "emergency_addresses.provision": (
        lambda c, free, owned: c.with_raw_response.emergency_addresses.provision(
            owned, ADDRESS, display_name="HQ"
        ),
        "provision_emergency_address",
        EmergencyAddress,
    ),
    "emergency_addresses.get": (
        lambda c, free, owned: c.with_raw_response.emergency_addresses.get(owned),
        "get_emergency_address",
        EmergencyAddress,
    ),
    "emergency_addresses.deprovision": (
        lambda c, free, owned: c.with_raw_response.emergency_addresses.deprovision(owned),
        "deprovision_emergency_address",
        None,
    ),
}


def _last(fake: FakeNumbersServer, route: str) -> RecordedRequest:
    return fake.requests_for(route)[-1]


def _free(fake: FakeNumbersServer) -> str:
    phone, *_ = fake.add_available_numbers(1)
    return phone


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_every_operation_returns_its_result_with_its_answer(
    fake: FakeNumbersServer, operation: str
) -> None:
    call, route, result_type = OPERATIONS[operation]
    free = _free(fake)
    (owned,) = fake.add_active_numbers(1)
    async with fake.client() as client:
        if operation.startswith("emergency_addresses.") and operation not in (
            "emergency_addresses.validate",
            "emergency_addresses.provision",
        ):
            await client.emergency_addresses.provision(owned, ADDRESS, display_name="HQ")
        started = time.monotonic()
        raw = await call(client, free, owned)
        took = time.monotonic() - started

    sent = _last(fake, route)
    assert (raw.status_code, raw.operation, raw.retries) == (200, operation, 0)
    assert raw.request_id == sent.request_id != ""
    assert raw.headers["X-REQUEST-ID"] == raw.headers["x-request-id"] == sent.request_id
    assert raw.headers["content-type"].startswith("application/json")
    assert 0 < raw.elapsed <= took  # the call's own time, measured around it
    if result_type is None:
        assert raw.parsed is None
    else:
        assert isinstance(raw.parsed, result_type)


async def test_a_raw_result_is_the_plain_result(fake: FakeNumbersServer) -> None:
    (owned,) = fake.add_active_numbers(1)
    async with fake.client() as client:
        plain = await client.active_numbers.get(owned)
        raw = await client.with_raw_response.active_numbers.get(owned)
        regions = await client.with_raw_response.available_regions.list(types=["LOCAL"])
    assert raw.parsed == plain
    assert all(isinstance(region, AvailableRegion) for region in regions.parsed)


async def test_retries_and_the_answer_are_those_of_the_attempt_that_succeeded(
    fake: FakeNumbersServer,
) -> None:
    fake.inject(Fault.status(503), route="get_callbacks", times=2)
    async with fake.client(retry=QUICK) as client:
        raw = await client.with_raw_response.callbacks.get()
    attempts = fake.requests_for("get_callbacks")
    assert [r.status for r in attempts] == [503, 503, 200]
    assert raw.retries == 2
    assert raw.request_id == attempts[-1].request_id


async def test_a_replay_after_an_expired_token_is_not_a_retry(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.callbacks.get()
        fake.expire_tokens()
        raw = await client.with_raw_response.callbacks.get()
    assert [r.status for r in fake.requests_for("get_callbacks")] == [200, 401, 200]
    assert raw.retries == 0
    assert raw.request_id == _last(fake, "get_callbacks").request_id


async def test_a_rent_settled_by_a_check_shows_the_check_s_answer(fake: FakeNumbersServer) -> None:
    # The rent went through but its answer was lost (reset after the server acted); the
    # retry is refused (no longer available), and GET activeNumbers/{phone} settles it.
    free = _free(fake)
    fake.inject(Fault.reset_after(), route="rent")
    async with fake.client(retry=QUICK) as client:
        raw = await client.with_raw_response.available_numbers.rent(free)
    check = _last(fake, "get_active")
    assert raw.parsed.phone_number == free
    assert (raw.operation, raw.status_code, raw.retries) == ("available_numbers.rent", 200, 1)
    assert raw.request_id == check.request_id


async def test_a_release_done_by_a_lost_attempt_shows_the_retry_s_answer(
    fake: FakeNumbersServer,
) -> None:
    (owned,) = fake.add_active_numbers(1)
    fake.inject(Fault.reset_after(), route="release")
    async with fake.client(retry=QUICK) as client:
        raw = await client.with_raw_response.active_numbers.release(owned)
    retry = _last(fake, "release")
    assert raw.parsed.phone_number == owned
    assert (raw.status_code, raw.retries, raw.request_id) == (404, 1, retry.request_id)


async def test_each_page_of_a_raw_listing_carries_its_answer(fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(5)
    async with fake.client() as client:
        pager = client.with_raw_response.active_numbers.list(page_size=2, max_items=5)
        assert isinstance(pager, RawActiveNumbersPager)
        assert repr(pager) == "RawActiveNumbersPager(page_token=None, max_items=5)"
        pages = [raw async for raw in pager]
        again = [raw async for raw in pager.pages()]  # each iteration starts again
    sent = fake.requests_for("list_active")
    assert [len(raw.parsed.items) for raw in pages] == [2, 2, 1]
    assert all(isinstance(raw.parsed, Page) for raw in pages)
    assert [raw.request_id for raw in pages + again] == [r.request_id for r in sent]
    assert {raw.operation for raw in pages} == {"active_numbers.list"}


async def test_a_trimmed_last_page_keeps_its_answer(fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(4)
    async with fake.client() as client:
        pages = [raw async for raw in client.with_raw_response.active_numbers.list(
            page_size=3, max_items=4
        )]  # fmt: skip
    sent = fake.requests_for("list_active")
    assert [len(raw.parsed.items) for raw in pages] == [3, 1]  # the second page cut to one
    assert [raw.request_id for raw in pages] == [r.request_id for r in sent]
    assert pages[1].parsed.next_page_token is None or isinstance(
        pages[1].parsed.next_page_token, str
    )


async def test_a_raw_listing_closed_early_stops_fetching(fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(9)
    async with fake.client() as client:
        pages = client.with_raw_response.active_numbers.list(page_size=3).pages()
        first = await pages.__anext__()
        await pages.aclose()
    assert first.request_id == fake.requests_for("list_active")[0].request_id
    assert len(fake.requests_for("list_active")) <= 2  # at most the page read ahead


async def test_raw_calls_check_their_arguments_like_the_plain_ones(client: NumbersClient) -> None:
    from numbers_async import InvalidInputError

    with pytest.raises(InvalidInputError, match="phone_number"):
        await client.with_raw_response.active_numbers.get("12025550134")
    with pytest.raises(InvalidInputError, match="page_size"):
        client.with_raw_response.active_numbers.list(page_size=0)


async def test_a_view_s_raw_calls_run_with_the_view_s_settings(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(503), route="get_callbacks")
    async with fake.client(retry=QUICK) as client:
        once = client.with_options(retry=RetryPolicy(attempts=1))
        with pytest.raises(ServerError):
            await once.with_raw_response.callbacks.get()
        raw = await client.with_raw_response.callbacks.get()
    assert raw.retries == 0


def test_a_raw_response_shows_its_answer_and_compares_by_value() -> None:
    from numbers_async._headers import Headers

    raw = RawResponse(
        parsed=1,
        status_code=200,
        headers=Headers({"X-Request-Id": "abc"}),
        operation="callbacks.get",
        elapsed=0.5,
        retries=0,
    )
    assert raw.request_id == "abc"
    assert repr(raw) == (
        "RawResponse(parsed=1, status_code=200, operation='callbacks.get', elapsed=0.5, retries=0)"
    )
    assert (
        RawResponse(
            parsed=1, status_code=200, headers={}, operation="x", elapsed=0, retries=0
        ).request_id
        is None
    )


# --- errors that can be quoted -----------------------------------------------------------------


async def test_an_api_error_names_the_call_and_its_request_id(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        with pytest.raises(NotFoundError) as caught:
            await client.active_numbers.get("+12025550100")
    error = caught.value
    sent = _last(fake, "get_active")
    assert error.request_id == sent.request_id
    assert error.headers["X-Request-Id"] == error.headers["x-request-id"] == sent.request_id
    assert str(error) == (
        f"active_numbers.get: GET /v1/projects/{fake.project_id}/activeNumbers/+12025550100: "
        f"HTTP 404 NOT_FOUND: Number +12025550100 not found (request id {sent.request_id})"
    )


def test_an_api_error_without_a_call_or_an_id_shows_only_what_it_has() -> None:
    assert str(NotFoundError(404, status_text="NOT_FOUND", message="gone")) == (
        "HTTP 404 NOT_FOUND: gone"
    )
    assert str(ServerError(503, headers={"X-Request-Id": "r1"})) == "HTTP 503 (request id r1)"
    assert NotFoundError(404).request_id is None


async def test_a_transport_error_names_the_call(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.reset_before(), route="get_callbacks", times=None)
    async with fake.client(retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(TransportError) as caught:
            await client.callbacks.get()
    error = caught.value
    path = f"/v1/projects/{fake.project_id}/callbackConfiguration"
    assert (error.operation, error.method, error.path) == ("callbacks.get", "GET", path)
    assert str(error).startswith(f"callbacks.get: GET {path}: ")


async def test_an_ambiguous_outcome_names_the_call_and_its_last_request_id(
    fake: FakeNumbersServer,
) -> None:
    fake.inject(Fault.status(503), route="rent_any")
    async with fake.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent_any("US", "LOCAL")
    error = caught.value
    sent = _last(fake, "rent_any")
    path = f"/v1/projects/{fake.project_id}/availableNumbers:rentAny"
    assert (error.method, error.path, error.request_id) == ("POST", path, sent.request_id)
    assert str(error).startswith(f"available_numbers.rent_any: POST {path}: ")
    assert str(error).endswith(f" (request id {sent.request_id})")


@pytest.mark.parametrize("how", [pickle.dumps, copy.copy, copy.deepcopy])
async def test_quotable_errors_keep_their_form_through_copies(
    fake: FakeNumbersServer, how: Callable[[Any], Any]
) -> None:
    fake.inject(Fault.reset_before(), route="get_callbacks", times=None)
    async with fake.client(retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(NotFoundError) as not_found:
            await client.active_numbers.get("+12025550100")
        with pytest.raises(TransportError) as transport:
            await client.callbacks.get()
    for error in (not_found.value, transport.value):
        twin = pickle.loads(how(error)) if how is pickle.dumps else how(error)  # noqa: S301
        assert str(twin) == str(error)
        assert twin.operation == error.operation
    assert pickle.loads(pickle.dumps(not_found.value)).request_id == not_found.value.request_id  # noqa: S301


async def test_pages_pair_with_their_answers_when_the_next_page_is_already_in() -> None:
    # A transport that answers at once: the page read ahead has arrived before the
    # current one is handed over, and each page must still carry its own answer.
    import json

    from numbers_async import NumbersClient
    from numbers_async.testing import MockTransport

    def answer(method: str, url: str, headers: Any, body: bytes | None) -> Any:
        token = url.partition("pageToken=")[2] or "0"
        following = {"0": "1", "1": "2", "2": ""}[token]
        page = {
            "activeNumbers": [{"phoneNumber": f"+1202555010{token}"}],
            "nextPageToken": following,
            "totalSize": 3,
        }
        headers = {"Content-Type": "application/json", "X-Request-Id": f"page-{token}"}
        return 200, headers, json.dumps(page)

    async with NumbersClient(
        "p", "k", "s", auth="basic", transport=MockTransport(answer)
    ) as client:
        pages = [raw async for raw in client.with_raw_response.active_numbers.list()]
    assert [(raw.request_id, raw.parsed.items[0].phone_number) for raw in pages] == [
        ("page-0", "+12025550100"),
        ("page-1", "+12025550101"),
        ("page-2", "+12025550102"),
    ]
