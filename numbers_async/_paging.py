"""The async pager behind ``active_numbers.list``, and the decoding of its pages.

While the caller works on a page, the next one is fetched. When the caller is already
waiting for that next page as it arrives, the request for the page after it is sent as
soon as the arrived page's envelope is read (``nextPageToken``), before its items are
decoded: the server prepares one page while the client decodes the other. The items are
still decoded within the attempt (``Deferred``), so a page that does not decode is retried
like any other answer that does not, and at most one request runs ahead of the caller.

A page's numbers are let go of before the next page is decoded, and that page's parsed
JSON is taken apart as its numbers are built (``_responses.decode_object`` with
``consume``): the two are never alive in full together, so a listing does not keep the
garbage collector busy.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from numbers_async._responses import decode_object, loads_object
from numbers_async._retrying import Deferred
from numbers_async.errors import DecodeError
from numbers_async.models import ActiveNumber, Page

__all__ = ["ActiveNumbersPager", "Ahead", "FetchPage", "decode_page", "decode_page_now"]

#: Called with the next page's token and the count of items of the page whose envelope
#: was just read; says whether the next page's request has been started.
Ahead = Callable[[str, int], bool]
#: Fetches one page: ``(token, deadline_at, ahead)``; its decoding calls ``ahead``.
FetchPage = Callable[[str | None, float | None, Ahead], Awaitable[Page]]


def decode_page(status: int, body: bytes, ahead: Ahead) -> Page | Deferred[Page]:
    """A listing page from its 2xx body; ``ahead`` may start the next page first.

    The body is parsed and, when it names a next page and ``ahead`` starts that page's
    request, the items are decoded after one turn of the event loop (which sends it).
    """
    data = loads_object(status, body)
    token, items = data.get("nextPageToken"), data.get("activeNumbers")
    if token.__class__ is str and token and items.__class__ is list and ahead(token, len(items)):
        return Deferred(functools.partial(_decode_after_a_turn, status, body, data))
    return decode_object(status, body, data, Page, consume=True)


def decode_page_now(status: int, body: bytes) -> Page:
    """A listing page from its 2xx body, decoded at once (no page is started ahead)."""
    return decode_object(status, body, loads_object(status, body), Page, consume=True)


async def _decode_after_a_turn(status: int, body: bytes, data: dict[str, Any]) -> Page:
    await asyncio.sleep(0)  # the next page's task runs first: its request is sent
    return decode_object(status, body, data, Page, consume=True)


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
            # Only the iterator holds the page's numbers, and lets go of them once it is
            # exhausted: they are freed before the next page is decoded, not after.
            items = iter(page.items)
            del page
            for item in items:
                yield item

    async def pages(self) -> AsyncGenerator[Page, None]:
        """Yield each page in turn; the last one is trimmed to ``max_items`` if given.

        While the caller works on a page, the next one is already being fetched (so at
        most two pages are in memory); while the caller waits for a page, the request for
        the one after it is sent as soon as the page arrives, before its numbers are
        decoded. Closing the iteration early cancels the fetch in flight.
        """
        run = _Listing(self._fetch, self._deadline(), self._page_token, self._max_items)
        try:
            page = await run.first()
            while True:
                if run.remaining is not None and len(page.items) >= run.remaining:
                    # Trimmed pages keep the server's token: resuming from it would skip
                    # the items cut here, which the caller asked not to see anyway.
                    yield Page(page.items[: run.remaining], page.next_page_token, page.total_size)
                    return
                upcoming = await run.after(page)
                yield page
                if upcoming is None:
                    return
                run.done_with(page)
                del page  # freed, if the caller is done with it too, before the next decodes
                page = await run.take(upcoming)
        finally:
            await run.close()

    async def collect(self) -> list[ActiveNumber]:
        """All items in one list (mind the memory for large projects)."""
        return [item async for item in self]


class _Listing:
    """One iteration of a listing: its tokens, its count, and the fetches in flight.

    ``upcoming`` is the fetch of the page after the caller's; ``early`` one started while
    the caller waited for ``upcoming``, from its envelope (``ahead``).
    """

    def __init__(
        self, fetch: FetchPage, deadline_at: float | None, token: str | None, max_items: int | None
    ) -> None:
        self._fetch = fetch
        self._deadline_at = deadline_at  # one deadline for the whole listing
        self._token = token
        self.remaining = max_items
        self._seen = {token}  # every token this listing has sent (None: the first page)
        self._waiting = False  # the caller waits for the page being fetched
        self._upcoming: asyncio.Future[Page] | None = None
        self._early: tuple[str, asyncio.Future[Page]] | None = None

    async def first(self) -> Page:
        self._waiting = True
        try:
            return await self._fetch(self._token, self._deadline_at, self.ahead)
        finally:
            self._waiting = False

    def ahead(self, token: str, count: int) -> bool:
        """Start the page after the one arriving, if the caller already waits for it."""
        if not self._waiting or self._early is not None or token in self._seen:
            return False  # the caller is busy, one is ahead already, or a loop (said later)
        if self.remaining is not None and count >= self.remaining:
            return False  # the arriving page ends the listing
        self._early = (token, self._start(token))
        return True

    def _start(self, token: str) -> asyncio.Future[Page]:
        return asyncio.ensure_future(self._fetch(token, self._deadline_at, self.ahead))

    async def after(self, page: Page) -> asyncio.Future[Page] | None:
        """The fetch of the page after ``page``, started if it is not yet."""
        token = self._next_token(page)
        early, self._early = self._early, None
        if early is not None:
            if early[0] == token:
                self._upcoming = early[1]
                return early[1]
            early[1].cancel()  # a retried page named another next page
            await asyncio.gather(early[1], return_exceptions=True)
        if token is None:
            return None
        self._upcoming = self._start(token)
        # Let it start now, so the request is on the wire while the caller works on this
        # page (else it would only start at the next await).
        await asyncio.sleep(0)
        return self._upcoming

    def done_with(self, page: Page) -> None:
        """The caller is done with ``page``: its items count against ``max_items``."""
        if self.remaining is not None:
            self.remaining -= len(page.items)

    async def take(self, upcoming: asyncio.Future[Page]) -> Page:
        """The next page, once the caller is done with the one before (``done_with``)."""
        self._waiting = True
        try:
            return await upcoming
        finally:
            self._waiting = False
            self._upcoming = None

    def _next_token(self, page: Page) -> str | None:
        token = page.next_page_token
        if not token:
            return None
        if token in self._seen:
            raise DecodeError(
                f"activeNumbers returned page token {token!r}, which this listing has "
                f"already followed; stopping to avoid a loop ({len(self._seen)} pages fetched)",
                status=200,
                body=b"",
            )
        self._seen.add(token)
        return token

    async def close(self) -> None:
        """Cancel the fetches still in flight (the caller stopped, or the listing failed)."""
        pending = [future for future in (self._upcoming, self._early and self._early[1]) if future]
        self._upcoming = self._early = None
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
