"""Every operation end to end against the fake server over loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from numbers_async import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    NotFoundError,
    NumbersClient,
    NumberType,
    ProvisioningStatus,
    SmsConfiguration,
    VoiceConfiguration,
)
from numbers_async.testing import FakeNumbersServer

from .conftest import api_requests


async def rentable(client: NumbersClient, count: int = 1) -> list[str]:
    found = await client.available_numbers.search("US", "LOCAL", size=count)
    assert len(found) == count
    return [n.phone_number for n in found]


async def test_available_regions_list_returns_typed_regions(client: NumbersClient) -> None:
    regions = await client.available_regions.list()
    assert regions
    assert all(isinstance(r, AvailableRegion) for r in regions)
    codes = {r.region_code for r in regions}
    assert "US" in codes


async def test_available_regions_can_be_filtered_by_type(client: NumbersClient) -> None:
    everything = await client.available_regions.list()
    toll_free = await client.available_regions.list(types=[NumberType.TOLL_FREE])
    assert toll_free
    assert len(toll_free) < len(everything)
    assert all(r.types and NumberType.TOLL_FREE in r.types for r in toll_free)


async def test_search_returns_numbers_matching_every_filter(client: NumbersClient) -> None:
    found = await client.available_numbers.search(
        "US", "LOCAL", pattern="+1206", search_pattern="START", capabilities=["SMS"], size=3
    )
    assert 1 <= len(found) <= 3
    for number in found:
        assert isinstance(number, AvailableNumber)
        assert number.phone_number.startswith("+1206")
        assert number.type is NumberType.LOCAL
        assert number.capability is not None
        assert Capability.SMS in number.capability
        assert number.monthly_price is not None
        assert isinstance(number.monthly_price.amount, Decimal)


async def test_search_plus_is_sent_encoded_so_the_server_sees_it(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    await client.available_numbers.search("US", "LOCAL", pattern="+1206", search_pattern="START")
    (request,) = fake.requests_for("search_available")
    # The fake decodes queries form-style, as the real API does: an unencoded '+' would
    # arrive as a space, so seeing '+1206' proves it travelled as %2B1206.
    assert ("numberPattern.pattern", "+1206") in request.query


async def test_get_available_number(client: NumbersClient) -> None:
    (phone,) = await rentable(client)
    number = await client.available_numbers.get(phone)
    assert number.phone_number == phone


async def test_get_unknown_available_number_is_not_found(client: NumbersClient) -> None:
    with pytest.raises(NotFoundError):
        await client.available_numbers.get("+19999999999")


async def test_rent_moves_a_number_to_active_with_scheduled_provisioning(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    (phone,) = await rentable(client)
    rented = await client.available_numbers.rent(
        phone,
        sms=SmsConfiguration(service_plan_id="plan-1"),
        voice=VoiceConfiguration(app_id="app-1"),
        callback_url="https://example.com/events",
    )
    assert isinstance(rented, ActiveNumber)
    assert rented.phone_number == phone
    assert rented.project_id == fake.project_id
    assert rented.callback_url == "https://example.com/events"
    assert rented.sms_configuration is not None
    scheduled = rented.sms_configuration.scheduled_provisioning
    assert scheduled is not None
    assert scheduled.service_plan_id == "plan-1"
    assert scheduled.status is ProvisioningStatus.WAITING
    assert rented.voice_configuration is not None
    voice = rented.voice_configuration.scheduled_voice_provisioning
    assert voice is not None
    assert voice.app_id == "app-1"
    assert fake.rent_counts[phone] == 1

    fake.complete_provisioning(phone)
    applied = await client.active_numbers.get(phone)
    assert applied.sms_configuration == SmsConfiguration(service_plan_id="plan-1", campaign_id="")
    assert applied.voice_configuration is not None
    assert applied.voice_configuration.app_id == "app-1"
    assert applied.voice_configuration.scheduled_voice_provisioning is None


async def test_rent_any_rents_a_matching_number(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    rented = await client.available_numbers.rent_any(
        "US", "LOCAL", pattern="+1206", search_pattern="START", capabilities=["SMS"]
    )
    assert rented.phone_number.startswith("+1206")
    assert fake.rent_counts[rented.phone_number] == 1
    (request,) = fake.requests_for("rent_any")
    assert b'"capabilities":["SMS"]' in request.body


async def test_active_number_get_update_and_release(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    (phone,) = await rentable(client)
    await client.available_numbers.rent(phone)
    assert (await client.active_numbers.get(phone)).phone_number == phone

    updated = await client.active_numbers.update(phone, display_name="Support line")
    assert updated.display_name == "Support line"
    (patch,) = fake.requests_for("update_active")
    assert patch.body == b'{"displayName":"Support line"}'

    released = await client.active_numbers.release(phone)
    assert released.phone_number == phone
    assert released.expire_at is not None
    with pytest.raises(NotFoundError) as caught:
        await client.active_numbers.get(phone)
    assert caught.value.resource_info is not None
    assert caught.value.resource_info["resourceName"] == phone


async def test_update_with_empty_service_plan_unlinks(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    (phone,) = await rentable(client)
    await client.available_numbers.rent(phone, sms=SmsConfiguration(service_plan_id="plan-1"))
    fake.complete_provisioning(phone)
    await client.active_numbers.update(phone, sms=SmsConfiguration(service_plan_id=""))
    fake.complete_provisioning(phone)
    number = await client.active_numbers.get(phone)
    assert number.sms_configuration is not None
    assert number.sms_configuration.service_plan_id == ""


async def test_active_numbers_list_yields_typed_items(client: NumbersClient) -> None:
    phones = await rentable(client, 3)
    for phone in phones:
        await client.available_numbers.rent(phone)
    listed = [n async for n in client.active_numbers.list(region_code="US", number_type="LOCAL")]
    assert sorted(n.phone_number for n in listed) == sorted(phones)
    assert all(isinstance(n, ActiveNumber) for n in listed)


async def test_listing_sends_singular_capability(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.add_active_numbers(3)
    listed = await client.active_numbers.list(capabilities=["SMS"]).collect()
    (request,) = fake.requests_for("list_active")
    assert ("capability", "SMS") in request.query
    assert all(n.capability and Capability.SMS in n.capability for n in listed)


async def test_callback_configuration_get_and_update(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    secret = "0123456789abcdef0123456789ABCDEF-x"
    updated = await client.callbacks.update(secret)
    assert isinstance(updated, CallbackConfiguration)
    assert updated.hmac_secret == secret
    current = await client.callbacks.get()
    assert current.project_id == fake.project_id
    assert current.hmac_secret == secret
    assert secret not in repr(current)


async def test_user_agent_names_the_library_and_version(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    from numbers_async import __version__

    await client.available_regions.list()
    for request in fake.requests:
        assert request.headers["User-Agent"].startswith(f"numbers-async/{__version__} ")


async def test_all_eleven_operations_with_only_public_names(fake: FakeNumbersServer) -> None:
    """The public contract (docs/reference/) in one script: every call returns a typed model."""
    async with NumbersClient(
        fake.project_id, fake.key_id, fake.key_secret, base_url=fake.url, auth_url=fake.auth_url
    ) as client:
        regions = await client.available_regions.list(types=["LOCAL"])
        found = await client.available_numbers.search("US", "LOCAL", size=2)
        one = await client.available_numbers.get(found[0].phone_number)
        rented = await client.available_numbers.rent(one.phone_number)
        any_number = await client.available_numbers.rent_any("US", "LOCAL")
        listed = [n async for n in client.active_numbers.list(page_size=1)]
        got = await client.active_numbers.get(rented.phone_number)
        updated = await client.active_numbers.update(got.phone_number, display_name="x")
        released = await client.active_numbers.release(any_number.phone_number)
        config = await client.callbacks.update("a" * 40)
        current = await client.callbacks.get()
    assert isinstance(regions[0], AvailableRegion)
    assert isinstance(one, AvailableNumber)
    assert {n.phone_number for n in listed} == {
        rented.phone_number,
        any_number.phone_number,
    }
    assert updated.display_name == "x"
    assert released.expire_at is not None
    assert config == current
    assert api_requests(fake).count("list_active") == 2
