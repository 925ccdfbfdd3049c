"""Item 4 of the review, the token items: what the token endpoint sends is bounded.

The token endpoint is configuration the client trusts for its meaning, not for its shape:
a token that could not travel in a header as it is (CR/LF, spaces, anything outside
RFC 6750's ``b64token``) or is not a bearer token is refused before it is kept or sent;
an ``expires_in`` that says nothing usable gets a documented lifetime, so a token is never
fetched per call; and a ``Retry-After`` beyond ``TOKEN_MAX_RETRY_AFTER`` ends the fetch at
once instead of holding every call for as long as the server asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

import pytest

from numbers_async import RetryPolicy, TokenEndpointError
from numbers_async._auth import MAX_LIFETIME, MIN_LIFETIME, OAuth2, parse_token
from numbers_async._retry import TOKEN_MAX_RETRY_AFTER, TOKEN_POLICY, TOKEN_RULES, retry_delay
from numbers_async.errors import RateLimitedError, ServerError
from numbers_async.testing import FakeNumbersServer, Fault
from tests.hostile.server import PHONE, HostileServer, patched

QUICK = RetryPolicy(backoff=0.01, max_backoff=0.02)


def token_answer(**fields: Any) -> bytes:
    """A token response: a good one, with ``fields`` changed (``None`` drops one)."""
    body: dict[str, Any] = {
        "access_token": "tok-good",
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": "",
    }
    for name, value in fields.items():
        if value is None:
            del body[name]
        else:
            body[name] = value
    return json.dumps(body).encode()


def with_token(**fields: Any) -> Any:
    """A hostile-server behaviour: the plausible token answer with ``fields`` changed."""

    def change(value: dict[str, Any]) -> dict[str, Any]:
        value = {**value, **fields}
        return {name: item for name, item in value.items() if item is not None}

    return patched(change)


# --- the token itself ---------------------------------------------------------------------------

BAD_TOKENS = {
    "CR/LF": "tok\r\nX-Injected: yes",
    "LF": "tok\nsecond-line",
    "CR": "tok\rtail",
    "space": "tok en",
    "tab": "tok\ten",
    "NUL": "tok\x00en",
    "non-ASCII": "tökén",
    "quote": 'tok"en',
    "comma": "tok,en",
    "padding inside": "tok=en",
    "padding only": "==",
}


@pytest.mark.parametrize("token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
async def test_a_token_outside_b64token_is_refused_never_kept_and_never_sent(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: kept, then every call failed with aiohttp's bare ValueError on the header (or
    # sent a token a proxy could split into two headers), and the next call tried again.
    async with HostileServer() as server:
        server.on("token", with_token(access_token=token))
        with caplog.at_level(logging.DEBUG, logger="numbers_async"):
            async with server.client(retry=QUICK) as client:
                for _ in range(2):
                    with pytest.raises(TokenEndpointError) as caught:
                        await asyncio.wait_for(client.active_numbers.get(PHONE), 5)

    error = caught.value
    assert "not a valid bearer token" in str(error)
    assert error.status == 200
    assert error.attempts == 1  # a bad token is not retried: the endpoint meant it
    # Never sent: the API saw nothing; not kept: the second call asked for a token again.
    assert server.api_calls() == []
    assert server.routes() == ["token", "token"]
    for text in (str(error), repr(error), caplog.text):
        assert token not in text
        assert "tok" not in text.replace("token", "")


@pytest.mark.parametrize(
    "token",
    ["abc", "A-Z_a.z~0+9/", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "dG9r==", "x="],
)
def test_a_b64token_is_accepted_as_sent(token: str) -> None:
    assert parse_token(200, token_answer(access_token=token)).access_token == token


# --- token_type ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mac", "DPoP", "N_A", "", "bearer ", 5, True, ["bearer"]])
async def test_a_token_that_is_not_a_bearer_token_is_refused(kind: object) -> None:
    # Before: any token_type was ignored and the token sent as a bearer token.
    async with HostileServer() as server:
        server.on("token", with_token(token_type=kind))
        async with server.client(retry=QUICK) as client:
            with pytest.raises(TokenEndpointError) as caught:
                await asyncio.wait_for(client.active_numbers.get(PHONE), 5)

    message = str(caught.value)
    assert "not a bearer token" in message
    if kind in ("mac", "DPoP", "N_A"):
        assert f"of type {kind!r}" in message  # a short plain name is quoted, to debug with
    else:
        assert "token_type that is not a short name" in message
    assert server.api_calls() == []
    assert "tok-1" not in str(caught.value)


@pytest.mark.parametrize("kind", ["bearer", "Bearer", "BEARER", "bEaReR", None])
def test_bearer_in_any_case_or_no_token_type_is_accepted(kind: str | None) -> None:
    # No token_type at all is taken as bearer: it is the only kind a token endpoint for
    # client credentials issues, and refusing it would refuse working tokens.
    body = token_answer(token_type=kind) if kind else token_answer(token_type=None)
    assert parse_token(200, body).access_token == "tok-good"


def test_a_null_token_type_is_taken_as_absent() -> None:
    body = json.dumps({"access_token": "tok-good", "token_type": None, "expires_in": 60})
    assert parse_token(200, body.encode()).access_token == "tok-good"


# --- expires_in ---------------------------------------------------------------------------------

SHORT = {
    "absent": None,
    "zero": 0,
    "negative": -5,
    "tiny": 0.001,
    "one second": 1,
    "a numeric string below the minimum": "30",
    "not a number (string)": "soon",
    "not a number (NaN string)": "NaN",
    "negative infinity": "-Infinity",
    "a boolean": True,
    "an object": {"seconds": 3600},
    "a huge negative integer": -(10**30),
}


@pytest.mark.parametrize("expires_in", list(SHORT.values()), ids=list(SHORT))
def test_an_unusable_or_short_lifetime_is_the_documented_minimum(expires_in: object) -> None:
    # Before: absent was an hour, -5 or NaN a token fetched per call, "soon" no token at all.
    if expires_in is None:
        body = token_answer(expires_in=None)
    else:
        body = token_answer().replace(b"3600", json.dumps(expires_in).encode())
    grant = parse_token(200, body)
    assert grant.lifetime == MIN_LIFETIME == 60.0
    assert grant.adjusted  # why, for the warning


HUGE = {"a day and a second": 86_401, "1e300": 1e300, "Infinity": "Infinity", "int": 10**30}


@pytest.mark.parametrize("expires_in", list(HUGE.values()), ids=list(HUGE))
def test_an_absurd_lifetime_is_capped(expires_in: object) -> None:
    body = token_answer().replace(b"3600", json.dumps(expires_in).encode())
    grant = parse_token(200, body)
    assert grant.lifetime == MAX_LIFETIME == 86_400.0
    assert grant.adjusted


def test_a_number_beyond_a_double_makes_the_answer_unreadable() -> None:
    # The JSON decoder refuses it (orjson does, and the standard library path as orjson).
    with pytest.raises(TokenEndpointError, match="unreadable"):
        parse_token(200, token_answer().replace(b"3600", b"1" + b"0" * 400))


@pytest.mark.parametrize("expires_in", [60, 3599, "3600", 86_400, 1234.5])
def test_a_lifetime_within_the_bounds_is_taken_as_given(expires_in: object) -> None:
    body = token_answer().replace(b"3600", json.dumps(expires_in).encode())
    grant = parse_token(200, body)
    assert grant.lifetime == float(expires_in)  # type: ignore[arg-type]
    assert grant.adjusted is None


def test_a_capped_token_is_refreshed_by_the_cap_not_after_centuries() -> None:
    now = 0.0
    auth = OAuth2("key", "secret", "https://auth.example/oauth2/token", clock=lambda: now)
    auth.store(parse_token(200, token_answer(expires_in=1e300)), started=0.0)
    assert auth.cached() is not None
    now = MAX_LIFETIME  # refreshed a minute early at the latest; gone by the cap
    assert auth.cached() is None
    assert auth.usable() is None


@pytest.mark.parametrize("expires_in", [-5, 0, "NaN", None], ids=["-5", "0", "NaN", "absent"])
async def test_a_token_without_a_usable_lifetime_is_not_fetched_per_call(
    expires_in: object, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: -5, 0 and NaN made every call fetch a token first (NaN: never "fresh").
    async with HostileServer() as server:
        if expires_in is None:
            server.on("token", with_token(expires_in=None))
        else:
            server.on("token", with_token(expires_in=expires_in))
        with caplog.at_level(logging.DEBUG, logger="numbers_async"):
            async with server.client(retry=QUICK) as client:
                for _ in range(20):
                    await asyncio.wait_for(client.active_numbers.get(PHONE), 5)

    assert server.routes().count("token") == 1
    assert server.routes().count("get_active") == 20
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "expires_in" in warnings[0].getMessage()
    assert "60 s" in warnings[0].getMessage()


def test_the_lifetime_warning_is_given_once_per_client(caplog: pytest.LogCaptureFixture) -> None:
    auth = OAuth2("key", "secret", "https://auth.example/oauth2/token", clock=lambda: 0.0)
    with caplog.at_level(logging.DEBUG, logger="numbers_async"):
        for _ in range(3):
            auth.store(parse_token(200, token_answer(expires_in=-5)), started=0.0)
    levels = [r.levelno for r in caplog.records if "expires_in" in r.getMessage()]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]


async def test_calls_queued_with_an_expired_token_share_one_new_token(
    fake: FakeNumbersServer,
) -> None:
    # Each call takes its token before it waits for a slot, so 38 of these 40 go out with
    # the expired one after it was already replaced. Before: each such 401 fetched a token
    # of its own (21 token requests for 40 calls), and under load the sender's
    # full-slot-pool test saw 5 to 13 where it expects 2.
    async with fake.client(max_concurrency=2) as client:
        await client.callbacks.get()
        fake.expire_tokens()
        fake.inject(Fault.latency(0.05), route="get_callbacks", times=None)
        await asyncio.wait_for(asyncio.gather(*(client.callbacks.get() for _ in range(40))), 30)
    assert fake.token_requests == 2
    answers = [r.status for r in fake.requests_for("get_callbacks")]
    assert answers.count(200) == 41  # every call answered, each expired attempt replayed


# --- Retry-After from the token endpoint ---------------------------------------------------------


def test_the_token_endpoint_retry_after_cap_is_half_a_minute() -> None:
    assert TOKEN_MAX_RETRY_AFTER == 30.0
    assert TOKEN_POLICY.max_retry_after == TOKEN_MAX_RETRY_AFTER


@pytest.mark.parametrize("status", [429, 503])
def test_a_token_retry_after_up_to_the_cap_is_waited_and_beyond_it_is_not(status: int) -> None:
    def failure(retry_after: float) -> Any:
        kind = RateLimitedError if status == 429 else ServerError
        return kind(status, retry_after=retry_after, operation="oauth2.token")

    wait = retry_delay(failure(30.0), attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES)
    assert wait == 30.0
    assert retry_delay(failure(30.5), attempt=1, policy=TOKEN_POLICY, rules=TOKEN_RULES) is None


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("retry_after", ["31", "86400", "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_a_token_retry_after_beyond_the_cap_fails_within_a_second(
    fake: FakeNumbersServer, status: int, retry_after: str
) -> None:
    # Before: the fetch slept as long as the server said (up to an hour), and every call
    # waiting for a token with it.
    fake.inject(Fault.status(status, retry_after=retry_after), route="token")
    started = time.monotonic()
    async with fake.client(retry=QUICK) as client:
        with pytest.raises(TokenEndpointError) as caught:
            await asyncio.wait_for(client.available_regions.list(), 10)
    # One loopback round trip and no sleep; a second is generous on a loaded 2-core machine.
    assert time.monotonic() - started < 1.0

    error = caught.value
    assert error.status == status
    assert error.attempts == 1
    assert "Retry-After" in str(error)
    assert f"{TOKEN_MAX_RETRY_AFTER:g} s" in str(error)
    assert fake.token_requests == 1
    assert [r.route for r in fake.requests if r.route != "token"] == []


async def test_a_short_token_retry_after_is_still_waited(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(429, retry_after="0"), route="token", times=1)
    async with fake.client(retry=QUICK) as client:
        regions = await asyncio.wait_for(client.available_regions.list(), 10)
    assert regions
    assert fake.token_requests == 2


def test_lifetime_bounds_are_finite_and_ordered() -> None:
    assert 0 < MIN_LIFETIME < MAX_LIFETIME < math.inf
