"""The retry layer: one attempt after another, until one succeeds or ``_retry`` says stop.

One loop for every request — API calls, the checks that settle them, token fetches —
with the delays and limits of ``_retry`` only: ``retry_delay`` under the call's
``RetryRules``, ``RetryPolicy`` and ``Safety``, and the call's deadline. A 2xx is decoded
here, and a body that does not decode is a failed attempt like a 5xx. Each failure is
recorded on the ``Call``; when the loop stops, it raises the failure and the settle
layer decides what the call ends in. A watched call's exchange (``_observe``) is ended
here, once it is known whether another attempt follows: its ``response`` hooks run then,
and each retry and outage wait is told to it.

Where the rules say so (API requests, not token fetches), two things are shared with
every call of the client: a 429 pauses the rate limiter, and connect failures feed the
``OutageGate``, which pauses every call while the server cannot be reached and lets one
probe through at a time; attempts that meet an outage are not counted (up to
``RetryPolicy.outage_wait``; how a call waits there is the gate's: ``wait_for``,
``rides_out``). No slot is held while sleeping or waiting here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from numbers_async._call import Call, Response
from numbers_async._observe import Watch
from numbers_async._outage import OutageGate
from numbers_async._rate import RateLimiter
from numbers_async._responses import error_for
from numbers_async._retry import notify_retry, retry_delay
from numbers_async.errors import (
    DecodeError,
    NumbersError,
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
                raise call.deadline_passed()
            probe = False
            if outage.active and call.rules.rides_outages and call.retry.outage_wait > 0:
                probe = await outage.wait_for(call)
            answer: Response | None = None
            try:
                answer = await send(call)
            except (TransportError, ResponseTooLargeError) as exc:
                if _cut_by_deadline(call, exc, self._clock):
                    if probe:
                        outage.abandon()
                    _abandon(call, exc)
                    raise  # the deadline ended the call before anything was sent
                if outage.rides_out(call, exc, probe):
                    call.attempt -= 1  # the call waits at the gate; this did not count
                    if call.watch is not None and call.watch.open:
                        await call.watch.exchange_failed(exc, True)
                    continue
                error: NumbersError = exc
                call.failed(error, answered=False)
            except BaseException as exc:
                if probe:
                    outage.abandon()  # raised or cancelled: let another call probe
                _abandon(call, exc)
                raise
            else:
                call.response = answer
                if outage.suspect and call.rules.rides_outages:
                    outage.reached()
                if 200 <= answer.status < 300:
                    try:
                        decoded = decode(answer.status, answer.body)
                        if isinstance(decoded, Deferred):
                            result: T = await _finish(call, decoded)
                        else:
                            result = decoded
                    except DecodeError as exc:
                        error = exc
                    else:
                        if call.watch is not None:
                            await _succeeded(call, call.watch, answer)
                        return result
                else:
                    error = error_for(
                        answer.status,
                        answer.headers,
                        answer.body,
                        operation=answer.operation,
                        method=call.request.method,
                        path=call.path,
                    )
                call.failed(error, answered=True)
            delay = self._delay(call, error)
            watch = call.watch
            if watch is not None and watch.open:
                if answer is None:
                    await watch.exchange_failed(error, delay is not None)
                else:
                    await watch.exchange_answered(
                        answer.status, answer.headers, answer.elapsed, error, delay is not None
                    )
            if delay is None:
                raise error
            notify_retry(call.request.op.value, error, call.attempt, delay, call.retry)
            if watch is not None:
                watch.retrying(call.attempt, delay, error)
            await self._sleep(delay)

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


def _cut_by_deadline(call: Call, error: NumbersError, clock: Callable[[], float]) -> bool:
    """Whether the call's deadline passed before ``error``'s attempt sent anything.

    Not a failed attempt, nor a sign of an outage (a wait for a token, or a connection,
    cut short by the call's own deadline): the call just ends.
    """
    return (
        isinstance(error, TransportError)
        and not error.request_sent
        and call.deadline_at is not None
        and clock() >= call.deadline_at
    )


async def _succeeded(call: Call, watch: Watch, answer: Response) -> None:
    """End a watched call's exchange that succeeded: its ``response`` hooks run.

    A hook that raises ends the call with its exception; the request did act, so the
    settle layer settles the call as one that may have changed something.
    """
    try:
        await watch.exchange_answered(answer.status, answer.headers, answer.elapsed, None, False)
    except BaseException:
        call.answered = call.maybe_processed = True
        raise


async def _finish(call: Call, deferred: Deferred[T]) -> T:
    """A ``Deferred`` decode's result; cancelled meanwhile, the exchange is abandoned."""
    try:
        return await deferred.finish()
    except DecodeError:
        raise  # fails the attempt, as a synchronous decode's does
    except BaseException as exc:
        _abandon(call, exc)
        raise


def _abandon(call: Call, error: BaseException) -> None:
    """End a watched call's open exchange that the call gave up (no hook runs)."""
    watch = call.watch
    if watch is not None and watch.open:
        watch.abandon(error)
