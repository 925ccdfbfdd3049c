"""Which events a receiver has already handed over: the interface and the in-memory memory."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from numbers_async.errors import InvalidInputError

__all__ = ["EventDeduplicator", "RecentEventIds"]

logger = logging.getLogger("numbers_async.webhooks")


@runtime_checkable
class EventDeduplicator(Protocol):
    """Remembers which event ids were handed to the application, so repeats are not.

    The receivers' ``deduplicate=`` argument takes a count (an in-memory
    [`RecentEventIds`][numbers_async.webhooks.RecentEventIds] of that size) or any object
    with these two methods, for example
    [`RedisEventDeduplicator`][numbers_async.redis.RedisEventDeduplicator], which replicas
    behind one load balancer share. A receiver calls ``claim`` before handing an event
    over and ``forget`` when the application failed to handle it (so that a redelivery is
    handed over again).
    """

    async def claim(self, event_id: str) -> bool:
        """Record ``event_id`` as seen; True if it was not seen before (hand it over)."""
        ...

    async def forget(self, event_id: str) -> None:
        """Drop ``event_id`` from what was seen: its handling failed."""
        ...


class RecentEventIds:
    """The ``capacity`` most recently seen event ids of one process (the default memory).

    The least recently seen id is forgotten first once ``capacity`` is exceeded. With
    ``retention``, ids older than that many seconds are forgotten too (they are no longer
    needed: their events are refused as too old), and forgetting a younger one to make
    room is logged once as a WARNING, since a replay of its event would then be handed
    over again: raise ``capacity``, or share a ``RedisEventDeduplicator``.

    Args:
        capacity: the most ids remembered.
        retention: the seconds an id is needed (the receivers pass ``max_age`` plus
            ``clock_skew``), or ``None``.
        clock: seconds on a monotonic clock, for tests.
    """

    def __init__(
        self,
        capacity: int,
        *,
        retention: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        value: object = capacity  # checked at run time too: callers without a type checker
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError("capacity", "must be a positive whole number", value)
        kept: object = retention
        if kept is not None and (
            isinstance(kept, bool) or not isinstance(kept, int | float) or not 0 < kept < math.inf
        ):
            raise InvalidInputError("retention", "must be None or a positive number", kept)
        self._capacity = value
        self._retention = retention
        self._clock = clock
        self._warned = False
        self._ids: OrderedDict[str, float] = OrderedDict()  # id -> when last seen

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def retention(self) -> float | None:
        """The seconds an id is needed, or ``None``; not a promise (``capacity`` may cut it)."""
        return self._retention

    async def claim(self, event_id: str) -> bool:
        """True if ``event_id`` is new (now remembered); False if it was seen recently."""
        now = self._clock()
        self._expire(now)
        if event_id in self._ids:
            self._ids[event_id] = now
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = now
        if len(self._ids) > self._capacity:
            _, seen_at = self._ids.popitem(last=False)
            if self._retention is not None and now - seen_at < self._retention:
                self._warn_once()
        return True

    async def forget(self, event_id: str) -> None:
        """Forget ``event_id``, if it is remembered."""
        self._ids.pop(event_id, None)

    def _expire(self, now: float) -> None:
        if self._retention is None:
            return
        horizon = now - self._retention
        while self._ids:
            oldest = next(iter(self._ids.values()))
            if oldest > horizon:
                return
            self._ids.popitem(last=False)

    def _warn_once(self) -> None:
        if self._warned:
            return
        self._warned = True
        logger.warning(
            "event de-duplication is full (%d ids): ids are forgotten before their events "
            "are too old to accept (%g s), so a replay may be handed over again; raise "
            "deduplicate= or share a RedisEventDeduplicator",
            self._capacity,
            self._retention,
        )
