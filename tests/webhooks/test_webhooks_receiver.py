"""The logic both HTTP receivers share, driven directly: limits, de-duplication, shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest

from numbers_async.errors import InvalidInputError
from numbers_async.webhooks import (
    SIGNATURE_HEADER,
    NumbersEvent,
    RecentEventIds,
    compute_signature,
)
from numbers_async.webhooks._receiver import Receiver, Reply

SECRET = "receiver-secret-0123456789abcdefghij"


def make_receiver(on_event: Any, **overrides: Any) -> Receiver:
    options: dict[str, Any] = {
        "secret": SECRET,
        "max_body_size": 1024,
        "deduplicate": 100,
        "shutdown_timeout": 1.0,
    }
    return Receiver(on_event, **{**options, **overrides})


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def deliver(
    receiver: Receiver, *parts: bytes, signature: str | None = None, secret: str = SECRET
) -> Reply:
    body = b"".join(parts)
    return await receiver.handle(
        content_length=str(len(body)),
        signature=compute_signature(body, secret) if signature is None else signature,
        chunks=chunks_of(*parts),
    )


REQUIRED = {
    "projectId": "abcd12ef-ab12-ab12-bc34-abcdef123456",
    "resourceId": "+12065550100",
    "eventType": "PROVISIONING_TO_CAMPAIGN",
    "status": "SUCCEEDED",
}


def event_body(event_id: str | None, size: int | None = None) -> bytes:
    # Stamped now, as a live delivery is (an older one is refused as a replay: max_age).
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    fields: dict[str, Any] = {"timestamp": now.isoformat(timespec="microseconds"), **REQUIRED}
    if event_id is not None:
        fields["eventId"] = event_id
    body = json.dumps(fields).encode()
    if size is not None:  # pad with insignificant whitespace to an exact size
        body = body[:-1] + b" " * (size - len(body)) + b"}"
    return body


def delivered_ids(queue: asyncio.Queue[NumbersEvent]) -> list[str | None]:
    return [queue.get_nowait().event_id for _ in range(queue.qsize())]


async def test_declared_content_length_over_the_limit_is_refused_before_reading() -> None:
    chunks_read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        chunks_read.append(b"x" * 1025)
        yield chunks_read[-1]

    receiver = make_receiver(asyncio.Queue())

    reply = await receiver.handle(content_length="1025", signature="0" * 40, chunks=body())

    assert (reply.status, chunks_read) == (413, [])


async def test_body_exactly_at_the_limit_is_accepted() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue)

    reply = await deliver(receiver, event_body("evt-1", size=1024))

    assert (reply.status, delivered_ids(queue)) == (200, ["evt-1"])


async def test_body_one_byte_over_the_limit_is_refused_even_without_content_length() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue)
    body = event_body("evt-1", size=1025)

    reply = await receiver.handle(
        content_length=None, signature=compute_signature(body, SECRET), chunks=chunks_of(body)
    )

    assert (reply.status, queue.qsize()) == (413, 0)


async def test_unreadable_content_length_falls_back_to_the_streaming_limit() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    body = event_body("evt-1", size=1025)

    reply = await make_receiver(queue).handle(
        content_length="lots", signature=compute_signature(body, SECRET), chunks=chunks_of(body)
    )

    assert (reply.status, queue.qsize()) == (413, 0)


async def test_body_split_over_several_chunks_is_verified_as_a_whole() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    body = event_body("evt-1")

    reply = await deliver(make_receiver(queue), body[:3], body[3:7], body[7:])

    assert (reply.status, delivered_ids(queue)) == (200, ["evt-1"])


async def test_least_recently_seen_id_is_forgotten_once_capacity_is_exceeded() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue, deduplicate=2)

    for event_id in ["a", "b", "a", "c", "a", "b"]:
        await deliver(receiver, event_body(event_id))

    # "a" seen again refreshes it, so "c" evicts "b": the last "a" is a duplicate, "b" is not.
    assert delivered_ids(queue) == ["a", "b", "c", "b"]


@pytest.mark.parametrize("deduplicate", [None, 0])
async def test_with_deduplication_off_every_repeat_is_handed_over(deduplicate: int | None) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue, deduplicate=deduplicate)

    for _ in range(3):
        await deliver(receiver, event_body("evt-1"))

    assert delivered_ids(queue) == ["evt-1"] * 3


@pytest.mark.parametrize("field", ["eventId", *REQUIRED])
async def test_signed_event_missing_a_required_field_is_answered_400_naming_it(field: str) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue)
    fields = json.loads(event_body("evt-1"))
    del fields[field]

    reply = await deliver(receiver, json.dumps(fields).encode())

    assert (reply.status, field in reply.text, queue.qsize()) == (400, True, 0)


async def test_signed_event_with_a_required_field_null_is_answered_400() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue)
    fields = {**json.loads(event_body("evt-1")), "status": None}

    reply = await deliver(receiver, json.dumps(fields).encode())

    assert (reply.status, queue.qsize()) == (400, 0)


async def test_full_queue_forgets_the_id_so_that_the_retry_is_handed_over() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue(maxsize=1)
    receiver = make_receiver(queue)
    await deliver(receiver, event_body("evt-0"))

    refused = await deliver(receiver, event_body("evt-1"))
    queue.get_nowait()
    retried = await deliver(receiver, event_body("evt-1"))

    assert (refused.status, retried.status, delivered_ids(queue)) == (503, 200, ["evt-1"])


async def test_a_deduplicator_object_is_asked_to_claim_each_event_id() -> None:
    claimed: list[str] = []

    class SeenNothing:
        async def claim(self, event_id: str) -> bool:
            claimed.append(event_id)
            return event_id != "evt-old"

        async def forget(self, event_id: str) -> None:
            raise AssertionError("nothing failed")

    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue, deduplicate=SeenNothing())

    new = await deliver(receiver, event_body("evt-new"))
    old = await deliver(receiver, event_body("evt-old"))

    assert (new.status, old.status, claimed, delivered_ids(queue)) == (
        200,
        200,
        ["evt-new", "evt-old"],
        ["evt-new"],
    )


async def test_failed_handler_is_forgotten_by_the_deduplicator() -> None:
    seen = RecentEventIds(10)
    calls: list[str | None] = []

    async def on_event(event: NumbersEvent) -> None:
        calls.append(event.event_id)
        raise RuntimeError("database down")

    receiver = make_receiver(on_event, deduplicate=seen, acknowledge="handled")

    reply = await deliver(receiver, event_body("evt-1"))

    assert (reply.status, calls, len(seen)) == (500, ["evt-1"], 0)


async def test_in_memory_deduplicator_forgets_only_the_id_it_is_told() -> None:
    seen = RecentEventIds(10)
    await seen.claim("a")
    await seen.claim("b")

    await seen.forget("a")
    await seen.forget("never-seen")

    assert (await seen.claim("a"), await seen.claim("b")) == (True, False)


@pytest.mark.parametrize("capacity", [0, -1, True, 2.5])
def test_in_memory_deduplicator_refuses_a_capacity_that_is_not_a_positive_count(
    capacity: Any,
) -> None:
    with pytest.raises(InvalidInputError, match="capacity"):
        RecentEventIds(capacity)


async def test_a_receiver_closed_while_claiming_answers_503_and_releases_the_claim() -> None:
    seen = RecentEventIds(10)
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver: Receiver

    class ClosingWhileClaiming:
        async def claim(self, event_id: str) -> bool:
            claimed = await seen.claim(event_id)
            await receiver.aclose()
            return claimed

        async def forget(self, event_id: str) -> None:
            await seen.forget(event_id)

    receiver = make_receiver(queue, deduplicate=ClosingWhileClaiming())

    reply = await deliver(receiver, event_body("evt-1"))

    assert (reply.status, queue.qsize(), len(seen)) == (503, 0, 0)


async def test_a_callback_cancelled_at_shutdown_is_forgotten() -> None:
    seen = RecentEventIds(10)
    started = asyncio.Event()

    async def on_event(event: NumbersEvent) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes on its own

    receiver = make_receiver(on_event, deduplicate=seen, shutdown_timeout=0.05)
    await deliver(receiver, event_body("evt-1"))
    await started.wait()

    await receiver.aclose()

    assert len(seen) == 0


def test_acknowledging_handled_events_needs_a_function_not_a_queue() -> None:
    with pytest.raises(InvalidInputError, match="acknowledge"):
        make_receiver(asyncio.Queue(), acknowledge="handled")


def test_unknown_acknowledge_mode_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="acknowledge"):
        make_receiver(asyncio.Queue(), acknowledge="eventually")


async def test_rejected_delivery_does_not_mark_its_id_as_seen() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue)
    body = event_body("evt-1")

    forged = await deliver(receiver, body, secret="forger-secret")
    genuine = await deliver(receiver, body)

    assert (forged.status, genuine.status, delivered_ids(queue)) == (401, 200, ["evt-1"])


async def test_delivery_after_close_is_answered_503_and_not_handed_over() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    receiver = make_receiver(queue)
    await receiver.aclose()

    reply = await deliver(receiver, event_body("evt-1"))

    assert (reply.status, queue.qsize()) == (503, 0)


async def test_closing_twice_is_harmless_and_deliveries_stay_refused() -> None:
    receiver = make_receiver(asyncio.Queue())

    await receiver.aclose()
    await receiver.aclose()

    assert (await deliver(receiver, event_body("evt-1"))).status == 503


async def test_close_cancels_callbacks_still_running_after_shutdown_timeout() -> None:
    started = asyncio.Event()
    outcome: list[str] = []

    async def on_event(event: NumbersEvent) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    receiver = make_receiver(on_event, shutdown_timeout=0)
    await deliver(receiver, event_body("evt-1"))
    await started.wait()

    await receiver.aclose()

    assert outcome == ["cancelled"]


async def test_sync_secret_function_is_called_for_each_request() -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    calls: list[int] = []

    def secret() -> str:
        calls.append(1)
        return SECRET

    receiver = make_receiver(queue, secret=secret)
    await deliver(receiver, event_body("evt-1"))
    await deliver(receiver, event_body("evt-2"))

    assert (len(calls), delivered_ids(queue)) == (2, ["evt-1", "evt-2"])


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("secret", ""),
        ("secret", None),
        ("max_body_size", 0),
        ("deduplicate", -1),
        ("shutdown_timeout", -0.5),
    ],
)
def test_invalid_configuration_raises_invalid_input_error_naming_the_argument(
    argument: str, value: object
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        make_receiver(asyncio.Queue(), **{argument: value})

    assert caught.value.argument == argument


def test_on_event_that_is_neither_callable_nor_a_queue_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="on_event"):
        make_receiver([])


def test_signature_header_name_is_the_one_sinch_sends() -> None:
    assert SIGNATURE_HEADER == "X-Sinch-Signature"
