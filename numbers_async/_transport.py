"""The transport: the one module that talks aiohttp for API and token requests.

A ``Transport`` sends one HTTP request and returns ``(status, headers, body)``; it knows
nothing of retries, credentials or the Numbers API (the attempt layer, ``_attempt``, turns
that into the ``Response`` value the rest of the client reads). Failing to complete the exchange
raises ``TransportError`` (or ``NumbersTimeoutError``) with ``request_sent`` False only when
no connection was ever made, so the server cannot have seen the request. Redirects are
never followed: a 3xx is returned like any other status. A body longer than the transport's
``max_response_size`` (counted after decompression, while reading) raises
``ResponseTooLargeError`` without reading the rest.

``AiohttpTransport`` is the real one. ``numbers_async.testing.MockTransport`` answers from a
function, without sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final, NamedTuple, Protocol, runtime_checkable

import aiohttp
from yarl import URL

from numbers_async._version import __version__
from numbers_async.errors import (
    ClientClosedError,
    InvalidInputError,
    NumbersTimeoutError,
    ResponseTooLargeError,
    TransportError,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "USER_AGENT",
    "AiohttpTransport",
    "ClientSession",
    "Timeout",
    "Transport",
    "TransportResponse",
]

USER_AGENT: Final = f"numbers-async/{__version__} aiohttp/{aiohttp.__version__}"

#: The default ``max_response_size``: 32 MiB, far above any Numbers API answer (a page of
#: 1,000 active numbers is well under 2 MB) and far below what would hurt a process.
DEFAULT_MAX_RESPONSE_SIZE: Final = 32 * 1024 * 1024

#: The type of an injected session (``NumbersClient(session=...)``).
ClientSession = aiohttp.ClientSession

#: ``(status, headers, body)``: what a transport returns for any answer, error statuses too.
TransportResponse = tuple[int, Mapping[str, str], bytes]


class Timeout(NamedTuple):
    """Time limits of one attempt, in seconds (``None``: no limit)."""

    connect: float | None
    read: float | None
    total: float | None


@runtime_checkable
class Transport(Protocol):
    """Sends one HTTP request and returns its answer, whatever the status.

    ``url`` is absolute and already percent-encoded. Raise ``TransportError`` (or
    ``NumbersTimeoutError``) when no answer could be had, with ``request_sent=False`` only
    if the request provably never left (connect failure); the client's retry rules rely
    on it. Never follow redirects. A transport passed to ``NumbersClient(transport=...)``
    belongs to the caller.
    """

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> TransportResponse:
        """Send the request and return ``(status, headers, body)``."""
        ...


class AiohttpTransport:
    """A ``Transport`` over an aiohttp ``ClientSession``.

    The session is created lazily inside the running loop, with a connector of
    ``max_connections`` connections, unless one is given, in which case it is borrowed
    and never closed. Every response is read and released inside an ``async with``, so no
    path (error, timeout, cancellation) leaves a connection taken. An uncompressed body of
    declared length is read in one go once the length is checked against
    ``max_response_size``; any other body is read a chunk at a time as aiohttp decompresses
    it, and reading stops once ``max_response_size`` bytes are exceeded (``None``: no
    limit), so a compressed "bomb" never inflates whole.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidInputError("session", "must be an aiohttp.ClientSession", session)
        self._max_connections = max_connections
        self._max_response_size = max_response_size
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this transport is closed")
        if self._session is None:
            limit = self._max_connections
            # No limit_per_host: equal to limit it bounds nothing more, and aiohttp keeps
            # per-host books on every request when it is set (b1_counts.py).
            connector = aiohttp.TCPConnector(limit=limit)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        if len(self._timeouts) > 32:  # deadline-bounded totals vary: keep the cache small
            self._timeouts.clear()
        cached = self._timeouts[timeout] = aiohttp.ClientTimeout(
            total=timeout.total, sock_connect=timeout.connect, sock_read=timeout.read
        )
        return cached

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> TransportResponse:
        """Send the request and return ``(status, headers, body)``."""
        http = self._session  # None until the first request, and once closed
        if http is None:
            http = self._http()  # creates the session, or refuses once closed
        target = URL(url, encoded=True)
        client_timeout = self._timeouts.get(timeout) or self._client_timeout(timeout)
        try:
            async with http.request(
                method,
                target,
                headers=headers,
                data=body,
                timeout=client_timeout,
                allow_redirects=False,
            ) as response:
                limit = self._max_response_size
                # The usual answer is read in one go without a coroutine of its own:
                # one frame less on every request (b1_counts.py).
                if limit is None or _read_whole(response, limit, method):
                    payload = await response.read()
                else:
                    payload = await _read_limited(response, limit, method)
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(
                f"cannot connect: {exc}", request_sent=False, method=method, path=target.path
            ) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise NumbersTimeoutError(
                "connect timed out", request_sent=False, method=method, path=target.path
            ) from exc
        except (asyncio.TimeoutError, TimeoutError) as exc:
            raise NumbersTimeoutError("timed out", method=method, path=target.path) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(
                f"{type(exc).__name__}: {exc}", method=method, path=target.path
            ) from exc
        except RuntimeError as exc:
            # aiohttp refuses a closed session this way, before sending anything: ours
            # closing under a request that had read it, or a session its owner closed.
            if not http.closed:
                raise
            raise ClientClosedError("the HTTP session is closed; nothing was sent") from exc
        return response.status, response.headers, payload

    async def aclose(self) -> None:
        """Close the session if this transport created it. Idempotent.

        Requests still in flight on a session closed here fail with ``TransportError``.
        """
        if self._closed:
            return
        self._closed = True
        # Forgotten before it is closed: a request from now on is refused by _http().
        session, self._session = self._session, None
        if self._owns_session and session is not None:
            await session.close()


def _read_whole(response: aiohttp.ClientResponse, limit: int, method: str) -> bool:
    """Whether one ``read()`` of the body is bounded: true of an uncompressed body.

    A declared length is checked against ``limit`` (``ResponseTooLargeError`` past it)
    unless the body is compressed (then it declares the compressed size). The parser
    stops at the declared length, so one read cannot run past it.
    """
    declared = response.content_length
    if declared is None:
        return False
    headers = response.headers
    if "Content-Encoding" in headers:
        return False  # count what inflates instead (_read_limited)
    if declared > limit:
        raise ResponseTooLargeError(
            f"{method} {response.url.path}: the response declares {declared} bytes",
            limit=limit,
        )
    return "Transfer-Encoding" not in headers


async def _read_limited(response: aiohttp.ClientResponse, limit: int, method: str) -> bytes:
    """The body, read as it arrives (decompressed), or ``ResponseTooLargeError`` past ``limit``.

    aiohttp inflates a compressed body a bounded piece at a time as it is read, so counting
    the pieces bounds memory near ``limit`` whatever the compression ratio.
    """
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLargeError(
                f"{method} {response.url.path}: the response body is too large", limit=limit
            )
        parts.append(chunk)
    return b"".join(parts)
