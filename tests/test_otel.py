"""OpenTelemetry: spans, metrics and ``traceparent``, read back with the SDK's in-memory exporters.

Each test gives its client a ``TracerProvider`` and a ``MeterProvider`` of its own
(``tracer_provider=``, ``meter_provider=``), so no test touches the global providers,
which a process can set only once; the tests that need the global ones run a child
process. The fake server records the ``traceparent`` each request carried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from numbers_async import AmbiguousOutcomeError, RetryPolicy, Timeouts
from numbers_async._otel import ITEM_SPANS
from numbers_async.testing import FakeNumbersServer, Fault
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parent.parent
QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)


@dataclass
class Telemetry:
    """A tracer and a meter provider of one test, and what they recorded."""

    tracer_provider: TracerProvider
    exporter: InMemorySpanExporter
    meter_provider: MeterProvider
    reader: InMemoryMetricReader

    @property
    def options(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def children(self, parent: ReadableSpan, kind: SpanKind | None = None) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans()
            if s.parent is not None
            and s.parent.span_id == parent.context.span_id
            and (kind is None or s.kind is kind)
        ]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for found in scope.metrics
            if found.name == metric
            for point in found.data.data_points
        ]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield Telemetry(tracer_provider, exporter, meter_provider, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def trace_ids(traceparent: str) -> tuple[str, str]:
    """The trace id and parent span id of a W3C ``traceparent``."""
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00"
    assert int(flags, 16) & 1  # sampled
    return trace_id, span_id


# --- the "done when" -------------------------------------------------------------------


async def test_a_rent_answered_503_then_200_is_one_operation_with_two_attempts(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    (phone,) = fake.add_available_numbers(1)
    fake.inject(Fault.status(503), route="rent")
    async with fake.client(retry=QUICK, **telemetry.options) as client:
        await client.available_numbers.rent(phone)

    (operation,) = telemetry.spans("available_numbers.rent")
    assert operation.kind is SpanKind.INTERNAL
    assert attrs(operation) == {
        "numbers_async.operation": "available_numbers.rent",
        "numbers_async.project_id": fake.project_id,
        "numbers_async.outcome": "succeeded",
        "numbers_async.attempts": 2,
    }
    assert operation.status.status_code is StatusCode.UNSET
    attempts = telemetry.children(operation, SpanKind.CLIENT)
    first, second = sorted(attempts, key=lambda s: s.start_time or 0)
    url = f"{fake.url}/v1/projects/{fake.project_id}/availableNumbers/REDACTED:rent"
    port = int(fake.url.rsplit(":", 1)[1])
    assert (first.name, first.kind, second.name, second.kind) == (
        "POST",
        SpanKind.CLIENT,
        "POST",
        SpanKind.CLIENT,
    )
    assert attrs(first) == {
        "http.request.method": "POST",
        "url.full": url,
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 503,
        "error.type": "503",
        "numbers_async.operation": "available_numbers.rent",
    }
    assert first.status.status_code is StatusCode.ERROR
    assert attrs(second)["http.request.resend_count"] == 1
    assert attrs(second)["http.response.status_code"] == 200
    assert "error.type" not in attrs(second)
    # The server received each attempt's own trace context, in the operation's trace.
    sent = [trace_ids(r.headers["traceparent"]) for r in fake.requests_for("rent")]
    trace_id = format(operation.context.trace_id, "032x")
    assert sent == [
        (trace_id, format(first.context.span_id, "016x")),
        (trace_id, format(second.context.span_id, "016x")),
    ]
    # The duration histogram has both attempts.
    rents = [
        p
        for p in telemetry.points("http.client.request.duration")
        if p.attributes["numbers_async.operation"] == "available_numbers.rent"
    ]
    assert sorted((p.attributes["http.response.status_code"], p.count) for p in rents) == [
        (200, 1),
        (503, 1),
    ]
    assert {p.attributes["error.type"] for p in rents if "error.type" in p.attributes} == {"503"}
    [retry] = [event for event in operation.events if event.name == "retry"]
    assert dict(retry.attributes or {})["numbers_async.attempt"] == 1


async def test_an_ambiguous_rent_s_span_has_error_status_and_error_type(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    # The rent went through but its answer was lost; the retry finds the number gone; the
    # check that would settle it keeps failing: nobody can tell whether it was rented.
    (phone,) = fake.add_available_numbers(1)
    fake.inject(Fault.reset_after(), route="rent")
    fake.inject(Fault.status(503), route="get_active", times=None)
    async with fake.client(retry=RetryPolicy(attempts=2, backoff=0.001), **telemetry.options) as c:
        with pytest.raises(AmbiguousOutcomeError):
            await c.available_numbers.rent(phone)
        # The rent's span was current while it ran, and is no longer once it has failed.
        assert not trace.get_current_span().get_span_context().is_valid

    (operation,) = telemetry.spans("available_numbers.rent")
    assert operation.status.status_code is StatusCode.ERROR
    assert attrs(operation)["error.type"] == "numbers_async.errors.AmbiguousOutcomeError"
    assert attrs(operation)["numbers_async.outcome"] == "ambiguous"
    assert attrs(operation)["numbers_async.attempts"] == 2  # the lost one and the retry
    (check,) = telemetry.spans("active_numbers.get")
    assert check.parent is not None
    assert check.parent.span_id == operation.context.span_id
    assert attrs(check)["numbers_async.settles"] == "available_numbers.rent"
    assert attrs(check)["numbers_async.outcome"] == "failed"
    assert attrs(check)["numbers_async.attempts"] == 2
    assert attrs(check)["error.type"] == "numbers_async.errors.ServerError"
    assert [attrs(s)["http.response.status_code"] for s in telemetry.children(check)] == [503] * 2
    attempts = telemetry.children(operation, SpanKind.CLIENT)
    lost = [s for s in attempts if "http.response.status_code" not in attrs(s)]
    assert [attrs(s)["error.type"] for s in lost] == ["numbers_async.errors.TransportError"]
    [ambiguous] = telemetry.points("numbers_async.client.ambiguous_outcomes")
    assert (ambiguous.value, dict(ambiguous.attributes)) == (
        1,
        {"numbers_async.operation": "available_numbers.rent"},
    )


async def test_a_bulk_job_of_100_is_one_span_with_its_counts(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    owned = fake.add_active_numbers(100)
    async with fake.client(**telemetry.options) as client:
        report = await client.bulk.release(owned, concurrency=10)
    assert len(report.succeeded) == 100

    (job,) = telemetry.spans("bulk.release")
    assert attrs(job) == {
        "numbers_async.operation": "bulk.release",
        "numbers_async.bulk.total": 100,
        "numbers_async.bulk.done": 100,
        "numbers_async.bulk.succeeded": 100,
        "numbers_async.bulk.failed": 0,
        "numbers_async.bulk.unknown": 0,
        "numbers_async.bulk.resumed": 0,
    }
    items = telemetry.children(job)
    assert len(items) == 100
    assert {s.name for s in items} == {"bulk.release item"}
    assert sorted(attrs(s)["numbers_async.bulk.item_index"] for s in items) == list(range(100))
    assert {attrs(s)["numbers_async.outcome"] for s in items} == {"succeeded"}
    # Each item's call is a child of the item.
    for item in items:
        (call,) = telemetry.children(item)
        assert call.name == "active_numbers.release"
    assert {s.context.trace_id for s in telemetry.spans()} - {job.context.trace_id} <= {
        s.context.trace_id for s in telemetry.spans("oauth2.token")
    }


async def test_a_bulk_item_s_number_is_on_its_span_only_when_asked_for(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    owned = fake.add_active_numbers(2)
    async with fake.client(trace_phone_numbers=True, **telemetry.options) as client:
        await client.bulk.release(owned[:1])
    async with fake.client(**telemetry.options) as client:
        await client.bulk.release(owned[1:])
    shown, hidden = sorted(
        telemetry.spans("bulk.release item"), key=lambda s: "numbers_async.phone_number" in attrs(s)
    )[::-1]
    assert attrs(shown)["numbers_async.phone_number"] == owned[0]
    assert "numbers_async.phone_number" not in attrs(hidden)


async def test_each_bulk_item_s_span_names_its_outcome_and_the_job_counts_them(
    fake: FakeNumbersServer, telemetry: Telemetry, tmp_path: Path
) -> None:
    journal = tmp_path / "rent.jsonl"
    options: dict[str, Any] = {
        "retry": RetryPolicy(attempts=1, outage_wait=0),
        "timeouts": Timeouts(total=0.5),
        **telemetry.options,
    }
    async with fake.client(**options) as client:
        found = await client.available_numbers.search("US", "LOCAL", size=4)
        lost, rented, *journaled = [number.phone_number for number in found]
        # The first item's rent happens but its answer is lost and the check fails
        # (unknown); the second is not for rent (a 404: failed); the third is rented.
        fake.inject(Fault.reset_after(), route="rent")
        fake.inject(Fault.status(503), route="get_active")
        mixed = await client.bulk.rent([lost, "+12065550199", rented], concurrency=1)
        await client.bulk.rent(journaled, journal=journal, concurrency=1)
        rerun = await client.bulk.rent(
            journaled, journal=journal, concurrency=1, verify_resumed=True
        )
    assert (mixed.unknown, len(mixed.failed), len(mixed.succeeded)) == (1, 2, 1)
    assert rerun.resumed == 2

    first, _, second = sorted(telemetry.spans("bulk.rent"), key=lambda s: s.start_time or 0)
    outcomes = {
        attrs(s)["numbers_async.bulk.item_index"]: attrs(s)["numbers_async.outcome"]
        for s in telemetry.children(first)
    }
    assert outcomes == {0: "unknown", 1: "failed", 2: "succeeded"}
    assert attrs(first)["numbers_async.bulk.unknown"] == 1  # counted, not the last item's
    assert attrs(first)["numbers_async.bulk.failed"] == 2  # the unknown one is a failure
    # A rerun that verifies what the journal records traces each verified item by its
    # position, and counts it resumed.
    assert attrs(second)["numbers_async.bulk.resumed"] == 2
    verified = sorted(attrs(s)["numbers_async.bulk.item_index"] for s in telemetry.children(second))
    assert verified == [0, 1]


async def test_a_bulk_job_that_raises_ends_its_span_with_the_error(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    def progress(_: object) -> None:
        raise RuntimeError("the application's progress callback failed")

    owned = fake.add_active_numbers(1)
    async with fake.client(**telemetry.options) as client:
        with pytest.raises(RuntimeError, match="progress callback"):
            await client.bulk.release(owned, on_progress=progress)

    (job,) = telemetry.spans("bulk.release")
    assert job.status.status_code is StatusCode.ERROR
    assert attrs(job)["error.type"] == "RuntimeError"


async def test_a_bulk_item_cut_off_by_leaving_the_stream_ends_its_span_failed(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    fast, slow = fake.add_active_numbers(2)
    fake.inject(Fault.latency(30), route="release", times=1)  # the first release hangs
    async with fake.client(**telemetry.options) as client:
        job = client.bulk.release([slow, fast], concurrency=2)
        async with job.stream() as outcomes:
            async for outcome in outcomes:
                assert outcome.item == fast
                break  # the slow item is still in flight: cancelled

    spans = {
        attrs(s)["numbers_async.bulk.item_index"]: s for s in telemetry.spans("bulk.release item")
    }
    cut = spans[0]
    assert attrs(cut)["numbers_async.outcome"] == "failed"
    assert attrs(cut)["error.type"] == "asyncio.exceptions.CancelledError"
    assert cut.status.status_code is StatusCode.ERROR
    assert attrs(spans[1])["numbers_async.outcome"] == "succeeded"


async def test_a_big_bulk_job_traces_a_sample_of_its_items(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    count = 2 * ITEM_SPANS + 50
    fake.inject(Fault.status(404), route="release", times=None)  # every item fails
    async with fake.client(**telemetry.options) as client:
        report = await client.bulk.release(fake.add_active_numbers(count), concurrency=20)
    assert len(report.failed) == count
    (job,) = telemetry.spans("bulk.release")
    assert (attrs(job)["numbers_async.bulk.done"], attrs(job)["numbers_async.bulk.failed"]) == (
        count,
        count,
    )
    indexes = sorted(attrs(s)["numbers_async.bulk.item_index"] for s in telemetry.children(job))
    assert indexes == [*range(ITEM_SPANS), ITEM_SPANS, 2 * ITEM_SPANS]
    # The items outside the sample record no span at all: the trace stays that size.
    assert len(telemetry.spans("active_numbers.release")) == len(indexes)
    sent = [
        s for s in telemetry.spans("POST") if attrs(s)["numbers_async.operation"] != "oauth2.token"
    ]
    assert len(sent) == len(indexes)
    failed = telemetry.children(job)[0]
    assert failed.status.status_code is StatusCode.ERROR
    assert attrs(failed)["error.type"] == "numbers_async.errors.NotFoundError"
    # Every request is still measured.
    measured = [
        p.count
        for p in telemetry.points("http.client.request.duration")
        if p.attributes["numbers_async.operation"] == "active_numbers.release"
    ]
    assert sum(measured) == count


# --- more of the same trace ----------------------------------------------------------------------


async def test_a_token_fetch_is_an_operation_below_the_call_that_needed_it(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    fake.inject(Fault.status(503, retry_after="0"), route="token")
    async with fake.client(**telemetry.options) as client:
        await client.callbacks.get()
    (call,) = telemetry.spans("callbacks.get")
    (token,) = telemetry.spans("oauth2.token")
    assert token.parent is not None
    assert token.parent.span_id == call.context.span_id
    assert attrs(token)["numbers_async.outcome"] == "succeeded"
    assert [attrs(s)["http.response.status_code"] for s in telemetry.children(token)] == [503, 200]
    assert [attrs(s)["url.full"] for s in telemetry.children(token)] == [fake.auth_url] * 2
    assert "traceparent" in fake.requests_for("token")[0].headers


async def test_rate_limit_waits_are_span_events_and_counted(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    # 20 requests per second with a burst of 2: the third call waits about 50 ms.
    async with fake.client(rate_limit=20, **telemetry.options) as client:
        for _ in range(4):
            await client.callbacks.get()
    waits = [
        event
        for span in telemetry.spans("callbacks.get")
        for event in span.events
        if event.name == "rate_limit.wait"
    ]
    assert waits
    assert all(float(dict(e.attributes or {})["numbers_async.waited"]) > 0 for e in waits)  # type: ignore[arg-type]
    [counted] = telemetry.points("numbers_async.client.rate_limit_waits")
    assert counted.value == len(waits)


async def test_metrics_count_retries_and_requests_in_flight(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    fake.inject(Fault.status(429, retry_after="0"), route="get_callbacks", times=2)
    async with fake.client(retry=QUICK, **telemetry.options) as client:
        await client.callbacks.get()
    [retries] = telemetry.points("numbers_async.client.retries")
    assert (retries.value, retries.attributes["error.type"]) == (
        2,
        "numbers_async.errors.RateLimitedError",
    )
    assert {p.value for p in telemetry.points("http.client.active_requests")} == {0}
    durations = telemetry.points("numbers_async.client.operation.duration")
    [duration] = [p for p in durations if p.attributes["numbers_async.operation"] != "oauth2.token"]
    assert dict(duration.attributes) == {
        "numbers_async.operation": "callbacks.get",
        "numbers_async.outcome": "succeeded",
    }


async def test_phone_numbers_reach_spans_only_when_asked_for(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    (owned,) = fake.add_active_numbers(1)
    async with fake.client(**telemetry.options) as client:
        await client.active_numbers.get(owned)
    async with fake.client(trace_phone_numbers=True, **telemetry.options) as client:
        await client.active_numbers.get(owned)
    hidden, shown = telemetry.spans("active_numbers.get")
    (shown_attempt,) = telemetry.children(shown, SpanKind.CLIENT)
    every = json.dumps([attrs(s) for s in telemetry.spans() if s not in (shown, shown_attempt)])
    assert owned not in every
    assert owned[1:] not in every
    assert "numbers_async.phone_number" not in attrs(hidden)
    assert attrs(shown)["numbers_async.phone_number"] == owned
    assert attrs(shown_attempt)["url.full"].endswith(f"/activeNumbers/{owned}")


async def test_tracing_off_records_and_sends_nothing(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    async with fake.client(tracing=False, **telemetry.options) as client:
        await client.callbacks.get()
    assert telemetry.spans() == []
    assert telemetry.points("http.client.request.duration") == []
    assert all("traceparent" not in r.headers for r in fake.requests)


async def test_only_metrics_configured_records_metrics_and_no_context(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    async with fake.client(meter_provider=telemetry.meter_provider) as client:
        await client.callbacks.get()
    assert telemetry.spans() == []
    assert len(telemetry.points("http.client.request.duration")) == 2  # the token, the call
    assert all("traceparent" not in r.headers for r in fake.requests)


def test_a_setting_that_is_not_a_bool_is_refused(fake: FakeNumbersServer) -> None:
    from numbers_async import InvalidInputError

    for name in ("tracing", "trace_phone_numbers"):
        with pytest.raises(InvalidInputError, match=rf"^{name}: must be True or False"):
            fake.client(**{name: "yes"})  # type: ignore[arg-type]


# --- the global providers and the extra, in child processes ------------------------------------


def run_child(code: str, *, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter of this checkout; its stdout."""
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    child_env.pop("NUMBERS_ASYNC_LOG", None)
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_without_opentelemetry_nothing_of_it_is_imported() -> None:
    out = run_child(
        """
        import asyncio, sys
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
        from numbers_async.testing import FakeNumbersServer

        async def main():
            async with FakeNumbersServer() as fake:
                async with fake.client() as client:
                    await client.callbacks.get()
                print(any("traceparent" in r.headers for r in fake.requests))

        asyncio.run(main())
        print(sorted(m for m in sys.modules if "opentelemetry" in m or m.endswith("_otel")))
        """
    )
    assert out.split() == ["False", "['opentelemetry']"]  # only the blocker itself


def test_a_provider_given_without_opentelemetry_is_refused() -> None:
    out = run_child(
        """
        import sys
        sys.modules["opentelemetry"] = None
        from numbers_async import InvalidInputError, NumbersClient
        try:
            NumbersClient("p", "k", "s", tracer_provider=object())
        except InvalidInputError as error:
            print(error)
        """
    )
    assert out.strip() == "tracer_provider: needs OpenTelemetry: pip install 'numbers-async[otel]'"


def test_importing_the_package_alone_imports_no_opentelemetry() -> None:
    out = run_child(
        "import sys, numbers_async\nprint([m for m in sys.modules if 'opentelemetry' in m])"
    )
    assert out.strip() == "[]"


GLOBAL_PROVIDER = """
    import asyncio, json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()

    def configure():
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

    def spans():
        return [
            {"name": s.name, "kind": s.kind.name, "attributes": dict(s.attributes),
             "parent": s.parent.span_id if s.parent else None, "id": s.context.span_id,
             "status": s.status.status_code.name}
            for s in exporter.get_finished_spans()
        ]
"""


def test_a_client_picks_up_the_global_provider_once_it_is_set() -> None:
    out = run_child(
        GLOBAL_PROVIDER
        + """
    from numbers_async import _otel
    from numbers_async.testing import FakeNumbersServer

    _otel.RECHECK = 0.0  # look at the providers on every call, not once a second

    async def main():
        async with FakeNumbersServer() as fake:
            async with fake.client() as client:
                watched = [client._sender.observer.watching()]
                await client.callbacks.get()  # nothing configured yet: no span
                configure()
                watched.append(client._sender.observer.watching())
                await client.callbacks.get()
            print(json.dumps({
                "watched": watched,
                "spans": sorted(s["name"] for s in spans()),
                "traceparents": ["traceparent" in r.headers for r in fake.requests],
            }))

    asyncio.run(main())
    """
    )
    seen = json.loads(out)
    assert seen["watched"] == [False, True]  # unconfigured, a call carries nothing to tell
    assert seen["spans"] == ["GET", "callbacks.get"]
    assert seen["traceparents"] == [False, False, True]  # the token, the call, the call


REPLY = "numbers_async.webhook.reply"


def test_each_webhook_delivery_is_a_server_span_with_its_event_and_reply() -> None:
    out = run_child(
        GLOBAL_PROVIDER
        + """
    import aiohttp
    from aiohttp import web
    from numbers_async.webhooks import SIGNATURE_HEADER, compute_signature
    from numbers_async.webhooks.aiohttp import events_handler

    SECRET = "s" * 32
    BODY = json.dumps({
        "eventId": "e-1", "timestamp": "2099-01-01T00:00:00Z", "projectId": "p",
        "resourceId": "+12025550100", "resourceType": "ACTIVE_NUMBER",
        "eventType": "PROVISIONING_TO_SMS_PLATFORM", "status": "SUCCEEDED",
    }).encode()

    broken = []

    def secret():
        if broken:
            raise RuntimeError("the secret store is down")
        return SECRET

    async def main():
        configure()
        parents = []

        async def on_event(event):
            parents.append(trace.get_current_span().get_span_context().span_id)

        app = web.Application()
        events_handler(on_event, secret=secret, max_age=None).setup(app, "/events")
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/events"
        signed = {SIGNATURE_HEADER: compute_signature(BODY, SECRET)}
        async with aiohttp.ClientSession() as http:
            for headers in (signed, signed, {SIGNATURE_HEADER: "00" * 20}):
                async with http.post(url, data=BODY, headers=headers) as response:
                    await response.read()
            broken.append(True)
            async with http.post(url, data=BODY, headers=signed) as response:
                assert response.status == 500
        await runner.cleanup()
        print(json.dumps({"spans": spans(), "parents": parents}))

    asyncio.run(main())
    """
    )
    seen = json.loads(out)
    deliveries = [s for s in seen["spans"] if s["name"] == "numbers_async.webhook"]
    assert [s["kind"] for s in deliveries] == ["SERVER"] * 4
    failed = deliveries.pop()  # the receiver raised: the framework answered 500
    assert failed["attributes"]["http.response.status_code"] == 500
    assert (failed["attributes"]["error.type"], failed["status"]) == ("500", "ERROR")
    replies = [
        (span["attributes"]["http.response.status_code"], span["attributes"][REPLY])
        for span in deliveries
    ]
    assert replies[:2] == [(200, "accepted"), (200, "duplicate event, already accepted")]
    assert replies[2][0] == 401
    assert "signature" in replies[2][1].lower()
    assert [s["status"] for s in deliveries] == ["UNSET"] * 3  # a refusal is no server error
    first = deliveries[0]["attributes"]
    assert (first["numbers_async.event.type"], first["numbers_async.event.id"]) == (
        "PROVISIONING_TO_SMS_PLATFORM",
        "e-1",
    )
    assert "+12025550100" not in json.dumps(deliveries)  # the number is not on the span
    assert "numbers_async.event.type" not in deliveries[2]["attributes"]  # never parsed
    assert seen["parents"] == [deliveries[0]["id"]]  # the handler ran inside the delivery


def test_a_webhook_delivery_with_only_metrics_configured_records_no_span() -> None:
    out = run_child(
        """
        import asyncio, json
        from aiohttp import web
        import aiohttp
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from numbers_async.webhooks import SIGNATURE_HEADER, compute_signature
        from numbers_async.webhooks.aiohttp import events_handler

        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        SECRET = "s" * 32
        BODY = json.dumps({
            "eventId": "e-1", "timestamp": "2099-01-01T00:00:00Z", "projectId": "p",
            "resourceId": "+12025550100", "resourceType": "ACTIVE_NUMBER",
            "eventType": "PROVISIONING_TO_SMS_PLATFORM", "status": "SUCCEEDED",
        }).encode()

        async def main():
            async def on_event(event):
                return None

            app = web.Application()
            events_handler(on_event, secret=SECRET, max_age=None).setup(app, "/events")
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/events"
            headers = {SIGNATURE_HEADER: compute_signature(BODY, SECRET)}
            async with aiohttp.ClientSession() as http:
                async with http.post(url, data=BODY, headers=headers) as response:
                    print(response.status)
            await runner.cleanup()

        asyncio.run(main())
        """
    )
    assert out.strip() == "200"


def test_bad_webhook_tracing_is_refused() -> None:
    from numbers_async import InvalidInputError
    from numbers_async.webhooks.aiohttp import events_handler

    async def on_event(event: Any) -> None:
        return None

    with pytest.raises(InvalidInputError, match=r"^tracing: must be True or False"):
        events_handler(on_event, secret="s" * 32, tracing="no")  # type: ignore[arg-type]


async def test_a_bulk_item_a_shared_journal_withdraws_ends_its_span_as_withdrawn(
    fake: FakeNumbersServer, telemetry: Telemetry, tmp_path: Path
) -> None:
    # A shared journal (RedisJournal) withdraws an item from a worker that lost its claim:
    # not this worker's to report. A file journal wrapped to withdraw one success.
    from numbers_async.bulk import FileJournal
    from numbers_async.bulk._store import Withdrawn

    owned = fake.add_active_numbers(3)
    taken = owned[1]

    class Withdrawing(FileJournal):
        async def open(self, operation: str, request: Any, reconcile: Any) -> Any:
            journal = await super().open(operation, request, reconcile)
            record_success = journal.record_success

            async def withdraw_one(item: Any, number: Any, **kw: Any) -> None:
                if item == taken:
                    raise Withdrawn()
                await record_success(item, number, **kw)

            journal.record_success = withdraw_one
            return journal

    async with fake.client(**telemetry.options) as client:
        report = await client.bulk.release(owned, journal=Withdrawing(tmp_path / "j.jsonl"))
    assert sorted(n.phone_number for n in report.succeeded) == sorted({*owned} - {taken})
    (job,) = telemetry.spans("bulk.release")
    assert (attrs(job)["numbers_async.bulk.done"], attrs(job)["numbers_async.bulk.succeeded"]) == (
        2,
        2,
    )
    outcomes = sorted(attrs(s)["numbers_async.outcome"] for s in telemetry.children(job))
    assert outcomes == ["succeeded", "succeeded", "withdrawn"]


# --- the other ways a call is told -------------------------------------------------------------


def mock_client(telemetry: Telemetry, answer: Any, **options: Any) -> Any:
    from numbers_async import NumbersClient
    from numbers_async.testing import MockTransport

    return NumbersClient(
        "project",
        "key",
        "secret",
        auth="basic",
        base_url="https://numbers.example",
        transport=MockTransport(answer),
        **telemetry.options,
        **options,
    )


CALLBACKS_ANSWER = (200, {"Content-Type": "application/json"}, '{"projectId": "project"}')


async def test_an_outage_wait_is_a_span_event(telemetry: Telemetry) -> None:
    # Five connections refused at once close the client's outage gate for 0.25 s (the
    # gate's first pause, a constant): the calls wait it out and then succeed. No bound
    # on the time is asserted, only that the waits were told.
    from numbers_async import TransportError

    refused = [0]

    def answer(method: str, url: str, headers: Any, body: bytes | None) -> Any:
        if refused[0] < 5:
            refused[0] += 1
            raise TransportError("cannot connect", request_sent=False)
        return CALLBACKS_ANSWER

    import asyncio

    async with mock_client(telemetry, answer, retry=QUICK) as client:
        await asyncio.gather(*(client.callbacks.get() for _ in range(5)))
    calls = telemetry.spans("callbacks.get")
    waits = [e for s in calls for e in s.events if e.name == "outage.wait"]
    assert waits
    assert {attrs(s)["numbers_async.outcome"] for s in calls} == {"succeeded"}
    failed = [s for s in telemetry.spans("GET") if "http.response.status_code" not in attrs(s)]
    assert len(failed) == 5
    assert {attrs(s)["error.type"] for s in failed} == {"numbers_async.errors.TransportError"}


async def test_a_cancelled_call_ends_its_spans_as_cancelled(
    fake: FakeNumbersServer, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    fake.inject(Fault.latency(30), route="get_callbacks")  # never answered in the test
    async with fake.client(**telemetry.options) as client:
        call = asyncio.ensure_future(client.callbacks.get())
        await eventually(lambda: bool(fake.requests_for("get_callbacks")))
        with caplog.at_level("DEBUG", logger="numbers_async.http"):
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
    assert any(
        m.startswith("callbacks.get attempt 1: GET ") and " -> CancelledError in " in m
        for m in caplog.messages
    ), caplog.messages
    (operation,) = telemetry.spans("callbacks.get")
    assert attrs(operation)["numbers_async.outcome"] == "cancelled"
    (attempt,) = telemetry.children(operation, SpanKind.CLIENT)
    assert attrs(attempt)["error.type"] == "asyncio.exceptions.CancelledError"


async def test_a_rent_a_check_finds_not_rented_ends_failed_with_its_check(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    # Answered 503 (it may have rented), then 404 (not available): the check finds the
    # number not owned, so the rent did not happen and the 404 stands.
    from numbers_async import NotFoundError

    (phone,) = fake.add_available_numbers(1)
    fake.inject(Fault.status(503), route="rent")
    fake.inject(Fault.status(404), route="rent")
    async with fake.client(retry=QUICK, **telemetry.options) as client:
        with pytest.raises(NotFoundError):
            await client.available_numbers.rent(phone)
    (rent,) = telemetry.spans("available_numbers.rent")
    (check,) = telemetry.spans("active_numbers.get")
    assert attrs(rent)["numbers_async.outcome"] == "failed"
    assert attrs(check)["numbers_async.settles"] == "available_numbers.rent"
    assert (attrs(check)["numbers_async.outcome"], attrs(check)["error.type"]) == (
        "failed",
        "numbers_async.errors.NotFoundError",
    )
    assert attrs(check)["numbers_async.attempts"] == 1


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (Fault.status(200, body="html"), "numbers_async.errors.TokenEndpointError"),
        (Fault.status(400), "numbers_async.errors.AuthenticationError"),
    ],
    ids=["unreadable", "refused"],
)
async def test_a_failed_token_fetch_is_a_failed_operation(
    fake: FakeNumbersServer, telemetry: Telemetry, fault: Fault, error_type: str
) -> None:
    from numbers_async import NumbersError

    fake.inject(fault, route="token", times=None)
    async with fake.client(**telemetry.options) as client:
        with pytest.raises(NumbersError):
            await client.callbacks.get()
    (token,) = telemetry.spans("oauth2.token")
    assert attrs(token)["numbers_async.outcome"] == "failed"
    assert attrs(token)["error.type"] == error_type
    assert token.status.status_code is StatusCode.ERROR


async def test_a_limiter_that_lets_a_call_through_at_once_is_no_wait(
    telemetry: Telemetry,
) -> None:
    class Open:
        async def acquire(self) -> None:
            return None

        def pause(self, seconds: float) -> None:
            return None

    async with mock_client(
        telemetry, lambda *request: CALLBACKS_ANSWER, rate_limit=Open()
    ) as client:
        await client.callbacks.get()
    (call,) = telemetry.spans("callbacks.get")
    assert [e.name for e in call.events] == []
    assert telemetry.points("numbers_async.client.rate_limit_waits") == []


async def test_a_bulk_job_with_only_metrics_configured_records_no_span(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    async with fake.client(meter_provider=telemetry.meter_provider) as client:
        report = await client.bulk.release(fake.add_active_numbers(3))
    assert len(report.succeeded) == 3
    assert telemetry.spans() == []
    releases = [
        p.count
        for p in telemetry.points("http.client.request.duration")
        if p.attributes["numbers_async.operation"] == "active_numbers.release"
    ]
    assert releases == [3]


def test_a_broken_otel_module_is_not_taken_for_a_missing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from numbers_async import NumbersClient

    monkeypatch.setitem(sys.modules, "numbers_async._otel", None)
    with pytest.raises(ModuleNotFoundError):
        NumbersClient("p", "k", "s")


async def test_a_rent_a_check_finds_rented_is_reconciled(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    (phone,) = fake.add_available_numbers(1)
    fake.inject(Fault.reset_after(), route="rent")  # rented, the answer lost
    options = {"trace_phone_numbers": True, **telemetry.options}
    async with fake.client(retry=QUICK, **options) as client:
        number = await client.available_numbers.rent(phone)
        assert not trace.get_current_span().get_span_context().is_valid  # the rent's is done
    assert number.phone_number == phone
    (rent,) = telemetry.spans("available_numbers.rent")
    (check,) = telemetry.spans("active_numbers.get")
    assert rent.status.status_code is StatusCode.UNSET
    assert (attrs(rent)["numbers_async.outcome"], attrs(check)["numbers_async.outcome"]) == (
        "reconciled",
        "succeeded",
    )
    # The check is a call of its own on the same number: one attempt; the rent had two.
    assert attrs(check)["numbers_async.phone_number"] == phone
    assert (attrs(check)["numbers_async.attempts"], attrs(rent)["numbers_async.attempts"]) == (1, 2)
    [reconciled] = [
        p
        for p in telemetry.points("numbers_async.client.operation.duration")
        if p.attributes["numbers_async.operation"] == "available_numbers.rent"
    ]
    assert reconciled.attributes["numbers_async.outcome"] == "reconciled"


async def test_an_attempt_the_deadline_cut_before_sending_ends_its_span_with_the_failure(
    telemetry: Telemetry,
) -> None:
    """A connection that fails only after the call's deadline has passed ends the call at
    once (nothing was sent, so no retry and no outage); the HTTP span it opened still
    says why it ended."""
    from numbers_async import NumbersClient
    from numbers_async.errors import TransportError
    from numbers_async.testing import MockTransport

    def handler(method: str, url: str, headers: object, body: object) -> object:
        time.sleep(0.15)  # blocks the loop: no timer can cut it before the deadline passes
        raise TransportError("connection refused", request_sent=False)

    async with NumbersClient(
        "p",
        "k",
        "s",
        auth="basic",
        transport=MockTransport(handler),  # type: ignore[arg-type]
        retry=RetryPolicy(attempts=5, backoff=0.001, max_backoff=0.001),
        timeouts=Timeouts(deadline=0.1),
        **telemetry.options,
    ) as client:
        with pytest.raises(TransportError):
            await client.active_numbers.get("+12025550100")

    (operation,) = telemetry.spans("active_numbers.get")
    (exchange,) = telemetry.children(operation, SpanKind.CLIENT)
    assert attrs(exchange)["error.type"] == "numbers_async.errors.TransportError"
    assert exchange.status.status_code is StatusCode.ERROR
    assert attrs(operation)["numbers_async.attempts"] == 1


async def test_a_retry_is_an_event_of_the_operation_with_its_attempt_delay_and_reason(
    fake: FakeNumbersServer, telemetry: Telemetry
) -> None:
    (phone,) = fake.add_available_numbers(1)
    fake.inject(Fault.status(503), route="rent")
    async with fake.client(retry=QUICK, **telemetry.options) as client:
        await client.available_numbers.rent(phone)

    (operation,) = telemetry.spans("available_numbers.rent")
    (retry,) = [e for e in operation.events if e.name == "retry"]
    found = dict(retry.attributes or {})
    delay = found.pop("numbers_async.delay")
    assert found == {"numbers_async.attempt": 1, "numbers_async.reason": "HTTP 503"}
    assert isinstance(delay, float)
    assert 0.0 <= delay <= QUICK.max_backoff
