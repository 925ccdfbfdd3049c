"""The sender: the one path every API request takes, over a ``Transport``.

    rate gate -> slot -> auth -> send -> (401 expired: refresh, replay once)
      -> 2xx: return  |  failure: settle, retry after a backoff, or raise

Whether and when to retry is asked of ``_retry``; what an earlier, maybe processed
attempt means for a given operation is asked of a ``Settler`` hook (``_reconcile``). The
sender itself knows neither HTTP libraries nor the Numbers API. No concurrency slot is
held while waiting for the rate gate or sleeping before a retry; the token fetch takes no
slot and is not rate-gated (the token endpoint has its own limits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol
from urllib.parse import quote, urlencode

import attrs
from yarl import URL

from numbers_async import _json
from numbers_async._auth import Auth
from numbers_async._config import RetryPolicy, Timeouts
from numbers_async._operations import Request, error_for
from numbers_async._rate import RateGate, RateLimiter
from numbers_async._retry import (
    Safety,
    announce_retry,
    describe,
    maybe_processed,
    retry_delay,
)
from numbers_async._transport import USER_AGENT, Response, Timeout, Transport
from numbers_async.errors import (
    AmbiguousOutcomeError,
    DecodeError,
    NumbersError,
    NumbersTimeoutError,
    RateLimitedError,
    TransportError,
)

__all__ = ["CallOptions", "Sender", "Settler"]

logger = logging.getLogger("numbers_async")

_TOKEN_TIMEOUT: Final = Timeout(connect=10.0, read=30.0, total=30.0)


@attrs.frozen
class CallOptions:
    """The retry policy and timeouts one call runs with."""

    retry: RetryPolicy
    timeouts: Timeouts
    #: ``timeouts`` as the transport takes them, built once rather than per request.
    timeout: Timeout = attrs.field(init=False, eq=False, repr=False)

    @timeout.default
    def _timeout(self) -> Timeout:
        return Timeout(self.timeouts.connect, self.timeouts.read, self.timeouts.total)


class Settler(Protocol):
    """Settles a request whose earlier attempt may have been processed."""

    def already_done(self, request: Request, error: NumbersError) -> bool:
        """Whether ``error``, after a maybe-processed attempt, means the work was done."""
        ...

    async def settle(
        self,
        request: Request,
        error: NumbersError,
        send: Callable[[Request], Awaitable[tuple[int, bytes]]],
    ) -> tuple[int, bytes]:
        """The answer to give for ``request``, found out with ``send``; or raise."""
        ...


class Sender:
    """Sends ``Request``s for one project and returns ``(status, body)`` of 2xx responses."""

    def __init__(
        self,
        *,
        base_url: str,
        project_id: str,
        auth: Auth,
        transport: Transport,
        close_transport: Callable[[], Awaitable[None]] | None,
        limiter: RateLimiter,
        max_concurrency: int,
        settler: Settler,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}"
        self._auth = auth
        self._transport = transport
        self._close_transport = close_transport  # set when the transport is ours to close
        self._limiter = limiter
        # The in-process gate has a synchronous fast path: no await when nothing limits.
        self._gate = limiter if isinstance(limiter, RateGate) else None
        self._slots = asyncio.Semaphore(max_concurrency)
        self._settler = settler
        self._clock = clock
        self._sleep = sleep
        self._closed = False
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._merged_headers: dict[tuple[int, str], dict[str, str]] = {}

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` has been called."""
        return self._closed

    def deadline_for(self, options: CallOptions) -> float | None:
        """The clock time by which a call started now must be over, if it has a deadline."""
        deadline = options.timeouts.deadline
        return None if deadline is None else self._clock() + deadline

    # --- the retry loop -----------------------------------------------------------------

    async def send(
        self, request: Request, options: CallOptions, *, deadline_at: float | None = None
    ) -> tuple[int, bytes]:
        """Send ``request`` with retries and return the status and body of its 2xx answer.

        Retries follow ``request.safety`` (see ``_retry``); once an attempt may have been
        processed, the settler decides what a later failure means, and a request that may
        not be repeated ends in ``AmbiguousOutcomeError``.
        """
        if deadline_at is None:
            deadline_at = self.deadline_for(options)
        any_maybe_processed = False  # whether any attempt so far may have been processed
        attempt = 0
        while True:
            attempt += 1
            self._check_deadline(request, deadline_at)
            result = await self._attempt(request, options, deadline_at)
            if isinstance(result, tuple):
                return result
            error = result
            if any_maybe_processed and self._settler.already_done(request, error):
                return await self._settle(request, error, options, deadline_at)
            any_maybe_processed = any_maybe_processed or maybe_processed(error)
            delay = self._retry_delay(request, error, attempt, options.retry, deadline_at)
            if delay is None:
                return await self._give_up(
                    request, error, any_maybe_processed, options, deadline_at
                )
            announce_retry(request.op.value, error, attempt, delay, options.retry)
            await self._sleep(delay)

    def _retry_delay(
        self,
        request: Request,
        error: NumbersError,
        attempt: int,
        policy: RetryPolicy,
        deadline_at: float | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying."""
        delay = retry_delay(error, attempt=attempt, policy=policy, safety=request.safety)
        if delay is None:
            return None
        if isinstance(error, RateLimitedError):
            self._limiter.pause(delay)  # everyone waits, not only this caller
        if deadline_at is not None and self._clock() + delay >= deadline_at:
            return None  # the next attempt could not even start before the deadline
        return delay

    async def _give_up(
        self,
        request: Request,
        error: NumbersError,
        any_maybe_processed: bool,
        options: CallOptions,
        deadline_at: float | None,
    ) -> tuple[int, bytes]:
        """No more attempts: settle what an earlier attempt may have done, then raise."""
        if any_maybe_processed and request.safety is Safety.RECONCILE:
            return await self._settle(request, error, options, deadline_at)
        if any_maybe_processed and request.safety is Safety.AT_MOST_ONCE:
            raise AmbiguousOutcomeError(
                request.op.value,
                f"the request may have been processed but its outcome is unknown "
                f"({describe(error)}); it was not retried because a repeat could rent a "
                f"second number. Check active_numbers.list before trying again.",
                request.json,
            ) from error
        raise error

    async def _settle(
        self,
        request: Request,
        error: NumbersError,
        options: CallOptions,
        deadline_at: float | None,
    ) -> tuple[int, bytes]:
        async def follow_up(other: Request) -> tuple[int, bytes]:
            return await self.send(other, options, deadline_at=deadline_at)

        return await self._settler.settle(request, error, follow_up)

    # --- one attempt ----------------------------------------------------------------------

    async def _attempt(
        self, request: Request, options: CallOptions, deadline_at: float | None
    ) -> tuple[int, bytes] | NumbersError:
        """One attempt (plus one replay on an expired token); a 2xx or the failure."""
        url = self._prefix + request.target
        headers = self._json_headers if request.body is not None else self._headers
        on_retry = options.retry.on_retry
        replayed = False
        while True:
            if self._closed:
                raise RuntimeError("this NumbersClient is closed")
            gate = self._gate
            if gate is None or not gate.try_pass():
                await self._limiter.acquire()
            async with self._slots:
                authorization = self._auth.cached() or await self._auth.authorization(
                    self._fetch_token, on_retry
                )
                if deadline_at is None:
                    timeout = options.timeout
                else:
                    timeout = self._bounded(options.timeout, deadline_at)
                try:
                    status, response_headers, body = await self._transport.request(
                        request.method,
                        url,
                        self._with_authorization(headers, authorization),
                        request.body,
                        timeout,
                    )
                except TransportError as exc:
                    return exc
            if 200 <= status < 300:
                return self._check_body(request, status, body)
            if status == 401 and not replayed and _token_expired(response_headers, self._auth):
                logger.info("access token expired; refreshing and replaying %s", request.op.value)
                self._auth.invalidate(authorization)
                replayed = True
                continue
            return error_for(status, response_headers, body)

    def _with_authorization(self, headers: dict[str, str], authorization: str) -> dict[str, str]:
        # The merged headers change only when the token does: build them once per token.
        key = (id(headers), authorization)
        merged = self._merged_headers.get(key)
        if merged is None:
            if len(self._merged_headers) > 8:  # old tokens: forget them
                self._merged_headers.clear()
            merged = self._merged_headers[key] = {**headers, "Authorization": authorization}
        return merged

    def _check_body(
        self, request: Request, status: int, body: bytes
    ) -> tuple[int, bytes] | NumbersError:
        # Only for the calls that cost money is an unreadable success worth settling here:
        # a rent is reconciled, a rentAny reported as ambiguous. Others fail in decoding.
        if request.safety is Safety.IDEMPOTENT:
            return status, body
        try:
            _json.loads(body)
        except ValueError:
            return DecodeError(
                "response to a processed request is not JSON", status=status, body=body
            )
        return status, body

    def _bounded(self, timeout: Timeout, deadline_at: float) -> Timeout:
        """The attempt's timeouts, its total cut short by the call's deadline."""
        remaining = max(0.001, deadline_at - self._clock())
        total = remaining if timeout.total is None else min(timeout.total, remaining)
        return timeout._replace(total=total)

    def _check_deadline(self, request: Request, deadline_at: float | None) -> None:
        if deadline_at is not None and self._clock() >= deadline_at:
            raise NumbersTimeoutError(f"{request.op.value}: deadline passed", request_sent=False)

    async def _fetch_token(self, url: str, authorization: str, form: Mapping[str, str]) -> Response:
        headers = {
            **self._headers,
            "Authorization": authorization,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = urlencode(form).encode()
        # Called while the caller holds a slot, so it takes none itself (64 slot-holders
        # waiting on a fetch that needed a 65th slot would wait forever); and the token
        # endpoint has limits of its own: it is not behind our rate gate.
        target = str(URL(url))  # the configured URL, percent-encoded as transports take it
        return await self._transport.request("POST", target, headers, body, _TOKEN_TIMEOUT)

    async def aclose(self) -> None:
        """Stop the token refresh and close the transport if we created it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._auth.aclose()
        if self._close_transport is not None:
            await self._close_transport()


def _token_expired(headers: Mapping[str, str], auth: Auth) -> bool:
    # An expired token is told apart from a bad one by "expired" in this header.
    return auth.refreshable and "expired" in headers.get("WWW-Authenticate", "").lower()
