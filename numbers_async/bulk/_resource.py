"""``client.bulk``: checks a job's arguments and builds the ``BulkJob`` that runs it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Final

from numbers_async import _operations as ops
from numbers_async._observe import Observer
from numbers_async.bulk._job import BulkJob
from numbers_async.bulk._journal import FileJournal, JournalPath
from numbers_async.bulk._operations import BulkClient, Operation, Release, Rent, RentAny, Update
from numbers_async.bulk._results import BulkProgress
from numbers_async.bulk._store import JournalStore
from numbers_async.errors import InvalidInputError
from numbers_async.models import (
    Capability,
    CapabilityName,
    NumberType,
    NumberTypeName,
    SearchPattern,
    SearchPatternName,
    SmsConfiguration,
    VoiceConfiguration,
)

__all__ = ["DEFAULT_CONCURRENCY", "Bulk"]

DEFAULT_CONCURRENCY: Final = 20
"""Items in flight at once when a job is not given ``concurrency``."""

# A well-formed number, only used to validate a job's arguments before it starts.
_PLACEHOLDER_PHONE: Final = "+10000000000"

PhoneNumbers = Iterable[str] | AsyncIterable[str]
Journal = JournalPath | JournalStore


class Bulk:
    """``client.bulk``: run one operation over many numbers.

    Each method takes an iterable or async iterable of items (consumed lazily: at most
    ``concurrency`` items are in flight, however long the input), and returns a
    ``BulkJob``: ``await`` it for a ``BulkReport``, or ``stream()`` it. Common arguments:

    - ``concurrency``: items in flight at once (default 20). The client's
      ``max_concurrency`` still bounds the requests.
    - ``journal``: a file path (or ``FileJournal``), or a ``RedisJournal`` shared by
      several worker processes. Each outcome is recorded as it happens (a file: flushed
      and fsynced), and intent is recorded before each rent, rent_any and release
      request. Rerun the same job with the same journal and it skips what succeeded,
      retries what failed, and checks the API before acting on items whose outcome is
      unknown — after waiting until the earlier run's requests must have ended (see the
      bulk guide). A journal refuses to drive a job of another operation or with other
      arguments, and a rerun whose input lacks items the journal records as succeeded.
    - ``on_progress``: called with a ``BulkProgress`` as each item finishes (on the event
      loop: keep it quick; an exception from it stops the job).
    - ``verify_resumed``: ask the server (``GET activeNumbers/{phone}``) about each item
      the journal records as succeeded before reporting it (default False: the journal
      is trusted). An item the server contradicts is done again, as if never tried.

    Arguments are checked before anything is sent (``InvalidInputError``); a bad item
    (say, a malformed number) only fails that item.
    """

    def __init__(self, client: BulkClient, *, observer: Observer | None = None) -> None:
        self._client = client
        self._observer = observer  # the client's: a job and its items as spans

    def rent(
        self,
        phone_numbers: PhoneNumbers,
        *,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Journal | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        verify_resumed: bool = False,
    ) -> BulkJob:
        """Rent each of ``phone_numbers`` with the same configuration (this costs money).

        Example: ``report = await client.bulk.rent(numbers, sms=SmsConfiguration(...))``.
        """
        request = ops.rent(_PLACEHOLDER_PHONE, sms=sms, voice=voice, callback_url=callback_url)
        operation = Rent(self._client, dict(request.json or {}), sms, voice, callback_url)
        return self._job(
            operation, phone_numbers, concurrency, journal, on_progress, verify_resumed
        )

    def rent_any(
        self,
        count: int,
        region_code: str,
        number_type: NumberType | NumberTypeName,
        *,
        pattern: str | None = None,
        search_pattern: SearchPattern | SearchPatternName | None = None,
        capabilities: Iterable[Capability | CapabilityName]
        | Capability
        | CapabilityName
        | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Journal | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        verify_resumed: bool = False,
    ) -> BulkJob:
        """Rent ``count`` numbers matching the criteria, whichever they are (costs money).

        Items are the rent indexes ``0`` to ``count - 1``. With a journal, the numbers
        the project already owns in ``region_code`` and ``number_type`` are recorded first,
        so that a rerun can tell which numbers lost requests rented: don't rent numbers of
        that region and type by other means until such a job has been settled.
        """
        ops.check_positive_int("count", count)
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
        operation = RentAny(self._client, dict(request.json or {}), count, sms, voice, callback_url)
        return self._job(operation, range(count), concurrency, journal, on_progress, verify_resumed)

    def update(
        self,
        phone_numbers: PhoneNumbers,
        *,
        display_name: str | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Journal | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        verify_resumed: bool = False,
    ) -> BulkJob:
        """Apply the same update to each of ``phone_numbers`` (only the arguments given)."""
        request = ops.update_active(
            _PLACEHOLDER_PHONE,
            display_name=display_name,
            sms=sms,
            voice=voice,
            callback_url=callback_url,
        )
        operation = Update(
            self._client,
            dict(request.json or {}),
            display_name=display_name,
            sms=sms,
            voice=voice,
            callback_url=callback_url,
        )
        return self._job(
            operation, phone_numbers, concurrency, journal, on_progress, verify_resumed
        )

    def release(
        self,
        phone_numbers: PhoneNumbers,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Journal | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        verify_resumed: bool = False,
    ) -> BulkJob:
        """Release each of ``phone_numbers``."""
        return self._job(
            Release(self._client), phone_numbers, concurrency, journal, on_progress, verify_resumed
        )

    def _job(
        self,
        operation: Operation,
        items: Iterable[Any] | AsyncIterable[Any],
        concurrency: int,
        journal: Journal | None,
        on_progress: Callable[[BulkProgress], None] | None,
        verify_resumed: bool,
    ) -> BulkJob:
        if isinstance(items, str | bytes) or not isinstance(items, Iterable | AsyncIterable):
            raise InvalidInputError(
                "phone_numbers", "must be an iterable or async iterable of phone numbers", items
            )
        ops.check_positive_int("concurrency", concurrency)
        store: JournalStore | None = None
        if isinstance(journal, str | os.PathLike):
            store = FileJournal(journal)
        elif isinstance(journal, JournalStore):
            store = journal
        elif journal is not None:
            raise InvalidInputError(
                "journal", "must be a file path, a FileJournal or a RedisJournal", journal
            )
        if on_progress is not None and not callable(on_progress):
            raise InvalidInputError("on_progress", "must be callable", on_progress)
        if not isinstance(verify_resumed, bool):
            raise InvalidInputError("verify_resumed", "must be True or False", verify_resumed)
        return BulkJob(
            operation,
            items,
            concurrency=concurrency,
            journal=store,
            on_progress=on_progress,
            verify_resumed=verify_resumed,
            observer=self._observer,
        )
