"""The journal interface: what a bulk job needs of its journal, whichever store keeps it.

A job is given a *store* (``journal=``): a path (``FileJournal``), or a shared store such
as ``numbers_async.redis.RedisJournal``. It opens it once (``JournalStore.open``) and from
then on speaks only to the ``OpenJournal`` protocol below; bulk code does not know which
store it has. Both stores keep the same rules:

- a job's identity is its operation, its request and its input: a journal refuses to
  drive another job (``InvalidInputError`` before anything is sent);
- an intent is recorded (durably) before each request that is not idempotent, and every
  outcome is recorded before it is reported;
- an unknown outcome is settled only once the requests that may have caused it must have
  ended (an intent's ``window``), and checked with the server before acting again;
- what is read back is validated: a value of the wrong shape, an absurd ``window``, a
  line nested too deeply, a garbage reply — ``JournalError`` or ``InvalidInputError``,
  never trusted.

Also here: what both stores share about a job's identity (the request as the journal
shows it, with credentials in URLs masked, and the digest it is compared by) and the
bound on every wait a journal can ask for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

from numbers_async._operations import redact_url
from numbers_async.bulk._results import Item, JournalReport
from numbers_async.errors import NumbersError
from numbers_async.models import ActiveNumber

__all__ = [
    "MAX_WINDOW",
    "JournalStore",
    "OpenJournal",
    "Reconcile",
    "Withdrawn",
    "Work",
    "request_digest",
    "shown_request",
]

MAX_WINDOW: Final = 7 * 86_400.0
"""The longest wait, in seconds, a journal may ask for (an intent's ``window`` or
``attempt_window``): a week. A larger value read back is refused (``JournalError``), so a file
or a Redis key cannot make a rerun wait for years; a job whose own timeouts allow a
longer call is refused before it starts."""

Work = Iterable[tuple[int, Any]] | AsyncIterable[tuple[int, Any]]
"""What a worker is to do: ``(position in the job's input, item)`` pairs."""

Reconcile = Callable[["OpenJournal"], Awaitable[None]]
"""The operation's settlement of unknown outcomes that cannot be settled item by item
(``rent_any``): called with the journal once no request of the job can still act."""


class Withdrawn(Exception):
    """The journal withdrew the item from this worker: not its to send, nor to report.

    A shared journal raises it from ``record_intent`` when this worker lost its claim on
    the item (it was out of touch longer than its lease), and from ``record_success`` or
    ``record_failure`` when the outcome is not this worker's to report: the item goes to
    be checked again (an unknown outcome, once its requests must have ended), or another
    worker has it now. The outcome is recorded either way where it may be; whichever
    worker the item is handed to next reports it, so each item is reported once.
    """


@runtime_checkable
class OpenJournal(Protocol):
    """An open journal, as a running job uses it (``Journal`` for a file)."""

    @property
    def where(self) -> str:
        """The journal as messages name it: the path, or the Redis job (no password)."""
        ...

    @property
    def baseline(self) -> frozenset[str] | None:
        """The numbers owned before the job's first request (``rent_any``), if recorded."""
        ...

    async def begin(self, items: Iterable[Any] | AsyncIterable[Any]) -> tuple[Work, int | None]:
        """Check the job's input against the journal; return this worker's work and size.

        Raises ``InvalidInputError`` before anything is sent if the input is not the
        journal's. The size is ``None`` when not known in advance (a stream, or a share
        of a job that several workers run).
        """
        ...

    def status(self, item: Item) -> str | None:
        """The item's last recorded outcome: succeeded, failed, unknown (or ``None``)."""
        ...

    def succeeded(self, item: Item) -> ActiveNumber | None:
        """The number a succeeded item ended with; ``None`` if it has not succeeded."""
        ...

    def needs_check(self, item: Item) -> bool:
        """Whether an earlier attempt at ``item`` may have acted: check before acting."""
        ...

    def succeeded_at(self, seq: int) -> Item | None:
        """The item recorded as succeeded at input position ``seq``, if any."""
        ...

    def requests_ended_at(
        self, default_window: float, default_attempt_window: float
    ) -> float | None:
        """When (epoch seconds) earlier requests for the items to check must have ended."""
        ...

    def items_to_check(self) -> list[Item]:
        """The items whose unknown outcome may be settled now, sorted."""
        ...

    def succeeded_phones(self) -> set[str]:
        """The phone numbers of every succeeded item."""
        ...

    async def record_baseline(self, phone_numbers: Iterable[str]) -> None:
        """Record the numbers owned before the first request (the first record wins)."""
        ...

    async def record_intent(
        self,
        item: Item,
        *,
        seq: int | None = None,
        window: float | None = None,
        attempt_window: float | None = None,
    ) -> None:
        """Record that a request for ``item`` is about to be sent; durable on return.

        Raises ``Withdrawn`` if the item is no longer this worker's to send.
        """
        ...

    async def record_success(
        self, item: Item, number: ActiveNumber, *, reconciled: bool = False, seq: int | None = None
    ) -> None:
        """Record that ``item`` succeeded with ``number``; durable on return.

        Raises ``Withdrawn`` if the outcome is not this worker's to report.
        """
        ...

    async def record_failure(
        self, item: Item, error: NumbersError, *, unknown: bool, seq: int | None = None
    ) -> None:
        """Record that ``item`` failed; ``unknown``: the request may have acted anyway.

        Raises ``Withdrawn`` if the outcome is not this worker's to report (an unknown
        outcome a shared journal hands out again to be checked).
        """
        ...

    def forget(self, item: Item) -> None:
        """Treat ``item`` as never tried: the server's word disproved its unknown outcome."""
        ...

    def note_unaccounted(self, numbers: Iterable[ActiveNumber]) -> None:
        """Numbers a settlement found that no item accounts for (kept for the report)."""
        ...

    async def aclose(self) -> None:
        """Finish pending writes and let go of the journal. Idempotent."""
        ...


@runtime_checkable
class JournalStore(Protocol):
    """Where a job's journal is kept: what a bulk method's ``journal=`` takes.

    ``FileJournal`` (what a path means) and ``numbers_async.redis.RedisJournal``
    implement it.
    """

    async def open(self, operation: str, request: Mapping[str, Any], reconcile: Reconcile) -> Any:
        """Open the journal of an ``operation`` job that sends ``request`` with each item.

        Returns an ``OpenJournal``. ``reconcile`` is the operation's settlement of unknown
        outcomes, for a store that settles while the job runs.
        """
        ...

    async def report(self) -> JournalReport:
        """The job's totals and failures as one report, while it runs and after."""
        ...


def shown_request(request: Any) -> Any:
    """``request`` as a journal shows it: every URL's ``user:password@`` masked."""
    if isinstance(request, str):
        return redact_url(request) if "@" in request and "://" in request else request
    if isinstance(request, Mapping):
        return {key: shown_request(value) for key, value in request.items()}
    if isinstance(request, list | tuple):
        return [shown_request(value) for value in request]
    return request


def request_digest(request: Any) -> str:
    """The SHA-256 of ``request`` as canonical JSON: how jobs are compared, unmasked."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
