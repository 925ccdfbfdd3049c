"""Running a bulk job: the scheduler that keeps ``concurrency`` items in flight.

``BulkJob`` pulls items from its input as slots free up, takes the outcome of an item the
journal already settled, runs the others as tasks through their ``Operation``, records
each outcome in the journal before it is reported, and streams outcomes as they complete.

With a journal, before the first item: the input is checked against what the journal
records as succeeded (a list up front, a stream item by item), then — if an earlier run
left items unsettled — the job waits until that run's requests must have ended, and only
then settles them.

With OpenTelemetry configured (the client's ``Observer``), the job is one span, its
counts set when it ends, and its items spans below it (``_otel.ITEM_SPANS`` says which).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Callable,
    Collection,
    Coroutine,
    Generator,
    Iterable,
    Sized,
)
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Final

from numbers_async._observe import JobTrace, Observer
from numbers_async._retry import maybe_processed
from numbers_async.bulk._inputs import END, STOPPED, Source, key, numbered, pulled
from numbers_async.bulk._operations import Operation, Unsettled
from numbers_async.bulk._results import BulkFailure, BulkOutcome, BulkProgress, BulkReport, Item
from numbers_async.bulk._store import JournalStore, OpenJournal, Withdrawn, Work
from numbers_async.errors import InvalidInputError, NumbersError
from numbers_async.models import ActiveNumber

__all__ = ["BulkJob", "BulkStream"]

logger = logging.getLogger("numbers_async.bulk")

# How often a rerun's wait looks at stop() (seconds).
_STOP_CHECK: Final = 0.1


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


class BulkJob(Coroutine[Any, Any, BulkReport]):
    """One bulk job, ready to run once: ``await`` it for a report, or ``stream()`` it.

    ``report = await job`` runs the job to the end and returns a ``BulkReport``.
    ``async with job.stream() as outcomes`` yields each ``BulkOutcome`` as it completes,
    for jobs too large to keep a report of. ``job.stop()`` ends it gracefully.

    A job is a coroutine (of ``run()``), so it goes wherever one does:
    ``asyncio.create_task(job)``, ``TaskGroup.create_task(job)``, ``asyncio.wait_for``,
    ``asyncio.gather``. Cancelling such a task cancels the items in flight, like leaving
    ``stream()`` early (their outcomes reached so far are in ``unreported``).
    """

    def __init__(
        self,
        operation: Operation,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int,
        journal: JournalStore | None,
        on_progress: Callable[[BulkProgress], None] | None,
        verify_resumed: bool,
        observer: Observer | None,
    ) -> None:
        self._operation = operation
        self._observer = observer
        self._trace: JobTrace | None = None  # the job's span, while it runs and traces
        self._items = items
        self._concurrency = concurrency
        self._journal_store = journal
        self._on_progress = on_progress
        self._verify_resumed = verify_resumed
        self._total = len(items) if isinstance(items, Sized) else None
        self._started = False
        self._stopping = False
        self._pull: asyncio.Task[Any] | None = None
        self._pending: set[asyncio.Task[BulkOutcome | None]] = set()
        self._done = self._succeeded = self._unknown = self._resumed = 0
        self._clock_start = 0.0
        self._input_exhausted = False
        self._unreported: list[BulkOutcome] = []
        self._coroutine: Coroutine[Any, Any, BulkReport] | None = None
        self._input_changed: InvalidInputError | None = None
        self._waiting_until: datetime | None = None

    @property
    def operation(self) -> str:
        """``"rent"``, ``"rent_any"``, ``"update"`` or ``"release"``."""
        return self._operation.name

    @property
    def total(self) -> int | None:
        """How many items the job has, when known.

        A worker on a shared journal does not know its share in advance: ``None`` once
        it has started.
        """
        return self._total

    @property
    def in_flight(self) -> int:
        """Items started and not yet finished (never more than ``concurrency``)."""
        return len(self._pending)

    @property
    def unreported(self) -> tuple[BulkOutcome, ...]:
        """Outcomes reached but never yielded: the stream was closed or cancelled first.

        That happens on ``break`` out of ``async for`` or a second Ctrl-C in the CLI. Items
        the server had answered by then (a number rented, say, even while its journal entry
        was still being written) are here rather than lost; items still waiting for an
        answer were cancelled and are not. Empty for a job that ran to its end. A journal
        records these outcomes too (one cut off mid-write is checked again on a rerun).
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

    @property
    def waiting_until(self) -> datetime | None:
        """While a rerun waits for an earlier run's requests to end: until when (UTC)."""
        return self._waiting_until

    # --- the coroutine protocol: a job is its run() ----------------------------------------

    def _run_coroutine(self) -> Coroutine[Any, Any, BulkReport]:
        if self._coroutine is None:
            self._coroutine = self.run()
        return self._coroutine

    def __await__(self) -> Generator[Any, None, BulkReport]:
        if self._coroutine is not None:
            raise RuntimeError("a BulkJob runs only once; start a new job")
        return self._run_coroutine().__await__()

    def send(self, value: Any) -> Any:
        """Part of the coroutine protocol (``asyncio`` drives the job with it)."""
        return self._run_coroutine().send(value)

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None, /) -> Any:
        """Part of the coroutine protocol (``asyncio`` cancels the job with it)."""
        if val is None and tb is None:
            return self._run_coroutine().throw(typ)
        return self._run_coroutine().throw(typ, val, tb)

    def close(self) -> None:
        """Part of the coroutine protocol: close a run that was started and not finished."""
        if self._coroutine is not None:
            self._coroutine.close()

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
            unaccounted=list(self._operation.unaccounted),
        )

    def _stopped_early(self) -> bool:
        # (A job whose input changed raises instead of reporting.)
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
        journal: OpenJournal | None = None
        source: Source | None = None
        if self._observer is not None:
            self._trace = self._observer.job(f"bulk.{self._operation.name}", self._total)
        failure: Exception | None = None
        try:
            work: Work = numbered(self._items)
            if self._journal_store is not None:
                journal = await self._operation.open_journal(self._journal_store)
                work, self._total = await journal.begin(self._items)
                if await self._wait_for_earlier_runs(journal):
                    await self._operation.reconcile(journal)
            source = Source(work)
            while True:
                while self._may_start() and not source.is_async:
                    pair = source.next_sync()
                    if pair is END:
                        break
                    outcome = self._start(pair, journal)
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
                    pair = pulled(self._pull)
                    self._pull = None
                    if pair is END:
                        source.exhausted = True
                    elif pair is not STOPPED and not self._stopping:
                        # An item pulled before a stop() that came too late to cancel
                        # the pull is not started: stop() starts no more items.
                        outcome = self._start(pair, journal)
                        if outcome is not None:
                            yield self._finished(outcome)
                for task in done:
                    if task in self._pending:
                        self._pending.discard(task)
                        finished = task.result()
                        if finished is not None:  # None: the journal gave it to another
                            yield self._finished(finished)
            if self._input_changed is not None:
                raise self._input_changed
        except Exception as exc:
            failure = exc
            raise
        finally:
            self._input_exhausted = source is not None and source.exhausted
            await self._cancel_all()
            if journal is not None:
                await journal.aclose()
            if self._trace is not None:
                self._trace.end(self._counts(), failure)

    def _may_start(self) -> bool:
        return not self._stopping and len(self._pending) < self._concurrency

    def _may_pull(self, source: Source) -> bool:
        return source.is_async and not source.exhausted and self._pull is None and self._may_start()

    def _changed_stream(self, journal: OpenJournal, seq: int, item_key: Item) -> bool:
        """Whether a streamed item differs from the one the journal saw succeed there."""
        if isinstance(self._items, Collection):
            return False
        recorded = journal.succeeded_at(seq)
        if recorded is None or recorded == item_key:
            return False
        self._input_changed = InvalidInputError(
            "phone_numbers",
            f"the input changed since {journal.where} was written: item {seq} is {item_key!r} "
            f"but the journal records {recorded!r} as succeeded there (streamed inputs are "
            "checked by position), so it is not the same job. The job stopped; rerun with "
            "the input the journal was written for, or start a new journal (another file)",
        )
        self.stop()
        return True

    async def _wait_for_earlier_runs(self, journal: OpenJournal) -> bool:
        """Wait until every request of an earlier run that may still act must have ended.

        False if ``stop()`` ended the wait: then nothing may be settled.
        """
        ended_at = journal.requests_ended_at(self._operation.window, self._operation.attempt_window)
        if ended_at is None or ended_at <= time.time():
            return not self._stopping
        until = datetime.fromtimestamp(ended_at, timezone.utc)
        self._waiting_until = until
        logger.info(
            "bulk %s: %d items of %s have unknown outcomes; waiting %.1fs (until %s) for the "
            "earlier run's requests to end before settling them",
            self._operation.name,
            len(journal.items_to_check()),
            journal.where,
            ended_at - time.time(),
            until.isoformat(timespec="seconds"),
        )
        if self._on_progress is not None:
            self._on_progress(self._progress(None, waiting_until=until))
        # The wall clock, as the earlier run's intents were timed by it (a sleep may end a
        # little early by it, hence the loop).
        while (remaining := ended_at - time.time()) > 0 and not self._stopping:  # noqa: ASYNC110
            await asyncio.sleep(min(remaining, _STOP_CHECK))  # stop() ends the wait
        self._waiting_until = None
        return not self._stopping

    def _start(self, pair: tuple[int, Any], journal: OpenJournal | None) -> BulkOutcome | None:
        """Start one item: its outcome now if the journal has it, else None (a task runs)."""
        seq, item = pair
        item_key = key(item)
        was_unknown = False
        if journal is not None:
            if self._changed_stream(journal, seq, item_key):
                return None
            number = journal.succeeded(item_key)
            if number is not None and not self._verify_resumed:
                return BulkOutcome(item, number=number, resumed=True)
            was_unknown = number is None and journal.needs_check(item_key)
            if number is not None:
                work = self._verified(item, item_key, seq, journal, number)
                return self._run(work, seq, item_key)
        return self._run(self._run_item(item, item_key, seq, journal, was_unknown), seq, item_key)

    def _run(
        self, work: Coroutine[Any, Any, BulkOutcome | None], seq: int, item_key: Item
    ) -> BulkOutcome | None:
        if self._trace is not None:
            work = self._traced(self._trace, seq, item_key, work)
        task = asyncio.get_running_loop().create_task(
            work, name=f"numbers-async bulk {self._operation.name} {item_key}"
        )
        self._pending.add(task)
        return None

    async def _verified(
        self, item: Any, item_key: Item, seq: int, journal: OpenJournal, recorded: ActiveNumber
    ) -> BulkOutcome | None:
        """A success the journal records, confirmed by the server before it is reported.

        If the server disagrees, the journal was wrong (edited, or forged): the item is
        done now as if never tried.
        """
        try:
            number = await self._operation.confirm(recorded)
        except NumbersError as exc:
            return BulkOutcome(item, error=exc)
        if number is not None:
            return BulkOutcome(item, number=number, resumed=True)
        logger.warning(
            "bulk %s: %s records %r as succeeded but the server says otherwise; doing it now",
            self._operation.name,
            journal.where,
            item_key,
        )
        return await self._run_item(item, item_key, seq, journal, was_unknown=False)

    async def _run_item(
        self, item: Any, item_key: Item, seq: int, journal: OpenJournal | None, was_unknown: bool
    ) -> BulkOutcome | None:
        if journal is not None and self._operation.records_intent:
            window = self._operation.intent_window(was_unknown)
            try:
                await journal.record_intent(
                    item_key, seq=seq, window=window, attempt_window=self._operation.attempt_window
                )
            except Withdrawn:
                return None  # another worker has it now: not ours to send
        try:
            number = await self._operation.call(item, was_unknown)
        except Unsettled as unsettled:
            error, unknown = unsettled.error, True
        except NumbersError as exc:
            error, unknown = exc, maybe_processed(exc)
        else:
            outcome = BulkOutcome(item, number=number)
            if journal is None:
                return outcome
            return await self._journaled(journal.record_success(item_key, number, seq=seq), outcome)
        outcome = BulkOutcome(item, error=error, outcome_unknown=unknown)
        if journal is None:
            return outcome
        return await self._journaled(
            journal.record_failure(item_key, error, unknown=unknown, seq=seq), outcome
        )

    async def _journaled(
        self, record: Coroutine[Any, Any, None], outcome: BulkOutcome
    ) -> BulkOutcome | None:
        """``outcome`` once ``record``, its journal entry, is durable.

        None if the journal has handed the item to another worker (which reports it). A job
        cancelled during the write still has the outcome (the server's answer is known,
        whether or not the entry made it to the journal): it goes to ``unreported``.
        """
        try:
            await record
        except Withdrawn:
            return None
        except asyncio.CancelledError:
            self._unreported.append(outcome)
            raise
        return outcome

    @staticmethod
    async def _traced(
        trace: JobTrace, seq: int, item_key: Item, run: Coroutine[Any, Any, BulkOutcome | None]
    ) -> BulkOutcome | None:
        """``run``, one item's work, inside the item's span (if it has one)."""
        item = trace.item(seq, str(item_key))
        try:
            outcome = await run
        except BaseException as exc:
            item.end("failed", exc)
            raise
        if outcome is None:  # the journal handed it to another worker
            item.end("withdrawn", None)
        elif outcome.ok:
            item.end("succeeded", None)
        else:
            item.end("unknown" if outcome.outcome_unknown else "failed", outcome.error)
        return outcome

    def _counts(self) -> dict[str, int]:
        """What the job's span reports when it ends."""
        return {
            "done": self._done,
            "succeeded": self._succeeded,
            "failed": self._done - self._succeeded,
            "unknown": self._unknown,
            "resumed": self._resumed,
        }

    def _finished(self, outcome: BulkOutcome) -> BulkOutcome:
        self._done += 1
        self._succeeded += outcome.ok
        self._unknown += outcome.outcome_unknown
        self._resumed += outcome.resumed
        if self._on_progress is not None:
            self._on_progress(self._progress(outcome))
        return outcome

    def _progress(
        self, outcome: BulkOutcome | None, *, waiting_until: datetime | None = None
    ) -> BulkProgress:
        return BulkProgress(
            outcome,
            done=self._done,
            succeeded=self._succeeded,
            failed=self._done - self._succeeded,
            total=self._total,
            elapsed=time.perf_counter() - self._clock_start,
            waiting_until=waiting_until,
        )

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
            if task is not pull and error is None and task.result() is not None:
                self._unreported.append(task.result())  # it finished before the cancel
