"""Which events a receiver has already handed over: the interface and the in-memory memory."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

from numbers_async.errors import InvalidInputError

__all__ = ["EventDeduplicator", "RecentEventIds"]


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

    The least recently seen id is forgotten first once ``capacity`` is exceeded.
    """

    def __init__(self, capacity: int) -> None:
        value: object = capacity  # checked at run time too: callers without a type checker
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError("capacity", "must be a positive whole number", value)
        self._capacity = value
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    async def claim(self, event_id: str) -> bool:
        """True if ``event_id`` is new (now remembered); False if it was seen recently."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    async def forget(self, event_id: str) -> None:
        """Forget ``event_id``, if it is remembered."""
        self._ids.pop(event_id, None)
