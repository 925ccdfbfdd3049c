"""Logs: one ``numbers_async`` tree, documented levels, request ids, ``NUMBERS_ASYNC_LOG``.

And the promise that no secret — the key secret, an access token, the Basic header, the
HMAC secret, user info in a URL — ever reaches a log record or a span's attributes.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from numbers_async import (
    AmbiguousOutcomeError,
    AttemptEvent,
    RetryPolicy,
    SmsConfiguration,
)
from numbers_async._logs import configure_logging, log_from_env
from numbers_async.testing import FakeNumbersServer, Fault

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "numbers_async"
QUICK = RetryPolicy(backoff=0.001, max_backoff=0.001)


class Records(logging.Handler):
    """Every record of the library's loggers, whatever the level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    library = logging.getLogger("numbers_async")
    level = library.level
    library.addHandler(handler)
    library.setLevel(logging.DEBUG)
    yield handler
    library.removeHandler(handler)
    library.setLevel(level)


# --- one tree, documented levels ---------------------------------------------------------------


def _logger_names() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
    return names


def test_every_logger_of_the_package_is_in_one_tree() -> None:
    names = _logger_names()
    assert "numbers_async.http" in names
    assert all(name == "numbers_async" or name.startswith("numbers_async.") for name in names)


async def test_each_attempt_is_a_debug_line_with_its_request_id(
    fake: FakeNumbersServer, records: Records
) -> None:
    fake.inject(Fault.status(503), route="get_callbacks")
    async with fake.client(retry=QUICK) as client:
        await client.callbacks.get()
    failed, answered = fake.requests_for("get_callbacks")
    path = f"/v1/projects/{fake.project_id}/callbackConfiguration"
    lines = [r for r in records.records if r.name == "numbers_async.http"]
    assert {r.levelno for r in lines} == {logging.DEBUG}
    messages = [r.getMessage() for r in lines]
    assert any(
        m.startswith(f"callbacks.get attempt 1: GET {path} -> 503 (ServerError) in ")
        and m.endswith(f" ms (request id {failed.request_id}); retrying")
        for m in messages
    ), messages
    assert any(
        m.startswith(f"callbacks.get attempt 2: GET {path} -> 200 in ")
        and m.endswith(f" ms (request id {answered.request_id})")
        for m in messages
    ), messages
    retries = records.at(logging.INFO)
    assert any(
        f"callbacks.get: attempt 1 failed (HTTP 503, request id {failed.request_id})" in m
        for m in retries
    ), retries


async def test_a_client_pause_after_429_is_an_info_line(
    fake: FakeNumbersServer, records: Records
) -> None:
    fake.inject(Fault.status(429, retry_after="0"), route="get_callbacks")
    async with fake.client(retry=QUICK) as client:
        await client.callbacks.get()
    assert any(m.startswith("rate limited: pausing all requests") for m in records.at(logging.INFO))


async def test_an_ambiguous_outcome_is_a_warning_with_its_request_id(
    fake: FakeNumbersServer, records: Records
) -> None:
    fake.inject(Fault.status(503), route="rent_any")
    async with fake.client(retry=QUICK) as client:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent_any("US", "LOCAL")
    (warning,) = records.at(logging.WARNING)
    assert warning == str(caught.value)
    assert f"(request id {fake.requests_for('rent_any')[-1].request_id})" in warning


async def test_keeping_the_current_token_after_a_failed_refresh_is_a_warning(
    fake: FakeNumbersServer, records: Records
) -> None:
    # A token whose early refresh fails goes on being used while it has not expired.
    async with FakeNumbersServer(token_lifetime=30) as short, short.client() as client:
        await client.callbacks.get()
        short.inject(Fault.status(400), route="token")  # the refresh is refused
        _refresh_due(client)
        await client.callbacks.get()
    warnings = records.at(logging.WARNING)
    assert any("refreshing the access token failed" in m for m in warnings), warnings


def _refresh_due(client: object) -> None:
    """Make the client's token due for a refresh, not expired (no test waits 27 s for it)."""
    auth = client._sender._auth_flow._auth  # type: ignore[attr-defined]
    auth._refresh_at = auth.clock() - 1


# --- NUMBERS_ASYNC_LOG ---------------------------------------------------------------------------


def _child(level: str) -> subprocess.CompletedProcess[str]:
    code = """
        import asyncio
        from numbers_async.testing import FakeNumbersServer

        async def main():
            async with FakeNumbersServer() as fake:
                async with fake.client() as client:
                    await client.callbacks.get()
                print(fake.requests_for("get_callbacks")[0].request_id)

        asyncio.run(main())
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBERS_ASYNC_LOG": level}
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )


def test_numbers_async_log_debug_shows_every_attempt_on_stderr() -> None:
    result = _child("debug")
    request_id = result.stdout.strip()
    assert "DEBUG numbers_async.http: callbacks.get attempt 1: GET " in result.stderr
    assert f"(request id {request_id})" in result.stderr


def test_numbers_async_log_info_hides_the_attempts() -> None:
    assert "numbers_async.http" not in _child("INFO").stderr


def test_an_unknown_numbers_async_log_level_says_so() -> None:
    stderr = _child("verbose").stderr
    assert "NUMBERS_ASYNC_LOG='verbose' is not one of debug, info, warning" in stderr


def test_configure_logging_replaces_its_own_handler_only() -> None:
    library = logging.getLogger("numbers_async")
    level, handlers = library.level, list(library.handlers)
    first, second = io.StringIO(), io.StringIO()
    try:
        configure_logging("debug", first)
        configure_logging("warning", second)
        library.info("not shown")
        library.warning("shown")
        assert first.getvalue() == ""
        assert second.getvalue().endswith("WARNING numbers_async: shown\n")
        assert len(library.handlers) == len(handlers) + 1
        log_from_env({})  # unset: changes nothing
        assert len(library.handlers) == len(handlers) + 1
    finally:
        for handler in library.handlers[len(handlers) :]:
            library.removeHandler(handler)
        library.setLevel(level)


def test_configure_logging_refuses_a_level_it_does_not_know() -> None:
    from numbers_async import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"^level: must be 'debug', 'info' or 'warning'"):
        configure_logging("loud")


# --- no secret in a log record or a span attribute ---------------------------------------------


async def test_no_secret_reaches_a_log_record_a_span_or_a_metric(
    fake: FakeNumbersServer, records: Records
) -> None:
    hmac_secret = "H" * 40
    user_info = "alice:s3cr3t-in-the-url"
    callback_url = f"https://{user_info}@hooks.example/sinch"
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    events: list[AttemptEvent] = []
    options = {
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
        "trace_phone_numbers": True,  # all there is to show, shown
        "event_hooks": {"request": [events.append], "response": [events.append]},
        "retry": QUICK,
    }
    fake.inject(Fault.status(503, retry_after="0"), route="token")
    fake.inject(Fault.truncated_json(), route="get_callbacks")  # quoted in a DecodeError
    fake.inject(Fault.status(503), route="rent_any", times=None)
    async with fake.client(**options) as client:  # type: ignore[arg-type]
        await client.callbacks.update(hmac_secret)
        await client.callbacks.get()
        fake.expire_tokens()
        await client.callbacks.get()
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.available_numbers.rent_any(
                "US", "LOCAL", sms=SmsConfiguration("plan"), callback_url=callback_url
            )
    async with fake.client(auth="basic", **options) as basic:  # type: ignore[arg-type]
        await basic.callbacks.get()
        await basic.active_numbers.update(fake.add_active_numbers(1)[0], callback_url=callback_url)

    tokens = {
        r.headers["Authorization"].split()[-1]
        for r in fake.requests
        if r.headers.get("Authorization", "").startswith("Bearer")
    }
    basic_pair = base64.b64encode(f"{fake.key_id}:{fake.key_secret}".encode()).decode()
    secrets = {fake.key_secret, hmac_secret, basic_pair, *tokens, "s3cr3t-in-the-url"}
    assert len(tokens) >= 2  # the token expired, and a second one was fetched

    logged = [
        f"{r.name} {r.levelname} {r.getMessage()} {r.args!r} {r.exc_text or ''}"
        for r in records.records
    ]
    spans = [
        json.dumps(
            {
                "name": s.name,
                "attributes": dict(s.attributes or {}),
                "events": [(e.name, dict(e.attributes or {})) for e in s.events],
                "status": s.status.description,
            }
        )
        for s in exporter.get_finished_spans()
    ]
    metrics = reader.get_metrics_data()
    assert metrics is not None
    measured = metrics.to_json()
    shown = "\n".join([*logged, *spans, measured, repr(events), str(caught.value)])
    assert len(spans) > 10
    for secret in secrets:
        assert secret not in shown, secret
    tracer_provider.shutdown()
    meter_provider.shutdown()
