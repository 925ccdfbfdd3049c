"""Nulls and wrong JSON types in 200 bodies: a DecodeError naming the path, or accepted.

Required fields must be present with the right JSON type; optional fields may be null
(the same as absent) but not of another type. Unknown fields and enum values still pass.
Every call runs with one attempt, so the server must have been asked exactly once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from numbers_async import DecodeError, NumbersClient, RetryPolicy
from numbers_async.models import NumberType

from .server import PHONE, HostileServer, active_number, answer_json, available_number, patched

ONE_ATTEMPT = RetryPolicy(attempts=1)


@pytest.fixture
async def client(hostile_server: HostileServer) -> AsyncIterator[NumbersClient]:
    async with hostile_server.client(retry=ONE_ATTEMPT) as numbers_client:
        yield numbers_client


def with_fields(**fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda value: {**value, **fields}


def without(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda value: {k: v for k, v in value.items() if k != name}


def names(error: DecodeError, path: str, expected: str) -> bool:
    """The message names the path and the expected JSON type."""
    text = str(error)
    return path in text and re.search(expected, text, re.IGNORECASE) is not None


def asked_once(server: HostileServer, route: str) -> bool:
    return server.api_calls() == [(server.requests_for(route)[0].method, route)]


# --- required fields ---------------------------------------------------------------------


async def test_null_required_field_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(with_fields(phoneNumber=None)))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.get(PHONE)
    assert names(caught.value, "phoneNumber", "str")
    assert asked_once(hostile_server, "get_active")


async def test_number_in_required_string_field_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(with_fields(phoneNumber=5)))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.get(PHONE)
    assert names(caught.value, "phoneNumber", "str")
    assert asked_once(hostile_server, "get_active")


async def test_missing_required_field_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(without("phoneNumber")))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.get(PHONE)
    assert "phoneNumber" in str(caught.value) or "phone_number" in str(caught.value)
    assert asked_once(hostile_server, "get_active")


async def test_object_instead_of_list_envelope_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("list_active", answer_json({"activeNumbers": {"phoneNumber": PHONE}}))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.list().collect()
    assert names(caught.value, "activeNumbers", "array|list")
    assert asked_once(hostile_server, "list_active")


# --- optional fields ------------------------------------------------------------------------


async def test_null_optional_fields_decode_as_none(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    nulls = with_fields(displayName=None, money=None, capability=None, smsConfiguration=None)
    hostile_server.on("get_active", patched(nulls))
    number = await client.active_numbers.get(PHONE)
    assert number.phone_number == PHONE
    assert (number.display_name, number.money, number.capability) == (None, None, None)
    assert number.sms_configuration is None
    assert asked_once(hostile_server, "get_active")


async def test_string_instead_of_object_in_optional_field_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(with_fields(money="2.00")))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.get(PHONE)
    assert names(caught.value, "money", "object|dict|mapping")
    assert asked_once(hostile_server, "get_active")


async def test_number_in_optional_string_field_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(with_fields(displayName=5)))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.get(PHONE)
    assert names(caught.value, "displayName", "str")
    assert asked_once(hostile_server, "get_active")


async def test_string_instead_of_list_in_optional_field_is_a_decode_error_naming_it(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(with_fields(capability="SMS")))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.get(PHONE)
    assert names(caught.value, "capability", "array|list")
    assert asked_once(hostile_server, "get_active")


async def test_wrong_type_deep_in_a_listing_names_the_full_path(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    numbers = [active_number(f"+1202555000{i}") for i in range(5)]
    numbers[3]["money"] = {"currencyCode": "USD", "amount": ["2.00"]}
    hostile_server.on("list_active", answer_json({"activeNumbers": numbers, "nextPageToken": ""}))
    with pytest.raises(DecodeError) as caught:
        await client.active_numbers.list().collect()
    assert names(caught.value, "activeNumbers[3].money.amount", "str")
    assert asked_once(hostile_server, "list_active")


async def test_wrong_type_in_a_search_result_names_the_full_path(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    found = [available_number(), {**available_number("+12025550135"), "setupPrice": 5}]
    hostile_server.on("search_available", answer_json({"availableNumbers": found}))
    with pytest.raises(DecodeError) as caught:
        await client.available_numbers.search("US", "LOCAL")
    assert names(caught.value, "availableNumbers[1].setupPrice", "object|dict|mapping")
    assert asked_once(hostile_server, "search_available")


# --- what stays accepted ----------------------------------------------------------------------


async def test_unknown_fields_and_enum_values_are_accepted(
    hostile_server: HostileServer, client: NumbersClient
) -> None:
    hostile_server.on("get_active", patched(with_fields(type="SATELLITE", newField={"a": 1})))
    number = await client.active_numbers.get(PHONE)
    assert number.phone_number == PHONE
    assert number.type == "SATELLITE"
    assert not NumberType.is_known(number.type)
    assert asked_once(hostile_server, "get_active")
