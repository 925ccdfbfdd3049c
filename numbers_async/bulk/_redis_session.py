"""A worker's side of a job journaled in Redis: the ``OpenJournal`` a job speaks to.

``begin`` checks (or, for the first worker, loads) the job's input, then hands the job an
async iterator of *claims*: batches of items taken from Redis as the job has room, each
held by this worker under its lease. Intents and outcomes are written through one writer
task that sends whatever is waiting in one script call (group commit), and a background
task renews the lease. A worker that lost its lease (out of touch with Redis too long)
rejoins: the items it had claimed but not started went to other workers, so it drops
them; an intent for one of them raises ``Withdrawn``. What it was handed out, and which
of it its job still has, is ``_redis_claims``.

``rent_any`` cannot settle an unknown outcome item by item: the job's settlement lists the
numbers the project owns. So when nothing else is left, one worker takes the settlement
barrier: no worker records a new rent_any intent, every request in flight ends, then this
worker runs the operation's settlement against a snapshot of the journal and ends the
barrier with what it proved.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping
from typing import Any, Final

from numbers_async._convert import structure, unstructure
from numbers_async.bulk import _redis_link as reply_of
from numbers_async.bulk._inputs import key
from numbers_async.bulk._redis_claims import Claims
from numbers_async.bulk._redis_link import Link
from numbers_async.bulk._results import Item
from numbers_async.bulk._state import sort_key
from numbers_async.bulk._store import Reconcile, Withdrawn, Work
from numbers_async.errors import ApiError, InvalidInputError, JournalError, NumbersError
from numbers_async.models import ActiveNumber

__all__ = ["Session"]

logger = logging.getLogger("numbers_async.bulk")

_CHUNK: Final = 1000  # input items per load
_MOST_RESUMED: Final = 1000  # succeeded items handed over per claim, beside the batch
_RECONCILE_TRIES: Final = 3  # failed settlements (a listing that failed) before giving up
_REFRESHES: Final = 3  # intents recorded again because their reply came late, at most


class Session:
    """One worker's open journal of a Redis job (implements ``OpenJournal``)."""

    def __init__(
        self,
        link: Link,
        *,
        worker: str,
        operation: str,
        reconcile: Reconcile,
        lease: float,
        batch: int,
        closing: Any = None,
    ) -> None:
        self._link = link
        self._closing = closing  # the connection to close with the job, if it is the job's
        self._worker = worker
        self._operation = operation
        self._reconcile = reconcile
        self._lease_ms = round(lease * 1000)
        self._poll = min(1.0, lease / 3)
        self._batch = batch
        self._id = ""
        self._round = 1
        self._sealed = False
        self._baseline: frozenset[str] | None = None
        self._lost = False
        self._calls = itertools.count()  # ids of CLAIM and RECORD calls (sent again as is)
        self._claims = Claims()
        self._records = self._claims.records  # item -> its record, as last handed out
        self._batcher = reply_of.Batcher(self._send)
        self._renewer: asyncio.Task[None] | None = None
        self._contact = time.monotonic()
        self._changed = asyncio.Event()
        self._work_iterator: AsyncGenerator[tuple[int, Item], None] | None = None
        # While this worker holds the settlement barrier: what the settlement reads.
        self._snapshot: tuple[frozenset[str], list[Item], dict[Item, int]] | None = None
        self._forgotten: list[int] = []
        self._unaccounted: list[str] = []
        self._reconcile_failures = 0
        self._closed = False

    # --- joining --------------------------------------------------------------------------

    async def join(
        self, header: Mapping[str, Any], identity: str, version: str, new_id: str
    ) -> None:
        """Create the job or check it is this one; register this worker."""
        reply = await self._link.call(
            "BEGIN",
            self._worker,
            self._lease_ms,
            json.dumps(header, separators=(",", ":")),
            identity,
            version,
            new_id,
            self._operation,
        )
        if len(reply) != 8:
            raise self._link.garbage(f"BEGIN answered {len(reply)} values")
        status, job_id, stored, sealed, _, _, baseline, round_ = (
            reply_of.text(v, self._link) for v in reply
        )
        if status == "version":
            raise JournalError(
                self._link.where,
                f"written by another version of the journal ({stored!r}, not {version!r}); "
                "use another job name",
            )
        if status == "mismatch":
            raise InvalidInputError(
                "journal", reply_of.mismatch(self._link.where, stored, self._operation)
            )
        self._id, self._sealed = job_id, sealed == "1"
        self._round = reply_of.whole(round_, self._link)
        self._baseline = None if not baseline else reply_of.phones_of(baseline, self._link)
        if status == "new_round":
            logger.info(
                "bulk %s: %s was finished; this worker runs it again", self._operation, self.where
            )
        self._renewer = asyncio.get_running_loop().create_task(
            self._renew(), name="numbers-async journal lease"
        )

    @property
    def where(self) -> str:
        """The Redis job, as messages name it (no password)."""
        return self._link.where

    async def begin(self, items: Iterable[Any] | AsyncIterable[Any]) -> tuple[Work, int | None]:
        """Load (or check) the job's input, then hand out this worker's claims."""
        digest = hashlib.sha256()
        count, chunk = 0, []
        async for item in reply_of.each(items):
            encoded = json.dumps(key(item))
            digest.update(encoded.encode() + b"\n")
            count += 1
            if not self._sealed:
                chunk.append(encoded)
                if len(chunk) >= _CHUNK:
                    await self._load(count - len(chunk), chunk)
                    chunk = []
        if chunk and not self._sealed:
            await self._load(count - len(chunk), chunk)
        reply = await self._link.call("SEAL", self._id, count, digest.hexdigest())
        if reply_of.text(reply[0], self._link) == "mismatch":
            raise InvalidInputError(
                "phone_numbers",
                f"the input is not the one {self.where} was started with ({count} items; the "
                f"job has {reply_of.text(reply[1], self._link)}), so it is not the same job: "
                "give every worker the same input, or use another job name",
            )
        self._sealed = True
        self._work_iterator = self._work()
        return self._work_iterator, None

    async def _load(self, first: int, chunk: list[str]) -> None:
        reply = await self._link.call("LOAD", self._id, first, *chunk)
        outcome = reply_of.text(reply[0], self._link)
        if outcome == "sealed":
            self._sealed = True  # another worker finished loading: the digest decides
        elif outcome == "mismatch":
            position = reply_of.whole(reply[1], self._link)
            raise InvalidInputError(
                "phone_numbers",
                f"the input is not the one {self.where} was started with (item {position} is "
                f"{json.loads(chunk[position - first])!r}, the job's is "
                f"{reply_of.item_of(reply[2], self._link)!r}), so it is not the same job: "
                "give every worker the same input, or use another job name",
            )

    # --- the work: claims -----------------------------------------------------------------

    async def _work(self) -> AsyncGenerator[tuple[int, Item], None]:
        while True:
            handed = self._claims.next()
            if handed is not None:
                yield handed
                continue
            if self._lost:
                self._rejoined()
            reply = await self._link.call(
                "CLAIM",
                self._id,
                self._worker,
                self._lease_ms,
                self._batch,
                _MOST_RESUMED,
                self._operation,
                self._round,
                f"{self._worker}:{next(self._calls)}",
            )
            self._contact = time.monotonic()
            kind = reply_of.text(reply[0], self._link)
            if kind == "work":
                self._take(reply[1:])
            elif kind == "reconcile":
                await self._reconcile_all()
            elif kind == "finished" and not self._claims.held:
                return
            elif kind == "finished":  # handed out as succeeded while the job had it:
                await self._pause(self._poll)  # it is the job's to report once let go
            elif kind == "lost":
                await self._link.call("RENEW", self._id, self._worker, self._lease_ms)
                self._lost = True
            elif kind == "wait" and len(reply) == 2:
                await self._pause(reply_of.whole(reply[1], self._link) / 1000)
            else:
                raise self._link.garbage(f"CLAIM answered {kind!r}")

    def _take(self, values: list[Any]) -> None:
        if len(values) % 3:
            raise self._link.garbage("a claim of the wrong length")
        for index in range(0, len(values), 3):
            seq = reply_of.whole(values[index], self._link)
            item = reply_of.item_of(values[index + 1], self._link)
            record = reply_of.check_record(values[index + 2], self._link)
            reply_of.check_number(item, record, self._link)
            self._claims.give(seq, item, record)

    def _rejoined(self) -> None:
        # What the job has not started yet went to other workers; what it has started
        # finds out at its intent (Withdrawn) unless this worker claims it again.
        self._lost = False
        dropped = self._claims.drop_waiting()
        logger.warning(
            "bulk %s: this worker was out of touch with %s longer than its lease; %d items it "
            "had claimed went to other workers",
            self._operation,
            self.where,
            dropped,
        )

    async def _pause(self, seconds: float) -> None:
        """Wait until something may have changed: ``seconds``, the poll, or an outcome here."""
        self._changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await reply_of.within(self._changed.wait(), min(seconds, self._poll))

    # --- the rent_any settlement barrier ----------------------------------------------------

    async def _reconcile_all(self) -> None:
        while True:
            reply = await self._link.call("QUIET", self._id, self._worker, self._operation)
            kind = reply_of.text(reply[0], self._link)
            if kind == "lost":
                return  # the barrier was taken from us (lease): another worker settles
            if kind == "quiet":
                break
            await self._pause(
                reply_of.whole(reply[1], self._link) / 1000 if len(reply) > 1 else self._poll
            )
        self._snapshot = await self._read_snapshot()
        self._forgotten, self._unaccounted = [], []
        failure: NumbersError | None = None
        try:
            await self._reconcile(self)
        except NumbersError as exc:
            failure = exc
        finally:
            self._snapshot = None
        await self._link.call(
            "RECONCILED", self._id, self._worker, json.dumps(self._unaccounted), *self._forgotten
        )
        if failure is not None:
            self._reconcile_failures += 1
            logger.warning(
                "bulk %s: settling the unknown outcomes of %s failed (%s)",
                self._operation,
                self.where,
                failure,
            )
            if self._reconcile_failures >= _RECONCILE_TRIES:
                raise failure  # they stay unknown: the next run settles them

    async def _read_snapshot(self) -> tuple[frozenset[str], list[Item], dict[Item, int]]:
        reply = await self._link.call("SNAPSHOT", self._id)
        if len(reply) < 3 or (len(reply) - 3) % 3:
            raise self._link.garbage("a snapshot of the wrong length")
        baseline = reply_of.phones_of(reply_of.text(reply[1], self._link) or "[]", self._link)
        phones = reply_of.phones_of(reply_of.text(reply[2], self._link), self._link)
        positions: dict[Item, int] = {}
        for index in range(3, len(reply), 3):
            item = reply_of.item_of(reply[index + 1], self._link)
            positions[item] = reply_of.whole(reply[index], self._link)
            self._records[item] = reply_of.check_record(reply[index + 2], self._link)
        self._baseline = self._baseline or baseline
        return phones, sorted(positions, key=sort_key), positions

    # --- what is known --------------------------------------------------------------------

    @property
    def baseline(self) -> frozenset[str] | None:
        """The numbers owned before the job's first request (``rent_any``)."""
        return self._baseline

    def status(self, item: Item) -> str | None:
        """The item's recorded outcome, as last handed out (or ``None``)."""
        status = self._records.get(item, {}).get("s")
        return None if status is None else str(status)

    def succeeded(self, item: Item) -> ActiveNumber | None:
        """The number of an item handed out as succeeded."""
        record = self._records.get(item, {})
        if record.get("s") != "succeeded":
            return None
        return structure(reply_of.loads(record["n"]), ActiveNumber)

    def needs_check(self, item: Item) -> bool:
        """Whether an earlier attempt at ``item`` may have acted."""
        record = self._records.get(item, {})
        status = record.get("s")
        if status == "unknown":
            return True
        return status == "failed" and bool(record.get("hu") or record.get("o"))

    def succeeded_at(self, seq: int) -> Item | None:
        """The item at ``seq``, if it was handed out as succeeded."""
        item = self._claims.item_at(seq)
        return item if item is not None and self.status(item) == "succeeded" else None

    def requests_ended_at(
        self, default_window: float, default_attempt_window: float
    ) -> float | None:
        """Nothing to wait for up front: each item is handed out once it may be settled."""
        return None

    def items_to_check(self) -> list[Item]:
        """Under the settlement barrier, the items to settle; otherwise none."""
        return [] if self._snapshot is None else list(self._snapshot[1])

    def succeeded_phones(self) -> set[str]:
        """Under the settlement barrier, the numbers of every succeeded item."""
        return set() if self._snapshot is None else set(self._snapshot[0])

    # --- what happened --------------------------------------------------------------------

    async def record_baseline(self, phone_numbers: Iterable[str]) -> None:
        """Record the baseline unless a worker already did; the job's is kept."""
        baseline = json.dumps(sorted(phone_numbers))
        reply = await self._link.call("BASELINE", self._id, baseline)
        if len(reply) != 2:
            raise self._link.garbage("BASELINE answered the wrong length")
        self._baseline = reply_of.phones_of(reply_of.text(reply[1], self._link), self._link)

    async def record_intent(
        self,
        item: Item,
        *,
        seq: int | None = None,
        window: float | None = None,
        attempt_window: float | None = None,
    ) -> None:
        """Record the intent, as the holder of the item's claim; ``Withdrawn`` if not."""
        position = self._position(item, seq)
        entry = {
            "ev": "intent",
            "seq": position,
            "key": json.dumps(item),
            "w": window,
            "aw": attempt_window,
        }
        if position in self._claims.resumed:
            entry["rs"] = 1
        refreshed = 0
        while True:
            asked = time.monotonic()
            result = await self._submit(entry)
            late = time.monotonic() - asked > self._link.timeout
            if result == "ok" and late and refreshed < _REFRESHES:
                # Its window is timed from when Redis recorded it, and could end while
                # a request sent only now still runs: record it again ("re": nothing
                # was sent, not a second attempt), its window from now.
                refreshed += 1
                entry["re"] = 1
                continue
            if result == "ok":
                self._claims.intended(position)
                record = self._records.setdefault(item, {})
                if record.get("s") != "succeeded":
                    record["s"] = "unknown"
                return
            if result != "paused":  # another worker settles: wait for it
                self._done(item, position, result)
                raise Withdrawn(item)
            await self._pause(self._poll)

    async def record_success(
        self, item: Item, number: ActiveNumber, *, reconciled: bool = False, seq: int | None = None
    ) -> None:
        """Record the success (it sticks; a number no other item has)."""
        entry: dict[str, Any] = {
            "ev": "succeeded",
            "seq": self._position(item, seq),
            "key": json.dumps(item),
            "n": json.dumps(unstructure(number), separators=(",", ":")),
            "phone": number.phone_number,
        }
        if reconciled:
            entry["rc"] = 1
        result = await self._submit(entry)
        self._done(item, entry["seq"], result)
        if result == "dup":
            logger.warning(
                "bulk %s: %s is already recorded for another item of %s; not for %r",
                self._operation,
                number.phone_number,
                self.where,
                item,
            )
        if result != "ok":
            raise Withdrawn(item)

    async def record_failure(
        self, item: Item, error: NumbersError, *, unknown: bool, seq: int | None = None
    ) -> None:
        """Record the failure, unless the item was taken over meanwhile."""
        entry: dict[str, Any] = {
            "ev": "unknown" if unknown else "failed",
            "seq": self._position(item, seq),
            "key": json.dumps(item),
            "e": type(error).__name__,
            "m": str(error),
        }
        if isinstance(error, ApiError):
            entry["c"] = error.status
        result = await self._submit(entry)
        self._done(item, entry["seq"], result)
        if result == "taken":
            logger.info(
                "bulk %s: %r of %s was taken over by another worker; its outcome is theirs",
                self._operation,
                item,
                self.where,
            )
        if result != "ok":
            raise Withdrawn(item)

    def forget(self, item: Item) -> None:
        """Under the settlement barrier: ``item`` proved never done; it is handed out again."""
        if self._snapshot is not None and item in self._snapshot[2]:
            self._forgotten.append(self._snapshot[2][item])

    def note_unaccounted(self, numbers: Iterable[ActiveNumber]) -> None:
        """Keep what the settlement found that no item accounts for (the job's report)."""
        self._unaccounted = [number.phone_number for number in numbers]

    def _position(self, item: Item, seq: int | None) -> int:
        if seq is not None:
            return seq
        if self._snapshot is not None and item in self._snapshot[2]:
            return self._snapshot[2][item]
        raise JournalError(self.where, f"{item!r} was not handed out to this worker")

    def _done(self, item: Item, seq: int, result: str) -> None:
        self._claims.let_go(item, seq, result)
        self._changed.set()

    # --- writing: one script call for whatever is waiting --------------------------------

    async def _submit(self, entry: dict[str, Any]) -> str:
        if self._closed:
            raise RuntimeError("the journal is closed")
        return await self._batcher.submit(entry)

    async def _send(self, entries: list[dict[str, Any]]) -> list[str]:
        """One RECORD call for ``entries``: a result for each."""
        encoded = [json.dumps(entry, separators=(",", ":")) for entry in entries]
        call = f"{self._worker}:{next(self._calls)}"
        reply = await self._link.call(
            "RECORD", self._id, self._worker, self._lease_ms, self._operation, call, *encoded
        )
        if len(reply) != len(entries) + 1:
            raise self._link.garbage("RECORD answered the wrong length")
        results = [reply_of.text(value, self._link) for value in reply]
        self._contact = time.monotonic()
        if results[0] == "lost":
            self._lost = True
        return results[1:]

    async def _renew(self) -> None:
        """Keep the lease while the worker lives (claims and records renew it too)."""
        interval = self._lease_ms / 3000
        while True:
            await asyncio.sleep(max(0.0, self._contact + interval - time.monotonic()))
            if time.monotonic() - self._contact < interval:
                continue
            try:
                reply = await self._link.call("RENEW", self._id, self._worker, self._lease_ms)
            except JournalError as exc:
                logger.warning(
                    "bulk %s: could not renew the lease on %s: %s", self._operation, self.where, exc
                )
                return  # the other calls meet the same trouble and say so
            self._contact = time.monotonic()
            if reply_of.text(reply[0], self._link) == "lost":
                self._lost = True

    async def aclose(self) -> None:
        """Finish writing, give back what this worker holds, stop renewing. Idempotent.

        Cancelled meanwhile, it still closes the job's connection; what the worker held
        goes back when its lease runs out.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._work_iterator is not None:
                with contextlib.suppress(RuntimeError):  # still running: its task is cancelled
                    await self._work_iterator.aclose()
            try:
                await self._batcher.finish()
            finally:
                if self._renewer is not None:
                    # Never swallowed (``within``); a cancellation of aclose goes on up.
                    self._renewer.cancel()
                    await asyncio.wait({self._renewer})
                    if not self._renewer.cancelled():
                        self._renewer.exception()  # retrieved: logged, or met elsewhere
            if self._id and not self._link.down:
                await self._link.call("RELEASE", self._id, self._worker, self._operation)
        except JournalError as exc:  # the leases run out instead
            logger.warning(
                "bulk %s: could not give back claims on %s: %s", self._operation, self.where, exc
            )
        finally:
            if self._closing is not None:
                await self._closing.aclose()
