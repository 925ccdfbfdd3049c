"""The Redis journal's rules, in one process against a real ``redis-server``.

Workers here are jobs of separate clients in one event loop (the multi-process runs, with
kills, are in ``test_redis_workers.py``). Timing bounds say in a comment why they hold on
a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from numbers_async import (
    InvalidInputError,
    JournalError,
    NumbersClient,
    RetryPolicy,
    SmsConfiguration,
    Timeouts,
)
from numbers_async.bulk._redis_link import Link
from numbers_async.redis import RedisJournal, RedisRateLimiter
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import LIVE_TIMEOUT, RedisServer, eventually

QUICK: dict[str, Any] = {
    "retry": RetryPolicy(attempts=2, backoff=0.01, max_retry_after=0.1),
    "timeouts": Timeouts(total=1.0),
}


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


def journal_at(url: str, job: str = "job", **settings: Any) -> RedisJournal:
    return RedisJournal.from_url(url, job=job, **{"lease": 2.0, **settings})


async def test_two_workers_share_one_release_and_each_number_is_released_once(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(120)
    journal = journal_at(redis_server.url, batch=10)
    async with fake.client(**QUICK) as first, fake.client(**QUICK) as second:
        reports = await asyncio.gather(
            first.bulk.release(owned, journal=journal, concurrency=5),
            second.bulk.release(owned, journal=journal, concurrency=5),
        )

    done = [n.phone_number for report in reports for n in report.succeeded]
    assert sorted(done) == sorted(owned)  # each item reported by exactly one worker
    assert all(report.succeeded for report in reports)  # both took part
    assert len(fake.requests_for("release")) == 120
    job = await journal.report()
    assert (job.items, job.succeeded, job.failed, job.finished) == (120, 120, [], True)


async def test_a_job_under_the_same_name_with_another_operation_is_refused_first(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(3)
    await client.bulk.update(owned, display_name="A", journal=journal_at(redis_server.url))
    fake.requests.clear()

    with pytest.raises(InvalidInputError, match="bulk update job") as raised:
        await client.bulk.release(owned, journal=journal_at(redis_server.url))
    with pytest.raises(InvalidInputError, match="displayName"):
        await client.bulk.update(owned, display_name="B", journal=journal_at(redis_server.url))

    assert raised.value.argument == "journal"
    assert fake.requests == []


@pytest.mark.parametrize("change", ["another item", "one more item", "one item fewer"], ids=str)
async def test_a_job_under_the_same_name_with_another_input_is_refused_first(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer, change: str
) -> None:
    owned = fake.add_active_numbers(5)
    await client.bulk.update(owned[:4], display_name="A", journal=journal_at(redis_server.url))
    fake.requests.clear()
    other = {
        "another item": [*owned[:3], owned[4]],
        "one more item": owned,
        "one item fewer": owned[:3],
    }[change]

    with pytest.raises(InvalidInputError, match="not the same job") as raised:
        await client.bulk.update(other, display_name="A", journal=journal_at(redis_server.url))

    assert raised.value.argument == "phone_numbers"
    assert fake.requests == []


async def test_an_intent_is_recorded_before_each_release_is_sent(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(2)
    fake.inject(Fault.latency(0.5), route="release", times=None)
    journal = journal_at(redis_server.url)
    job = asyncio.create_task(client.bulk.release(owned, journal=journal))
    await eventually(lambda: len(fake.requests_for("release")) == 2)

    during = await journal.report()  # both requests are on the server now

    assert during.in_flight == 2
    assert during.succeeded == 0
    assert (await job).ok
    after = await journal.report()
    assert (after.in_flight, after.succeeded) == (0, 2)


async def test_a_worker_joining_a_finished_job_reports_it_finished_and_sends_nothing(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(30)
    async with fake.client() as client:
        await client.bulk.release(owned, journal=journal_at(redis_server.url))
        fake.requests.clear()

        report = await client.bulk.release(owned, journal=journal_at(redis_server.url))

    assert report.ok
    assert report.resumed == 30
    assert len(report.succeeded) == 30
    assert [r.route for r in fake.requests if r.route != "token"] == []


async def test_a_worker_joining_a_finished_job_retries_its_failures(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(6)
    fake.inject(Fault.status(403), route="release", times=2)  # refused: known failures
    first = await client.bulk.release(owned, journal=journal_at(redis_server.url))
    assert len(first.failed) == 2
    assert len((await journal_at(redis_server.url).report()).failed) == 2

    rerun = await client.bulk.release(owned, journal=journal_at(redis_server.url))

    assert rerun.ok
    assert rerun.resumed == 4
    assert fake.active == {}
    assert (await journal_at(redis_server.url).report()).failed == []


async def test_items_are_claimed_in_batches_and_cost_few_round_trips(
    fake: FakeNumbersServer, redis_server: RedisServer, redis_client: aioredis.Redis
) -> None:
    owned = fake.add_active_numbers(400)
    journal = journal_at(redis_server.url, batch=25)
    held: list[int] = []
    claimed = "numbers_async:job:{job}:claimed"

    done = asyncio.Event()

    async def watch() -> None:
        # Stopped by an event, not cancelled: redis-py 8 on Python 3.10 and 3.11 can
        # swallow a cancellation that arrives during a command (it uses asyncio.wait_for
        # inside), and a watcher that missed one ran forever, hanging the test's teardown.
        while not done.is_set():
            held.append(await redis_client.hlen(claimed))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        async with fake.client() as client:
            report = await client.bulk.release(owned, journal=journal, concurrency=20)
    finally:
        done.set()
        await watcher

    assert report.ok
    assert 0 < max(held) <= 25 + 20  # one batch waiting, the rest in flight: never the job
    # An intent and an outcome per item, sent together with other items' (group commit),
    # a claim per batch, the job's setup: well under the 2 calls per item of one by one.
    assert journal.round_trips / len(owned) < 1.5


async def test_the_lease_is_renewed_while_a_slow_worker_lives(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    # Each release takes 1.5 s on the server, three times the lease: without renewals
    # the second worker would take the first one's items over and release them again.
    owned = fake.add_active_numbers(4)
    fake.inject(Fault.latency(1.5), route="release", times=None)
    journal = journal_at(redis_server.url, lease=0.5, batch=4)
    async with fake.client(**QUICK | {"timeouts": Timeouts(total=5)}) as slow:
        first = asyncio.create_task(slow.bulk.release(owned, journal=journal, concurrency=4))
        await eventually(lambda: len(fake.requests_for("release")) == 4)
        async with fake.client() as other:
            second = await other.bulk.release(owned, journal=journal)
        assert (await first).ok

    assert second.succeeded == []
    assert second.failed == []
    assert len(fake.requests_for("release")) == 4


async def test_a_dead_workers_unstarted_claims_are_taken_over_after_its_lease(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(10)
    journal = journal_at(redis_server.url, lease=0.5, batch=10)
    session = await journal.open("release", {}, lambda _: asyncio.sleep(0))
    work, _ = await session.begin(owned)
    assert isinstance(work, AsyncIterator)
    await anext(work)  # claims all ten, then "dies": stops renewing, releases nothing
    session._renewer.cancel()

    started = time.monotonic()
    async with fake.client() as client:
        report = await client.bulk.release(owned, journal=journal_at(redis_server.url))

    assert report.ok
    assert len(report.succeeded) == 10
    assert time.monotonic() - started >= 0.4  # not before the dead worker's lease ran out
    await session._closing.aclose()  # what a killed process would not have done


async def test_an_unknown_rent_is_checked_by_get_before_renting_again(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    found = sorted(
        phone
        for phone, number in fake.available.items()
        if (number["regionCode"], number["type"]) == ("US", "LOCAL")
    )[:3]
    fake.inject(Fault.reset_after(), route="rent")  # rented, answer lost
    fake.inject(Fault.status(503), route="get_active", times=2)  # the client's own check too
    retry = RetryPolicy(attempts=1)
    async with fake.client(retry=retry, timeouts=Timeouts(total=1)) as client:
        sms = SmsConfiguration(service_plan_id="plan")
        report = await client.bulk.rent(found, sms=sms, journal=journal_at(redis_server.url))

    assert report.ok  # the unknown outcome was checked, and reported, once settled
    assert {phone: fake.rent_counts[phone] for phone in found} == dict.fromkeys(found, 1)
    job = await journal_at(redis_server.url).report()
    assert (job.succeeded, job.failed) == (3, [])  # settled within the job by a GET


async def test_two_workers_rent_any_exactly_count_with_lost_answers(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    fake.inject(Fault.reset_after(), route="rent_any", times=None, probability=0.15)
    journal = journal_at(redis_server.url, batch=5)
    async with fake.client(**QUICK) as first, fake.client(**QUICK) as second:
        reports = await asyncio.gather(
            first.bulk.rent_any(40, "US", "LOCAL", journal=journal, concurrency=4),
            second.bulk.rent_any(40, "US", "LOCAL", journal=journal, concurrency=4),
        )

    assert sum(fake.rent_counts.values()) == 40
    assert set(fake.rent_counts.values()) == {1}
    job = await journal.report()
    assert (job.succeeded, job.failed, job.unaccounted) == (40, [], [])
    # Each number reported once, by one worker; the lost ones as resumed once settled.
    numbers = [n.phone_number for report in reports for n in report.succeeded]
    assert sorted(numbers) == sorted(fake.rent_counts)
    assert all(not report.failed for report in reports)


async def test_the_rate_limit_is_shared_through_the_redis_limiter(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    # 60 releases at a shared 40/s take at least 59/40 s whatever the number of workers;
    # the fake allows 45/s, so none is refused with a 429. Its bursts of 8 absorb the
    # bunching of a starved event loop on a loaded machine (requests spaced by the
    # limiter, then sent together); two unshared limiters would send 80/s, which bursts
    # of 8 cannot hide (it gets 429s).
    owned = fake.add_active_numbers(60)
    fake.set_rate_limit(45, burst=8)
    journal = journal_at(redis_server.url)
    limiters = [RedisRateLimiter.from_url(redis_server.url, rate=40, key="p") for _ in range(2)]
    started = time.monotonic()
    async with fake.client(rate_limit=limiters[0]) as a, fake.client(rate_limit=limiters[1]) as b:
        await asyncio.gather(
            a.bulk.release(owned, journal=journal), b.bulk.release(owned, journal=journal)
        )
    for limiter in limiters:
        await limiter.aclose()

    assert time.monotonic() - started >= 59 / 40
    assert not [r for r in fake.requests if r.status == 429]
    assert fake.active == {}


async def test_redis_down_mid_job_lets_the_items_in_flight_finish_and_be_recorded(
    fake: FakeNumbersServer, persistent_redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(6)
    fake.inject(Fault.latency(1.0), route="release", times=6)
    journal = journal_at(persistent_redis_server.url, max_outage=20)
    async with fake.client(timeouts=Timeouts(total=5)) as client:
        job = asyncio.create_task(client.bulk.release(owned, journal=journal, concurrency=6))
        await eventually(lambda: len(fake.requests_for("release")) == 6)
        persistent_redis_server.stop()  # while the six requests are on the server
        await eventually(lambda: all(r.status for r in fake.requests_for("release")))
        await asyncio.sleep(0.5)  # their outcomes wait for Redis
        persistent_redis_server.start()
        report = await job

    assert report.ok
    assert len(report.succeeded) == 6
    after = await journal_at(persistent_redis_server.url).report()
    assert (after.succeeded, after.in_flight, after.failed) == (6, 0, [])


async def test_redis_gone_for_longer_than_max_outage_stops_the_job_within_it(
    fake: FakeNumbersServer, persistent_redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(4)
    fake.inject(Fault.latency(0.5), route="release", times=None)
    journal = journal_at(persistent_redis_server.url, max_outage=1.0)
    async with fake.client() as client:
        job = asyncio.create_task(client.bulk.release(owned, journal=journal, concurrency=2))
        await eventually(lambda: len(fake.requests_for("release")) == 2)
        persistent_redis_server.stop()
        stopped = time.monotonic()
        with pytest.raises(JournalError, match="unreachable for 1 s") as raised:
            await job
        # max_outage, plus one command's timeout (1 s) and a backoff step: a bound
        # the loop meets however loaded the machine, as nothing here waits on the CPU.
        assert time.monotonic() - stopped < 4.0

    assert "redis://127.0.0.1" in str(raised.value)
    persistent_redis_server.start()
    after = await journal_at(persistent_redis_server.url).report()
    assert after.failed == []  # nothing recorded as failed that may have succeeded
    assert after.in_flight + after.succeeded == 2


async def test_a_journal_back_from_an_outage_does_not_use_connections_from_before_it(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections idle in the pool when Redis went away are dead when it comes back. Once
    a call has found Redis again, none of them may fail a later call: that would be taken
    for another outage (the job's writes waiting again, and two more warnings)."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    redis = aioredis.from_url(own_redis_server.url)
    link = Link(
        redis,
        {"ping": "return {'ok'}"},
        ["{job}:k"],
        where="test",
        timeout=LIVE_TIMEOUT,
        max_outage=30,
        count=lambda: None,
    )
    try:
        # Several calls at once: the pool holds several connections, idle afterwards.
        await asyncio.gather(*(link.call("ping") for _ in range(8)))
        own_redis_server.stop()
        waiting = asyncio.create_task(link.call("ping"))  # waits the outage out
        await eventually(lambda: link.down)
        own_redis_server.start()
        await waiting
        downs = []
        for _ in range(3):
            await asyncio.gather(*(link.call("ping") for _ in range(8)))
            downs.append(link.down)
    finally:
        await redis.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.split(" (")[0].split(":")[0] for w in warnings] == [
        "Redis is unreachable",
        "Redis is reachable again",
    ], warnings
    assert downs == [False, False, False]


async def test_the_report_lists_the_failures_of_every_worker(
    fake: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = fake.add_active_numbers(4)
    missing = "+12025550199"
    async with fake.client() as a, fake.client() as b:
        journal = journal_at(redis_server.url, batch=1)
        await asyncio.gather(
            a.bulk.release([*owned, missing], journal=journal),
            b.bulk.release([*owned, missing], journal=journal),
        )

    report = await journal.report()
    (failure,) = report.failed
    assert (failure.item, failure.error, failure.status) == (missing, "NotFoundError", 404)
    assert not failure.outcome_unknown
    assert (report.operation, report.succeeded, report.pending, report.workers) == (
        "release",
        4,
        0,
        0,
    )


async def test_a_job_name_that_could_collide_is_refused() -> None:
    for name in ["a:b", "a}b", "", "x" * 129, "-leading"]:
        with pytest.raises(InvalidInputError, match="job"):
            RedisJournal.from_url("redis://localhost:6379/0", job=name)
    with pytest.raises(InvalidInputError, match="name the job"):
        RedisJournal.from_url("redis://localhost:6379/0")


async def test_the_url_carries_the_job_and_its_settings_and_hides_the_password() -> None:
    journal = RedisJournal.from_url("redis://:hunter2@localhost:6379/1?job=nightly&lease=5")

    assert journal.job == "nightly"
    assert "hunter2" not in repr(journal)
    assert "hunter2" not in journal.where
    assert "lease=5s" in repr(journal)
    assert json.dumps(journal.where).count("***") == 1


async def test_verify_resumed_checks_a_forged_success_with_the_server(
    client: NumbersClient,
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
) -> None:
    owned = fake.add_active_numbers(3)
    fake.inject(Fault.status(403), route="release")  # the first release is refused
    await client.bulk.release(owned, journal=journal_at(redis_server.url), concurrency=1)
    (refused,) = fake.active
    forged = {"s": "succeeded", "n": json.dumps({"phoneNumber": refused}), "seq": 0}
    await redis_client.hset(
        "numbers_async:job:{job}:state", json.dumps(refused), json.dumps(forged)
    )
    fake.requests.clear()

    report = await client.bulk.release(
        owned, journal=journal_at(redis_server.url), verify_resumed=True
    )

    assert report.ok
    assert report.resumed == 2  # the true ones, confirmed by a 404 each
    assert [r.path.rsplit("/", 1)[1] for r in fake.requests_for("release")] == [
        f"{refused}:release"
    ]  # the forged one: the server said it is still owned, so it was released now
    assert fake.active == {}


@pytest.mark.parametrize("script", ["CLAIM", "RECORD"])
async def test_a_call_whose_reply_was_lost_is_sent_again_without_a_second_effect(
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    script: str,
) -> None:
    # Redis ran the script, but its reply came too late (a timeout on a loaded machine):
    # the call is sent again. A claim sent again must give the items it gave (else they
    # stay claimed by a worker that never works them, and the job never ends); a record
    # sent again must not be taken for another worker's (else its item goes unreported).
    real_init = Link.__init__
    lost: list[str] = []

    def losing_replies(self: Link, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        real = self._scripts[script]

        async def lose_some(*call: Any, **named: Any) -> Any:
            reply = await real(*call, **named)
            outcomes = script == "CLAIM" or '"succeeded"' in str(named.get("args"))
            if outcomes and len(lost) < 3:
                lost.append(script)
                raise asyncio.TimeoutError
            return reply

        self._scripts[script] = lose_some  # type: ignore[assignment]

    monkeypatch.setattr(Link, "__init__", losing_replies)
    owned = fake.add_active_numbers(30)
    async with fake.client() as client:
        report = await asyncio.wait_for(
            client.bulk.release(owned, journal=journal_at(redis_server.url, batch=5)), 30
        )

    assert lost == [script] * 3
    assert sorted(n.phone_number for n in report.succeeded) == sorted(owned)
    assert fake.active == {}


async def test_an_intent_heard_late_is_recorded_again_before_the_request_is_sent(
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    redis_client: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Redis recorded the intent, but its reply was lost (later than the journal's 0.2 s
    # timeout) and the call asked again. The window of an intent is timed from when
    # Redis recorded it; the release is sent only now. Were the intent not recorded
    # again, its window could end while the release still runs, and another worker
    # (this one taken for dead meanwhile) act on the number too.
    (phone,) = fake.add_active_numbers(1)
    real_init = Link.__init__
    heard: list[int] = []

    def late_reply(self: Link, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        record = self._scripts["RECORD"]
        calls = 0

        async def recorded(*call: Any, **named: Any) -> Any:
            nonlocal calls
            calls += 1
            reply = await record(*call, **named)
            if calls == 1:  # the intent: recorded, and its reply lost
                await asyncio.sleep(5)  # cut off by the 0.2 s timeout
            if calls == 2:  # asked again: the stored reply, heard now
                seconds, micros = await redis_client.time()
                heard.append(seconds * 1000 + micros // 1000)
            return reply

        self._scripts["RECORD"] = recorded  # type: ignore[assignment]

    monkeypatch.setattr(Link, "__init__", late_reply)
    journal = RedisJournal.from_url(redis_server.url, job="job", timeout=0.2)
    async with fake.client() as client:
        report = await client.bulk.release([phone], journal=journal)

    assert report.ok
    assert len(fake.requests_for("release")) == 1
    raw = await redis_client.hget("numbers_async:job:{job}:state", json.dumps(phone))
    assert raw is not None
    record = json.loads(raw)
    assert record["at"] >= heard[0]  # its window starts once the worker heard of it
    assert "hu" not in record  # recorded again, not a second attempt that may have acted
