"""Client-wide rate control: an optional token bucket plus a shared pause after a 429.

When any request is answered 429, the whole client stops sending until ``Retry-After`` (or
a backoff) has passed. It then resumes at the rate the server has actually granted it —
the requests it accepted since the last pause, divided by the time that took *including
the pause now owed* — holds that rate for a while, and only then speeds up gently (x1.1 a
second) until it is back at the configured ``rate_limit``, or, with none, at twice the
granted rate, where it lets go of the brake. So a hundred concurrent callers slow down
together instead of each hammering the server on its own schedule, and a bulk job levels off
just under a limit it was never told.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, runtime_checkable

__all__ = ["RateGate", "RateLimiter"]

logger = logging.getLogger("numbers_async")

_MIN_RATE: Final = 1.0  # requests/s: never throttle below this
_HOLD: Final = 10.0  # seconds at the granted rate before speeding up again
_RECOVERY_STEP: Final = 1.1  # rate multiplier per recovery interval without a 429
_RECOVERY_INTERVAL: Final = 1.0  # seconds
_IDLE: Final = 1.0  # seconds without a request after which the granted rate is measured anew
_EPSILON: Final = 1e-9


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when the client's next request may be sent.

    ``NumbersClient(rate_limit=...)`` takes a number (requests per second, enforced by the
    client's own in-process gate) or any object with these two methods, for example a
    limiter shared by several processes. The client calls ``acquire`` before every API
    request (never before token requests) and ``pause`` when the server answered 429.
    A limiter object passed in belongs to the caller, who closes it if it needs closing.
    """

    async def acquire(self) -> None:
        """Wait until one request may be sent, and count it as sent."""
        ...

    def pause(self, seconds: float) -> None:
        """The server refused a request (429): send nothing for ``seconds``, then slow down.

        Must not block: a limiter that shares the pause with others starts that work in
        the background and applies the pause locally at once.
        """
        ...


class RateGate:
    """The in-process ``RateLimiter``: a token bucket plus the shared pause after a 429."""

    def __init__(
        self,
        rate_limit: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limit = rate_limit
        self._rate = rate_limit  # the rate in force now; None means unlimited
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._burst = 1.0 if rate_limit is None else max(1.0, rate_limit / 10)
        self._tokens = self._burst
        self._refilled_at = clock()
        # What the server granted since the last pause ended: requests sent minus refused.
        self._epoch = self._refilled_at
        self._granted = 0
        self._last_sent = -math.inf
        self._hold_until = 0.0
        self._last_increase = 0.0
        self._release_at = math.inf  # an unlimited client lets go of the brake here
        self._lock = asyncio.Lock()

    @property
    def paused_until(self) -> float:
        """Clock time before which nothing is sent (0 when not paused)."""
        return self._paused_until

    @property
    def rate(self) -> float | None:
        """The rate in force now (requests/s), or None when unlimited."""
        return self._rate

    def try_pass(self) -> bool:
        """Account for a request and return True if it may go now without waiting."""
        now = self._clock()
        if self._rate is None and now >= self._paused_until:
            self._count(now)  # the common case: no limit, no pause, no lock, no await
            return True
        return False

    async def acquire(self) -> None:
        """Wait until a request may be sent, then account for it."""
        if self.try_pass():
            return
        # The lock makes waiters go one by one, in arrival order (asyncio.Lock is FIFO).
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                self._recover(now)
                if self._rate is None:
                    break
                self._refill(now, self._rate)
                if self._tokens >= 1 - _EPSILON:  # float sums of refills fall a hair short
                    self._tokens = max(0.0, self._tokens - 1)
                    break
                await self._sleep((1 - self._tokens) / self._rate)
        self._count(self._clock())

    def _count(self, now: float) -> None:
        if now - self._last_sent > _IDLE:
            # After a quiet spell the server's bucket is full again: measure afresh.
            self._epoch = now
            self._granted = 0
        self._last_sent = now
        self._granted += 1

    def pause(self, seconds: float) -> None:
        """A request was refused (429): stop everything for ``seconds``, then slow down."""
        self._granted = max(0, self._granted - 1)
        now = self._clock()
        until = now + seconds
        if now < self._paused_until:
            # Requests sent before the pause began, refused now: the pause (and the
            # estimate made when it began) already account for them.
            self._paused_until = max(self._paused_until, until)
            self._epoch = max(self._epoch, until)
            return
        granted = max(_MIN_RATE, self._granted / max(until - self._epoch, _EPSILON))
        self._rate = granted if self._rate is None else min(self._rate, granted)
        if self._limit is None:
            self._release_at = 2 * self._rate
        self._burst = 1.0
        self._tokens = 0.0
        self._refilled_at = until
        self._paused_until = until
        self._epoch = until
        self._granted = 0
        self._hold_until = until + _HOLD
        self._last_increase = self._hold_until
        logger.info(
            "rate limited: pausing all requests for %.2fs, then resuming at %.1f req/s",
            seconds,
            self._rate,
        )

    def _recover(self, now: float) -> None:
        if self._rate is None or self._rate == self._limit or now < self._hold_until:
            return
        steps = math.floor((now - self._last_increase) / _RECOVERY_INTERVAL)
        if steps < 1:
            return
        self._last_increase += steps * _RECOVERY_INTERVAL
        rate = self._rate * _RECOVERY_STEP**steps
        if self._limit is not None:
            self._rate = min(rate, self._limit)
        elif rate >= self._release_at:
            self._rate = None  # well past what drew the 429: let the server decide again
            return
        else:
            self._rate = rate
        self._burst = max(1.0, self._rate / 10)

    def _refill(self, now: float, rate: float) -> None:
        if now > self._refilled_at:
            self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * rate)
            self._refilled_at = now
