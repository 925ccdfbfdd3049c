"""Client configuration values (frozen, so one object can be shared by many clients)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["RetryEvent", "RetryPolicy", "Timeouts"]


def _positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        from numbers_async.errors import InvalidInputError

        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}",
            "must be a positive number of seconds or None",
            value,
        )


def _non_negative(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        from numbers_async.errors import InvalidInputError

        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}", "must be a number >= 0", value
        )


def _at_least_one(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        from numbers_async.errors import InvalidInputError

        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}", "must be an integer >= 1", value
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


@attrs.frozen
class RetryEvent:
    """What ``RetryPolicy.on_retry`` is told before each retry sleep."""

    operation: str  # e.g. "active_numbers.get"
    attempt: int  # the attempt that failed, from 1
    reason: str  # e.g. "HTTP 503", "TransportError: ServerDisconnectedError"
    delay: float  # seconds until the next attempt


@attrs.frozen
class RetryPolicy:
    """How failed requests are retried (only where it is safe; see the README).

    Attributes:
        attempts: attempts in all, the first included (1 disables retries).
        backoff: the base delay in seconds; attempt *n* waits a random time up to
            ``backoff * 2**(n-1)`` ("full jitter"), capped by ``max_backoff``.
        max_backoff: the longest computed backoff.
        max_retry_after: the longest ``Retry-After`` the client will wait; a longer one
            raises ``RateLimitedError`` (with ``.retry_after``) at once.
        on_retry: called with a ``RetryEvent`` before each retry sleep (metrics, logs).
    """

    attempts: int = attrs.field(default=4, validator=_at_least_one)
    backoff: float = attrs.field(default=0.25, validator=_non_negative)
    max_backoff: float = attrs.field(default=8.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    on_retry: Callable[[RetryEvent], None] | None = attrs.field(default=None, eq=False)

    def backoff_ceiling(self, attempt: int) -> float:
        """The upper bound of the jittered delay after failed attempt ``attempt`` (from 1)."""
        return float(min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1)))
