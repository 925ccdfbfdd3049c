"""The fake's Number Order routes: the reference's shapes, and the rules the fake decides.

Driven through ``client.request``, the one way the client reaches them. The rules are the
fake's own where Sinch states none (``numbers_async/testing/_orders.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from numbers_async import InvalidArgumentError, NotFoundError, NumbersClient
from numbers_async.testing import FakeNumbersServer, Fault

LOOKUP = "numberOrders:lookupNumberRequirements"
CREATE = "numberOrders:createNumberOrder"
DE_LOCAL = {"regionCode": "DE", "numberType": "LOCAL"}
DATA = {
    "businessName": "Acme GmbH",
    "businessRegistrationNumber": "HRB 12345",
    "contactEmail": "numbers@acme.example",
}


async def de_number(client: NumbersClient) -> str:
    (found,) = await client.available_numbers.search("DE", "LOCAL", size=1)
    return found.phone_number


async def create(client: NumbersClient, phone: str, **extra: Any) -> dict[str, Any]:
    body = {**DE_LOCAL, "numberOrderOption": {"phoneNumbers": [phone]}, **extra}
    raw = await client.request("POST", CREATE, json=body, idempotent=False)
    order: dict[str, Any] = raw.parsed
    return order


async def registered(client: NumbersClient, order_id: str) -> None:
    path = f"numberOrders/{order_id}/registration"
    await client.request("PUT", path, json={"data": DATA})


async def test_requirements_are_known_for_numbers_that_need_documentation(
    client: NumbersClient,
) -> None:
    raw = await client.request("POST", LOOKUP, json=DE_LOCAL, idempotent=True)
    assert raw.parsed["quantityOrdersSupported"] is False
    assert sorted(raw.parsed["fields"]) == sorted(DATA)
    assert all(rule["required"] is True for rule in raw.parsed["fields"].values())


@pytest.mark.parametrize("region_type", [("US", "LOCAL"), ("US", "TOLL_FREE"), ("GB", "MOBILE")])
async def test_requirements_of_other_numbers_are_not_found(
    client: NumbersClient, region_type: tuple[str, str]
) -> None:
    region, number_type = region_type
    body = {"regionCode": region, "numberType": number_type}
    with pytest.raises(NotFoundError) as caught:
        await client.request("POST", LOOKUP, json=body, idempotent=True)
    assert caught.value.message == "Number requirements not found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"numberType": "LOCAL"}, "region_code"),
        ({"regionCode": "DE"}, "numberType"),
        ({**DE_LOCAL, "type": "LOCAL"}, "type"),
    ],
)
async def test_a_lookup_body_is_checked(
    client: NumbersClient, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await client.request("POST", LOOKUP, json=body, idempotent=True)
    assert [v.field for v in caught.value.field_violations] == [field]


def utc(text: str) -> datetime:
    """An RFC 3339 UTC time as the fake writes it (Python 3.10 reads no "Z" itself)."""
    assert text.endswith("Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


async def test_an_order_reserves_its_number_and_answers_a_number_order(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    phone = await de_number(client)
    available = fake.available[phone]
    order = await create(client, phone, voiceConfiguration={"type": "EST", "trunkId": "t-1"})
    assert phone not in fake.available
    assert fake.number_orders[order["idNumberOrder"]] == order
    created = utc(order["createTime"])
    assert utc(order["expireTime"]) - created == timedelta(hours=48)
    assert order["updateTime"] == order["createTime"]
    assert {k: v for k, v in order.items() if not k.endswith("Time")} == {
        "projectId": fake.project_id,
        "idNumberOrder": order["idNumberOrder"],
        "regionCode": "DE",
        "numberType": "LOCAL",
        "state": "CREATED",
        "orderNumbers": [
            {
                "phoneNumber": phone,
                "numberPrice": {
                    "setupPrice": available["setupPrice"],
                    "monthlyPrice": available["monthlyPrice"],
                    "paymentIntervalMonths": available["paymentIntervalMonths"],
                },
                "capability": available["capability"],
            }
        ],
        "voiceConfiguration": {"type": "EST", "trunkId": "t-1"},
    }
    raw = await client.request("GET", f"numberOrders/{order['idNumberOrder']}")
    assert raw.parsed == order


async def test_a_reserved_number_cannot_be_ordered_again(client: NumbersClient) -> None:
    phone = await de_number(client)
    await create(client, phone)
    with pytest.raises(NotFoundError, match="is not available"):
        await create(client, phone)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"quantityOrderOption": {"requestedQuantity": 1}}, "quantity_order_option"),
        ({"numberOrderOption": None}, "number_order_option"),
        ({"numberOrderOption": {"phoneNumbers": []}}, "number_order_option.phone_numbers"),
        ({"smsConfiguration": {"campaignId": "c"}}, "sms_configuration.service_plan_id"),
        ({"voiceConfiguration": {"type": "FAX"}}, "voice_configuration.service_id"),
        ({"callbackUrl": 3}, "callback_url"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_an_order_body_is_checked(
    client: NumbersClient, extra: dict[str, Any], field: str
) -> None:
    phone = await de_number(client)
    body = {**DE_LOCAL, "numberOrderOption": {"phoneNumbers": [phone]}, **extra}
    with pytest.raises(InvalidArgumentError) as caught:
        await client.request("POST", CREATE, json=body, idempotent=False)
    assert [v.field for v in caught.value.field_violations] == [field]


async def test_an_order_is_for_one_number_of_the_region_and_type_asked_for(
    client: NumbersClient,
) -> None:
    (us,) = await client.available_numbers.search("US", "LOCAL", size=1)
    with pytest.raises(NotFoundError):
        await create(client, us.phone_number)
    phones = [await de_number(client), "+493000000001"]
    body = {**DE_LOCAL, "numberOrderOption": {"phoneNumbers": phones}}
    with pytest.raises(InvalidArgumentError, match="exactly one number"):
        await client.request("POST", CREATE, json=body, idempotent=False)
    us_body = {"regionCode": "US", "numberType": "LOCAL", "numberOrderOption": {}}
    with pytest.raises(NotFoundError, match="requirements not found"):
        await client.request("POST", CREATE, json=us_body, idempotent=False)


async def test_a_registration_is_empty_until_put_and_then_replaced(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    order_id = (await create(client, await de_number(client)))["idNumberOrder"]
    path = f"numberOrders/{order_id}/registration"
    assert (await client.request("GET", path)).parsed == {"data": {}, "attachments": []}
    put = await client.request("PUT", path, json={"data": DATA})
    assert put.parsed == {"data": DATA, "attachments": []}
    changed = {**DATA, "contactEmail": "legal@acme.example"}
    await client.request("PUT", path, json={"data": changed})
    assert (await client.request("GET", path)).parsed["data"] == changed
    assert fake.registrations[order_id] == {"data": changed, "attachments": []}


async def test_a_registration_must_meet_the_requirements(client: NumbersClient) -> None:
    order_id = (await create(client, await de_number(client)))["idNumberOrder"]
    path = f"numberOrders/{order_id}/registration"
    data = {"businessName": "Acme", "contactEmail": " ", "vatNumber": "DE1"}
    with pytest.raises(InvalidArgumentError) as caught:
        await client.request("PUT", path, json={"data": data})
    assert [v.field for v in caught.value.field_violations] == [
        "data.vatNumber",
        "data.businessRegistrationNumber",
        "data.contactEmail",
    ]
    with pytest.raises(InvalidArgumentError):
        await client.request("PUT", path, json={"requestDetails": {"data": DATA}})


async def test_submitting_needs_the_registration_and_happens_once(
    client: NumbersClient,
) -> None:
    order_id = (await create(client, await de_number(client)))["idNumberOrder"]
    submit = f"numberOrders/{order_id}/submit"
    with pytest.raises(InvalidArgumentError, match="registration"):
        await client.request("POST", submit, idempotent=False)
    await registered(client, order_id)
    raw = await client.request("POST", submit, idempotent=False)
    assert raw.parsed["state"] == "IN_REVIEW"
    assert raw.parsed["updateTime"] >= raw.parsed["createTime"]
    with pytest.raises(InvalidArgumentError, match="state IN_REVIEW"):
        await client.request("POST", submit, idempotent=False)
    with pytest.raises(InvalidArgumentError, match="state IN_REVIEW"):
        await registered(client, order_id)


async def test_an_approved_order_gives_the_project_its_number(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    phone = await de_number(client)
    order = await create(client, phone, voiceConfiguration={"type": "RTC", "appId": "app-1"})
    order_id = order["idNumberOrder"]
    await registered(client, order_id)
    await client.request("POST", f"numberOrders/{order_id}/submit", idempotent=False)
    assert fake.review_number_order(order_id)["state"] == "COMPLETED"
    number = await client.active_numbers.get(phone)
    assert number.region_code == "DE"
    scheduled = fake.active[phone]["voiceConfiguration"]["scheduledVoiceProvisioning"]
    assert (scheduled["appId"], scheduled["status"]) == ("app-1", "WAITING")
    raw = await client.request("GET", f"numberOrders/{order_id}")
    assert raw.parsed["state"] == "COMPLETED"


async def test_a_rejected_order_gives_its_number_back(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    phone = await de_number(client)
    order_id = (await create(client, phone))["idNumberOrder"]
    await registered(client, order_id)
    await client.request("POST", f"numberOrders/{order_id}/submit", idempotent=False)
    assert fake.review_number_order(order_id, approve=False)["state"] == "REJECTED"
    assert phone in fake.available
    assert phone not in fake.active


async def test_only_an_order_in_review_can_be_reviewed(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    order_id = (await create(client, await de_number(client)))["idNumberOrder"]
    with pytest.raises(ValueError, match="CREATED, not IN_REVIEW"):
        fake.review_number_order(order_id)
    with pytest.raises(KeyError):
        fake.review_number_order("no-such-order")


@pytest.mark.parametrize("suffix", ["", "/registration", "/submit"])
async def test_an_unknown_order_is_not_found(client: NumbersClient, suffix: str) -> None:
    method = "POST" if suffix == "/submit" else "GET"
    with pytest.raises(NotFoundError, match="Number order nope not found") as caught:
        await client.request(method, f"numberOrders/nope{suffix}", idempotent=True)  # type: ignore[call-overload]
    (detail,) = caught.value.details
    assert detail["resourceType"] == "sinch.numbers.v1.NumberOrder"


async def test_the_number_order_routes_take_faults(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    fake.inject(Fault.status(503), route="lookup_number_requirements", times=1)
    raw = await client.request("POST", LOOKUP, json=DE_LOCAL, idempotent=True)
    assert raw.retries == 1
