"""The Redis-backed rate limiter and event deduplicator, against a real ``redis-server``."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
import redis as blocking_redis  # reads Redis without giving the event loop a turn
import redis.asyncio as aioredis

from numbers_async.errors import InvalidInputError
from numbers_async.redis import RedisEventDeduplicator, RedisRateLimiter
from numbers_async.testing import FakeNumbersServer
from tests.conftest import LIVE_TIMEOUT, LoopLag, RedisServer, eventually


@pytest.fixture
async def connect(
    redis_server: RedisServer,
) -> AsyncIterator[Callable[[], aioredis.Redis]]:
    """Open ``redis.asyncio`` clients to the test's Redis; all are closed afterwards."""
    opened: list[aioredis.Redis] = []

    def open_one() -> aioredis.Redis:
        client = aioredis.from_url(redis_server.url)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        await client.aclose()


async def acquire_times(limiter: RedisRateLimiter, count: int, concurrency: int) -> list[float]:
    """Acquire ``count`` times from ``concurrency`` callers; the monotonic time of each pass."""
    times: list[float] = []
    remaining = count

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await limiter.acquire()
            times.append(time.monotonic())

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return sorted(times)


# What the limiter's script runs inside Redis (counted by Redis, but not round trips).
_SCRIPT_INTERNALS = {"time", "hmget", "hset", "pexpire", "zadd", "zremrangebyscore", "zcard"}


# --- the rate limiter ---------------------------------------------------------------------------


async def test_loop_lag_counts_the_time_the_loop_could_not_run() -> None:
    """The allowance the wall-clock bounds below add for a loaded machine is real time."""
    async with LoopLag() as lag:
        time.sleep(0.3)  # noqa: ASYNC251 - the loop blocked, as a starved process is
        await asyncio.sleep(0.05)
    assert lag.total >= 0.25


async def test_acquires_are_spaced_at_the_rate(connect: Callable[[], aioredis.Redis]) -> None:
    limiter = RedisRateLimiter(connect(), rate=20, key="project-a")

    async with LoopLag() as lag:
        started = time.monotonic()
        times = await acquire_times(limiter, 21, concurrency=10)

    # 20 intervals of 50 ms. From the start, not from the first pass, which a loaded
    # machine may delay, shortening the spread.
    assert 0.95 <= times[-1] - started <= 1.3 + lag.total


async def test_limiters_sharing_a_key_share_the_rate(connect: Callable[[], aioredis.Redis]) -> None:
    first = RedisRateLimiter(connect(), rate=20, key="project-a")
    second = RedisRateLimiter(connect(), rate=20, key="project-a")

    started = time.monotonic()
    await asyncio.gather(acquire_times(first, 11, 5), acquire_times(second, 10, 5))

    assert time.monotonic() - started >= 0.95  # 21 requests at 20/s together


async def test_limiters_with_other_keys_do_not_share_the_schedule(
    connect: Callable[[], aioredis.Redis],
) -> None:
    # A pause shared under project-a holds up another limiter of project-a, not one of
    # project-b. (Two seconds against one Redis round trip: no load on the machine can
    # blur that, as it could two rates' worth of requests.)
    first = RedisRateLimiter(connect(), rate=20, key="project-a")
    same = RedisRateLimiter(connect(), rate=20, key="project-a")
    other = RedisRateLimiter(connect(), rate=20, key="project-b")
    first.pause(2.0)
    await first.aclose()  # the pause is in Redis once this returns

    async def waited(limiter: RedisRateLimiter) -> float:
        started = time.monotonic()
        await limiter.acquire()
        return time.monotonic() - started

    same_key, other_key = await asyncio.gather(waited(same), waited(other))
    assert same_key >= 1.8
    assert other_key < 1.0


async def test_callers_in_three_replicas_get_equal_shares(
    connect: Callable[[], aioredis.Redis],
) -> None:
    replicas = [RedisRateLimiter(connect(), rate=60, key="project-a") for _ in range(3)]
    counts = [0, 0, 0]
    stop = time.monotonic() + 2.0

    async def caller(index: int) -> None:
        while time.monotonic() < stop:
            await replicas[index].acquire()
            counts[index] += 1
            await asyncio.sleep(0.005 * (index + 1))  # replicas with slower "requests"

    await asyncio.gather(*(caller(index) for index in range(3) for _ in range(5)))

    assert sum(counts) <= 60 * 2 + 16  # plus the slots held by the 15 callers at the end
    assert min(counts) >= 0.8 * max(counts), counts


async def test_a_pause_in_one_replica_holds_back_the_others(
    connect: Callable[[], aioredis.Redis],
) -> None:
    paused = RedisRateLimiter(connect(), rate=100, key="project-a")
    other = RedisRateLimiter(connect(), rate=100, key="project-a")
    await other.acquire()

    async with LoopLag() as lag:
        paused.pause(1.0)
        await asyncio.sleep(0.1)  # the shared pause is written in the background
        started = time.monotonic()
        await other.acquire()
        waited = time.monotonic() - started

    # At least the pause (less the 0.1 s it took to be written); at most well short of a
    # pause taken twice (2 s), plus what a loaded machine added.
    assert 0.8 <= waited <= 1.5 + lag.total, (waited, lag.total)


async def test_after_a_pause_the_fleet_resumes_at_the_rate_without_a_burst(
    connect: Callable[[], aioredis.Redis],
) -> None:
    replicas = [RedisRateLimiter(connect(), rate=50, key="project-a", burst=10) for _ in range(2)]
    pause_began = time.monotonic()
    replicas[0].pause(0.5)
    await asyncio.sleep(0.05)

    runs = await asyncio.gather(*(acquire_times(r, 10, 5) for r in replicas))
    last = max(at for run in runs for at in run)

    # 20 passes 20 ms apart from the pause's end: the last 0.38 s after it. A burst of 10
    # when it ends would bring the last in at 0.2 s. From the pause's start, which no load
    # can move (load only delays passes), not from gaps between passes, which it bunches.
    assert last - pause_began >= 0.5 + 0.36, last - pause_began


async def test_pause_returns_at_once_and_applies_locally_before_redis_knows(
    connect: Callable[[], aioredis.Redis], redis_server: RedisServer
) -> None:
    limiter = RedisRateLimiter(connect(), rate=100, key="project-a")

    started = time.perf_counter()
    limiter.pause(0.5)
    # Not a wall-clock bound (a loaded machine took 12 ms over one): pause() is no
    # coroutine and shares the pause in the background, so when it has returned, Redis
    # has not been told yet, and this process is paused all the same.
    with blocking_redis.Redis.from_url(redis_server.url) as reader:
        shared_at_return = reader.hget("numbers_async:rate:project-a", "paused")
    await limiter.acquire()

    assert shared_at_return is None
    assert time.perf_counter() - started >= 0.45
    assert await connect().hget("numbers_async:rate:project-a", "paused") is not None


async def test_a_caller_waiting_for_its_slot_when_a_pause_begins_waits_for_the_pause(
    connect: Callable[[], aioredis.Redis],
) -> None:
    limiter = RedisRateLimiter(connect(), rate=5, key="project-a")
    await limiter.acquire()  # the next slot is 200 ms away
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)

    started = time.monotonic()
    limiter.pause(0.6)
    await waiting

    assert time.monotonic() - started >= 0.55


async def test_a_caller_waiting_for_its_slot_waits_for_a_pause_another_caller_learned_of(
    connect: Callable[[], aioredis.Redis],
) -> None:
    """A pause shared by another replica reaches this process in a reply to one caller;
    a caller of the same limiter already asleep until its slot must then wait for the
    pause too, not send in the middle of it."""
    pauser = RedisRateLimiter(connect(), rate=1, key="project-a")
    limiter = RedisRateLimiter(connect(), rate=1, key="project-a")
    await limiter.acquire()  # the next slot is a second away
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.1)

    pause_began = time.monotonic()
    pauser.pause(2.0)
    await pauser.aclose()  # the pause is in Redis once this returns
    learner = asyncio.create_task(limiter.acquire())  # its reply tells of the pause
    await waiting
    passed = time.monotonic()
    learner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await learner

    assert passed - pause_began >= 1.95, passed - pause_began


async def test_a_client_sends_through_the_limiter_and_shares_its_429_pause(
    fake: FakeNumbersServer, connect: Callable[[], aioredis.Redis]
) -> None:
    phone = fake.add_active_numbers(1)[0]
    fake.set_rate_limit(5, burst=1)
    redis = connect()
    limiter = RedisRateLimiter(redis, rate=1000, key=fake.project_id)

    async with fake.client(rate_limit=limiter) as client:
        await asyncio.gather(*(client.active_numbers.get(phone) for _ in range(3)))
    state = await redis.hgetall(f"numbers_async:rate:{fake.project_id}")

    assert {b"tat", b"paused"} <= set(state)  # slots were taken, a 429 paused the fleet
    assert 429 in {r.status for r in fake.requests}


async def test_one_round_trip_per_acquire(connect: Callable[[], aioredis.Redis]) -> None:
    monitor = connect()
    limiter = RedisRateLimiter(connect(), rate=1000, key="project-a")
    await limiter.acquire()  # loads the script
    await monitor.config_resetstat()

    for _ in range(10):
        await limiter.acquire()
    stats = await monitor.info("commandstats")

    # Only the script was sent (and the reset; INFO counts itself once it has answered).
    sent = {
        name: entry["calls"]
        for name, entry in stats.items()
        if name.removeprefix("cmdstat_") not in _SCRIPT_INTERNALS
    }
    assert sent == {"cmdstat_config|resetstat": 1, "cmdstat_evalsha": 10}


async def test_from_url_owns_its_connection_and_aclose_closes_it(
    redis_server: RedisServer, connect: Callable[[], aioredis.Redis]
) -> None:
    monitor = connect()
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=10, key="project-a")
    await limiter.acquire()
    open_before = len(await monitor.client_list())

    await limiter.aclose()

    for _ in range(100):  # the server notices the closed connection within a moment
        if len(await monitor.client_list()) == open_before - 1:
            break
        await asyncio.sleep(0.01)
    assert len(await monitor.client_list()) == open_before - 1


async def test_aclose_leaves_a_client_it_was_given_open(
    connect: Callable[[], aioredis.Redis],
) -> None:
    redis = connect()
    async with RedisRateLimiter(redis, rate=10, key="project-a") as limiter:
        await limiter.acquire()

    assert await redis.ping() is True


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"key": ""}, "key"),
        ({"burst": 0}, "burst"),
        ({"fallback_rate": -1}, "fallback_rate"),
        ({"retry_interval": 0}, "retry_interval"),
        ({"timeout": 0}, "timeout"),
        ({"url": ""}, "url"),
    ],
)
def test_invalid_limiter_settings_raise_invalid_input_error_naming_the_argument(
    options: dict[str, Any], argument: str
) -> None:
    settings: dict[str, Any] = {
        "url": "redis://127.0.0.1:1/0",
        "rate": 10,
        "key": "project-a",
        **options,
    }

    with pytest.raises(InvalidInputError, match=argument) as caught:
        RedisRateLimiter.from_url(**settings)
    assert caught.value.argument == argument


def test_an_infinite_setting_is_refused_as_not_finite() -> None:
    with pytest.raises(InvalidInputError) as caught:
        RedisRateLimiter.from_url("redis://127.0.0.1:1/0", rate=float("inf"), key="project-a")

    assert str(caught.value) == "rate: must be a finite number (got inf)"


async def test_aclose_finishes_sharing_a_pause_still_on_its_way(
    redis_server: RedisServer, connect: Callable[[], aioredis.Redis]
) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=10, key="project-a")

    limiter.pause(5.0)
    await limiter.aclose()

    assert await connect().hget("numbers_async:rate:project-a", "paused") is not None


async def test_a_pause_while_redis_is_down_still_pauses_this_process(
    own_redis_server: RedisServer,
) -> None:
    limiter = RedisRateLimiter.from_url(
        own_redis_server.url, rate=100, key="project-a", timeout=0.5
    )
    await limiter.acquire()
    own_redis_server.stop()

    started = time.monotonic()
    limiter.pause(0.3)
    await limiter.acquire()
    await limiter.aclose()

    assert time.monotonic() - started >= 0.28


async def test_a_pause_after_aclose_is_not_shared(
    redis_server: RedisServer, connect: Callable[[], aioredis.Redis]
) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=10, key="project-a")
    await limiter.acquire()
    await limiter.aclose()

    limiter.pause(5.0)
    await asyncio.sleep(0.1)

    assert await connect().hget("numbers_async:rate:project-a", "paused") is None


def test_rate_is_the_fleet_wide_rate_as_a_float() -> None:
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0", rate=25, key="project-a")

    assert (limiter.rate, limiter.replicas, limiter.shared) == (25.0, 0, True)


def test_repr_names_the_key_and_rate_but_not_the_url() -> None:
    limiter = RedisRateLimiter.from_url(
        "redis://:hunter2-password@127.0.0.1:1/0", rate=10, key="project-a"
    )

    assert repr(limiter) == "<RedisRateLimiter key='numbers_async:rate:project-a' rate=10 shared>"


def test_missing_redis_raises_import_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "numbers_async.redis", raising=False)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # makes the import fail

    with pytest.raises(ImportError, match=r"numbers-async\[redis\]"):
        importlib.import_module("numbers_async.redis")


# --- Redis going away and coming back -----------------------------------------------------------


async def test_a_limiter_idle_while_redis_restarted_stays_shared(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis restarted while no call was made: the connections idle in the pool are dead.
    The next calls take their slots from the shared schedule all the same, rather than
    falling back to a limit of this process alone for ``retry_interval``."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    limiter = RedisRateLimiter.from_url(
        own_redis_server.url, rate=1000, key="project-a", timeout=0.5
    )
    try:
        await asyncio.gather(*(limiter.acquire() for _ in range(8)))  # pooled, then idle
        own_redis_server.stop()
        own_redis_server.start()
        await asyncio.gather(*(limiter.acquire() for _ in range(8)))
        shared = limiter.shared
    finally:
        await limiter.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert shared, warnings
    assert warnings == []


async def test_redis_stopped_mid_run_falls_back_warns_once_and_rejoins(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The timeline is printed (``pytest -s``) for the record."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    limiter = RedisRateLimiter.from_url(
        own_redis_server.url,
        rate=100,
        key="project-a",
        fallback_rate=20,
        retry_interval=0.5,
        timeout=LIVE_TIMEOUT,
    )
    passes: list[tuple[float, bool]] = []
    stop = asyncio.Event()
    begin = time.monotonic()

    async def caller() -> None:
        while not stop.is_set():
            await limiter.acquire()
            passes.append((time.monotonic() - begin, limiter.shared))

    def rate_between(start: float, end: float) -> float:
        return sum(start <= at < end for at, _ in passes) / (end - start)

    callers = [asyncio.create_task(caller()) for _ in range(10)]
    try:
        await asyncio.sleep(1.0)
        stopped_at = time.monotonic() - begin
        own_redis_server.stop()
        await eventually(lambda: not limiter.shared)
        fell_back_at = time.monotonic() - begin
        await asyncio.sleep(2.0)
        fallback_until = time.monotonic() - begin
        own_redis_server.start()  # blocks the loop until the server answers
        restarted_at = time.monotonic() - begin
        await eventually(lambda: limiter.shared)
        rejoined_at = time.monotonic() - begin
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*callers)
        await limiter.aclose()
    end = time.monotonic() - begin
    shared_before = rate_between(0.1, stopped_at)
    fallback = rate_between(fell_back_at + 0.2, fallback_until)
    shared_after = rate_between(rejoined_at + 0.1, end)
    timeline = (
        f"shared {shared_before:.0f} req/s until redis-server stopped at {stopped_at:.2f} s; "
        f"fell back at {fell_back_at:.2f} s; fallback {fallback:.0f} req/s; redis-server "
        f"started at {restarted_at:.2f} s; rejoined at {rejoined_at:.2f} s; shared "
        f"{shared_after:.0f} req/s until {end:.2f} s"
    )
    print(f"\nRedis-down timeline: {timeline}")

    # Bounds wide enough for a loaded machine, narrow enough to tell 100 from 20 req/s.
    assert 70 <= shared_before <= 110, timeline
    assert 10 <= fallback <= 28, timeline
    # Just after rejoining, callers already queued in the fallback gate still pass.
    assert 70 <= shared_after <= 130, timeline
    assert rejoined_at - restarted_at <= 0.5 + 1.0, timeline  # retry_interval, plus a margin
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "reachable again" in w]) == 1, warnings
    unreachable = [w for w in warnings if "unreachable" in w]
    assert len(unreachable) == 1, warnings
    assert unreachable[0].startswith("Redis is unreachable (ConnectionError)"), warnings


class ScriptedRedis:
    """Stands in for a Redis client: each acquire-script call plays the next answer.

    An answer is an ``asyncio.Event`` to wait for and then a reply, or an exception.
    """

    def __init__(self) -> None:
        self.answers: list[tuple[asyncio.Event | None, Any]] = []

    def register_script(self, source: str) -> Callable[..., Any]:
        async def script(keys: Any = None, args: Any = None) -> Any:
            released, answer = self.answers.pop(0)
            if released is not None:
                await released.wait()
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return script


async def test_a_late_answer_sent_before_the_fallback_does_not_end_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One caller's command was sent before Redis stopped and is answered late (a server
    # shutting down); another's failed meanwhile. The late answer says nothing of Redis
    # now: the fallback stays until a probe succeeds, with one warning each way.
    caplog.set_level(logging.WARNING, logger="numbers_async")
    redis = ScriptedRedis()
    late = asyncio.Event()
    redis.answers = [
        (late, [0, 0, 1, 0]),  # sent first, answered after the failure
        (None, aioredis.ConnectionError("gone")),
        (None, aioredis.ConnectionError("gone")),  # its try on a fresh connection
        (None, [0, 0, 1, 0]),  # the probe, once retry_interval has passed
    ]
    limiter = RedisRateLimiter(
        cast(aioredis.Redis, redis), rate=1000, key="k", fallback_rate=1000, retry_interval=0.05
    )
    shared = []
    first = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)  # its command is in flight
    await limiter.acquire()  # fails over to the fallback
    shared.append(limiter.shared)
    late.set()
    await first
    shared.append(limiter.shared)  # still falling back: no probe has answered
    await asyncio.sleep(0.06)
    await limiter.acquire()  # the probe
    shared.append(limiter.shared)

    assert shared == [False, False, True]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.split(" (")[0].split(":")[0] for w in warnings] == [
        "Redis is unreachable",
        "Redis is reachable again",
    ]


async def test_a_limiter_that_never_counted_its_replicas_falls_back_to_the_whole_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0", rate=40, key="project-a")
    with caplog.at_level(logging.WARNING, logger="numbers_async"):
        await limiter.acquire()
    await limiter.aclose()

    assert (limiter.shared, limiter.replicas) == (False, 0)
    assert "limiting this process alone to 40.0 req/s" in caplog.text


async def test_unreachable_redis_never_fails_a_call() -> None:
    limiter = RedisRateLimiter.from_url(
        "redis://127.0.0.1:1/0", rate=100, key="project-a", fallback_rate=50
    )

    started = time.monotonic()
    times = await acquire_times(limiter, 11, concurrency=5)
    limiter.pause(0.01)
    await limiter.acquire()
    await limiter.aclose()

    # 11 passes at 50/s, of which the first 5 (the in-process gate's burst) at once.
    assert (limiter.shared, times[-1] - started >= 0.11) == (False, True)


class HungRedis:
    """A loopback server that accepts connections and reads them, but never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> HungRedis:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()


async def test_idle_connections_from_before_an_outage_do_not_end_the_shared_limit_again(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections idle in the pool when Redis went away are dead when it comes back: the
    first use of one fails. Once a probe has found Redis again, that must not be taken for
    another outage (the limiter flapped: unreachable, reachable, unreachable, reachable)."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    limiter = RedisRateLimiter.from_url(
        own_redis_server.url,
        rate=1000,
        key="project-a",
        retry_interval=0.2,
        timeout=LIVE_TIMEOUT,
    )
    try:
        # Several commands at once: the pool holds several connections, idle afterwards.
        await asyncio.gather(*(limiter.acquire() for _ in range(8)))
        own_redis_server.stop()
        await limiter.acquire()  # finds Redis gone: the fallback begins
        shared = [limiter.shared]
        own_redis_server.start()
        await asyncio.sleep(0.3)  # past retry_interval: the next caller probes
        for _ in range(50):  # a probe may meet an old connection first, and fail
            await limiter.acquire()
            if limiter.shared:
                break
            await asyncio.sleep(0.1)
        shared.append(limiter.shared)
        await asyncio.gather(*(limiter.acquire() for _ in range(8)))  # the old connections
        shared.append(limiter.shared)
    finally:
        await limiter.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert shared == [False, True, True]
    assert [w.split(":")[0].split(" (")[0] for w in warnings] == [
        "Redis is unreachable",
        "Redis is reachable again",
    ], warnings


async def test_a_pause_shared_with_a_hung_redis_gives_up_after_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="numbers_async")
    async with HungRedis() as hung:
        # A client of the application's, without a socket timeout of redis-py's own.
        redis = aioredis.from_url(hung.url)
        limiter = RedisRateLimiter(redis, rate=100, key="project-a", timeout=0.2)
        limiter.pause(1.0)  # shared in the background, with a Redis that never answers
        sharing = set(limiter._tasks)

        done, _ = await asyncio.wait(sharing, timeout=5)  # by itself, before any aclose
        await limiter.aclose()
        await redis.aclose()

    assert done == sharing
    assert limiter._tasks == set()  # the sharing task ended and was let go
    assert "could not share a pause through Redis (TimeoutError)" in caplog.messages


async def test_a_pause_of_no_time_does_not_pause(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=100, key="project-a")
    try:
        limiter.pause(-5.0)  # a Retry-After in the past
        assert limiter._paused_until <= time.monotonic()
    finally:
        await limiter.aclose()


async def test_a_hung_redis_is_probed_by_one_caller_while_the_others_fall_back() -> None:
    # Each probe of a Redis that never answers costs its caller the whole timeout: one
    # caller at a time spends it, the others pass the in-process gate meanwhile.
    async with HungRedis() as hung:
        limiter = RedisRateLimiter.from_url(
            hung.url,
            rate=100,
            key="project-a",
            fallback_rate=1000,
            retry_interval=0.05,
            timeout=0.5,
        )
        try:
            await limiter.acquire()  # finds Redis hung: the fallback begins
            assert (limiter.shared, hung.connections) == (False, 1)
            await asyncio.sleep(0.1)  # past retry_interval: the next caller probes Redis
            await asyncio.gather(*(limiter.acquire() for _ in range(10)))
        finally:
            await limiter.aclose()

    assert hung.connections == 2  # the first caller's, then one probe: not ten


async def test_replicas_are_counted_once_each_however_many_calls_they_make(
    connect: Callable[[], aioredis.Redis],
) -> None:
    first = RedisRateLimiter(connect(), rate=1000, key="project-a")
    second = RedisRateLimiter(connect(), rate=1000, key="project-a")
    for _ in range(5):  # one registration, then four calls within the heartbeat
        await first.acquire()
    await second.acquire()

    assert (first.replicas, second.replicas) == (1, 2)


async def test_default_fallback_rate_divides_the_rate_by_the_replicas_seen(
    own_redis_server: RedisServer,
) -> None:
    limiters = [
        RedisRateLimiter.from_url(own_redis_server.url, rate=90, key="project-a", timeout=0.5)
        for _ in range(3)
    ]
    for limiter in limiters:
        await limiter.acquire()
    await asyncio.sleep(1.05)  # the first one counts the live replicas again
    await limiters[0].acquire()
    own_redis_server.stop()

    async with LoopLag() as lag:
        started = time.monotonic()
        times = await acquire_times(limiters[0], 16, concurrency=5)
    for limiter in limiters:
        await limiter.aclose()

    assert limiters[0].replicas == 3
    # 30 req/s: 16 passes, the first 3 (the in-process gate's burst) at once.
    assert 0.4 <= times[-1] - started <= 0.7 + lag.total


# --- event de-duplication ----------------------------------------------------------------------


async def test_an_event_id_is_claimed_once_across_deduplicators(
    connect: Callable[[], aioredis.Redis],
) -> None:
    first = RedisEventDeduplicator(connect(), key="project-a")
    second = RedisEventDeduplicator(connect(), key="project-a")

    claims = [await first.claim("evt-1"), await second.claim("evt-1"), await first.claim("evt-1")]

    assert claims == [True, False, False]


async def test_a_forgotten_event_id_can_be_claimed_again(
    connect: Callable[[], aioredis.Redis],
) -> None:
    first = RedisEventDeduplicator(connect(), key="project-a")
    second = RedisEventDeduplicator(connect(), key="project-a")
    await first.claim("evt-1")

    await first.forget("evt-1")

    assert await second.claim("evt-1") is True


async def test_event_ids_of_other_keys_do_not_collide(
    connect: Callable[[], aioredis.Redis],
) -> None:
    redis = connect()
    first = RedisEventDeduplicator(redis, key="project-a")
    second = RedisEventDeduplicator(redis, key="project-b")

    assert (await first.claim("evt-1"), await second.claim("evt-1")) == (True, True)


@pytest.mark.parametrize(
    ("key", "event", "other_key", "other_event"),
    [("a:b", "c", "a", "b:c"), ("a%3Ab", "c", "a:b", "c")],
    ids=["colon", "percent"],
)
async def test_keys_that_differ_by_a_colon_or_a_percent_do_not_collide(
    connect: Callable[[], aioredis.Redis], key: str, event: str, other_key: str, other_event: str
) -> None:
    redis = connect()
    first = RedisEventDeduplicator(redis, key=key)
    second = RedisEventDeduplicator(redis, key=other_key)

    assert (await first.claim(event), await second.claim(other_event)) == (True, True)


async def test_an_event_id_is_forgotten_after_its_ttl(
    connect: Callable[[], aioredis.Redis],
) -> None:
    deduplicator = RedisEventDeduplicator(connect(), key="project-a", ttl=0.2)
    await deduplicator.claim("evt-1")

    await asyncio.sleep(0.3)

    assert await deduplicator.claim("evt-1") is True


async def test_unreachable_redis_hands_every_event_over_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deduplicator = RedisEventDeduplicator.from_url(
        "redis://127.0.0.1:1/0", key="project-a", timeout=0.5
    )

    claims = [await deduplicator.claim("evt-1") for _ in range(3)]
    await deduplicator.forget("evt-1")
    await deduplicator.aclose()

    assert claims == [True, True, True]
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1


async def test_deduplicator_warns_once_while_redis_is_down_and_once_when_it_is_back(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    deduplicator = RedisEventDeduplicator.from_url(
        own_redis_server.url, key="project-a", timeout=0.5
    )
    await deduplicator.claim("evt-1")
    own_redis_server.stop()
    down = [await deduplicator.claim("evt-1") for _ in range(2)]
    own_redis_server.start()

    back = [await deduplicator.claim("evt-1"), await deduplicator.claim("evt-1")]
    await deduplicator.aclose()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (down, back) == ([True, True], [True, False])
    assert [w.split(" (")[0].split(":")[0] for w in warnings] == [
        "Redis is unreachable",
        "Redis is reachable again",
    ]


async def test_a_deduplicator_back_from_an_outage_does_not_use_connections_from_before_it(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections idle in the pool when Redis went away are dead when it comes back. Once
    a claim has found Redis again, none of them may fail a later claim: that event would
    be handed over unrecorded, and its redelivery handed over again."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    deduplicator = RedisEventDeduplicator.from_url(
        own_redis_server.url, key="project-a", timeout=LIVE_TIMEOUT
    )
    try:
        # Several claims at once: the pool holds several connections, idle afterwards.
        await asyncio.gather(*(deduplicator.claim(f"before-{i}") for i in range(8)))
        own_redis_server.stop()
        assert await deduplicator.claim("during") is True  # unrecorded: handed over
        own_redis_server.start()
        assert await deduplicator.claim("back") is True  # recorded: Redis found again
        ids = [f"after-{i}" for i in range(8)]
        first = await asyncio.gather(*(deduplicator.claim(i) for i in ids))
        again = await asyncio.gather(*(deduplicator.claim(i) for i in ids))
    finally:
        await deduplicator.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (first, again) == ([True] * 8, [False] * 8), warnings
    assert [w.split(" (")[0].split(":")[0] for w in warnings] == [
        "Redis is unreachable",
        "Redis is reachable again",
    ]


async def test_a_deduplicator_idle_while_redis_restarted_still_records_every_claim(
    persistent_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis restarted while no event arrived: no claim saw it go, and every connection
    idle in the pool is dead. Neither the forget nor the claims after it may be lost on
    them: a lost forget would drop the failed event's redelivery as a duplicate, and a
    claim that failed would hand its event over unrecorded (its redelivery handed over
    again)."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    redis = persistent_redis_server
    deduplicator = RedisEventDeduplicator.from_url(redis.url, key="project-a", timeout=0.5)
    try:
        # Several claims at once: the pool holds several connections, idle afterwards.
        await asyncio.gather(*(deduplicator.claim(f"before-{i}") for i in range(8)))
        handed_over = await deduplicator.claim("failed")
        redis.stop()
        redis.start()  # with its data: "failed" is still claimed
        await deduplicator.forget("failed")  # the application failed to handle it
        redelivered = await deduplicator.claim("failed")
        ids = [f"after-{i}" for i in range(8)]
        first = await asyncio.gather(*(deduplicator.claim(i) for i in ids))
        again = await asyncio.gather(*(deduplicator.claim(i) for i in ids))
    finally:
        await deduplicator.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (handed_over, redelivered) == (True, True), warnings
    assert (first, again) == ([True] * 8, [False] * 8), warnings
    assert warnings == []


def first_set_fails(redis: aioredis.Redis, *, after_sending: bool) -> list[int]:
    """Make ``redis``'s first SET fail on a closed connection, before or after Redis
    applied it; the list returned counts the SETs tried."""
    real_set = redis.set
    tries: list[int] = []

    async def set_once_failing(*args: Any, **kwargs: Any) -> Any:
        tries.append(1)
        if len(tries) == 1 and not after_sending:
            raise aioredis.ConnectionError("the pooled connection was dead")
        result = await real_set(*args, **kwargs)
        if len(tries) == 1:
            raise aioredis.ConnectionError("connection lost after the command was sent")
        return result

    redis.set = set_once_failing  # type: ignore[method-assign]
    return tries


async def test_a_claim_whose_reply_was_lost_is_still_its_own_when_tried_again(
    redis_server: RedisServer,
) -> None:
    """The first try of a claim was applied but its reply never came: the second finds
    the key set, by this very claim, and hands the event over."""
    redis = aioredis.from_url(redis_server.url)
    deduplicator = RedisEventDeduplicator(redis, key="project-a", timeout=0.5)
    tries = first_set_fails(redis, after_sending=True)
    try:
        assert await deduplicator.claim("evt-1") is True
        assert len(tries) == 2
        assert await deduplicator.claim("evt-1") is False  # and it was recorded
    finally:
        await redis.aclose()


async def test_a_claim_tried_again_finds_another_receivers_claim_a_duplicate(
    redis_server: RedisServer,
) -> None:
    """A claim's first try failed before reaching Redis; the second finds the event
    claimed, by another receiver, not by this claim: a duplicate, not handed over."""
    redis = aioredis.from_url(redis_server.url)
    other = RedisEventDeduplicator(redis, key="project-a")
    assert await other.claim("evt-1") is True
    deduplicator = RedisEventDeduplicator(redis, key="project-a", timeout=0.5)
    tries = first_set_fails(redis, after_sending=False)
    try:
        assert await deduplicator.claim("evt-1") is False
        assert len(tries) == 2
    finally:
        await redis.aclose()


async def test_a_deduplicator_tries_once_more_only_while_redis_is_not_known_down(
    redis_server: RedisServer,
) -> None:
    """Once a claim found Redis unreachable, later commands are tried once each (an
    outage is not waited out twice per event) until a claim finds Redis again."""
    redis = aioredis.from_url(redis_server.url)
    deduplicator = RedisEventDeduplicator(redis, key="project-a", timeout=0.5)
    tries: list[str] = []

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        tries.append(str(args[0]).rsplit(":", 1)[-1])
        raise aioredis.ConnectionError("Redis is away")

    real_set = redis.set
    redis.set = unreachable  # type: ignore[method-assign]
    redis.delete = unreachable  # type: ignore[method-assign]
    try:
        assert await deduplicator.claim("evt-1") is True  # handed over, unrecorded
        assert tries == ["evt-1", "evt-1"]
        assert await deduplicator.claim("evt-2") is True
        await deduplicator.forget("evt-2")
        assert tries == ["evt-1", "evt-1", "evt-2", "evt-2"]
        redis.set = real_set  # type: ignore[method-assign]
        assert await deduplicator.claim("evt-3") is True  # Redis found again
        assert await deduplicator.claim("evt-3") is False
    finally:
        await redis.aclose()


async def test_a_claim_cancelled_as_its_reply_lands_is_cancelled() -> None:
    """The caller's cancellation and Redis's reply in the same step: the claim is
    cancelled (``asyncio.wait_for`` on 3.10 and 3.11 returned the reply instead, and the
    cancelled request went on)."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bool] = loop.create_future()

    class OneReply:
        def set(self, *args: Any, **kwargs: Any) -> asyncio.Future[bool]:
            return reply

    deduplicator = RedisEventDeduplicator(cast(aioredis.Redis, OneReply()), key="project-a")
    claiming = loop.create_task(deduplicator.claim("evt-1"))
    await asyncio.sleep(0)  # waiting for the reply
    reply.set_result(True)
    claiming.cancel()  # in the same step

    await asyncio.wait({claiming}, timeout=5)

    assert claiming.cancelled()


CLOSED = aioredis.ConnectionError("the pooled connection was dead")
STALL = object()  # a reply that never comes


class CommandScript:
    """Stands in for a Redis client: each command plays the next of its scripted answers
    (an exception raised, ``STALL``, or a reply)."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def _next(self, name: str) -> Any:
        self.calls.append(name)
        answer = self.answers[name].pop(0)
        if isinstance(answer, BaseException):
            raise answer
        future = asyncio.get_running_loop().create_future()
        if answer is not STALL:
            future.set_result(answer)
        return future

    def set(self, *args: Any, **kwargs: Any) -> Any:
        return self._next("set")

    def get(self, *args: Any) -> Any:
        return self._next("get")

    def delete(self, *args: Any) -> Any:
        return self._next("delete")


def script(**answers: list[Any]) -> tuple[CommandScript, RedisEventDeduplicator]:
    # Copies: a parameter's list is played (emptied), and must be whole for a rerun.
    redis = CommandScript(**{name: list(played) for name, played in answers.items()})
    return redis, RedisEventDeduplicator(cast(aioredis.Redis, redis), key="k", timeout=0.2)


@pytest.mark.parametrize(
    "answers",
    [
        {"set": [CLOSED, STALL]},  # tried again, and Redis stops answering
        {"set": [CLOSED, None], "get": [STALL]},  # set after all? reading the mark stalls
    ],
    ids=["set", "get"],
)
async def test_a_claim_tried_again_still_ends_within_its_timeout(
    answers: dict[str, list[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """Every command of a claim tried again has the deduplicator's timeout: a Redis that
    stops answering then hands the event over (unrecorded); it does not hang it."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    redis, deduplicator = script(**answers)

    claimed = await asyncio.wait_for(deduplicator.claim("evt-1"), 5)

    assert claimed is True
    assert redis.answers == {name: [] for name in answers}  # every answer played
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Redis is unreachable (TimeoutError): handing every event over without "
        "de-duplication until it is back"
    ]


@pytest.mark.parametrize("answers", [[CLOSED, STALL], [STALL]], ids=["tried again", "hung"])
async def test_a_forget_ends_within_its_timeout(
    answers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A forget's delete, first or tried again after a closed connection, has the
    deduplicator's timeout; a timeout is not tried again."""
    caplog.set_level(logging.WARNING, logger="numbers_async")
    redis, deduplicator = script(delete=answers)

    await asyncio.wait_for(deduplicator.forget("evt-7"), 5)

    assert redis.calls == ["delete"] * len(answers)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "could not release event evt-7 in Redis (TimeoutError): a redelivery before it "
        "expires will be taken for a duplicate"
    ]


async def test_a_limiter_takes_its_slot_after_waiting_out_a_pause(
    redis_server: RedisServer,
) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=1000, key="project-a")
    taken: list[float] = []
    take_slot = limiter._take_slot

    async def counted(now: float) -> tuple[float, float]:
        taken.append(now)
        return await take_slot(now)

    limiter._take_slot = counted  # type: ignore[method-assign]
    try:
        limiter.pause(0.05)
        await limiter.acquire()
    finally:
        await limiter.aclose()
    assert taken  # the pause waited out, then a slot of the shared schedule


async def test_a_deduplicator_leaves_a_client_it_was_given_open(
    connect: Callable[[], aioredis.Redis],
) -> None:
    redis = connect()
    deduplicator = RedisEventDeduplicator(redis, key="project-a")

    await deduplicator.aclose()

    assert await redis.ping() is True


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"key": ""}, "key"),
        ({"ttl": 0}, "ttl"),
        ({"timeout": -1}, "timeout"),
        ({"url": ""}, "url"),
    ],
)
def test_invalid_deduplicator_settings_raise_invalid_input_error_naming_the_argument(
    options: dict[str, Any], argument: str
) -> None:
    settings: dict[str, Any] = {"url": "redis://127.0.0.1:1/0", "key": "project-a", **options}

    with pytest.raises(InvalidInputError, match=argument) as caught:
        RedisEventDeduplicator.from_url(**settings)
    assert caught.value.argument == argument
