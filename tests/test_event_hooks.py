"""``NumbersClient(event_hooks=...)``: a ``request`` and a ``response`` event per HTTP request.

Against the fake server over loopback: success, retry, token fetch, a 401 replay, the
check that settles a rent, failures with and without an answer. What a hook that raises
does to a call is in ``tests/test_one_exit.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from numbers_async import (
    AttemptEvent,
    InvalidInputError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from numbers_async.testing import FakeNumbersServer, Fault

QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)


class Recorder:
    """Hooks that keep every event: a plain function for requests, an async one for answers."""

    def __init__(self) -> None:
        self.events: list[AttemptEvent] = []

    def request(self, event: AttemptEvent) -> None:
        self.events.append(event)

    async def response(self, event: AttemptEvent) -> None:
        await asyncio.sleep(0)  # an async hook is awaited before the call goes on
        self.events.append(event)

    @property
    def hooks(self) -> dict[str, Any]:
        return {"request": [self.request], "response": [self.response]}

    def of(self, operation: str) -> list[tuple[str, int, int | None, bool]]:
        return [
            (e.kind, e.attempt, e.status, e.will_retry)
            for e in self.events
            if e.operation == operation
        ]


async def test_a_success_is_one_request_and_one_response_event(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    async with fake.client(event_hooks=recorder.hooks) as client:
        await client.callbacks.get()
    request, response = [e for e in recorder.events if e.operation == "callbacks.get"]
    sent = fake.requests_for("get_callbacks")[0]
    url = f"{fake.url}/v1/projects/{fake.project_id}/callbackConfiguration"
    assert (request.kind, request.method, request.url) == ("request", "GET", url)
    assert request.attempt == 1
    assert (request.status, request.elapsed, request.error, request.request_id) == (
        None,
        None,
        None,
        None,
    )
    assert request.headers["Authorization"] == "Bearer ***"
    assert request.headers["accept"] == "application/json"
    assert (response.kind, response.status, response.will_retry) == ("response", 200, False)
    assert response.request_id == sent.request_id
    assert response.response_headers is not None
    assert response.response_headers["x-request-id"] == sent.request_id
    assert response.elapsed is not None
    assert response.elapsed > 0
    assert response.error is None
    assert not response.token_fetch
    assert response.settles is None


async def test_a_retry_is_told_before_it_happens(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    fake.inject(Fault.status(503), route="get_callbacks")
    async with fake.client(retry=QUICK, event_hooks=recorder.hooks) as client:
        await client.callbacks.get()
    assert recorder.of("callbacks.get") == [
        ("request", 1, None, False),
        ("response", 1, 503, True),
        ("request", 2, None, False),
        ("response", 2, 200, False),
    ]
    failed = next(e for e in recorder.events if e.status == 503)
    assert isinstance(failed.error, ServerError)
    assert failed.request_id == fake.requests_for("get_callbacks")[0].request_id


async def test_token_requests_are_told_and_marked(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    fake.inject(Fault.status(503, retry_after="0"), route="token")
    async with fake.client(event_hooks=recorder.hooks) as client:
        await client.callbacks.get()
    tokens = [e for e in recorder.events if e.token_fetch]
    assert [(e.kind, e.attempt, e.status, e.will_retry) for e in tokens] == [
        ("request", 1, None, False),
        ("response", 1, 503, True),
        ("request", 2, None, False),
        ("response", 2, 200, False),
    ]
    assert {e.operation for e in tokens} == {"oauth2.token"}
    assert {e.url for e in tokens} == {fake.auth_url}
    assert {e.headers["Authorization"] for e in tokens} == {"Basic ***"}
    # The token came first: the call's own request follows its fetch.
    assert recorder.events[-2].operation == "callbacks.get"


async def test_a_replay_after_an_expired_token_is_told_as_another_request(
    fake: FakeNumbersServer,
) -> None:
    recorder = Recorder()
    async with fake.client(event_hooks=recorder.hooks) as client:
        await client.callbacks.get()
        fake.expire_tokens()
        recorder.events.clear()
        await client.callbacks.get()
    assert [(e.operation, e.kind, e.status, e.will_retry) for e in recorder.events] == [
        ("callbacks.get", "request", None, False),
        ("callbacks.get", "response", 401, True),
        ("oauth2.token", "request", None, False),
        ("oauth2.token", "response", 200, False),
        ("callbacks.get", "request", None, False),
        ("callbacks.get", "response", 200, False),
    ]
    assert {e.attempt for e in recorder.events if e.operation == "callbacks.get"} == {1}


async def test_the_check_that_settles_a_rent_is_told_as_such(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    (phone,) = fake.add_available_numbers(1)
    fake.inject(Fault.reset_after(), route="rent")
    async with fake.client(retry=QUICK, event_hooks=recorder.hooks) as client:
        await client.available_numbers.rent(phone)
    rent = [e for e in recorder.events if e.kind == "response" and e.settles is None]
    check = [e for e in recorder.events if e.settles == "available_numbers.rent"]
    assert [(e.operation, e.status, e.will_retry) for e in rent[-2:]] == [
        ("available_numbers.rent", None, True),  # the answer was lost
        ("available_numbers.rent", 404, False),  # the retry: no longer available
    ]
    assert isinstance(rent[-2].error, TransportError)
    assert [(e.operation, e.kind, e.status) for e in check] == [
        ("active_numbers.get", "request", None),
        ("active_numbers.get", "response", 200),
    ]


async def test_a_failure_is_told_with_its_error(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    fake.inject(Fault.reset_before(), route="get_callbacks", times=None)
    async with fake.client(retry=RetryPolicy(attempts=1), event_hooks=recorder.hooks) as client:
        with pytest.raises(NotFoundError):
            await client.active_numbers.get("+12025550100")
        with pytest.raises(TransportError):
            await client.callbacks.get()
    not_found = [e for e in recorder.events if e.operation == "active_numbers.get"][-1]
    assert (not_found.status, not_found.will_retry) == (404, False)
    assert isinstance(not_found.error, NotFoundError)
    assert not_found.request_id == not_found.error.request_id
    reset = [e for e in recorder.events if e.operation == "callbacks.get"][-1]
    assert (reset.kind, reset.status, reset.response_headers, reset.request_id) == (
        "response",
        None,
        None,
        None,
    )
    assert isinstance(reset.error, TransportError)
    assert reset.elapsed is not None
    assert reset.elapsed >= 0


async def test_every_request_the_fake_saw_was_told_twice(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    fake.inject(Fault.status(429, retry_after="0"), route="search_available")
    async with fake.client(retry=QUICK, event_hooks=recorder.hooks) as client:
        found = await client.available_numbers.search("US", "LOCAL", size=3)
        await asyncio.gather(*(client.available_numbers.get(n.phone_number) for n in found))
        await client.active_numbers.list().collect()
    requests = [e for e in recorder.events if e.kind == "request"]
    responses = [e for e in recorder.events if e.kind == "response"]
    assert len(requests) == len(responses) == len(fake.requests)
    assert sorted(e.request_id or "" for e in responses) == sorted(
        r.request_id for r in fake.requests
    )


async def test_a_view_shares_its_client_s_hooks(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    async with fake.client(event_hooks=recorder.hooks) as client:
        await client.with_options(retry=QUICK).callbacks.get()
        await client.with_raw_response.callbacks.get()
    assert (
        recorder.of("callbacks.get")
        == [
            ("request", 1, None, False),
            ("response", 1, 200, False),
        ]
        * 2
    )


async def test_secrets_never_reach_an_event(fake: FakeNumbersServer) -> None:
    recorder = Recorder()
    hmac_secret = "s" * 40
    async with fake.client(event_hooks=recorder.hooks) as client:
        await client.callbacks.update(hmac_secret)
        fake.expire_tokens()
        await client.callbacks.get()
    tokens = {r.headers["Authorization"].split()[-1] for r in fake.requests}
    shown = repr(recorder.events)
    for secret in (fake.key_secret, hmac_secret, *tokens):
        assert secret not in shown
    assert {e.headers["Authorization"] for e in recorder.events} == {"Bearer ***", "Basic ***"}


@pytest.mark.parametrize(
    ("hooks", "argument", "rule"),
    [
        ([print], "event_hooks", 'must be a mapping like {"request": [...], "response": [...]}'),
        ({"sent": [print]}, "event_hooks", "keys must be 'request' or 'response'"),
        ({"request": print}, "event_hooks['request']", "must be a list of functions"),
        ({"response": ["print"]}, "event_hooks['response']", "must hold functions"),
    ],
)
def test_bad_hooks_are_refused_by_name(
    fake: FakeNumbersServer, hooks: Any, argument: str, rule: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        fake.client(event_hooks=hooks)
    assert (caught.value.argument, caught.value.rule) == (argument, rule)


async def test_a_cookie_the_server_sets_is_not_shown_to_hooks() -> None:
    from numbers_async import NumbersClient
    from numbers_async.testing import MockTransport

    def answer(method: str, url: str, headers: Any, body: bytes | None) -> Any:
        cookie = {"Set-Cookie": "session=s3cr3t", "X-Request-Id": "r1"}
        return 200, {"Content-Type": "application/json", **cookie}, '{"projectId": "p"}'

    recorder = Recorder()
    async with NumbersClient(
        "p", "k", "s", auth="basic", transport=MockTransport(answer), event_hooks=recorder.hooks
    ) as client:
        await client.callbacks.get()
    (response,) = [e for e in recorder.events if e.kind == "response"]
    assert response.response_headers is not None
    assert "set-cookie" not in response.response_headers
    assert response.response_headers["x-request-id"] == response.request_id == "r1"
