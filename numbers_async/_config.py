"""Client configuration values (frozen, so one object can be shared by many clients).

``RetryPolicy`` and ``RetryEvent`` live with the retry decisions in ``_retry``.
"""

from __future__ import annotations

from typing import Any

import attrs

from numbers_async._retry import RetryEvent, RetryPolicy

__all__ = ["RetryEvent", "RetryPolicy", "Timeouts"]


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
