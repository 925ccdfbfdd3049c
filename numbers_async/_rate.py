"""Client-wide rate control: an optional token bucket plus a shared pause after a 429.

When any request is answered 429, the whole client stops sending until ``Retry-After`` (or
a backoff) has passed, then restarts at half the rate it had achieved and speeds up again
(x1.5 per second without another 429) until it is back at the configured ``rate_limit``,
or unlimited if none was set. So a hundred concurrent callers slow down together instead
of each hammering the server on its own schedule.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["RateGate"]

logger = logging.getLogger("numbers_async")

_MIN_RATE: Final = 1.0  # requests/s: never throttle below this
_RECOVERY_STEP: Final = 1.5  # rate multiplier per recovery interval without a 429
_RECOVERY_INTERVAL: Final = 1.0  # seconds
_WINDOW: Final = 1.0  # seconds of send times kept to estimate the achieved rate
_EPSILON: Final = 1e-9


class RateGate:
    """Decides when the next request may be sent."""

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
        self._last_increase = 0.0
        self._peak = _MIN_RATE  # the achieved rate when the last 429 came
        self._burst = 1.0 if rate_limit is None else max(1.0, rate_limit / 10)
        self._tokens = self._burst
        self._refilled_at = clock()
        # Sends counted per one-second window: the achieved rate at the time of a 429.
        self._window_start = self._refilled_at
        self._window_count = 0
        self._last_window_count = 0
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
            self._record(now)  # the common case: no limit, no pause, no lock, no await
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
        self._record(self._clock())

    def pause(self, seconds: float) -> None:
        """Stop every request for ``seconds`` (a 429 was seen) and slow down afterwards."""
        now = self._clock()
        until = now + seconds
        if until <= self._paused_until:
            return  # another caller's 429 already paused us at least this long
        achieved = self._achieved_rate(now)
        current = achieved if self._rate is None else min(self._rate, achieved)
        self._peak = current
        self._rate = max(_MIN_RATE, current / 2)
        self._burst = 1.0
        self._tokens = 0.0
        self._refilled_at = until
        self._paused_until = until
        self._last_increase = until
        logger.info(
            "rate limited: pausing all requests for %.2fs, then resuming at %.1f req/s",
            seconds,
            self._rate,
        )

    def _recover(self, now: float) -> None:
        if self._rate is None or self._rate == self._limit:
            return
        steps = math.floor((now - self._last_increase) / _RECOVERY_INTERVAL)
        if steps < 1:
            return
        self._last_increase += steps * _RECOVERY_INTERVAL
        rate = self._rate * _RECOVERY_STEP**steps
        if self._limit is not None:
            self._rate = min(rate, self._limit)
            self._burst = max(1.0, self._rate / 10)
        elif rate >= self._peak:
            # Back at the rate that drew the 429: from here on the server decides again.
            self._rate = None
        else:
            self._rate = rate
            self._burst = max(1.0, rate / 10)

    def _refill(self, now: float, rate: float) -> None:
        if now > self._refilled_at:
            self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * rate)
            self._refilled_at = now

    def _record(self, now: float) -> None:
        if now - self._window_start >= _WINDOW:
            # A gap of more than one window means the last full window saw nothing.
            gap = now - self._window_start >= 2 * _WINDOW
            self._last_window_count = 0 if gap else self._window_count
            self._window_start = now
            self._window_count = 0
        self._window_count += 1

    def _achieved_rate(self, now: float) -> float:
        # The busier of the last full window and the current one, scaled to a second.
        elapsed = max(now - self._window_start, 0.05)
        current = self._window_count / min(elapsed, _WINDOW)
        return max(_MIN_RATE, self._last_window_count / _WINDOW, current)
