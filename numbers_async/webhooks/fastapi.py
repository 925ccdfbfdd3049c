"""Receive Sinch number events in a FastAPI application (needs ``numbers-async[fastapi]``).

The router carries a lifespan that, at shutdown, waits for (then cancels) running callbacks;
FastAPI runs it when the router is added with ``include_router``. Answers are the same as
[`numbers_async.webhooks.aiohttp`][numbers_async.webhooks.aiohttp]'s: 200, 400, 401, 413,
415, 500 or 503.

Examples:
    ```python
    from fastapi import FastAPI
    from numbers_async.webhooks import NumbersEvent
    from numbers_async.webhooks.fastapi import events_router


    async def on_event(event: NumbersEvent) -> None:
        ...  # runs in the background, after Sinch has its 200


    app = FastAPI()
    secret = os.environ["SINCH_CALLBACK_SECRET"]
    app.include_router(events_router(on_event, secret=secret))
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

try:
    from fastapi import APIRouter, Request, Response
except ImportError as exc:  # pragma: no cover - covered by a test that hides FastAPI
    raise ImportError(
        "numbers_async.webhooks.fastapi needs FastAPI; install it with "
        "`pip install 'numbers-async[fastapi]'`",
        name=exc.name,
    ) from exc

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

__all__ = ["events_router"]


def events_router(
    on_event: EventSink,
    *,
    secret: SecretSource,
    path: str = "/sinch/events",
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    deduplicate: int | EventDeduplicator | None = DEFAULT_DEDUPLICATE,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    acknowledge: Acknowledge = DEFAULT_ACKNOWLEDGE,
    max_age: float | None = DEFAULT_MAX_AGE,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    tracing: bool = True,
) -> APIRouter:
    """Build an ``APIRouter`` with one ``POST path`` that receives Sinch number events.

    Add it with ``app.include_router(router)``: that also installs its lifespan, which
    finishes (or cancels) background callbacks when the application shuts down.

    Args:
        on_event: an ``async def on_event(event)``, run as a background task per event
            (its exceptions are logged on ``numbers_async.webhooks``, never raised); or an
            ``asyncio.Queue`` the event is put on without waiting (a full queue answers 503).
        secret: the project's callback HMAC secret, or a function (sync or async) returning
            it, called once per request so that a rotated secret takes effect at once (if it
            raises, the delivery is answered 500 and Sinch retries it).
        path: where Sinch POSTs events (the number's ``callback_url`` path).
        max_body_size: bodies larger than this many bytes (default 64 KiB) are answered 413
            without being read in full.
        deduplicate: remember this many recent event ids in this process (default 10,000)
            and answer a repeated delivery 200 without handing it over again (Sinch retries
            can repeat an event); or an ``EventDeduplicator`` such as
            ``numbers_async.redis.RedisEventDeduplicator``, shared by every replica behind a
            load balancer; ``None`` or ``0`` hands every delivery over. An event whose
            ``on_event`` raised is forgotten, so its next delivery is handed over again.
        shutdown_timeout: seconds the lifespan waits for running callbacks at shutdown
            before cancelling them (default 5).
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
        router = events_router(queue, secret=secret, path="/hooks/sinch")
        app.include_router(router)
        ```
    """
    receiver = Receiver(
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

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await receiver.aclose()

    async def receive_numbers_event(request: Request) -> Response:
        # Read the stream ourselves (no body parameter) so the limit applies while reading
        # and the signature is checked over the exact bytes; aclosing() ends the stream's
        # generator when we stop early on an oversized body.
        async with aclosing(request.stream()) as chunks:
            reply = await receiver.handle(
                content_length=request.headers.get("content-length"),
                signature=request.headers.get(SIGNATURE_HEADER),
                chunks=chunks,
                content_encoding=request.headers.get("content-encoding"),
            )
        return Response(reply.text, status_code=reply.status, media_type="text/plain")

    router = APIRouter(lifespan=lifespan)
    router.add_api_route(
        path,
        receive_numbers_event,
        methods=["POST"],
        response_class=Response,
        summary="Receive a Sinch number event",
    )
    return router
