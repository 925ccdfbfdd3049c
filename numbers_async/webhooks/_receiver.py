"""What the aiohttp and FastAPI receivers share, so that neither repeats it.

Size limit, verification, parsing, de-duplication and hand-off to the application live here;
each framework module only adapts its request and response.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, Literal

import attrs

from numbers_async._observe import load_otel
from numbers_async.errors import InvalidEventError, InvalidInputError, InvalidSignatureError
from numbers_async.webhooks import (
    DEFAULT_CLOCK_SKEW,
    DEFAULT_MAX_AGE,
    NumbersEvent,
    _check_freshness_settings,
    parse_event,
)
from numbers_async.webhooks._dedupe import EventDeduplicator, RecentEventIds

__all__ = [
    "DEFAULT_ACKNOWLEDGE",
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_DEDUPLICATE",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "Acknowledge",
    "EventSink",
    "Receiver",
    "Reply",
    "SecretSource",
    "logger",
]

logger = logging.getLogger("numbers_async.webhooks")

EventSink = Callable[[NumbersEvent], Awaitable[None]] | asyncio.Queue[NumbersEvent]
"""An async callback run in the background per event, or a queue the event is put on."""

SecretSource = str | Callable[[], Awaitable[str] | str]
"""The HMAC secret, or a (possibly async) function returning it on each request (rotation)."""

# Defaults shared by both integrations. An event is a few hundred bytes, so 64 KiB is ample;
# 10,000 ids cost about a megabyte and cover hours of Sinch retries for a busy project.
DEFAULT_MAX_BODY_SIZE = 64 * 1024
DEFAULT_DEDUPLICATE = 10_000
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
# At most one WARNING per minute for rejected deliveries (anyone can send them: a flood of
# forged requests must not flood the log); the others go to DEBUG and are counted.
REJECTION_WARNING_INTERVAL = 60.0

Acknowledge = Literal["received", "handled"]
"""When Sinch gets its answer: once the event is accepted, or once ``on_event`` returned."""
DEFAULT_ACKNOWLEDGE: Acknowledge = "received"

# The fields without which an event cannot be acted on (which event, about what, what
# happened, did it work): a signed body missing one is answered 400, never handed over.
REQUIRED_FIELDS = {
    "event_id": "eventId",
    "project_id": "projectId",
    "resource_id": "resourceId",
    "event_type": "eventType",
    "status": "status",
}


@attrs.frozen
class Reply:
    """The status and plain-text body to answer a delivery with."""

    status: int
    text: str


_ACCEPTED = Reply(200, "accepted")
_DUPLICATE = Reply(200, "duplicate event, already accepted")
_TOO_LARGE = Reply(413, "request body too large")
_ENCODED = Reply(415, "Content-Encoding is not supported: send the body as it was signed")
_CLOSED = Reply(503, "shutting down, retry later")
_QUEUE_FULL = Reply(503, "event queue full, retry later")
_HANDLER_FAILED = Reply(500, "event handler failed, retry later")


class Receiver:
    """Answers deliveries and hands accepted events over; owns the callback tasks."""

    def __init__(
        self,
        on_event: EventSink,
        *,
        secret: SecretSource,
        max_body_size: int,
        deduplicate: int | EventDeduplicator | None,
        shutdown_timeout: float,
        acknowledge: Acknowledge = DEFAULT_ACKNOWLEDGE,
        max_age: float | None = DEFAULT_MAX_AGE,
        clock_skew: float = DEFAULT_CLOCK_SKEW,
        clock: Callable[[], float] = time.monotonic,
        tracing: bool = True,
    ) -> None:
        _check_freshness_settings(max_age, clock_skew)
        if not isinstance(tracing, bool):
            raise InvalidInputError("tracing", "must be True or False", tracing)
        # How long an accepted id must be remembered for a replay to be caught until the
        # event is old enough to be refused anyway (it may have arrived clock_skew early).
        window = None if max_age is None else max_age + clock_skew
        if isinstance(secret, str):
            if not secret:
                raise InvalidInputError("secret", "must be a non-empty string (the HMAC secret)")
        elif not callable(secret):
            raise InvalidInputError("secret", "must be a string or a function returning one")
        if not isinstance(on_event, asyncio.Queue) and not callable(on_event):
            raise InvalidInputError("on_event", "must be an async function or an asyncio.Queue")
        if max_body_size < 1:
            raise InvalidInputError("max_body_size", "must be a positive number of bytes")
        seen: EventDeduplicator | None
        dedupe: object = deduplicate  # checked at run time too: callers without a type checker
        if deduplicate is None or isinstance(deduplicate, EventDeduplicator):
            seen = deduplicate
        elif isinstance(dedupe, bool) or not isinstance(dedupe, int) or dedupe < 0:
            raise InvalidInputError(
                "deduplicate", "must be None, 0 (off), a positive count or an EventDeduplicator"
            )
        else:
            seen = RecentEventIds(dedupe, retention=window) if dedupe else None
        _check_retention(seen, window)
        if acknowledge not in ("received", "handled"):
            raise InvalidInputError("acknowledge", "must be 'received' or 'handled'", acknowledge)
        if acknowledge == "handled" and isinstance(on_event, asyncio.Queue):
            raise InvalidInputError(
                "acknowledge",
                "'handled' needs an async on_event function: a queue cannot report failures",
            )
        if shutdown_timeout < 0:
            raise InvalidInputError("shutdown_timeout", "must be zero or more seconds")
        self._on_event = on_event
        self._secret = secret
        self._max_body_size = max_body_size
        self._seen = seen
        self._acknowledge = acknowledge
        self._shutdown_timeout = shutdown_timeout
        self._max_age = max_age
        self._clock_skew = clock_skew
        self._rejections = Rejections(clock)
        self._tasks: set[asyncio.Task[bool]] = set()
        self._closed = False
        self._otel = load_otel(tracing)  # a SERVER span per delivery, once configured

    @property
    def rejected(self) -> int:
        """How many deliveries were refused (4xx) since the receiver was built."""
        return self._rejections.count

    async def handle(
        self,
        *,
        content_length: str | None,
        signature: str | None,
        chunks: AsyncIterable[bytes],
        content_encoding: str | None = None,
    ) -> Reply:
        """Check encoding and size, verify, parse, check age, de-duplicate and hand over.

        With OpenTelemetry configured, the delivery is a SERVER span (current while
        ``on_event`` is started, so the application's own spans are its children), with
        the event's type and id and the reply.
        """
        otel = self._otel
        if otel is None or not otel.on():
            return await self._handle(content_length, signature, chunks, content_encoding, {})
        span = otel.start_webhook()
        if span is None:  # only metrics are configured: a delivery records none
            return await self._handle(content_length, signature, chunks, content_encoding, {})
        about: dict[str, Any] = {}
        token = otel.attach(span)
        try:
            reply = await self._handle(content_length, signature, chunks, content_encoding, about)
        except BaseException:
            otel.detach(token)
            otel.end_webhook(span, 500, "the receiver failed", about)
            raise
        otel.detach(token)
        otel.end_webhook(span, reply.status, reply.text, about)
        return reply

    async def _handle(
        self,
        content_length: str | None,
        signature: str | None,
        chunks: AsyncIterable[bytes],
        content_encoding: str | None,
        about: dict[str, Any],
    ) -> Reply:
        reject = self._rejections.reject
        if content_encoding and content_encoding.strip().lower() != "identity":
            # Sinch signs and sends the plain body; a compressed one would have to be
            # inflated before its signature could be checked, by anyone who asks.
            return reject(
                _ENCODED, f"rejected an event: Content-Encoding {content_encoding[:40]!r}"
            )
        if _declares_more_than(content_length, self._max_body_size):
            return reject(
                _TOO_LARGE, f"rejected an event: Content-Length {content_length} is too large"
            )
        body = await _read_at_most(chunks, self._max_body_size)
        if body is None:
            return reject(
                _TOO_LARGE, f"rejected an event: body exceeds {self._max_body_size} bytes"
            )
        secret = await self._resolve_secret()
        try:
            event = parse_event(
                body,
                signature=signature,
                secret=secret,
                max_age=self._max_age,
                clock_skew=self._clock_skew,
            )
        except InvalidSignatureError as exc:
            return reject(Reply(401, str(exc)), f"rejected an event: {exc}")
        except InvalidEventError as exc:  # StaleEventError included: 400 is not retried
            return reject(Reply(400, str(exc)), f"rejected a signed event: {exc}")
        event_id = event.event_id
        about.update(type=event.event_type, id=event_id, project_id=event.project_id)
        missing = [wire for name, wire in REQUIRED_FIELDS.items() if getattr(event, name) is None]
        if event_id is None or missing:
            return reject(
                Reply(400, f"event lacks required field(s): {', '.join(missing)}"),
                f"rejected a signed event without {', '.join(missing)}",
            )
        return await self._hand_over(event, event_id)

    @property
    def closed(self) -> bool:
        """Whether new events are refused (``aclose`` was called)."""
        return self._closed

    async def aclose(self) -> None:
        """Refuse new events, let callbacks finish for ``shutdown_timeout``, cancel the rest."""
        self._closed = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._shutdown_timeout)
        if pending:
            logger.warning(
                "cancelling %d event callback(s) still running after %g s",
                len(pending),
                self._shutdown_timeout,
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _resolve_secret(self) -> str:
        if isinstance(self._secret, str):
            return self._secret
        secret = self._secret()
        return secret if isinstance(secret, str) else await secret

    async def _hand_over(self, event: NumbersEvent, event_id: str) -> Reply:
        if self._closed:
            return _CLOSED
        seen = self._seen
        if seen is not None and not await seen.claim(event_id):
            logger.info("event %s was already accepted; not handed over again", event_id)
            return _DUPLICATE
        if self.closed:  # closed while the claim was on its way
            await self._forget(event_id)
            return _CLOSED
        if isinstance(self._on_event, asyncio.Queue):
            try:
                self._on_event.put_nowait(event)
            except asyncio.QueueFull:
                # 503 makes Sinch retry later; the id is forgotten, so the retry counts.
                logger.warning("event queue is full; event %s answered 503", event_id)
                await self._forget(event_id)
                return _QUEUE_FULL
            logger.debug("accepted event %s", event_id)
            return _ACCEPTED
        task = asyncio.create_task(
            self._run(self._on_event, event, event_id), name=f"numbers_async.webhooks:{event_id}"
        )
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)
        if self._acknowledge == "received":
            logger.debug("accepted event %s", event_id)
            return _ACCEPTED
        # Shielded: a delivery given up by the sender must not cancel the handler halfway.
        if await asyncio.shield(task):
            return _ACCEPTED
        return _HANDLER_FAILED

    async def _forget(self, event_id: str) -> None:
        if self._seen is not None:
            await self._seen.forget(event_id)

    async def _run(
        self,
        callback: Callable[[NumbersEvent], Awaitable[None]],
        event: NumbersEvent,
        event_id: str,
    ) -> bool:
        """Run the application's callback; False (the id forgotten) if it raised."""
        try:
            await callback(event)
        except asyncio.CancelledError:
            # Cut short at shutdown: not handled, so a redelivery must reach the handler.
            await self._forget(event_id)
            raise
        except Exception:
            # Logged, not re-raised into a task nobody awaits. Forgetting the id keeps the
            # delivery at-least-once: the next delivery of this event is handed over again.
            logger.exception("on_event failed for event %s", event_id)
            await self._forget(event_id)
            return False
        return True


class Rejections:
    """Counts refused deliveries and logs them without flooding.

    The first refusal is a WARNING; later ones within ``interval`` seconds go to DEBUG,
    and the next WARNING says how many there were. Anyone can send a refused delivery,
    so without this a stream of forged requests would become a stream of warnings.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        interval: float = REJECTION_WARNING_INTERVAL,
    ) -> None:
        self._clock = clock
        self._interval = interval
        self._quiet_until = -math.inf
        self._quieted = 0
        self.count = 0

    def reject(self, reply: Reply, message: str) -> Reply:
        """Count and log one refusal; returns ``reply``."""
        self.count += 1
        now = self._clock()
        if now < self._quiet_until:
            self._quieted += 1
            logger.debug("%s", message)
            return reply
        if self._quieted:
            message += f" (and {self._quieted} more since the last warning, logged at DEBUG)"
        logger.warning("%s", message)
        self._quieted = 0
        self._quiet_until = now + self._interval
        return reply


def _check_retention(seen: EventDeduplicator | None, window: float | None) -> None:
    """Refuse a deduplicator that forgets ids while their events are still accepted."""
    retention = getattr(seen, "retention", None)
    if window is None or isinstance(retention, bool) or not isinstance(retention, int | float):
        return
    if retention < window:
        raise InvalidInputError(
            "deduplicate",
            f"remembers an event id for {retention:g} s, less than max_age + clock_skew "
            f"({window:g} s): a replay inside that window would be handed over again; "
            "remember ids longer or lower max_age",
        )


def _declares_more_than(content_length: str | None, limit: int) -> bool:
    if content_length is None:
        return False
    try:
        return int(content_length) > limit
    except ValueError:
        # HTTP servers reject a malformed Content-Length before the handler runs; should one
        # get through, the streaming check below still bounds what is read.
        return False


async def _read_at_most(chunks: AsyncIterable[bytes], limit: int) -> bytes | None:
    """The whole body, or ``None`` as soon as it exceeds ``limit`` (the rest is not read)."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
