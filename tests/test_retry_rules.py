"""The edges of the retry rules: validation, the backoff ceiling per attempt, Retry-After
at its limit and in other zones, and how a retry is described and logged.

Pure functions of ``_retry``, no I/O; each test fails if the rule it names is changed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from numbers_async._responses import error_for
from numbers_async._retry import (
    RetryPolicy,
    notify_retry,
    parse_retry_after,
    reason_for,
    retry_delay,
)
from numbers_async.errors import InvalidInputError, ServerError, TransportError


@pytest.mark.parametrize("value", [-1, -0.5, math.nan, "1", True])
def test_a_backoff_that_is_not_a_number_at_least_zero_is_refused(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RetryPolicy(backoff=value)  # type: ignore[arg-type]
    assert caught.value.argument == "RetryPolicy.backoff"
    assert caught.value.rule == "must be a number >= 0"
    assert f"(got {value!r})" in str(caught.value)


def test_a_zero_backoff_is_allowed() -> None:
    assert RetryPolicy(backoff=0, max_backoff=0).backoff_ceiling(3) == 0.0


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
def test_attempts_that_are_not_an_integer_at_least_one_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RetryPolicy(attempts=value)  # type: ignore[arg-type]
    assert caught.value.argument == "RetryPolicy.attempts"
    assert caught.value.rule == "must be an integer >= 1"
    assert f"(got {value!r})" in str(caught.value)


def test_one_attempt_is_allowed() -> None:
    assert RetryPolicy(attempts=1).attempts == 1


def test_the_backoff_ceiling_doubles_per_attempt_up_to_max_backoff() -> None:
    policy = RetryPolicy(backoff=0.25, max_backoff=8.0)
    ceilings = [policy.backoff_ceiling(attempt) for attempt in range(1, 8)]
    assert ceilings == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_retry_after_of_exactly_the_maximum_is_waited() -> None:
    error = error_for(429, {"Retry-After": "60"}, b"")
    policy = RetryPolicy(max_retry_after=60.0)
    assert retry_delay(error, attempt=1, policy=policy) == 60.0


@pytest.fixture
def new_york_time() -> Iterator[None]:
    """Local time 5 hours behind UTC, so a date read as local time is visibly wrong."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "EST+05")
        time.tzset()
        yield
    time.tzset()


@pytest.mark.usefixtures("new_york_time")
@pytest.mark.parametrize("zone", ["GMT", "-0000", "+0000"])
def test_a_retry_after_date_is_utc_whatever_the_local_zone(zone: str) -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after(f"Thu, 01 Jan 2026 12:00:30 {zone}", now=now) == 30.0


def test_a_transport_error_is_described_with_its_cause() -> None:
    error = TransportError("connection reset")
    error.__cause__ = ConnectionResetError()  # as `raise ... from` sets it
    assert reason_for(error) == "TransportError: ConnectionResetError"
    assert reason_for(TransportError("refused")) == "TransportError"
    assert reason_for(ServerError(503)) == "HTTP 503"


def test_a_retry_is_logged_with_operation_attempt_reason_and_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="numbers_async"):
        notify_retry("active_numbers.get", ServerError(503), 2, 0.5, RetryPolicy())
    assert caplog.messages == ["active_numbers.get: attempt 2 failed (HTTP 503); retrying in 0.50s"]
