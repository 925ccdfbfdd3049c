"""Client configuration values (frozen, so one object can be shared by many clients)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Timeouts"]


def _positive_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        from numbers_async.errors import InvalidInputError

        raise InvalidInputError(
            f"Timeouts.{attribute.name}", "must be a positive number of seconds or None", value
        )


@attrs.frozen
class Timeouts:
    """Time limits, in seconds, for one attempt of one request (``None``: no limit).

    Attributes:
        connect: establishing the connection (including waiting for a pooled one).
        read: the longest silence while reading the response.
        total: the whole attempt, from sending to the last byte of the body.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    total: float | None = attrs.field(default=60.0, validator=_positive_or_none)
