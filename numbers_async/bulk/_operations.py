"""What a bulk job does to one item, and how it settles an item whose outcome is unknown.

The operations depend on ``BulkClient``: the few client calls they make and the settings
the client runs with, not the client. ``NumbersClient`` satisfies it; so does anything
else that answers those calls.

How long one call of an item can run — every attempt and retry the client's settings
allow — is ``_retry.call_window``: a rerun waits that long after the last intent of an
unsettled item before it settles the item, so that no request of a killed run can still
act. What a refusal means after an earlier run's unknown attempt is ``_retry``'s rule too
(``after_unknown``), the one the client applies within a call.
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import AsyncIterable, Mapping
from typing import Any, Final, Protocol

from numbers_async._config import RetryPolicy, Timeouts
from numbers_async._operations import Op
from numbers_async._retry import Settlement, after_unknown, attempt_window, call_window
from numbers_async.bulk._journal import FileJournal, JournalPath
from numbers_async.bulk._store import MAX_WINDOW, JournalStore, OpenJournal
from numbers_async.errors import ApiError, InvalidInputError, NotFoundError, NumbersError
from numbers_async.models import (
    ActiveNumber,
    Capability,
    NumberType,
    SearchPattern,
    SmsConfiguration,
    VoiceConfiguration,
)

__all__ = [
    "ActiveNumberCalls",
    "AvailableNumberCalls",
    "BulkClient",
    "Operation",
    "Release",
    "Rent",
    "RentAny",
    "Unsettled",
    "Update",
]

logger = logging.getLogger("numbers_async.bulk")

# Listing page size for the rent_any baseline and reconciliation.
LISTING_PAGE_SIZE: Final = 1000


class ActiveNumberCalls(Protocol):
    """The ``client.active_numbers`` calls bulk jobs make."""

    async def get(self, phone_number: str, /) -> ActiveNumber: ...

    def list(
        self, *, region_code: str, number_type: NumberType, page_size: int
    ) -> AsyncIterable[ActiveNumber]: ...

    async def update(
        self,
        phone_number: str,
        /,
        *,
        display_name: str | None,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> ActiveNumber: ...

    async def release(self, phone_number: str, /) -> ActiveNumber: ...


class AvailableNumberCalls(Protocol):
    """The ``client.available_numbers`` calls bulk jobs make."""

    async def rent(
        self,
        phone_number: str,
        /,
        *,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> ActiveNumber: ...

    async def rent_any(
        self,
        region_code: str,
        number_type: NumberType,
        *,
        pattern: str | None,
        search_pattern: SearchPattern | None,
        capabilities: list[Capability] | None,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> ActiveNumber: ...


class BulkClient(Protocol):
    """What bulk jobs need of a client: owned numbers, rentals, and its settings.

    ``NumbersClient`` is one. ``retry`` and ``timeouts`` say how long one call can run.
    """

    @property
    def active_numbers(self) -> ActiveNumberCalls: ...

    @property
    def available_numbers(self) -> AvailableNumberCalls: ...

    @property
    def retry(self) -> RetryPolicy: ...

    @property
    def timeouts(self) -> Timeouts: ...


class Unsettled(Exception):
    """Checking an unknown outcome failed: the item's outcome is still unknown."""

    def __init__(self, error: NumbersError) -> None:
        super().__init__(str(error))
        self.error = error


class Operation(abc.ABC):
    """What a job does to one item, and how it settles an unknown outcome."""

    name = ""
    records_intent = True  # before each request: set for the calls that are not idempotent

    def __init__(self, client: BulkClient, request: Mapping[str, Any]) -> None:
        self.client = client
        self.request = request  # the JSON body every item sends (journal header)
        total, deadline = client.timeouts.total, client.timeouts.deadline
        # One item's call, retries included; and one attempt.
        self.window = call_window(client.retry, total=total, deadline=deadline)
        self.attempt_window = attempt_window(total=total, deadline=deadline)
        self.unaccounted: list[ActiveNumber] = []  # found on the server, owned by no item

    async def open_journal(self, store: JournalStore | JournalPath) -> OpenJournal:
        """Open the job's journal (a path means a ``FileJournal``).

        Refused (``InvalidInputError``) if the client's timeouts let one call run longer
        than a journal may ask a rerun to wait (``MAX_WINDOW``): set ``Timeouts.deadline``.
        """
        longest = self.intent_window(True)
        if longest > MAX_WINDOW:
            raise InvalidInputError(
                "journal",
                f"the client's retries and timeouts let one call run {longest:g} s, longer "
                f"than the {MAX_WINDOW:g} s a journal may ask a rerun to wait; set "
                "Timeouts(deadline=...) on the client",
            )
        if isinstance(store, str | os.PathLike):
            store = FileJournal(store)
        journal: OpenJournal = await store.open(self.name, self.request, self.reconcile)
        return journal

    async def confirm(self, recorded: ActiveNumber) -> ActiveNumber | None:
        """The server's word on a success the journal records: the number, or None if not.

        The project owns the number: confirmed (with what the server says of it now).
        """
        try:
            return await self.client.active_numbers.get(recorded.phone_number)
        except NotFoundError:
            return None

    async def reconcile(self, journal: OpenJournal) -> None:  # noqa: B027 - most have nothing to do
        """Reconcile, before the first item, what cannot be reconciled item by item.

        Called once earlier runs' requests have ended. Nothing, unless the operation says.
        """

    def intent_window(self, was_unknown: bool) -> float:
        """How long an item's call may run from its intent: one call's ``window``."""
        return self.window

    @abc.abstractmethod
    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        """Do the operation on ``item``; ``was_unknown``: an earlier attempt may have acted."""


class Rent(Operation):
    """``rent``: an unknown outcome is settled by asking whether the project owns the number."""

    name = "rent"

    def __init__(
        self,
        client: BulkClient,
        request: Mapping[str, Any],
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> None:
        super().__init__(client, request)
        self._sms, self._voice, self._callback_url = sms, voice, callback_url

    def intent_window(self, was_unknown: bool) -> float:
        # A check (a GET, up to one window) may come before the rent.
        return 2 * self.window if was_unknown else self.window

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        if was_unknown:
            owned = await self._owned(item)
            if owned is not None:
                return owned
        try:
            return await self.client.available_numbers.rent(
                item, sms=self._sms, voice=self._voice, callback_url=self._callback_url
            )
        except ApiError as exc:
            meaning = after_unknown(Op.RENT.value, exc.status) if was_unknown else None
            if meaning is not Settlement.RECONCILE:
                raise
            # "Not available" after an attempt whose outcome was unknown may be that
            # attempt's own doing: only the project's numbers can say.
            owned = await self._owned(item)
            if owned is not None:
                return owned
            raise  # not ours, and the earlier run can no longer act: it really failed

    async def _owned(self, item: Any) -> ActiveNumber | None:
        """The project's number ``item``, or None if it does not own it."""
        try:
            return await self.client.active_numbers.get(item)
        except NotFoundError:
            return None
        except NumbersError as exc:
            raise Unsettled(exc) from exc


class RentAny(Operation):
    """``rent_any``: unknown outcomes are settled against a baseline of owned numbers.

    ``request`` is the checked rentAny body; its criteria are sent as they were checked.
    """

    name = "rent_any"

    def __init__(
        self,
        client: BulkClient,
        request: Mapping[str, Any],
        count: int,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> None:
        super().__init__(client, {**request, "count": count})
        self._region_code: str = request["regionCode"]
        self._number_type = NumberType(request["type"])
        number_pattern: Mapping[str, str] = request.get("numberPattern", {})
        search_pattern = number_pattern.get("searchPattern")
        capabilities = request.get("capabilities")
        self._pattern = number_pattern.get("pattern")
        self._search_pattern = None if search_pattern is None else SearchPattern(search_pattern)
        self._capabilities = None if capabilities is None else [Capability(c) for c in capabilities]
        self._sms, self._voice, self._callback_url = sms, voice, callback_url

    async def reconcile(self, journal: OpenJournal) -> None:
        """Record the baseline (a new journal), or assign what lost requests rented.

        Runs after the job waited for the earlier runs' requests to end, so the listing
        shows everything they did.
        """
        if journal.baseline is None:
            # Before the first rentAny: what the project owns already cannot be ours.
            await journal.record_baseline(number.phone_number for number in await self._owned())
        baseline = journal.baseline or frozenset()
        unknown = journal.items_to_check()
        if not unknown:
            return
        accounted = baseline | journal.succeeded_phones()
        appeared = sorted(
            (number for number in await self._owned() if number.phone_number not in accounted),
            key=lambda number: number.phone_number,
        )
        for item, number in zip(unknown, appeared, strict=False):
            await journal.record_success(item, number, reconciled=True)
        for item in unknown[len(appeared) :]:
            journal.forget(item)  # proved not rented: rent it as if new
        self.unaccounted = appeared[len(unknown) :]
        journal.note_unaccounted(self.unaccounted)
        if self.unaccounted:
            logger.warning(
                "bulk rent_any: %d numbers appeared since the job began but only %d requests "
                "had unknown outcomes; the rest (%s) are reported as unaccounted",
                len(appeared),
                len(unknown),
                ", ".join(number.phone_number for number in self.unaccounted),
            )

    async def _owned(self) -> list[ActiveNumber]:
        listing = self.client.active_numbers.list(
            region_code=self._region_code,
            number_type=self._number_type,
            page_size=LISTING_PAGE_SIZE,
        )
        return [number async for number in listing]

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        # Unknown outcomes were settled from the listing before the first item.
        return await self.client.available_numbers.rent_any(
            self._region_code,
            self._number_type,
            pattern=self._pattern,
            search_pattern=self._search_pattern,
            capabilities=self._capabilities,
            sms=self._sms,
            voice=self._voice,
            callback_url=self._callback_url,
        )


class Update(Operation):
    """``update``: a PATCH is idempotent, so an unknown outcome is simply redone."""

    name = "update"
    records_intent = False

    def __init__(
        self,
        client: BulkClient,
        request: Mapping[str, Any],
        *,
        display_name: str | None,
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> None:
        super().__init__(client, request)
        self._display_name, self._sms, self._voice = display_name, sms, voice
        self._callback_url = callback_url

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        return await self.client.active_numbers.update(
            item,
            display_name=self._display_name,
            sms=self._sms,
            voice=self._voice,
            callback_url=self._callback_url,
        )


class Release(Operation):
    """``release``: released again if unknown; ``404`` then means the earlier attempt did it."""

    name = "release"

    def __init__(self, client: BulkClient) -> None:
        super().__init__(client, {})

    async def confirm(self, recorded: ActiveNumber) -> ActiveNumber | None:
        """Released if the project no longer owns the number (``404``)."""
        try:
            await self.client.active_numbers.get(recorded.phone_number)
        except NotFoundError:
            return recorded
        return None

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        try:
            return await self.client.active_numbers.release(item)
        except ApiError as exc:
            meaning = after_unknown(Op.RELEASE.value, exc.status) if was_unknown else None
            if meaning is not Settlement.DONE:
                raise
            # The earlier attempt released it; the API has nothing more to say about a
            # number the project no longer owns.
            return ActiveNumber(phone_number=item)
