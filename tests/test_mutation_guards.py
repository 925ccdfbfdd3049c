"""Fallbacks and caps the rest of the suite never reaches: a token refresh that fails early,
the longest backoff, and a listing left while its next page is on the way."""

from __future__ import annotations

import asyncio
import functools

import pytest

from numbers_async import (
    ActiveNumber,
    ApiError,
    AuthenticationError,
    CallbackConfiguration,
    ClientClosedError,
    NumbersClient,
    RetryEvent,
    RetryPolicy,
    Timeouts,
)
from numbers_async import _operations as ops
from numbers_async._call import CallOptions
from numbers_async._responses import decode
from numbers_async._retrying import Deferred
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import bare_sender, eventually


async def test_an_early_refresh_that_fails_keeps_the_still_valid_token(
    fake: FakeNumbersServer,
) -> None:
    now = 0.0
    sender = bare_sender(fake, max_concurrency=4, clock=lambda: now)
    options = CallOptions(RetryPolicy(), Timeouts())
    read = functools.partial(decode, cls=CallbackConfiguration)
    try:
        await sender.send(ops.get_callbacks(), options, read, None)
        # Past the early-refresh point (a minute before the hour's token expires) but
        # before expiry; the token endpoint refuses the refresh.
        now = fake.token_lifetime - 30
        fake.inject(Fault.status(400), route="token")
        await sender.send(ops.get_callbacks(), options, read, None)
    finally:
        await sender.aclose()
    first, second = (r.headers["Authorization"] for r in fake.requests_for("get_callbacks"))
    assert second == first
    assert fake.token_requests == 2  # the refresh was tried


async def test_no_retry_waits_longer_than_max_backoff(fake: FakeNumbersServer) -> None:
    (phone,) = fake.add_active_numbers(1)
    events: list[RetryEvent] = []
    policy = RetryPolicy(attempts=4, backoff=10, max_backoff=0.05, on_retry=events.append)
    fake.inject(Fault.status(503), route="get_active", times=3)
    async with fake.client(retry=policy) as client:
        number = await asyncio.wait_for(client.active_numbers.get(phone), timeout=5)
    assert number.phone_number == phone
    assert [event.attempt for event in events] == [1, 2, 3]
    assert all(0 <= event.delay <= 0.05 for event in events)


async def test_leaving_a_listing_early_cancels_the_page_being_fetched(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(30)
    pages = client.active_numbers.list(page_size=10).pages()
    await anext(pages)
    # The next page's fetch was scheduled, not yet sent: the server holds it for a while.
    fake.inject(Fault.latency(10), route="list_active")
    await eventually(lambda: len(fake.requests_for("list_active")) == 2)
    await asyncio.wait_for(pages.aclose(), timeout=2)  # not waiting for the slow page
    prefetch = fake.requests_for("list_active")[1]
    assert prefetch.status == 0  # still unanswered: the client gave up on it


async def test_a_401_without_www_authenticate_is_an_authentication_error(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(401), times=None)  # no WWW-Authenticate header at all
    with pytest.raises(AuthenticationError) as caught:
        await client.callbacks.get()
    assert caught.value.status == 401


async def test_the_token_request_is_a_form_post_with_the_key_pair(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    await client.callbacks.get()
    (token_request,) = fake.requests_for("token")
    assert token_request.method == "POST"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.body == b"grant_type=client_credentials"


async def test_a_closed_client_refuses_calls(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.callbacks.get()
    assert client.closed
    with pytest.raises(RuntimeError, match="this NumbersClient is closed"):
        await client.callbacks.get()
    assert len(fake.requests_for("get_callbacks")) == 1


async def test_a_call_made_while_the_client_closes_is_refused_and_sends_nothing(
    fake: FakeNumbersServer,
) -> None:
    # aclose() lets calls in flight finish; one made meanwhile must not start. The
    # 0.5 s latency only keeps the first call in flight across a few loop passes.
    fake.inject(Fault.latency(0.5), route="get_callbacks")
    client = fake.client()
    in_flight = asyncio.create_task(client.callbacks.get())
    await asyncio.sleep(0)  # it has started: counted in flight
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)  # aclose() refuses new calls and waits for that one
    with pytest.raises(ClientClosedError, match="nothing was sent"):
        await client.available_regions.list()
    await in_flight
    await closing
    assert fake.requests_for("list_regions") == []


async def test_only_requests_with_a_body_declare_json_content(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    (phone,) = fake.add_active_numbers(1)
    await client.active_numbers.get(phone)
    await client.active_numbers.update(phone, display_name="Support")
    (read,) = fake.requests_for("get_active")
    (patch,) = fake.requests_for("update_active")
    assert "Content-Type" not in read.headers
    assert patch.headers["Content-Type"] == "application/json"
    assert read.headers["Accept"] == patch.headers["Accept"] == "application/json"


async def test_a_3xx_answer_is_an_error_not_a_success(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(300), route="get_callbacks")
    with pytest.raises(ApiError) as caught:
        await client.callbacks.get()
    assert caught.value.status == 300


async def test_a_token_expired_again_after_the_replay_is_not_replayed_forever(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.expire_token(), route="get_callbacks", times=None)
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(client.callbacks.get(), 10)
    assert len(fake.requests_for("get_callbacks")) == 2  # the call and one replay


async def test_a_decode_finished_after_an_await_is_finished_on_the_done_exit_too(
    fake: FakeNumbersServer,
) -> None:
    # A listing page's decode finishes after an await (Deferred); no other operation's
    # does today, so this sends a release with such a decode: its lost attempt is
    # settled as done (the retry says "not owned") and that result is finished as well.
    (phone,) = fake.add_active_numbers(1)
    finished: list[str] = []

    async def finish(status: int, body: bytes) -> ActiveNumber:
        await asyncio.sleep(0)
        number = decode(status, body, ActiveNumber)
        finished.append(number.phone_number)
        return number

    def later(status: int, body: bytes) -> ActiveNumber | Deferred[ActiveNumber]:
        return Deferred(functools.partial(finish, status, body))

    sender = bare_sender(fake, max_concurrency=4)
    options = CallOptions(RetryPolicy(backoff=0.001, max_backoff=0.002), Timeouts())
    fake.inject(Fault.status_after(502), route="release", times=1)
    try:
        released = await sender.send(ops.release(phone), options, later, None)
    finally:
        await sender.aclose()
    assert released == ActiveNumber(phone_number=phone)
    assert finished == [phone]
    assert [r.status for r in fake.requests_for("release")] == [502, 404]
