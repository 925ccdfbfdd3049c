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

Every line is validated when the journal is read: a line of the wrong shape is reported
by number, never trusted. Version 1 journals (no ``seq`` or ``window``) are read too: their
intents are given the window of the job reading them.

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
import stat
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Final, Literal

from numbers_async._convert import structure, unstructure
from numbers_async.bulk._lines import epoch, line_problem
from numbers_async.bulk._results import Item
from numbers_async.errors import ApiError, InvalidInputError, JournalError, NumbersError
from numbers_async.models import ActiveNumber

if sys.platform != "win32":
    import fcntl

__all__ = ["Journal", "JournalPath", "Status"]

FORMAT: Final = "numbers_async.bulk"
VERSION: Final = 2
READABLE_VERSIONS: Final = frozenset({1, 2})
FILE_MODE: Final = 0o600  # a journal holds plan ids, callback URLs and number records

JournalPath = str | os.PathLike[str]
Status = Literal["succeeded", "failed", "unknown"]

_RECOVER: Final = (
    "if the file was edited by hand, restore it; otherwise move it aside, check "
    "active_numbers.list for what the job had done, and start a new journal"
)


class _State:
    """What a journal says about each item: the last word, except that success sticks."""

    def __init__(self) -> None:
        self.status: dict[Item, Status] = {}
        self.numbers: dict[Item, Mapping[str, Any]] = {}  # succeeded item -> ActiveNumber JSON
        self.baseline: frozenset[str] | None = None
        self.header: Mapping[str, Any] | None = None
        self.positions: dict[int, Item] = {}  # input position -> the item that succeeded there
        self.had_unknown: set[Item] = set()  # items with an attempt whose outcome was unknown
        self.open_intent: set[Item] = set()  # an intent with no outcome after it (yet)
        # The last intent of each item: (at, window, attempt window); None where not recorded.
        self.intents: dict[Item, tuple[float, float | None, float | None]] = {}

    def apply(self, entry: Mapping[str, Any]) -> None:
        """Fold one (validated) journal line into the state."""
        if "baseline" in entry:
            self.baseline = frozenset(entry["baseline"])
            return
        item, event = entry["item"], entry["event"]
        if event == "intent":
            if item in self.open_intent:
                self.had_unknown.add(item)  # the previous attempt never got an outcome
            self.open_intent.add(item)
            self.intents[item] = (epoch(entry["at"]), entry.get("window"), _attempt_window(entry))
        else:
            self.open_intent.discard(item)
        if event == "unknown":
            self.had_unknown.add(item)
        if self.status.get(item) == "succeeded":
            return  # a later failure of a repeated item must not undo a success
        if event == "succeeded":
            self.status[item] = "succeeded"
            self.numbers[item] = entry["number"]
            if "seq" in entry:
                self.positions[entry["seq"]] = item
        elif event == "failed":
            self.status[item] = "failed"
        else:  # "intent" without an outcome, or "unknown": the request may have acted
            self.status[item] = "unknown"

    def needs_check(self, item: Item) -> bool:
        status = self.status.get(item)
        if status == "unknown":
            return True
        return status == "failed" and (item in self.had_unknown or item in self.open_intent)


class Journal:
    """An open journal file: read on open, appended with group-committed fsyncs.

    The journal owns its state. Callers say what happened to an item (``record_intent``,
    ``record_success``, ``record_failure``, ``record_baseline``, ``forget``) and ask what
    is known (``status``, ``succeeded``, ``needs_check``, ``unknown_items``, ``baseline``,
    ``succeeded_phones``, ``succeeded_items``, ``succeeded_at``, ``requests_ended_at``); the
    journal decides how each event is written and folded in.

    Every OS error on the file (no space, permission, not a regular file) is raised as a
    ``JournalError`` naming the path and the cause.
    """

    def __init__(self, path: Path, file: IO[bytes], state: _State, *, locked: bool) -> None:
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
            opening.add_done_callback(_close_opened)
            raise
        journal = cls(journal_path, file, state, locked=locked)
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
            key=_sort_key,
        )

    def items_to_check(self) -> list[Item]:
        """The items that ``needs_check``, sorted."""
        return sorted(
            (item for item in self._state.status if self.needs_check(item)), key=_sort_key
        )

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
                    failure = _journal_error(self.path, exc)
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


def _close_opened(opening: asyncio.Future[tuple[IO[bytes], _State, bool]]) -> None:
    """Close the file a cancelled ``Journal.open`` was still opening (and its lock)."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result()[0].close()


def _journal_error(path: Path, error: OSError) -> JournalError:
    reason = error.strerror or type(error).__name__
    return JournalError(str(path), reason)


def _open(path: Path, operation: str, request: Any) -> tuple[IO[bytes], _State, bool]:
    """Open, lock and read the journal, cutting off a torn last line.

    A new file is created with mode ``0600``; an existing file keeps its mode. Anything
    but a regular file (a directory, a device such as ``/dev/full``, a FIFO) is refused
    before it is read.
    """
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _journal_error(path, exc) from exc
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise JournalError(str(path), "not a regular file (a journal must be a plain file)")
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the check must not block
    try:
        descriptor = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        raise _journal_error(path, exc) from exc
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise JournalError(str(path), "not a regular file (a journal must be a plain file)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        file = os.fdopen(descriptor, "a+b")
    except BaseException:
        os.close(descriptor)
        raise
    try:
        locked = _lock(file, path)
        file.seek(0)
        content = file.read()
        end = content.rfind(b"\n") + 1
        state = _read(content[:end], path, operation, request)
        if end < len(content):
            file.truncate(end)  # the torn last line: never acknowledged, nothing relied on it
    except OSError as exc:
        file.close()
        raise _journal_error(path, exc) from exc
    except BaseException:
        file.close()
        raise
    return file, state, locked


def _read(content: bytes, path: Path, operation: str, request: Any) -> _State:
    """Parse the complete lines of a journal and check that it belongs to this job."""
    state = _State()
    lines = content.splitlines()
    if not lines:
        return state
    header = state.header = _parse(lines[0], path, 1)
    if header.get("journal") != FORMAT:
        raise InvalidInputError("journal", f"{path} is not a numbers_async bulk journal")
    if header.get("version") not in READABLE_VERSIONS:
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
        problem = line_problem(entry)
        if problem is not None:
            raise InvalidInputError(
                "journal",
                f"{path}: line {number} is not a valid journal entry ({problem}); {_RECOVER}",
            )
        state.apply(entry)
    return state


def _parse(line: bytes, path: Path, number: int) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        raise InvalidInputError(
            "journal", f"{path}: line {number} is not JSON; {_RECOVER}"
        ) from None
    if not isinstance(entry, dict):
        raise InvalidInputError(
            "journal", f"{path}: line {number} is not a JSON object; {_RECOVER}"
        )
    return entry


def _lock(file: IO[bytes], path: Path) -> bool:
    """Lock the journal for this run; whether a lock exists here (not on Windows)."""
    if sys.platform == "win32":  # pragma: no cover - no flock; the lock is a safety net only
        return False
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InvalidInputError("journal", f"{path} is in use by another running job") from None
    return True


def _fsync_directory(path: Path) -> None:
    # A new file's directory entry must be durable too, or a crash could lose the file.
    with contextlib.suppress(OSError):  # not every platform can open a directory
        descriptor = os.open(path.resolve().parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _event(item: Item, event: str, seq: int | None, **fields: Any) -> dict[str, Any]:
    position = {} if seq is None else {"seq": seq}
    return {"item": item, "event": event, **position, **fields, "at": _now()}


def _attempt_window(entry: Mapping[str, Any]) -> float | None:
    """An intent's attempt window, under its name or the one it had before (``attempt``)."""
    value: float | None = entry.get("attempt_window", entry.get("attempt"))
    return value


def _sort_key(item: Item) -> tuple[int, int, str]:
    # Rent indexes (rent_any) in numeric order, before any phone number.
    return (0, item, "") if isinstance(item, int) else (1, 0, item)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
