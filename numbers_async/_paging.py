"""The async pager behind ``active_numbers.list``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from numbers_async.errors import DecodeError
from numbers_async.models import ActiveNumber, Page

__all__ = ["ActiveNumbersPager"]

FetchPage = Callable[[str | None, float | None], Awaitable[Page]]  # (token, deadline_at)


class ActiveNumbersPager:
    """Iterate a listing of active numbers, fetching one page at a time.

    ``async for number in pager`` yields every number across all pages;
    ``async for page in pager.pages()`` yields ``Page`` objects (with ``next_page_token``
    to resume later). At most one page is held in memory. Each iteration starts again from
    the ``page_token`` the listing was created with; ``Timeouts.deadline`` bounds the whole
    iteration, every page included. A page token the listing has already followed (a
    server cycling A -> B -> A) ends it with ``DecodeError`` instead of looping forever.
    """

    def __init__(
        self,
        fetch: FetchPage,
        *,
        page_token: str | None,
        max_items: int | None,
        deadline: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._fetch = fetch
        self._deadline = deadline
        self._page_token = page_token
        self._max_items = max_items

    def __repr__(self) -> str:
        return f"ActiveNumbersPager(page_token={self._page_token!r}, max_items={self._max_items!r})"

    def __aiter__(self) -> AsyncIterator[ActiveNumber]:
        return self._items()

    async def _items(self) -> AsyncGenerator[ActiveNumber, None]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def pages(self) -> AsyncGenerator[Page, None]:
        """Yield each page in turn; the last one is trimmed to ``max_items`` if given.

        While the caller works on a page, the next one is already being fetched (so at
        most two pages are in memory). Closing the iteration early cancels that fetch.
        """
        remaining = self._max_items
        deadline_at = self._deadline()  # one deadline for the whole listing
        token = self._page_token
        seen = {token}  # every token this listing has sent (None: the first page)
        upcoming: asyncio.Future[Page] | None = None
        try:
            page = await self._fetch(token, deadline_at)
            while True:
                if remaining is not None and len(page.items) >= remaining:
                    # Trimmed pages keep the server's token: resuming from it would skip
                    # the items cut here, which the caller asked not to see anyway.
                    yield Page(page.items[:remaining], page.next_page_token, page.total_size)
                    return
                next_token = self._next_token(page, seen)
                if next_token is not None:
                    upcoming = asyncio.ensure_future(self._fetch(next_token, deadline_at))
                    # Let it start now, so the request is on the wire while the caller
                    # works on this page (else it would only start at the next await).
                    await asyncio.sleep(0)
                yield page
                if upcoming is None:
                    return
                if remaining is not None:
                    remaining -= len(page.items)
                page, token = await upcoming, next_token
                upcoming = None
        finally:
            if upcoming is not None:
                upcoming.cancel()
                await asyncio.gather(upcoming, return_exceptions=True)

    @staticmethod
    def _next_token(page: Page, seen: set[str | None]) -> str | None:
        token = page.next_page_token
        if not token:
            return None
        if token in seen:
            raise DecodeError(
                f"activeNumbers returned page token {token!r}, which this listing has "
                f"already followed; stopping to avoid a loop ({len(seen)} pages fetched)",
                status=200,
                body=b"",
            )
        seen.add(token)
        return token

    async def collect(self) -> list[ActiveNumber]:
        """All items in one list (mind the memory for large projects)."""
        return [item async for item in self]
