"""A bulk job's input: an iterable or async iterable, pulled one item at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Final

from numbers_async.bulk._results import Item

__all__ = ["END", "STOPPED", "Source", "key", "numbered", "pulled"]


def key(item: Any) -> Item:
    """The journal key of an item: itself if it is a string or an int, else its repr."""
    if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
        return item
    return repr(item)


def numbered(
    items: Iterable[Any] | AsyncIterable[Any],
) -> Iterable[tuple[int, Any]] | AsyncIterable[tuple[int, Any]]:
    """``items`` as ``(position, item)`` pairs, sync or async as the items are."""
    if isinstance(items, AsyncIterable):
        return _numbered(items)
    return enumerate(items)


async def _numbered(items: AsyncIterable[Any]) -> AsyncIterator[tuple[int, Any]]:
    position = 0
    async for item in items:
        yield position, item
        position += 1


class _EndOfInput:
    pass


END: Final = _EndOfInput()
STOPPED: Final = _EndOfInput()


class Source:
    """The job's input, pulled one item at a time."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any]) -> None:
        self.is_async = isinstance(items, AsyncIterable)
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)
        self.exhausted = False

    def next_sync(self) -> Any:
        assert self._sync is not None  # noqa: S101 - only called for sync input
        if self.exhausted:
            return END
        item = next(self._sync, END)
        self.exhausted = item is END
        return item

    async def next_async(self) -> Any:
        assert self._async is not None  # noqa: S101 - only called for async input
        if self.exhausted:
            return END
        try:
            return await anext(self._async)
        except StopAsyncIteration:
            return END


def pulled(task: asyncio.Task[Any]) -> Any:
    """The item a pull task got; ``STOPPED`` if ``stop()`` cancelled it."""
    if task.cancelled():
        return STOPPED
    return task.result()
