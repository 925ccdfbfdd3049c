"""The session manager: the one path every request takes.

    rate gate -> slot -> auth -> send -> (401 expired: refresh, replay once)
      -> 2xx: return  |  failure: reconcile, retry after a backoff, or raise

It owns the aiohttp ``ClientSession`` (created lazily inside the running loop) unless one was
injected, in which case it never closes it. Every response is read fully and released inside
an ``async with``, so no path — error, timeout, cancellation — leaves a connection taken. A
request waiting to retry holds no slot.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final
from urllib.parse import quote, urlencode

import aiohttp
import attrs
from yarl import URL

from numbers_async import _json
from numbers_async import _operations as ops
from numbers_async._auth import Auth
from numbers_async._config import RetryEvent, RetryPolicy, Timeouts
from numbers_async._operations import Op, Request, Safety, error_for
from numbers_async._rate import RateGate, RateLimiter
from numbers_async._version import __version__
from numbers_async.errors import (
    AmbiguousOutcomeError,
    ApiError,
    DecodeError,
    NotFoundError,
    NumbersError,
    NumbersTimeoutError,
    RateLimitedError,
    TransportError,
)

__all__ = ["USER_AGENT", "CallOptions", "SessionManager"]

logger = logging.getLogger("numbers_async")

USER_AGENT: Final = f"numbers-async/{__version__} aiohttp/{aiohttp.__version__}"
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
#: Answers to a repeated rent or release that mean "already done" once an earlier attempt
#: may have gone through: the number is no longer available / no longer owned.
_ALREADY_DONE_STATUS: Final = frozenset({400, 404})
_TOKEN_TIMEOUT: Final = aiohttp.ClientTimeout(total=30, sock_connect=10, sock_read=30)


@attrs.frozen
class CallOptions:
    """The retry policy and timeouts one call runs with."""

    retry: RetryPolicy
    timeouts: Timeouts
    #: aiohttp's form of ``timeouts``, built once rather than per request.
    client_timeout: aiohttp.ClientTimeout = attrs.field(init=False, eq=False, repr=False)

    @client_timeout.default
    def _client_timeout(self) -> aiohttp.ClientTimeout:
        timeouts = self.timeouts
        return aiohttp.ClientTimeout(
            total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
        )


@attrs.frozen
class _Failure:
    """Why one attempt failed, and whether the server may have acted on it."""

    error: NumbersError
    maybe_processed: bool

    @property
    def retryable(self) -> bool:
        if isinstance(self.error, TransportError):
            return True
        return isinstance(self.error, ApiError) and self.error.status in RETRYABLE_STATUS


class SessionManager:
    """Sends ``Request``s for one project and returns ``(status, body)`` of 2xx responses."""

    def __init__(
        self,
        *,
        base_url: str,
        project_id: str,
        auth: Auth,
        max_concurrency: int,
        rate_limit: float | RateLimiter | None,
        session: aiohttp.ClientSession | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}"
        self._auth = auth
        self._max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self._gate: RateLimiter = (
            rate_limit
            if isinstance(rate_limit, RateLimiter)
            else RateGate(rate_limit, clock=clock, sleep=sleep)
        )
        self._clock = clock
        self._sleep = sleep
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._merged_headers: dict[tuple[int, str], dict[str, str]] = {}

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` has been called."""
        return self._closed

    @property
    def gate(self) -> RateLimiter:
        """The client-wide rate gate."""
        return self._gate

    def deadline_for(self, options: CallOptions) -> float | None:
        """The clock time by which a call started now must be over, if it has a deadline."""
        deadline = options.timeouts.deadline
        return None if deadline is None else self._clock() + deadline

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this NumbersClient is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_concurrency, limit_per_host=self._max_concurrency
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    # --- the retry loop -----------------------------------------------------------------

    async def send(
        self, request: Request, options: CallOptions, *, deadline_at: float | None = None
    ) -> tuple[int, bytes]:
        """Send ``request`` with retries and return the status and body of its 2xx answer.

        Retries follow ``request.safety``: idempotent requests are retried on 429, 5xx,
        transport errors and timeouts; a rent is retried and, once an attempt may have gone
        through, reconciled against ``activeNumbers``; a rentAny is retried only when it
        provably was not processed, else ``AmbiguousOutcomeError``.
        """
        if deadline_at is None:
            deadline_at = self.deadline_for(options)
        maybe_processed = False  # whether any earlier attempt may have acted
        attempt = 0
        while True:
            attempt += 1
            self._check_deadline(request, deadline_at)
            result = await self._send_once(request, options, deadline_at)
            if isinstance(result, tuple):
                return result
            if maybe_processed and _looks_already_done(request, result):
                return await self._reconcile(request, result, options, deadline_at)
            maybe_processed = maybe_processed or result.maybe_processed
            delay = self._retry_delay(request, result, attempt, options.retry, deadline_at)
            if delay is None:
                return await self._give_up(request, result, maybe_processed, options, deadline_at)
            self._announce_retry(request, result, attempt, delay, options.retry)
            await self._sleep(delay)

    def _retry_delay(
        self,
        request: Request,
        failure: _Failure,
        attempt: int,
        policy: RetryPolicy,
        deadline_at: float | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying."""
        if not failure.retryable or attempt >= policy.attempts:
            return None
        if request.safety is Safety.AT_MOST_ONCE and failure.maybe_processed:
            return None
        error = failure.error
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        if isinstance(error, ApiError) and retry_after is None:
            retry_after = ops.parse_retry_after(error.headers.get("Retry-After"))
        if retry_after is not None and retry_after > policy.max_retry_after:
            return None  # the server asks for longer than we may wait: tell the caller now
        if retry_after is not None:
            delay = retry_after
        else:
            delay = random.uniform(0, policy.backoff_ceiling(attempt))  # noqa: S311 - jitter
        if isinstance(error, RateLimitedError):
            self._gate.pause(delay)  # everyone waits, not only this caller
        if deadline_at is not None and self._clock() + delay >= deadline_at:
            return None  # the next attempt could not even start before the deadline
        return delay

    def _announce_retry(
        self, request: Request, failure: _Failure, attempt: int, delay: float, policy: RetryPolicy
    ) -> None:
        reason = _reason(failure.error)
        logger.info(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            request.op.value,
            attempt,
            reason,
            delay,
        )
        if policy.on_retry is not None:
            policy.on_retry(RetryEvent(request.op.value, attempt, reason, delay))

    async def _give_up(
        self,
        request: Request,
        failure: _Failure,
        maybe_processed: bool,
        options: CallOptions,
        deadline_at: float | None,
    ) -> tuple[int, bytes]:
        """No more attempts: settle what an earlier attempt may have done, then raise."""
        error = failure.error
        if maybe_processed and request.safety is Safety.RECONCILE:
            return await self._reconcile(request, failure, options, deadline_at)
        if maybe_processed and request.safety is Safety.AT_MOST_ONCE:
            raise AmbiguousOutcomeError(
                request.op.value,
                f"the request may have been processed but its outcome is unknown "
                f"({_reason(error)}); it was not retried because a repeat could rent a "
                f"second number. Check active_numbers.list before trying again.",
                request.json,
            ) from error
        raise error

    async def _reconcile(
        self,
        request: Request,
        failure: _Failure,
        options: CallOptions,
        deadline_at: float | None,
    ) -> tuple[int, bytes]:
        """An earlier attempt may have succeeded: find out, and answer as if it had."""
        phone = request.phone_number
        if request.op is Op.RELEASE and phone is not None and _status(failure) == 404:
            # The lost attempt released it. The API has nothing more to say about a number
            # the project no longer owns, so the answer carries only the number.
            logger.info("%s %s: already released by an earlier attempt", request.op.value, phone)
            return 200, _json.dumps({"phoneNumber": phone})
        if request.op is Op.RENT and phone is not None:
            try:
                status, body = await self.send(
                    ops.get_active(phone), options, deadline_at=deadline_at
                )
            except NotFoundError:
                raise failure.error from None  # not ours: the rent really did not happen
            except NumbersError as exc:
                raise AmbiguousOutcomeError(
                    request.op.value,
                    f"{phone} may have been rented, and checking failed ({_reason(exc)})",
                    request.json,
                ) from exc
            logger.info("%s %s: rented by an earlier attempt (reconciled)", request.op.value, phone)
            return status, body
        raise failure.error

    # --- one attempt ----------------------------------------------------------------------

    async def _send_once(
        self, request: Request, options: CallOptions, deadline_at: float | None
    ) -> tuple[int, bytes] | _Failure:
        """One attempt (plus one replay on an expired token); a 2xx or the failure."""
        http = self._http()
        url = URL(self._prefix + request.target, encoded=True)
        headers = self._json_headers if request.body is not None else self._headers
        if deadline_at is None:
            timeout = options.client_timeout
        else:
            timeout = self._bounded(options.timeouts, deadline_at)
        replayed = False
        while True:
            authorization = self._auth.cached() or await self._auth.authorization(self._fetch_token)
            try:
                status, response_headers, body = await self._exchange(
                    http,
                    request.method,
                    url,
                    self._with_authorization(headers, authorization),
                    request.body,
                    timeout,
                    gated=True,
                )
            except TransportError as exc:
                return _Failure(exc, maybe_processed=exc.request_sent)
            if 200 <= status < 300:
                return self._check_body(request, status, body)
            if status == 401 and not replayed and _token_expired(response_headers, self._auth):
                logger.info("access token expired; refreshing and replaying %s", request.op.value)
                self._auth.invalidate(authorization)
                replayed = True
                continue
            error = error_for(status, response_headers, body)
            # A 429 was refused before any work; a 4xx was refused; a 5xx may have acted.
            return _Failure(error, maybe_processed=status >= 500)

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
    ) -> tuple[int, bytes] | _Failure:
        # Only for the calls that cost money is an unreadable success worth settling here:
        # a rent is reconciled, a rentAny reported as ambiguous. Others fail in decoding.
        if request.safety is Safety.IDEMPOTENT:
            return status, body
        try:
            _json.loads(body)
        except ValueError:
            error = DecodeError(
                "response to a processed request is not JSON", status=status, body=body
            )
            return _Failure(error, maybe_processed=True)
        return status, body

    def _bounded(self, timeouts: Timeouts, deadline_at: float) -> aiohttp.ClientTimeout:
        """The attempt's timeouts, its total cut short by the call's deadline."""
        remaining = max(0.001, deadline_at - self._clock())
        total = remaining if timeouts.total is None else min(timeouts.total, remaining)
        return aiohttp.ClientTimeout(
            total=total, sock_connect=timeouts.connect, sock_read=timeouts.read
        )

    def _check_deadline(self, request: Request, deadline_at: float | None) -> None:
        if deadline_at is not None and self._clock() >= deadline_at:
            raise NumbersTimeoutError(f"{request.op.value}: deadline passed", request_sent=False)

    async def _exchange(
        self,
        http: aiohttp.ClientSession,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
        *,
        gated: bool,
    ) -> tuple[int, Mapping[str, str], bytes]:
        async with self._slots:
            gate = self._gate
            if gated and not (isinstance(gate, RateGate) and gate.try_pass()):
                await gate.acquire()
            started = time.perf_counter()
            try:
                async with http.request(
                    method, url, headers=headers, data=body, timeout=timeout
                ) as response:
                    payload = await response.read()
            except aiohttp.ClientConnectorError as exc:
                raise TransportError(
                    f"{method} {url.path}: cannot connect: {exc}", request_sent=False
                ) from exc
            except aiohttp.ConnectionTimeoutError as exc:
                raise NumbersTimeoutError(
                    f"{method} {url.path}: connect timed out", request_sent=False
                ) from exc
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
        # The token endpoint has its own limits (API_NOTES): it is not behind our rate gate.
        return await self._exchange(
            self._http(), "POST", URL(url), headers, body, _TOKEN_TIMEOUT, gated=False
        )

    async def aclose(self) -> None:
        """Stop the token refresh and close the session if we created it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._auth.aclose()
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


def _status(failure: _Failure) -> int | None:
    return failure.error.status if isinstance(failure.error, ApiError) else None


def _looks_already_done(request: Request, failure: _Failure) -> bool:
    """A rent answered "not available" / a release answered "not owned"."""
    return request.op in (Op.RENT, Op.RELEASE) and _status(failure) in _ALREADY_DONE_STATUS


def _reason(error: BaseException) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status}"
    cause = error.__cause__
    return f"{type(error).__name__}: {type(cause).__name__}" if cause else type(error).__name__


def _token_expired(headers: Mapping[str, str], auth: Auth) -> bool:
    # Every official SDK keys on the substring "expired" in this header
    # (API_NOTES "Hosts and auth").
    return auth.refreshable and "expired" in headers.get("WWW-Authenticate", "").lower()
