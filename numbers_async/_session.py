"""The session manager: the one path every request takes (slot, auth, send, decode).

It owns the aiohttp ``ClientSession`` (created lazily inside the running loop) unless one was
injected, in which case it never closes it. Every response is read fully and released inside
an ``async with`` so that no path — error, timeout, cancellation — leaves a connection taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from numbers_async._auth import Auth
from numbers_async._config import Timeouts
from numbers_async._operations import Request, error_for
from numbers_async._version import __version__
from numbers_async.errors import NumbersTimeoutError, TransportError

__all__ = ["USER_AGENT", "SessionManager"]

logger = logging.getLogger("numbers_async")

USER_AGENT: Final = f"numbers-async/{__version__} aiohttp/{aiohttp.__version__}"


class SessionManager:
    """Sends ``Request``s for one project and returns ``(status, body)`` of 2xx responses."""

    def __init__(
        self,
        *,
        base_url: str,
        project_id: str,
        auth: Auth,
        max_concurrency: int,
        timeouts: Timeouts,
        session: aiohttp.ClientSession | None,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}"
        self._auth = auth
        self._max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._timeout = aiohttp.ClientTimeout(
            total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` has been called."""
        return self._closed

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this NumbersClient is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_concurrency, limit_per_host=self._max_concurrency
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def send(self, request: Request) -> tuple[int, bytes]:
        """Send ``request`` and return the status and body of its 2xx response.

        An expired bearer token (401 with ``WWW-Authenticate`` saying ``expired``) is
        refreshed once and the request replayed. Other error statuses raise the matching
        ``ApiError``; network failures raise ``TransportError``.
        """
        http = self._http()
        url = URL(self._prefix + request.target, encoded=True)
        headers = self._json_headers if request.body is not None else self._headers
        replayed = False
        while True:
            authorization = await self._auth.authorization(self._fetch_token)
            status, response_headers, body = await self._attempt(
                http, request.method, url, {**headers, "Authorization": authorization}, request.body
            )
            if 200 <= status < 300:
                return status, body
            if status == 401 and not replayed and _token_expired(response_headers, self._auth):
                logger.info("access token expired; refreshing and replaying %s", request.op.value)
                self._auth.invalidate(authorization)
                replayed = True
                continue
            raise error_for(status, response_headers, body)

    async def _attempt(
        self,
        http: aiohttp.ClientSession,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        async with self._slots:
            started = time.perf_counter()
            try:
                async with http.request(
                    method, url, headers=headers, data=body, timeout=self._timeout
                ) as response:
                    payload = await response.read()
            except (asyncio.TimeoutError, TimeoutError) as exc:
                raise NumbersTimeoutError(f"{method} {url.path}: timed out") from exc
            except aiohttp.ClientError as exc:
                raise TransportError(f"{method} {url.path}: {type(exc).__name__}: {exc}") from exc
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %d (%.1f ms)", method, url.path, response.status, elapsed)
        return response.status, response.headers, payload

    async def _fetch_token(
        self, url: str, authorization: str, form: Mapping[str, str]
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = {
            **self._headers,
            "Authorization": authorization,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = urlencode(form).encode()
        return await self._attempt(self._http(), "POST", URL(url), headers, body)

    async def aclose(self) -> None:
        """Stop the token refresh and close the session if we created it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._auth.aclose()
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


def _token_expired(headers: Mapping[str, str], auth: Auth) -> bool:
    # Every official SDK keys on the substring "expired" in this header
    # (API_NOTES "Hosts and auth").
    return auth.refreshable and "expired" in headers.get("WWW-Authenticate", "").lower()
