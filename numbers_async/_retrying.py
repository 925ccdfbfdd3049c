"""The retry layer: one attempt after another, until one succeeds or ``_retry`` says stop.

One loop for every request — API calls, the checks that settle them, token fetches —
with the delays and limits of ``_retry`` only: ``retry_delay`` under the call's
``RetryRules``, ``RetryPolicy`` and ``Safety``, and the call's deadline. A 2xx is decoded
here, and a body that does not decode is a failed attempt like a 5xx. Each failure is
recorded on the ``Call``; when the loop stops, it raises the failure and the settle
layer decides what the call ends in.

Where the rules say so (API requests, not token fetches), two things are shared with
every call of the client: a 429 pauses the rate limiter, and connect failures feed the
``OutageGate``, which pauses every call while the server cannot be reached and lets one
probe through at a time; attempts that meet an outage are not counted (up to
``RetryPolicy.outage_wait``). No slot is held while sleeping or waiting here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from numbers_async._call import Call, Response
from numbers_async._outage import OutageGate
from numbers_async._rate import RateLimiter
from numbers_async._responses import error_for
from numbers_async._retry import notify_retry, retry_delay
from numbers_async.errors import (
    DecodeError,
    NumbersError,
    NumbersTimeoutError,
    RateLimitedError,
    ResponseTooLargeError,
    TransportError,
)

__all__ = ["Decode", "Deferred", "Retrying", "Send"]

logger = logging.getLogger("numbers_async")

T = TypeVar("T")


class Deferred(Generic[T]):
    """A decode's result that is finished after an await, within the same attempt.

    The retry layer awaits ``finish()`` where it would have taken the result: its
    ``DecodeError`` fails the attempt as a synchronous decode's does. A listing page
    returns one to put the next page's request on the wire before its own items are
    decoded (``_paging``).
    """

    __slots__ = ("finish",)

    def __init__(self, finish: Callable[[], Awaitable[T]]) -> None:
        self.finish = finish


#: Turns the status and body of a 2xx answer into the call's result (``DecodeError`` if
#: it cannot), or into a ``Deferred`` result.
Decode = Callable[[int, bytes], "T | Deferred[T]"]
#: Sends one attempt of a call and returns the answer, whatever its status.
Send = Callable[[Call], Awaitable[Response]]


class Retrying:
    """Runs the attempts of a ``Call`` (see the module docstring)."""

    def __init__(
        self,
        limiter: RateLimiter,
        outage: OutageGate,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._limiter = limiter
        self._outage = outage
        self._clock = clock
        self._sleep = sleep

    async def run(self, call: Call, send: Send, decode: Decode[T]) -> T:
        """Attempts of ``call`` through ``send`` until one's 2xx decodes; else raise.

        Raises the last attempt's failure when no retry may follow, and
        ``NumbersTimeoutError`` (nothing sent) when the deadline passed before an attempt.
        """
        outage = self._outage
        while True:
            call.attempt += 1
            if call.deadline_at is not None and self._clock() >= call.deadline_at:
                raise NumbersTimeoutError(
                    f"{call.request.op.value}: deadline passed", request_sent=False
                )
            probe = False
            if outage.active and call.rules.rides_outages and call.retry.outage_wait > 0:
                probe = await self._wait_out_outage(call)
            try:
                response = await send(call)
            except (TransportError, ResponseTooLargeError) as exc:
                if self._cut_by_deadline(call, exc):
                    if probe:
                        outage.abandon()
                    raise  # the deadline ended the call before anything was sent
                if self._rides_out(call, exc, probe):
                    call.attempt -= 1  # the call waits at the gate; this did not count
                    continue
                error: NumbersError = exc
                call.failed(error, answered=False)
            except BaseException:
                if probe:
                    outage.abandon()  # raised or cancelled: let another call probe
                raise
            else:
                call.response = response
                if (probe or outage.active) and call.rules.rides_outages:
                    outage.reached()
                if 200 <= response.status < 300:
                    try:
                        result = decode(response.status, response.body)
                        if isinstance(result, Deferred):
                            return await result.finish()
                        return result
                    except DecodeError as exc:
                        error = exc
                else:
                    error = _error(response)
                call.failed(error, answered=True)
            delay = self._delay(call, error)
            if delay is None:
                raise error
            notify_retry(call.request.op.value, error, call.attempt, delay, call.retry)
            await self._sleep(delay)

    async def _wait_out_outage(self, call: Call) -> bool:
        """Wait at the outage gate; whether this call's next attempt is the probe."""
        now = self._clock()
        if call.ride_until is None:
            call.ride_until = now + call.retry.outage_wait
        if now >= call.ride_until:
            return False  # waited long enough: attempts count again
        deadline_at = call.deadline_at
        bound = call.ride_until if deadline_at is None else min(call.ride_until, deadline_at)
        probe = await self._outage.wait(bound)
        if deadline_at is not None and self._clock() >= deadline_at:
            if probe:
                self._outage.abandon()
            raise NumbersTimeoutError(
                f"{call.request.op.value}: deadline passed", request_sent=False
            )
        return probe

    def _cut_by_deadline(self, call: Call, error: NumbersError) -> bool:
        """Whether the call's deadline passed before ``error``'s attempt sent anything.

        Not a failed attempt, nor a sign of an outage (a wait for a token, or a connection,
        cut short by the call's own deadline): the call just ends.
        """
        return (
            isinstance(error, TransportError)
            and not error.request_sent
            and call.deadline_at is not None
            and self._clock() >= call.deadline_at
        )

    def _rides_out(self, call: Call, error: NumbersError, probe: bool) -> bool:
        """Whether a transport failure is an outage this call waits out, uncounted."""
        outage = self._outage
        if not call.rules.rides_outages:
            return False
        if not isinstance(error, TransportError) or error.request_sent:
            if outage.active or probe:
                outage.reached()  # something answered, or took the request: not an outage
            return False
        now = self._clock()
        if not outage.connect_failed(now, probe) or call.retry.outage_wait <= 0:
            return False
        if call.ride_until is None:
            call.ride_until = now + call.retry.outage_wait
        if now >= call.ride_until:
            return False
        logger.debug("%s: waiting out an outage", call.request.op.value)
        return True

    def _delay(self, call: Call, error: NumbersError) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying."""
        delay = retry_delay(
            error,
            attempt=call.attempt,
            policy=call.retry,
            rules=call.rules,
            safety=call.request.safety,
        )
        if delay is None:
            return None
        if isinstance(error, RateLimitedError) and call.rules.pauses_client:
            self._limiter.pause(delay)  # everyone waits, not only this caller
        if call.deadline_at is not None and self._clock() + delay >= call.deadline_at:
            return None  # the next attempt could not even start before the deadline
        return delay


def _error(response: Response) -> NumbersError:
    """The ``ApiError`` an answer that is not a 2xx stands for."""
    return error_for(
        response.status,
        response.headers,
        response.body,
        operation=response.operation,
        method=response.request.method,
        path=urlsplit(response.url).path,  # no query string: it may carry page tokens
    )
