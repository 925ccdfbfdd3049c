"""Running a bulk job: the scheduler that keeps ``concurrency`` items in flight.

``BulkJob`` pulls items from its input as slots free up, takes the outcome of an item the
journal already settled, runs the others as tasks through their ``Operation``, records
each outcome in the journal before it is reported, and streams outcomes as they complete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Generator, Iterable, Sized
from types import TracebackType
from typing import Any

from numbers_async.bulk._inputs import END, STOPPED, Source, key, pulled
from numbers_async.bulk._journal import Journal, JournalPath
from numbers_async.bulk._operations import Operation, Unsettled, maybe_processed
from numbers_async.bulk._results import BulkFailure, BulkOutcome, BulkProgress, BulkReport, Item
from numbers_async.errors import NumbersError
from numbers_async.models import ActiveNumber

__all__ = ["BulkJob", "BulkStream"]


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
        operation: Operation,
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
        source = Source(self._items)
        try:
            if self._journal_path is not None:
                journal = await self._operation.open_journal(self._journal_path)
            while True:
                while self._may_start() and not source.is_async:
                    item = source.next_sync()
                    if item is END:
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
                    item = pulled(self._pull)
                    self._pull = None
                    if item is END:
                        source.exhausted = True
                    elif item is not STOPPED:
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

    def _may_pull(self, source: Source) -> bool:
        return source.is_async and not source.exhausted and self._pull is None and self._may_start()

    def _start(self, item: Any, journal: Journal | None) -> BulkOutcome | None:
        """Start one item: its outcome now if the journal has it, else None (a task runs)."""
        item_key = key(item)
        was_unknown = False
        if journal is not None:
            number = journal.succeeded(item_key)
            if number is not None:
                return BulkOutcome(item, number=number, resumed=True)
            was_unknown = journal.status(item_key) == "unknown"
        task = asyncio.get_running_loop().create_task(
            self._run_item(item, item_key, journal, was_unknown),
            name=f"numbers-async bulk {self._operation.name} {item_key}",
        )
        self._pending.add(task)
        return None

    async def _run_item(
        self, item: Any, item_key: Item, journal: Journal | None, was_unknown: bool
    ) -> BulkOutcome:
        if journal is not None and self._operation.records_intent:
            await journal.record_intent(item_key)
        try:
            number = await self._operation.call(item, was_unknown)
        except Unsettled as unsettled:
            error, unknown = unsettled.error, True
        except NumbersError as exc:
            error, unknown = exc, maybe_processed(exc)
        else:
            if journal is not None:
                await journal.record_success(item_key, number)
            return BulkOutcome(item, number=number)
        if journal is not None:
            await journal.record_failure(item_key, error, unknown=unknown)
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
