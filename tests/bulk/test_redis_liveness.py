"""The Redis journal never waits forever: each way a job used to hang, made to happen.

Under load a job of several workers sometimes never ended. Each test here makes one such
moment happen on purpose, through the seam of a worker's calls to Redis (the scripts of
its ``Link``), instead of waiting for the load to make it: a reply that lands just as
its caller is cancelled, a worker whose calls come so late that its lease runs out while
it works, a worker that dies holding an intent or the ``rent_any`` settlement barrier.
Every wait in these tests is bounded by ``BOUND``, so a regression fails, never hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import redis.asyncio as aioredis

from numbers_async import RetryPolicy, Timeouts, TransportError
from numbers_async import _operations as ops
from numbers_async.bulk._redis_claims import Claims
from numbers_async.bulk._redis_link import Link, within
from numbers_async.bulk._store import Withdrawn
from numbers_async.redis import RedisJournal
from numbers_async.testing import FakeNumbersServer
from tests.conftest import RedisServer

# Far above what any of these jobs takes (a few items, leases of a second at most,
# loopback), even on a loaded 2-core machine: a job that would wait forever fails here.
BOUND = 10.0
KEYS = "numbers_async:job:{job}:"

Script = Callable[..., Awaitable[Any]]


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


def wrap(link: Link, name: str, make: Callable[[Script], Script]) -> None:
    """Replace ``link``'s script ``name`` with ``make(the real one)``."""
    scripts: dict[str, Any] = link._scripts
    scripts[name] = make(scripts[name])


def after(event: asyncio.Event, script: Script) -> Script:
    """``script``, called only once ``event`` is set: a worker's late call."""

    async def late(*args: Any, **kwargs: Any) -> Any:
        await event.wait()
        return await script(*args, **kwargs)

    return late


def patch_first_link(monkeypatch: pytest.MonkeyPatch, patch: Callable[[Link], None]) -> None:
    """Give the next ``Link`` made (the next job's calls to Redis) to ``patch``."""
    real_init = Link.__init__
    made: list[Link] = []

    def init(self: Link, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        made.append(self)
        if len(made) == 1:
            patch(self)

    monkeypatch.setattr(Link, "__init__", init)


async def poll(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``condition()`` holds (read from Redis), ``BOUND`` seconds at most."""
    for _ in range(int(BOUND / 0.01)):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def lease_ran_out(redis: aioredis.Redis, holding: int, intents: int = 0) -> bool:
    """Whether the worker holding ``holding`` claims and ``intents`` open intents lost its
    lease by the Redis clock (and was not taken over yet).

    Its claims and intents renewed its lease: it runs out a lease after the last of them,
    however long the job took to get there (a listing first, a loaded machine).
    """
    claimed, opened = await redis.hlen(KEYS + "claimed"), await redis.scard(KEYS + "open")
    if (claimed, opened) != (holding, intents):
        return False
    seconds, micros = await redis.time()
    now = seconds * 1000 + micros // 1000
    return bool(await redis.zrangebyscore(KEYS + "workers", "-inf", now))


def rent_any_request(count: int) -> dict[str, Any]:
    """What a ``rent_any(count, "US", "LOCAL")`` job sends (and is known by)."""
    criteria: dict[str, Any] = dict.fromkeys(
        ("pattern", "search_pattern", "capabilities", "sms", "voice", "callback_url")
    )
    return {**(ops.rent_any("US", "LOCAL", **criteria).json or {}), "count": count}


async def nothing(_: Any) -> None:
    """A settlement that has nothing to do (a worker driven by hand)."""


# --- a cancellation that arrives with the reply -------------------------------------------


async def test_a_timeout_never_swallows_a_cancellation_that_comes_with_the_reply() -> None:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[str] = loop.create_future()
    waiting = loop.create_task(within(reply, BOUND))
    await asyncio.sleep(0)  # waiting for the reply
    reply.set_result("in")
    waiting.cancel()  # in the same step: asyncio.wait_for (3.10, 3.11) returns "in" here

    await asyncio.wait({waiting}, timeout=BOUND)

    assert waiting.cancelled()


async def test_closing_a_worker_as_its_lease_renewal_is_answered_ends_the_worker(
    redis_server: RedisServer,
) -> None:
    # The renewal's reply is in when the worker closes and cancels its renewal. Under
    # asyncio.wait_for that cancellation was lost: the renewal went on renewing, the
    # close waited for it forever, and so did the job (its worker process never exited).
    journal = RedisJournal.from_url(redis_server.url, job="job", lease=0.3)
    session = await journal.open("release", {}, nothing)
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def closed_as_answered(renew: Script) -> Script:
        async def renewed(*args: Any, **kwargs: Any) -> Any:
            reply = await renew(*args, **kwargs)
            if not closing:  # closed once the reply is in, before the renewal resumes
                loop.call_soon(lambda: closing.append(loop.create_task(session.aclose())))
            return reply

        return renewed

    wrap(session._link, "RENEW", closed_as_answered)
    for _ in range(int(BOUND / 0.01)):  # the renewal comes within a third of the lease
        if closing:
            break
        await asyncio.sleep(0.01)
    assert closing, "the lease was never renewed"

    done, _ = await asyncio.wait(closing, timeout=BOUND)  # watched, never cancelled

    assert done, "closing the worker never ended: its renewal went on"
    assert session._renewer is not None
    assert session._renewer.done()


async def test_a_worker_cancelled_while_it_closes_still_closes_its_connection(
    redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    # Its renewal's cancellation is waited for, and a cancellation of the close itself
    # is not swallowed there (as wait_for would): it goes on up, past giving the claims
    # back (the lease runs out instead), but never past closing the job's connection.
    before = len(await redis_client.client_list())
    journal = RedisJournal.from_url(redis_server.url, job="job")
    session = await journal.open("release", {}, nothing)
    closing = asyncio.create_task(session.aclose())
    await asyncio.sleep(0)  # it has cancelled its renewal, and waits for it to end
    closing.cancel()

    await asyncio.wait({closing}, timeout=BOUND)

    assert closing.cancelled()

    async def closed() -> bool:
        return len(await redis_client.client_list()) <= before

    await poll(closed, "the job's connection to Redis was closed")


async def test_a_worker_stopped_as_its_claim_is_answered_starts_nothing_more(
    fake: FakeNumbersServer, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stop() cancels the job's wait for its next item, here a claim whose reply is in.
    # Under asyncio.wait_for that cancellation was lost: the claim went on, and its
    # item was sent after stop() (with nothing to claim, the worker polled on instead).
    owned = fake.add_active_numbers(6)
    journal = RedisJournal.from_url(redis_server.url, job="job", batch=2)
    loop = asyncio.get_running_loop()
    async with fake.client() as client:
        job = client.bulk.release(owned, journal=journal, concurrency=1)
        claims = 0

        def stopped_as_answered(claim: Script) -> Script:
            async def claimed(*args: Any, **kwargs: Any) -> Any:
                nonlocal claims
                reply = await claim(*args, **kwargs)
                claims += 1
                if claims == 2:  # the first batch is done: stop as the next one comes
                    loop.call_soon(job.stop)
                return reply

            return claimed

        patch_first_link(monkeypatch, lambda link: wrap(link, "CLAIM", stopped_as_answered))
        running = loop.create_task(job)
        done, _ = await asyncio.wait({running}, timeout=BOUND)

    assert done, "the stopped job did not end"
    report = running.result()
    assert report.stopped
    assert len(report.succeeded) == 2  # the first batch, and nothing after stop()
    assert len(fake.requests_for("release")) == 2
    assert len(fake.active) == 4


# --- a live worker taken for dead ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "again"), [("taken", True), ("dup", True), ("ok", False), ("again", False)]
)
def test_a_claim_of_an_item_the_job_still_has_waits_for_the_job_to_let_go(
    answer: str, again: bool
) -> None:
    claims = Claims()
    claims.give(7, "+15550000007", {})
    assert claims.next() == (7, "+15550000007")
    claims.give(7, "+15550000007", {"s": "unknown"})  # claimed again meanwhile
    assert claims.next() is None  # never twice at once

    claims.let_go("+15550000007", 7, answer)

    # A record that did not count as the holder's ran before the claim: the claim is
    # new, and the job gets the item; one that counted ran after it, and consumed it.
    assert claims.next() == ((7, "+15550000007") if again else None)


async def test_an_item_claimed_again_as_its_intent_is_refused_is_still_worked(
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A live worker whose calls come late (a loaded machine) loses its lease, and its
    # claim goes back. Its intent for the item it had started is refused ("taken"),
    # and its next claim gets that item again, both before it hears of the refusal.
    # The job still had the item, so that claim was dropped: Redis kept the item
    # claimed by a worker that never worked it, and no worker's job ever ended.
    (phone,) = fake.add_active_numbers(1)
    reaped, recorded, reclaimed = asyncio.Event(), asyncio.Event(), asyncio.Event()
    claims = 0

    def claim_late(claim: Script) -> Script:
        async def claimed(*args: Any, **kwargs: Any) -> Any:
            nonlocal claims
            claims += 1
            if claims > 1:  # the job's next claim: only once the refused intent ran
                await recorded.wait()
            reply = await claim(*args, **kwargs)
            if claims > 1 and reply[0] == b"work":
                reclaimed.set()
            return reply

        return claimed

    def record_late(record: Script) -> Script:
        async def recorded_late(*args: Any, **kwargs: Any) -> Any:
            await reaped.wait()
            reply = await record(*args, **kwargs)
            recorded.set()
            await reclaimed.wait()  # heard of after the claim that gives the item again
            for _ in range(10):
                await asyncio.sleep(0)
            return reply

        return recorded_late

    def late(link: Link) -> None:
        wrap(link, "CLAIM", claim_late)
        wrap(link, "RECORD", record_late)
        wrap(link, "RENEW", lambda renew: after(reaped, renew))

    patch_first_link(monkeypatch, late)
    journal = RedisJournal.from_url(redis_server.url, job="job", lease=0.5, batch=1)
    async with fake.client() as client:
        running = asyncio.create_task(client.bulk.release([phone], journal=journal, concurrency=2))
        await poll(lambda: lease_ran_out(redis_client, 1), "the lease ran out")
        other = await journal.open("release", {}, nothing)  # takes the claim over
        reaped.set()
        done, _ = await asyncio.wait({running}, timeout=BOUND)
        await other.aclose()

    assert done, "the job never ended: its item stayed claimed by a worker not working it"
    report = running.result()
    assert [number.phone_number for number in report.succeeded] == [phone]
    assert len(fake.requests_for("release")) == 1
    job = await journal.report()
    assert (job.succeeded, job.in_flight, job.finished) == (1, 0, True)


async def test_a_rent_any_recorded_after_its_worker_was_taken_for_dead_ends_the_job(
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A live worker whose calls come late loses its lease while its rentAny call is on
    # the server: the item goes to be settled by a listing. Then the rent succeeds and
    # is recorded. The item stayed in the settlement's queue as if its outcome were
    # unknown: the settlement found no new number for it and "forgot" it, which a
    # success ignores, so the job settled again and again, forever. Now it is handed out
    # to be reported, as succeeded, which claims nothing: the round is over at once.
    # Here the worker hears of that before it hears that its own record did not count
    # ("taken"): its job must not end before it let go of the item and got it back, or
    # it ends without reporting it.
    reaped, finished = asyncio.Event(), asyncio.Event()
    claims = 0

    def claim_late(claim: Script) -> Script:
        async def claimed(*args: Any, **kwargs: Any) -> Any:
            nonlocal claims
            claims += 1
            if claims > 1:
                await reaped.wait()
            reply = await claim(*args, **kwargs)
            if reply[0] == b"finished":
                finished.set()
            return reply

        return claimed

    def outcomes_late(record: Script) -> Script:
        async def recorded(*args: Any, **kwargs: Any) -> Any:
            if any('"ev":"intent"' in str(arg) for arg in kwargs["args"]):
                return await record(*args, **kwargs)
            await reaped.wait()  # the outcomes: once the worker was taken for dead ...
            reply = await record(*args, **kwargs)
            await finished.wait()  # ... heard of once the round is over
            for _ in range(10):
                await asyncio.sleep(0)
            return reply

        return recorded

    def late(link: Link) -> None:
        wrap(link, "CLAIM", claim_late)
        wrap(link, "RECORD", outcomes_late)
        wrap(link, "RENEW", lambda renew: after(reaped, renew))

    patch_first_link(monkeypatch, late)
    # Replies held back here are not lost ones: a Redis timeout above what they wait.
    journal = RedisJournal.from_url(redis_server.url, job="job", lease=0.5, timeout=5)
    # One attempt of 5 s: the window after which the two rents would be settled by a
    # listing (a shorter one could pass, on a loaded machine, before they are answered).
    # A second slot: the job claims while its item is still in flight.
    async with fake.client(retry=RetryPolicy(attempts=1), timeouts=Timeouts(total=5)) as client:
        running = asyncio.create_task(
            client.bulk.rent_any(1, "US", "LOCAL", journal=journal, concurrency=2)
        )
        await poll(lambda: lease_ran_out(redis_client, 1, intents=1), "the lease ran out")
        other = await journal.open("rent_any", rent_any_request(1), nothing)  # takes over
        reaped.set()
        done, _ = await asyncio.wait({running}, timeout=BOUND)
        await other.aclose()

    assert done, "the job never ended: it settled a success as an unknown outcome, forever"
    assert len(running.result().succeeded) == 1  # reported, once settled
    assert sum(fake.rent_counts.values()) == 1
    job = await journal.report()
    assert (job.succeeded, job.in_flight, job.unaccounted, job.finished) == (1, 0, [], True)


# --- a dead worker and the rent_any settlement barrier ---------------------------------------


async def test_the_rent_any_settlement_does_not_wait_forever_for_a_dead_worker(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    # One worker died with a rentAny intent open; an earlier outcome of it is unknown
    # (to be settled). The last worker alive takes the settlement barrier before the
    # dead worker's lease has run out, and waits for the open intent to end. Only a
    # claim took a dead worker's items over, and the barrier holder no longer claims:
    # it waited forever.
    dead = await RedisJournal.from_url(redis_server.url, job="job", lease=3.0, batch=2).open(
        "rent_any", rent_any_request(3), nothing
    )
    work, _ = await dead.begin(range(3))
    assert isinstance(work, AsyncIterator)
    assert [await anext(work), await anext(work)] == [(0, 0), (1, 1)]  # claims 0 and 1
    await dead.record_intent(0, seq=0, window=0.5, attempt_window=0.5)
    await dead.record_intent(1, seq=1, window=0.2, attempt_window=0.1)
    with pytest.raises(Withdrawn):  # an unknown outcome: left to the settlement
        await dead.record_failure(1, TransportError("reset"), unknown=True, seq=1)
    dead._renewer.cancel()  # dies, its intent for item 0 open and its lease running

    journal = RedisJournal.from_url(redis_server.url, job="job", lease=1.0)
    async with fake.client() as client:
        running = asyncio.create_task(
            client.bulk.rent_any(3, "US", "LOCAL", journal=journal, concurrency=2)
        )
        done, _ = await asyncio.wait({running}, timeout=BOUND)
    await dead._closing.aclose()  # what a killed process would not have done

    assert done, "the settlement waited forever for a dead worker's intent"
    assert len(running.result().succeeded) == 3
    assert sum(fake.rent_counts.values()) == 3  # none of the dead worker's was sent
    job = await journal.report()
    assert (job.succeeded, job.in_flight, job.unaccounted, job.finished) == (3, 0, [], True)


async def test_intents_paused_by_a_dead_workers_settlement_go_on_once_its_lease_is_out(
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker took the rent_any settlement barrier and died while settling. The other
    # worker's intents wait for the barrier ("paused"); with every slot of its job taken
    # by one, it claims nothing, and only a claim took a dead worker's barrier over: its
    # intents waited forever.
    settling = asyncio.Event()

    async def dies_while_settling(_: Any) -> None:
        settling.set()
        await asyncio.Event().wait()  # never ends: the process is killed here

    dead = await RedisJournal.from_url(redis_server.url, job="job", lease=1.0, batch=1).open(
        "rent_any", rent_any_request(3), dies_while_settling
    )
    work, _ = await dead.begin(range(3))
    assert isinstance(work, AsyncGenerator)
    assert await anext(work) == (0, 0)
    await dead.record_intent(0, seq=0, window=0.2, attempt_window=0.1)
    with pytest.raises(Withdrawn):  # an unknown outcome: left to the settlement
        await dead.record_failure(0, TransportError("reset"), unknown=True, seq=0)

    patch_first_link(monkeypatch, lambda link: wrap(link, "RECORD", partial(after, settling)))
    journal = RedisJournal.from_url(redis_server.url, job="job", lease=1.0, batch=2)
    async with fake.client() as client:
        running = asyncio.create_task(
            client.bulk.rent_any(3, "US", "LOCAL", journal=journal, concurrency=2)
        )

        async def both_claimed() -> bool:
            return await redis_client.hlen(KEYS + "claimed") == 2

        await poll(both_claimed, "the job claimed items 1 and 2")
        barrier = asyncio.create_task(work.__anext__())  # the dead worker settles ...
        await asyncio.wait_for(settling.wait(), BOUND)
        dead._renewer.cancel()  # ... and dies there; the job's intents come after
        done, _ = await asyncio.wait({running}, timeout=BOUND)
    barrier.cancel()
    await dead._closing.aclose()  # what a killed process would not have done

    assert done, "the intents waited forever for a dead worker's settlement"
    assert len(running.result().succeeded) == 3
    assert sum(fake.rent_counts.values()) == 3
    job = await journal.report()
    assert (job.succeeded, job.in_flight, job.unaccounted, job.finished) == (3, 0, [], True)
