"""Retries, deadlines and decoding driven through ``MockTransport``: no sockets at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import aiohttp
import pytest

from numbers_async import (
    AmbiguousOutcomeError,
    InvalidInputError,
    NumbersClient,
    NumbersTimeoutError,
    ResponseTooLargeError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    Timeouts,
    Transport,
    TransportError,
)
from numbers_async.testing import MockTransport

CALLBACKS = {"projectId": "p", "hmacSecret": ""}
JSON = {"Content-Type": "application/json"}
Answer = tuple[int, Mapping[str, str], bytes | str]


def scripted(*answers: Answer) -> MockTransport:
    """A transport answering with ``answers`` in turn, then with the last one forever."""
    queue = list(answers)

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return MockTransport(handler)


def basic_client(
    transport: MockTransport,
    *,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> NumbersClient:
    return NumbersClient(
        "p", "key", "secret", auth="basic", transport=transport, retry=retry, timeouts=timeouts
    )


def test_mock_transport_is_a_transport() -> None:
    assert isinstance(scripted((200, {}, b"")), Transport)


async def test_503_503_200_is_retried_twice_and_each_retry_is_reported() -> None:
    transport = scripted(
        (503, {}, "<html>busy</html>"), (503, {}, b""), (200, JSON, json.dumps(CALLBACKS))
    )
    events: list[RetryEvent] = []
    retry = RetryPolicy(backoff=0.001, max_backoff=0.001, on_retry=events.append)
    async with basic_client(transport, retry=retry) as client:
        configuration = await client.callbacks.get()
    assert configuration.project_id == "p"
    assert [(e.operation, e.attempt, e.reason) for e in events] == [
        ("callbacks.get", 1, "HTTP 503"),
        ("callbacks.get", 2, "HTTP 503"),
    ]
    assert all(isinstance(e.caused_by, ServerError) for e in events)
    assert [r.url for r in transport.requests] == [
        "https://numbers.api.sinch.com/v1/projects/p/callbackConfiguration"
    ] * 3


async def test_a_deadline_stops_a_retry_that_could_not_start_in_time() -> None:
    transport = scripted((503, {}, b""), (503, {"Retry-After": "1"}, b""), (200, JSON, b"{}"))
    events: list[RetryEvent] = []
    retry = RetryPolicy(backoff=0.001, max_backoff=0.001, on_retry=events.append)
    async with basic_client(transport, retry=retry, timeouts=Timeouts(deadline=0.5)) as client:
        with pytest.raises(ServerError) as caught:
            await client.callbacks.get()
    assert caught.value.retry_after == 1.0  # waiting 1 s would overshoot the 0.5 s deadline
    assert len(transport.requests) == 2
    assert [e.attempt for e in events] == [1]


async def test_a_slow_async_handler_times_out_per_attempt() -> None:
    async def handler(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        await asyncio.sleep(1)
        return 200, JSON, json.dumps(CALLBACKS)

    retry = RetryPolicy(attempts=2, backoff=0.001)
    transport = MockTransport(handler)
    async with basic_client(transport, retry=retry, timeouts=Timeouts(total=0.05)) as client:
        with pytest.raises(NumbersTimeoutError):
            await client.callbacks.get()
    assert len(transport.requests) == 2


async def test_a_simulated_reset_after_a_rent_any_is_ambiguous_and_not_repeated() -> None:
    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        raise TransportError(f"{method} {url}: connection reset", request_sent=True)

    transport = MockTransport(handler)
    async with basic_client(transport) as client:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent_any("US", "LOCAL")
    assert isinstance(caught.value.__cause__, TransportError)
    assert len(transport.requests) == 1


async def test_a_simulated_connect_failure_is_retried_even_for_rent_any() -> None:
    rented = {"phoneNumber": "+12025550134", "projectId": "p"}
    calls = 0

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TransportError("cannot connect", request_sent=False)
        return 200, JSON, json.dumps(rented)

    async with basic_client(MockTransport(handler), retry=RetryPolicy(backoff=0.001)) as client:
        number = await client.available_numbers.rent_any("US", "LOCAL")
    assert number.phone_number == "+12025550134"
    assert calls == 2


async def test_oauth2_fetches_its_token_through_the_transport_and_reports_token_retries() -> None:
    token_answers: list[Answer] = [
        (429, {}, b""),
        (200, JSON, json.dumps({"access_token": "t0k3n", "expires_in": 3600})),
    ]

    def handler(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
        if url == "https://auth.example/oauth2/token":
            assert method == "POST"
            assert body == b"grant_type=client_credentials"
            return token_answers.pop(0)
        assert headers["Authorization"] == "Bearer t0k3n"
        return 200, JSON, json.dumps(CALLBACKS)

    events: list[RetryEvent] = []
    transport = MockTransport(handler)
    async with NumbersClient(
        "p",
        "key",
        "secret",
        auth_url="https://auth.example/oauth2/token",
        transport=transport,
        retry=RetryPolicy(on_retry=events.append),
    ) as client:
        await client.callbacks.get()
    assert [(e.operation, e.attempt, e.reason) for e in events] == [("oauth2.token", 1, "HTTP 429")]
    assert [r.method for r in transport.requests] == ["POST", "POST", "GET"]


async def test_a_transport_and_a_session_together_are_refused() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidInputError) as caught:
            NumbersClient("p", "k", "s", transport=scripted((200, {}, b"")), session=session)
    assert caught.value.argument == "transport"


def test_something_that_is_not_a_transport_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "s", transport=object())  # type: ignore[arg-type]
    assert caught.value.argument == "transport"


async def test_a_body_over_max_response_size_from_any_transport_is_refused() -> None:
    transport = scripted((200, JSON, json.dumps({**CALLBACKS, "hmacSecret": "h" * 200})))
    async with NumbersClient(
        "p", "key", "secret", auth="basic", transport=transport, max_response_size=100
    ) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await client.callbacks.get()
    assert caught.value.limit == 100
    assert "max_response_size=100" in str(caught.value)
    assert len(transport.requests) == 1  # not retried: the same answer would be as large


async def test_a_body_at_max_response_size_is_accepted() -> None:
    body = json.dumps(CALLBACKS).encode()
    transport = scripted((200, JSON, body))
    async with NumbersClient(
        "p", "key", "secret", auth="basic", transport=transport, max_response_size=len(body)
    ) as client:
        configuration = await client.callbacks.get()
    assert configuration.project_id == "p"


@pytest.mark.parametrize("size", [0, -1, 1.5, "big", True])
def test_max_response_size_must_be_a_positive_integer_or_none(size: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "s", max_response_size=size)  # type: ignore[arg-type]
    assert caught.value.argument == "max_response_size"


def test_max_response_size_none_disables_the_limit() -> None:
    NumbersClient("p", "k", "s", max_response_size=None)


def _slow_hook(event: RetryEvent) -> None:
    import time

    time.sleep(0.3)  # a retry hook that outlasts the call's deadline


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("rent", AmbiguousOutcomeError),
        ("rent_any", AmbiguousOutcomeError),
        ("get", NumbersTimeoutError),
    ],
)
async def test_a_deadline_passed_during_the_backoff_settles_what_an_attempt_may_have_done(
    call: str, expected: type[Exception]
) -> None:
    transport = scripted((503, {}, b""))
    retry = RetryPolicy(backoff=0.01, max_backoff=0.01, on_retry=_slow_hook)
    async with basic_client(transport, retry=retry, timeouts=Timeouts(deadline=0.2)) as client:
        calls = {
            "rent": lambda: client.available_numbers.rent("+12065550100"),
            "rent_any": lambda: client.available_numbers.rent_any("US", "LOCAL"),
            "get": lambda: client.active_numbers.get("+12065550100"),
        }
        with pytest.raises(expected):
            await calls[call]()

    # One attempt, answered 503 (maybe processed); the deadline passed in the hook, so no
    # second attempt was sent, and a rent was not reported as "never sent".
    assert len(transport.requests) == 1
