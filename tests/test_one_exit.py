"""Every way a call that may have acted can end goes through one exit (the settle layer).

A rent, rent_any, release, update or callbacks.update whose earlier attempt may have been
processed never ends in the raw error that stopped it — a token failure, a hook or a
rate limiter that raised, the attempts spent, the deadline, ``aclose()`` — but is
reconciled (a rent: ``GET activeNumbers/{phone}``) or ends in ``AmbiguousOutcomeError``
with that error chained. A call that never sent anything ends as it ended, and
cancellation is never delayed by a check.

Driven through ``MockTransport``: each route answers from a script, so the order of what
was sent is exact. Backoffs are a millisecond, token retries are told ``Retry-After: 0``,
so nothing here waits long on a loaded machine.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from numbers_async import (
    AmbiguousOutcomeError,
    AttemptEvent,
    AuthenticationError,
    ClientClosedError,
    NotFoundError,
    NumbersClient,
    NumbersTimeoutError,
    ResponseTooLargeError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    Timeouts,
    TokenEndpointError,
    TransportError,
)
from numbers_async.testing import MockTransport
from numbers_async.testing._transport import MockResponse

BASE = "https://numbers.example"
TOKEN_URL = "https://auth.example/oauth2/token"
PHONE = "+12065550100"
QUICK = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.001)
JSON: Mapping[str, str] = {"Content-Type": "application/json"}

TOKEN: MockResponse = (200, JSON, json.dumps({"access_token": "t0k3n", "expires_in": 3600}))
NUMBER: MockResponse = (200, JSON, json.dumps({"phoneNumber": PHONE}))
CALLBACKS: MockResponse = (200, JSON, json.dumps({"projectId": "project", "hmacSecret": "x" * 32}))
UNAVAILABLE: MockResponse = (503, {}, "")
EXPIRED: MockResponse = (401, {"WWW-Authenticate": 'Bearer error="expired"'}, "")
# Retried at once: the tests need not wait out the token fetch's backoff.
TOKEN_DOWN: MockResponse = (503, {"Retry-After": "0"}, "")
REFUSED_KEY: MockResponse = (401, JSON, json.dumps({"error": "invalid_client"}))
NOT_FOUND: MockResponse = (404, JSON, json.dumps({"error": {"code": 404, "status": "NOT_FOUND"}}))

Step = MockResponse | BaseException | Callable[[], Awaitable[MockResponse]]


def route(method: str, url: str) -> str:
    if url == TOKEN_URL:
        return "token"
    path = url.split("/projects/project", 1)[1]
    if path.endswith(":rent"):
        return "rent"
    if path.endswith(":rentAny"):
        return "rent_any"
    if path.endswith(":release"):
        return "release"
    if path.startswith("/callbackConfiguration"):
        return "update_callbacks" if method == "PATCH" else "get_callbacks"
    return "update" if method == "PATCH" else "get_active"


class Script:
    """Answers each route from its queue of steps, then as the route's ``otherwise`` says."""

    def __init__(self, **otherwise: Step) -> None:
        self.steps: dict[str, list[Step]] = defaultdict(list)
        self.otherwise = {"token": TOKEN, **otherwise}
        self.sent: list[str] = []

    def on(self, name: str, *steps: Step) -> None:
        self.steps[name].extend(steps)

    async def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> MockResponse:
        name = route(method, url)
        self.sent.append(name)
        queue = self.steps[name]
        step = queue.pop(0) if queue else self.otherwise[name]
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return await step()
        return step


async def hang() -> MockResponse:
    await asyncio.Event().wait()  # a token endpoint that never answers
    raise AssertionError("unreachable")


def client(script: Script, **options: Any) -> NumbersClient:
    settings: dict[str, Any] = {"retry": QUICK, **options}
    return NumbersClient(
        "project",
        "key",
        "secret",
        base_url=BASE,
        auth_url=TOKEN_URL,
        transport=MockTransport(script),
        **settings,
    )


@pytest.fixture
def script() -> Script:
    return Script(get_active=NUMBER, get_callbacks=CALLBACKS)


async def until_sent(script: Script, name: str, times: int = 1) -> None:
    for _ in range(500):
        if script.sent.count(name) >= times:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} was not sent {times} times")


# --- token failures ------------------------------------------------------------------------


async def test_a_rent_whose_retry_finds_the_token_endpoint_resetting_is_reconciled(
    script: Script,
) -> None:
    # The reproduction: the rent is answered 503 (the server may have rented),
    # the retry 401 "expired", and the token endpoint resets every connection of the
    # refresh. The rent is settled with a GET (its own token fetch succeeds): never a
    # plain TransportError. (The token retries back off up to 0.5 + 1 + 2 s.)
    reset = TransportError("POST /oauth2/token: ClientOSError: connection reset by peer")
    script.on("token", TOKEN, reset, reset, reset, reset)
    script.on("rent", UNAVAILABLE, EXPIRED)
    async with client(script) as numbers:
        number = await numbers.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    assert script.sent == ["token", "rent", "rent", *["token"] * 4, "token", "get_active"]


async def test_a_token_endpoint_that_keeps_failing_after_a_processed_update_is_ambiguous(
    script: Script,
) -> None:
    script.on("update", UNAVAILABLE, EXPIRED)
    script.on("token", TOKEN, *[TOKEN_DOWN] * 4)
    async with client(script) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.active_numbers.update(PHONE, display_name="Support")
    cause = caught.value.__cause__
    assert isinstance(cause, TokenEndpointError)
    assert (cause.status, cause.attempts) == (503, 4)
    assert "kept failing" in str(cause)
    assert "refused" not in str(caught.value).replace("was not refused", "")  # no wrong key
    assert caught.value.request == {"displayName": "Support"}
    assert script.sent == ["token", "update", "update", *["token"] * 4]


async def test_an_oversized_token_answer_after_a_processed_release_is_ambiguous(
    script: Script,
) -> None:
    huge = (200, JSON, json.dumps({"access_token": "t" * 4000, "expires_in": 3600}))
    script.on("release", UNAVAILABLE, EXPIRED)
    script.on("token", TOKEN, huge)
    async with client(script, max_response_size=1000) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.active_numbers.release(PHONE)
    cause = caught.value.__cause__
    assert isinstance(cause, TokenEndpointError)
    assert isinstance(cause.__cause__, ResponseTooLargeError)
    assert script.sent == ["token", "release", "release", "token"]


async def test_a_token_endpoint_refusing_the_key_after_a_processed_rent_is_checked(
    script: Script,
) -> None:
    # The key was revoked between the attempts: the check needs a token too, cannot get
    # one, and the rent ends ambiguous, never as the token endpoint's AuthenticationError.
    script.on("rent", UNAVAILABLE, EXPIRED)
    script.on("token", TOKEN, REFUSED_KEY, REFUSED_KEY)
    async with client(script) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.available_numbers.rent(PHONE)
    assert PHONE in str(caught.value)
    assert "checking failed" in str(caught.value)
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert script.sent == ["token", "rent", "rent", "token", "token"]


async def test_a_token_failure_of_a_call_that_never_acted_stands(script: Script) -> None:
    script.on("token", *[TOKEN_DOWN] * 4)
    async with client(script) as numbers:
        with pytest.raises(TokenEndpointError) as caught:
            await numbers.available_numbers.rent(PHONE)
    assert caught.value.attempts == 4
    assert script.sent == ["token"] * 4  # the API was never asked


# --- hooks and callbacks that raise ----------------------------------------------------------


def raising_hook(event: RetryEvent) -> None:
    raise RuntimeError(f"metrics backend down ({event.reason})")


async def test_an_on_retry_hook_raising_after_a_processed_release_is_ambiguous(
    script: Script,
) -> None:
    script.on("release", UNAVAILABLE)
    hooked = RetryPolicy(backoff=0.001, on_retry=raising_hook)
    async with client(script, retry=hooked) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.active_numbers.release(PHONE)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert script.sent == ["token", "release"]


async def test_an_on_retry_hook_raising_after_a_processed_rent_is_reconciled(
    script: Script,
) -> None:
    script.on("rent", UNAVAILABLE)
    hooked = RetryPolicy(backoff=0.001, on_retry=raising_hook)
    async with client(script, retry=hooked) as numbers:
        number = await numbers.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    assert script.sent == ["token", "rent", "get_active"]


class FailingLimiter:
    """A shared rate limiter whose backend fails after the first request."""

    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self) -> None:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("rate limiter backend unreachable")

    def pause(self, seconds: float) -> None:
        return None


async def test_a_rate_limiter_raising_after_a_processed_callbacks_update_is_ambiguous(
    script: Script,
) -> None:
    script.on("update_callbacks", UNAVAILABLE)
    async with client(script, rate_limit=FailingLimiter()) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.callbacks.update("a" * 32)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.request is None  # the body holds the secret: never kept
    assert "a" * 32 not in str(caught.value)


# --- attempts spent ------------------------------------------------------------------------


async def test_an_update_answered_5xx_until_out_of_attempts_is_ambiguous(script: Script) -> None:
    script.on("update", *[UNAVAILABLE] * 3)
    async with client(script) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.active_numbers.update(PHONE, display_name="Support")
    assert isinstance(caught.value.__cause__, ServerError)
    assert script.sent == ["token", *["update"] * 3]


async def test_a_release_reset_until_out_of_attempts_is_ambiguous(script: Script) -> None:
    script.on("release", *[TransportError("connection reset")] * 3)
    async with client(script) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.active_numbers.release(PHONE)
    assert isinstance(caught.value.__cause__, TransportError)
    assert script.sent == ["token", *["release"] * 3]


@pytest.mark.parametrize("operation", ["release", "rent"])
async def test_a_refusal_after_an_attempt_that_never_connected_stands(
    script: Script, operation: str
) -> None:
    """A first attempt that never connected did nothing, so the 404 that answers the retry
    means what it says: a release is not taken as done by an earlier attempt, a rent is
    not checked."""
    refused = TransportError("connection refused", request_sent=False)
    script.on(operation, refused, NOT_FOUND)
    async with client(script) as numbers:
        call = (
            numbers.active_numbers.release
            if operation == "release"
            else numbers.available_numbers.rent
        )
        with pytest.raises(NotFoundError):
            await call(PHONE)
    assert script.sent == ["token", operation, operation]


async def test_a_read_answered_5xx_until_out_of_attempts_stands(script: Script) -> None:
    script.on("get_callbacks", *[UNAVAILABLE] * 3)
    async with client(script) as numbers:
        with pytest.raises(ServerError):
            await numbers.callbacks.get()


# --- the deadline ----------------------------------------------------------------------------


async def test_a_deadline_passing_while_a_processed_update_waits_for_a_token_is_ambiguous(
    script: Script,
) -> None:
    script.on("update", UNAVAILABLE, EXPIRED)
    script.on("token", TOKEN, hang)
    # 0.5 s is far more than the two answers take, even on a loaded machine.
    async with client(script, timeouts=Timeouts(deadline=0.5)) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await asyncio.wait_for(numbers.active_numbers.update(PHONE, display_name="S"), 10)
    assert isinstance(caught.value.__cause__, NumbersTimeoutError)
    assert script.sent == ["token", "update", "update", "token"]


# --- aclose() ------------------------------------------------------------------------------


async def test_aclose_cutting_off_a_processed_update_waiting_for_a_token_is_ambiguous(
    script: Script,
) -> None:
    script.on("update", UNAVAILABLE, EXPIRED)
    script.on("token", TOKEN, hang)
    numbers = client(script)
    update = asyncio.ensure_future(numbers.active_numbers.update(PHONE, display_name="S"))
    await until_sent(script, "token", times=2)
    await numbers.aclose(timeout=0.1)
    with pytest.raises(AmbiguousOutcomeError) as caught:
        await update
    assert "closed" in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientClosedError)


async def test_aclose_cutting_off_a_rent_that_never_sent_anything_is_not_ambiguous(
    script: Script,
) -> None:
    # Nothing went out but a token request that never came back: a rent that cannot
    # have acted is cut off with ClientClosedError, never reported as ambiguous.
    script.on("token", hang)
    numbers = client(script)
    rent = asyncio.ensure_future(numbers.available_numbers.rent(PHONE))
    await until_sent(script, "token")
    await numbers.aclose(timeout=0.1)
    with pytest.raises(ClientClosedError):
        await rent
    assert script.sent == ["token"]


async def test_aclose_cutting_off_a_rent_refused_with_429_is_not_ambiguous(
    script: Script,
) -> None:
    # A 429 was answered before any work: the rent waits out its Retry-After (1 s) and
    # is cut off before its next attempt. Nothing can have been rented.
    script.on("rent", (429, {"Retry-After": "1"}, ""))
    numbers = client(script)
    rent = asyncio.ensure_future(numbers.available_numbers.rent(PHONE))
    await until_sent(script, "rent")
    await numbers.aclose(timeout=0.1)
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(rent, 10)
    assert script.sent == ["token", "rent"]


# --- cancellation ----------------------------------------------------------------------------


async def test_cancelling_a_processed_rent_is_not_delayed_by_a_check(script: Script) -> None:
    script.on("rent", (503, {"Retry-After": "30"}, ""))  # the retry would wait 30 s
    async with client(script) as numbers:
        rent = asyncio.ensure_future(numbers.available_numbers.rent(PHONE))
        await until_sent(script, "rent")
        await asyncio.sleep(0.05)  # now in its backoff sleep
        rent.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(rent, 5)
    assert script.sent == ["token", "rent"]  # no GET was sent to settle it


async def test_a_script_answers_the_rent_any_route(script: Script) -> None:
    # rent_any answered 503 once is ambiguous at once: it is never retried nor checked.
    script.on("rent_any", UNAVAILABLE)
    async with client(script) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.available_numbers.rent_any("US", "LOCAL")
    assert "Check active_numbers.list" in str(caught.value)
    assert script.sent == ["token", "rent_any"]


async def test_a_processed_rent_not_owned_on_checking_keeps_its_error(script: Script) -> None:
    script.on("rent", *[UNAVAILABLE] * 3)
    script.on("get_active", NOT_FOUND)
    async with client(script) as numbers:
        with pytest.raises(ServerError):
            await numbers.available_numbers.rent(PHONE)
    assert script.sent == ["token", *["rent"] * 3, "get_active"]


def test_the_script_routes_every_request_the_tests_send() -> None:
    project = f"{BASE}/v1/projects/project"
    assert route("POST", TOKEN_URL) == "token"
    assert route("POST", f"{project}/availableNumbers/{PHONE}:rent") == "rent"
    assert route("POST", f"{project}/availableNumbers:rentAny") == "rent_any"
    assert route("POST", f"{project}/activeNumbers/{PHONE}:release") == "release"
    assert route("PATCH", f"{project}/activeNumbers/{PHONE}") == "update"
    assert route("GET", f"{project}/activeNumbers/{PHONE}") == "get_active"
    assert route("PATCH", f"{project}/callbackConfiguration") == "update_callbacks"
    assert route("GET", f"{project}/callbackConfiguration") == "get_callbacks"


async def test_calls_whose_deadline_passes_waiting_for_a_token_are_not_an_outage(
    script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    # Five calls give up waiting for a token that never comes: that is neither five
    # failed connections to the API nor a reason to pause the client. (0.3 s of deadline
    # is far more than the calls need to reach the wait, even on a loaded machine.)
    script.on("token", hang)
    async with client(script, timeouts=Timeouts(deadline=0.3)) as numbers:
        with caplog.at_level("DEBUG", logger="numbers_async"):
            calls = [numbers.callbacks.get() for _ in range(5)]
            results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, NumbersTimeoutError) for result in results)
    assert all("waiting for an access token" in str(result) for result in results)
    assert not any("connections failed" in message for message in caplog.messages)
    assert script.sent == ["token"]  # one fetch for all, and nothing sent to the API


# --- event hooks that raise ----------------------------------------------------------------


class HookFailed(Exception):
    """What the hooks below raise: a metrics backend that is down."""


def failing_on(kind: str, operation: str, *, status: int | None = None, times: int = 1) -> Any:
    """A hook raising ``HookFailed`` on ``times`` events of ``operation`` (with ``status``)."""
    left = [times]

    def hook(event: AttemptEvent) -> None:
        matches = event.kind == kind and event.operation == operation
        if matches and (status is None or event.status == status) and left[0] > 0:
            left[0] -= 1
            raise HookFailed(f"{kind} hook: metrics backend down")

    return hook


async def test_a_response_hook_raising_after_a_rent_succeeded_is_reconciled(
    script: Script,
) -> None:
    # The rent was answered 200: it rented. The hook's failure does not unmake that: the
    # call goes through the one exit, whose check finds the number owned.
    script.on("rent", NUMBER)
    hooks = {"response": [failing_on("response", "available_numbers.rent", status=200)]}
    async with client(script, event_hooks=hooks) as numbers:
        number = await numbers.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    assert script.sent == ["token", "rent", "get_active"]


async def test_a_response_hook_raising_after_a_processed_update_is_ambiguous(
    script: Script,
) -> None:
    script.on("update", UNAVAILABLE)
    hooks = {"response": [failing_on("response", "active_numbers.update", status=503)]}
    async with client(script, event_hooks=hooks) as numbers:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await numbers.active_numbers.update(PHONE, display_name="Support")
    assert isinstance(caught.value.__cause__, HookFailed)
    assert script.sent == ["token", "update"]  # not retried: the hook ended the call


async def test_a_request_hook_raising_before_a_rent_s_retry_is_reconciled(
    script: Script,
) -> None:
    script.on("rent", UNAVAILABLE)
    # The second request event of the rent is its retry: it is never sent.
    first = [True]

    def hook(event: AttemptEvent) -> None:
        if event.operation == "available_numbers.rent":
            if first[0]:
                first[0] = False
                return
            raise HookFailed("request hook: metrics backend down")

    async with client(script, event_hooks={"request": [hook]}) as numbers:
        number = await numbers.available_numbers.rent(PHONE)
    assert number.phone_number == PHONE
    assert script.sent == ["token", "rent", "get_active"]


async def test_a_hook_raising_on_a_read_ends_it_with_the_hook_s_exception(
    script: Script,
) -> None:
    hooks = {"response": [failing_on("response", "active_numbers.get")]}
    async with client(script, event_hooks=hooks) as numbers:
        with pytest.raises(HookFailed):
            await numbers.active_numbers.get(PHONE)
        assert (await numbers.active_numbers.get(PHONE)).phone_number == PHONE
    assert script.sent == ["token", "get_active", "get_active"]


async def test_a_request_hook_raising_before_anything_was_sent_ends_the_call_as_it_ended(
    script: Script,
) -> None:
    hooks = {"request": [failing_on("request", "active_numbers.release")]}
    async with client(script, event_hooks=hooks) as numbers:
        with pytest.raises(HookFailed):
            await numbers.active_numbers.release(PHONE)
    assert script.sent == ["token"]  # the release was never sent


async def test_an_async_hook_raising_on_a_token_request_fails_the_fetch(script: Script) -> None:
    async def hook(event: AttemptEvent) -> None:
        if event.token_fetch:
            raise HookFailed("token hook")

    async with client(script, event_hooks={"response": [hook]}) as numbers:
        with pytest.raises(HookFailed):
            await numbers.callbacks.get()
    assert script.sent == ["token"]
