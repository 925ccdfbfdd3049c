"""``--journal`` (a file, or a job in Redis shared by many workers) and ``bulk-status``.

``--journal PATH`` is a journal file; ``--journal redis://host:port/db?job=NAME`` (also
``rediss://`` and ``unix://``) a ``RedisJournal``: every process started with the same URL
works on the same job. The URL's query may also set ``lease``, ``batch`` and
``max_outage``. ``--rate-limit`` is then shared by those processes through the same Redis
(a ``RedisRateLimiter`` keyed by the project).

``bulk-status --journal ...`` prints a job's totals and failures, whichever workers ran
it, while it runs and after; exit code 1 when it has failures.
"""

from __future__ import annotations

import argparse
import csv
import os
from typing import Any

from yarl import URL

from numbers_async import InvalidInputError, NumbersError
from numbers_async.bulk import FileJournal, JournalReport, JournalStore
from numbers_async.cli._common import EXIT_FAILED, EXIT_OK, UsageError, one_line, option
from numbers_async.cli._output import Writer, table

__all__ = ["job_summary", "journal_of", "report_json", "run_status", "shared_limiter"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# The settings a --journal URL may carry beside the Redis connection's own.
_JOURNAL_SETTINGS = ("job", "lease", "batch", "max_outage")


def journal_of(value: str | None) -> str | JournalStore | None:
    """``--journal``: a path as it is, a Redis URL as a ``RedisJournal``."""
    if value is None or not value.startswith(REDIS_SCHEMES):
        return value
    try:
        from numbers_async.redis import RedisJournal
    except ImportError:
        raise UsageError(
            "--journal redis://...: needs the redis extra (pip install 'numbers-async[redis]')"
        ) from None
    try:
        return RedisJournal.from_url(value)
    except InvalidInputError as exc:
        raise UsageError(f"--journal: {one_line(exc)}") from None


def shared_limiter(args: argparse.Namespace, journal: object) -> Any:
    """``--rate-limit``: shared through Redis with a Redis journal, else this process's."""
    rate = option(args, "rate_limit")
    if rate is None or not isinstance(journal, JournalStore) or isinstance(journal, FileJournal):
        return rate
    from numbers_async.redis import RedisRateLimiter

    url = URL(args.journal).without_query_params(*_JOURNAL_SETTINGS)
    project = option(args, "project_id") or os.environ.get("SINCH_PROJECT_ID") or "fake-project"
    return RedisRateLimiter.from_url(str(url), rate=rate, key=project)


async def run_status(args: argparse.Namespace, out: Writer) -> int:
    """``bulk-status``: print the job's report; exit 1 if it has failures."""
    journal = journal_of(args.journal)
    store = FileJournal(journal) if isinstance(journal, str) else journal
    assert store is not None  # noqa: S101 - --journal is required by the parser
    try:
        report = await store.report()
    except InvalidInputError as exc:
        raise UsageError(one_line(exc)) from None
    except NumbersError as exc:
        raise UsageError(f"--journal: {one_line(exc)}") from None
    if out.format == "json":
        out.json(report_json(report))
    elif out.format == "csv":
        writer = csv.writer(out.out, lineterminator="\n")
        writer.writerow(_FAILURE_HEADER)
        writer.writerows(_failure_row(failure) for failure in report.failed)
    else:
        lines = [job_summary(report)]
        if report.failed:
            lines.append(table(_FAILURE_HEADER, [_failure_row(f) for f in report.failed]))
        if report.unaccounted:
            lines.append(f"unaccounted (no item accounts for them): {' '.join(report.unaccounted)}")
        out.line("\n".join(lines))
    return EXIT_FAILED if report.failed else EXIT_OK


_FAILURE_HEADER = ("item", "error", "status", "message", "outcomeUnknown")


def _failure_row(failure: Any) -> list[object]:
    message = " ".join(failure.message.split())
    return [failure.item, failure.error, failure.status, message, failure.outcome_unknown]


def job_summary(report: JournalReport) -> str:
    """The job in one line: its totals, and whether it is finished."""
    items = f"{report.items} items" if report.items is not None else "items seen"
    parts = [
        f"{report.succeeded} succeeded",
        f"{len(report.failed)} failed"
        + (f" ({report.unknown} with an unknown outcome)" if report.unknown else ""),
        f"{report.in_flight} in flight",
    ]
    if report.pending is not None:
        parts.append(f"{report.pending} not started")
    state = ""
    if report.finished is not None:
        state = "; finished" if report.finished else "; running"
    if report.workers is not None:
        state += f"; {report.workers} worker{'s' if report.workers != 1 else ''} alive"
    return f"job {report.journal} ({report.operation}), {items}: {', '.join(parts)}{state}"


def report_json(report: JournalReport) -> dict[str, Any]:
    """The job's report as ``--json`` prints it."""
    return {
        "operation": report.operation,
        "journal": report.journal,
        "items": report.items,
        "succeeded": report.succeeded,
        "failed": len(report.failed),
        "unknown": report.unknown,
        "inFlight": report.in_flight,
        "pending": report.pending,
        "finished": report.finished,
        "workers": report.workers,
        "unaccounted": report.unaccounted,
        "failures": [
            {
                "item": failure.item,
                "error": failure.error,
                "status": failure.status,
                "message": failure.message,
                "outcomeUnknown": failure.outcome_unknown,
            }
            for failure in report.failed
        ],
    }
