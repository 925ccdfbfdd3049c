"""``client.with_raw_response``: every operation, returning its result with its answer.

The groups here are the client's own resource groups built with ``raw=True``: the same
methods, the same argument checks, the same pipeline, each result a ``RawResponse``
(``_Resource._call``), and ``active_numbers.list`` a ``RawActiveNumbersPager``. ``_raw``
and ``_raw_pager`` only say so to the type checker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, cast

from numbers_async._call import CallOptions
from numbers_async._emergency import EmergencyAddresses
from numbers_async._groups import ActiveNumbers, AvailableNumbers, AvailableRegions, Callbacks
from numbers_async._paging import ActiveNumbersPager
from numbers_async._raw import RawActiveNumbersPager, RawResponse
from numbers_async._sender import Sender

__all__ = ["WithRawResponse"]

P = ParamSpec("P")
T = TypeVar("T")


def _raw(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    """A raw group's ``method``, typed as what it returns: a ``RawResponse``."""
    return cast("Callable[P, Awaitable[RawResponse[T]]]", method)


def _raw_pager(method: Callable[P, ActiveNumbersPager]) -> Callable[P, RawActiveNumbersPager]:
    """A raw group's ``list``, typed as what it returns: a ``RawActiveNumbersPager``."""
    return cast("Callable[P, RawActiveNumbersPager]", method)


class WithRawResponse:
    """``client.with_raw_response``: each operation of the client, its answer included.

    The same groups and methods as the client (``available_regions``,
    ``available_numbers``, ``active_numbers``, ``callbacks``, ``emergency_addresses``),
    taking the same arguments, checked the same way and sent the same way (retries,
    settling, hooks and tracing included). Each returns a ``RawResponse`` whose
    ``parsed`` is what the plain method returns; ``active_numbers.list(...)`` returns a
    ``RawActiveNumbersPager``, whose pages are ``RawResponse[Page]``.

    Examples:
        ```python
        import asyncio

        from numbers_async import NumbersClient


        async def main() -> None:
            async with NumbersClient.from_env() as client:
                found = await client.available_numbers.search("US", "LOCAL", size=1)
                raw = await client.with_raw_response.available_numbers.rent(
                    found[0].phone_number
                )
                print(raw.parsed.phone_number, raw.status_code, raw.request_id)
                print(f"{raw.retries} retries, {raw.elapsed * 1000:.0f} ms")


        asyncio.run(main())
        ```
    """

    def __init__(self, sender: Sender, options: CallOptions) -> None:
        regions = AvailableRegions(sender, options, raw=True)
        available = AvailableNumbers(sender, options, raw=True)
        active = ActiveNumbers(sender, options, raw=True)
        callbacks = Callbacks(sender, options, raw=True)
        emergency = EmergencyAddresses(sender, options, raw=True)
        self.available_regions = _RawAvailableRegions(regions)
        """``list``."""
        self.available_numbers = _RawAvailableNumbers(available)
        """``search``, ``get``, ``rent`` and ``rent_any``."""
        self.active_numbers = _RawActiveNumbers(active)
        """``list`` (a ``RawActiveNumbersPager``), ``get``, ``update`` and ``release``."""
        self.callbacks = _RawCallbacks(callbacks)
        """``get`` and ``update``."""
        self.emergency_addresses = _RawEmergencyAddresses(emergency)
        """``get``, ``provision``, ``deprovision`` (``parsed`` is ``None``) and ``validate``."""


class _RawAvailableRegions:
    def __init__(self, group: AvailableRegions) -> None:
        self.list = _raw(group.list)


class _RawAvailableNumbers:
    def __init__(self, group: AvailableNumbers) -> None:
        self.search = _raw(group.search)
        self.get = _raw(group.get)
        self.rent = _raw(group.rent)
        self.rent_any = _raw(group.rent_any)


class _RawActiveNumbers:
    def __init__(self, group: ActiveNumbers) -> None:
        self.list = _raw_pager(group.list)
        self.get = _raw(group.get)
        self.update = _raw(group.update)
        self.release = _raw(group.release)


class _RawCallbacks:
    def __init__(self, group: Callbacks) -> None:
        self.get = _raw(group.get)
        self.update = _raw(group.update)


class _RawEmergencyAddresses:
    def __init__(self, group: EmergencyAddresses) -> None:
        self.get = _raw(group.get)
        self.provision = _raw(group.provision)
        self.deprovision = _raw(group.deprovision)
        self.validate = _raw(group.validate)
