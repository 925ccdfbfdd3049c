"""Auth, the sender and error mapping, over real HTTP to the fake server."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import warnings

import aiohttp
import pytest

from numbers_async import (
    ApiError,
    AuthenticationError,
    CallbackConfiguration,
    ClientClosedError,
    DecodeError,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    NumbersClient,
    NumbersTimeoutError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    SmsConfiguration,
    Timeouts,
    TransportError,
)
from numbers_async import _operations as ops
from numbers_async._call import CallOptions
from numbers_async._responses import decode
from numbers_async.testing import FakeNumbersServer, Fault

from .conftest import api_requests, bare_sender

NO_RETRY = RetryPolicy(attempts=1)

# --- OAuth2 ------------------------------------------------------------------------------


async def test_one_token_serves_many_requests(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    await asyncio.gather(*(client.available_regions.list() for _ in range(20)))
    assert fake.token_requests == 1
    bearer = {r.headers["Authorization"] for r in fake.requests if r.route != "token"}
    assert len(bearer) == 1
    assert bearer.pop().startswith("Bearer ")


async def test_fifty_concurrent_calls_after_expiry_cause_one_token_request(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    await client.available_regions.list()
    fake.expire_tokens()
    results = await asyncio.gather(*(client.available_regions.list() for _ in range(50)))
    assert len(results) == 50
    assert fake.token_requests == 2
    statuses = [r.status for r in fake.requests if r.route == "list_regions"]
    assert statuses.count(401) == 50  # each saw "expired" once, then replayed with the new token
    assert statuses.count(200) == 51


async def test_token_is_refreshed_ahead_of_expiry_without_any_401(
    fake: FakeNumbersServer,
) -> None:
    # The token's clock is the test's: it jumps past the refresh point (a minute before the
    # hour's token expires) while the fake, on real time, still honours the token. A call
    # that waited for expiry would meet a 401; fifty calls share the one refresh.
    now = 0.0
    sender = bare_sender(fake, max_concurrency=10, clock=lambda: now)
    options = CallOptions(RetryPolicy(), Timeouts())
    read = functools.partial(decode, cls=CallbackConfiguration)
    try:
        await sender.send(ops.get_callbacks(), options, read, None)
        now = fake.token_lifetime - 59
        await asyncio.gather(
            *(sender.send(ops.get_callbacks(), options, read, None) for _ in range(50))
        )
    finally:
        await sender.aclose()
    assert fake.token_requests == 2
    assert all(r.status == 200 for r in fake.requests)
    tokens = {r.headers["Authorization"] for r in fake.requests_for("get_callbacks")}
    assert len(tokens) == 2


async def test_expired_token_replay_happens_only_once(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.expire_token(), route="get_callbacks", times=2)
    with pytest.raises(AuthenticationError) as caught:
        await client.callbacks.get()
    assert caught.value.status == 401
    assert api_requests(fake) == ["get_callbacks", "get_callbacks"]


async def test_wrong_key_secret_is_an_authentication_error_without_the_secret(
    fake: FakeNumbersServer,
) -> None:
    secret = "wrong-secret-value-123"
    async with NumbersClient(
        fake.project_id, fake.key_id, secret, base_url=fake.url, auth_url=fake.auth_url
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.available_regions.list()
    assert caught.value.status == 401
    assert "token endpoint" in str(caught.value)
    assert secret not in str(caught.value)
    assert fake.token_requests == 1  # a 401 from the token endpoint is not retried
    assert api_requests(fake) == []


async def test_token_endpoint_outage_is_retried_then_recovers(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(503, body="html"), route="token", times=2)
    await client.available_regions.list()
    assert fake.token_requests == 3


async def test_a_cancelled_waiter_does_not_break_the_shared_refresh(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.latency(0.2), route="token")
    first = asyncio.create_task(client.available_regions.list())
    others = [asyncio.create_task(client.available_regions.list()) for _ in range(5)]
    await asyncio.sleep(0.05)  # all six are waiting for the one token request
    first.cancel()
    results = await asyncio.gather(*others)
    assert len(results) == 5
    assert first.cancelled()
    assert fake.token_requests == 1


# --- Basic auth --------------------------------------------------------------------------


async def test_basic_auth_sends_the_key_pair_and_never_asks_for_a_token(
    fake: FakeNumbersServer,
) -> None:
    async with fake.client(auth="basic") as client:
        await client.available_regions.list()
        await client.callbacks.get()
    assert fake.token_requests == 0
    assert all(r.headers["Authorization"].startswith("Basic ") for r in fake.requests)


async def test_basic_auth_with_a_wrong_secret_is_401(fake: FakeNumbersServer) -> None:
    async with NumbersClient(
        fake.project_id, fake.key_id, "nope", auth="basic", base_url=fake.url
    ) as client:
        with pytest.raises(AuthenticationError):
            await client.available_regions.list()


# --- error mapping over HTTP -------------------------------------------------------------


async def test_another_project_is_permission_denied(fake: FakeNumbersServer) -> None:
    async with NumbersClient(
        "someone-else", fake.key_id, fake.key_secret, base_url=fake.url, auth_url=fake.auth_url
    ) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.available_regions.list()
    assert caught.value.status_text == "PERMISSION_DENIED"


async def test_server_side_validation_is_invalid_argument_with_details(
    client: NumbersClient,
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await client.available_numbers.rent_any("SE", "MOBILE")  # rentAny is US LOCAL only
    assert caught.value.status == 400
    assert caught.value.status_text == "INVALID_ARGUMENT"


async def test_unknown_number_is_not_found_with_resource_info(client: NumbersClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.active_numbers.release("+12025550199")
    info = caught.value.resource_info
    assert info is not None
    assert info["resourceName"] == "+12025550199"


async def test_429_is_rate_limited_with_retry_after(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    fake.inject(Fault.status(429, retry_after="7"), route="list_regions")
    with pytest.raises(RateLimitedError) as caught:
        await client.with_options(retry=NO_RETRY).available_regions.list()
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("body", ["json", "html", "empty"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_bodies_of_every_kind_are_server_errors(
    client: NumbersClient, fake: FakeNumbersServer, status: int, body: str
) -> None:
    fake.inject(Fault.status(status, body=body), route="get_callbacks")  # type: ignore[arg-type]
    with pytest.raises(ServerError) as caught:
        await client.with_options(retry=NO_RETRY).callbacks.get()
    assert caught.value.status == status
    assert isinstance(caught.value, ApiError)


async def test_truncated_json_on_200_is_a_decode_error(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.truncated_json(), route="list_regions")
    async with fake.client(retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(DecodeError) as caught:
            await client.available_regions.list()
    assert caught.value.status == 200


async def test_connection_reset_is_a_transport_error(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    # Every time: aiohttp itself retries an idempotent request once on a dropped keep-alive.
    fault = fake.inject(Fault.reset_before(), route="get_callbacks", times=None)
    with pytest.raises(TransportError):
        await client.callbacks.get()
    fault.cancel()
    assert (await client.callbacks.get()).project_id == fake.project_id  # the client recovers


async def test_a_slow_response_times_out(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.latency(1.0), route="get_callbacks")
    async with fake.client(timeouts=Timeouts(total=0.2), retry=NO_RETRY) as client:
        with pytest.raises(NumbersTimeoutError) as caught:
            await client.callbacks.get()
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, TransportError)


# --- input is checked before anything is sent -------------------------------------------


async def test_invalid_input_never_reaches_the_server(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    attempts = [
        client.available_numbers.search("USA", "LOCAL"),
        client.available_numbers.search("US", "LANDLINE"),  # type: ignore[arg-type]
        client.available_numbers.get("2025550134"),
        client.available_numbers.rent("+12025550134", sms="plan"),  # type: ignore[arg-type]
        client.available_numbers.rent_any("US", "LOCAL", capabilities=["MMS"]),  # type: ignore[list-item]
        client.active_numbers.update("+12025550134"),
        client.active_numbers.release("+1 202 555 0134"),
        client.callbacks.update("too-short"),
        client.available_regions.list(types=["PREMIUM"]),  # type: ignore[list-item]
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInputError):
            await attempt
    with pytest.raises(InvalidInputError):
        client.active_numbers.list(page_size=0)
    with pytest.raises(InvalidInputError):
        client.active_numbers.list(order_by="price")  # type: ignore[arg-type]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"project_id": ""}, "project_id"),
        ({"key_secret": ""}, "key_secret"),
        ({"auth": "digest"}, "auth"),
        ({"base_url": "numbers.api.sinch.com"}, "base_url"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"timeouts": 5}, "timeouts"),
        ({"session": object()}, "session"),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs: dict[str, object], argument: str) -> None:
    arguments: dict[str, object] = {"project_id": "p", "key_id": "k", "key_secret": "s"} | kwargs
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient(**arguments)  # type: ignore[arg-type]
    assert caught.value.argument == argument


def test_bad_timeouts_are_named() -> None:
    with pytest.raises(InvalidInputError, match=r"Timeouts\.read"):
        Timeouts(read=0)


# --- session ownership, concurrency, secrets --------------------------------------------


async def test_an_injected_session_stays_open_after_the_client_closes(
    fake: FakeNumbersServer,
) -> None:
    async with aiohttp.ClientSession() as session:
        async with fake.client(session=session) as client:
            await client.available_regions.list()
        assert client.closed
        assert not session.closed
        async with session.get(fake.url + "/v1/projects/x/availableRegions") as response:
            assert response.status == 401  # still usable


async def test_a_call_on_an_injected_session_its_owner_closed_is_refused_unsent(
    fake: FakeNumbersServer,
) -> None:
    # aiohttp refuses a closed session with a bare RuntimeError before sending anything;
    # a rent must end in the library's ClientClosedError, and nothing was rented.
    session = aiohttp.ClientSession()
    async with fake.client(session=session, retry=NO_RETRY) as client:
        await client.available_regions.list()  # the token is fetched: only the rent is left
        (number,) = await client.available_numbers.search("US", "LOCAL", size=1)
        await session.close()
        with pytest.raises(ClientClosedError, match="session is closed; nothing was sent"):
            await client.available_numbers.rent(number.phone_number)

    assert fake.requests_for("rent") == []
    assert fake.rent_counts == {}


async def test_a_runtime_error_from_an_open_session_is_not_taken_for_a_closed_one(
    fake: FakeNumbersServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a closed session's refusal means "nothing was sent"; any other RuntimeError
    # from aiohttp is a fault of its own and goes up as it is.
    async with fake.client(retry=NO_RETRY) as client:
        await client.available_regions.list()

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("not about closing")

        monkeypatch.setattr(aiohttp.ClientSession, "request", broken)
        with pytest.raises(RuntimeError, match="not about closing") as caught:
            await client.callbacks.get()

    assert not isinstance(caught.value, ClientClosedError)


async def test_a_closed_client_refuses_new_calls(fake: FakeNumbersServer) -> None:
    client = fake.client()
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await client.callbacks.get()


async def test_closing_leaves_no_unclosed_session_or_resource_warning(
    fake: FakeNumbersServer,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = fake.client()
        await client.available_regions.list()
        await client.aclose()
        del client
        gc.collect()
    assert [str(w.message) for w in caught] == []


async def test_max_concurrency_bounds_requests_in_flight(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.latency(0.02), route="get_callbacks", times=None)
    async with fake.client(max_concurrency=4) as client:
        await asyncio.gather(*(client.callbacks.get() for _ in range(40)))
    assert fake.max_in_flight <= 4


async def test_secrets_never_reach_repr_or_debug_logs(
    fake: FakeNumbersServer, caplog: pytest.LogCaptureFixture
) -> None:
    hmac_secret = "h" * 40
    caplog.set_level(logging.DEBUG, logger="numbers_async")
    async with fake.client() as client:
        fake.expire_tokens()
        await client.callbacks.update(hmac_secret)
        await client.available_numbers.rent_any("US", "LOCAL", sms=SmsConfiguration("plan"))
        text = repr(client) + caplog.text
    tokens = {r.headers["Authorization"].split()[-1] for r in fake.requests if r.route != "token"}
    assert caplog.records  # something was logged at DEBUG
    for secret in (fake.key_secret, hmac_secret, *tokens):
        assert secret not in text


def test_from_env_reads_the_sinch_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINCH_PROJECT_ID", "proj")
    monkeypatch.setenv("SINCH_KEY_ID", "kid")
    monkeypatch.setenv("SINCH_KEY_SECRET", "ksecret")
    monkeypatch.setenv("SINCH_NUMBERS_URL", "http://127.0.0.1:9")
    client = NumbersClient.from_env()
    assert client.project_id == "proj"
    assert "ksecret" not in repr(client)
    assert "http://127.0.0.1:9" in repr(client)


def test_from_env_names_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SINCH_PROJECT_ID", "SINCH_KEY_ID", "SINCH_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidInputError, match="SINCH_PROJECT_ID"):
        NumbersClient.from_env()


# --- construction validates what cannot work ------------------------------------------------

BAD_ORIGINS = {
    "port above 65535": "http://127.0.0.1:99999",
    "port 0": "http://127.0.0.1:0",
    "newline": "https://numbers.api.sinch.com\n",
    "space": "https://numbers api.sinch.com",
    "query string": "https://numbers.api.sinch.com/?region=eu",
    "fragment": "https://numbers.api.sinch.com/#v1",
    "no host": "https://",
    "not http": "ftp://numbers.api.sinch.com",
    "no scheme": "numbers.api.sinch.com",
}


@pytest.mark.parametrize("argument", ["base_url", "auth_url"])
@pytest.mark.parametrize("url", list(BAD_ORIGINS.values()), ids=list(BAD_ORIGINS))
def test_an_origin_that_cannot_work_is_refused_at_construction(argument: str, url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "s", **{argument: url})  # type: ignore[arg-type]
    assert caught.value.argument == argument


def test_a_port_out_of_range_is_named_as_such() -> None:
    with pytest.raises(InvalidInputError, match="port from 1 to 65535"):
        NumbersClient("p", "k", "s", base_url="http://127.0.0.1:99999")


def test_credentials_in_an_origin_are_refused_and_redacted_in_the_error() -> None:
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "s", base_url="https://user:PASS@proxy.example:8443")
    assert "PASS" not in str(caught.value)
    assert "https://***@proxy.example:8443" in str(caught.value)
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "s", auth_url="https://user:PASS@proxy.example/?a=1")
    assert "PASS" not in str(caught.value)


@pytest.mark.parametrize("argument", ["project_id", "key_id", "key_secret"])
@pytest.mark.parametrize("blank", [" ", "\t\n", "   "])
def test_a_blank_credential_is_refused_at_construction(argument: str, blank: str) -> None:
    values = {"project_id": "p", "key_id": "k", "key_secret": "s", argument: blank}
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient(values["project_id"], values["key_id"], values["key_secret"])
    assert caught.value.argument == argument


def test_a_secret_with_control_characters_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInputError) as caught:
        NumbersClient("p", "k", "top\nsecret")
    assert caught.value.argument == "key_secret"
    assert "secret" not in str(caught.value).replace("key_secret", "")


@pytest.mark.parametrize(
    "callback_url",
    [
        "http://a b",
        "https://example.com/hook\n",
        "/relative/hook",
        "mailto:x@example.com",
        "http://",
    ],
)
async def test_a_callback_url_that_cannot_work_is_refused_before_sending(
    client: NumbersClient, fake: FakeNumbersServer, callback_url: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await client.available_numbers.rent("+12025550100", callback_url=callback_url)
    assert caught.value.argument == "callback_url"
    with pytest.raises(InvalidInputError):
        await client.active_numbers.update("+12025550100", callback_url=callback_url)
    assert api_requests(fake) == []
