"""Credentials: HTTP Basic, or OAuth2 client credentials with a shared, cached token.

The token provider does no I/O itself; the sender hands it a ``TokenFetcher`` that POSTs
the form to the token endpoint through the client's transport. Its retries follow
``_retry.TOKEN_RULES`` and ``TOKEN_POLICY`` and are reported to the calling policy's
``on_retry`` like any other retry.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import attrs
from yarl import URL

from numbers_async import _json
from numbers_async._operations import error_for, redact_url
from numbers_async._retry import (
    AUTH_OPERATION,
    TOKEN_POLICY,
    TOKEN_RULES,
    RetryEvent,
    notify_retry,
    retry_delay,
)
from numbers_async.errors import (
    ApiError,
    AuthenticationError,
    NumbersError,
    TransportError,
    UnexpectedRedirectError,
)

__all__ = ["Auth", "BasicAuth", "OAuth2", "OnRetry", "TokenFetcher"]

logger = logging.getLogger("numbers_async")

#: POST a form with an Authorization header; returns (status, headers, body) or raises
#: ``TransportError``.
TokenFetcher = Callable[
    [str, str, Mapping[str, str]], Awaitable[tuple[int, Mapping[str, str], bytes]]
]
#: ``RetryPolicy.on_retry`` of the call that needed a token.
OnRetry = Callable[[RetryEvent], None] | None


def basic_header(key_id: str, key_secret: str) -> str:
    """The ``Authorization`` value for HTTP Basic with the key pair."""
    pair = f"{key_id}:{key_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class Auth(Protocol):
    """What the sender needs from a credential scheme."""

    refreshable: bool

    def cached(self) -> str | None:
        """The header value to send now if no I/O is needed to get it, else None."""

    async def authorization(self, fetch: TokenFetcher, on_retry: OnRetry = None) -> str:
        """The ``Authorization`` header value to send now (``on_retry`` hears token retries)."""

    def invalidate(self, used: str) -> None:
        """Forget ``used`` if it is still the current credential (the server said it expired)."""

    async def aclose(self) -> None:
        """Stop any background work."""


class BasicAuth:
    """The key pair on every request (Sinch rate-limits this heavily; OAuth2 is the default)."""

    refreshable = False

    def __init__(self, key_id: str, key_secret: str) -> None:
        self._header = basic_header(key_id, key_secret)

    def __repr__(self) -> str:
        return "BasicAuth(...)"

    def cached(self) -> str:
        return self._header

    async def authorization(self, fetch: TokenFetcher, on_retry: OnRetry = None) -> str:
        return self._header

    def invalidate(self, used: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class OAuth2:
    """OAuth2 client credentials: one cached bearer token shared by every request.

    The token is refreshed ahead of its expiry (a tenth of its lifetime, at most a
    minute, before ``expires_in`` runs out). Only one refresh runs at a time; every caller
    that needs a token meanwhile awaits that same refresh through ``asyncio.shield``, so a
    cancelled caller never cancels it for the others.
    """

    refreshable = True

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        token_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._basic = basic_header(key_id, key_secret)
        self._token_url = token_url
        self._path = URL(token_url).path
        self._clock = clock
        self._sleep = sleep
        self._header: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._refresh: asyncio.Task[str] | None = None

    def __repr__(self) -> str:
        return f"OAuth2(token_url={redact_url(self._token_url)!r})"

    def cached(self) -> str | None:
        header = self._header
        return header if header is not None and self._clock() < self._refresh_at else None

    async def authorization(self, fetch: TokenFetcher, on_retry: OnRetry = None) -> str:
        header = self._header
        now = self._clock()
        if header is not None and now < self._refresh_at:
            return header
        if self._refresh is None:
            self._refresh = asyncio.create_task(
                self._fetch_token(fetch, on_retry), name="numbers_async token refresh"
            )
            self._refresh.add_done_callback(self._refresh_done)
        try:
            return await asyncio.shield(self._refresh)
        except NumbersError:
            # Refreshing early failed but the old token is still good: keep using it.
            if header is not None and header == self._header and now < self._expires_at:
                return header
            raise

    def _refresh_done(self, task: asyncio.Task[str]) -> None:
        if self._refresh is task:
            self._refresh = None
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is never reported as lost

    def invalidate(self, used: str) -> None:
        if self._header == used:
            self._header = None

    async def aclose(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _fetch_token(self, fetch: TokenFetcher, on_retry: OnRetry) -> str:
        form = {"grant_type": "client_credentials"}
        policy = TOKEN_POLICY if on_retry is None else attrs.evolve(TOKEN_POLICY, on_retry=on_retry)
        attempt = 0
        while True:
            attempt += 1
            started = self._clock()
            error: NumbersError
            try:
                status, headers, body = await fetch(self._token_url, self._basic, form)
            except TransportError as exc:
                error = exc
            else:
                if status == 200:
                    return self._store(body, started)
                error = error_for(
                    status, headers, body, operation=AUTH_OPERATION, method="POST", path=self._path
                )
            delay = retry_delay(error, attempt=attempt, policy=policy, rules=TOKEN_RULES)
            if delay is None:
                if isinstance(error, ApiError) and not isinstance(error, UnexpectedRedirectError):
                    raise _token_failure(error) from error
                raise error
            logger.info(
                "token endpoint answered %s; retrying in %.2fs (attempt %d)",
                error.status if isinstance(error, ApiError) else type(error).__name__,
                delay,
                attempt,
            )
            notify_retry(AUTH_OPERATION, error, attempt, delay, policy)
            await self._sleep(delay)

    def _store(self, body: bytes, started: float) -> str:
        try:
            data = _json.loads(body)
            token = data["access_token"]
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationError(
                200, message="token endpoint sent an unreadable token response"
            ) from exc
        if not isinstance(token, str) or not token:
            raise AuthenticationError(200, message="token endpoint sent no access_token")
        header = f"Bearer {token}"
        # Count the lifetime from when we asked, so a slow response never overstates it.
        self._expires_at = started + lifetime
        self._refresh_at = self._expires_at - min(60.0, lifetime / 10)
        self._header = header
        logger.debug("obtained an access token valid for %.0fs", lifetime)
        return header


def _token_failure(error: ApiError) -> AuthenticationError:
    return AuthenticationError(
        error.status,
        status_text=error.status_text,
        message=f"token endpoint failed: {error.message or 'no message'}",
        body=error.body,
        headers=error.headers,
        operation=error.operation,
        method=error.method,
        path=error.path,
    )
