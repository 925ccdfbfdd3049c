"""Every exception of ``numbers_async.errors`` survives pickle, copy and deepcopy.

The classes are discovered from the module, so a class added later is covered (and fails
here until it has a way to be raised below). Each is raised for real where the library can
raise it: API errors by the fake server, local ones by a bad argument or a bad webhook.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import pickle
import socket
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from numbers_async import NumbersClient, RetryPolicy, Timeouts, errors
from numbers_async.testing import FakeNumbersServer, Fault
from numbers_async.webhooks import parse_event
from tests.hostile.server import HostileServer, redirect

ERROR_CLASSES = sorted(
    (
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    ),
    key=lambda cls: cls.__name__,
)

ONCE = RetryPolicy(attempts=1)
PHONE = "+12025550100"

Raise = Callable[[FakeNumbersServer], Awaitable[None]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _api_status(fake: FakeNumbersServer, code: int, **fault: Any) -> None:
    fake.inject(Fault.status(code, **fault), route="get_active")
    async with fake.client(retry=ONCE) as client:
        await client.active_numbers.get(PHONE)


async def _numbers_error(fake: FakeNumbersServer) -> None:
    # The root is only raised through its subclasses; a direct instance is what a user
    # subclass or a ``raise NumbersError(...)`` in an application would carry.
    raise errors.NumbersError("something went wrong")


async def _invalid_input(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.available_numbers.search("US", "CELLULAR")  # type: ignore[arg-type]


async def _transport(fake: FakeNumbersServer) -> None:
    port = _free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}"
    async with NumbersClient(
        "project", "key", "secret", auth="basic", base_url=url, retry=ONCE
    ) as client:
        await client.active_numbers.get(PHONE)


async def _timeout(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.latency(2.0), route="get_active")
    async with fake.client(retry=ONCE, timeouts=Timeouts(total=0.05)) as client:
        await client.active_numbers.get(PHONE)


async def _ambiguous(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.reset_after(), route="rent_any")
    async with fake.client() as client:
        await client.available_numbers.rent_any("US", "LOCAL")


async def _decode(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(200, body="html"), route="get_active")
    async with fake.client(retry=ONCE) as client:
        await client.active_numbers.get(PHONE)


async def _invalid_signature(fake: FakeNumbersServer) -> None:
    parse_event(b"{}", signature="00" * 20, secret="a" * 32)


async def _invalid_event(fake: FakeNumbersServer) -> None:
    parse_event(b"[1, 2]")


async def _api_error(fake: FakeNumbersServer) -> None:
    await _api_status(fake, 409)


async def _invalid_argument(fake: FakeNumbersServer) -> None:
    await _api_status(fake, 400)


async def _authentication(fake: FakeNumbersServer) -> None:
    async with NumbersClient(
        fake.project_id, fake.key_id, "not-the-secret", base_url=fake.url, auth_url=fake.auth_url
    ) as client:
        await client.active_numbers.get(PHONE)


async def _permission_denied(fake: FakeNumbersServer) -> None:
    await _api_status(fake, 403)


async def _not_found(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.active_numbers.get(PHONE)


async def _rate_limited(fake: FakeNumbersServer) -> None:
    await _api_status(fake, 429, retry_after="7")


async def _server_error(fake: FakeNumbersServer) -> None:
    await _api_status(fake, 503, body="html")


async def _journal(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.bulk.release([], journal="/dev/full")  # not a regular file


async def _unexpected_redirect(fake: FakeNumbersServer) -> None:
    async with HostileServer() as server:
        server.on("get_active", redirect(302))
        async with server.client(retry=ONCE) as client:
            await client.active_numbers.get(PHONE)


async def _response_too_large(fake: FakeNumbersServer) -> None:
    # Basic auth: with OAuth2 the token response would be the answer found too large.
    async with fake.client(auth="basic", retry=ONCE, max_response_size=16) as client:
        await client.callbacks.get()


async def _token_endpoint(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(503, retry_after="0"), route="token", times=None)
    async with fake.client(retry=ONCE) as client:
        await client.callbacks.get()


async def _client_closed(fake: FakeNumbersServer) -> None:
    client = fake.client()
    await client.aclose()
    await client.callbacks.get()


async def _wrong_event_loop(fake: FakeNumbersServer) -> None:
    async with fake.client() as client:
        await client.callbacks.get()
        # The error is raised in the other loop's thread and re-raised here.
        await asyncio.to_thread(asyncio.run, client.callbacks.get())


async def _stale_event(fake: FakeNumbersServer) -> None:
    parse_event(b'{"eventId": "e1", "timestamp": "2001-01-01T00:00:00"}')


async def _insecure_transport(fake: FakeNumbersServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.InsecureTransportWarning)
        NumbersClient("project", "key", "secret", base_url="http://numbers.example")


RAISERS: dict[str, Raise] = {
    "NumbersError": _numbers_error,
    "InvalidInputError": _invalid_input,
    "TransportError": _transport,
    "NumbersTimeoutError": _timeout,
    "AmbiguousOutcomeError": _ambiguous,
    "DecodeError": _decode,
    "InvalidSignatureError": _invalid_signature,
    "InvalidEventError": _invalid_event,
    "StaleEventError": _stale_event,
    "InsecureTransportWarning": _insecure_transport,
    "ApiError": _api_error,
    "InvalidArgumentError": _invalid_argument,
    "AuthenticationError": _authentication,
    "PermissionDeniedError": _permission_denied,
    "NotFoundError": _not_found,
    "RateLimitedError": _rate_limited,
    "ServerError": _server_error,
    "ResponseTooLargeError": _response_too_large,
    "TokenEndpointError": _token_endpoint,
    "UnexpectedRedirectError": _unexpected_redirect,
    "ClientClosedError": _client_closed,
    "WrongEventLoopError": _wrong_event_loop,
    "JournalError": _journal,
}


async def _raised(cls: type[BaseException], fake: FakeNumbersServer) -> BaseException:
    raiser = RAISERS.get(cls.__name__)
    if raiser is None:
        pytest.fail(f"no way to raise {cls.__name__}: add one to RAISERS in {__name__}")
    with pytest.raises(cls) as caught:
        await raiser(fake)
    assert type(caught.value) is cls, f"raised {type(caught.value).__name__}, not {cls.__name__}"
    return caught.value


def _state(error: BaseException) -> dict[str, Any]:
    """Everything a caller can read off an error: type, str, args and attributes."""
    state: dict[str, Any] = {
        "type": type(error),
        "str": str(error),
        "repr": repr(error),
        "args": error.args,
        "attributes": vars(error),
    }
    if isinstance(error, OSError):  # TimeoutError's own attributes live outside __dict__
        state["os"] = (error.errno, error.strerror, error.filename)
    return state


def test_discovery_finds_the_whole_tree() -> None:
    assert errors.NumbersError in ERROR_CLASSES
    assert {cls.__name__ for cls in ERROR_CLASSES} >= set(errors.__all__) - {"FieldViolation"}


COPIES: dict[str, Callable[[BaseException], BaseException]] = {
    "pickle": lambda error: pickle.loads(pickle.dumps(error)),  # noqa: S301 - our own bytes
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("how", list(COPIES))
@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
async def test_error_survives_pickle_and_copy(
    cls: type[BaseException], how: str, fake: FakeNumbersServer
) -> None:
    error = await _raised(cls, fake)
    assert vars(error) or cls in (errors.NumbersError, *_MESSAGE_ONLY), "nothing to compare"

    twin = COPIES[how](error)

    assert twin is not error
    assert _state(twin) == _state(error)


_MESSAGE_ONLY = (
    errors.InvalidSignatureError,
    errors.InvalidEventError,
    errors.StaleEventError,
    errors.InsecureTransportWarning,
)


def test_unpickled_api_error_keeps_its_message_once() -> None:
    error = errors.NotFoundError(404, status_text="NOT_FOUND", message="no such number")

    twin = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert str(twin) == "HTTP 404 NOT_FOUND: no such number"


def test_api_error_request_fields_travel() -> None:
    error = errors.ServerError(
        503, message="down", operation="active_numbers.get", method="GET", path="/v1/x"
    )

    twin = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert (twin.operation, twin.method, twin.path) == ("active_numbers.get", "GET", "/v1/x")


def test_api_error_request_fields_default_to_none() -> None:
    error = errors.ApiError(418)

    assert (error.operation, error.method, error.path) == (None, None, None)


def test_deepcopy_does_not_share_mutable_attributes() -> None:
    error = errors.ApiError(400, details=[{"type": "BadRequest"}], headers={"X-A": "1"})

    twin = copy.deepcopy(error)
    twin.details[0]["type"] = "changed"

    assert error.details == [{"type": "BadRequest"}]
