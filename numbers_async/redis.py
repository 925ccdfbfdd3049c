"""A rate limit and webhook de-duplication shared by many processes through Redis.

Needs the ``redis`` extra (``pip install 'numbers-async[redis]'``), which brings
``redis.asyncio``. Several replicas of a service, and bulk jobs beside them, that work on
the same Sinch project share one per-project limit (see the example below).

How the shared limit works: every request takes the next free slot of one schedule kept in
Redis (one Lua script, one round trip), slots ``1/rate`` seconds apart, and waits in its own
process until its slot comes. Callers are served in the order they asked, whichever
replica they run in, so each gets its share. A 429 anywhere moves the schedule past the
``Retry-After`` pause: the whole fleet stops, then resumes together at ``rate``, without a
burst. The clock is the Redis server's, so the replicas' clocks need not agree.

When Redis cannot be reached, requests are not refused: the limiter warns once and falls
back to an in-process limit (see
[`RedisRateLimiter`][numbers_async.redis.RedisRateLimiter]), and rejoins the shared one as
soon as Redis answers again.

Examples:
    ```python
    from numbers_async import NumbersClient
    from numbers_async.redis import RedisRateLimiter

    url = "redis://localhost:6379/0"
    limiter = RedisRateLimiter.from_url(url, rate=100, key=project_id)
    async with NumbersClient(
        project_id, key_id, key_secret, rate_limit=limiter
    ) as client:
        ...
    await limiter.aclose()
    ```
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Final, TypeVar

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - covered by a test that hides redis
    raise ImportError(
        "numbers_async.redis needs redis-py; install it with `pip install 'numbers-async[redis]'`",
        name=exc.name,
    ) from exc

from numbers_async import _operations as ops
from numbers_async._rate import RateGate
from numbers_async._rate_scripts import ACQUIRE, PAUSE
from numbers_async._retry import MAX_RETRY_AFTER
from numbers_async.bulk._redis_journal import RedisJournal
from numbers_async.bulk._redis_link import drop_idle_connections, within
from numbers_async.errors import InvalidInputError, NumbersError

__all__ = ["RedisEventDeduplicator", "RedisJournal", "RedisRateLimiter", "RedisReplyError"]

T = TypeVar("T")

logger = logging.getLogger("numbers_async")

DEFAULT_PREFIX: Final = "numbers_async"
DEFAULT_EVENT_TTL: Final = 172_800.0  # two days: see RedisEventDeduplicator
_REPLICA_WINDOW_US: Final = 10_000_000  # a replica counts as alive for 10 s after it asked
_HEARTBEAT: Final = 1.0  # seconds between a replica's registrations in the live set
# The furthest ahead a slot or a pause of the shared schedule may lie. A pause is at most
# MAX_RETRY_AFTER (no policy waits longer); twice that leaves room for a long queue of
# slots. Anything further was not written by a limiter: a corrupt or foreign value.
MAX_AHEAD: Final = 2 * MAX_RETRY_AFTER
_MAX_AHEAD_US: Final = round(MAX_AHEAD * 1_000_000)


class RedisReplyError(NumbersError):
    """Redis answered the limiter's script with something it never returns.

    Not raised to callers: the limiter treats it like an unreachable Redis (it limits
    this process alone, warns, and tries Redis again later). A value from Redis is trusted
    to be a limiter's, but never with a wait longer than ``MAX_AHEAD``.
    """


_UNREACHABLE: Final = (RedisError, OSError, asyncio.TimeoutError, RedisReplyError)
# What a pooled connection that died idle raises on its next command (so does a refused
# one); a timeout is not among them: a hung Redis is not worth waiting for twice.
_CLOSED: Final = (RedisConnectionError, ConnectionError)


async def _command(command: Awaitable[T], timeout: float) -> T:
    """``command``'s reply within ``timeout``, or a ``RedisReplyError``.

    Besides the errors of an unreachable Redis, redis-py raises whatever it trips on when
    a reply is not what it expects (a server that is not Redis): all of that is a
    ``RedisReplyError``, which the limiter and the deduplicator treat as an outage.
    Cancelling the caller always cancels it (``within``; ``asyncio.wait_for`` on Python
    3.10 and 3.11 returns a reply that lands at the same moment instead).
    """
    try:
        return await within(command, timeout)
    except _UNREACHABLE:
        raise
    except Exception as exc:  # redis-py's own failure on a garbage reply: not a bug of ours
        raise RedisReplyError(f"a reply redis-py could not read ({exc!r:.60})") from exc


def _key_part(key: str) -> str:
    """``key`` with ``%`` and ``:`` percent-encoded, so no two keys make the same Redis key.

    ``{prefix}:event:{key}:{event_id}`` is then unambiguous: the key has no ``:`` of its
    own. A key without ``%`` or ``:`` (a project id) is unchanged, so existing data stays
    readable.
    """
    return key.replace("%", "%25").replace(":", "%3A")


def _connect(url: str, timeout: float) -> aioredis.Redis:
    # No retries inside redis-py: an unreachable server must be noticed at once (the
    # limiter has its own fallback and reconnection schedule), not after seconds of backoff.
    return aioredis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _check_key(key: object) -> str:
    return ops.check_str("key", key, allow_empty=False)


def _check_positive(argument: str, value: object) -> float:
    number = ops.check_positive_number(argument, value)
    if not math.isfinite(number):
        raise InvalidInputError(argument, "must be a finite number", value)
    return number


class RedisRateLimiter:
    """A ``RateLimiter`` shared by every process that uses the same Redis and ``key``.

    Pass it as ``NumbersClient(rate_limit=limiter)``; one limiter can serve several clients
    of the same project in a process. The limiter belongs to you: close it with
    [`aclose`][] (or ``async with``) when done.

    Args:
        redis: a ``redis.asyncio.Redis`` client; the limiter does not close it. Use
            [`from_url`][] to let the limiter own its connection.
        rate: requests per second for the whole fleet (all processes with this ``key``).
        key: what the limit is shared by, normally the Sinch project id; several projects
            can share one Redis, each under its own key.
        burst: how many requests may go back to back after a quiet spell (default 1:
            evenly spaced). Never applied when a pause ends.
        fallback_rate: the in-process limit used while Redis is unreachable. Default: ``rate``
            divided by the number of processes seen sharing the limit in the last 10 seconds
            (so the fleet as a whole stays near ``rate``), or ``rate`` if none was seen.
        retry_interval: while Redis is unreachable, try it again at most this often
            (seconds, default 5).
        timeout: seconds a Redis command may take before Redis counts as unreachable
            (default 1).
        prefix: the start of every Redis key the limiter writes (default ``numbers_async``);
            the keys are ``{prefix}:rate:{key}`` and ``{prefix}:replicas:{key}``.

    Raises:
        InvalidInputError: an argument is out of range.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        rate: float,
        key: str,
        burst: int = 1,
        fallback_rate: float | None = None,
        retry_interval: float = 5.0,
        timeout: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._rate = _check_positive("rate", rate)
        key = _check_key(key)
        burst = ops.check_positive_int("burst", burst)
        self._fallback_rate = (
            None if fallback_rate is None else _check_positive("fallback_rate", fallback_rate)
        )
        self._retry_interval = _check_positive("retry_interval", retry_interval)
        self._timeout = _check_positive("timeout", timeout)
        self._redis = redis
        self._owns_redis = False
        self._keys = [f"{prefix}:rate:{_key_part(key)}", f"{prefix}:replicas:{_key_part(key)}"]
        self._interval_us = max(1, round(1_000_000 / self._rate))
        self._tolerance_us = (burst - 1) * self._interval_us
        self._acquire_script = redis.register_script(ACQUIRE)
        self._pause_script = redis.register_script(PAUSE)
        self._replica = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._heartbeat_at = -math.inf
        self._replicas = 0  # last count of live replicas sharing the limit
        self._paused_until = 0.0  # monotonic clock
        self._fallback: RateGate | None = None  # set while Redis is unreachable
        self._retry_at = 0.0
        self._probing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        rate: float,
        key: str,
        burst: int = 1,
        fallback_rate: float | None = None,
        retry_interval: float = 5.0,
        timeout: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> RedisRateLimiter:
        """A limiter with its own connection to ``url`` (``redis://host:port/db``).

        Nothing is connected until the first request; [`aclose`][] closes the connection.
        The other arguments are those of the constructor.
        """
        ops.check_str("url", url, allow_empty=False)
        timeout = _check_positive("timeout", timeout)
        limiter = cls(
            _connect(url, timeout),
            rate=rate,
            key=key,
            burst=burst,
            fallback_rate=fallback_rate,
            retry_interval=retry_interval,
            timeout=timeout,
            prefix=prefix,
        )
        limiter._owns_redis = True
        return limiter

    @property
    def rate(self) -> float:
        """The fleet-wide rate, requests per second."""
        return self._rate

    @property
    def shared(self) -> bool:
        """Whether the limit is currently shared through Redis (False while falling back)."""
        return self._fallback is None

    @property
    def replicas(self) -> int:
        """How many processes were last seen sharing this limit (0 before the first count)."""
        return self._replicas

    async def acquire(self) -> None:
        """Wait for this process's turn in the fleet-wide schedule, and take it."""
        tried_again = False
        while True:
            now = time.monotonic()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            fallback = self._fallback
            if fallback is not None and (self._probing or now < self._retry_at):
                await fallback.acquire()
                return
            try:
                wait, paused = await self._take_slot(now)
            except _UNREACHABLE as exc:
                if isinstance(exc, _CLOSED) and self._fallback is None and not tried_again:
                    # Perhaps a pooled connection that died idle (Redis restarted while
                    # no call was made): once more before falling back, on a fresh one
                    # (redis-py reconnects a connection that failed). A slot the first
                    # try took after all is one request's worth of rate.
                    tried_again = True
                    continue
                self._unreachable(exc)
                continue
            if paused > 0:
                self._paused_until = max(self._paused_until, time.monotonic() + paused)
            if wait > 0:
                await asyncio.sleep(wait)
            if time.monotonic() >= self._paused_until:
                return
            # A pause began while this caller waited for its slot: take a new one after it.

    def pause(self, seconds: float) -> None:
        """Pause this process at once and, in the background, the whole fleet."""
        seconds = max(0.0, seconds)
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        if self._fallback is not None:
            self._fallback.pause(seconds)
            return
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._share_pause(seconds))
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Finish sharing pending pauses, and close the connection if ``from_url`` made it."""
        self._closed = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._timeout)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_redis:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisRateLimiter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "shared" if self.shared else "fallback"
        return f"<RedisRateLimiter key={self._keys[0]!r} rate={self._rate:g} {state}>"

    async def _take_slot(self, now: float) -> tuple[float, float]:
        heartbeat = now - self._heartbeat_at >= _HEARTBEAT
        if heartbeat:
            self._heartbeat_at = now
        args: list[Any] = [
            self._interval_us,
            self._tolerance_us,
            self._replica if heartbeat else "",
            _REPLICA_WINDOW_US,
            _MAX_AHEAD_US,
        ]
        probing = self._fallback is not None
        self._probing = probing
        try:
            reply = await _command(self._acquire_script(keys=self._keys, args=args), self._timeout)
            if probing and self._fallback is not None:
                await drop_idle_connections(self._redis)
        except BaseException:
            if heartbeat:
                self._heartbeat_at = -math.inf
            raise
        finally:
            if probing:
                self._probing = False
        wait_us, paused_us, replicas, reset = _read_reply(reply)
        if reset:
            logger.warning(
                "the shared rate-limit schedule under %r lay more than %g s ahead, further "
                "than any limiter sets it: it was reset",
                self._keys[0],
                MAX_AHEAD,
            )
        if replicas:
            self._replicas = replicas
        if probing and self._fallback is not None:  # a late pre-fallback answer is no probe
            self._fallback = None
            logger.warning(
                "Redis is reachable again: back on the rate limit shared under %r",
                self._keys[0],
            )
        return wait_us / 1_000_000, paused_us / 1_000_000

    def _unreachable(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + self._retry_interval
        reason = str(exc) if isinstance(exc, RedisReplyError) else type(exc).__name__
        if self._fallback is not None:
            logger.debug("Redis still unreachable (%s)", reason)
            return
        rate = self._fallback_rate or self._rate / max(1, self._replicas)
        self._fallback = RateGate(rate)
        logger.warning(
            "Redis is unreachable (%s): limiting this process alone to %.1f req/s "
            "and trying Redis again every %g s",
            reason,
            rate,
            self._retry_interval,
        )

    async def _share_pause(self, seconds: float) -> None:
        try:
            await _command(
                self._pause_script(
                    keys=self._keys[:1],
                    args=[round(seconds * 1_000_000), self._tolerance_us, _MAX_AHEAD_US],
                ),
                self._timeout,
            )
        except _UNREACHABLE as exc:
            # This process is paused already; the next acquire notices the outage.
            logger.debug("could not share a pause through Redis (%s)", type(exc).__name__)


def _read_reply(reply: object) -> tuple[int, int, int, int]:
    """The acquire script's four integers, each checked: a wait is never beyond MAX_AHEAD."""
    try:
        if not isinstance(reply, list | tuple):
            raise TypeError(type(reply).__name__)
        wait_us, paused_us, replicas, reset = (int(value) for value in reply)
    except (TypeError, ValueError) as exc:
        raise RedisReplyError(f"an unexpected reply {str(reply)[:60]!r}") from exc
    if not (-_MAX_AHEAD_US <= wait_us <= _MAX_AHEAD_US and 0 <= paused_us <= _MAX_AHEAD_US):
        raise RedisReplyError(f"a wait of {max(wait_us, paused_us) / 1e6:g} s, beyond MAX_AHEAD")
    return wait_us, paused_us, replicas, reset


class RedisEventDeduplicator:
    """Webhook de-duplication shared by every receiver that uses the same Redis and ``key``.

    Implements [`EventDeduplicator`][numbers_async.webhooks.EventDeduplicator]: pass it as
    ``deduplicate=`` to ``events_handler`` or ``events_router``, in every replica behind the
    load balancer. An event id is claimed with ``SET NX`` and an expiry, so a redelivery that
    reaches another replica is recognised; a claim is released (``DEL``) when the handler
    fails, so the next delivery is handed over again.

    When Redis cannot be reached every event is handed over (duplicates are then possible,
    lost events are not), with one warning per outage.

    Args:
        redis: a ``redis.asyncio.Redis`` client (not closed by the deduplicator); or use
            [`from_url`][].
        key: what the ids are shared by, normally the Sinch project id.
        ttl: seconds an event id is remembered (default two days: longer than Sinch's
            retries, and than the receivers' default ``max_age`` plus ``clock_skew``, so a
            replayed event is either a duplicate or too old). A receiver refuses a
            deduplicator whose ``ttl`` is shorter than its ``max_age + clock_skew``.
        timeout: seconds a Redis command may take before Redis counts as unreachable.
        prefix: the start of every key written: ``{prefix}:event:{key}:{event_id}``, with
            any ``%`` and ``:`` in ``key`` percent-encoded (so that no two keys collide).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        key: str,
        ttl: float = DEFAULT_EVENT_TTL,
        timeout: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._prefix = f"{prefix}:event:{_key_part(_check_key(key))}:"
        self._ttl = _check_positive("ttl", ttl)
        self._ttl_ms = max(1, round(self._ttl * 1000))
        self._timeout = _check_positive("timeout", timeout)
        self._redis = redis
        self._owns_redis = False
        self._down = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key: str,
        ttl: float = DEFAULT_EVENT_TTL,
        timeout: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> RedisEventDeduplicator:
        """A deduplicator with its own connection to ``url``, closed by ``aclose``."""
        ops.check_str("url", url, allow_empty=False)
        timeout = _check_positive("timeout", timeout)
        deduplicator = cls(_connect(url, timeout), key=key, ttl=ttl, timeout=timeout, prefix=prefix)
        deduplicator._owns_redis = True
        return deduplicator

    @property
    def retention(self) -> float:
        """Seconds an event id is remembered (``ttl``); receivers check it covers ``max_age``."""
        return self._ttl

    async def claim(self, event_id: str) -> bool:
        """True if no receiver has claimed ``event_id`` yet (it is now this one's)."""
        key = self._prefix + event_id
        mark = os.urandom(8)  # this claim's own value: a reply lost on the way is told apart
        try:
            try:
                claimed = await self._set(key, mark)
            except _CLOSED:
                if self._down:
                    raise
                # The first command after a quiet spell may meet a pooled connection that
                # died idle (Redis restarted meanwhile, and no command noticed): once more,
                # on a fresh connection (redis-py reconnects a connection that failed). If
                # the first try was applied and only its reply lost, the key holds this
                # claim's mark: the event is still this one's.
                claimed = await self._set(key, mark) or (
                    await _command(self._redis.get(key), self._timeout) == mark
                )
        except _UNREACHABLE as exc:
            if not self._down:
                self._down = True
                logger.warning(
                    "Redis is unreachable (%s): handing every event over without "
                    "de-duplication until it is back",
                    type(exc).__name__,
                )
            return True
        if self._down:
            self._down = False
            logger.warning("Redis is reachable again: de-duplicating events again")
            await drop_idle_connections(self._redis)
        return claimed

    async def forget(self, event_id: str) -> None:
        """Release the claim on ``event_id`` so that a redelivery is handed over again."""
        key = self._prefix + event_id
        try:
            try:
                await _command(self._redis.delete(key), self._timeout)
            except _CLOSED:  # as in claim; a delete may be repeated
                if self._down:
                    raise
                await _command(self._redis.delete(key), self._timeout)
        except _UNREACHABLE as exc:
            logger.warning(
                "could not release event %s in Redis (%s): a redelivery before it expires "
                "will be taken for a duplicate",
                event_id,
                type(exc).__name__,
            )

    async def aclose(self) -> None:
        """Close the connection if ``from_url`` made it."""
        if self._owns_redis:
            await self._redis.aclose()

    async def _set(self, key: str, mark: bytes) -> bool:
        """Set ``key`` to ``mark`` unless it exists; whether it was set."""
        return bool(
            await _command(self._redis.set(key, mark, nx=True, px=self._ttl_ms), self._timeout)
        )
