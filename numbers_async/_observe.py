"""Watching calls: event hooks, logs and OpenTelemetry, told by the pipeline in one place.

The settle layer (and a token fetch) tells an ``Observer`` where a logical operation
starts and ends; the attempt layer where each HTTP exchange starts; the layer that decides
what follows an exchange ends it — the retry layer, or the auth flow for a ``401`` it
replays — so the ``response`` hook knows whether another attempt will follow. One call's
part is a ``Watch``, carried on its ``Call``; a call with nothing to tell carries none,
and the layers then only read that it is ``None``.

Something watches when the client has event hooks, DEBUG logging is on for
``numbers_async.http``, or OpenTelemetry has a provider configured (``_otel``, imported
only when the ``otel`` extra is installed and the client has ``tracing`` on).

The logger tree is ``numbers_async``: ``numbers_async.http`` logs every exchange at DEBUG
(with its request id), the others log retries and waits at INFO and fallbacks and
ambiguous outcomes at WARNING (``_logs`` sends them to stderr on ``NUMBERS_ASYNC_LOG``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias
from urllib.parse import urlsplit

import attrs

from numbers_async._headers import Headers, request_id
from numbers_async._retry import reason_for
from numbers_async.errors import InvalidInputError

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from numbers_async._otel import Attributes, Otel

__all__ = [
    "AttemptEvent",
    "EventHook",
    "EventHooks",
    "JobTrace",
    "Observer",
    "Watch",
    "load_otel",
    "outcome_of",
]

http_logger = logging.getLogger("numbers_async.http")

#: Request headers whose values a hook never sees (the scheme of ``Authorization`` stays).
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})


# --- event hooks ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AttemptEvent:
    """What an event hook is told about one HTTP request of a call.

    ``NumbersClient(event_hooks={"request": [...], "response": [...]})`` calls each
    ``request`` hook just before a request is sent, and each ``response`` hook once it
    was answered or failed, with one of these. Every HTTP request counts, token requests
    and the check that settles a call included.

    Attributes:
        kind: ``"request"`` or ``"response"``.
        operation: the call, e.g. ``"available_numbers.rent"``; ``"oauth2.token"`` for
            a token request.
        attempt: the call's attempt, from 1 (a replay after a ``401`` repeats it).
        token_fetch: whether this is a request for an access token.
        settles: for the check that settles a call (``active_numbers.get`` after a rent
            whose outcome was unknown), the operation it settles; else ``None``.
        method: the HTTP method, e.g. ``"POST"``.
        url: the full URL, query included (the client's origins carry no user info).
        headers: the request headers, ``traceparent`` included when tracing; the
            credential in ``Authorization`` shows as ``Bearer ***`` or ``Basic ***``.
        status: the HTTP status (``None`` in a ``request`` event, or when no answer came).
        response_headers: the answer's headers, lookups ignoring case (``None`` without
            an answer; ``Set-Cookie`` left out).
        request_id: the id the server gave the answer (``x-request-id``), if any.
        elapsed: seconds from sending to the last byte of the answer, or to the failure
            (``None`` in a ``request`` event).
        error: what failed this request, if it failed: the ``ApiError`` its status
            stands for, a ``TransportError``, a ``DecodeError`` of a 2xx body.
        will_retry: whether another request of the call follows (a retry after a delay,
            or the replay after a ``401``).
    """

    kind: Literal["request", "response"]
    operation: str
    attempt: int
    token_fetch: bool
    settles: str | None
    method: str
    url: str
    headers: Mapping[str, str]
    status: int | None = None
    response_headers: Mapping[str, str] | None = None
    request_id: str | None = None
    elapsed: float | None = None
    error: BaseException | None = None
    will_retry: bool = False


#: An event hook: a function, or an async function, of an ``AttemptEvent``.
EventHook: TypeAlias = Callable[[AttemptEvent], Awaitable[None] | None]
#: ``event_hooks``: the hooks called before each request and after each answer.
EventHooks: TypeAlias = Mapping[str, Sequence[EventHook]]


def _hooks(value: object) -> tuple[tuple[EventHook, ...], tuple[EventHook, ...]]:
    """The ``request`` and ``response`` hooks of ``event_hooks``, checked."""
    if value is None:
        return (), ()
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            "event_hooks", 'must be a mapping like {"request": [...], "response": [...]}', value
        )
    found: dict[str, tuple[EventHook, ...]] = {"request": (), "response": ()}
    for kind, hooks in value.items():
        if kind not in found:
            raise InvalidInputError("event_hooks", "keys must be 'request' or 'response'", kind)
        if isinstance(hooks, str) or not isinstance(hooks, Sequence):
            raise InvalidInputError(f"event_hooks[{kind!r}]", "must be a list of functions", hooks)
        for hook in hooks:
            if not callable(hook):
                raise InvalidInputError(f"event_hooks[{kind!r}]", "must hold functions", hook)
        found[kind] = tuple(hooks)
    return found["request"], found["response"]


async def _call_hooks(hooks: tuple[EventHook, ...], event: AttemptEvent) -> None:
    for hook in hooks:
        result = hook(event)
        if inspect.isawaitable(result):
            await result


def _shown(headers: Mapping[str, str]) -> Headers:
    """Request headers as a hook sees them: credentials replaced by ``***``."""
    return Headers(
        (name, f"{value.partition(' ')[0]} ***" if name.lower() in _SECRET_HEADERS else value)
        for name, value in headers.items()
    )


def _answer_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """An answer's headers as a hook sees them: read-only, any case, no ``Set-Cookie``."""
    if "set-cookie" not in headers:  # the usual case: aiohttp's and ``Headers`` are read-only
        return headers
    return Headers((k, v) for k, v in headers.items() if k.lower() != "set-cookie")


# --- OpenTelemetry, when installed -----------------------------------------------------------


def load_otel(
    enabled: bool,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    phone_numbers: bool = False,
) -> Otel | None:
    """The ``Otel`` of a client, or ``None``: tracing off, or the ``otel`` extra missing.

    Raises ``InvalidInputError`` for a provider given without the extra installed.
    """
    if not enabled:
        return None
    try:
        from numbers_async._otel import Otel
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        for argument, given in (
            ("tracer_provider", tracer_provider),
            ("meter_provider", meter_provider),
        ):
            if given is not None:
                raise InvalidInputError(
                    argument, "needs OpenTelemetry: pip install 'numbers-async[otel]'"
                ) from None
        return None
    return Otel(
        tracer_provider=tracer_provider, meter_provider=meter_provider, phone_numbers=phone_numbers
    )


# --- the observer and one call's watch -------------------------------------------------------


class Observer:
    """What watches one client's calls: its event hooks, its logs and OpenTelemetry."""

    def __init__(
        self,
        *,
        project_id: str,
        event_hooks: object = None,
        otel: Otel | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request_hooks, self.response_hooks = _hooks(event_hooks)
        self._hooked = bool(self.request_hooks or self.response_hooks)
        self.otel = otel
        self.project_id = project_id
        self.clock = clock

    def watching(self) -> bool:
        """Whether a call started now has anything to tell (cheap: read per call).

        While OpenTelemetry has no provider, its providers are looked at once a second
        (``Otel.on``): a clock read per call, no call into OpenTelemetry.
        """
        if self._hooked:
            return True
        otel = self.otel
        if otel is not None and (
            otel.active or (time.monotonic() >= otel.next_check and otel.on())
        ):
            return True
        return http_logger.isEnabledFor(logging.DEBUG)

    def watch(
        self,
        operation: str,
        phone_number: str | None = None,
        *,
        token_fetch: bool = False,
        settles: str | None = None,
        route: str | None = None,
        method: str = "",
    ) -> Watch:
        """The watch of a call that starts now (``settles``: the operation it settles).

        Its span is a child of the current span: a settling check's, of the call it
        settles (``Watch.attach`` made that one current). ``route`` and ``method``: the
        path below the project and the method of a ``client.request``, for its span.
        """
        return Watch(self, operation, phone_number, token_fetch, settles, route, method)

    def job(self, name: str, total: int | None) -> JobTrace | None:
        """The trace of a bulk job starting now, if spans are recorded."""
        otel = self.otel
        if otel is None or not otel.on():
            return None
        span = otel.start_job(name, total)
        return None if span is None else JobTrace(otel, span, name)


class Watch:
    """One call's part: its operation's span, and its HTTP exchanges one at a time."""

    def __init__(
        self,
        observer: Observer,
        operation: str,
        phone_number: str | None,
        token_fetch: bool,
        settles: str | None,
        route: str | None = None,
        method: str = "",
    ) -> None:
        self.observer = observer
        self.operation = operation
        self.phone_number = phone_number
        self.token_fetch = token_fetch
        self.settles = settles
        otel = observer.otel
        self.otel = otel if otel is not None and otel.active else None
        self.span: Span | None = None
        self._traced = not _untraced.get()  # a bulk item outside the sample: metrics only
        if self.otel is not None and self._traced:
            self.span = self.otel.start_operation(
                operation,
                project_id=observer.project_id,
                phone_number=phone_number,
                settles=settles,
                route=route,
                method=method,
            )
        self.started = observer.clock()
        self.exchanges = 0  # HTTP requests so far (a 401 replay is one more)
        self.open = False  # an exchange started and not yet ended
        self._attempt = 0
        self._method = ""
        self._url = ""
        self._headers: Mapping[str, str] = {}
        self._shown: Headers | None = None  # the headers as hooks see them, made once
        self._sent_at = 0.0
        self._exchange_span: Span | None = None
        self._shared: Attributes = {}

    # --- the operation -----------------------------------------------------------------

    def attach(self) -> object | None:
        """Make the operation's span current in this task (its token fetch is then a child)."""
        return None if self.span is None or self.otel is None else self.otel.attach(self.span)

    def detach(self, token: object | None) -> None:
        """Undo ``attach``."""
        if token is not None and self.otel is not None:
            self.otel.detach(token)

    def ended(self, outcome: str, attempts: int, error: BaseException | None) -> None:
        """The operation ended: ``succeeded``, ``reconciled``, ``ambiguous``, ``failed``."""
        if self.otel is not None:
            duration = self.observer.clock() - self.started
            reason = None if error is None else reason_for(error)
            self.otel.end_operation(
                self.span,
                self.operation,
                outcome=outcome,
                attempts=attempts,
                error=error,
                reason=reason,
                duration=duration,
            )

    def retrying(self, attempt: int, delay: float, error: BaseException) -> None:
        """Attempt ``attempt`` failed with ``error``; the next follows in ``delay`` s."""
        otel = self.otel
        if otel is not None:
            otel.retried(self.operation, error)
            otel.event(
                self.span,
                "retry",
                {"numbers_async.attempt": attempt, "numbers_async.delay": delay,
                 "numbers_async.reason": reason_for(error)},
            )  # fmt: skip

    def waited(self, what: str, seconds: float) -> None:
        """The call waited ``seconds``: ``what`` is ``"rate_limit"`` or ``"outage"``."""
        otel = self.otel
        if otel is not None:
            if what == "rate_limit":
                otel.waited(self.operation)
            otel.event(self.span, f"{what}.wait", {"numbers_async.waited": seconds})
        http_logger.debug("%s: waited %.3fs (%s)", self.operation, seconds, what)

    # --- one exchange ------------------------------------------------------------------

    async def exchange_started(
        self, attempt: int, method: str, url: str, headers: Mapping[str, str]
    ) -> Mapping[str, str]:
        """An exchange is about to be sent: ``headers`` as they go (``traceparent`` added).

        Raises what a ``request`` hook raises; the exchange is then still open, and ends
        with that error.
        """
        self.exchanges += 1
        self.open = True
        self._attempt, self._method, self._url = attempt, method, url
        otel = self.otel
        if otel is not None:
            self._shared = otel.exchange_attributes(method, url, self.operation)
            span = otel.start_exchange(
                self.span,
                self._shared,
                url=url,
                phone_number=self.phone_number,
                resend_count=self.exchanges - 1,
                traced=self._traced,
            )
            self._exchange_span = span
            if span is not None:
                headers = otel.inject(span, headers)
        self._headers = headers
        self._shown = None
        self._sent_at = self.observer.clock()
        hooks = self.observer.request_hooks
        if hooks:
            await _call_hooks(hooks, self._event("request"))
            self._sent_at = self.observer.clock()  # the exchange starts after the hooks
        return headers

    async def exchange_answered(
        self,
        status: int,
        headers: Mapping[str, str],
        elapsed: float,
        error: BaseException | None,
        will_retry: bool,
    ) -> None:
        """The exchange was answered: ``status`` and ``headers``, in ``elapsed`` seconds.

        ``error`` is what the answer stands for, if it failed the attempt (an
        ``ApiError``, a ``DecodeError`` of a 2xx). Raises what a ``response`` hook raises.
        """
        self.open = False
        rid = request_id(headers)
        if self.otel is not None:
            span, self._exchange_span = self._exchange_span, None
            self.otel.end_exchange(span, self._shared, status=status, error=error, duration=elapsed)
        if http_logger.isEnabledFor(logging.DEBUG):
            answer = str(status) if error is None else f"{status} ({type(error).__name__})"
            self._log(answer, rid, elapsed, will_retry)
        hooks = self.observer.response_hooks
        if hooks:
            event = self._event(
                "response",
                status=status,
                response_headers=_answer_headers(headers),
                request_id=rid,
                elapsed=elapsed,
                error=error,
                will_retry=will_retry,
            )
            await _call_hooks(hooks, event)

    async def exchange_failed(self, error: BaseException, will_retry: bool) -> None:
        """The exchange got no answer (``error``: a ``TransportError``...).

        Raises what a ``response`` hook raises.
        """
        elapsed = self._end_unanswered(error, will_retry)
        hooks = self.observer.response_hooks
        if hooks:
            event = self._event("response", elapsed=elapsed, error=error, will_retry=will_retry)
            await _call_hooks(hooks, event)

    def abandon(self, error: BaseException) -> None:
        """End the exchange of a call that stopped midway (cancelled, a hook raised...).

        Its span and log line record ``error``; no ``response`` hook runs: the call did
        not wait for an answer.
        """
        self._end_unanswered(error, False)

    def _end_unanswered(self, error: BaseException, will_retry: bool) -> float:
        self.open = False
        elapsed = self.observer.clock() - self._sent_at
        if self.otel is not None:
            span, self._exchange_span = self._exchange_span, None
            self.otel.end_exchange(span, self._shared, status=None, error=error, duration=elapsed)
        if http_logger.isEnabledFor(logging.DEBUG):
            self._log(reason_for(error), None, elapsed, will_retry)
        return elapsed

    def _event(self, kind: Literal["request", "response"], **answer: Any) -> AttemptEvent:
        if self._shown is None:
            self._shown = _shown(self._headers)
        return AttemptEvent(
            kind=kind,
            operation=self.operation,
            attempt=self._attempt,
            token_fetch=self.token_fetch,
            settles=self.settles,
            method=self._method,
            url=self._url,  # no user info: the client's origins may not have any
            headers=self._shown,
            **answer,
        )

    def _log(self, answer: str, rid: str | None, elapsed: float, will_retry: bool) -> None:
        http_logger.debug(
            "%s attempt %d: %s %s -> %s in %.1f ms%s%s",
            self.operation,
            self._attempt,
            self._method,
            urlsplit(self._url).path,
            answer,
            elapsed * 1000,
            f" (request id {rid})" if rid else "",
            "; retrying" if will_retry else "",
        )


# --- bulk jobs ---------------------------------------------------------------------------------


#: Set in the task of a bulk item that is not traced: its calls record no span (their
#: metrics still count), so a big job's trace stays the size ``_otel.ITEM_SPANS`` allows.
_untraced: ContextVar[bool] = ContextVar("numbers_async_untraced", default=False)


class JobTrace:
    """The span of one bulk job, and the spans of its items (``_otel.ITEM_SPANS``)."""

    def __init__(self, otel: Otel, span: Span, name: str) -> None:
        self._otel = otel
        self._span = span
        self._name = name

    def item(self, seq: int, item: str) -> ItemTrace:
        """The trace of item ``seq``, in the item's own task (its span is current there)."""
        return ItemTrace(self._otel, self._otel.start_item(self._span, self._name, seq, item))

    def end(self, counts: Mapping[str, int], error: BaseException | None) -> None:
        """End the job's span with its counts (``succeeded``, ``failed``, ...)."""
        attributes: Attributes = {f"numbers_async.bulk.{k}": v for k, v in counts.items()}
        self._otel.end_span(self._span, attributes, error)


class ItemTrace:
    """One bulk item's span, current in its task; without one, the item is not traced."""

    def __init__(self, otel: Otel, span: Span | None) -> None:
        self._otel = otel
        self._span = span
        self._token = None if span is None else otel.attach(span)
        self._quiet = _untraced.set(True) if span is None else None

    def end(self, outcome: str, error: BaseException | None) -> None:
        """End the item's span with its outcome.

        ``succeeded``, ``failed``, ``unknown`` (it may have acted) or ``withdrawn`` (a
        shared journal gave it to another worker).
        """
        if self._quiet is not None:
            _untraced.reset(self._quiet)
        if self._span is None:
            return
        self._otel.detach(self._token)
        self._otel.end_span(self._span, {"numbers_async.outcome": outcome}, error)


def outcome_of(error: BaseException) -> str:
    """The outcome of an operation that raised ``error``: ``"cancelled"`` or ``"failed"``."""
    return "cancelled" if isinstance(error, asyncio.CancelledError) else "failed"
