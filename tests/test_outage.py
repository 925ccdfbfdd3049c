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
import socket
import time

import pytest

from numbers_async import BulkProgress, NumbersClient, RetryPolicy, Timeouts, TransportError
from numbers_async._outage import OutageGate
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
        await fake.aclose()
        await asyncio.sleep(OUTAGE)
        await fake.start()
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
