"""The attempt layer: one exchange through the transport, giving a ``Response``.

This is the one place where an attempt starts and ends. An API attempt first passes the
rate gate, then holds one of the ``max_concurrency`` slots while the transport sends it
and reads the answer; a token request passes neither (the token endpoint is another host
with limits of its own, and it is fetched for callers that may hold every slot). The
answer's headers are made case-insensitive (``Headers``) unless the transport is aiohttp's,
whose headers already are, and a body over ``max_response_size`` is refused even from a
transport that read it whole. A ``TransportError`` is named after the call's operation,
method and path.

A watched call (``Call.watch``, see ``_observe``) has each exchange started here — its
``request`` hooks run and its span starts, with ``traceparent`` in the headers sent — and
is told how long it waited for the rate limiter; the layer above ends the exchange, once
it knows whether another will follow.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Mapping
from typing import Final

from yarl import URL

from numbers_async._call import Call, Response
from numbers_async._headers import Headers
from numbers_async._rate import RateGate, RateLimiter
from numbers_async._transport import AiohttpTransport, Timeout, Transport
from numbers_async.errors import ClientClosedError, ResponseTooLargeError, TransportError

__all__ = ["NOTABLE_WAIT", "Attempts", "Slots"]

#: The shortest wait for the rate limiter that a watched call is told of (seconds): a
#: limiter that let the attempt through at once is no wait.
NOTABLE_WAIT: Final = 0.001


class Attempts:
    """Sends one attempt of a ``Call`` and returns the server's answer, whatever its status.

    Raises what the transport raises (``TransportError``, ``NumbersTimeoutError``,
    ``ResponseTooLargeError``), and ``ClientClosedError`` once the client is closed.
    """

    def __init__(
        self,
        transport: Transport,
        limiter: RateLimiter,
        max_concurrency: int,
        max_response_size: int | None,
        clock: Callable[[], float],
    ) -> None:
        self._transport = transport
        # aiohttp's answers carry headers that ignore case already (CIMultiDictProxy).
        self._headers_ignore_case = isinstance(transport, AiohttpTransport)
        self._limiter = limiter
        # The in-process gate has a synchronous fast path: no await when nothing limits.
        self._gate = limiter if isinstance(limiter, RateGate) else None
        self._slots = Slots(max_concurrency)
        self._max_response_size = max_response_size
        self._clock = clock
        self.closed = False  # the transport is closed: no more attempts

    async def send(self, call: Call, headers: Mapping[str, str]) -> Response:
        """One API attempt: the rate gate, then a slot while the transport has it."""
        if self.closed:
            raise ClientClosedError("this NumbersClient is closed", operation=call.request.op.value)
        gate = self._gate
        if gate is None or not gate.try_pass():
            await self._rate_wait(call)  # no slot is held while waiting here
        request = call.request
        slots = self._slots
        if not slots.take_free():
            await slots.take()
        try:
            deadline_at = call.deadline_at
            timeout = (
                call.timeout if deadline_at is None else self._bounded(call.timeout, deadline_at)
            )
            watch = call.watch
            if watch is not None:
                headers = await watch.exchange_started(
                    call.attempt, request.method, call.url, headers
                )
            started = self._clock()
            try:
                status, answer_headers, body = await self._transport.request(
                    request.method, call.url, headers, request.body, timeout
                )
            except TransportError as exc:
                _name(exc, call)
                raise
        finally:
            slots.give_back()
        return self._response(call, status, answer_headers, body, self._clock() - started)

    async def send_unmetered(self, call: Call, headers: Mapping[str, str]) -> Response:
        """One token-endpoint attempt: neither rate-gated nor holding a slot."""
        request = call.request
        if self.closed:
            raise ClientClosedError("this NumbersClient is closed", operation=request.op.value)
        deadline_at = call.deadline_at
        timeout = call.timeout if deadline_at is None else self._bounded(call.timeout, deadline_at)
        watch = call.watch
        if watch is not None:
            headers = await watch.exchange_started(call.attempt, request.method, call.url, headers)
        started = self._clock()
        try:
            status, answer_headers, body = await self._transport.request(
                request.method, call.url, headers, request.body, timeout
            )
        except TransportError as exc:
            _name(exc, call)
            raise
        return self._response(call, status, answer_headers, body, self._clock() - started)

    def _response(
        self, call: Call, status: int, headers: Mapping[str, str], body: bytes, elapsed: float
    ) -> Response:
        """The answer as a ``Response``: its size checked, its headers ignoring case."""
        limit = self._max_response_size
        if limit is not None and len(body) > limit:
            raise self._too_large(call, limit)
        if not (self._headers_ignore_case or isinstance(headers, Headers)):
            headers = Headers(headers)
        request = call.request
        return Response(status, headers, body, request, call.url, call.attempt, elapsed)

    async def _rate_wait(self, call: Call) -> None:
        """Wait for the rate limiter; a watched call is told how long it waited."""
        watch = call.watch
        if watch is None:
            await self._limiter.acquire()
            return
        started = self._clock()
        await self._limiter.acquire()
        waited = self._clock() - started
        if waited >= NOTABLE_WAIT:
            watch.waited("rate_limit", waited)

    def _bounded(self, timeout: Timeout, deadline_at: float) -> Timeout:
        """``timeout``, its total cut short by the call's deadline."""
        remaining = max(0.001, deadline_at - self._clock())
        total = remaining if timeout.total is None else min(timeout.total, remaining)
        return timeout._replace(total=total)

    @staticmethod
    def _too_large(call: Call, limit: int) -> ResponseTooLargeError:
        # A transport other than aiohttp's read it whole; refuse it all the same.
        path = URL(call.url, encoded=True).path
        return ResponseTooLargeError(
            f"{call.request.method} {path}: the response body is too large", limit=limit
        )


class Slots:
    """``size`` slots for attempts in flight, handed out in arrival order.

    ``asyncio.Semaphore`` does the same, but taking one of its slots is a coroutine
    even when one is free (with two more calls inside); here a free slot is a plain
    call, ``take_free``, and only a caller that must wait awaits ``take``
    (``benchmarks/b1_counts.py`` counts the difference on every request). A slot given
    back goes straight to the first caller still waiting, so none can be overtaken;
    a waiter cancelled as it was handed a slot passes it on.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def take_free(self) -> bool:
        """Take a slot if one is free; whether it was taken.

        None is free while anyone waits: ``give_back`` hands slots to waiters first.
        """
        if self._free:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting behind the callers that came first."""
        if self.take_free():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            # Cancelled while waiting, the waiter stays in line until give_back skips
            # it; cancelled as it was handed a slot, it passes the slot on.
            if not waiter.cancelled():
                self.give_back()
            raise

    def give_back(self) -> None:
        """Return a slot: to the first caller still waiting, else to the free ones."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


def _name(error: TransportError, call: Call) -> None:
    """Name the call's operation, method and path on ``error`` where the transport did not."""
    if error.operation is None:
        error.operation = call.request.op.value
    if error.method is None:
        error.method = call.request.method
    if error.path is None:
        error.path = URL(call.url, encoded=True).path
