"""Every client operation, by the route it requests, called with ordinary arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from numbers_async import NumbersClient

from .server import PHONE


@attrs.frozen
class Operation:
    route: str
    method: str
    call: Callable[[NumbersClient], Awaitable[Any]]

    def __str__(self) -> str:
        return self.route


async def _list_active(client: NumbersClient) -> Any:
    return await client.active_numbers.list().collect()


OPERATIONS: tuple[Operation, ...] = (
    Operation("list_regions", "GET", lambda c: c.available_regions.list()),
    Operation("search_available", "GET", lambda c: c.available_numbers.search("US", "LOCAL")),
    Operation("get_available", "GET", lambda c: c.available_numbers.get(PHONE)),
    Operation("rent", "POST", lambda c: c.available_numbers.rent(PHONE)),
    Operation("rent_any", "POST", lambda c: c.available_numbers.rent_any("US", "LOCAL")),
    Operation("list_active", "GET", _list_active),
    Operation("get_active", "GET", lambda c: c.active_numbers.get(PHONE)),
    Operation("update_active", "PATCH", lambda c: c.active_numbers.update(PHONE, display_name="x")),
    Operation("release", "POST", lambda c: c.active_numbers.release(PHONE)),
    Operation("get_callbacks", "GET", lambda c: c.callbacks.get()),
    Operation("update_callbacks", "PATCH", lambda c: c.callbacks.update("s" * 32)),
)
"""The eleven operations; pytest ids are the route names."""

BY_ROUTE = {operation.route: operation for operation in OPERATIONS}
