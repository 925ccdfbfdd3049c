"""The response value: what the attempt layer makes of a transport's answer, and the
case-insensitive headers that flow from it into errors without being dropped."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping

import pytest

from numbers_async import (
    AuthenticationError,
    NumbersClient,
    RateLimitedError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    Timeouts,
)
from numbers_async import _operations as ops
from numbers_async._attempt import Attempts
from numbers_async._call import Call, CallOptions
from numbers_async._headers import Headers
from numbers_async._rate import RateGate
from numbers_async._retry import API_RULES
from numbers_async._transport import Timeout
from numbers_async.testing import FakeNumbersServer, Fault, MockTransport
from numbers_async.testing._transport import MockResponse

PHONE = "+12065550100"
ONCE = RetryPolicy(attempts=1)


# --- Headers ---------------------------------------------------------------------------------


def test_headers_ignore_the_case_of_names_and_keep_their_spelling() -> None:
    headers = Headers([("Retry-After", "7"), ("X-Request-Id", "abc")])
    assert headers["retry-after"] == headers["RETRY-AFTER"] == "7"
    assert headers.get("x-request-id") == "abc"
    assert "x-REQUEST-id" in headers
    assert 42 not in headers  # type: ignore[comparison-overlap]
    assert list(headers) == ["Retry-After", "X-Request-Id"]
    assert len(headers) == 2
    assert headers == {"Retry-After": "7", "X-Request-Id": "abc"}
    assert repr(headers) == "Headers({'Retry-After': '7', 'X-Request-Id': 'abc'})"


def test_a_header_given_twice_keeps_its_first_value() -> None:
    assert Headers([("Link", "a"), ("link", "b")]) == {"Link": "a"}


def test_headers_cannot_be_changed() -> None:
    headers = Headers({"A": "1"})
    with pytest.raises(TypeError):
        headers["A"] = "2"  # type: ignore[index]


@pytest.mark.parametrize(
    "twin",
    [
        lambda h: pickle.loads(pickle.dumps(h)),  # noqa: S301 - our own bytes
        copy.copy,
        copy.deepcopy,
    ],
    ids=["pickle", "copy", "deepcopy"],
)
def test_headers_survive_pickle_and_copy_case_insensitive(twin: object) -> None:
    headers = Headers({"Retry-After": "7"})
    copied = twin(headers)  # type: ignore[operator]
    assert isinstance(copied, Headers)
    assert copied["retry-after"] == "7"


# --- into errors ---------------------------------------------------------------------------


async def test_an_api_errors_headers_ignore_case_over_http(fake: FakeNumbersServer) -> None:
    fake.inject(Fault.status(429, retry_after="7"), route="get_callbacks")
    async with fake.client(retry=ONCE) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.callbacks.get()
    error = caught.value
    assert error.headers["retry-after"] == error.headers["RETRY-AFTER"] == "7"
    twin = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert twin.headers["retry-after"] == "7"
    assert twin.headers == error.headers


def test_an_api_error_never_keeps_a_set_cookie_header_whatever_its_case() -> None:
    error = ServerError(503, headers={"set-COOKIE": "session=1", "Server": "gw"})
    assert error.headers == {"Server": "gw"}


class PlainTransport:
    """A user's own ``Transport``: answers in order, headers as the plain dicts it has."""

    def __init__(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.answers = list(answers)
        self.sent = 0

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> tuple[int, Mapping[str, str], bytes]:
        self.sent += 1
        return self.answers.pop(0)


async def test_headers_of_a_transport_that_spells_them_in_lower_case_are_read() -> None:
    # A user transport may return a plain dict: Retry-After and WWW-Authenticate are
    # still found, and the error carries every header.
    transport = PlainTransport(
        (429, {"retry-after": "0", "x-request-id": "r1"}, b""),
        (401, {"www-authenticate": 'Bearer error="expired"', "x-request-id": "r2"}, b""),
    )
    async with NumbersClient(
        "p", "k", "s", auth="basic", transport=transport, retry=RetryPolicy(attempts=2)
    ) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.callbacks.get()
    assert caught.value.headers["X-Request-Id"] == "r2"
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="expired"'
    assert transport.sent == 2  # the 429's Retry-After: 0 was read, and waited


async def test_a_lower_case_retry_after_is_honoured() -> None:
    transport = PlainTransport((429, {"retry-after": "61"}, b""))
    async with NumbersClient("p", "k", "s", auth="basic", transport=transport) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.callbacks.get()
    # Beyond max_retry_after (60 s): raised at once, with the server's hint.
    assert caught.value.retry_after == 61.0
    assert transport.sent == 1


# --- the attempt layer's Response ----------------------------------------------------------


async def test_an_attempt_gives_a_response_value_with_everything_the_transport_said() -> None:
    now = [100.0]

    async def handler(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> MockResponse:
        now[0] += 0.25  # the exchange takes a quarter of a second by this clock
        return 404, {"x-request-id": "r1"}, b'{"error": {}}'

    request = ops.get_active(PHONE)
    options = CallOptions(ONCE, Timeouts())
    url = "https://numbers.example/v1/projects/p" + request.target
    call = Call(request, url, options.retry, API_RULES, options.timeout, None)
    call.attempt = 2
    attempts = Attempts(MockTransport(handler), RateGate(None), 1, None, lambda: now[0])
    response = await attempts.send(call, {"Authorization": "Basic x"})
    assert (response.status, response.body) == (404, b'{"error": {}}')
    assert response.headers["X-Request-ID"] == "r1"
    assert (response.request, response.url, response.operation) == (
        request,
        url,
        "active_numbers.get",
    )
    assert (response.attempt, response.elapsed) == (2, 0.25)
    assert repr(response) == "<Response 404 to active_numbers.get, attempt 2>"


async def test_an_attempt_refuses_a_body_over_the_limit_from_any_transport() -> None:
    async def handler(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> MockResponse:
        return 200, {}, b"x" * 11

    timeout = CallOptions(ONCE, Timeouts()).timeout
    call = Call(ops.get_callbacks(), "https://n.example/x", ONCE, API_RULES, timeout, None)
    attempts = Attempts(MockTransport(handler), RateGate(None), 1, 10, lambda: 0.0)
    with pytest.raises(ResponseTooLargeError) as caught:
        await attempts.send(call, {})
    assert caught.value.limit == 10
    assert "GET /x" in str(caught.value)
