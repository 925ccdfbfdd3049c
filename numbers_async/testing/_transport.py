"""``MockTransport``: a transport that answers from a function, without sockets."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import attrs

from numbers_async._headers import Headers
from numbers_async._transport import Timeout, TransportResponse
from numbers_async.errors import NumbersTimeoutError

__all__ = ["MockRequest", "MockTransport"]

#: What a handler returns: ``(status, headers, body)``; a ``str`` body is sent as UTF-8.
MockResponse = tuple[int, Mapping[str, str], bytes | str]
#: ``(method, url, headers, body) -> (status, headers, body)``, plain or async.
Handler = Callable[
    [str, str, Mapping[str, str], bytes | None], MockResponse | Awaitable[MockResponse]
]


@attrs.frozen
class MockRequest:
    """One request a ``MockTransport`` was asked to send."""

    method: str
    """The HTTP method, e.g. ``"GET"``."""

    url: str
    """The whole URL, query string included."""

    headers: Mapping[str, str]
    """The request headers the client set (``Authorization``, ``User-Agent``, ...)."""

    body: bytes | None
    """The request body, or ``None`` when there was none."""


class MockTransport:
    """A ``Transport`` whose answers come from ``handler``, for tests without a server.

    ``handler(method, url, headers, body)`` returns ``(status, headers, body)`` or an
    awaitable of it; it may raise ``numbers_async.errors.TransportError`` to simulate a
    connection failure (``request_sent=False``: it never left) or a reset. An async
    handler that runs past the attempt's ``total`` timeout ends in
    ``NumbersTimeoutError``. Every request is kept in [`requests`][].

    With ``auth="oauth2"`` (the default) the handler also answers the token request, a
    ``POST`` to ``auth_url``; ``auth="basic"`` needs none.

    Examples:
        ```python
        def handler(method, url, headers, body):
            answer = '{"availableRegions": []}'
            return 200, {"Content-Type": "application/json"}, answer


        transport = MockTransport(handler)
        async with NumbersClient(
            "p", "k", "s", auth="basic", transport=transport
        ) as client:
            await client.available_regions.list()
        ```
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[MockRequest] = []
        """Every request asked of this transport, in order (token requests included)."""

    def __repr__(self) -> str:
        return f"MockTransport({self._handler!r})"

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> TransportResponse:
        """Record the request and answer it with the handler's response."""
        self.requests.append(MockRequest(method, url, dict(headers), body))
        answer = self._handler(method, url, headers, body)
        if inspect.isawaitable(answer):
            answer = await self._wait(answer, timeout.total, method, url)
        status, answer_headers, payload = answer
        if isinstance(payload, str):
            payload = payload.encode()
        return status, Headers(answer_headers), payload  # names in any case, as aiohttp's

    @staticmethod
    async def _wait(
        answer: Awaitable[MockResponse], total: float | None, method: str, url: str
    ) -> MockResponse:
        try:
            return await asyncio.wait_for(answer, total)
        except asyncio.TimeoutError as exc:
            path = urlsplit(url).path
            raise NumbersTimeoutError("timed out", method=method, path=path) from exc
