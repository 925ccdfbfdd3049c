"""``bulk-rent``, ``bulk-rent-any``, ``bulk-update`` and ``bulk-release``.

Numbers come from a file or stdin, one per line: blank lines and ``#`` comments are
skipped, anything after the first comma or space is ignored, and a ``phoneNumber`` line
(the header of ``list --csv``) is skipped, so ``numbers-async list --all --csv |
numbers-async bulk-release --yes`` works (numbers on stdin leave no terminal to ask, so
``bulk-rent`` and ``bulk-release`` need ``--yes`` there). The job streams: outcomes are
counted (and with ``--csv`` printed) as they complete, so a job of any size runs in
constant memory apart from the summary's lists.

Ctrl-C once stops taking new numbers and lets the requests in flight finish and be
journaled; Ctrl-C twice abandons them (the journal settles them on a rerun). Either way
the summary is printed and the exit code is 130.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from numbers_async import (
    ApiError,
    AuthenticationError,
    BulkJob,
    BulkOutcome,
    BulkProgress,
    InvalidInputError,
    NumbersClient,
    NumbersError,
    Timeouts,
)
from numbers_async.bulk import JournalReport, JournalStore
from numbers_async.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    STDIN,
    UsageError,
    confirmed,
    connect,
    option,
    sms_of,
    voice_of,
)
from numbers_async.cli._journal import (
    job_summary,
    journal_of,
    report_json,
    run_status,
    shared_limiter,
)
from numbers_async.cli._output import Writer, table
from numbers_async.cli._progress import Progress

__all__ = ["read_numbers", "run_bulk"]

CSV_HEADER = ("item", "outcome", "phoneNumber", "resumed", "error", "status", "message")
# Failures listed in the human summary; the rest are counted (JSON and CSV list them all).
SHOWN_FAILURES = 20
# Lines read ahead of the job from stdin.
READ_AHEAD = 1000


async def run_bulk(args: argparse.Namespace, out: Writer) -> int:
    """Run one bulk command (or ``bulk-status``); return the exit code."""
    if args.command == "bulk-status":
        return await run_status(args, out)
    total: int | None = args.count if args.command == "bulk-rent-any" else None
    numbers: Iterable[str] | AsyncIterator[str] = ()
    if args.command != "bulk-rent-any":
        numbers, total = _open_numbers(args.file)
    if args.command != "bulk-update" and not confirmed(args, _action(args, total)):
        return EXIT_FAILED
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError("--timeout: must be a positive number of seconds")
    journal = journal_of(args.journal)
    limiter = shared_limiter(args, journal)
    try:
        # With --concurrency, the client's own bound must not be the tighter one; without
        # it, the job's default and the client's both apply (the client's is the larger).
        async with connect(args, max_concurrency=args.concurrency, rate_limit=limiter) as connected:
            client = connected
            if args.timeout is not None:
                client = connected.with_options(timeouts=Timeouts(total=args.timeout))
            runs: list[_Run] = []

            def on_progress(progress: BulkProgress) -> None:
                if progress.waiting_until is not None and runs:
                    runs[0].waiting(progress.waiting_until)

            try:
                job = _job(client, args, numbers, journal, on_progress)
            except InvalidInputError as exc:
                raise UsageError(str(exc)) from None
            shared = journal if isinstance(journal, JournalStore) else None
            # A worker of a shared job does an unknown share of it: no total for its bar.
            runs.append(_Run(job, args, out, None if shared else total, shared))
            return await runs[0].drive()
    finally:
        if hasattr(limiter, "aclose"):
            await limiter.aclose()


def _action(args: argparse.Namespace, total: int | None) -> str:
    """What a confirming bulk command is about to do, as the question puts it."""
    if args.command == "bulk-rent-any":
        return f"rent {args.count} {args.region} {args.type} numbers (this costs money)"
    if args.file == STDIN:
        numbers = "the numbers read from stdin"
    else:
        numbers = f"the {total} numbers in {args.file}"
    if args.command == "bulk-rent":
        return f"rent {numbers} (this costs money)"
    return f"release {numbers} (the project gives them up)"


def _job(
    client: NumbersClient,
    args: argparse.Namespace,
    numbers: Any,
    journal: str | JournalStore | None,
    on_progress: Callable[[BulkProgress], None],
) -> BulkJob:
    common: dict[str, Any] = {"journal": journal, "on_progress": on_progress}
    if args.concurrency is not None:  # else the job's own default
        common["concurrency"] = args.concurrency
    if args.command == "bulk-release":
        return client.bulk.release(numbers, **common)
    provisioning = {"sms": sms_of(args), "voice": voice_of(args), "callback_url": args.callback_url}
    if args.command == "bulk-rent":
        return client.bulk.rent(numbers, **provisioning, **common)
    if args.command == "bulk-update":
        return client.bulk.update(numbers, display_name=args.display_name, **provisioning, **common)
    return client.bulk.rent_any(
        args.count,
        args.region,
        args.type,
        pattern=args.pattern,
        search_pattern=args.search_pattern,
        capabilities=args.capabilities,
        **provisioning,
        **common,
    )


class _Run:
    """Drives a job: progress, Ctrl-C, streaming CSV rows and the summary.

    With a journal several workers share (``shared``), the summary also gives the whole
    job's report, and the exit code says whether the job, not only this worker, failed.
    """

    def __init__(
        self,
        job: BulkJob,
        args: argparse.Namespace,
        out: Writer,
        total: int | None,
        shared: JournalStore | None = None,
    ):
        self.job = job
        self.shared = shared
        self.job_report: JournalReport | None = None
        self.out = out
        self.command: str = args.command
        self.journal: str | None = args.journal
        # The journal as printed: a Redis URL without its password.
        self.journal_shown = args.journal if shared is None else getattr(shared, "where", None)
        self.total = total
        self.bar = Progress(args.command, total=total, enabled=option(args, "progress"))
        self.presses = 0
        self.aborted = False
        self.finished = False
        self.succeeded: list[str] = []
        self.failed: list[BulkOutcome] = []
        self.resumed = 0
        self.csv = csv.writer(out.out, lineterminator="\n") if out.format == "csv" else None

    async def drive(self) -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, other threads
            loop.add_signal_handler(signal.SIGINT, self._interrupt, task)
        started = loop.time()
        try:
            with self.bar:
                if self.csv is not None:
                    self.csv.writerow(CSV_HEADER)
                await self._consume()
        finally:
            # The handler stays until the loop closes, ignoring presses from now on: a
            # Ctrl-C that lands after the job ended must not cut the summary short.
            self.finished = True
            # And no press reaches the loop any more: asyncio closes its self-pipe before
            # it removes its signal handlers, and a press in between made Python print
            # "Exception ignored when trying to write to the signal wakeup fd" with a
            # traceback (seen with Ctrl-C held down, Python 3.13).
            with contextlib.suppress(ValueError):  # not the main thread
                signal.set_wakeup_fd(-1)
        if self.shared is not None:
            try:
                self.job_report = await self.shared.report()
            except NumbersError as exc:
                print(f"{PROG}: the job's report is not available: {exc}", file=sys.stderr)
        self._summary(loop.time() - started)
        if self.presses:
            return EXIT_INTERRUPTED
        if self.failed or (self.job_report is not None and self.job_report.failed):
            return EXIT_FAILED
        return EXIT_OK

    async def _consume(self) -> None:
        try:
            async with self.job.stream() as outcomes:
                async for outcome in outcomes:
                    self._count(outcome)
        except asyncio.CancelledError:
            if not self.aborted:
                raise
            current = asyncio.current_task()
            if current is not None and hasattr(current, "uncancel"):
                current.uncancel()
            for outcome in self.job.unreported:  # done before the abandon: still counted
                self._count(outcome)

    def _interrupt(self, task: asyncio.Task[Any] | None) -> None:
        if self.finished:
            return
        self.presses += 1
        if self.presses == 1:
            self.job.stop()
            self.bar.note(
                f"{PROG}: stopping: waiting for {self.job.in_flight} requests in flight "
                "(Ctrl-C again to abandon them)"
            )
        elif not self.aborted and task is not None:
            self.aborted = True
            task.cancel()

    def waiting(self, until: datetime) -> None:
        """A rerun waits before settling what an earlier run left unknown: say so."""
        seconds = max(0.0, (until - datetime.now(timezone.utc)).total_seconds())
        self.bar.note(
            f"{PROG}: {self.journal} has requests an earlier run may still be making; waiting "
            f"{seconds:.0f}s (until {until:%H:%M:%S} UTC) for them to end before settling "
            "them (Ctrl-C to stop)"
        )

    def _count(self, outcome: BulkOutcome) -> None:
        if outcome.number is not None:
            self.succeeded.append(outcome.number.phone_number)
            self.resumed += outcome.resumed
        else:
            self.failed.append(outcome)
        self.bar.advance(description=self._label())
        if self.csv is not None:
            self.csv.writerow(_csv_row(outcome))

    def _label(self) -> str:
        return f"{self.command} ({len(self.failed)} failed)" if self.failed else self.command

    def _summary(self, elapsed: float) -> None:
        done = len(self.succeeded) + len(self.failed)
        unknown = sum(1 for f in self.failed if f.outcome_unknown)
        if self.out.format == "json":
            self.out.json(
                {
                    "operation": self.job.operation,
                    "ok": not self.failed and not self.presses,
                    "interrupted": bool(self.presses),
                    "total": done,
                    "succeeded": len(self.succeeded),
                    "failed": len(self.failed),
                    "unknown": unknown,
                    "resumed": self.resumed,
                    "elapsed": round(elapsed, 3),
                    "rate": round(done / elapsed, 1) if elapsed > 0 else 0.0,
                    "journal": self.journal_shown,
                    "numbers": self.succeeded,
                    "failures": [_failure(f) for f in self.failed],
                    **({} if self.job_report is None else {"job": report_json(self.job_report)}),
                }
            )
            return
        stream = sys.stderr if self.out.format == "csv" else self.out.out
        rate = done / elapsed if elapsed > 0 else 0.0
        lines = [
            f"{self.command}: {len(self.succeeded)} succeeded, {len(self.failed)} failed"
            + (f" ({unknown} with an unknown outcome)" if unknown else "")
            + (f", {self.resumed} resumed from the journal" if self.resumed else "")
            + f"; {done} in {elapsed:.2f}s ({rate:,.1f}/s)"
        ]
        if self.failed and self.out.format == "table":
            shown = self.failed[:SHOWN_FAILURES]
            rows = [[f.item, *_failure_cells(f)] for f in shown]
            lines.append(table(("item", "error", "status", "message"), rows))
            if len(self.failed) > SHOWN_FAILURES:
                lines.append(f"... and {len(self.failed) - SHOWN_FAILURES} more (--json lists all)")
        if self.job_report is not None:
            lines.append(job_summary(self.job_report))
        lines.extend(self._advice(unknown))
        print("\n".join(lines), file=stream, flush=True)

    def _advice(self, unknown: int) -> list[str]:
        again = "rerun the same command" + (
            f" with --journal {self.journal_shown}" if self.journal else ""
        )
        advice = []
        if self.presses:
            what = "abandoned the requests in flight" if self.aborted else "stopped"
            advice.append(f"interrupted: {what}; {again} to finish the job")
        elif self.failed:
            advice.append(f"{again} to retry what failed")
        if (self.presses or unknown) and not self.journal:
            advice.append("without --journal a rerun cannot tell what was already done")
        return advice


def _failure_cells(outcome: BulkOutcome) -> list[object]:
    error = outcome.error
    status = error.status if isinstance(error, ApiError) else ""
    message = " ".join(str(error).split())
    if isinstance(error, AuthenticationError):
        message = f"{message} (check the credentials)"
    return [type(error).__name__, status, message]


def _failure(outcome: BulkOutcome) -> dict[str, Any]:
    name, status, message = _failure_cells(outcome)
    return {
        "item": outcome.item,
        "error": name,
        "status": status or None,
        "message": message,
        "outcomeUnknown": outcome.outcome_unknown,
    }


def _csv_row(outcome: BulkOutcome) -> list[object]:
    if outcome.number is not None:
        return [outcome.item, "succeeded", outcome.number.phone_number, outcome.resumed, "", "", ""]
    verdict = "unknown" if outcome.outcome_unknown else "failed"
    return [outcome.item, verdict, "", outcome.resumed, *_failure_cells(outcome)]


# --- reading numbers ---------------------------------------------------------------------------


def _open_numbers(file: str) -> tuple[Iterable[str] | AsyncIterator[str], int | None]:
    """The numbers of ``file`` (counted first, for the progress bar) or of stdin."""
    if file == STDIN:
        if sys.stdin.isatty():
            print(f"{PROG}: reading numbers from the terminal (Ctrl-D to end)", file=sys.stderr)
        return _StdinNumbers(sys.stdin), None
    path = Path(file)
    try:
        with path.open(encoding="utf-8") as lines:
            total = sum(1 for _ in read_numbers(lines))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc}") from None
    return _file_numbers(path), total


def _file_numbers(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
        yield from read_numbers(lines)


def read_numbers(lines: Iterable[str]) -> Iterator[str]:
    """The phone numbers in ``lines`` (see the module docstring for the format)."""
    for line in lines:
        field = line.replace(",", " ").split(maxsplit=1)
        if not field or field[0].startswith("#") or field[0] == "phoneNumber":
            continue
        yield field[0]


class _StdinNumbers:
    """The numbers on stdin, read by a daemon thread so a slow writer never blocks the loop.

    A daemon thread, because a thread blocked reading a terminal cannot be interrupted:
    it must not keep the process alive once the job is over.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        self._room = threading.Semaphore(READ_AHEAD)
        self._thread: threading.Thread | None = None

    def __aiter__(self) -> _StdinNumbers:
        return self

    async def __anext__(self) -> str:
        if self._thread is None:
            loop = asyncio.get_running_loop()
            self._thread = threading.Thread(
                target=self._read, args=(loop,), name="numbers-async stdin", daemon=True
            )
            self._thread.start()
        line = await self._queue.get()
        self._room.release()
        if line is None:
            raise StopAsyncIteration
        if isinstance(line, BaseException):
            raise UsageError(f"cannot read stdin: {line}")
        return line

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        item: str | BaseException | None = None
        try:
            for number in read_numbers(self._stream):
                self._room.acquire()
                loop.call_soon_threadsafe(self._queue.put_nowait, number)
        except Exception as exc:  # noqa: BLE001 - handed to the event loop to report
            item = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(self._queue.put_nowait, item)
