"""Item 5 of the review: plain http, credentials in errors, stdlib JSON, Redis keys, log floods."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from numbers_async import (
    ApiError,
    DecodeError,
    InsecureTransportWarning,
    InvalidEventError,
    NumbersClient,
    RetryPolicy,
)
from numbers_async import _json as json_codec
from numbers_async.redis import RedisEventDeduplicator
from numbers_async.testing import FakeNumbersServer, MockTransport
from numbers_async.webhooks import compute_signature, parse_event
from numbers_async.webhooks._receiver import Receiver
from tests.conftest import RedisServer

SECRET = "whsec-0123456789abcdefABCDEF0123456789"

# --- plain http:// to a host that is not loopback ------------------------------------------------


@pytest.mark.parametrize("argument", ["base_url", "auth_url"])
def test_plain_http_to_a_remote_host_warns(argument: str) -> None:
    # Before: accepted silently, and the key pair (or the token) then crossed the network
    # in clear.
    with pytest.warns(InsecureTransportWarning, match=argument) as caught:
        NumbersClient("project", "key", "secret", **{argument: "http://numbers.example"})  # type: ignore[arg-type]

    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert "secret" not in str(caught[0].message)


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://localhost:9000",
        "http://api.localhost",
        "http://[::1]:8080",
        "https://numbers.example",
    ],
)
def test_loopback_and_https_origins_do_not_warn(origin: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NumbersClient("project", "key", "secret", base_url=origin, auth_url=origin)


async def test_the_fake_server_draws_no_warning(fake: FakeNumbersServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with fake.client() as client:
            await client.available_regions.list()


# --- user info in error messages ---------------------------------------------------------------


def test_user_info_a_server_echoes_is_redacted_in_api_errors() -> None:
    # Before: an error message quoting a callback URL with credentials printed them whole.
    message = 'callbackUrl "https://hook-user:HOOK-PW@hooks.example/sinch" is not reachable'
    error = ApiError(400, message=message)

    assert "HOOK-PW" not in str(error)
    assert "hook-user" not in str(error)
    assert "https://***@hooks.example/sinch" in str(error)


async def test_user_info_in_an_undecodable_body_is_redacted_in_decode_errors() -> None:
    # A 2xx number with a credentialed callback URL, and a field the decoder refuses: the
    # error's excerpt of the body must not carry the credentials (JSON escapes the slashes).
    number = {"phoneNumber": 12025550134, "callbackUrl": "https://hook-user:HOOK-PW@hooks.example"}
    body = json.dumps(number).replace("/", "\\/").encode()
    transport = MockTransport(lambda *request: (200, {"Content-Type": "application/json"}, body))
    once = RetryPolicy(attempts=1)
    async with NumbersClient(
        "p", "k", "s", auth="basic", transport=transport, retry=once
    ) as client:
        with pytest.raises(DecodeError) as caught:
            await client.active_numbers.get("+12025550134")

    assert "HOOK-PW" not in str(caught.value)
    assert "***@hooks.example" in str(caught.value)


# --- NaN, Infinity and out-of-range numbers in the stdlib JSON path ------------------------------


@pytest.mark.parametrize(
    "text",
    ["NaN", "-Infinity", "Infinity", "1e999999", "-1e400", "[1, NaN]", '{"a": Infinity}'],
)
def test_the_stdlib_json_path_refuses_what_orjson_refuses(text: str) -> None:
    # Before: json.loads read NaN and Infinity as floats, and 1e999999 as inf.
    with pytest.raises(ValueError, match=r"not a JSON number|out of range"):
        json_codec._stdlib_loads(text.encode())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18446744073709551615", 18446744073709551615),
        ("-9223372036854775808", -9223372036854775808),
        ("18446744073709551616", 1.8446744073709552e19),
        ("1.5e-400", 0.0),
        ('{"amount": "2.00", "n": 3}', {"amount": "2.00", "n": 3}),
    ],
)
def test_the_stdlib_json_path_reads_numbers_as_orjson_does(text: str, expected: object) -> None:
    decoded = json_codec._stdlib_loads(text.encode())
    assert decoded == expected
    assert type(decoded) is type(expected)
    try:
        import orjson
    except ImportError:  # the tests_stdlib_json session: nothing to compare with
        return
    assert orjson.loads(text) == decoded


@pytest.mark.parametrize("number", ["NaN", "1e999999"])
def test_a_signed_event_with_a_non_finite_number_is_refused_without_orjson(
    monkeypatch: pytest.MonkeyPatch, number: str
) -> None:
    monkeypatch.setattr(json_codec, "loads", json_codec._stdlib_loads)
    body = f'{{"eventId": "e1", "timestamp": "2026-01-01T00:00:00", "n": {number}}}'.encode()

    with pytest.raises(InvalidEventError, match="not valid JSON"):
        parse_event(body, signature=compute_signature(body, SECRET), secret=SECRET, max_age=None)


# --- Redis keys ---------------------------------------------------------------------------------


async def test_no_two_key_and_event_id_pairs_share_a_redis_key(redis_server: RedisServer) -> None:
    # Before: key "a" with event "b:c" and key "a:b" with event "c" both claimed
    # "numbers_async:event:a:b:c", so the second event was taken for a duplicate.
    first = RedisEventDeduplicator.from_url(redis_server.url, key="a")
    second = RedisEventDeduplicator.from_url(redis_server.url, key="a:b")
    third = RedisEventDeduplicator.from_url(redis_server.url, key="a%3Ab")
    try:
        assert await first.claim("b:c")
        assert await second.claim("c")
        assert await third.claim("c")
        assert not await second.claim("c")
    finally:
        for deduplicator in (first, second, third):
            await deduplicator.aclose()


async def test_a_plain_key_keeps_the_redis_key_existing_deployments_wrote(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.from_url(redis_server.url)
    deduplicator = RedisEventDeduplicator.from_url(redis_server.url, key="project-1")
    try:
        await redis.set("numbers_async:event:project-1:evt-before-upgrade", b"1")
        assert not await deduplicator.claim("evt-before-upgrade")
        assert await deduplicator.claim("evt-after")
        assert await redis.exists("numbers_async:event:project-1:evt-after")
    finally:
        await deduplicator.aclose()
        await redis.aclose()


# --- refused deliveries and the log --------------------------------------------------------------


async def test_a_flood_of_forged_deliveries_logs_one_warning_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: one WARNING per refused delivery, so anyone could flood the log.
    clock = [0.0]
    receiver = Receiver(
        asyncio.Queue(),
        secret=SECRET,
        max_body_size=1024,
        deduplicate=10,
        shutdown_timeout=1,
        clock=lambda: clock[0],
    )

    async def forged() -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"eventId": "forged"}'

        reply = await receiver.handle(content_length=None, signature="0" * 40, chunks=chunks())
        assert reply.status == 401

    with caplog.at_level(logging.DEBUG, logger="numbers_async.webhooks"):
        for _ in range(50):
            await forged()
        clock[0] = 59.9
        await forged()
        clock[0] = 60.0
        await forged()

    warnings_logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings_logged) == 2
    assert "(and 50 more since the last warning, logged at DEBUG)" in warnings_logged[1]
    debug_logged = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug_logged) == 50
    assert receiver.rejected == 52
