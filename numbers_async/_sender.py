"""The sender: the request pipeline of one client, and its life (calls in flight, closing).

Every API request goes down the same layers, each with one job::

    Sender.send        the client is open and in its own event loop; count the call
      Settle.run       the logical operation: its Call, and its one exit (_settle)
        Retrying.run   attempts, delays and limits from _retry only (_retrying)
          AuthFlow     the credential; one replay after a 401 (_authflow)
            Attempts   rate gate, a slot, one exchange: a Response (_attempt)
              Transport

A token fetch (``_tokens``, which the auth flow waits on) is a request through the same
retry and attempt layers, under the token endpoint's own rules. Nothing calls back up:
each layer only calls the ones below it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar
from urllib.parse import quote

from numbers_async._attempt import Attempts
from numbers_async._auth import Auth
from numbers_async._authflow import AuthFlow
from numbers_async._call import CallOptions
from numbers_async._observe import Observer
from numbers_async._operations import Request
from numbers_async._outage import OutageGate
from numbers_async._rate import RateLimiter
from numbers_async._raw import RawResponse
from numbers_async._retrying import Decode, Retrying
from numbers_async._settle import Settle
from numbers_async._transport import Transport
from numbers_async.errors import ClientClosedError, WrongEventLoopError

__all__ = ["DEFAULT_CLOSE_TIMEOUT", "CallOptions", "Decode", "Sender"]

logger = logging.getLogger("numbers_async")

T = TypeVar("T")

#: How long ``aclose()`` lets calls in flight finish, by default, before closing under them.
DEFAULT_CLOSE_TIMEOUT: Final = 10.0


class Sender:
    """Sends ``Request``s for one project and returns their decoded 2xx answers."""

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
        max_response_size: int | None = None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        prefix = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}"
        if observer is None:
            observer = Observer(project_id=project_id, clock=clock)
        self.observer = observer
        """What watches this client's calls: its hooks, logs and OpenTelemetry."""
        self._attempts = Attempts(transport, limiter, max_concurrency, max_response_size, clock)
        retrying = Retrying(limiter, OutageGate(clock, sleep), clock, sleep)
        self._auth_flow = AuthFlow(auth, self._attempts, retrying, clock, observer)
        self._settle = Settle(
            prefix, retrying, self._auth_flow.send, self._can_send, observer, clock
        )
        self._close_transport = close_transport  # set when the transport is ours to close
        self._clock = clock
        self._closing = False  # aclose() was called: no new calls
        self._in_flight = 0  # calls between send() and their result
        self._idle: asyncio.Event | None = None  # set when the last call in flight ends
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop this sender runs in

    @property
    def closed(self) -> bool:
        """Whether ``aclose`` has been called."""
        return self._closing

    def _can_send(self) -> bool:
        return not self._attempts.closed

    def deadline_for(self, options: CallOptions) -> float | None:
        """The clock time by which a call started now must be over, if it has a deadline."""
        deadline = options.timeouts.deadline
        return None if deadline is None else self._clock() + deadline

    async def send(
        self, request: Request, options: CallOptions, decode: Decode[T], deadline_at: float | None
    ) -> T:
        """Send ``request`` and return its 2xx answer as ``decode`` makes it.

        ``deadline_at`` (``deadline_for``, or a listing's one deadline for all its pages)
        bounds everything the call does. Retries follow ``_retry``; how a call that may
        have acted ends, ``_settle``. Raises ``ClientClosedError`` after ``aclose()`` and
        ``WrongEventLoopError`` from an event loop other than the one the sender first
        ran in; nothing is sent for either.
        """
        if self._closing or asyncio.get_running_loop() is not self._loop:
            self._admit(request)  # refused, or this sender's first call (no call otherwise)
        self._in_flight += 1
        try:
            return await self._settle.run(request, options, decode, deadline_at)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()

    async def send_raw(
        self, request: Request, options: CallOptions, decode: Decode[T], deadline_at: float | None
    ) -> RawResponse[T]:
        """``send``, returning the result with what its answer said (``RawResponse``)."""
        if self._closing or asyncio.get_running_loop() is not self._loop:
            self._admit(request)  # as in send
        self._in_flight += 1
        try:
            return await self._settle.run_raw(request, options, decode, deadline_at)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()

    def _admit(self, request: Request) -> None:
        """Refuse a call after ``aclose()``, or from another event loop than the first."""
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
        if self._attempts.closed:
            return
        self._attempts.closed = True
        await self._auth_flow.aclose()
        if self._close_transport is not None:
            await self._close_transport()
