"""Receive Sinch number events in an aiohttp.web application.

``setup`` mounts the handler and registers its cleanup (which waits for, then cancels,
running callbacks). Answers: 200 accepted (or a duplicate, not handed over again); 400
malformed JSON, a required field missing, or an event outside ``max_age`` (a replay);
401 missing or wrong ``X-Sinch-Signature``; 413 body over ``max_body_size``; 415 a
``Content-Encoding`` (Sinch sends the plain body it signed); 500 when
``acknowledge="handled"`` and ``on_event`` raised; 503 when the queue is full or the
application is shutting down (Sinch retries what is not answered 2xx).

Examples:
    ```python
    from aiohttp import web
    from numbers_async.webhooks import NumbersEvent
    from numbers_async.webhooks.aiohttp import events_handler


    async def on_event(event: NumbersEvent) -> None:
        ...  # runs in the background, after Sinch has its 200


    app = web.Application()
    secret = os.environ["SINCH_CALLBACK_SECRET"]
    events_handler(on_event, secret=secret).setup(app, "/sinch/events")
    ```
"""

from __future__ import annotations

from aiohttp import hdrs, web

from numbers_async.webhooks import SIGNATURE_HEADER
from numbers_async.webhooks._dedupe import EventDeduplicator
from numbers_async.webhooks._receiver import (
    DEFAULT_ACKNOWLEDGE,
    DEFAULT_CLOCK_SKEW,
    DEFAULT_DEDUPLICATE,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_SHUTDOWN_TIMEOUT,
    Acknowledge,
    EventSink,
    Receiver,
    SecretSource,
)

__all__ = ["EventsHandler", "events_handler"]


def events_handler(
    on_event: EventSink,
    *,
    secret: SecretSource,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    deduplicate: int | EventDeduplicator | None = DEFAULT_DEDUPLICATE,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    acknowledge: Acknowledge = DEFAULT_ACKNOWLEDGE,
    max_age: float | None = DEFAULT_MAX_AGE,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    tracing: bool = True,
) -> EventsHandler:
    """Build an aiohttp.web handler that verifies, parses and hands over Sinch number events.

    Mount it with ``handler.setup(app, path)``, which also registers the cleanup that
    finishes (or cancels) background callbacks before the loop closes. To mount it some other
    way, route to ``handler.handle`` and append ``handler.on_cleanup`` to ``app.on_cleanup``.

    Args:
        on_event: an ``async def on_event(event)``, run as a background task per event
            (its exceptions are logged on ``numbers_async.webhooks``, never raised); or an
            ``asyncio.Queue`` the event is put on without waiting (a full queue answers 503).
        secret: the project's callback HMAC secret, or a function (sync or async) returning
            it, called once per request so that a rotated secret takes effect at once (if it
            raises, the delivery is answered 500 and Sinch retries it).
        max_body_size: bodies larger than this many bytes (default 64 KiB) are answered 413
            without being read in full.
        deduplicate: remember this many recent event ids in this process (default 10,000)
            and answer a repeated delivery 200 without handing it over again (Sinch retries
            can repeat an event); or an ``EventDeduplicator`` such as
            ``numbers_async.redis.RedisEventDeduplicator``, shared by every replica behind a
            load balancer; ``None`` or ``0`` hands every delivery over. An event whose
            ``on_event`` raised is forgotten, so its next delivery is handed over again.
        shutdown_timeout: seconds ``on_cleanup`` waits for running callbacks before
            cancelling them (default 5).
        acknowledge: ``"received"`` (default) answers 200 as soon as the event is accepted
            and runs ``on_event`` in the background: Sinch is answered fast, but an event
            whose handler fails is only handled again if Sinch happens to deliver it again.
            ``"handled"`` answers only once ``on_event`` returned, and 500 if it raised, so
            Sinch retries it: choose it when an event must not be lost to a failing handler
            (a database briefly down) and the handler is quick (well inside Sinch's request
            timeout). Needs an ``on_event`` function, not a queue.
        max_age: the oldest event accepted, in seconds after its signed ``timestamp``
            (default one day: Sinch's redeliveries keep the original stamp and go on for
            almost a day). An older one, one stamped more than ``clock_skew`` seconds
            (default 300) in the future, or one without a timestamp is a replay: answered
            400, which Sinch does not retry. ``None`` turns the check off. The
            de-duplication memory must cover ``max_age + clock_skew`` (the in-memory one
            does; a deduplicator with a shorter ``retention`` is refused), so a replay
            inside the window is a duplicate.
        clock_skew: how far in the future a ``timestamp`` may be, in seconds.
        tracing: each delivery as an OpenTelemetry SERVER span (with the event's type and
            id and the reply) once a tracer provider is configured and the ``otel`` extra
            is installed (default ``True``); ``False``: none.

    Raises:
        InvalidInputError: an argument is out of range, or ``secret`` is an empty string.

    Examples:
        ```python
        queue: asyncio.Queue[NumbersEvent] = asyncio.Queue(maxsize=1000)
        events_handler(queue, secret=secret).setup(app, "/sinch/events")
        ```
    """
    return EventsHandler(
        Receiver(
            on_event,
            secret=secret,
            max_body_size=max_body_size,
            deduplicate=deduplicate,
            shutdown_timeout=shutdown_timeout,
            acknowledge=acknowledge,
            max_age=max_age,
            clock_skew=clock_skew,
            tracing=tracing,
        )
    )


class EventsHandler:
    """An aiohttp.web request handler for Sinch number events.

    Build it with [`events_handler`][numbers_async.webhooks.aiohttp.events_handler], then
    call [`setup`][numbers_async.webhooks.aiohttp.EventsHandler.setup]; or route to
    [`handle`][numbers_async.webhooks.aiohttp.EventsHandler.handle] yourself and register
    [`on_cleanup`][numbers_async.webhooks.aiohttp.EventsHandler.on_cleanup] in
    ``app.on_cleanup``.
    """

    def __init__(self, receiver: Receiver) -> None:
        """Wrap the shared receiver; use ``events_handler`` rather than this."""
        self._receiver = receiver

    def setup(self, app: web.Application, path: str) -> web.AbstractRoute:
        """Route ``POST path`` to ``handle`` and register ``on_cleanup`` on ``app``.

        Call it before the application starts (aiohttp freezes routes and signals then).
        Returns the route, like ``app.router.add_post``.
        """
        app.on_cleanup.append(self.on_cleanup)
        return app.router.add_post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one delivery; the event reaches the application only if it verifies."""
        reply = await self._receiver.handle(
            content_length=request.headers.get(hdrs.CONTENT_LENGTH),
            signature=request.headers.get(SIGNATURE_HEADER),
            chunks=request.content.iter_any(),
            content_encoding=request.headers.get(hdrs.CONTENT_ENCODING),
        )
        return web.Response(status=reply.status, text=reply.text)

    async def on_cleanup(self, app: web.Application) -> None:
        """An ``app.on_cleanup`` hook: refuse new events, finish or cancel running callbacks."""
        await self._receiver.aclose()
