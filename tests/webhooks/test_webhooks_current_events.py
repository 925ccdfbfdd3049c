"""Events as Sinch sends them today: internalFailureCode, number orders, every field kept.

The example events are old (or have no timestamp): parsed with ``max_age=None``, since what
is checked here is what they carry, not how fresh they are.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from numbers_async import NumbersClient, SmsConfiguration, VoiceConfiguration
from numbers_async.testing import FakeNumbersServer
from numbers_async.webhooks import EventStatus, EventType, NumbersEvent, parse_event

from .harness import EventsEndpoint

# The shape of the Java SDK's event fixture (docs/api-facts.md#the-api-beyond-the-10-spec).
FAILED_CAMPAIGN: dict[str, Any] = {
    "eventId": "abcd1234efghijklmnop567890",
    "timestamp": "2023-06-06T07:45:27.78789",
    "projectId": "abcd12ef-ab12-ab12-bc34-abcdef123456",
    "resourceId": "+12345612345",
    "resourceType": "ACTIVE_NUMBER",
    "eventType": "PROVISIONING_TO_CAMPAIGN",
    "status": "FAILED",
    "failureCode": "CAMPAIGN_NOT_AVAILABLE",
    "internalFailureCode": "CRS0018",
}


def test_internal_failure_code_is_read_and_written_back() -> None:
    event = parse_event(json.dumps(FAILED_CAMPAIGN).encode(), max_age=None)

    assert event.internal_failure_code == "CRS0018"
    assert event.to_dict() == {**FAILED_CAMPAIGN, "timestamp": "2023-06-06T07:45:27.787890"}


def test_internal_failure_code_of_the_wrong_type_is_refused() -> None:
    from numbers_async import InvalidEventError

    body = json.dumps({**FAILED_CAMPAIGN, "internalFailureCode": 18}).encode()
    with pytest.raises(InvalidEventError, match="internalFailureCode must be a string"):
        parse_event(body, max_age=None)


@pytest.mark.parametrize("status", ["IN_REVIEW", "BLOCKED", "COMPLETED", "REJECTED", "EXPIRED"])
def test_number_order_events_and_their_statuses_are_named(status: str) -> None:
    body = {
        "eventId": "e-1",
        "projectId": "p-1",
        "resourceId": "order-123",
        "resourceType": "NUMBER_ORDER",
        "eventType": "NUMBER_ORDER_PROCESSING",
        "status": status,
    }
    event = parse_event(json.dumps(body).encode(), max_age=None)

    assert event.event_type is EventType.NUMBER_ORDER_PROCESSING
    assert event.status is EventStatus[status]
    assert EventStatus.is_known(status)


def test_both_spellings_of_voice_deprovisioning_are_named() -> None:
    assert EventType.is_known("DEPROVISIONING_FROM_VOICE_PLATFORM")
    assert EventType.is_known("DEPROVISIONING_TO_VOICE_PLATFORM")  # deprecated, still sent


def test_to_dict_keeps_the_fields_this_version_does_not_know() -> None:
    body = {**FAILED_CAMPAIGN, "orderDetails": {"step": 3, "notes": ["a"]}, "priority": 2}
    event = parse_event(json.dumps(body).encode(), max_age=None)

    exported = event.to_dict()

    assert exported["orderDetails"] == {"step": 3, "notes": ["a"]}
    assert exported["priority"] == 2
    exported["orderDetails"]["notes"].append("b")  # a copy: the event stays as received
    assert event.raw["orderDetails"] == {"step": 3, "notes": ["a"]}


def test_a_modelled_field_wins_over_its_raw_value() -> None:
    import attrs

    parsed = parse_event(json.dumps(FAILED_CAMPAIGN).encode(), max_age=None)
    event = attrs.evolve(parsed, status=None)
    assert "status" not in event.to_dict()


async def test_the_receivers_hand_over_every_field(endpoint: EventsEndpoint) -> None:
    queue: asyncio.Queue[NumbersEvent] = asyncio.Queue()
    await endpoint.start(queue)
    now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")
    body = {**FAILED_CAMPAIGN, "timestamp": now, "orderDetails": {"step": 3}}

    status, _ = await endpoint.post(json.dumps(body).encode())

    assert status == 200
    event = queue.get_nowait()
    assert event.internal_failure_code == "CRS0018"
    assert event.to_dict() == body


async def test_the_fake_reports_voice_deprovisioning_with_the_current_name(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    seen: list[dict[str, Any]] = []

    async def watch(event: dict[str, Any]) -> None:
        seen.append(event)

    fake.on_provisioning_event = watch
    number = await client.available_numbers.rent_any(
        "US",
        "LOCAL",
        sms=SmsConfiguration(service_plan_id="plan-1"),
        voice=VoiceConfiguration(app_id="app-1"),
    )
    fake.complete_provisioning(number.phone_number)
    await client.active_numbers.release(number.phone_number)
    await fake.wait_for_callbacks()

    assert sorted(event["eventType"] for event in seen) == [
        "DEPROVISIONING_FROM_SMS_PLATFORM",
        "DEPROVISIONING_FROM_VOICE_PLATFORM",
        "PROVISIONING_TO_SMS_PLATFORM",
        "PROVISIONING_TO_VOICE_PLATFORM",
    ]


def test_an_event_built_by_hand_writes_its_internal_failure_code() -> None:
    event = NumbersEvent(event_id="e-1", status=EventStatus.FAILED, internal_failure_code="X1")
    assert event.to_dict() == {"eventId": "e-1", "status": "FAILED", "internalFailureCode": "X1"}
