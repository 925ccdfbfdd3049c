"""The bulk-job journal: an append-only JSON Lines file that makes a job resumable.

Line 1 is a header naming the operation and the request body every item sends; a journal
refuses to drive a job whose operation or request differs. Then, as the job runs:

```text
{"baseline": ["+12065550100", ...]}                         rent_any only, before any rent
{"item": "+12065550142", "event": "intent", "seq": 0, "window": 420, "attempt_window": 60, ...}
{"item": "+12065550142", "event": "succeeded", "seq": 0, "number": {...ActiveNumber...}}
{"item": "+12065550143", "event": "failed", "seq": 1, "error": "NotFoundError", ...}
{"item": 7, "event": "unknown", "seq": 7, "error": "TransportError", ...}   may have acted
```

``seq`` is the item's position in the job's input (streamed inputs are checked by it on a
rerun). An intent is written before a request that is not idempotent; its ``at`` (wall
clock: a rerun is another process) plus its ``window`` (the longest, in seconds, that the
call and its retries could run under the timeouts then in force) is when the request must
have ended, so a rerun settles an unknown outcome only after that. A run that no longer
holds the journal's lock has stopped sending, so only the attempt it had in flight can
still be running: that ends within ``attempt_window`` seconds (one attempt's limit) of the
moment the rerun took the lock, which is often much sooner. (Journals written before
``attempt_window`` had its name call it ``attempt``; it is read under either name.)

Every line is validated when the journal is read (``_files``, which also opens the file
safely: no symbolic links, the user's own file, a valid header or nothing): a line of the
wrong shape is reported by number, never trusted. Version 1 journals (no ``seq`` or
``window``) are read too: their intents are given the window of the job reading them. A
request whose URLs carry credentials is written with them masked, plus the digest of the
real request, which is what a rerun is compared by.

Every line is written, flushed and fsynced before the job moves on (an intent before its
request is sent, an outcome before it is reported). Lines from concurrent items are
committed together — one ``fsync`` per batch, on a private writer thread — so a journal
costs little throughput. A line torn by a crash is cut off when the journal is reopened:
it was never acknowledged, so nothing depended on it.

The journal owns what it knows: jobs and operations tell it what happened through its
verbs (``record_baseline``, ``record_intent``, ``record_success``, ``record_failure``,
``forget``) and ask through its queries; only this module writes lines or state.
``Journal`` is the file store's ``OpenJournal`` (``_store``); ``FileJournal`` is the store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import time
from collections.abc import AsyncIterable, Collection, Iterable, Mapping, Sized
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Final

from numbers_async._convert import structure, unstructure
from numbers_async.bulk._files import (
    close_opened,
    fsync_directory,
    journal_error,
    open_file,
    read_report_state,
)
from numbers_async.bulk._inputs import key, numbered
from numbers_async.bulk._results import Item, JournalReport
from numbers_async.bulk._state import FORMAT, VERSION, State, Status, sort_key
from numbers_async.bulk._store import Reconcile, Work, request_digest, shown_request
from numbers_async.errors import ApiError, InvalidInputError, NumbersError
from numbers_async.models import ActiveNumber

__all__ = ["FileJournal", "Journal", "JournalPath", "Status"]

JournalPath = str | os.PathLike[str]

# Opens the file in a worker thread; Journal.open calls it through this module.
_open = open_file

# Items named in an "input changed" message.
_SHOWN_ITEMS: Final = 3


class Journal:
    """An open journal file: read on open, appended with group-committed fsyncs.

    The journal owns its state. Callers say what happened to an item (``record_intent``,
    ``record_success``, ``record_failure``, ``record_baseline``, ``forget``) and ask what
    is known (``status``, ``succeeded``, ``needs_check``, ``unknown_items``, ``baseline``,
    ``succeeded_phones``, ``succeeded_items``, ``succeeded_at``, ``requests_ended_at``); the
    journal decides how each event is written and folded in.

    Every OS error on the file (no space, permission, not a regular file) is raised as a
    ``JournalError`` naming the path and the cause. It implements ``OpenJournal``, the
    interface every journal store offers a running job.
    """

    def __init__(self, path: Path, file: IO[bytes], state: State, *, locked: bool) -> None:
        self.path = path
        self.opened_at = time.time()  # when this run took the lock: earlier runs had stopped
        self.locked = locked
        self._state = state
        self._file = file
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        # One thread keeps the writes in order and off the event loop.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="numbers-async-journal"
        )
        self._closed = False

    @classmethod
    async def open(cls, path: JournalPath, operation: str, request: Any) -> Journal:
        """Open (or create, mode ``0600``) the journal of a ``operation`` job sending ``request``.

        Raises ``InvalidInputError`` (argument ``journal``) if the file is another job's
        journal, not a journal at all, has a line of the wrong shape, or is in use by
        another running job; ``JournalError`` if the OS refuses the file.
        """
        journal_path = Path(path)
        opening = asyncio.ensure_future(asyncio.to_thread(_open, journal_path, operation, request))
        try:
            file, state, locked = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The thread goes on and opens the file all the same: close it once it has.
            opening.add_done_callback(close_opened)
            raise
        journal = cls(journal_path, file, state, locked=locked)
        if state.header is None:
            # A new journal: the header must be durable before the first request.
            header: dict[str, Any] = {"journal": FORMAT, "version": VERSION, "operation": operation}
            shown = shown_request(request)
            header["request"] = shown
            if shown != request:  # credentials masked: the job is compared by digest
                header["requestDigest"] = request_digest(request)
            try:
                await journal._append([{**header, "created": _now()}])
                await asyncio.to_thread(fsync_directory, journal_path)
            except BaseException:
                await journal.aclose()
                raise
        return journal

    # --- what is known ----------------------------------------------------------------------

    def status(self, item: Item) -> Status | None:
        """The item's last recorded outcome (``None``: never tried, or forgotten)."""
        return self._state.status.get(item)

    def succeeded(self, item: Item) -> ActiveNumber | None:
        """The number a succeeded item ended with; ``None`` if it has not succeeded."""
        number = self._state.numbers.get(item)
        return None if number is None else structure(number, ActiveNumber)

    def needs_check(self, item: Item) -> bool:
        """Whether an earlier attempt at ``item`` may have acted: check before acting.

        True for an unknown outcome, and for a failure recorded after an attempt whose
        outcome was unknown (the failure may only have been the lost attempt's doing).
        """
        return self._state.needs_check(item)

    def unknown_items(self) -> list[Item]:
        """The items whose outcome is unknown (their request may have acted), sorted."""
        return sorted(
            (item for item, status in self._state.status.items() if status == "unknown"),
            key=sort_key,
        )

    def items_to_check(self) -> list[Item]:
        """The items that ``needs_check``, sorted."""
        return sorted((item for item in self._state.status if self.needs_check(item)), key=sort_key)

    def succeeded_items(self) -> set[Item]:
        """Every item recorded as succeeded."""
        return set(self._state.numbers)

    def succeeded_at(self, seq: int) -> Item | None:
        """The item recorded as succeeded at input position ``seq``, if any."""
        return self._state.positions.get(seq)

    def requests_ended_at(
        self, default_window: float, default_attempt_window: float
    ) -> float | None:
        """When (epoch seconds) every earlier request for an item to check must have ended.

        That is the intent's time plus its ``window``, or — the earlier run having released
        the lock, so it sends nothing more — the time this run took the lock plus one
        ``attempt_window``, whichever is sooner. ``None`` if no item needs a check. An intent
        written without them (a version 1 journal) is given the defaults.
        """
        ends = []
        for item, (at, window, attempt_window) in self._state.intents.items():
            if not self._state.needs_check(item):
                continue
            end = at + (default_window if window is None else window)
            if self.locked:
                one_attempt = default_attempt_window if attempt_window is None else attempt_window
                end = min(end, self.opened_at + one_attempt)
            ends.append(end)
        return max(ends, default=None)

    @property
    def baseline(self) -> frozenset[str] | None:
        """The numbers owned before the job's first request (``rent_any``), if recorded."""
        return self._state.baseline

    def succeeded_phones(self) -> set[str]:
        """The phone numbers of every succeeded item."""
        return {str(number.get("phoneNumber")) for number in self._state.numbers.values()}

    @property
    def where(self) -> str:
        """The journal's path, as messages name it."""
        return str(self.path)

    async def begin(self, items: Iterable[Any] | AsyncIterable[Any]) -> tuple[Work, int | None]:
        """Refuse a list lacking items the journal records as succeeded; nothing is sent yet.

        Returns the input as ``(position, item)`` pairs, and its size when known. A stream
        cannot be checked up front: the job checks it item by item (``succeeded_at``).
        """
        if isinstance(items, Collection):
            missing = sorted(self.succeeded_items() - {key(item) for item in items}, key=str)
            if missing:
                shown = ", ".join(str(item) for item in missing[:_SHOWN_ITEMS])
                more = (
                    f" and {len(missing) - _SHOWN_ITEMS} more"
                    if len(missing) > _SHOWN_ITEMS
                    else ""
                )
                raise InvalidInputError(
                    "phone_numbers",
                    f"the input changed since {self.path} was written: it lacks {len(missing)} "
                    f"items the journal records as succeeded ({shown}{more}), so it is not the "
                    "same job (a new search returns other numbers: the rented ones are gone). "
                    "Rerun with the list the journal was written for (save it before the first "
                    "run), or start a new journal (another file) for a new job",
                )
        return numbered(items), len(items) if isinstance(items, Sized) else None

    # --- what happened ------------------------------------------------------------------------

    async def record_baseline(self, phone_numbers: Iterable[str]) -> None:
        """Record the numbers owned before the first request; durable on return."""
        await self._commit({"baseline": sorted(phone_numbers)})

    async def record_intent(
        self,
        item: Item,
        *,
        seq: int | None = None,
        window: float | None = None,
        attempt_window: float | None = None,
    ) -> None:
        """Record that a request for ``item`` is about to be sent; durable on return.

        Until an outcome follows, the item's outcome is unknown. ``window``: the longest,
        in seconds from now, that the call and its retries could run; ``attempt_window``:
        the longest one attempt could.
        """
        fields: dict[str, Any] = {}
        if window is not None:
            fields["window"] = round(window, 3)
        if attempt_window is not None:
            fields["attempt_window"] = round(attempt_window, 3)
        await self._commit(_event(item, "intent", seq, **fields))

    async def record_success(
        self, item: Item, number: ActiveNumber, *, reconciled: bool = False, seq: int | None = None
    ) -> None:
        """Record that ``item`` succeeded with ``number``; durable on return.

        ``reconciled``: not answered by a request but found on the server afterwards.
        A success sticks: nothing recorded later undoes it.
        """
        fields: dict[str, Any] = {"number": unstructure(number)}
        if reconciled:
            fields["reconciled"] = True
        await self._commit(_event(item, "succeeded", seq, **fields))

    async def record_failure(
        self, item: Item, error: NumbersError, *, unknown: bool, seq: int | None = None
    ) -> None:
        """Record that ``item`` failed with ``error``; durable on return.

        ``unknown``: the request may have acted anyway, so a rerun must check before acting.
        """
        fields: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
        if isinstance(error, ApiError):
            fields["status"] = error.status
        await self._commit(_event(item, "unknown" if unknown else "failed", seq, **fields))

    def forget(self, item: Item) -> None:
        """Treat ``item`` as never tried in this run: its unknown outcome was disproved.

        Only the caller's proof (the server's word) disproves an outcome, so nothing is
        written: reopened, the journal still shows the old outcome and the proof is made
        again. An item that succeeded is not forgotten.
        """
        if self._state.status.get(item) != "succeeded":
            self._state.status.pop(item, None)
            self._state.had_unknown.discard(item)
            self._state.open_intent.discard(item)

    def note_unaccounted(self, numbers: Iterable[ActiveNumber]) -> None:
        """Nothing to keep: a file job's report lists them (``BulkReport.unaccounted``)."""

    # --- the file -----------------------------------------------------------------------------

    async def _commit(self, entry: Mapping[str, Any]) -> None:
        await self._append([entry])
        self._state.apply(entry)

    async def _append(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append ``entries`` and return once they are on disk (written and fsynced)."""
        if self._closed:
            raise RuntimeError("the journal is closed")
        data = b"".join(
            json.dumps(entry, separators=(",", ":")).encode() + b"\n" for entry in entries
        )
        done = asyncio.get_running_loop().create_future()
        self._queue.append((data, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._drain(), name="numbers-async journal writer"
            )
        await done

    async def _drain(self) -> None:
        """Write what is queued, batch by batch; a failure goes to every waiter, not here.

        The writer task itself never ends in an exception (nobody would retrieve it):
        each waiter gets the ``JournalError`` (or the cancellation) instead.
        """
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue, []
            data = b"".join(line for line, _ in batch)
            try:
                await asyncio.shield(loop.run_in_executor(self._executor, self._write, data))
            except BaseException as exc:
                failure: BaseException = exc
                if isinstance(exc, OSError):
                    failure = journal_error(self.path, exc)
                for _, waiter in batch + self._queue:
                    if not waiter.done():
                        if isinstance(exc, asyncio.CancelledError):
                            waiter.cancel()
                        else:
                            waiter.set_exception(failure)
                self._queue = []
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
            for _, waiter in batch:
                if not waiter.done():  # a waiter whose task was cancelled is done already
                    waiter.set_result(None)

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())

    async def aclose(self) -> None:
        """Wait for pending lines to reach the disk, then close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                with contextlib.suppress(Exception):  # its waiters have seen the error
                    await asyncio.shield(self._writer)
        finally:
            if self._writer is None or self._writer.done():
                self._shutdown()
            else:  # cancelled while waiting: let the last write finish, then close
                self._writer.add_done_callback(lambda _: self._shutdown())

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        # Closing also releases the lock. A close that cannot flush (no space) has nothing
        # left to say: every line it could have held was already reported as not written.
        with contextlib.suppress(OSError):
            self._file.close()


class FileJournal:
    """A job's journal in a file: what a path passed as a bulk method's ``journal=`` means.

    Pass the path itself, or ``FileJournal(path)`` where a store object is wanted (both
    mean the same). The file is created with mode ``0600`` on the first run and read on
    every rerun; the rules are in the bulk guide (the journal: resuming after a crash).

    Args:
        path: the journal file.

    Raises:
        InvalidInputError: ``path`` is not a path.

    Examples:
        ```python
        report = await FileJournal("release.jsonl").report()
        print(report.succeeded, "released,", len(report.failed), "failed")
        ```
    """

    def __init__(self, path: JournalPath) -> None:
        if not isinstance(path, str | os.PathLike):
            raise InvalidInputError("journal", "must be a file path", path)
        self.path = Path(path)
        """The journal file."""

    async def open(self, operation: str, request: Mapping[str, Any], reconcile: Reconcile) -> Any:
        """Open (or create) the file for an ``operation`` job; the journal the job writes to.

        A file job settles before its first item (the job calls ``reconcile`` itself once
        an earlier run's requests must have ended), so ``reconcile`` is not kept.
        """
        return await Journal.open(self.path, operation, request)

    async def report(self) -> JournalReport:
        """The job's totals and failures as the file records them (it is not locked).

        Raises:
            InvalidInputError: the file is not a journal.
            JournalError: the file cannot be read.
        """
        state = await asyncio.to_thread(read_report_state, self.path)
        header = state.header or {}
        return JournalReport(
            operation=str(header.get("operation", "")),
            journal=str(self.path),
            items=None,
            succeeded=len(state.numbers),
            failed=state.failure_list(),
            in_flight=state.in_flight(),
        )

    def __repr__(self) -> str:
        return f"FileJournal({str(self.path)!r})"


def _event(item: Item, event: str, seq: int | None, **fields: Any) -> dict[str, Any]:
    position = {} if seq is None else {"seq": seq}
    return {"item": item, "event": event, **position, **fields, "at": _now()}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
