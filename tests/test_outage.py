"""A short outage: the whole client pauses and probes instead of every call failing.

The fake is stopped for four seconds in the middle of a bulk release and started again on
the same port; with the default retry policy and a 60 s deadline nothing fails. Four seconds
is more than twice what the default policy's backoff can wait in all (at most 0.25 + 0.5 + 1
s between its four attempts) and long enough for the pause to reach its 2 s cap: with
``outage_wait=0`` (no pause) about a tenth of the releases fail.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from typing import Any

import pytest

from numbers_async import (
    BulkProgress,
    NumbersClient,
    NumbersTimeoutError,
    RetryPolicy,
    Timeouts,
    TransportError,
)
from numbers_async._call import Call, CallOptions
from numbers_async._operations import get_active
from numbers_async._outage import OutageGate
from numbers_async._retry import API_RULES, TOKEN_RULES, RetryRules
from numbers_async.testing import FakeNumbersServer

OUTAGE = 4.0  # seconds; see the module docstring
NUMBERS = 1_000


def release_answers(fake: FakeNumbersServer) -> collections.Counter[tuple[str, int]]:
    """(number, status) -> how many release requests got that answer."""
    return collections.Counter(
        (r.path.rsplit("/", 1)[-1].removesuffix(":release").replace("%2B", "+"), r.status)
        for r in fake.requests_for("release")
    )


async def test_a_bulk_release_rides_out_an_outage_longer_than_its_retries(
    fake: FakeNumbersServer,
) -> None:
    phones = fake.add_active_numbers(NUMBERS)
    down: list[float] = []
    fifth_done = asyncio.Event()

    def progress(done: BulkProgress) -> None:
        if done.done >= NUMBERS // 5:
            fifth_done.set()

    async def outage() -> None:
        await fifth_done.wait()
        started = time.monotonic()
        async with fake.down():
            await asyncio.sleep(OUTAGE)
        down.append(time.monotonic() - started)

    started = time.monotonic()
    async with fake.client(timeouts=Timeouts(deadline=60.0)) as client:
        interruption = asyncio.ensure_future(outage())
        report = await client.bulk.release(phones, on_progress=progress)
        await interruption
    elapsed = time.monotonic() - started

    assert report.failed == []
    assert sorted(n.phone_number for n in report.succeeded) == phones
    assert not set(phones) & set(fake.active)
    released = release_answers(fake)
    # Each number was released by exactly one request the fake answered 200.
    assert all(released[(phone, 200)] == 1 for phone in phones)
    assert down[0] >= OUTAGE
    assert elapsed < 60.0
    print(
        f"outage {down[0]:.1f}s, job {elapsed:.1f}s, {len(report.succeeded)} released, "
        f"{len(report.failed)} failed, {len(fake.requests_for('release'))} release requests"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_lone_refused_connection_fails_after_its_attempts_without_a_pause() -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    retry = RetryPolicy(attempts=3, backoff=0.01)
    started = time.monotonic()
    async with NumbersClient("p", "k", "s", auth="basic", base_url=url, retry=retry) as client:
        with pytest.raises(TransportError) as caught:
            await client.callbacks.get()
    assert not caught.value.request_sent
    assert time.monotonic() - started < 1.0


async def test_many_refused_connections_wait_no_longer_than_outage_wait() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    retry = RetryPolicy(backoff=0.01, outage_wait=1.0)
    started = time.monotonic()
    async with NumbersClient("p", "k", "s", auth="basic", base_url=url, retry=retry) as client:
        results = await asyncio.gather(
            *(client.callbacks.get() for _ in range(20)), return_exceptions=True
        )
    elapsed = time.monotonic() - started
    assert all(isinstance(r, TransportError) and not r.request_sent for r in results)
    assert 1.0 <= elapsed < 5.0


async def test_an_outage_ends_at_the_call_deadline() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    async with NumbersClient(
        "p", "k", "s", auth="basic", base_url=url, timeouts=Timeouts(deadline=1.5)
    ) as client:
        results = await asyncio.gather(
            *(client.callbacks.get() for _ in range(20)), return_exceptions=True
        )
    assert all(isinstance(r, TransportError) for r in results)
    assert time.monotonic() - started < 4.0


def test_outage_wait_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="outage_wait"):
        RetryPolicy(outage_wait=-1)


def active(gate: OutageGate) -> bool:
    """``gate.active`` read afresh (a call, so the type checker does not narrow it)."""
    return gate.active


def suspect(gate: OutageGate) -> bool:
    """``gate.suspect`` read afresh, as ``active``."""
    return gate.suspect


def mock_client(handler: Any, **options: Any) -> NumbersClient:
    """A client (Basic auth) whose requests ``handler`` answers (``MockTransport``)."""
    from numbers_async.testing import MockTransport

    return NumbersClient("p", "k", "s", auth="basic", transport=MockTransport(handler), **options)


def test_the_gate_is_active_from_the_threshold_until_the_server_answers() -> None:
    # ``active`` is read on every attempt; it must follow the gate's state exactly.
    gate = OutageGate(clock=lambda: 100.0, sleep=asyncio.sleep)
    for _ in range(OutageGate.THRESHOLD - 1):  # a few refused connections: no outage
        assert not gate.connect_failed(100.0, probe=False)
        assert not active(gate)
    assert gate.connect_failed(100.0, probe=False)
    assert active(gate)
    gate.reached()
    assert not active(gate)
    # A probe that fails after another call's answer ended the outage starts a new one.
    assert gate.connect_failed(201.0, probe=True)
    assert active(gate)
    gate.reached()
    assert not active(gate)


# --- the gate itself, on a clock of the test's -------------------------------------------------


class Clock:
    """A clock that only sleeping moves; every sleep is recorded."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


def in_outage(clock: Clock) -> OutageGate:
    """A gate that has just seen enough refused connections: paused for FIRST_PAUSE."""
    gate = OutageGate(clock, clock.sleep)
    for _ in range(OutageGate.THRESHOLD):
        gate.connect_failed(clock.now, probe=False)
    assert active(gate)
    return gate


async def test_without_an_outage_nobody_waits() -> None:
    clock = Clock()
    gate = OutageGate(clock, clock.sleep)
    assert await gate.wait(None) is False
    assert await gate.wait(clock.now + 1) is False
    assert clock.sleeps == []


async def test_in_an_outage_the_first_caller_waits_out_the_pause_and_probes() -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(None) is True  # the probe
    assert clock.sleeps == [OutageGate.FIRST_PAUSE]
    assert gate.probing


async def test_a_wait_ends_at_the_callers_deadline() -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(clock.now + 0.1) is False  # the deadline comes before the pause ends
    assert clock.sleeps == [0.1]
    assert not gate.probing
    assert await gate.wait(clock.now) is False  # past it already: no sleep at all
    assert clock.sleeps == [0.1]


async def test_while_one_call_probes_the_others_wait_for_its_outcome() -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(None) is True
    second = asyncio.ensure_future(gate.wait(None))
    await asyncio.sleep(0)
    assert not second.done()  # waits for the probe, without sleeping
    gate.reached()  # the probe got an answer: the outage is over
    assert await second is False  # nothing to probe: go ahead
    assert not active(gate)
    assert clock.sleeps == [OutageGate.FIRST_PAUSE]


async def test_an_abandoned_probe_hands_the_probe_to_a_waiting_call() -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(None) is True
    second = asyncio.ensure_future(gate.wait(None))
    await asyncio.sleep(0)
    gate.abandon()  # the probe was cancelled: it has no outcome
    assert await second is True
    assert gate.probing


async def test_a_call_waiting_for_a_probe_gives_up_at_its_deadline() -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(None) is True
    started = time.monotonic()
    assert await gate.wait(clock.now + 0.05) is False  # the probe never ends
    assert 0.04 <= time.monotonic() - started < 5


async def test_each_failed_probe_doubles_the_pause_up_to_its_cap() -> None:
    clock = Clock()
    gate = in_outage(clock)
    for _ in range(5):
        assert await gate.wait(None) is True
        assert gate.connect_failed(clock.now, probe=True)
        assert not gate.probing
    pauses = [OutageGate.FIRST_PAUSE, 0.5, 1.0, OutageGate.MAX_PAUSE, OutageGate.MAX_PAUSE]
    assert clock.sleeps == pauses


async def test_an_answer_ends_the_outage_and_starts_the_next_one_afresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(None) is True
    assert gate.connect_failed(clock.now, probe=True)  # the pause is doubled now
    caplog.clear()
    with caplog.at_level("INFO", logger="numbers_async"):
        gate.reached()
        gate.reached()  # no outage: nothing more to say
    assert [r.getMessage() for r in caplog.records] == [
        "the server can be reached again; resuming calls"
    ]
    assert not gate.probing
    # The refused connections before the answer no longer count, and the pause is short again.
    for _ in range(OutageGate.THRESHOLD - 1):
        assert not gate.connect_failed(clock.now, probe=False)
    assert gate.connect_failed(clock.now, probe=False)
    clock.sleeps.clear()
    assert await gate.wait(None) is True
    assert clock.sleeps == [OutageGate.FIRST_PAUSE]


def _call(deadline_at: float | None, outage_wait: float = 10.0) -> Call:
    request = get_active("+12025550100")
    retry = RetryPolicy(outage_wait=outage_wait)
    timeout = CallOptions(retry, Timeouts()).timeout
    return Call(
        request, "https://numbers.example" + request.target, retry, API_RULES, timeout, deadline_at
    )


async def test_a_call_that_has_waited_out_its_outage_wait_no_longer_waits_nor_probes() -> None:
    clock = Clock()
    gate = in_outage(clock)
    assert await gate.wait(None) is True  # another call probes
    call = _call(None, outage_wait=1.0)
    call.ride_until = clock.now  # its outage_wait is over
    assert await gate.wait_for(call) is False  # not the probe: its attempts count again
    assert gate.probing  # still the other call's
    assert clock.sleeps == [OutageGate.FIRST_PAUSE]


async def test_a_call_waiting_at_the_gate_ends_at_its_deadline() -> None:
    clock = Clock()
    gate = in_outage(clock)
    for _ in range(4):  # failed probes: the pause is at its cap, 2 s
        assert await gate.wait(None) is True
        gate.connect_failed(clock.now, probe=True)
    clock.sleeps.clear()
    call = _call(clock.now + 0.1)  # outage_wait 10 s: the deadline comes first
    with pytest.raises(NumbersTimeoutError) as caught:
        await gate.wait_for(call)
    assert caught.value.request_sent is False
    assert clock.sleeps == [0.1]
    assert call.ride_until == 100.0 + sum([0.25, 0.5, 1.0, 2.0]) + 10.0


async def test_the_first_call_at_the_gate_waits_out_the_pause_and_probes() -> None:
    clock = Clock()
    gate = in_outage(clock)
    waits: list[tuple[str, float]] = []

    class Watch:  # what a watched call is told of its waits
        def waited(self, what: str, seconds: float) -> None:
            waits.append((what, round(seconds, 6)))

    call = _call(None)
    call.watch = Watch()  # type: ignore[assignment]
    assert await gate.wait_for(call) is True
    assert gate.probing
    assert clock.sleeps == [OutageGate.FIRST_PAUSE]
    assert waits == [("outage", OutageGate.FIRST_PAUSE)]


def test_connect_failures_make_an_outage_only_within_the_window() -> None:
    clock = Clock()
    gate = OutageGate(clock, clock.sleep)
    # Five refused connections, the last exactly WINDOW after the first: an outage.
    found = [gate.connect_failed(at, probe=False) for at in (100.0, 100.5, 100.5, 100.5, 101.0)]
    assert found == [False] * 4 + [True]
    assert active(gate)
    # Five spread over a little more than WINDOW: not one, until the five latest fit.
    gate = OutageGate(clock, clock.sleep)
    failures = [200.0, 200.9, 200.9, 200.9, 201.05]
    assert [gate.connect_failed(at, probe=False) for at in failures] == [False] * 5
    assert not active(gate)
    assert gate.connect_failed(201.1, probe=False)  # 200.9 .. 201.1: five within a second


def test_during_an_outage_every_connect_failure_is_the_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    caplog.set_level("WARNING", logger="numbers_async")
    gate = in_outage(clock)
    assert [r.getMessage() for r in caplog.records] == [
        "5 connections failed within 1.0s: pausing every call until the server can be reached again"
    ]
    # An attempt that was under way when the outage began fails too: it waits it out.
    assert gate.connect_failed(clock.now, probe=False)
    assert len(caplog.records) == 1  # said once


def test_an_answer_or_a_sent_request_during_an_outage_ends_it() -> None:
    clock = Clock()
    gate = in_outage(clock)
    # Another call's attempt (not the probe) reached the server: it is not an outage.
    sent = TransportError("connection reset", request_sent=True)
    assert gate.rides_out(_call(None), sent, probe=False) is False
    assert not active(gate)


async def test_an_attempt_that_meets_the_outage_does_not_count_and_waits_at_the_gate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Five refused connections make an outage; the fifth attempt is not counted, the
    call waits at the gate (FIRST_PAUSE) and its probe gets the answer: four retries in
    all, each failed exchange told it is followed by another."""
    from numbers_async import AttemptEvent

    answered: list[str] = []

    def handler(method: str, url: str, headers: object, body: object) -> object:
        if len(answered) < OutageGate.THRESHOLD:
            answered.append("refused")
            raise TransportError("connection refused", request_sent=False)
        answered.append("200")
        return 200, {"Content-Type": "application/json"}, '{"phoneNumber": "+12025550100"}'

    events: list[AttemptEvent] = []

    def response(event: AttemptEvent) -> None:
        events.append(event)

    retry = RetryPolicy(attempts=10, backoff=0.001, max_backoff=0.001, outage_wait=0.8)
    caplog.set_level(logging.DEBUG, logger="numbers_async")
    async with mock_client(handler, retry=retry, event_hooks={"response": [response]}) as client:
        started = time.monotonic()
        raw = await client.with_raw_response.active_numbers.get("+12025550100")
        took = time.monotonic() - started
    assert answered == ["refused"] * 5 + ["200"]
    assert raw.retries == 4  # attempts 1-4 refused, the 5th met the outage, its probe answered
    assert took >= OutageGate.FIRST_PAUSE * 0.9  # the probe waited out the pause
    assert [(e.status, e.will_retry) for e in events] == [(None, True)] * 5 + [(200, False)]
    riding = [r.getMessage() for r in caplog.records if "outage" in r.getMessage()]
    assert "active_numbers.get: waiting out an outage" in riding


class _Unlimited:
    """A rate limiter that never waits; its pauses are recorded."""

    def __init__(self) -> None:
        self.paused: list[float] = []

    async def acquire(self) -> None:
        return None

    def pause(self, seconds: float) -> None:
        self.paused.append(seconds)


@pytest.mark.parametrize(
    ("rules", "sent"),
    [(API_RULES, 3), (TOKEN_RULES, 1)],
    ids=["api rules: retried", "token rules: not retried"],
)
async def test_the_retry_layer_decides_by_the_calls_own_rules(rules: RetryRules, sent: int) -> None:
    """An undecodable 2xx is retried under the API's rules and ends the call at once under
    the token endpoint's: the retry layer asks the call's rules, not the API's."""
    from numbers_async._call import Response
    from numbers_async._retrying import Retrying
    from numbers_async.errors import DecodeError

    clock = Clock()
    request = get_active("+12025550100")
    retry = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.001)
    timeout = CallOptions(retry, Timeouts()).timeout
    call = Call(request, "https://numbers.example" + request.target, retry, rules, timeout, None)
    answers: list[int] = []

    async def send(call: Call) -> Response:
        answers.append(call.attempt)
        return Response(200, {}, b"{", call.request, call.url, call.attempt, 0.0)

    def decode(status: int, body: bytes) -> object:
        raise DecodeError("response is not valid JSON", status=status, body=body)

    retrying = Retrying(_Unlimited(), OutageGate(clock, clock.sleep), clock, clock.sleep)
    with pytest.raises(DecodeError):
        await retrying.run(call, send, decode)
    assert answers == list(range(1, sent + 1))


@pytest.mark.parametrize("between", ["answered", "reset after sending"])
async def test_connect_failures_among_answers_are_no_outage(
    caplog: pytest.LogCaptureFixture, between: str
) -> None:
    """Four refused connections, an answer (or a connection the server took and then
    reset), four more: that started the count again, so no call waits at the gate (one
    backend of several down is no outage), while a fifth failure without it in between
    would have closed the gate."""

    plan = ["refused"] * 4 + [between] + ["refused"] * 4 + ["answered"]

    def handler(method: str, url: str, headers: object, body: object) -> object:
        step = plan.pop(0)
        if step != "answered":
            raise TransportError(step, request_sent=step != "refused")
        return 200, {"Content-Type": "application/json"}, '{"phoneNumber": "+12025550100"}'

    retry = RetryPolicy(attempts=1, outage_wait=30.0)
    caplog.set_level(logging.INFO, logger="numbers_async")
    async with mock_client(handler, retry=retry) as client:
        outcomes = []
        for _ in range(10):
            try:
                await asyncio.wait_for(client.active_numbers.get("+12025550100"), 5.0)
                outcomes.append("answered")
            except TransportError as error:
                outcomes.append(str(error).rsplit(": ", 1)[-1])
    assert outcomes == ["refused"] * 4 + [between] + ["refused"] * 4 + ["answered"]
    assert plan == []
    assert not [r for r in caplog.records if "pausing every call" in r.getMessage()]


async def test_an_answer_from_the_token_endpoint_does_not_end_the_apis_outage() -> None:
    """The token endpoint is another host: its answering says nothing of the API's."""
    from numbers_async._call import Response
    from numbers_async._retrying import Retrying

    clock = Clock()
    gate = in_outage(clock)
    request = get_active("+12025550100")
    retry = RetryPolicy()
    timeout = CallOptions(retry, Timeouts()).timeout
    call = Call(request, "https://auth.example/oauth2/token", retry, TOKEN_RULES, timeout, None)

    async def send(call: Call) -> Response:
        return Response(200, {}, b"{}", call.request, call.url, call.attempt, 0.0)

    retrying = Retrying(_Unlimited(), gate, clock, clock.sleep)
    assert await retrying.run(call, send, lambda status, body: body) == b"{}"
    assert active(gate)
    assert clock.sleeps == []  # nor did it wait at the API's gate


def test_a_connect_failure_is_suspect_until_the_server_answers() -> None:
    """What lets the retry layer skip the gate on an answer when nothing failed since
    the last one (every answered request of a healthy client)."""
    clock = Clock()
    gate = OutageGate(clock, clock.sleep)
    assert not suspect(gate)
    gate.connect_failed(clock.now, probe=False)
    assert suspect(gate)
    assert not active(gate)
    gate.reached()
    assert not suspect(gate)
