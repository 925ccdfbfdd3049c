"""The client-wide pause during an outage: connections refused or timing out.

A 429 slows the whole client down (``_rate``); an outage is met the same way by the
``OutageGate`` the sender consults before every attempt, so that a bulk job rides out a
short outage instead of each call burning its attempts on its own.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from numbers_async.errors import NumbersError, TransportError

if TYPE_CHECKING:
    from numbers_async._call import Call

__all__ = ["OutageGate"]

logger = logging.getLogger("numbers_async")


class OutageGate:
    """Pauses every call of a client while its server cannot be reached.

    A 429 slows the whole client down; an outage (connections refused or timing out) is
    met the same way, so that a job rides out a short one instead of each call burning its
    attempts on its own. ``THRESHOLD`` connect failures within ``WINDOW`` seconds with
    no answer in between (a lone refused connection is not an outage, nor are a few among
    answers: one backend of several down) close the gate: calls wait, holding no slot,
    then one call at a time probes the server. A failed probe doubles the pause (from
    ``FIRST_PAUSE`` up to ``MAX_PAUSE``); any answer from the server, whatever its
    status, opens the gate again and starts the count of failures again. Calls waiting
    here do not count the attempts that met the outage; ``RetryPolicy.outage_wait`` and
    the call's deadline bound how long one call waits.
    """

    THRESHOLD: Final = 5
    WINDOW: Final = 1.0
    FIRST_PAUSE: Final = 0.25
    MAX_PAUSE: Final = 2.0

    def __init__(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._failures: collections.deque[float] = collections.deque(maxlen=self.THRESHOLD)
        self._until = 0.0  # while > 0: in an outage, and no probe before this time
        self._pause = self.FIRST_PAUSE
        self.probing = False  # a probe is in flight
        self._changed: asyncio.Event | None = None  # set when a probe ends
        # A plain attribute, not a property over _until: the retry layer reads it twice
        # per attempt, and a property is a Python call each time (b1_counts.py).
        self.active = False
        """Whether the client is in an outage (calls wait before each attempt)."""
        self.suspect = False
        """Whether a connection failed since the server last answered (a plain attribute
        too). Always true in an outage: an answer is what ends both."""

    async def wait(self, deadline_at: float | None) -> bool:
        """Wait until the outage is over or this call may probe (True), or ``deadline_at``."""
        while self._until:
            now = self._clock()
            if deadline_at is not None and now >= deadline_at:
                return False
            if now < self._until:
                delay = self._until - now
                await self._sleep(delay if deadline_at is None else min(delay, deadline_at - now))
                continue
            if not self.probing:
                self.probing = True
                return True
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            try:
                timeout = None if deadline_at is None else deadline_at - now
                await asyncio.wait_for(changed.wait(), timeout)
            except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                return False
        return False

    async def wait_for(self, call: Call) -> bool:
        """Wait here before ``call``'s next attempt; whether that attempt is the probe.

        Bounded by the call's ``outage_wait`` (counted from its first wait) and its
        deadline, which, if it passes meanwhile, ends the call (``deadline_passed``).
        """
        now = self._clock()
        if call.ride_until is None:
            call.ride_until = now + call.retry.outage_wait
        if now >= call.ride_until:
            return False  # waited long enough: attempts count again
        deadline_at = call.deadline_at
        bound = call.ride_until if deadline_at is None else min(call.ride_until, deadline_at)
        probe = await self.wait(bound)
        if call.watch is not None:
            call.watch.waited("outage", self._clock() - now)
        if deadline_at is not None and self._clock() >= deadline_at:
            if probe:
                self.abandon()
            raise call.deadline_passed()
        return probe

    def rides_out(self, call: Call, error: NumbersError, probe: bool) -> bool:
        """Whether ``call`` waits out the outage ``error`` shows, its attempt uncounted."""
        if not call.rules.rides_outages:
            return False
        if not isinstance(error, TransportError) or error.request_sent:
            if self.suspect:
                self.reached()  # something answered, or took the request: not an outage
            return False
        now = self._clock()
        if not self.connect_failed(now, probe) or call.retry.outage_wait <= 0:
            return False
        if call.ride_until is None:
            call.ride_until = now + call.retry.outage_wait
        if now >= call.ride_until:
            return False
        logger.debug("%s: waiting out an outage", call.request.op.value)
        return True

    def connect_failed(self, now: float, probe: bool) -> bool:
        """Record a connect failure; whether the client is (now) in an outage."""
        if probe:
            self.probing = False
            self._pause = min(self.MAX_PAUSE, self._pause * 2)
            self._until = now + self._pause
            self.active = True
            self._notify()
            return True
        if self._until:
            return True
        self._failures.append(now)
        self.suspect = True
        if len(self._failures) == self.THRESHOLD and now - self._failures[0] <= self.WINDOW:
            logger.warning(
                "%d connections failed within %.1fs: pausing every call until the server "
                "can be reached again",
                self.THRESHOLD,
                self.WINDOW,
            )
            self._until = now + self._pause
            self.active = True
            return True
        return False

    def reached(self) -> None:
        """The server answered an attempt: the outage, if any, is over."""
        if self._until:
            logger.info("the server can be reached again; resuming calls")
        self._until = 0.0
        self.active = False
        self._pause = self.FIRST_PAUSE
        self._failures.clear()
        self.suspect = False
        self.probing = False
        self._notify()

    def abandon(self) -> None:
        """A probe ended without an outcome (cancelled, or raised): another may probe."""
        self.probing = False
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
