"""One B9 measurement in a process of its own: B1's calls, observed one way.

Standalone on purpose (no ``_common``, which puts this checkout first on ``sys.path``):
``PYTHONPATH`` decides which ``numbers_async`` is measured, so the same script times this
checkout and another one (``b9_observability.py --without DIR``). Prints one JSON line:
``{"rate": requests per second, "calls": function calls per request or null}``.

Modes: ``unconfigured`` (no hooks, no OpenTelemetry provider: the default client),
``tracing_off`` (``tracing=False``), ``hook`` (one no-op ``response`` hook), ``sdk``
(the OpenTelemetry SDK with an in-memory span exporter and metric reader, given to the
client as its providers).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def drive(concurrency: int, total: int, call: Callable[[], Awaitable[Any]]) -> None:
    """Make ``total`` calls with ``concurrency`` workers (as B1 does)."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def options(mode: str) -> dict[str, Any]:
    """The client settings of ``mode``."""
    if mode == "unconfigured":
        return {}
    if mode == "tracing_off":
        return {"tracing": False}
    if mode == "hook":
        return {"event_hooks": {"response": [lambda event: None]}}
    if mode == "sdk":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    raise SystemExit(f"unknown mode {mode!r}")


async def measure(args: argparse.Namespace) -> dict[str, float | None]:
    from numbers_async import NumbersClient

    async with NumbersClient(
        args.project_id,
        args.key_id,
        args.key_secret,
        base_url=args.url,
        auth_url=args.auth_url,
        max_concurrency=args.concurrency,
        **options(args.mode),
    ) as client:
        get = client.active_numbers.get
        phone = args.phone
        await drive(args.concurrency, args.concurrency * 4, lambda: get(phone))  # warm up
        started = time.perf_counter()
        await drive(args.concurrency, args.requests, lambda: get(phone))
        rate = args.requests / (time.perf_counter() - started)
        calls = None
        if args.calls:
            profiler = cProfile.Profile()
            profiler.enable()
            await drive(args.concurrency, args.calls, lambda: get(phone))
            profiler.disable()
            calls = pstats.Stats(profiler).total_calls / args.calls  # type: ignore[attr-defined]
    return {"rate": rate, "calls": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode")
    for name in ("url", "auth_url", "project_id", "key_id", "key_secret", "phone"):
        parser.add_argument(f"--{name.replace('_', '-')}", required=True, dest=name)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--calls", type=int, default=0, help="also count calls per request")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
