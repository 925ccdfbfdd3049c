"""What bulk jobs report: each item's outcome, progress as items finish, the final report."""

from __future__ import annotations

from datetime import datetime

import attrs

from numbers_async.errors import NumbersError
from numbers_async.models import ActiveNumber

__all__ = [
    "BulkFailure",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "Item",
    "JournalFailure",
    "JournalReport",
]

Item = str | int
"""A job's item: a phone number, or for ``rent_any`` the rent index."""


@attrs.frozen
class BulkOutcome:
    """How one item of a bulk job ended: a number, or an error.

    Attributes:
        item: the phone number, or for ``rent_any`` the rent index (``0`` to
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

    ``item`` is the phone number, or for ``rent_any`` the rent index.
    ``outcome_unknown`` is true when the request may have taken effect anyway (its
    response was lost); rerunning the job with its journal settles it.
    """

    item: Item
    """The phone number, or for ``rent_any`` the rent index (``0`` to ``count - 1``)."""

    error: NumbersError
    """Why it failed: the exception the operation raised."""

    outcome_unknown: bool = False
    """Whether the request may have taken effect anyway (its response was lost)."""


@attrs.frozen
class BulkProgress:
    """What ``on_progress`` is told each time an item finishes (and while a rerun waits).

    Attributes:
        outcome: the item that just finished; ``None`` for the waiting notice.
        done: items finished so far (``done == succeeded + failed``).
        succeeded: items finished so far that succeeded.
        failed: items finished so far that failed.
        total: how many items the job has, when known (a sized input, or ``count``).
        elapsed: seconds since the job started.
        waiting_until: set (an aware UTC ``datetime``) on the one call made when a rerun
            must wait before settling items an earlier, killed run left unknown: until then
            that run's requests may still be acting on the server. ``None`` otherwise.
    """

    outcome: BulkOutcome | None
    done: int
    succeeded: int
    failed: int
    total: int | None
    elapsed: float
    waiting_until: datetime | None = None

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
        unaccounted: numbers the job found on the server that no item accounts for (a
            ``rent_any`` rerun found more new numbers than it had lost requests: something
            else rented them, or the wait was too short). They are the project's and are
            billed: release them or keep them knowingly.
    """

    operation: str
    succeeded: list[ActiveNumber]
    failed: list[BulkFailure]
    elapsed: float
    resumed: int = 0
    stopped: bool = False
    unaccounted: list[ActiveNumber] = attrs.Factory(list)

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


@attrs.frozen
class JournalFailure:
    """An item a journal records as failed, as ``JournalReport`` lists it.

    Attributes:
        item: the phone number, or for ``rent_any`` the attempt number.
        error: the name of the error class, e.g. ``"NotFoundError"``.
        message: the error's message.
        status: the HTTP status, for an error the API answered (``None`` otherwise).
        outcome_unknown: the request may have taken effect anyway; the next run (or, for
            a shared journal, another worker once the request must have ended) checks it.
    """

    item: Item
    error: str
    message: str = ""
    status: int | None = None
    outcome_unknown: bool = False


@attrs.frozen
class JournalReport:
    """A whole job as its journal records it: totals and failures, whichever worker ran it.

    ``numbers-async bulk-status --journal ...`` prints it; ``await store.report()``
    returns it (``FileJournal``, ``numbers_async.redis.RedisJournal``), while the job runs
    and after.

    Attributes:
        operation: ``"rent"``, ``"rent_any"``, ``"update"`` or ``"release"``.
        journal: the journal (a path, or the Redis job; never a password).
        items: how many items the job has, when the journal knows it (a Redis journal
            does; a file records only the items it has seen).
        succeeded: items recorded as succeeded.
        failed: every item whose last outcome is a failure, known or unknown.
        in_flight: items with an intent and no outcome yet: being worked on, or left by
            a worker that stopped (they are settled once their requests must have ended).
        finished: the job has nothing left to do (every item has its outcome and no
            worker holds one); ``None`` when the journal cannot tell (a file).
        workers: workers alive on the job now (a shared journal), else ``None``.
        unaccounted: numbers a ``rent_any`` settlement found that no item accounts for.
    """

    operation: str
    journal: str
    items: int | None
    succeeded: int
    failed: list[JournalFailure]
    in_flight: int = 0
    finished: bool | None = None
    workers: int | None = None
    unaccounted: list[str] = attrs.Factory(list)

    @property
    def unknown(self) -> int:
        """Failed items whose request may have taken effect anyway."""
        return sum(1 for failure in self.failed if failure.outcome_unknown)

    @property
    def pending(self) -> int | None:
        """Items without any outcome yet (``None`` when ``items`` is not known)."""
        if self.items is None:
            return None
        return max(0, self.items - self.succeeded - len(self.failed) - self.in_flight)
