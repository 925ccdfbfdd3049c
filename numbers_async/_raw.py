"""``RawResponse``: a call's result together with what its answer said about it.

``RawActiveNumbersPager`` is a listing whose pages come as ``RawResponse[Page]``: it
drives the plain ``ActiveNumbersPager`` (its paging, read-ahead, ``max_items`` and loop
guard are that pager's) and pairs each page it yields with the answer that brought it.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Generic, TypeVar

import attrs

from numbers_async._headers import request_id
from numbers_async._paging import ActiveNumbersPager, Ahead
from numbers_async._redact import redact_value
from numbers_async.models import Page

__all__ = ["RawActiveNumbersPager", "RawResponse"]

#: Fetches one page of a listing: ``(page_token, deadline_at)``, the answer it came in.
FetchRawPage = Callable[[str | None, float | None], Awaitable["RawResponse[Page]"]]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RawResponse(Generic[T]):
    """A call's result (``parsed``) and the answer that gave it.

    What ``client.with_raw_response.<group>.<method>(...)`` returns. For a call that was
    settled by a check — a rent found rented by ``GET activeNumbers/{phone}`` after its
    own answer was lost, or a release whose retry found the number already released —
    the answer described is the one that settled it: the check's, or the retry's.

    Attributes:
        parsed: the result, exactly what the plain call returns (a model, a list of
            models, a ``Page``, or ``None``); for ``client.request``, the decoded JSON
            (its repr shows a secret member, such as an ``hmacSecret``, as ``"***"``).
        status_code: the HTTP status of the answer.
        headers: the answer's headers, a read-only mapping whose lookups ignore case.
        operation: the call, e.g. ``"available_numbers.rent"``.
        elapsed: seconds the whole call took: every attempt, backoff sleep, token fetch
            and check included.
        retries: how many times the call was retried (0: the first attempt answered).
            A replay after an expired token does not count.

    Examples:
        ```python
        import asyncio

        from numbers_async import NumbersClient


        async def main() -> None:
            async with NumbersClient.from_env() as client:
                raw = await client.with_raw_response.callbacks.get()
                print(raw.status_code, raw.request_id, raw.retries)
                print(raw.parsed.project_id)


        asyncio.run(main())
        ```
    """

    parsed: T = attrs.field(repr=lambda parsed: repr(redact_value(parsed)))
    status_code: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    operation: str
    elapsed: float
    retries: int

    @property
    def request_id(self) -> str | None:
        """The id the server gave the answer (its ``x-request-id`` header), or ``None``.

        Quote it to Sinch support when asking about this call.
        """
        return request_id(self.headers)


class RawActiveNumbersPager:
    """``client.with_raw_response.active_numbers.list(...)``: pages with their answers.

    ``async for raw in pager`` (or ``pager.pages()``) yields a ``RawResponse[Page]`` per
    page: ``raw.parsed`` is the ``Page``, and ``raw.request_id``, ``raw.status_code``,
    ``raw.headers``, ``raw.elapsed`` and ``raw.retries`` describe the request that fetched
    it. Paging is the plain listing's: the next page is fetched while the caller works on
    one, ``max_items`` trims the last page, ``Timeouts.deadline`` bounds the whole listing.

    Examples:
        ```python
        import asyncio

        from numbers_async import NumbersClient


        async def main() -> None:
            async with NumbersClient.from_env() as client:
                pages = client.with_raw_response.active_numbers.list(page_size=50)
                async for raw in pages:
                    print(raw.request_id, len(raw.parsed.items))


        asyncio.run(main())
        ```
    """

    def __init__(
        self,
        fetch: FetchRawPage,
        *,
        page_token: str | None,
        max_items: int | None,
        deadline: Callable[[], float | None],
    ) -> None:
        self._fetch = fetch
        self._page_token = page_token
        self._max_items = max_items
        self._deadline = deadline

    def __repr__(self) -> str:
        return (
            f"RawActiveNumbersPager(page_token={self._page_token!r}, max_items={self._max_items!r})"
        )

    def __aiter__(self) -> AsyncIterator[RawResponse[Page]]:
        return self.pages()

    async def pages(self) -> AsyncGenerator[RawResponse[Page], None]:
        """Yield each page with its answer; the last one trimmed to ``max_items`` if given."""
        # Pages are fetched one after another, and yielded in the order they were
        # fetched: the answers, queued as they arrive, pair with the pages in that order.
        answers: collections.deque[RawResponse[Page]] = collections.deque()

        async def fetch(token: str | None, deadline_at: float | None, ahead: Ahead) -> Page:
            # ``ahead`` is not used: a page requested while the one before it is still
            # decoding could be answered first, and the answers pair with pages by order.
            raw = await self._fetch(token, deadline_at)
            answers.append(raw)
            return raw.parsed

        plain = ActiveNumbersPager(
            fetch, page_token=self._page_token, max_items=self._max_items, deadline=self._deadline
        )
        async with contextlib.aclosing(plain.pages()) as pages:
            async for page in pages:
                raw = answers.popleft()
                yield raw if page is raw.parsed else attrs.evolve(raw, parsed=page)
