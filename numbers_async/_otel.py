"""OpenTelemetry: the one module that imports it (the ``otel`` extra: ``opentelemetry-api``).

``_observe`` imports this module only when a client (or a webhook receiver) is built with
tracing on and ``opentelemetry`` can be imported, so without the extra nothing of
OpenTelemetry is ever loaded. What is recorded, and under which names, is in
[Observability](../guides/observability.md#opentelemetry):

- a span per logical operation (``available_numbers.rent``), INTERNAL, with the project,
  the outcome and, only if asked for, the phone number;
- a CLIENT span per HTTP exchange below it, with the stable HTTP client attributes, and
  the W3C ``traceparent`` of that span injected into the request (the global propagator);
- span events for retries, rate-limit waits and outage waits; a span per token fetch and
  per settling check;
- a span per bulk job with its counts, and one per item (see ``ITEM_SPANS``);
- a SERVER span per webhook delivery;
- the metrics of ``Instruments``.

Nothing is recorded until a provider is configured: the global ones are looked at, at
most once a second (``RECHECK``), until one is set — a provider set once stays — so a
client built before the application configured OpenTelemetry picks it up, and a client
with nothing configured pays a clock read per call, not a span.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from numbers_async._version import __version__

__all__ = ["ITEM_SPANS", "RECHECK", "Instruments", "Otel", "error_type"]

#: The instrumentation scope of every span and instrument.
SCOPE: Final = "numbers_async"
#: Seconds between two looks at the global providers while none is configured.
RECHECK: Final = 1.0
#: Bulk items with a span of their own: the first ``ITEM_SPANS`` items of a job, then one
#: in ``ITEM_SPANS`` (item 100, 200, ...): a job of 10,000 items is a trace of about 200
#: items, not 10,000, and every item still counts in the job span and the metrics.
ITEM_SPANS: Final = 100
#: The buckets of ``http.client.request.duration`` (seconds), as the HTTP semantic
#: conventions advise.
DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
)  # fmt: skip
#: ``url.full`` shows a phone number in a path as this, unless phone numbers are traced.
REDACTED: Final = "REDACTED"

Attributes = dict[str, AttributeValue]


def _placeholder(provider: object) -> bool:
    """Whether ``provider`` is opentelemetry-api's own (a proxy or a no-op): nothing set."""
    return type(provider).__module__.startswith(("opentelemetry.trace", "opentelemetry.metrics"))


def error_type(error: BaseException) -> str:
    """``error.type`` of an exception: its fully qualified class name."""
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class Instruments:
    """The metrics one client records, through one meter."""

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(SCOPE, __version__)
        self.duration: Histogram = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.active: UpDownCounter = meter.create_up_down_counter(
            "http.client.active_requests",
            unit="{request}",
            description="HTTP requests in flight.",
        )
        self.operation_duration: Histogram = meter.create_histogram(
            "numbers_async.client.operation.duration",
            unit="s",
            description="Duration of API operations, every attempt and wait included.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.retries: Counter = meter.create_counter(
            "numbers_async.client.retries",
            unit="{retry}",
            description="Attempts retried after a failure.",
        )
        self.rate_limit_waits: Counter = meter.create_counter(
            "numbers_async.client.rate_limit_waits",
            unit="{wait}",
            description="Attempts that waited for the rate limit.",
        )
        self.ambiguous: Counter = meter.create_counter(
            "numbers_async.client.ambiguous_outcomes",
            unit="{call}",
            description="Calls that may have changed state and ended without knowing.",
        )


class Otel:
    """Spans and metrics for one client (or one webhook receiver).

    ``tracer_provider`` and ``meter_provider`` default to the global ones. ``phone_numbers``
    puts the phone number of a call on its spans (off: it is personal data).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        phone_numbers: bool = False,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self.phone_numbers = phone_numbers
        self.tracer: Tracer | None = None
        self.instruments: Instruments | None = None
        self.active = False  # a tracer or instruments: something to record
        self._complete = False  # both: no need to look at the providers again
        self.next_check = 0.0  # when to look at the global providers again
        self._servers: dict[str, tuple[str, int]] = {}
        self.on()

    def on(self) -> bool:
        """Whether anything is recorded now (a cheap check; see the module docstring)."""
        if not self._complete:
            now = time.monotonic()
            if now >= self.next_check:
                self.next_check = now + RECHECK
                self._look()
        return self.active

    def _look(self) -> None:
        if self.tracer is None:
            tracer_provider = self._tracer_provider or trace.get_tracer_provider()
            if not _placeholder(tracer_provider):
                self.tracer = tracer_provider.get_tracer(SCOPE, __version__)
        if self.instruments is None:
            meter_provider = self._meter_provider or metrics.get_meter_provider()
            if not _placeholder(meter_provider):
                self.instruments = Instruments(meter_provider)
        self.active = self.tracer is not None or self.instruments is not None
        self._complete = self.tracer is not None and self.instruments is not None

    # --- logical operations ----------------------------------------------------------------

    def start_operation(
        self,
        name: str,
        *,
        project_id: str,
        phone_number: str | None,
        settles: str | None,
        route: str | None = None,
        method: str = "",
    ) -> Span | None:
        """The span of one operation (a token fetch and a settling check are ones too).

        Its parent is the current span: the application's, or the call a check settles.
        A ``client.request`` (``route``: its path below the project) also carries its
        method and that path, a phone number in it shown as ``url.full`` shows it.
        """
        if self.tracer is None:
            return None
        attributes: Attributes = {
            "numbers_async.operation": name,
            "numbers_async.project_id": project_id,
        }
        if phone_number is not None and self.phone_numbers:
            attributes["numbers_async.phone_number"] = phone_number
        if settles is not None:
            attributes["numbers_async.settles"] = settles
        if route is not None:
            attributes["http.request.method"] = method
            attributes["numbers_async.path"] = self.url_full(route, phone_number)
        return self.tracer.start_span(name, None, SpanKind.INTERNAL, attributes)

    @staticmethod
    def attach(span: Span) -> object:
        """Make ``span`` the current span of this task; ``detach`` undoes it."""
        return context.attach(trace.set_span_in_context(span))

    @staticmethod
    def detach(token: object) -> None:
        """Undo ``attach``."""
        context.detach(token)  # type: ignore[arg-type]  # attach's own token

    def end_operation(
        self,
        span: Span | None,
        name: str,
        *,
        outcome: str,
        attempts: int,
        error: BaseException | None,
        reason: str | None,
        duration: float,
    ) -> None:
        """End an operation's span and record its duration and outcome."""
        instruments = self.instruments
        if instruments is not None:
            attributes: Attributes = {
                "numbers_async.operation": name,
                "numbers_async.outcome": outcome,
            }
            if error is not None:
                attributes["error.type"] = error_type(error)
            instruments.operation_duration.record(duration, attributes)
            if outcome == "ambiguous":
                instruments.ambiguous.add(1, {"numbers_async.operation": name})
        if span is None:
            return
        span.set_attribute("numbers_async.outcome", outcome)
        span.set_attribute("numbers_async.attempts", attempts)
        if error is not None:
            span.set_attribute("error.type", error_type(error))
            span.set_status(Status(StatusCode.ERROR, reason))
        span.end()

    @staticmethod
    def event(span: Span | None, name: str, attributes: Attributes) -> None:
        """A span event (a retry, a wait) on an operation's span."""
        if span is not None:
            span.add_event(name, attributes)

    def retried(self, name: str, error: BaseException) -> None:
        """Count one retry of ``name``."""
        if self.instruments is not None:
            attributes = {"numbers_async.operation": name, "error.type": error_type(error)}
            self.instruments.retries.add(1, attributes)

    def waited(self, name: str) -> None:
        """Count one attempt of ``name`` that waited for the rate limit."""
        if self.instruments is not None:
            self.instruments.rate_limit_waits.add(1, {"numbers_async.operation": name})

    # --- HTTP exchanges --------------------------------------------------------------------

    def _server(self, url: str) -> tuple[str, int]:
        parts = urlsplit(url)
        server = self._servers.get(parts.netloc)
        if server is None:
            default = 443 if parts.scheme == "https" else 80
            server = (parts.hostname or "", parts.port or default)
            if len(self._servers) < 16:
                self._servers[parts.netloc] = server
        return server

    def exchange_attributes(self, method: str, url: str, name: str) -> Attributes:
        """The attributes an exchange's span and metrics share."""
        address, port = self._server(url)
        return {
            "http.request.method": method,
            "server.address": address,
            "server.port": port,
            "numbers_async.operation": name,
        }

    def start_exchange(
        self,
        parent: Span | None,
        shared: Attributes,
        *,
        url: str,
        phone_number: str | None,
        resend_count: int,
        traced: bool = True,
    ) -> Span | None:
        """The CLIENT span of one HTTP exchange (``shared``: ``exchange_attributes``).

        ``traced=False`` records its metrics only (a bulk item outside the sample).
        """
        if self.instruments is not None:
            self.instruments.active.add(1, _server_only(shared))
        if self.tracer is None or not traced:
            return None
        attributes = dict(shared)
        attributes["url.full"] = self.url_full(url, phone_number)
        if resend_count:
            attributes["http.request.resend_count"] = resend_count
        parent_context = None if parent is None else trace.set_span_in_context(parent)
        method = str(shared["http.request.method"])
        return self.tracer.start_span(method, parent_context, SpanKind.CLIENT, attributes)

    def url_full(self, url: str, phone_number: str | None) -> str:
        """``url`` as ``url.full`` shows it: no phone number unless asked for.

        It has no user info to redact: the client refuses origins that carry any.
        """
        if phone_number is not None and not self.phone_numbers:
            url = url.replace(phone_number, REDACTED).replace(
                phone_number.replace("+", "%2B"), REDACTED
            )
        return url

    @staticmethod
    def inject(span: Span, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with the W3C trace context of ``span`` (the global propagator)."""
        carrier = dict(headers)
        propagate.inject(carrier, trace.set_span_in_context(span))
        return carrier

    def end_exchange(
        self,
        span: Span | None,
        shared: Attributes,
        *,
        status: int | None,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """End an exchange's span and record its duration."""
        # An error status names the failure (the HTTP semantic conventions); an exception
        # does when there is no such status (no answer, or a 2xx that did not decode).
        failure = None
        if status is not None and status >= 400:
            failure = str(status)
        elif error is not None:
            failure = error_type(error)
        instruments = self.instruments
        if instruments is not None:
            instruments.active.add(-1, _server_only(shared))
            attributes = dict(shared)
            if status is not None:
                attributes["http.response.status_code"] = status
            if failure is not None:
                attributes["error.type"] = failure
            instruments.duration.record(duration, attributes)
        if span is None:
            return
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if failure is not None:
            span.set_attribute("error.type", failure)
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    # --- bulk jobs and webhooks ------------------------------------------------------------

    def start_job(self, name: str, total: int | None) -> Span | None:
        """The span of one bulk job (the current span, if any, is its parent)."""
        if self.tracer is None:
            return None
        attributes: Attributes = {"numbers_async.operation": name}
        if total is not None:
            attributes["numbers_async.bulk.total"] = total
        return self.tracer.start_span(name, None, SpanKind.INTERNAL, attributes)

    def start_item(self, job: Span, name: str, seq: int, item: str) -> Span | None:
        """The span of one item of a bulk job, or ``None`` for an item not traced."""
        if self.tracer is None or (seq >= ITEM_SPANS and seq % ITEM_SPANS):
            return None
        attributes: Attributes = {"numbers_async.bulk.item_index": seq}
        if self.phone_numbers:
            attributes["numbers_async.phone_number"] = item
        return self.tracer.start_span(
            f"{name} item", trace.set_span_in_context(job), SpanKind.INTERNAL, attributes
        )

    @staticmethod
    def end_span(span: Span, attributes: Attributes, error: BaseException | None) -> None:
        """End a bulk job's or item's span with ``attributes``, an error if it failed."""
        span.set_attributes(attributes)
        if error is not None:
            span.set_attribute("error.type", error_type(error))
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    def start_webhook(self) -> Span | None:
        """The SERVER span of one webhook delivery."""
        if self.tracer is None:
            return None
        return self.tracer.start_span("numbers_async.webhook", None, SpanKind.SERVER)

    @staticmethod
    def end_webhook(span: Span, status: int, text: str, event: Mapping[str, Any]) -> None:
        """End a delivery's span with the reply and what the event was."""
        attributes: Attributes = {
            "http.response.status_code": status,
            "numbers_async.webhook.reply": text,
        }
        for name, value in event.items():
            if value is not None:
                attributes[f"numbers_async.event.{name}"] = str(value)
        span.set_attributes(attributes)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()


def _server_only(shared: Attributes) -> Attributes:
    return {
        "http.request.method": shared["http.request.method"],
        "server.address": shared["server.address"],
        "server.port": shared["server.port"],
    }
