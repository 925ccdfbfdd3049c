"""The aiohttp and FastAPI receivers over real loopback HTTP; every test runs for both."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from numbers_async.webhooks import (
    EventStatus,
    EventType,
    FailureCode,
    NumbersEvent,
    ResourceType,
    compute_signature,
)
from tests.conftest import eventually

from .harness import ENDPOINT_SECRET, EventsEndpoint

OTHER_SECRET = "another-secret-0123456789abcdefghij"


# Recent, as a live delivery is (older ones are refused as replays: max_age).
RECENT = datetime.now(timezone.utc).replace(microsecond=415637) - timedelta(seconds=5)


def make_event(event_id: str = "evt-1") -> NumbersEvent:
    return NumbersEvent(
        event_id=event_id,
        timestamp=RECENT,
        project_id="abcd12ef-ab12-ab12-bc34-abcdef123456",
        resource_id="+12065550100",
        resource_type=ResourceType.ACTIVE_NUMBER,
        event_type=EventType.PROVISIONING_TO_CAMPAIGN,
        status=EventStatus.FAILED,
        failure_code=FailureCode.CAMPAIGN_NOT_AVAILABLE,
    )


def body_of(event: NumbersEvent) -> bytes:
    return json.dumps(event.to_dict()).encode()


def drain(queue: asyncio.Queue[NumbersEvent]) -> list[NumbersEvent]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


async def test_correctly_signed_event_is_answered_200_and_delivered_exactly_once(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)

    status, _ = await endpoint.post(body_of(make_event()))

    assert status == 200
    assert drain(queue) == [make_event()]


async def test_event_signed_with_another_secret_is_answered_401_and_not_delivered(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    body = body_of(make_event())

    status, text = await endpoint.post(body, signature=compute_signature(body, OTHER_SECRET))

    assert (status, queue.qsize()) == (401, 0)
    assert "does not match" in text


async def test_event_without_signature_header_is_answered_401_and_not_delivered(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)

    status, text = await endpoint.post(body_of(make_event()), signature=None)

    assert (status, queue.qsize()) == (401, 0)
    assert "missing" in text


async def test_uppercase_signature_is_accepted(endpoint: EventsEndpoint) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    body = body_of(make_event())

    status, _ = await endpoint.post(
        body, signature=compute_signature(body, ENDPOINT_SECRET).upper()
    )

    assert (status, queue.qsize()) == (200, 1)


async def test_truncated_signature_is_answered_401(endpoint: EventsEndpoint) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    body = body_of(make_event())

    status, _ = await endpoint.post(body, signature=compute_signature(body, ENDPOINT_SECRET)[:-1])

    assert (status, queue.qsize()) == (401, 0)


async def test_correctly_signed_malformed_json_is_answered_400_and_not_delivered(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)

    status, text = await endpoint.post(b'{"eventId": "evt-1",')

    assert (status, queue.qsize()) == (400, 0)
    assert "not valid JSON" in text


async def test_body_over_the_limit_with_content_length_is_answered_413(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue, max_body_size=1024)
    body = json.dumps({**make_event().to_dict(), "padding": "x" * 2000}).encode()

    status, _ = await endpoint.post(body)

    assert (status, queue.qsize()) == (413, 0)


async def test_chunked_body_is_answered_413_once_past_the_limit_without_reading_the_rest(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue, max_body_size=1024)
    rest_requested = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 1025
        rest_requested.set()
        # The sender stalls here: a 413 can only arrive if the server stopped reading.
        await asyncio.Event().wait()
        yield b"never sent"

    status, _ = await endpoint.post(chunks(), signature="0" * 40)

    assert (status, queue.qsize()) == (413, 0)


async def test_repeated_event_id_is_answered_200_but_delivered_once(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    body = body_of(make_event("evt-retried"))

    first, _ = await endpoint.post(body)
    second, _ = await endpoint.post(body)

    assert (first, second) == (200, 200)
    assert drain(queue) == [make_event("evt-retried")]


async def test_callback_runs_in_the_background_with_the_event(endpoint: EventsEndpoint) -> None:
    received: list[NumbersEvent] = []

    async def on_event(event: NumbersEvent) -> None:
        received.append(event)

    await endpoint.start(on_event)

    status, _ = await endpoint.post(body_of(make_event()))

    assert status == 200
    await eventually(lambda: len(received) == 1)
    assert received == [make_event()]


async def test_callback_exception_is_logged_and_later_events_are_still_answered(
    endpoint: EventsEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[str | None] = []

    async def on_event(event: NumbersEvent) -> None:
        received.append(event.event_id)
        if event.event_id == "evt-boom":
            raise RuntimeError("application failure")

    await endpoint.start(on_event)

    first, _ = await endpoint.post(body_of(make_event("evt-boom")))
    await eventually(lambda: "on_event failed for event evt-boom" in caplog.text)
    second, _ = await endpoint.post(body_of(make_event("evt-fine")))
    await eventually(lambda: "evt-fine" in received)

    assert (first, second) == (200, 200)
    [failure] = [r for r in caplog.records if r.exc_info]
    assert failure.name == "numbers_async.webhooks"
    assert failure.exc_info is not None
    assert isinstance(failure.exc_info[1], RuntimeError)


async def test_failed_verification_never_logs_or_answers_the_secret_or_expected_digest(
    endpoint: EventsEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    body = body_of(make_event())
    expected = compute_signature(body, ENDPOINT_SECRET)

    answers = [
        await endpoint.post(body, signature=compute_signature(body, OTHER_SECRET)),
        await endpoint.post(body, signature=expected[:20]),
        await endpoint.post(body, signature=None),
    ]
    await endpoint.stop()

    assert [status for status, _ in answers] == [401, 401, 401]
    assert caplog.records, "the rejections should have been logged"
    for leaked in (ENDPOINT_SECRET, expected):
        assert leaked not in caplog.text
        assert all(leaked not in text for _, text in answers)


async def test_secret_from_an_async_function_is_fetched_for_each_request(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    current = [OTHER_SECRET]

    async def secret() -> str:
        return current[0]

    await endpoint.start(queue, secret=secret)
    body = body_of(make_event())

    before, _ = await endpoint.post(body)  # signed with ENDPOINT_SECRET
    current[0] = ENDPOINT_SECRET  # the secret was rotated
    after, _ = await endpoint.post(body)

    assert (before, after, queue.qsize()) == (401, 200, 1)


async def test_full_queue_is_answered_503_so_that_sinch_retries_and_the_retry_counts(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue(maxsize=1)
    await endpoint.start(queue)

    await endpoint.post(body_of(make_event("evt-1")))
    refused, _ = await endpoint.post(body_of(make_event("evt-2")))
    queue.get_nowait()
    retried, _ = await endpoint.post(body_of(make_event("evt-2")))

    assert (refused, retried) == (503, 200)
    assert drain(queue) == [make_event("evt-2")]


async def test_shutdown_lets_a_running_callback_finish(endpoint: EventsEndpoint) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str | None] = []

    async def on_event(event: NumbersEvent) -> None:
        started.set()
        await release.wait()
        finished.append(event.event_id)

    await endpoint.start(on_event, shutdown_timeout=5)
    await endpoint.post(body_of(make_event()))
    await asyncio.wait_for(started.wait(), 5)

    asyncio.get_running_loop().call_later(0.05, release.set)
    await endpoint.stop()

    assert finished == ["evt-1"]


async def test_shutdown_cancels_a_callback_still_running_after_shutdown_timeout(
    endpoint: EventsEndpoint,
) -> None:
    started = asyncio.Event()
    cancelled: list[str | None] = []

    async def on_event(event: NumbersEvent) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(event.event_id)
            raise

    await endpoint.start(on_event, shutdown_timeout=0.05)
    await endpoint.post(body_of(make_event()))
    await asyncio.wait_for(started.wait(), 5)

    await endpoint.stop()

    assert cancelled == ["evt-1"]


async def test_signed_empty_object_is_answered_400_and_not_delivered(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)

    status, text = await endpoint.post(b"{}")
    fresh_status, fresh_text = await endpoint.post(body_of(NumbersEvent(timestamp=RECENT)))

    assert (status, "no timestamp" in text, queue.qsize()) == (400, True, 0)
    assert (fresh_status, "eventId" in fresh_text, queue.qsize()) == (400, True, 0)


@pytest.mark.parametrize("acknowledge", ["received", "handled"])
async def test_handler_that_raised_gets_the_redelivery_and_succeeds(
    endpoint: EventsEndpoint, acknowledge: str, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[str | None] = []
    handled: list[str | None] = []

    async def on_event(event: NumbersEvent) -> None:
        attempts.append(event.event_id)
        if len(attempts) == 1:
            raise RuntimeError("database briefly down")
        handled.append(event.event_id)

    await endpoint.start(on_event, acknowledge=acknowledge)
    body = body_of(make_event("evt-retried"))

    first, _ = await endpoint.post(body)
    await eventually(lambda: "on_event failed for event evt-retried" in caplog.text)
    second, _ = await endpoint.post(body)
    await eventually(lambda: len(handled) == 1)
    third, _ = await endpoint.post(body)

    expected_first = 500 if acknowledge == "handled" else 200
    assert (first, second, third) == (expected_first, 200, 200)
    assert (attempts, handled) == (["evt-retried"] * 2, ["evt-retried"])


async def test_acknowledging_handled_events_answers_only_after_the_handler_returned(
    endpoint: EventsEndpoint,
) -> None:
    release = asyncio.Event()
    finished: list[str | None] = []

    async def on_event(event: NumbersEvent) -> None:
        await release.wait()
        finished.append(event.event_id)

    await endpoint.start(on_event, acknowledge="handled")
    posting = asyncio.create_task(endpoint.post(body_of(make_event())))
    await asyncio.sleep(0.2)
    answered_early = posting.done()
    release.set()
    status, _ = await posting

    assert (answered_early, status, finished) == (False, 200, ["evt-1"])
