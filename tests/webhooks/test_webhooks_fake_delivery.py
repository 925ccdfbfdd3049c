"""The fake server POSTs signed callback events to a real receiver on loopback."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from numbers_async import SmsConfiguration, VoiceConfiguration
from numbers_async.testing import CallbackDelivery, FakeNumbersServer
from numbers_async.webhooks import (
    SIGNATURE_HEADER,
    EventStatus,
    EventType,
    parse_event,
    verify_signature,
)
from tests.conftest import eventually

SECRET = "fake-callbacks-0123456789abcdefABCDEF"
PAYLOAD_FIELDS = {
    "eventId",
    "timestamp",
    "projectId",
    "resourceId",
    "resourceType",
    "eventType",
    "status",
}


@dataclass(frozen=True)
class Received:
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class Inbox:
    """A callback receiver that records each POST and answers the scripted statuses."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.headers, await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received]


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    inbox = Inbox()
    app = web.Application()
    app.router.add_post("/callbacks", inbox.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    inbox.url = f"http://127.0.0.1:{runner.addresses[0][1]}/callbacks"
    yield inbox
    await runner.cleanup()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/callbacks"


async def rent(
    fake: FakeNumbersServer,
    callback_url: str | None,
    *,
    secret: str | None = SECRET,
    sms: SmsConfiguration | None = None,
    voice: VoiceConfiguration | None = None,
) -> str:
    """Set the project's callback secret and rent a number with an SMS plan (by default)."""
    if sms is None and voice is None:
        sms = SmsConfiguration(service_plan_id="plan-1")
    async with fake.client() as client:
        if secret is not None:
            await client.callbacks.update(secret)
        number = await client.available_numbers.rent_any(
            "US", "LOCAL", sms=sms, voice=voice, callback_url=callback_url
        )
    return number.phone_number


def event_order(deliveries: list[CallbackDelivery]) -> list[tuple[str, str]]:
    return [(d.json()["resourceId"], d.json()["eventType"]) for d in deliveries]


# -- what is sent -------------------------------------------------------------------------------


async def test_completed_provisioning_is_posted_as_json_signed_with_the_project_secret(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    phone = await rent(fake, inbox.url)
    fake.complete_provisioning(phone)
    await fake.wait_for_callbacks()

    (received,) = inbox.received
    assert received.headers["Content-Type"] == "application/json"
    assert verify_signature(received.body, received.headers[SIGNATURE_HEADER], SECRET)
    event = parse_event(received.body, signature=received.headers[SIGNATURE_HEADER], secret=SECRET)
    assert (event.resource_id, event.event_type, event.status) == (
        phone,
        EventType.PROVISIONING_TO_SMS_PLATFORM,
        EventStatus.SUCCEEDED,
    )
    assert event.project_id == fake.project_id


async def test_body_holds_exactly_the_documented_payload_fields(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    phone = await rent(fake, inbox.url)
    fake.complete_provisioning(phone)
    await fake.wait_for_callbacks()

    (event,) = inbox.events()
    assert set(event) == PAYLOAD_FIELDS  # no "callbackUrl", no failureCode on success


async def test_signature_header_is_lowercase_hex(fake: FakeNumbersServer, inbox: Inbox) -> None:
    await rent(fake, inbox.url)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    signature = inbox.received[0].headers[SIGNATURE_HEADER]
    assert len(signature) == 40
    assert signature == signature.lower()
    int(signature, 16)


async def test_events_are_posted_without_a_signature_when_the_project_has_no_secret(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    await rent(fake, inbox.url, secret=None)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    (received,) = inbox.received
    assert SIGNATURE_HEADER not in received.headers
    assert parse_event(received.body).event_type is EventType.PROVISIONING_TO_SMS_PLATFORM


async def test_failed_provisioning_is_posted_with_its_failure_code(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    await rent(fake, inbox.url)
    fake.complete_provisioning(fail=True, error_codes=["PARTNER_SERVICE_UNAVAILABLE"])
    await fake.wait_for_callbacks()

    (event,) = inbox.events()
    assert (event["status"], event["failureCode"]) == ("FAILED", "PARTNER_SERVICE_UNAVAILABLE")


async def test_update_provisioning_is_posted_to_the_callback_url_set_by_the_update(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    phone = await rent(fake, None, voice=VoiceConfiguration(app_id="app-1"))
    fake.complete_provisioning(phone)
    async with fake.client() as client:
        await client.active_numbers.update(
            phone, voice=VoiceConfiguration(app_id="app-2"), callback_url=inbox.url
        )
    fake.complete_provisioning(phone)
    await fake.wait_for_callbacks()

    assert [e["eventType"] for e in inbox.events()] == ["PROVISIONING_TO_VOICE_PLATFORM"]


async def test_release_posts_the_deprovisioning_events(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    phone = await rent(fake, inbox.url)
    fake.complete_provisioning(phone)
    await fake.wait_for_callbacks()
    async with fake.client() as client:
        await client.active_numbers.release(phone)
    await fake.wait_for_callbacks()

    assert [e["eventType"] for e in inbox.events()] == [
        "PROVISIONING_TO_SMS_PLATFORM",
        "DEPROVISIONING_FROM_SMS_PLATFORM",
    ]


async def test_events_of_a_number_without_a_callback_url_are_not_sent(
    fake: FakeNumbersServer,
) -> None:
    await rent(fake, None)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    assert fake.callback_deliveries == []


# -- retries ------------------------------------------------------------------------------------


async def test_a_500_is_retried_and_the_next_attempt_delivers_the_same_signed_bytes(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    inbox.statuses = [500]
    await rent(fake, inbox.url)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    first, second = fake.callback_deliveries
    assert [(d.attempt, d.status, d.delivered) for d in (first, second)] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert (first.body, first.signature) == (second.body, second.signature)
    assert [r.body for r in inbox.received] == [first.body, second.body]
    assert second.at > first.at


@pytest.mark.parametrize("status", [201, 302, 401, 503])
async def test_any_answer_but_200_is_retried(
    fake: FakeNumbersServer, inbox: Inbox, status: int
) -> None:
    inbox.statuses = [status]
    await rent(fake, inbox.url)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    assert [d.status for d in fake.callback_deliveries] == [status, 200]


async def test_an_unreachable_url_is_tried_callback_attempts_times_then_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = closed_port_url()
    async with FakeNumbersServer(callback_attempts=3, callback_backoff=0.01) as fake:
        await rent(fake, url)
        fake.complete_provisioning()
        await fake.wait_for_callbacks()  # returns: the failure is not raised

        deliveries = fake.callback_deliveries
        assert [(d.attempt, d.status) for d in deliveries] == [(1, None), (2, None), (3, None)]
        assert all(isinstance(d.error, aiohttp.ClientConnectionError) for d in deliveries)
    assert "gave up delivering a callback" in caplog.text


async def test_a_delivery_still_retrying_times_out_the_wait_and_is_cancelled_by_close(
    inbox: Inbox,
) -> None:
    inbox.statuses = [503] * 10
    fake = FakeNumbersServer(callback_attempts=5, callback_backoff=30)
    async with fake:
        await rent(fake, inbox.url)
        fake.complete_provisioning()
        await eventually(lambda: len(fake.callback_deliveries) == 1)
        with pytest.raises(TimeoutError):
            await fake.wait_for_callbacks(timeout=0.05)  # it sleeps 30 s before retrying
    # close() settled it: one attempt made, nothing left running, no warning raised.
    assert [d.status for d in fake.callback_deliveries] == [503]
    await fake.wait_for_callbacks(timeout=0)


# -- duplicates and ordering --------------------------------------------------------------------


async def test_callback_duplicates_delivers_each_event_that_many_extra_times(
    inbox: Inbox,
) -> None:
    async with FakeNumbersServer(callback_duplicates=2) as fake:
        await rent(fake, inbox.url)
        fake.complete_provisioning()
        await fake.wait_for_callbacks()

    bodies = [r.body for r in inbox.received]
    assert len(bodies) == 3
    assert len(set(bodies)) == 1  # the same eventId, the same bytes, the same signature
    assert len({r.headers[SIGNATURE_HEADER] for r in inbox.received}) == 1


async def rent_two_fully_configured_numbers(fake: FakeNumbersServer, url: str) -> None:
    # Each completes with three events: SMS platform, campaign and voice platform.
    for _ in range(2):
        await rent(
            fake,
            url,
            sms=SmsConfiguration(service_plan_id="plan-1", campaign_id="campaign-1"),
            voice=VoiceConfiguration(app_id="app-1"),
        )


async def test_callback_out_of_order_shuffles_a_batch_reproducibly_for_the_seed(
    inbox: Inbox,
) -> None:
    orders = []
    for out_of_order in (False, True, True):
        async with FakeNumbersServer(seed=7, callback_out_of_order=out_of_order) as fake:
            await rent_two_fully_configured_numbers(fake, inbox.url)
            fake.complete_provisioning()  # every pending number at once: one batch of six
            await fake.wait_for_callbacks()
            orders.append(event_order(fake.callback_deliveries))
    in_order, shuffled, again = orders

    assert len(in_order) == 6
    assert sorted(shuffled) == sorted(in_order)
    assert shuffled != in_order
    assert again == shuffled
    assert event_order_at_receiver(inbox)[6:12] == shuffled


def event_order_at_receiver(inbox: Inbox) -> list[tuple[str, str]]:
    return [(e["resourceId"], e["eventType"]) for e in inbox.events()]


# -- the hook -----------------------------------------------------------------------------------


async def test_a_custom_hook_receives_the_events_instead_of_the_callback_url(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    hooked: list[dict[str, Any]] = []

    async def hook(event: dict[str, Any]) -> None:
        hooked.append(event)

    fake.on_provisioning_event = hook
    await rent(fake, inbox.url)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    assert [e["callbackUrl"] for e in hooked] == [inbox.url]
    assert (inbox.received, fake.callback_deliveries) == ([], [])


async def test_a_hook_that_calls_deliver_callback_sees_events_and_they_are_still_posted(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    hooked: list[str] = []

    async def watch(event: dict[str, Any]) -> None:
        hooked.append(event["eventId"])
        await fake.deliver_callback(event)

    fake.on_provisioning_event = watch
    await rent(fake, inbox.url)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    assert [e["eventId"] for e in inbox.events()] == hooked


async def test_setting_the_hook_to_none_drops_the_events(
    fake: FakeNumbersServer, inbox: Inbox
) -> None:
    fake.on_provisioning_event = None
    await rent(fake, inbox.url)
    fake.complete_provisioning()
    await fake.wait_for_callbacks()

    assert inbox.received == []


# -- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        {"callback_attempts": 0},
        {"callback_backoff": -1},
        {"callback_timeout": 0},
        {"callback_duplicates": -1},
    ],
)
def test_nonsensical_callback_settings_are_rejected(setting: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(setting))):
        FakeNumbersServer(**setting)


async def test_delivery_works_again_after_the_fake_is_restarted(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "numbers_async.testing")
    fake = FakeNumbersServer()
    for _ in range(2):
        async with fake:
            await rent(fake, inbox.url)
            fake.complete_provisioning()
            await fake.wait_for_callbacks()
    assert [d.delivered for d in fake.callback_deliveries] == [True, True]
    assert caplog.records == []
