"""HTML, empty and non-object JSON bodies on a 200.

On a read, such a body is a DecodeError. On a call that costs money the request was
processed, so the body is no evidence of what happened: a rent is reconciled with a GET,
a rentAny is an AmbiguousOutcomeError.
"""

from __future__ import annotations

from typing import Any

import pytest

from numbers_async import AmbiguousOutcomeError, DecodeError, RetryPolicy

from .server import PHONE, HostileServer, answer_bytes, answer_json

ONE_ATTEMPT = RetryPolicy(attempts=1)
QUICK = RetryPolicy(backoff=0.01, max_backoff=0.02)
HTML = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
NOT_OBJECTS: list[Any] = [[], [{"phoneNumber": PHONE}], "text", 42, None, True]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(HTML, "text/html"), (b"", "application/json"), (b"   ", "application/json")],
    ids=["html", "empty", "blank"],
)
async def test_non_json_200_on_a_read_is_a_decode_error(
    hostile_server: HostileServer, body: bytes, content_type: str
) -> None:
    hostile_server.on("get_active", answer_bytes(body, content_type=content_type))
    async with hostile_server.client(retry=ONE_ATTEMPT) as client:
        with pytest.raises(DecodeError) as caught:
            await client.active_numbers.get(PHONE)
    assert caught.value.status == 200
    assert caught.value.body == body
    assert hostile_server.api_calls() == [("GET", "get_active")]


@pytest.mark.parametrize("value", NOT_OBJECTS, ids=repr)
async def test_non_object_json_200_on_a_read_is_a_decode_error(
    hostile_server: HostileServer, value: Any
) -> None:
    hostile_server.on("get_active", answer_json(value))
    async with hostile_server.client(retry=ONE_ATTEMPT) as client:
        with pytest.raises(DecodeError) as caught:
            await client.active_numbers.get(PHONE)
    assert caught.value.status == 200
    assert hostile_server.api_calls() == [("GET", "get_active")]


async def test_html_200_on_rent_any_is_ambiguous_and_not_retried(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("rent_any", answer_bytes(HTML, content_type="text/html"))
    async with hostile_server.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError):
            await client.available_numbers.rent_any("US", "LOCAL")
    assert hostile_server.api_calls() == [("POST", "rent_any")]


@pytest.mark.parametrize("value", NOT_OBJECTS, ids=repr)
async def test_non_object_json_200_on_rent_any_is_ambiguous_and_not_retried(
    hostile_server: HostileServer, value: Any
) -> None:
    hostile_server.on("rent_any", answer_json(value))
    async with hostile_server.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError):
            await client.available_numbers.rent_any("US", "LOCAL")
    assert hostile_server.api_calls() == [("POST", "rent_any")]


async def test_html_200_on_rent_is_reconciled_with_a_get(hostile_server: HostileServer) -> None:
    hostile_server.on("rent", answer_bytes(HTML, content_type="text/html"), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    # Processed, so the body is no evidence either way: one GET settles it, no second rent.
    assert hostile_server.api_calls() == [("POST", "rent"), ("GET", "get_active")]


@pytest.mark.parametrize("value", NOT_OBJECTS, ids=repr)
async def test_non_object_json_200_on_rent_is_reconciled_with_a_get(
    hostile_server: HostileServer, value: Any
) -> None:
    hostile_server.on("rent", answer_json(value), times=1)
    async with hostile_server.client(retry=QUICK) as client:
        number = await client.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    # Processed, so the body is no evidence either way: one GET settles it, no second rent.
    assert hostile_server.api_calls() == [("POST", "rent"), ("GET", "get_active")]
