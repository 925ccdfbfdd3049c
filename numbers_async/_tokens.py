"""Tokens: one OAuth2 token fetch at a time, shared by every call that needs it.

When a call needs a token (none is cached, or the one cached is due for a refresh), one
fetch runs, and every call that needs a token meanwhile waits for that same fetch —
through ``asyncio.shield``, so a cancelled caller never cancels it for the others, and
no caller waits past its deadline. A refresh that fails while the old token has not
expired yet keeps the old one in use.

The fetch is a request like any other: the retry layer sends it through the attempt
layer, under ``_retry.TOKEN_RULES`` and ``TOKEN_POLICY`` (unmetered: no rate gate, no
slot), and ``on_retry`` hears its retries as ``"oauth2.token"``. ``parse_token`` reads
the answer. A watched client sees each fetch as an operation of its own, ``oauth2.token``
(its span is a child of the call that needed the token). A token endpoint that refuses
the key pair is an ``AuthenticationError``; one that keeps failing (or cannot be reached
or read) a ``TokenEndpointError``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Final

import attrs

from numbers_async._attempt import Attempts
from numbers_async._auth import OAuth2, parse_token
from numbers_async._call import Call
from numbers_async._observe import Observer, outcome_of
from numbers_async._operations import Op, Request
from numbers_async._retry import TOKEN_POLICY, TOKEN_RULES, RetryEvent
from numbers_async._retrying import Retrying
from numbers_async._transport import USER_AGENT, Timeout
from numbers_async.errors import (
    ApiError,
    AuthenticationError,
    ClientClosedError,
    NumbersError,
    NumbersTimeoutError,
    ResponseTooLargeError,
    TokenEndpointError,
    TransportError,
    UnexpectedRedirectError,
)

__all__ = ["TOKEN_TIMEOUT", "Tokens"]

logger = logging.getLogger("numbers_async.auth")

#: Time limits of one token request.
TOKEN_TIMEOUT: Final = Timeout(connect=10.0, read=30.0, total=30.0)

_TOKEN_FORM: Final = b"grant_type=client_credentials"
_TOKEN_HEADERS: Final = {
    "User-Agent": USER_AGENT,
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded",
}


class Tokens:
    """Fetches OAuth2 tokens through the retry and attempt layers, one fetch at a time."""

    def __init__(
        self,
        attempts: Attempts,
        retrying: Retrying,
        clock: Callable[[], float],
        observer: Observer,
    ) -> None:
        self._attempts = attempts
        self._retrying = retrying
        self._clock = clock
        self._observer = observer
        self._refresh: asyncio.Task[str] | None = None
        self._closed = False  # aclose() was called

    async def authorization(self, auth: OAuth2, call: Call) -> str:
        """A fresh token's header, waiting no longer than the call's deadline.

        The fetch is shared by every caller and goes on if this one stops waiting.
        """
        refresh = self._refresh
        if refresh is None:
            refresh = self._refresh = asyncio.get_running_loop().create_task(
                self._fetch(auth, call.retry.on_retry), name="numbers_async token refresh"
            )
            refresh.add_done_callback(self._refresh_done)
        try:
            if call.deadline_at is None:
                return await asyncio.shield(refresh)
            remaining = max(0.0, call.deadline_at - self._clock())
            return await asyncio.wait_for(asyncio.shield(refresh), remaining)
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            raise NumbersTimeoutError(
                "deadline passed waiting for an access token",
                request_sent=False,
                operation=call.request.op.value,
            ) from None
        except asyncio.CancelledError:
            if self._closed and refresh.cancelled() and not _cancelling():
                # aclose() stopped the fetch this call waited for; the call itself was
                # not cancelled: it is cut off by the close, like any other attempt.
                raise ClientClosedError(
                    "this NumbersClient is closed", operation=call.request.op.value
                ) from None
            raise
        except NumbersError:
            # Refreshing early failed but the token has not expired: keep using it.
            usable = auth.usable()
            if usable is None:
                raise
            logger.warning(
                "refreshing the access token failed; %s goes on with the current one, "
                "which has not expired yet",
                call.request.op.value,
            )
            return usable

    def _refresh_done(self, task: asyncio.Task[str]) -> None:
        if self._refresh is task:
            self._refresh = None
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is never reported as lost

    async def _fetch(self, auth: OAuth2, on_retry: Callable[[RetryEvent], None] | None) -> str:
        """Fetch a token through the retry and attempt layers, and keep it."""
        policy = TOKEN_POLICY if on_retry is None else attrs.evolve(TOKEN_POLICY, on_retry=on_retry)
        request = Request(Op.TOKEN, "POST", auth.token_path, body=_TOKEN_FORM)
        call = Call(request, auth.token_url, policy, TOKEN_RULES, TOKEN_TIMEOUT, None)
        headers = {**_TOKEN_HEADERS, "Authorization": auth.client_authorization}
        started = auth.clock()
        watch = None
        if self._observer.watching():
            watch = call.watch = self._observer.watch(Op.TOKEN.value, token_fetch=True)
        try:
            send = functools.partial(self._attempts.send_unmetered, headers=headers)
            grant = await self._retrying.run(call, send, parse_token)
        except (ApiError, TransportError, ResponseTooLargeError) as error:
            failure = _token_failure(error, call.attempt, call.retry.max_retry_after)
            if watch is not None:
                watch.ended("failed", call.attempt, failure)
            raise failure from error
        except BaseException as error:
            if watch is not None:
                watch.ended(outcome_of(error), call.attempt, error)
            raise
        if watch is not None:
            watch.ended("succeeded", call.attempt, None)
        return auth.store(grant, started)

    async def aclose(self) -> None:
        """Stop a token fetch in flight (the calls waiting for it are cut off)."""
        self._closed = True
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _cancelling() -> bool:
    """Whether the running task is being cancelled (unknowable before Python 3.11: no)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() > 0


def _token_failure(error: NumbersError, attempts: int, max_wait: float) -> NumbersError:
    """What a token fetch that failed with ``error`` after ``attempts`` attempts raises.

    ``max_wait`` is the longest ``Retry-After`` the fetch waits: one beyond it is named.
    """
    if isinstance(error, UnexpectedRedirectError):
        return error  # a misconfigured auth_url: the redirect says where to
    if isinstance(error, ApiError) and error.status < 500 and error.status != 429:
        return AuthenticationError(
            error.status,
            status_text=error.status_text,
            message=f"the token endpoint refused the key pair: {error.message or 'no message'}",
            body=error.body,
            headers=error.headers,
            operation=error.operation,
            method=error.method,
            path=error.path,
        )
    status = error.status if isinstance(error, ApiError) else None
    failed = "failed" if attempts == 1 else f"kept failing ({attempts} attempts)"
    retry_after = error.retry_after if isinstance(error, ApiError) else None
    if retry_after is not None and retry_after > max_wait:
        failed += (
            f" and asked to be retried after {retry_after:.0f} s (Retry-After), longer than "
            f"the {max_wait:g} s a token fetch waits"
        )
    return TokenEndpointError(
        f"the token endpoint {failed}: {error}. No access token could be had, so the "
        "request was not sent; the key pair was not refused",
        status=status,
        attempts=attempts,
    )
