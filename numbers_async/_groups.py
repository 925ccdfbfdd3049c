"""The client's resource groups, but ``emergency_addresses`` (in ``_emergency``).

``available_regions``, ``available_numbers``, ``active_numbers`` and ``callbacks``: each
method checks its arguments and builds its ``Request`` (``_operations``), then sends it
through ``_Resource._call`` with the decoder of its answer. The same groups built with
``raw=True`` return ``RawResponse`` values instead (``client.with_raw_response``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Iterable
from typing import Final, Literal, TypeAlias, cast
from urllib.parse import urlencode

from numbers_async import _operations as ops
from numbers_async._paging import ActiveNumbersPager, Ahead, decode_page, decode_page_now
from numbers_async._raw import RawActiveNumbersPager, RawResponse
from numbers_async._resource import _many, _one, _Resource
from numbers_async.models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Capability,
    CapabilityName,
    NumberType,
    NumberTypeName,
    Page,
    SearchPattern,
    SearchPatternName,
    SmsConfiguration,
    VoiceConfiguration,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ActiveNumbers",
    "AvailableNumbers",
    "AvailableRegions",
    "Callbacks",
]

DEFAULT_PAGE_SIZE: Final = 100

# An enum argument is a member or one of its known string values, anything else rejected at
# run time (InvalidInputError); the API reference shows these aliases as their values.
_NumberTypeArg: TypeAlias = NumberType | NumberTypeName
_SearchPatternArg: TypeAlias = SearchPattern | SearchPatternName
_CapabilityArg: TypeAlias = Capability | CapabilityName
_CapabilitiesArg: TypeAlias = Iterable[_CapabilityArg] | Capability | CapabilityName

_ACTIVE_NUMBER: Final = _one(ActiveNumber)
_AVAILABLE_NUMBER: Final = _one(AvailableNumber)
_CALLBACKS: Final = _one(CallbackConfiguration)
_AVAILABLE_NUMBERS: Final = _many(AvailableNumber, "availableNumbers")
_REGIONS: Final = _many(AvailableRegion, "availableRegions")


class AvailableRegions(_Resource):
    """``client.available_regions``: where numbers are offered."""

    async def list(
        self, types: Iterable[_NumberTypeArg] | _NumberTypeArg | None = None
    ) -> list[AvailableRegion]:
        """List regions, optionally only those offering the given number ``types``.

        Example: ``await client.available_regions.list(types=["LOCAL"])``.
        """
        return await self._call(ops.list_regions(types), _REGIONS)


class AvailableNumbers(_Resource):
    """``client.available_numbers``: search and rent numbers."""

    async def search(
        self,
        region_code: str,
        number_type: _NumberTypeArg,
        *,
        pattern: str | None = None,
        search_pattern: _SearchPatternArg | None = None,
        capabilities: _CapabilitiesArg | None = None,
        size: int | None = None,
    ) -> list[AvailableNumber]:
        """Search numbers available to rent.

        Args:
            region_code: ISO 3166-1 alpha-2 code, e.g. ``"US"``.
            number_type: ``"MOBILE"``, ``"LOCAL"`` or ``"TOLL_FREE"``.
            pattern: digits to look for, e.g. ``"+1206"`` (sent as ``%2B1206``).
            search_pattern: ``"START"``, ``"CONTAINS"`` or ``"END"``.
            capabilities: numbers must support all of these (``"SMS"``, ``"VOICE"``).
            size: at most this many results.

        Raises:
            InvalidInputError: an argument breaks its rule; nothing was sent.
        """
        request = ops.search_available(
            region_code,
            number_type,
            pattern=pattern,
            search_pattern=search_pattern,
            capabilities=capabilities,
            size=size,
        )
        return await self._call(request, _AVAILABLE_NUMBERS)

    async def get(self, phone_number: str) -> AvailableNumber:
        """Check whether one number is available, with its prices (``NotFoundError`` if not)."""
        return await self._call(ops.get_available(phone_number), _AVAILABLE_NUMBER)

    async def rent(
        self,
        phone_number: str,
        *,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Rent ``phone_number`` (this costs money).

        The SMS/Voice settings are applied asynchronously by Sinch: the returned number shows
        them under ``sms_configuration.scheduled_provisioning`` /
        ``voice_configuration.scheduled_voice_provisioning`` until they are in place.

        Retried safely: if an attempt may have gone through and a retry finds the number
        no longer available, ``active_numbers.get`` settles it — owned means rented.

        Raises:
            NotFoundError: the number is not available (and the project does not own it).
            AmbiguousOutcomeError: an attempt may have rented it and checking failed.
        """
        request = ops.rent(phone_number, sms=sms, voice=voice, callback_url=callback_url)
        return await self._call(request, _ACTIVE_NUMBER)

    async def rent_any(
        self,
        region_code: str,
        number_type: _NumberTypeArg,
        *,
        pattern: str | None = None,
        search_pattern: _SearchPatternArg | None = None,
        capabilities: _CapabilitiesArg | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Rent whichever available number matches the criteria (this costs money).

        Sinch currently supports this for US ``LOCAL`` numbers only. It is retried only when
        the request provably was not processed (connect failure, 429): a repeat could rent
        and bill a second number.

        Raises:
            AmbiguousOutcomeError: the request may have rented a number but the response was
                lost or failed; check ``active_numbers.list`` before trying again.
        """
        request = ops.rent_any(
            region_code,
            number_type,
            pattern=pattern,
            search_pattern=search_pattern,
            capabilities=capabilities,
            sms=sms,
            voice=voice,
            callback_url=callback_url,
        )
        return await self._call(request, _ACTIVE_NUMBER)


class ActiveNumbers(_Resource):
    """``client.active_numbers``: the numbers the project owns."""

    def list(
        self,
        *,
        region_code: str | None = None,
        number_type: _NumberTypeArg | None = None,
        pattern: str | None = None,
        search_pattern: _SearchPatternArg | None = None,
        capabilities: _CapabilitiesArg | None = None,
        page_size: int | None = None,
        order_by: Literal["phoneNumber", "displayName"] | None = None,
        page_token: str | None = None,
        max_items: int | None = None,
    ) -> ActiveNumbersPager:
        """List owned numbers lazily, page by page.

        Arguments are checked now; requests start when iteration does.
        ``page_size`` defaults to 100; ``max_items`` stops after that many numbers.

        Examples:
            ```python
            async for number in client.active_numbers.list(region_code="US"):
                ...
            async for page in client.active_numbers.list(page_size=500).pages():
                save(page.next_page_token)  # resume later with page_token=
            ```
        """
        pairs = ops.list_active_query(
            region_code=region_code,
            number_type=number_type,
            pattern=pattern,
            search_pattern=search_pattern,
            capabilities=capabilities,
            page_size=DEFAULT_PAGE_SIZE if page_size is None else page_size,
            order_by=order_by,
        )
        if page_token is not None:
            ops.check_str("page_token", page_token)
        if max_items is not None:
            ops.check_positive_int("max_items", max_items)

        sender, options = self._sender, self._options
        query = urlencode(pairs)  # once per listing; each page adds its token
        if self._raw:

            async def fetch_raw(token: str | None, deadline_at: float | None) -> RawResponse[Page]:
                request = ops.list_active_page(query, token)
                return await sender.send_raw(request, options, decode_page_now, deadline_at)

            # client.with_raw_response types this method as returning the raw pager.
            raw = RawActiveNumbersPager(
                fetch_raw,
                page_token=page_token or None,
                max_items=max_items,
                deadline=lambda: sender.deadline_for(options),
            )
            return cast(ActiveNumbersPager, raw)

        def fetch(token: str | None, deadline_at: float | None, ahead: Ahead) -> Awaitable[Page]:
            request = ops.list_active_page(query, token)
            decode = functools.partial(decode_page, ahead=ahead)
            return sender.send(request, options, decode, deadline_at)

        return ActiveNumbersPager(
            fetch,
            page_token=page_token or None,
            max_items=max_items,
            deadline=lambda: sender.deadline_for(options),
        )

    async def get(self, phone_number: str) -> ActiveNumber:
        """Fetch one owned number (``NotFoundError`` if the project does not own it)."""
        return await self._call(ops.get_active(phone_number), _ACTIVE_NUMBER)

    async def update(
        self,
        phone_number: str,
        *,
        display_name: str | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Change an owned number; only the arguments given are sent.

        ``SmsConfiguration(service_plan_id="")`` unlinks the number from its service plan.
        At least one argument is required.
        """
        request = ops.update_active(
            phone_number, display_name=display_name, sms=sms, voice=voice, callback_url=callback_url
        )
        return await self._call(request, _ACTIVE_NUMBER)

    async def release(self, phone_number: str) -> ActiveNumber:
        """Give an owned number back; the result has ``expire_at`` set.

        Retried like a read: if an attempt's response was lost and the retry finds the
        number no longer owned, the lost attempt released it, and the result carries only
        ``phone_number`` (the API has nothing more to say about it).
        """
        return await self._call(ops.release(phone_number), _ACTIVE_NUMBER)


class Callbacks(_Resource):
    """``client.callbacks``: the project's event callback settings."""

    async def get(self) -> CallbackConfiguration:
        """The current configuration (its ``hmac_secret`` signs every event)."""
        return await self._call(ops.get_callbacks(), _CALLBACKS)

    async def update(self, hmac_secret: str) -> CallbackConfiguration:
        """Set the HMAC secret (32-64 characters of ``a-zA-Z0-9-``) used to sign events."""
        return await self._call(ops.update_callbacks(hmac_secret), _CALLBACKS)
