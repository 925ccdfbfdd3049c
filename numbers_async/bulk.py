"""Bulk jobs: rent, rent any, update or release many numbers concurrently — and resumably.

``client.bulk`` fans one operation out over many items with bounded concurrency. One
item's failure never stops the others, every item ends in exactly one outcome, and a
journal file makes a job that was cancelled, interrupted or killed safe to run again::

    report = await client.bulk.release(phone_numbers, concurrency=20)
    print(len(report.succeeded), "released;", len(report.failed), "failed")

    job = client.bulk.rent(phone_numbers, journal="rent.jsonl")
    async with job.stream() as outcomes:        # outcomes as they complete, no report kept
        async for outcome in outcomes:
            ...

How a journal is reconciled on a rerun (see the README, "Bulk jobs"):

- an item that succeeded is not sent again: its outcome comes from the journal;
- an item that failed (the API refused it, or it was never sent) is tried again;
- an item whose outcome is unknown (its intent was recorded, then the response was lost,
  the job was cancelled or the process died) is checked before anything is sent:

  - ``rent``: ``GET activeNumbers/{phone}``; if the project owns the number, that is the
    success, otherwise it is rented;
  - ``rent_any``: before its first request the job records the numbers the project already
    owns in that region and type (the *baseline*). The numbers owned now that are neither
    in the baseline nor recorded as rented by this job are what the lost requests rented;
    they are assigned to the unknown items, and only the rest are rented again;
  - ``release``: released again; ``404`` means the earlier attempt did it;
  - ``update``: sent again (a PATCH is idempotent).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import os
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import attrs

from numbers_async import _operations as ops
from numbers_async._convert import structure, unstructure
from numbers_async._journal import Journal
from numbers_async.errors import (
    ApiError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    NumbersError,
    TransportError,
)
from numbers_async.models import (
    ActiveNumber,
    Capability,
    NumberType,
    SearchPattern,
    SmsConfiguration,
    VoiceConfiguration,
)

if TYPE_CHECKING:
    from numbers_async._client import NumbersClient

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Bulk",
    "BulkFailure",
    "BulkJob",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "BulkStream",
]

logger = logging.getLogger("numbers_async.bulk")

DEFAULT_CONCURRENCY: Final = 20
"""Items in flight at once when a job is not given ``concurrency``."""

# A well-formed number, only used to validate a job's arguments before it starts.
_PLACEHOLDER_PHONE: Final = "+10000000000"
# Listing page size for the rent_any baseline and reconciliation.
_LISTING_PAGE_SIZE: Final = 1000

Item = str | int
PhoneNumbers = Iterable[str] | AsyncIterable[str]
JournalPath = str | os.PathLike[str]


@attrs.frozen
class BulkOutcome:
    """How one item of a bulk job ended: a number, or an error.

    Attributes:
        item: the phone number, or for ``rent_any`` the attempt number (``0`` to
            ``count - 1``).
        number: the ``ActiveNumber`` the API returned (``None`` on failure). A release
            that an earlier, lost attempt already did carries only ``phone_number``.
        error: the ``NumbersError`` the item failed with (``None`` on success).
        outcome_unknown: the request may have taken effect although it failed (the
            response was lost); a rerun with the journal checks before acting.
        resumed: settled without a request in this run: taken from the journal, or found
            by reconciliation.
    """

    item: Item
    number: ActiveNumber | None = None
    error: NumbersError | None = None
    outcome_unknown: bool = False
    resumed: bool = False

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.error is None


@attrs.frozen
class BulkFailure:
    """An item that failed: which one, the ``NumbersError``, and whether it may have acted.

    ``item`` is the phone number, or for ``rent_any`` the attempt number.
    ``outcome_unknown`` is true when the request may have taken effect anyway (its
    response was lost); rerunning the job with its journal settles it.
    """

    item: Item
    error: NumbersError
    outcome_unknown: bool = False


@attrs.frozen
class BulkProgress:
    """What ``on_progress`` is told each time an item finishes.

    Attributes:
        outcome: the item that just finished.
        done, succeeded, failed: items finished so far (``done == succeeded + failed``).
        total: how many items the job has, when known (a sized input, or ``count``).
        elapsed: seconds since the job started.
    """

    outcome: BulkOutcome
    done: int
    succeeded: int
    failed: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Items finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@attrs.frozen
class BulkReport:
    """The result of a bulk job.

    Attributes:
        operation: ``"rent"``, ``"rent_any"``, ``"update"`` or ``"release"``.
        succeeded: the ``ActiveNumber`` of every item that succeeded, in completion order
            (on a rerun, those taken from the journal too).
        failed: a ``BulkFailure`` for every item that failed.
        elapsed: seconds the job ran.
        resumed: how many of ``succeeded`` were settled without a request in this run.
        stopped: ``BulkJob.stop()`` ended the job before every item was started.
    """

    operation: str
    succeeded: list[ActiveNumber]
    failed: list[BulkFailure]
    elapsed: float
    resumed: int = 0
    stopped: bool = False

    @property
    def ok(self) -> bool:
        """Every item succeeded: nothing failed and the job was not stopped early."""
        return not self.failed and not self.stopped

    @property
    def total(self) -> int:
        """Items with an outcome (``len(succeeded) + len(failed)``)."""
        return len(self.succeeded) + len(self.failed)

    @property
    def unknown(self) -> int:
        """Failed items whose request may have taken effect anyway."""
        return sum(1 for failure in self.failed if failure.outcome_unknown)

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.total / self.elapsed if self.elapsed > 0 else 0.0


class BulkStream:
    """The outcomes of a job as they complete: an async iterator and context manager.

    Leaving the ``async with`` block (or ``aclose()``) before the end cancels the items in
    flight; with a journal, a rerun settles them.
    """

    def __init__(self, outcomes: AsyncGenerator[BulkOutcome, None]) -> None:
        self._outcomes = outcomes

    def __aiter__(self) -> BulkStream:
        return self

    async def __anext__(self) -> BulkOutcome:
        return await self._outcomes.__anext__()

    async def aclose(self) -> None:
        """Stop the job now: cancel what is in flight and close the journal."""
        await self._outcomes.aclose()

    async def __aenter__(self) -> BulkStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class BulkJob:
    """One bulk job, ready to run once: ``await`` it for a report, or ``stream()`` it.

    ``report = await job`` runs the job to the end and returns a ``BulkReport``.
    ``async with job.stream() as outcomes`` yields each ``BulkOutcome`` as it completes,
    for jobs too large to keep a report of. ``job.stop()`` ends it gracefully.
    """

    def __init__(
        self,
        operation: _Operation,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int,
        journal: JournalPath | None,
        on_progress: Callable[[BulkProgress], None] | None,
    ) -> None:
        self._operation = operation
        self._items = items
        self._concurrency = concurrency
        self._journal_path = journal
        self._on_progress = on_progress
        self._total = len(items) if isinstance(items, Sized) else None
        self._started = False
        self._stopping = False
        self._pull: asyncio.Task[Any] | None = None
        self._pending: set[asyncio.Task[BulkOutcome]] = set()
        self._done = self._succeeded = 0
        self._clock_start = 0.0
        self._input_exhausted = False
        self._unreported: list[BulkOutcome] = []

    @property
    def operation(self) -> str:
        """``"rent"``, ``"rent_any"``, ``"update"`` or ``"release"``."""
        return self._operation.name

    @property
    def total(self) -> int | None:
        """How many items the job has, when known."""
        return self._total

    @property
    def in_flight(self) -> int:
        """Items started and not yet finished (never more than ``concurrency``)."""
        return len(self._pending)

    @property
    def unreported(self) -> tuple[BulkOutcome, ...]:
        """Outcomes reached but never yielded: the stream was closed or cancelled first.

        That happens on ``break`` out of ``async for`` or a second Ctrl-C in the CLI. Items
        that had finished by then (a number rented, say) are here rather than lost; items
        still in flight were cancelled and are not. Empty for a job that ran to its end. A
        journal records these outcomes too.
        """
        return tuple(self._unreported)

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopping

    def stop(self) -> None:
        """Start no more items; the ones in flight finish and are recorded, then it ends.

        The report then has ``stopped=True``. Unlike cancelling, no request is cut off
        midway. Safe to call from a signal handler (``loop.add_signal_handler``).
        """
        self._stopping = True
        if self._pull is not None:
            self._pull.cancel()  # waiting for the next input item: stop waiting

    def __await__(self) -> Generator[Any, None, BulkReport]:
        return self.run().__await__()

    async def run(self) -> BulkReport:
        """Run the job to the end and return its report."""
        succeeded: list[ActiveNumber] = []
        failed: list[BulkFailure] = []
        resumed = 0
        async with self.stream() as outcomes:
            async for outcome in outcomes:
                if outcome.number is not None:
                    succeeded.append(outcome.number)
                    resumed += outcome.resumed
                elif outcome.error is not None:
                    failed.append(BulkFailure(outcome.item, outcome.error, outcome.outcome_unknown))
        return BulkReport(
            self._operation.name,
            succeeded,
            failed,
            elapsed=time.perf_counter() - self._clock_start,
            resumed=resumed,
            stopped=self._stopped_early(),
        )

    def _stopped_early(self) -> bool:
        if not self._stopping or self._input_exhausted:
            return False
        return self._total is None or self._done < self._total

    def stream(self) -> BulkStream:
        """The outcomes as they complete; use it with ``async with`` and ``async for``."""
        if self._started:
            raise RuntimeError("a BulkJob runs only once; start a new job")
        self._started = True
        self._clock_start = time.perf_counter()
        return BulkStream(self._outcomes())

    async def _outcomes(self) -> AsyncGenerator[BulkOutcome, None]:
        journal: Journal | None = None
        source = _Source(self._items)
        try:
            if self._journal_path is not None:
                journal = await self._operation.open_journal(self._journal_path)
            while True:
                while self._may_start() and not source.is_async:
                    item = source.next_sync()
                    if item is _END:
                        break
                    outcome = self._start(item, journal)
                    if outcome is not None:
                        yield self._finished(outcome)
                if self._may_pull(source):
                    self._pull = asyncio.get_running_loop().create_task(
                        source.next_async(), name="numbers-async bulk input"
                    )
                waiting: set[asyncio.Future[Any]] = set(self._pending)
                if self._pull is not None:
                    waiting.add(self._pull)
                if not waiting:
                    break
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if self._pull is not None and self._pull in done:
                    item = _pulled(self._pull)
                    self._pull = None
                    if item is _END:
                        source.exhausted = True
                    elif item is not _STOPPED:
                        outcome = self._start(item, journal)
                        if outcome is not None:
                            yield self._finished(outcome)
                for task in done:
                    if task in self._pending:
                        self._pending.discard(task)
                        yield self._finished(task.result())
        finally:
            self._input_exhausted = source.exhausted
            await self._cancel_all()
            if journal is not None:
                await journal.aclose()

    def _may_start(self) -> bool:
        return not self._stopping and len(self._pending) < self._concurrency

    def _may_pull(self, source: _Source) -> bool:
        return source.is_async and not source.exhausted and self._pull is None and self._may_start()

    def _start(self, item: Any, journal: Journal | None) -> BulkOutcome | None:
        """Start one item: its outcome now if the journal has it, else None (a task runs)."""
        key = _key(item)
        was_unknown = False
        if journal is not None:
            status = journal.state.status.get(key)
            if status == "succeeded":
                number = structure(journal.state.numbers[key], ActiveNumber)
                return BulkOutcome(item, number=number, resumed=True)
            was_unknown = status == "unknown"
        task = asyncio.get_running_loop().create_task(
            self._run_item(item, key, journal, was_unknown),
            name=f"numbers-async bulk {self._operation.name} {key}",
        )
        self._pending.add(task)
        return None

    async def _run_item(
        self, item: Any, key: Item, journal: Journal | None, was_unknown: bool
    ) -> BulkOutcome:
        if journal is not None and self._operation.records_intent:
            await journal.record(key, "intent")
        try:
            number = await self._operation.call(item, was_unknown)
        except _Unsettled as unsettled:
            error, unknown = unsettled.error, True
        except NumbersError as exc:
            error, unknown = exc, _may_have_acted(exc)
        else:
            if journal is not None:
                await journal.record(key, "succeeded", number=unstructure(number))
            return BulkOutcome(item, number=number)
        if journal is not None:
            await journal.record(key, "unknown" if unknown else "failed", **_describe(error))
        return BulkOutcome(item, error=error, outcome_unknown=unknown)

    def _finished(self, outcome: BulkOutcome) -> BulkOutcome:
        self._done += 1
        self._succeeded += outcome.ok
        if self._on_progress is not None:
            self._on_progress(
                BulkProgress(
                    outcome,
                    done=self._done,
                    succeeded=self._succeeded,
                    failed=self._done - self._succeeded,
                    total=self._total,
                    elapsed=time.perf_counter() - self._clock_start,
                )
            )
        return outcome

    async def _cancel_all(self) -> None:
        tasks: set[asyncio.Future[Any]] = set(self._pending)
        pull = self._pull
        if pull is not None:
            tasks.add(pull)
        self._pending.clear()
        self._pull = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if task.cancelled():
                continue
            error = task.exception()  # retrieved, so asyncio does not log it as lost
            if task is not pull and error is None:
                self._unreported.append(task.result())  # it finished before the cancel


class Bulk:
    """``client.bulk``: run one operation over many numbers.

    Each method takes an iterable or async iterable of items (consumed lazily: at most
    ``concurrency`` items are in flight, however long the input), and returns a
    ``BulkJob``: ``await`` it for a ``BulkReport``, or ``stream()`` it. Common arguments:

    - ``concurrency``: items in flight at once (default 20). The client's
      ``max_concurrency`` still bounds the requests.
    - ``journal``: a file path. Each outcome is appended as it happens (flushed and
      fsynced), and intent is recorded before each rent, rent_any and release request.
      Rerun the same job with the same journal and it skips what succeeded, retries
      what failed, and checks the API before acting on items whose outcome is unknown.
      A journal refuses to drive a job of another operation or with other arguments.
    - ``on_progress``: called with a ``BulkProgress`` as each item finishes (on the event
      loop: keep it quick; an exception from it stops the job).

    Arguments are checked before anything is sent (``InvalidInputError``); a bad item
    (say, a malformed number) only fails that item.
    """

    def __init__(self, client: NumbersClient) -> None:
        self._client = client

    def rent(
        self,
        phone_numbers: PhoneNumbers,
        *,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: JournalPath | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
    ) -> BulkJob:
        """Rent each of ``phone_numbers`` with the same configuration (this costs money).

        Example: ``report = await client.bulk.rent(numbers, sms=SmsConfiguration(...))``.
        """
        request = ops.rent(_PLACEHOLDER_PHONE, sms=sms, voice=voice, callback_url=callback_url)
        operation = _Rent(self._client, dict(request.json or {}), sms, voice, callback_url)
        return self._job(operation, phone_numbers, concurrency, journal, on_progress)

    def rent_any(
        self,
        count: int,
        region_code: str,
        number_type: NumberType | str,
        *,
        pattern: str | None = None,
        search_pattern: SearchPattern | str | None = None,
        capabilities: Iterable[Capability | str] | Capability | str | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: JournalPath | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
    ) -> BulkJob:
        """Rent ``count`` numbers matching the criteria, whichever they are (costs money).

        Items are the attempt numbers ``0`` to ``count - 1``. With a journal, the numbers
        the project already owns in ``region_code`` and ``number_type`` are recorded first,
        so that a rerun can tell which numbers lost requests rented: don't rent numbers of
        that region and type by other means until such a job has been settled.
        """
        ops.check_positive_int("count", count)
        if capabilities is not None and not isinstance(capabilities, str):
            capabilities = list(capabilities)
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
        arguments = {
            "region_code": region_code,
            "number_type": number_type,
            "pattern": pattern,
            "search_pattern": search_pattern,
            "capabilities": capabilities,
            "sms": sms,
            "voice": voice,
            "callback_url": callback_url,
        }
        operation = _RentAny(self._client, dict(request.json or {}), count, arguments)
        return self._job(operation, range(count), concurrency, journal, on_progress)

    def update(
        self,
        phone_numbers: PhoneNumbers,
        *,
        display_name: str | None = None,
        sms: SmsConfiguration | None = None,
        voice: VoiceConfiguration | None = None,
        callback_url: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: JournalPath | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
    ) -> BulkJob:
        """Apply the same update to each of ``phone_numbers`` (only the arguments given)."""
        request = ops.update_active(
            _PLACEHOLDER_PHONE,
            display_name=display_name,
            sms=sms,
            voice=voice,
            callback_url=callback_url,
        )
        fields = {"display_name": display_name, "sms": sms, "voice": voice}
        fields["callback_url"] = callback_url
        operation = _Update(self._client, dict(request.json or {}), fields)
        return self._job(operation, phone_numbers, concurrency, journal, on_progress)

    def release(
        self,
        phone_numbers: PhoneNumbers,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: JournalPath | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
    ) -> BulkJob:
        """Release each of ``phone_numbers``."""
        return self._job(_Release(self._client), phone_numbers, concurrency, journal, on_progress)

    @staticmethod
    def _job(
        operation: _Operation,
        items: Iterable[Any] | AsyncIterable[Any],
        concurrency: int,
        journal: JournalPath | None,
        on_progress: Callable[[BulkProgress], None] | None,
    ) -> BulkJob:
        if isinstance(items, str | bytes) or not isinstance(items, Iterable | AsyncIterable):
            raise InvalidInputError(
                "phone_numbers", "must be an iterable or async iterable of phone numbers", items
            )
        ops.check_positive_int("concurrency", concurrency)
        if journal is not None and not isinstance(journal, str | os.PathLike):
            raise InvalidInputError("journal", "must be a file path", journal)
        if on_progress is not None and not callable(on_progress):
            raise InvalidInputError("on_progress", "must be callable", on_progress)
        return BulkJob(
            operation,
            items,
            concurrency=concurrency,
            journal=journal,
            on_progress=on_progress,
        )


# --- the operations --------------------------------------------------------------------------


class _Unsettled(Exception):
    """Checking an unknown outcome failed: the item's outcome is still unknown."""

    def __init__(self, error: NumbersError) -> None:
        super().__init__(str(error))
        self.error = error


class _Operation(abc.ABC):
    """What a job does to one item, and how it settles an unknown outcome."""

    name = ""
    records_intent = True  # before each request: set for the calls that are not idempotent

    def __init__(self, client: NumbersClient, request: Mapping[str, Any]) -> None:
        self.client = client
        self.request = request  # the JSON body every item sends (journal header)

    async def open_journal(self, path: JournalPath) -> Journal:
        """Open the job's journal (and settle what it must before the first item)."""
        return await Journal.open(path, self.name, self.request)

    @abc.abstractmethod
    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        """Do the operation on ``item``; ``was_unknown``: an earlier attempt may have acted."""


class _Rent(_Operation):
    name = "rent"

    def __init__(
        self,
        client: NumbersClient,
        request: Mapping[str, Any],
        sms: SmsConfiguration | None,
        voice: VoiceConfiguration | None,
        callback_url: str | None,
    ) -> None:
        super().__init__(client, request)
        self._sms, self._voice, self._callback_url = sms, voice, callback_url

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        if was_unknown:
            try:
                return await self.client.active_numbers.get(item)
            except NotFoundError:
                pass  # not ours: the earlier attempt did not rent it
            except NumbersError as exc:
                raise _Unsettled(exc) from exc
        return await self.client.available_numbers.rent(
            item, sms=self._sms, voice=self._voice, callback_url=self._callback_url
        )


class _RentAny(_Operation):
    name = "rent_any"

    def __init__(
        self,
        client: NumbersClient,
        request: Mapping[str, Any],
        count: int,
        arguments: Mapping[str, Any],
    ) -> None:
        super().__init__(client, {**request, "count": count})
        self._region_code, self._number_type = request["regionCode"], request["type"]
        self._arguments = arguments

    async def open_journal(self, path: JournalPath) -> Journal:
        journal = await super().open_journal(path)
        try:
            await self._settle(journal)
        except BaseException:
            await journal.aclose()
            raise
        return journal

    async def _settle(self, journal: Journal) -> None:
        state = journal.state
        if state.baseline is None:
            # Before the first rentAny: what the project owns already cannot be ours.
            owned = sorted(number.phone_number for number in await self._owned())
            await journal.append([{"baseline": owned}])
            state.baseline = frozenset(owned)
        unknown = sorted(item for item, status in state.status.items() if status == "unknown")
        if not unknown:
            return
        accounted = state.baseline | state.succeeded_phones()
        appeared = sorted(
            (number for number in await self._owned() if number.phone_number not in accounted),
            key=lambda number: number.phone_number,
        )
        if len(appeared) > len(unknown):
            logger.warning(
                "bulk rent_any: %d numbers appeared since the job began but only %d requests "
                "had unknown outcomes; the rest were rented by something else",
                len(appeared),
                len(unknown),
            )
        for item, number in zip(unknown, appeared, strict=False):
            await journal.record(item, "succeeded", number=unstructure(number), reconciled=True)
        for item in unknown[len(appeared) :]:
            del state.status[item]  # proved not rented: rent it as if new

    async def _owned(self) -> list[ActiveNumber]:
        listing = self.client.active_numbers.list(
            region_code=self._region_code,
            number_type=self._number_type,
            page_size=_LISTING_PAGE_SIZE,
        )
        return [number async for number in listing]

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        # Unknown outcomes were settled from the listing when the journal was opened.
        return await self.client.available_numbers.rent_any(**self._arguments)


class _Update(_Operation):
    name = "update"
    records_intent = False  # a PATCH is idempotent: an unknown outcome is simply redone

    def __init__(
        self, client: NumbersClient, request: Mapping[str, Any], fields: Mapping[str, Any]
    ) -> None:
        super().__init__(client, request)
        self._fields = fields

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        return await self.client.active_numbers.update(item, **self._fields)


class _Release(_Operation):
    name = "release"

    def __init__(self, client: NumbersClient) -> None:
        super().__init__(client, {})

    async def call(self, item: Any, was_unknown: bool) -> ActiveNumber:
        try:
            return await self.client.active_numbers.release(item)
        except NotFoundError:
            if not was_unknown:
                raise
            # The earlier attempt released it; the API has nothing more to say about a
            # number the project no longer owns.
            return ActiveNumber(phone_number=item)


# --- helpers ---------------------------------------------------------------------------------


def _may_have_acted(error: NumbersError) -> bool:
    """Whether a failed request may still have taken effect (its outcome is unknown)."""
    if isinstance(error, InvalidInputError | AuthenticationError):
        return False  # refused before anything was sent, or at the door
    if isinstance(error, TransportError):
        return bool(getattr(error, "request_sent", True))
    if isinstance(error, ApiError):
        return error.status >= 500  # a 4xx was refused; a 5xx (or a gateway) may have acted
    return True  # AmbiguousOutcomeError, DecodeError (a 2xx that could not be read), ...


def _describe(error: NumbersError) -> dict[str, Any]:
    fields: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, ApiError):
        fields["status"] = error.status
    return fields


def _key(item: Any) -> Item:
    """The journal key of an item: itself if it is a string or an int, else its repr."""
    if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
        return item
    return repr(item)


class _EndOfInput:
    pass


_END: Final = _EndOfInput()
_STOPPED: Final = _EndOfInput()


class _Source:
    """The job's input, pulled one item at a time."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any]) -> None:
        self.is_async = isinstance(items, AsyncIterable)
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)
        self.exhausted = False

    def next_sync(self) -> Any:
        assert self._sync is not None  # noqa: S101 - only called for sync input
        if self.exhausted:
            return _END
        item = next(self._sync, _END)
        self.exhausted = item is _END
        return item

    async def next_async(self) -> Any:
        assert self._async is not None  # noqa: S101 - only called for async input
        if self.exhausted:
            return _END
        try:
            return await anext(self._async)
        except StopAsyncIteration:
            return _END


def _pulled(task: asyncio.Task[Any]) -> Any:
    """The item a pull task got; ``_STOPPED`` if ``stop()`` cancelled it."""
    if task.cancelled():
        return _STOPPED
    return task.result()
