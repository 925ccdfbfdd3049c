"""Several worker processes on one bulk job journaled in Redis, against a real Redis.

Each test hosts the fake server in this process, with random faults (503s before and
after the work is done, and answers lost after the work is done), and runs its workers as
child processes (``tests/bulk/redis_worker.py``): three at first, one of them SIGKILLed at
a random moment, another added midway. Then: every number rented (or released) exactly
once, the job's report complete (every item succeeded, nothing in flight, nothing
unaccounted).

Bounds, and why they hold on a loaded 2-core machine: every attempt is limited to
``ATTEMPT`` seconds and a call to ``ATTEMPTS`` attempts with sleeps of at most 0.2 s, so a
call's window is about 3.4 s; a worker's lease is ``LEASE`` seconds. A killed worker's
items are taken over within lease + window (under 6 s); the rest is bounded by the fake's
throughput (several hundred requests/s here). ``DEADLINE`` (90 s) is far above what a
run takes (about 20 s); it only turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from numbers_async import InvalidInputError
from numbers_async.bulk import JournalReport
from numbers_async.redis import RedisJournal
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import RedisServer

ROOT = Path(__file__).resolve().parent.parent.parent
ATTEMPT = 1.0
ATTEMPTS = 3
LEASE = 1.5
DEADLINE = 90.0
ITEMS = 2000

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def faulty() -> AsyncIterator[FakeNumbersServer]:
    """A fake with enough numbers for 2,000 rents, and random faults on every route."""
    async with FakeNumbersServer(numbers_per_bucket=2100, seed=7) as fake:
        fake.inject(Fault.status(503), times=None, probability=0.03)
        fake.inject(Fault.status_after(503), times=None, probability=0.02)
        fake.inject(Fault.reset_after(), times=None, probability=0.02)
        yield fake


def rentable(fake: FakeNumbersServer, count: int) -> list[str]:
    """``count`` numbers the fake lets a project rent (US LOCAL)."""
    phones = sorted(
        phone
        for phone, number in fake.available.items()
        if (number["regionCode"], number["type"]) == ("US", "LOCAL")
    )
    assert len(phones) >= count
    return phones[:count]


def config(fake: FakeNumbersServer, redis_url: str, job: str, **more: Any) -> dict[str, Any]:
    return {
        "url": fake.url,
        "auth_url": fake.auth_url,
        "project_id": fake.project_id,
        "key_id": fake.key_id,
        "key_secret": fake.key_secret,
        "redis_url": redis_url,
        "job": job,
        "lease": LEASE,
        "attempt": ATTEMPT,
        "attempts": ATTEMPTS,
        "concurrency": 10,
        **more,
    }


class Fleet:
    """The worker processes of one job."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.children: list[asyncio.subprocess.Process] = []

    async def start(self, *, gated: bool = False) -> asyncio.subprocess.Process:
        """A worker; a ``gated`` one joins the job only once ``open_gate`` is called."""
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bulk.redis_worker",
            json.dumps({**self.settings, "gated": gated}),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE if gated else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.children.append(child)
        return child

    @staticmethod
    async def open_gate(child: asyncio.subprocess.Process) -> None:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()

    async def results(self) -> list[dict[str, Any] | None]:
        """Each worker's last line (``None`` for one that was killed)."""
        found: list[dict[str, Any] | None] = []
        for child in self.children:
            output, errors = await asyncio.wait_for(child.communicate(), DEADLINE)
            if child.returncode == -signal.SIGKILL:
                found.append(None)
                continue
            assert child.returncode == 0, errors.decode()[-2000:]
            found.append(json.loads(output.decode().strip().splitlines()[-1]))
        return found

    def kill_all(self) -> None:
        for child in self.children:
            if child.returncode is None:
                child.kill()


async def run_with_a_kill_and_a_newcomer(
    fake: FakeNumbersServer, settings: dict[str, Any], progress: Any
) -> list[dict[str, Any] | None]:
    """Three workers; one SIGKILLed at a random moment, one more joining midway.

    The newcomer's interpreter starts with the others and joins when its gate opens: one
    started midway could take longer to start (seconds on a loaded machine) than the
    rest of the job, and would then join a finished job (a rerun, reporting every item).
    """
    fleet = Fleet(settings)
    try:
        for _ in range(3):
            await fleet.start()
        newcomer = await fleet.start(gated=True)
        rng = random.Random()  # a new moment every run: the rules must hold at any
        kill_at = rng.uniform(0.1, 0.6)
        await until(lambda: progress() >= kill_at)
        fleet.children[rng.randrange(3)].kill()
        await until(lambda: progress() >= 0.5)
        await fleet.open_gate(newcomer)
        results = await fleet.results()
    finally:
        fleet.kill_all()
    assert [result is None for result in results].count(True) == 1  # the one killed
    return results


async def until(condition: Any) -> None:
    """Poll ``condition`` (the fake's counters) until it holds; a hang fails the test."""
    for _ in range(int(DEADLINE / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the job made no progress")


async def until_joined(server: RedisServer, job: str, *, workers: int) -> None:
    """Wait until ``workers`` workers hold a lease in ``job`` (its workers' sorted set)."""
    redis = aioredis.from_url(server.url)
    try:
        for _ in range(int(DEADLINE / 0.01)):
            if await redis.zcard(f"numbers_async:job:{{{job}}}:workers") >= workers:
                return
            await asyncio.sleep(0.01)
    finally:
        await redis.aclose()
    raise AssertionError(f"fewer than {workers} workers joined {job}")


def assert_complete(report: JournalReport, items: int) -> None:
    assert report.items == items
    assert report.succeeded == items
    assert report.failed == []
    assert report.in_flight == 0
    assert report.unaccounted == []
    assert report.finished


def reported(results: list[dict[str, Any] | None]) -> list[str]:
    """What the surviving workers reported: each number once at most (the killed worker's
    report is lost with it)."""
    phones = [phone for result in results if result for phone in result["succeeded"]]
    assert len(phones) == len(set(phones))
    return phones


async def test_three_workers_rent_2000_numbers_each_exactly_once_despite_a_kill(
    faulty: FakeNumbersServer, redis_server: RedisServer
) -> None:
    phones = rentable(faulty, ITEMS)
    settings = config(faulty, redis_server.url, "rent-2000", operation="rent", items=phones)

    results = await run_with_a_kill_and_a_newcomer(
        faulty, settings, lambda: len(faulty.rent_counts) / ITEMS
    )

    assert set(faulty.rent_counts) == set(phones)
    assert set(faulty.rent_counts.values()) == {1}  # every number rented exactly once
    report = await RedisJournal.from_url(redis_server.url, job="rent-2000").report()
    assert_complete(report, ITEMS)
    assert set(reported(results)) <= set(phones)


async def test_three_workers_rent_any_exactly_count_despite_a_kill(
    faulty: FakeNumbersServer, redis_server: RedisServer
) -> None:
    settings = config(faulty, redis_server.url, "rent-any-2000", operation="rent_any", count=ITEMS)

    results = await run_with_a_kill_and_a_newcomer(
        faulty, settings, lambda: len(faulty.rent_counts) / ITEMS
    )

    assert len(faulty.rent_counts) == ITEMS  # exactly count, across every worker
    assert set(faulty.rent_counts.values()) == {1}
    report = await RedisJournal.from_url(redis_server.url, job="rent-any-2000").report()
    assert_complete(report, ITEMS)
    assert set(reported(results)) <= set(faulty.rent_counts)


async def test_three_workers_release_2000_numbers_despite_a_kill(
    faulty: FakeNumbersServer, redis_server: RedisServer
) -> None:
    owned = faulty.add_active_numbers(ITEMS)
    settings = config(faulty, redis_server.url, "release-2000", operation="release", items=owned)

    results = await run_with_a_kill_and_a_newcomer(
        faulty, settings, lambda: 1 - len(faulty.active) / ITEMS
    )

    assert faulty.active == {}  # every number released; a second release would be a 404
    report = await RedisJournal.from_url(redis_server.url, job="release-2000").report()
    assert_complete(report, ITEMS)
    assert set(reported(results)) <= set(owned)


async def test_a_redis_restart_mid_job_loses_nothing_with_persistence(
    faulty: FakeNumbersServer, persistent_redis_server: RedisServer
) -> None:
    phones = rentable(faulty, ITEMS)
    settings = config(
        faulty, persistent_redis_server.url, "rent-restart", operation="rent", items=phones
    )
    fleet = Fleet(settings)
    try:
        for _ in range(3):
            await fleet.start()
        await until(lambda: len(faulty.rent_counts) >= ITEMS // 3)
        persistent_redis_server.stop()  # SIGTERM: what it acknowledged is on disk (fsync always)
        await asyncio.sleep(1.0)
        persistent_redis_server.start()
        results = await fleet.results()
    finally:
        fleet.kill_all()

    assert all(result is not None for result in results)
    assert set(faulty.rent_counts) == set(phones)
    assert set(faulty.rent_counts.values()) == {1}
    report = await RedisJournal.from_url(persistent_redis_server.url, job="rent-restart").report()
    assert_complete(report, ITEMS)


async def test_a_redis_that_forgot_the_job_stops_every_worker_without_renting_twice(
    faulty: FakeNumbersServer, own_redis_server: RedisServer
) -> None:
    phones = rentable(faulty, ITEMS)
    settings = config(faulty, own_redis_server.url, "rent-amnesia", operation="rent", items=phones)
    fleet = Fleet(settings)
    try:
        for _ in range(2):
            await fleet.start()
        # Both workers in the job before Redis forgets it: on a loaded machine the second
        # interpreter can start after the first has rented a quarter, and would then open
        # the job anew after the restart instead of finding it gone.
        await until_joined(own_redis_server, "rent-amnesia", workers=2)
        await until(lambda: len(faulty.rent_counts) >= ITEMS // 4)
        own_redis_server.stop()  # no persistence: the job's keys are gone
        own_redis_server.start()
        outputs = [
            await asyncio.wait_for(child.communicate(), DEADLINE) for child in fleet.children
        ]
    finally:
        fleet.kill_all()

    tails = [errors[-2000:].decode(errors="replace") for _, errors in outputs]
    assert [child.returncode for child in fleet.children] == [1, 1], tails
    assert all(b"JournalError" in errors for _, errors in outputs)
    assert all(b"state is gone from Redis" in errors for _, errors in outputs)
    assert set(faulty.rent_counts.values()) == {1}  # stopped, never started again from scratch
    assert len(faulty.rent_counts) < ITEMS
    with pytest.raises(InvalidInputError, match="no such job"):
        await RedisJournal.from_url(own_redis_server.url, job="rent-amnesia").report()


async def test_a_dead_workers_rent_any_still_running_on_the_server_is_waited_for(
    redis_server: RedisServer,
) -> None:
    # The server takes `slow` seconds over each rentAny and goes on after the worker dies
    # with all 8 in flight. Its lease (1 s) runs out long before those requests end; only
    # their window (one attempt of 4 s) covers them. Settling at the end of the lease
    # would list the numbers before they are rented, and rent 8 more.
    slow, count = 2.5, 8
    async with FakeNumbersServer(seed=3) as fake:
        fake.inject(Fault.latency(slow), route="rent_any", times=None)
        settings = config(
            fake,
            redis_server.url,
            "slow-rent-any",
            operation="rent_any",
            count=count,
            attempt=4.0,
            attempts=1,
            lease=1.0,
            concurrency=8,
        )
        fleet = Fleet(settings)
        try:
            doomed = await fleet.start()
            await until(lambda: sum(r.status == 0 for r in fake.requests_for("rent_any")) >= 8)
            doomed.kill()
            await fleet.start()
            results = await fleet.results()
        finally:
            fleet.kill_all()
        await until(lambda: not any(r.status == 0 for r in fake.requests_for("rent_any")))

    assert results[0] is None
    assert sum(fake.rent_counts.values()) == count  # the dead worker's 8, found and kept
    assert set(fake.rent_counts.values()) == {1}
    report = await RedisJournal.from_url(redis_server.url, job="slow-rent-any").report()
    assert_complete(report, count)
