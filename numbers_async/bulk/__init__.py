"""Bulk jobs: rent, rent any, update or release many numbers concurrently — and resumably.

``client.bulk`` fans one operation out over many items with bounded concurrency. One
item's failure never stops the others, every item ends in exactly one outcome, and a
journal file makes a job that was cancelled, interrupted or killed safe to run again (see
the examples at the end).

How a journal is reconciled on a rerun
([the journal](../guides/bulk.md#the-journal-resuming-after-a-crash)):

- an item that succeeded is not sent again: its outcome comes from the journal;
- an item that failed (the API refused it, or it was never sent) is tried again;
- an item whose outcome is unknown (its intent was recorded, then the response was lost,
  the job was cancelled or the process died) is checked before anything is sent — once
  the earlier run's requests must have ended (the rerun waits for that, visibly); so is a
  failed item with such an attempt in its history:

  - ``rent``: ``GET activeNumbers/{phone}``; if the project owns the number, that is the
    success, otherwise it is rented;
  - ``rent_any``: before its first request the job records the numbers the project already
    owns in that region and type (the *baseline*). The numbers owned now that are neither
    in the baseline nor recorded as rented by this job are what the lost requests rented;
    they are assigned to the unknown items, and only the rest are rented again;
  - ``release``: released again; ``404`` means the earlier attempt did it;
  - ``update``: sent again (a PATCH is idempotent).

A rerun whose input lacks items the journal records as succeeded is refused before
anything is sent; a streamed input is checked item by item, by position.

A journal is kept by a *store* (``journal=``): a path or ``FileJournal``, or
``numbers_async.redis.RedisJournal``, which several worker processes share; the job
speaks only to the journal interface (``_store``), whichever it has.

Inside: ``_resource`` (``client.bulk``: argument checks), ``_job`` (the scheduler),
``_operations`` (what each operation does to an item, against the narrow ``BulkClient``
protocol), ``_inputs`` (reading the items), ``_store`` (the journal interface),
``_journal``, ``_files``, ``_state`` and ``_lines`` (the journal file, which owns its
state), ``_redis_journal``, ``_redis_session``, ``_redis_link`` and ``_redis_scripts``
(the journal in Redis) and ``_results`` (outcomes, progress, the reports).

Examples:
    ```python
    report = await client.bulk.release(phone_numbers, concurrency=20)
    print(len(report.succeeded), "released;", len(report.failed), "failed")

    job = client.bulk.rent(phone_numbers, journal="rent.jsonl")
    async with job.stream() as outcomes:  # as they complete, no report kept
        async for outcome in outcomes:
            ...
    ```
"""

from numbers_async.bulk._job import BulkJob, BulkStream
from numbers_async.bulk._journal import FileJournal
from numbers_async.bulk._resource import DEFAULT_CONCURRENCY, Bulk
from numbers_async.bulk._results import (
    BulkFailure,
    BulkOutcome,
    BulkProgress,
    BulkReport,
    JournalFailure,
    JournalReport,
)
from numbers_async.bulk._store import JournalStore

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Bulk",
    "BulkFailure",
    "BulkJob",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "BulkStream",
    "FileJournal",
    "JournalFailure",
    "JournalReport",
    "JournalStore",
]
