"""The sender: the one path every API request takes, over a ``Transport``.

    rate gate -> slot -> auth -> send -> (401: new token, replay once)
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
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import attrs
from yarl import URL

from numbers_async._auth import Auth, OnRetry
from numbers_async._config import RetryPolicy, Timeouts
from numbers_async._operations import Request
from numbers_async._outage import OutageGate, connect_failure
from numbers_async._rate import RateGate, RateLimiter
from numbers_async._responses import error_for
from numbers_async._retry import (
    Safety,
    announce_retry,
    changes_state,
    describe,
    maybe_processed,
    retry_delay,
)
from numbers_async._transport import USER_AGENT, Response, Timeout, Transport
from numbers_async.errors import (
    AmbiguousOutcomeError,
    ApiError,
    ClientClosedError,
    DecodeError,
    NumbersError,
    NumbersTimeoutError,
    RateLimitedError,
    ResponseTooLargeError,
    TransportError,
    WrongEventLoopError,
)

__all__ = ["DEFAULT_CLOSE_TIMEOUT", "CallOptions", "Decode", "Sender", "Settler"]

logger = logging.getLogger("numbers_async")

T = TypeVar("T")
#: Turns the status and body of a 2xx answer into the call's result (``DecodeError`` if
#: it cannot).
Decode = Callable[[int, bytes], T]

#: How long ``aclose()`` lets calls in flight finish, by default, before closing under them.
DEFAULT_CLOSE_TIMEOUT: Final = 10.0

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
        max_response_size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}"
        self._prefix_path = urlsplit(self._prefix).path  # for ApiError.path
        self._auth = auth
        self._transport = transport
        self._close_transport = close_transport  # set when the transport is ours to close
        self._limiter = limiter
        # The in-process gate has a synchronous fast path: no await when nothing limits.
        self._gate = limiter if isinstance(limiter, RateGate) else None
        self._slots = asyncio.Semaphore(max_concurrency)
        self._settler = settler
        self._max_response_size = max_response_size
        self._clock = clock
        self._sleep = sleep
        self._closing = False  # aclose() was called: no new calls
        self._closed = False  # the transport is closed: no new attempts
        self._in_flight = 0  # calls between send() and their result
        self._idle: asyncio.Event | None = None  # set when the last call in flight ends
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop this sender runs in
        self._outage = OutageGate(clock, sleep)
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._merged_headers: dict[tuple[int, str], dict[str, str]] = {}

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` has been called."""
        return self._closing

    def deadline_for(self, options: CallOptions) -> float | None:
        """The clock time by which a call started now must be over, if it has a deadline."""
        deadline = options.timeouts.deadline
        return None if deadline is None else self._clock() + deadline

    # --- the retry loop -----------------------------------------------------------------

    async def send(
        self,
        request: Request,
        options: CallOptions,
        decode: Decode[T],
        *,
        deadline_at: float | None = None,
    ) -> T:
        """Send ``request`` with retries and return its 2xx answer as ``decode`` makes it.

        Retries follow ``request.safety`` (see ``_retry``). A 2xx whose body ``decode``
        refuses is a failed attempt like a 5xx: retried for idempotent requests, settled
        for a rent, ambiguous for a rentAny. Once any attempt may have been processed, the
        call's outcome is "maybe processed" whatever later attempts say: the settler
        decides what a later failure means, and a request that changes state and cannot
        be settled ends in ``AmbiguousOutcomeError``.

        Raises ``ClientClosedError`` after ``aclose()`` and ``WrongEventLoopError`` from an
        event loop other than the one the sender first ran in.
        """
        if self._closing:
            raise ClientClosedError(
                "this NumbersClient is closed; nothing was sent", operation=request.op.value
            )
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                raise WrongEventLoopError(
                    "this NumbersClient is used from another event loop than the one it "
                    "first ran in; one client belongs to one loop, so create one client "
                    "per event loop",
                    operation=request.op.value,
                )
            self._loop = loop
        self._in_flight += 1
        try:
            return await self._send(request, options, decode, deadline_at)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()

    async def _send(
        self,
        request: Request,
        options: CallOptions,
        decode: Decode[T],
        deadline_at: float | None,
    ) -> T:
        if deadline_at is None:
            deadline_at = self.deadline_for(options)
        any_maybe_processed = False  # whether any attempt so far may have been processed
        any_answered = False  # whether any attempt so far reached the server
        outage = self._outage
        ride_until: float | None = None  # when this call stops waiting out an outage
        attempt = 0
        while True:
            attempt += 1
            if self._deadline_passed(deadline_at):
                # A backoff sleep (or a slow on_retry hook) ran past the deadline: an
                # earlier attempt may still have acted, so settle as if attempts ran out.
                expired = NumbersTimeoutError(
                    f"{request.op.value}: deadline passed", request_sent=False
                )
                if not any_maybe_processed:
                    raise expired
                settled = await self._give_up(request, expired, True, options, decode, deadline_at)
                return decode(*settled)
            probe = False
            if outage.active and options.retry.outage_wait > 0:
                now = self._clock()
                if ride_until is None:
                    ride_until = now + options.retry.outage_wait
                if now < ride_until:
                    bound = ride_until if deadline_at is None else min(ride_until, deadline_at)
                    probe = await outage.wait(bound)
                    self._check_deadline(request, deadline_at)
            try:
                result = await self._attempt(request, options, deadline_at)
            except BaseException as exc:
                if probe:
                    outage.abandon()  # raised or cancelled: let another call probe
                if isinstance(exc, ClientClosedError):
                    raise self._cut_off(request, exc, any_maybe_processed) from exc
                raise
            if connect_failure(result):
                now = self._clock()
                if outage.connect_failed(now, probe) and options.retry.outage_wait > 0:
                    if ride_until is None:
                        ride_until = now + options.retry.outage_wait
                    if now < ride_until:
                        # The whole client waits for the server; this attempt is not
                        # counted against the call, which waits at the gate for its next.
                        logger.debug("%s: waiting out an outage", request.op.value)
                        attempt -= 1
                        continue
            elif outage.active or probe:
                outage.reached()
            if isinstance(result, tuple):
                try:
                    return decode(*result)
                except DecodeError as exc:
                    result = exc
            error = result
            # A server may act on a request and still answer 429 or 5xx (a gateway giving
            # up on a backend that went on): after any answered attempt, a rent or release
            # whose retry finds the work done is settled, not reported as failed.
            if any_answered and self._settler.already_done(request, error):
                return decode(*await self._settle(request, error, options, decode, deadline_at))
            any_maybe_processed = any_maybe_processed or maybe_processed(error)
            any_answered = any_answered or any_maybe_processed or isinstance(error, ApiError)
            delay = self._retry_delay(request, error, attempt, options.retry, deadline_at)
            if delay is None:
                settled = await self._give_up(
                    request, error, any_maybe_processed, options, decode, deadline_at
                )
                return decode(*settled)
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
        decode: Decode[Any],
        deadline_at: float | None,
    ) -> tuple[int, bytes]:
        """No more attempts: settle what an earlier attempt may have done, then raise."""
        if any_maybe_processed and request.safety is Safety.RECONCILE:
            return await self._settle(request, error, options, decode, deadline_at)
        if any_maybe_processed and request.safety is Safety.AT_MOST_ONCE:
            raise AmbiguousOutcomeError(
                request.op.value,
                f"the request may have been processed but its outcome is unknown "
                f"({describe(error)}); it was not retried because a repeat could rent a "
                f"second number. Check active_numbers.list before trying again.",
                request.json,
            ) from error
        if (
            any_maybe_processed
            and changes_state(request.op.value, request.method)
            and not maybe_processed(error)
        ):
            # The last attempt was refused, but an earlier one may have changed the state:
            # the outcome is unknown, not the known failure the last answer suggests.
            raise AmbiguousOutcomeError(
                request.op.value,
                f"an earlier attempt may have been processed, and the last one failed "
                f"({describe(error)}); whether the change took effect is unknown",
                request.json,
            ) from error
        raise error

    async def _settle(
        self,
        request: Request,
        error: NumbersError,
        options: CallOptions,
        decode: Decode[Any],
        deadline_at: float | None,
    ) -> tuple[int, bytes]:
        def checked(status: int, body: bytes) -> tuple[int, bytes]:
            decode(status, body)  # a follow-up's unreadable body is retried like any other
            return status, body

        async def follow_up(other: Request) -> tuple[int, bytes]:
            return await self._send(other, options, checked, deadline_at)

        return await self._settler.settle(request, error, follow_up)

    @staticmethod
    def _cut_off(
        request: Request, closed: ClientClosedError, any_maybe_processed: bool
    ) -> NumbersError:
        """What a call cut off by ``aclose()`` before its next attempt ends in."""
        if any_maybe_processed and changes_state(request.op.value, request.method):
            return AmbiguousOutcomeError(
                request.op.value,
                "the client was closed while the call was in flight, after an attempt that "
                "may have been processed; whether it took effect is unknown",
                request.json,
            )
        return closed

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
                raise ClientClosedError("this NumbersClient is closed", operation=request.op.value)
            gate = self._gate
            if gate is None or not gate.try_pass():
                await self._limiter.acquire()
            async with self._slots:
                try:
                    authorization = self._auth.cached() or await self._authorization(
                        request, on_retry, deadline_at
                    )
                except TransportError as exc:
                    if exc.request_sent:
                        raise
                    return exc  # the token endpoint is unreachable: so was this request
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
                except (TransportError, ResponseTooLargeError) as exc:
                    return exc
            if self._max_response_size is not None and len(body) > self._max_response_size:
                # A transport other than aiohttp's read it whole; refuse it all the same.
                return self._too_large(request.method, url, self._max_response_size)
            if 200 <= status < 300:
                return status, body
            if status == 401 and not replayed and self._auth.refreshable:
                # Expired or revoked, the token is no good: drop it, get a new one (one
                # fetch shared by every caller that saw it refused) and replay once. A
                # second 401 is an AuthenticationError.
                expired = "expired" in response_headers.get("WWW-Authenticate", "").lower()
                logger.info(
                    "access token %s; fetching a new one and replaying %s",
                    "expired" if expired else "refused (revoked?)",
                    request.op.value,
                )
                self._auth.invalidate(authorization)
                replayed = True
                continue
            return error_for(
                status,
                response_headers,
                body,
                operation=request.op.value,
                method=request.method,
                path=self._prefix_path + request.path,
            )

    @staticmethod
    def _too_large(method: str, url: str, limit: int) -> ResponseTooLargeError:
        path = URL(url, encoded=True).path
        return ResponseTooLargeError(
            f"{method} {path}: the response body is too large", limit=limit
        )

    async def _authorization(
        self, request: Request, on_retry: OnRetry, deadline_at: float | None
    ) -> str:
        """The header to send, waiting for a token fetch no longer than the call's deadline.

        The fetch itself is shared by every caller and goes on if this one stops waiting.
        """
        fetching = self._auth.authorization(self._fetch_token, on_retry)
        if deadline_at is None:
            return await fetching
        try:
            return await asyncio.wait_for(fetching, max(0.0, deadline_at - self._clock()))
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            raise NumbersTimeoutError(
                f"{request.op.value}: deadline passed waiting for an access token",
                request_sent=False,
            ) from None

    def _with_authorization(self, headers: dict[str, str], authorization: str) -> dict[str, str]:
        # The merged headers change only when the token does: build them once per token.
        key = (id(headers), authorization)
        merged = self._merged_headers.get(key)
        if merged is None:
            if len(self._merged_headers) > 8:  # old tokens: forget them
                self._merged_headers.clear()
            merged = self._merged_headers[key] = {**headers, "Authorization": authorization}
        return merged

    def _bounded(self, timeout: Timeout, deadline_at: float) -> Timeout:
        """The attempt's timeouts, its total cut short by the call's deadline."""
        remaining = max(0.001, deadline_at - self._clock())
        total = remaining if timeout.total is None else min(timeout.total, remaining)
        return timeout._replace(total=total)

    def _deadline_passed(self, deadline_at: float | None) -> bool:
        return deadline_at is not None and self._clock() >= deadline_at

    def _check_deadline(self, request: Request, deadline_at: float | None) -> None:
        if self._deadline_passed(deadline_at):
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
        response = await self._transport.request("POST", target, headers, body, _TOKEN_TIMEOUT)
        limit = self._max_response_size
        if limit is not None and len(response[2]) > limit:
            raise self._too_large("POST", target, limit)
        return response

    async def aclose(self, timeout: float | None = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Refuse new calls, let calls in flight finish, then close. Idempotent.

        Calls in flight get up to ``timeout`` seconds; then the token refresh stops and
        the transport is closed if we created it.

        A call still in flight after ``timeout`` (``None``: wait for all) is cut off: it
        fails with ``ClientClosedError``, or ``AmbiguousOutcomeError`` if an attempt that
        changes state may have been processed.
        """
        self._closing = True
        if self._in_flight and (timeout is None or timeout > 0):
            if self._idle is None:
                self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                logger.warning(
                    "closing with %d call(s) still in flight after %ss", self._in_flight, timeout
                )
        if self._closed:
            return
        self._closed = True
        await self._auth.aclose()
        if self._close_transport is not None:
            await self._close_transport()
