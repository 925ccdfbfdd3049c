"""The reliability matrix (docs/guides/configuration.md#retries): faults injected in the fake
server, nothing mocked.

Each test names the fault and the behaviour. Delays are checked through the ``on_retry``
hook and the fake's arrival times, as lower bounds only: a busy machine makes waits longer,
never shorter.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
import attrs
import pytest

from numbers_async import (
    AmbiguousOutcomeError,
    DecodeError,
    NotFoundError,
    NumbersClient,
    NumbersTimeoutError,
    PermissionDeniedError,
    RateLimitedError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    SmsConfiguration,
    Timeouts,
    TransportError,
)
from numbers_async.testing import FakeNumbersServer, Fault

from .conftest import eventually

QUICK = RetryPolicy(backoff=0.01, max_backoff=0.05)


class Retries:
    """Collects RetryEvents through the public hook."""

    def __init__(self) -> None:
        self.events: list[RetryEvent] = []

    def policy(self) -> RetryPolicy:
        return RetryPolicy(backoff=0.01, max_backoff=0.05, on_retry=self.events.append)


@pytest.fixture
async def client(fake: FakeNumbersServer) -> AsyncIterator[NumbersClient]:
    async with fake.client(retry=QUICK) as numbers_client:
        yield numbers_client


async def first_available(client: NumbersClient) -> str:
    (number,) = await client.available_numbers.search("US", "LOCAL", size=1)
    return number.phone_number


def statuses(fake: FakeNumbersServer, route: str) -> list[int]:
    return [r.status for r in fake.requests_for(route)]


# --- 429 and Retry-After ----------------------------------------------------------------


async def test_429_without_retry_after_is_retried_after_a_backoff(fake: FakeNumbersServer) -> None:
    retries = Retries()
    fake.inject(Fault.status(429), route="get_callbacks")
    async with fake.client(retry=retries.policy()) as client:
        await client.callbacks.get()
    assert statuses(fake, "get_callbacks") == [429, 200]
    (event,) = retries.events
    assert (event.operation, event.attempt, event.reason) == ("callbacks.get", 1, "HTTP 429")
    assert 0 <= event.delay <= 0.01


async def test_retry_after_in_seconds_is_honoured(fake: FakeNumbersServer) -> None:
    retries = Retries()
    fake.inject(Fault.status(429, retry_after="1"), route="get_callbacks")
    async with fake.client(retry=retries.policy()) as client:
        await client.callbacks.get()
    (event,) = retries.events
    assert event.delay == 1.0
    first, second = fake.requests_for("get_callbacks")
    assert second.at - first.at >= 0.95


async def test_retry_after_as_an_http_date_is_honoured(fake: FakeNumbersServer) -> None:
    retries = Retries()
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
    fake.inject(Fault.status(503, body="html", retry_after=when), route="get_callbacks")
    async with fake.client(retry=retries.policy()) as client:
        await client.callbacks.get()
    (event,) = retries.events
    assert 0 < event.delay <= 2.0  # the date has one-second resolution


async def test_retry_after_beyond_the_maximum_raises_at_once(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(429, retry_after="120"), route="get_callbacks")
    async with fake.client(retry=RetryPolicy(max_retry_after=30)) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.callbacks.get()
    assert caught.value.retry_after == 120.0
    assert statuses(fake, "get_callbacks") == [429]


@pytest.mark.parametrize("late", [0.0, 0.25], ids=["429-first", "429-after-others"])
async def test_a_429_pauses_the_whole_client_not_just_its_caller(
    fake: FakeNumbersServer, late: float
) -> None:
    # With late > 0 the refused request is answered after the others have come back and
    # gone out again: the stream of requests is still flowing when the pause starts.
    fake.inject(Fault.latency(0.05), route="get_callbacks", times=None)
    fake.inject(Fault.latency(late), route="get_callbacks", times=1)
    fake.inject(Fault.status(429, retry_after="1"), route="get_callbacks")
    loop = asyncio.get_running_loop()
    saw: list[float] = []  # when the client handled the 429: the pause starts there

    def on_retry(event: RetryEvent) -> None:
        # Called in the same step as the pause begins (the retry layer pauses the gate,
        # then reports the retry), so this is the pause's start to within microseconds.
        if event.reason == "HTTP 429":
            saw.append(loop.time())

    async def worker(client: NumbersClient, until: float) -> None:
        while loop.time() < until:  # keep asking, as a busy service would
            await client.callbacks.get()

    policy = attrs.evolve(QUICK, on_retry=on_retry)
    async with fake.client(retry=policy) as client:
        until = loop.time() + 1.5
        await asyncio.gather(*(worker(client, until) for _ in range(50)))
    log = fake.requests_for("get_callbacks")
    assert len([r for r in log if r.status == 429]) == 1
    (paused,) = saw
    # The fake stamps arrivals with the same clock (loop.time() is time.monotonic()).
    assert [r for r in log if r.at >= paused + 1.0]  # work resumed after the pause
    # From the pause's start to its end (one second: Retry-After), no new request may
    # reach the server. The window is counted from when the client saw the 429, not from
    # when the server refused it: the answer takes the fault's latency (and, on a loaded
    # machine, longer) to be handled, and requests sent meanwhile are not in the pause.
    # Requests that passed the gate before the pause began are already on their way:
    # client and server share one event loop, so they arrive within a few loop turns
    # (2 ms at most in 30 runs at load 5 on 2 cores); 0.2 s leaves room for far more.
    # The pause ends at paused + 1.0; 0.95 keeps a request sent right then out of it.
    sneaked = [round(r.at - paused, 3) for r in log if paused + 0.2 < r.at < paused + 0.95]
    assert sneaked == []


async def test_a_rate_limit_spaces_requests_out(fake: FakeNumbersServer) -> None:
    async with fake.client(rate_limit=50) as client:
        started = asyncio.get_running_loop().time()  # the fake's clock (same loop)
        await asyncio.gather(*(client.callbacks.get() for _ in range(30)))
    last = max(r.at for r in fake.requests_for("get_callbacks"))
    # A burst of 5, then 25 more at 50/s: the last cannot arrive before half a second has
    # passed. Measured from the calls' start, which no load can move, not from the first
    # arrival: a busy machine may delay the burst's new connections, and with them the
    # first arrival (the spread was 0.40 s once, in CI).
    assert last - started >= 0.48


# --- 5xx ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["json", "html", "empty"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_a_read_is_retried_until_it_succeeds(
    client: NumbersClient, fake: FakeNumbersServer, status: int, body: str
) -> None:
    fake.inject(Fault.status(status, body=body), route="list_regions", times=2)  # type: ignore[arg-type]
    regions = await client.available_regions.list()
    assert regions
    assert statuses(fake, "list_regions") == [status, status, 200]


async def test_retries_stop_after_the_configured_attempts(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(503), route="get_callbacks", times=None)
    async with fake.client(retry=RetryPolicy(attempts=3, backoff=0.01)) as client:
        with pytest.raises(ServerError):
            await client.callbacks.get()
    assert statuses(fake, "get_callbacks") == [503, 503, 503]


async def test_4xx_other_than_429_is_never_retried(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    with pytest.raises(NotFoundError):
        await client.active_numbers.get("+12025550100")
    fake.inject(Fault.status(403), route="get_callbacks")
    with pytest.raises(PermissionDeniedError):
        await client.callbacks.get()
    assert statuses(fake, "get_active") == [404]
    assert statuses(fake, "get_callbacks") == [403]


async def test_update_patch_is_retried_after_a_5xx(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    phone = await first_available(client)
    await client.available_numbers.rent(phone)
    fake.inject(Fault.status(502, body="html"), route="update_active")
    updated = await client.active_numbers.update(phone, display_name="after 502")
    assert updated.display_name == "after 502"
    assert statuses(fake, "update_active") == [502, 200]


# --- resets and timeouts ------------------------------------------------------------------


async def test_reset_before_processing_a_read_is_retried(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.reset_before(), route="get_callbacks", times=3)
    assert (await client.callbacks.get()).project_id == fake.project_id
    assert statuses(fake, "get_callbacks")[-1] == 200


async def test_a_read_timeout_is_retried(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.latency(1.0), route="get_callbacks")
    async with fake.client(retry=QUICK, timeouts=Timeouts(read=0.2)) as client:
        assert (await client.callbacks.get()).project_id == fake.project_id
    assert len(fake.requests_for("get_callbacks")) == 2


async def test_persistent_timeouts_raise_a_timeout_error(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.latency(1.0), route="get_callbacks", times=None)
    async with fake.client(
        retry=RetryPolicy(attempts=2, backoff=0.01), timeouts=Timeouts(total=0.15)
    ) as client:
        with pytest.raises(NumbersTimeoutError) as caught:
            await client.callbacks.get()
    assert caught.value.request_sent


async def test_truncated_json_on_a_read_is_retried_like_a_5xx(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.truncated_json(), route="list_regions", times=1)
    regions = await client.available_regions.list()
    assert regions
    assert statuses(fake, "list_regions") == [200, 200]


async def test_truncated_json_on_every_attempt_of_a_read_is_a_decode_error(
    fake: FakeNumbersServer,
) -> None:
    fake.inject(Fault.truncated_json(), route="list_regions", times=None)
    async with fake.client(retry=RetryPolicy(attempts=3, backoff=0.001)) as client:
        with pytest.raises(DecodeError):
            await client.available_regions.list()
    assert len(fake.requests_for("list_regions")) == 3


# --- rent: retried and reconciled -----------------------------------------------------------


async def test_rent_whose_response_was_lost_returns_the_number_rented_once(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    phone = await first_available(client)
    fake.inject(Fault.reset_after(), route="rent")
    rented = await client.available_numbers.rent(phone, sms=SmsConfiguration(service_plan_id="p"))
    assert rented.phone_number == phone
    assert rented.project_id == fake.project_id
    assert fake.rent_counts[phone] == 1
    assert statuses(fake, "rent") == [0, 404]  # dropped, then "no longer available"
    assert statuses(fake, "get_active") == [200]  # the reconciliation


async def test_rent_whose_body_was_truncated_is_reconciled_without_a_second_rent(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    phone = await first_available(client)
    fake.inject(Fault.truncated_json(), route="rent")
    rented = await client.available_numbers.rent(phone)
    assert rented.phone_number == phone
    assert fake.rent_counts[phone] == 1
    assert len(fake.requests_for("rent")) == 1


async def test_rent_is_retried_after_a_5xx_and_rented_once(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    phone = await first_available(client)
    fake.inject(Fault.status(503, body="empty"), route="rent")
    assert (await client.available_numbers.rent(phone)).phone_number == phone
    assert fake.rent_counts[phone] == 1


async def test_rent_of_a_number_someone_else_took_is_still_not_found(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    phone = await first_available(client)
    fake.inject(Fault.status(503), route="rent")  # the first attempt did nothing...
    fake.available.pop(phone)  # ...and meanwhile the number went to another customer
    with pytest.raises(NotFoundError):
        await client.available_numbers.rent(phone)
    assert fake.rent_counts[phone] == 0


async def test_rent_lost_and_then_failing_is_reconciled_at_the_end(fake: FakeNumbersServer) -> None:
    async with fake.client(retry=RetryPolicy(attempts=3, backoff=0.01)) as client:
        phone = await first_available(client)
        fake.inject(Fault.reset_after(), route="rent")
        fake.inject(Fault.status(503), route="rent", times=None)
        rented = await client.available_numbers.rent(phone)
    assert rented.phone_number == phone
    assert fake.rent_counts[phone] == 1


# --- rentAny: at most once -----------------------------------------------------------------


async def test_rent_any_whose_response_was_lost_is_ambiguous_and_never_repeated(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.reset_after(), route="rent_any")
    with pytest.raises(AmbiguousOutcomeError) as caught:
        await client.available_numbers.rent_any("US", "LOCAL", capabilities=["SMS"])
    assert caught.value.operation == "available_numbers.rent_any"
    assert caught.value.request == {"regionCode": "US", "type": "LOCAL", "capabilities": ["SMS"]}
    assert isinstance(caught.value.__cause__, TransportError)
    assert sum(fake.rent_counts.values()) == 1
    assert len(fake.requests_for("rent_any")) == 1


async def test_rent_any_5xx_is_ambiguous_and_not_retried(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(500), route="rent_any")
    with pytest.raises(AmbiguousOutcomeError) as caught:
        await client.available_numbers.rent_any("US", "LOCAL")
    assert isinstance(caught.value.__cause__, ServerError)
    assert len(fake.requests_for("rent_any")) == 1


async def test_rent_any_truncated_success_is_ambiguous(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.truncated_json(), route="rent_any")
    with pytest.raises(AmbiguousOutcomeError):
        await client.available_numbers.rent_any("US", "LOCAL")
    assert sum(fake.rent_counts.values()) == 1


async def test_rent_any_is_retried_after_429(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(429), route="rent_any")
    rented = await client.available_numbers.rent_any("US", "LOCAL")
    assert fake.rent_counts[rented.phone_number] == 1
    assert statuses(fake, "rent_any") == [429, 200]


class RefusingConnector(aiohttp.TCPConnector):
    """A real connector whose first ``refusals`` connection attempts are refused."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        if self.refusals:
            self.refusals -= 1
            raise aiohttp.ClientConnectorError(
                req.connection_key, ConnectionRefusedError(111, "refused")
            )
        return await super()._create_connection(req, traces, timeout)


async def test_rent_any_is_retried_after_a_connect_failure(fake: FakeNumbersServer) -> None:
    connector = RefusingConnector(refusals=1)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        fake.client(retry=QUICK, auth="basic", session=session) as client,
    ):
        rented = await client.available_numbers.rent_any("US", "LOCAL")
    assert fake.rent_counts[rented.phone_number] == 1
    assert len(fake.requests_for("rent_any")) == 1  # the refused attempt never arrived


# --- release: a repeat is harmless ---------------------------------------------------------


async def test_release_whose_response_was_lost_is_not_an_error(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    phone = await first_available(client)
    await client.available_numbers.rent(phone)
    fake.inject(Fault.reset_after(), route="release")
    released = await client.active_numbers.release(phone)
    assert released.phone_number == phone
    assert phone not in fake.active
    assert statuses(fake, "release") == [0, 404]


async def test_release_of_a_number_never_owned_is_not_found(client: NumbersClient) -> None:
    with pytest.raises(NotFoundError):
        await client.active_numbers.release("+12025550111")


# --- tokens ---------------------------------------------------------------------------------


async def test_token_expiry_under_100_concurrent_calls_refreshes_once(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    await client.callbacks.get()
    fake.expire_tokens()
    await asyncio.gather(*(client.callbacks.get() for _ in range(100)))
    assert fake.token_requests == 2


async def test_token_endpoint_429_without_retry_after_is_retried(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(429), route="token", times=2)
    await client.callbacks.get()
    assert [r.status for r in fake.requests_for("token")] == [429, 429, 200]


# --- deadlines ----------------------------------------------------------------------------


async def test_a_deadline_stops_the_retry_loop_before_it_would_overshoot(
    fake: FakeNumbersServer,
) -> None:
    fake.inject(Fault.status(503, retry_after="1"), route="get_callbacks", times=None)
    loop = asyncio.get_running_loop()
    async with fake.client(timeouts=Timeouts(deadline=1.5)) as client:
        started = loop.time()
        with pytest.raises(ServerError):
            await client.callbacks.get()
        elapsed = loop.time() - started
    assert statuses(fake, "get_callbacks") == [503, 503]  # a third would start at 2.0 s
    assert elapsed < 1.5


async def test_a_deadline_spans_every_page_of_a_listing(fake: FakeNumbersServer) -> None:
    fake.add_active_numbers(50)
    fake.inject(Fault.latency(0.15), route="list_active", times=None)
    async with fake.client(timeouts=Timeouts(deadline=0.5)) as client:
        with pytest.raises(NumbersTimeoutError):
            await client.active_numbers.list(page_size=5).collect()
    assert 2 <= len(fake.requests_for("list_active")) <= 4


async def test_with_options_overrides_retries_for_one_call(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(503), route="get_callbacks", times=1)
    with pytest.raises(ServerError):
        await client.with_options(retry=RetryPolicy(attempts=1)).callbacks.get()
    await client.callbacks.get()  # the client itself still retries
    assert statuses(fake, "get_callbacks") == [503, 200]


# --- cancellation -------------------------------------------------------------------------


def idle_connector(connector: aiohttp.BaseConnector) -> bool:
    # aiohttp has no public "connections in use" counter; _acquired is the set it keeps.
    return not connector._acquired


async def test_cancelling_100_in_flight_calls_leaves_no_connection_or_task(
    fake: FakeNumbersServer,
) -> None:
    fake.inject(Fault.latency(5.0), route="get_callbacks", times=None)
    async with aiohttp.ClientSession() as session, fake.client(session=session) as client:
        await client.available_regions.list()  # token in hand
        calls = [asyncio.create_task(client.callbacks.get()) for _ in range(100)]
        await eventually(lambda: fake.in_flight == 64)  # every slot taken, the rest waiting
        for call in calls:
            call.cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert idle_connector(session.connector)  # type: ignore[arg-type]
        leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("numbers_async")]
        assert leftovers == []
        fake.clear_faults()
        assert (await client.callbacks.get()).project_id == fake.project_id  # slots all free


async def test_cancelling_during_a_backoff_sleep_stops_the_retries(fake: FakeNumbersServer) -> None:
    # A fixed Retry-After makes the sleep long for certain: a jittered backoff may be
    # drawn close to zero, and the retry would then race the cancel.
    fake.inject(Fault.status(503, retry_after="30"), route="get_callbacks", times=None)
    retries = Retries()
    async with fake.client(retry=RetryPolicy(on_retry=retries.events.append)) as client:
        call = asyncio.create_task(client.callbacks.get())
        # on_retry runs just before the sleep, with no await in between: once it has
        # fired, the call is asleep.
        await eventually(lambda: bool(retries.events))
        assert [event.delay for event in retries.events] == [30.0]
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert len(fake.requests_for("get_callbacks")) == 1


async def test_cancelling_during_a_client_wide_pause_is_clean(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(429, retry_after="5"), route="get_callbacks")
    async with fake.client() as client:
        first = asyncio.create_task(client.callbacks.get())
        await eventually(lambda: bool(fake.requests_for("get_callbacks")))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(client.callbacks.get())  # waits for the pause to end
        await asyncio.sleep(0.05)
        first.cancel()
        second.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
    assert len(fake.requests_for("get_callbacks")) == 1


async def test_cancelling_while_waiting_for_a_slot_frees_nothing_twice(
    fake: FakeNumbersServer,
) -> None:
    fake.inject(Fault.latency(0.3), route="get_callbacks")
    async with fake.client(max_concurrency=1) as client:
        await client.available_regions.list()
        busy = asyncio.create_task(client.callbacks.get())
        waiting = asyncio.create_task(client.callbacks.get())
        await asyncio.sleep(0.05)
        waiting.cancel()
        await busy
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.gather(*(client.available_regions.list() for _ in range(3)))
    assert fake.max_in_flight == 1


async def test_cancelling_a_listing_mid_page_releases_its_connection(
    fake: FakeNumbersServer,
) -> None:
    fake.add_active_numbers(30)
    async with aiohttp.ClientSession() as session, fake.client(session=session) as client:
        pages = client.active_numbers.list(page_size=10).pages()
        await anext(pages)
        fake.inject(Fault.latency(5.0), route="list_active")
        fetch = asyncio.create_task(anext(pages))
        await asyncio.sleep(0.1)
        fetch.cancel()
        await asyncio.gather(fetch, return_exceptions=True)
        await pages.aclose()
        assert idle_connector(session.connector)  # type: ignore[arg-type]


# --- logging ------------------------------------------------------------------------------


async def test_debug_logs_show_requests_and_retries_but_never_secrets(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    hmac_secret = "s" * 40
    caplog.set_level(logging.DEBUG, logger="numbers_async")
    fake.inject(Fault.status(503), route="update_callbacks")
    fake.inject(Fault.status(429), route="token")
    async with fake.client(retry=QUICK) as client:
        await client.callbacks.update(hmac_secret)
        fake.expire_tokens()
        await client.callbacks.get()
    text = caplog.text
    assert "PATCH /v1/projects/fake-project/callbackConfiguration -> 503" in text
    # One log format, the answer's request id in it.
    retried = r": attempt 1 failed \(HTTP {}, request id \w+\); retrying"
    assert re.search("callbacks.update" + retried.format(503), text)
    assert re.search("oauth2.token" + retried.format(429), text)
    assert "access token expired" in text
    tokens = {r.headers["Authorization"].split()[-1] for r in fake.requests}
    for secret in (fake.key_secret, hmac_secret, *tokens):
        assert secret not in text
