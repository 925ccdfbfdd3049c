"""Item 3 of the review: a replay window for webhooks.

A signed event is only accepted while its signed ``timestamp`` is at most ``max_age`` old
(and at most ``clock_skew`` in the future); the de-duplication memory covers that window,
so a replay inside it is a duplicate and a replay after it is refused with a 4xx that Sinch
does not retry.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from numbers_async import InvalidInputError, StaleEventError
from numbers_async.redis import RedisEventDeduplicator
from numbers_async.webhooks import (
    DEFAULT_CLOCK_SKEW,
    DEFAULT_MAX_AGE,
    NumbersEvent,
    RecentEventIds,
    compute_signature,
    parse_event,
)
from numbers_async.webhooks._receiver import Receiver
from tests.conftest import RedisServer
from tests.webhooks.harness import ENDPOINT_SECRET, EventsEndpoint

SECRET = ENDPOINT_SECRET
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def signed_body(timestamp: datetime | str | None, event_id: str = "evt-replayed") -> bytes:
    fields: dict[str, Any] = {
        "eventId": event_id,
        "projectId": "abcd12ef-ab12-ab12-bc34-abcdef123456",
        "resourceId": "+12065550100",
        "resourceType": "ACTIVE_NUMBER",
        "eventType": "PROVISIONING_TO_SMS_PLATFORM",
        "status": "SUCCEEDED",
    }
    if isinstance(timestamp, datetime):
        timestamp = timestamp.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    if timestamp is not None:
        fields["timestamp"] = timestamp
    return json.dumps(fields).encode()


def parse_at(body: bytes, now: datetime, **options: Any) -> NumbersEvent:
    return parse_event(
        body, signature=compute_signature(body, SECRET), secret=SECRET, now=now, **options
    )


# --- parse_event --------------------------------------------------------------------------------


def test_an_event_from_2001_is_refused_as_stale() -> None:
    # Before: accepted; the signed timestamp was never checked.
    body = signed_body("2001-01-01T00:00:00")

    with pytest.raises(StaleEventError, match="more than max_age=86400 s"):
        parse_event(body, signature=compute_signature(body, SECRET), secret=SECRET)


def test_the_window_is_max_age_into_the_past_and_clock_skew_into_the_future() -> None:
    age = timedelta(seconds=DEFAULT_MAX_AGE)
    skew = timedelta(seconds=DEFAULT_CLOCK_SKEW)
    edge = timedelta(milliseconds=1)

    assert parse_at(signed_body(NOW - age), NOW).event_id == "evt-replayed"
    assert parse_at(signed_body(NOW + skew), NOW).event_id == "evt-replayed"
    with pytest.raises(StaleEventError, match="old"):
        parse_at(signed_body(NOW - age - edge), NOW)
    with pytest.raises(StaleEventError, match="in the future"):
        parse_at(signed_body(NOW + skew + edge), NOW)


def test_max_age_and_clock_skew_are_the_callers_to_choose() -> None:
    body = signed_body(NOW - timedelta(minutes=10))

    with pytest.raises(StaleEventError):
        parse_at(body, NOW, max_age=300)
    assert parse_at(body, NOW, max_age=601).event_id == "evt-replayed"
    assert parse_at(signed_body(NOW + timedelta(seconds=30)), NOW, clock_skew=30).event_id
    with pytest.raises(StaleEventError):
        parse_at(signed_body(NOW + timedelta(seconds=31)), NOW, clock_skew=30)


def test_naive_times_are_utc_and_offsets_are_honoured() -> None:
    naive_now = NOW.replace(tzinfo=None)
    plus_two = (NOW + timedelta(seconds=10)).astimezone(timezone(timedelta(hours=2))).isoformat()

    assert parse_at(signed_body(NOW), naive_now, max_age=1, clock_skew=0).event_id
    assert parse_at(signed_body(plus_two), NOW, clock_skew=10).event_id
    with pytest.raises(StaleEventError):
        parse_at(signed_body(plus_two), NOW, clock_skew=9)


def test_an_event_without_a_timestamp_is_refused_unless_max_age_is_none() -> None:
    body = signed_body(None)

    with pytest.raises(StaleEventError, match="no timestamp"):
        parse_at(body, NOW)
    assert parse_at(body, NOW, max_age=None).timestamp is None
    assert parse_at(signed_body("2001-01-01T00:00:00"), NOW, max_age=None).event_id


def test_the_signature_is_checked_before_the_age() -> None:
    body = signed_body("2001-01-01T00:00:00")

    with pytest.raises(Exception, match="does not match") as caught:
        parse_event(body, signature="0" * 40, secret=SECRET)
    assert not isinstance(caught.value, StaleEventError)


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_age", 0), ("max_age", -1), ("max_age", float("inf")), ("max_age", float("nan")),
     ("max_age", True), ("clock_skew", -1), ("clock_skew", float("inf")), ("clock_skew", "5")],
)  # fmt: skip
def test_freshness_settings_out_of_range_are_refused(option: str, value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_event(signed_body(NOW), **{option: value})  # type: ignore[arg-type]
    assert caught.value.argument == option


# --- the receivers --------------------------------------------------------------------------------


async def test_a_replayed_stale_event_gets_400_and_is_not_handed_over(
    endpoint: EventsEndpoint,
) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    fresh = signed_body(datetime.now(timezone.utc), "evt-fresh")

    stale_status, stale_text = await endpoint.post(signed_body("2001-01-01T00:00:00"))
    future_status, _ = await endpoint.post(
        signed_body(datetime.now(timezone.utc) + timedelta(days=1))
    )
    fresh_status, _ = await endpoint.post(fresh)

    # 400: Sinch retries 5xx and 429 only, so a refused replay is not retried forever.
    assert (stale_status, future_status, fresh_status) == (400, 400, 200)
    assert "max_age" in stale_text
    assert [queue.get_nowait().event_id for _ in range(queue.qsize())] == ["evt-fresh"]


async def test_a_receivers_max_age_can_be_set_or_turned_off(endpoint: EventsEndpoint) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue, max_age=None)

    status, _ = await endpoint.post(signed_body("2001-01-01T00:00:00"))

    assert (status, queue.qsize()) == (200, 1)


async def test_a_compressed_delivery_is_answered_415_before_it_is_read(
    endpoint: EventsEndpoint,
) -> None:
    # Before: aiohttp inflated the body before the signature check (any sender could make
    # the receiver inflate a bomb); now a Content-Encoding is refused outright.
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    body = signed_body(datetime.now(timezone.utc))

    status, _ = await endpoint.post(
        gzip.compress(body),
        signature=compute_signature(body, SECRET),
        headers={"Content-Encoding": "gzip"},
    )

    assert (status, queue.qsize()) == (415, 0)


# --- de-duplication outlives the window -----------------------------------------------------------


async def test_a_receiver_remembers_ids_for_the_whole_window() -> None:
    receiver = Receiver(
        asyncio.Queue(), secret=SECRET, max_body_size=1024, deduplicate=10, shutdown_timeout=1
    )
    seen = receiver._seen
    assert isinstance(seen, RecentEventIds)
    assert seen.retention == DEFAULT_MAX_AGE + DEFAULT_CLOCK_SKEW


async def test_in_memory_ids_expire_after_the_window_and_early_eviction_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    memory = RecentEventIds(2, retention=100, clock=lambda: clock[0])

    assert await memory.claim("a")
    assert await memory.claim("b")
    clock[0] = 50
    with caplog.at_level(logging.WARNING, logger="numbers_async.webhooks"):
        assert await memory.claim("c")  # "a" is pushed out 50 s into its 100 s window
        assert await memory.claim("d")  # and "b": one warning is enough
    assert len([r for r in caplog.records if "de-duplication is full" in r.message]) == 1
    assert not await memory.claim("d")  # a repeat inside the window is caught
    clock[0] = 151
    assert await memory.claim("x")
    assert len(memory) == 1  # "c" and "d" expired: their events are too old to accept
    assert await memory.claim("d")


def test_the_redis_deduplicators_default_ttl_outlives_the_default_window(
    redis_server: RedisServer,
) -> None:
    # Before: a one-day TTL, while an event stays acceptable for one day plus the skew.
    deduplicator = RedisEventDeduplicator.from_url(redis_server.url, key="project")

    assert deduplicator.retention >= DEFAULT_MAX_AGE + DEFAULT_CLOCK_SKEW


async def test_a_deduplicator_that_forgets_within_the_window_is_refused(
    redis_server: RedisServer,
) -> None:
    short = RedisEventDeduplicator.from_url(redis_server.url, key="project", ttl=3600)
    try:
        with pytest.raises(InvalidInputError) as caught:
            Receiver(asyncio.Queue(), secret=SECRET, max_body_size=1024, deduplicate=short,
                     shutdown_timeout=1)  # fmt: skip
        assert caught.value.argument == "deduplicate"
        # With a window the TTL covers, the same deduplicator is fine.
        Receiver(asyncio.Queue(), secret=SECRET, max_body_size=1024, deduplicate=short,
                 shutdown_timeout=1, max_age=3000, clock_skew=600)  # fmt: skip
    finally:
        await short.aclose()
