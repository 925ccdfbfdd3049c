"""Client configuration: ``Timeouts`` and ``ClientOptions``.

``Timeouts`` is frozen, so one object can be shared by many clients; ``ClientOptions``
names the keywords a client is built with, once. ``RetryPolicy`` and ``RetryEvent``
live with the retry decisions in ``_retry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

import attrs

from numbers_async._retry import RetryEvent, RetryPolicy

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from numbers_async._observe import EventHooks
    from numbers_async._rate import RateLimiter
    from numbers_async._transport import ClientSession, Transport

__all__ = [
    "CLIENT_OPTIONS",
    "ClientOptions",
    "RetryEvent",
    "RetryPolicy",
    "Timeouts",
    "unknown_option",
]


def _positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        from numbers_async.errors import InvalidInputError

        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}",
            "must be a positive number of seconds or None",
            value,
        )


@attrs.frozen
class Timeouts:
    """Time limits in seconds (``None``: no limit).

    Attributes:
        connect: establishing a connection, including waiting for a pooled one (per attempt).
        read: the longest silence while reading a response (per attempt).
        total: one attempt, from sending to the last byte of the body.
        deadline: everything one call does — all its attempts and backoff sleeps, and for
            ``active_numbers.list`` all its pages. A retry that could not finish before
            the deadline is not started.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=None, validator=_positive_or_none)
    total: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    deadline: float | None = attrs.field(default=None, validator=_positive_or_none)


class ClientOptions(TypedDict, total=False):
    """The settings ``NumbersClient`` takes as keywords, besides its key and origins.

    Written once, here: ``NumbersClient(...)``, ``NumbersClient.from_env(...)`` and
    ``FakeNumbersServer.client(...)`` take exactly these (``**options``), so a type
    checker flags a misspelt one, and so does Python (``TypeError``). Type your own
    wrappers with it too.

    Attributes:
        auth: ``"oauth2"`` (default: a cached bearer token) or ``"basic"`` (the key pair
            on every request, which Sinch rate-limits heavily).
        max_concurrency: the most requests in flight at once (default 64).
        rate_limit: the most requests per second, client-wide (``None``, the default: no
            limit), or a ``RateLimiter`` (for example one shared by several processes).
            Whatever this is, a 429 pauses the whole client for ``Retry-After`` and then
            ramps up.
        retry: how failed requests are retried, only where it is safe (``None``: the
            default ``RetryPolicy()``).
        timeouts: time limits per attempt, and an optional deadline per call (``None``:
            the default ``Timeouts()``).
        session: an ``aiohttp.ClientSession`` to use; the client never closes it.
        transport: a ``Transport`` to send requests with instead of aiohttp, for example
            ``numbers_async.testing.MockTransport``; the client never closes it. The token
            request goes through it too (``auth="basic"`` needs none).
        max_response_size: the longest response body accepted, in bytes after
            decompression (default 32 MiB; ``None``: no limit). A longer one, from the API
            or the token endpoint, is refused without being read whole, so a compressed
            "bomb" cannot exhaust memory.
        event_hooks: ``{"request": [...], "response": [...]}``: functions (or async
            functions) called with an ``AttemptEvent`` before each HTTP request and after
            its answer or failure, token requests included. A hook that raises ends the
            call with its exception; a call that may already have changed something then
            ends as any other such call (checked, or ``AmbiguousOutcomeError``).
        tracing: ``True`` (default): spans, metrics and ``traceparent`` through
            OpenTelemetry, once a provider is configured and the ``otel`` extra is
            installed; ``False``: none of it.
        trace_phone_numbers: put the phone number of a call on its spans (default
            ``False``: phone numbers are personal data, and span attributes and
            ``url.full`` show them as ``REDACTED``).
        tracer_provider: the OpenTelemetry ``TracerProvider`` to use instead of the
            global one.
        meter_provider: the OpenTelemetry ``MeterProvider`` to use instead of the global
            one.

    Examples:
        ```python
        from typing_extensions import Unpack  # typing.Unpack from Python 3.11

        from numbers_async import ClientOptions, NumbersClient


        def make_client(**options: Unpack[ClientOptions]) -> NumbersClient:
            return NumbersClient.from_env(**options)
        ```
    """

    auth: Literal["oauth2", "basic"]
    max_concurrency: int
    rate_limit: float | RateLimiter | None
    retry: RetryPolicy | None
    timeouts: Timeouts | None
    session: ClientSession | None
    transport: Transport | None
    max_response_size: int | None
    event_hooks: EventHooks | None
    tracing: bool
    trace_phone_numbers: bool
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None


#: The names ``ClientOptions`` has: anything else given as a keyword is a ``TypeError``.
CLIENT_OPTIONS: Final = frozenset(ClientOptions.__annotations__)


def unknown_option(where: str, options: Any) -> TypeError | None:
    """The ``TypeError`` for a keyword of ``options`` that ``ClientOptions`` lacks, if any.

    Python raises it for a misspelt keyword of a plain signature; ``**options`` would
    swallow it silently.
    """
    unknown = sorted(set(options) - CLIENT_OPTIONS)
    if not unknown:
        return None
    return TypeError(f"{where} got an unexpected keyword argument {unknown[0]!r}")
