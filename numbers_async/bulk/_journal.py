"""The bulk-job journal: an append-only JSON Lines file that makes a job resumable.

Line 1 is a header naming the operation and the request body every item sends; a journal
refuses to drive a job whose operation or request differs. Then, as the job runs::

    {"baseline": ["+12065550100", ...]}                         rent_any only, before any rent
    {"item": "+12065550142", "event": "intent", "at": "..."}     before a non-idempotent request
    {"item": "+12065550142", "event": "succeeded", "number": {...ActiveNumber wire JSON...}}
    {"item": "+12065550143", "event": "failed", "error": "NotFoundError", "status": 404, ...}
    {"item": 7, "event": "unknown", "error": "TransportError", ...}   the request may have acted

Every line is written, flushed and fsynced before the job moves on (an intent before its
request is sent, an outcome before it is reported). Lines from concurrent items are
committed together — one ``fsync`` per batch, on a private writer thread — so a journal
costs little throughput. A line torn by a crash is cut off when the journal is reopened:
it was never acknowledged, so nothing depended on it.

The journal owns what it knows: jobs and operations tell it what happened through its
verbs (``record_baseline``, ``record_intent``, ``record_success``, ``record_failure``,
``forget``) and ask through its queries; only this module writes lines or state.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Final, Literal

from numbers_async._convert import structure, unstructure
from numbers_async.bulk._results import Item
from numbers_async.errors import ApiError, InvalidInputError, NumbersError
from numbers_async.models import ActiveNumber

if sys.platform != "win32":
    import fcntl

__all__ = ["Journal", "JournalPath", "Status"]

FORMAT: Final = "numbers_async.bulk"
VERSION: Final = 1

JournalPath = str | os.PathLike[str]
Status = Literal["succeeded", "failed", "unknown"]


class _State:
    """What a journal says about each item: the last word, except that success sticks."""

    def __init__(self) -> None:
        self.status: dict[Item, Status] = {}
        self.numbers: dict[Item, Mapping[str, Any]] = {}  # succeeded item -> ActiveNumber JSON
        self.baseline: frozenset[str] | None = None
        self.header: Mapping[str, Any] | None = None

    def apply(self, entry: Mapping[str, Any]) -> None:
        """Fold one journal line into the state."""
        if "baseline" in entry:
            self.baseline = frozenset(entry["baseline"])
            return
        item, event = entry["item"], entry["event"]
        if self.status.get(item) == "succeeded":
            return  # a later failure of a repeated item must not undo a success
        if event == "succeeded":
            self.status[item] = "succeeded"
            self.numbers[item] = entry["number"]
        elif event == "failed":
            self.status[item] = "failed"
        else:  # "intent" without an outcome, or "unknown": the request may have acted
            self.status[item] = "unknown"


class Journal:
    """An open journal file: read on open, appended with group-committed fsyncs.

    The journal owns its state. Callers say what happened to an item (``record_intent``,
    ``record_success``, ``record_failure``, ``record_baseline``, ``forget``) and ask what
    is known (``status``, ``succeeded``, ``unknown_items``, ``baseline``,
    ``succeeded_phones``); the journal decides how each event is written and folded in.
    """

    def __init__(self, path: Path, file: IO[bytes], state: _State) -> None:
        self.path = path
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
        """Open (or create) the journal of a ``operation`` job sending ``request``.

        Raises ``InvalidInputError`` (argument ``journal``) if the file is another job's
        journal, not a journal at all, or in use by another running job.
        """
        journal_path = Path(path)
        file, state = await asyncio.to_thread(_open, journal_path, operation, request)
        journal = cls(journal_path, file, state)
        if state.header is None:
            # A new journal: the header must be durable before the first request.
            header = {"journal": FORMAT, "version": VERSION, "operation": operation}
            try:
                await journal._append([{**header, "request": request, "created": _now()}])
                await asyncio.to_thread(_fsync_directory, journal_path)
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

    def unknown_items(self) -> list[Item]:
        """The items whose outcome is unknown (their request may have acted), sorted."""
        return sorted(
            (item for item, status in self._state.status.items() if status == "unknown"),
            key=_sort_key,
        )

    @property
    def baseline(self) -> frozenset[str] | None:
        """The numbers owned before the job's first request (``rent_any``), if recorded."""
        return self._state.baseline

    def succeeded_phones(self) -> set[str]:
        """The phone numbers of every succeeded item."""
        return {str(number.get("phoneNumber")) for number in self._state.numbers.values()}

    # --- what happened ------------------------------------------------------------------------

    async def record_baseline(self, phone_numbers: Iterable[str]) -> None:
        """Record the numbers owned before the first request; durable on return."""
        await self._commit({"baseline": sorted(phone_numbers)})

    async def record_intent(self, item: Item) -> None:
        """Record that a request for ``item`` is about to be sent; durable on return.

        Until an outcome follows, the item's outcome is unknown.
        """
        await self._commit(_event(item, "intent"))

    async def record_success(
        self, item: Item, number: ActiveNumber, *, reconciled: bool = False
    ) -> None:
        """Record that ``item`` succeeded with ``number``; durable on return.

        ``reconciled``: not answered by a request but found on the server afterwards.
        A success sticks: nothing recorded later undoes it.
        """
        fields: dict[str, Any] = {"number": unstructure(number)}
        if reconciled:
            fields["reconciled"] = True
        await self._commit(_event(item, "succeeded", **fields))

    async def record_failure(self, item: Item, error: NumbersError, *, unknown: bool) -> None:
        """Record that ``item`` failed with ``error``; durable on return.

        ``unknown``: the request may have acted anyway, so a rerun must check before acting.
        """
        fields: dict[str, Any] = {"error": type(error).__name__, "message": str(error)}
        if isinstance(error, ApiError):
            fields["status"] = error.status
        await self._commit(_event(item, "unknown" if unknown else "failed", **fields))

    def forget(self, item: Item) -> None:
        """Treat ``item`` as never tried in this run: its unknown outcome was disproved.

        Only the caller's proof (the server's word) disproves an outcome, so nothing is
        written: reopened, the journal still shows the old outcome and the proof is made
        again. An item that succeeded is not forgotten.
        """
        if self._state.status.get(item) != "succeeded":
            self._state.status.pop(item, None)

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
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue, []
            data = b"".join(line for line, _ in batch)
            try:
                await asyncio.shield(loop.run_in_executor(self._executor, self._write, data))
            except BaseException as exc:
                for _, waiter in batch + self._queue:
                    if not waiter.done():
                        if isinstance(exc, asyncio.CancelledError):
                            waiter.cancel()
                        else:
                            waiter.set_exception(exc)
                self._queue = []
                raise
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
        self._file.close()  # closing also releases the lock


def _open(path: Path, operation: str, request: Any) -> tuple[IO[bytes], _State]:
    """Open, lock and read the journal, cutting off a torn last line."""
    file = path.open("a+b")
    try:
        _lock(file, path)
        file.seek(0)
        content = file.read()
        end = content.rfind(b"\n") + 1
        state = _read(content[:end], path, operation, request)
        if end < len(content):
            file.truncate(end)
    except BaseException:
        file.close()
        raise
    return file, state


def _read(content: bytes, path: Path, operation: str, request: Any) -> _State:
    """Parse the complete lines of a journal and check that it belongs to this job."""
    state = _State()
    lines = content.splitlines()
    if not lines:
        return state
    header = state.header = _parse(lines[0], path, 1)
    if header.get("journal") != FORMAT:
        raise InvalidInputError("journal", f"{path} is not a numbers_async bulk journal")
    if header.get("version") != VERSION:
        raise InvalidInputError(
            "journal", f"{path} has version {header.get('version')!r}; expected {VERSION}"
        )
    if header.get("operation") != operation:
        raise InvalidInputError(
            "journal",
            f"{path} was written by a bulk {header.get('operation')} job; it cannot drive a "
            f"bulk {operation} job (use another file)",
        )
    if header.get("request") != request:
        raise InvalidInputError(
            "journal",
            f"{path} was written by a bulk {operation} job with a different request "
            f"({json.dumps(header.get('request'))}); use the same arguments or another file",
        )
    for number, line in enumerate(lines[1:], start=2):
        entry = _parse(line, path, number)
        if "baseline" not in entry and ("item" not in entry or "event" not in entry):
            raise InvalidInputError("journal", f"{path}: line {number} is not a journal entry")
        state.apply(entry)
    return state


def _parse(line: bytes, path: Path, number: int) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        raise InvalidInputError("journal", f"{path}: line {number} is not JSON") from None
    if not isinstance(entry, dict):
        raise InvalidInputError("journal", f"{path}: line {number} is not a JSON object")
    return entry


def _lock(file: IO[bytes], path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - no flock; the lock is a safety net only
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InvalidInputError("journal", f"{path} is in use by another running job") from None


def _fsync_directory(path: Path) -> None:
    # A new file's directory entry must be durable too, or a crash could lose the file.
    with contextlib.suppress(OSError):  # not every platform can open a directory
        descriptor = os.open(path.resolve().parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _event(item: Item, event: str, **fields: Any) -> dict[str, Any]:
    return {"item": item, "event": event, **fields, "at": _now()}


def _sort_key(item: Item) -> tuple[int, int, str]:
    # Attempt numbers (rent_any) in numeric order, before any phone number.
    return (0, item, "") if isinstance(item, int) else (1, 0, item)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
